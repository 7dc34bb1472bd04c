"""The built-in accelerator catalog: presence, provenance, datasheet values, derived figures."""

from __future__ import annotations

from importlib.resources import files

import pytest
import yaml

from suanli.catalog import SPEC_FIELDS, builtin_catalog, derive
from suanli.errors import UnknownIdError

REQUIRED_IDS = [
    "h200-sxm",
    "h200-nvl",
    "h100-sxm",
    "h20",
    "a100-sxm-80gb",
    "b200",
    "ascend-910b",
    "ascend-910c",
    "ascend-950pr",
    "mlu590",
    "mlu370-x8",
    "kunlunxin-p800",
    "hygon-k100",
    "t-head-zhenwu-810e",
    "metax-c500",
    "mtt-s4000",
]
CHINESE_IDS = [
    "ascend-910b",
    "ascend-910c",
    "ascend-950pr",
    "mlu590",
    "mlu370-x8",
    "kunlunxin-p800",
    "hygon-k100",
    "t-head-zhenwu-810e",
    "metax-c500",
    "mtt-s4000",
]

# Dense values from NVIDIA datasheets (sparse figures halved): H200, H100 and A100 datasheets,
# HGX B200 platform table. (accelerator id, field, value)
NVIDIA_DATASHEET = [
    ("h200-sxm", "bf16_dense_tflops", 989),
    ("h200-sxm", "fp8_dense_tflops", 1979),
    ("h200-sxm", "memory_gb", 141),
    ("h200-sxm", "memory_tb_s", 4.8),
    ("h200-sxm", "tdp_w", 700),
    ("h100-sxm", "bf16_dense_tflops", 989),
    ("h100-sxm", "memory_gb", 80),
    ("h100-sxm", "memory_tb_s", 3.35),
    ("h100-sxm", "tdp_w", 700),
    ("a100-sxm-80gb", "bf16_dense_tflops", 312),
    ("a100-sxm-80gb", "memory_gb", 80),
    ("a100-sxm-80gb", "tdp_w", 400),
    ("b200", "bf16_dense_tflops", 2250),
    ("b200", "memory_tb_s", 7.7),
]


@pytest.mark.parametrize("accelerator_id", REQUIRED_IDS)
def test_required_accelerator_present(accelerator_id: str) -> None:
    assert accelerator_id in builtin_catalog().accelerators


@pytest.mark.parametrize(("accelerator_id", "field", "value"), NVIDIA_DATASHEET)
def test_nvidia_datasheet_values(accelerator_id: str, field: str, value: float) -> None:
    figure = getattr(builtin_catalog().accelerator(accelerator_id), field)
    assert figure.value == pytest.approx(value, rel=0.005)
    # Datasheet figures read in a copy of the datasheet are tagged by that weakest link.
    assert figure.confidence in {"vendor", "secondary"}


def _numbers_without_source(node: object, path: str = "") -> list[str]:
    """Paths of numeric leaves whose mapping carries no ``source``."""
    found = []
    if isinstance(node, dict):
        has_source = "source" in node and "confidence" in node and "date" in node
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                if not has_source and key not in {"year", "chips_per_server"}:
                    found.append(where)
            else:
                found += _numbers_without_source(value, where)
    return found


def _raw_records() -> list[tuple[str, object]]:
    root = files("suanli.catalog").joinpath("accelerators")
    return [
        (e.name, yaml.safe_load(e.read_text(encoding="utf-8")))
        for e in sorted(root.iterdir(), key=lambda e: e.name)
        if e.name.endswith(".yaml")
    ]


@pytest.mark.parametrize(("name", "record"), _raw_records())
def test_every_number_carries_provenance(name: str, record: object) -> None:
    assert _numbers_without_source(record) == []


def test_every_chip_has_core_figures_or_says_unknown() -> None:
    # Each record states memory; compute may be unknown, but then the notes must say so.
    for accelerator in builtin_catalog().accelerators.values():
        assert accelerator.memory_gb is not None, accelerator.id
        if accelerator.matmul_16bit_tflops is None:
            assert accelerator.fp8_dense_tflops is not None or accelerator.notes, accelerator.id


@pytest.mark.parametrize("accelerator_id", [i for i in CHINESE_IDS if i != "mlu370-x8"])
def test_chinese_compute_figures_are_not_overclaimed(accelerator_id: str) -> None:
    # Chinese vendors publish few datasheets: their compute peaks come from press, driver
    # tables or derivations, and must say so (a range or a weaker confidence).
    accelerator = builtin_catalog().accelerator(accelerator_id)
    for field in ("bf16_dense_tflops", "fp16_dense_tflops"):
        figure = getattr(accelerator, field)
        if figure is not None and figure.confidence == "vendor":
            assert figure.note, f"{accelerator_id}.{field} claims a datasheet without a note"


def test_spec_fields_cover_the_issue_list() -> None:
    assert set(SPEC_FIELDS) == {
        "bf16_dense_tflops",
        "fp16_dense_tflops",
        "fp8_dense_tflops",
        "int8_dense_tops",
        "fp32_tflops",
        "memory_gb",
        "memory_tb_s",
        "scaleup_gb_s",
        "scaleup_domain",
        "scaleout_gb_s",
        "tdp_w",
    }


def test_derived_figures_for_h200() -> None:
    d = derive(builtin_catalog().accelerator("h200-sxm"))
    assert d.ridge_point_flop_per_byte == pytest.approx(989 / 4.8)
    assert d.tflops_per_watt == pytest.approx(989 / 700)
    assert d.price_usd == pytest.approx(175_000 / 7.0)
    assert d.tflops_per_kusd == pytest.approx(989 / 25.0)
    assert d.memory_gb_per_kusd == pytest.approx(141 / 25.0)


def test_derived_figures_unknown_where_inputs_are() -> None:
    for accelerator in builtin_catalog().accelerators.values():
        d = derive(accelerator)
        assert (d.price_usd is None) == (accelerator.price is None)
        if accelerator.spec("memory_tb_s") is None or accelerator.matmul_16bit_tflops is None:
            assert d.ridge_point_flop_per_byte is None


def test_unknown_id_suggests_closest() -> None:
    with pytest.raises(UnknownIdError) as info:
        builtin_catalog().accelerator("ascend-910")
    assert "ascend-910b" in info.value.suggestions
