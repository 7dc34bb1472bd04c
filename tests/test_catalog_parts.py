"""The parts issue 11 needs: export variants, AMD, Ascend roadmap, thin Chinese records, a usable PPU."""

from __future__ import annotations

from importlib.resources import files

import pytest
import yaml

from suanli.catalog import builtin_catalog
from suanli.catalog.accelerator import Availability, period_start
from suanli.economics.predict import predict
from suanli.economics.workload import ServingTarget, TrainingTarget
from suanli.errors import InfeasibleError, MissingDataError

CAT = builtin_catalog()

NEW_PARTS = [
    "h800-sxm",
    "a800-sxm-80gb",
    "h20-141g",
    "mi308x",
    "mi325x",
    "ascend-950dt",
    "ascend-960",
    "ascend-970",
    "mtt-s5000",
    "hygon-bw1000",
]
#: Records this issue rewrote: they are held to the same rules as the new ones.
REWORKED_PARTS = ["ascend-950pr", "t-head-zhenwu-810e"]
NEW_SYSTEMS = [
    "hgx-h800",
    "hgx-a800",
    "hgx-h20-141g",
    "mi325x-platform",
    "atlas-950-superpod",
    "atlas-960-superpod",
    "mi308x-server",
    "hygon-bw1000-server",
    "mtt-s5000-server",
    "ascend-970-server",
]
ROADMAP = ["ascend-950dt", "ascend-960", "ascend-970"]
#: Parts with an FP8 figure only: they serve at FP8 and are refused for BF16 work.
FP8_ONLY = [*ROADMAP, "mtt-s5000"]
#: Parts whose vendors publish no compute figure at all.
NO_COMPUTE = ["mi308x", "hygon-bw1000"]
PROVENANCE_KEYS = {"source", "date", "confidence"}


def _raw(folder: str, record_id: str) -> dict[str, object]:
    text = files("suanli.catalog").joinpath(folder, f"{record_id}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def _unsourced_numbers(node: object, path: str = "") -> list[str]:
    """Numeric leaves (other than year and chips_per_server) in a mapping without full provenance."""
    found: list[str] = []
    if isinstance(node, dict):
        sourced = node.keys() >= PROVENANCE_KEYS
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                if not sourced and key not in {"year", "chips_per_server"}:
                    found.append(where)
            else:
                found += _unsourced_numbers(value, where)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += _unsourced_numbers(item, f"{path}[{i}]")
    return found


def _derived_without_rule(node: object, path: str = "") -> list[str]:
    """Figures rated ``derived`` whose mapping gives no note or source text to derive them by."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("confidence") == "derived" and "value" in node and not node.get("note"):
            found.append(path)
        for key, value in node.items():
            found += _derived_without_rule(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += _derived_without_rule(item, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("record_id", NEW_PARTS + REWORKED_PARTS)
def test_part_loads_with_its_default_system(record_id: str) -> None:
    part = CAT.accelerator(record_id)
    assert part.id == record_id
    system = CAT.default_system(record_id)
    assert system.accelerator == record_id
    if part.default_system is not None:
        assert system.id == part.default_system


@pytest.mark.parametrize("system_id", NEW_SYSTEMS)
def test_system_loads_and_is_its_part_default(system_id: str) -> None:
    system = CAT.system(system_id)
    assert CAT.accelerator(system.accelerator).default_system == system_id
    assert system.chips_per_system % system.domain == 0


@pytest.mark.parametrize("record_id", NEW_PARTS + REWORKED_PARTS)
def test_part_figures_carry_provenance(record_id: str) -> None:
    raw = _raw("accelerators", record_id)
    assert _unsourced_numbers(raw) == []
    assert _derived_without_rule(raw) == []
    part = CAT.accelerator(record_id)
    assert part.export_control is not None, "every new part states its export status"
    assert part.export_control.date
    assert part.export_control.source
    assert part.availability is not None
    assert part.memory_gb is not None


@pytest.mark.parametrize("system_id", NEW_SYSTEMS)
def test_system_figures_carry_provenance(system_id: str) -> None:
    raw = _raw("systems", system_id)
    assert _unsourced_numbers(raw) == []
    assert _derived_without_rule(raw) == []


def test_export_variants_keep_compute_and_lose_nvlink() -> None:
    # A800/H800: the A100/H100 die with NVLink cut to 400 GB/s bidirectional (200 per direction).
    for variant, original in (("a800-sxm-80gb", "a100-sxm-80gb"), ("h800-sxm", "h100-sxm")):
        cut, full = CAT.accelerator(variant), CAT.accelerator(original)
        assert cut.matmul_16bit_tflops == full.matmul_16bit_tflops
        assert cut.spec("scaleup_gb_s") == 200
        assert cut.spec("scaleup_gb_s") < full.spec("scaleup_gb_s")  # type: ignore[operator]
        assert CAT.default_system(variant).scaleup_gb_s.value == 200  # type: ignore[union-attr]
    # DeepSeek's published MFU on the H800 cluster is against the 989 TFLOPS BF16 peak.
    mfu = CAT.system("hgx-h800").published_mfu[0]
    assert mfu.chips == 2048
    assert 385 / mfu.low == pytest.approx(CAT.accelerator("h800-sxm").spec("bf16_dense_tflops"), rel=0.01)


def test_h20_141g_has_more_memory_and_bandwidth_than_the_h20() -> None:
    big, small = CAT.accelerator("h20-141g"), CAT.accelerator("h20")
    assert big.spec("memory_tb_s") > small.spec("memory_tb_s")  # type: ignore[operator]
    assert big.spec("memory_gb") > small.spec("memory_gb")  # type: ignore[operator]
    assert big.matmul_16bit_tflops == small.matmul_16bit_tflops  # same die
    # Channel price: CNY 1.05M per 8-GPU module (Tencent Tech, 2025-12).
    assert big.price is not None
    assert big.price.currency == "CNY"
    assert big.price.amount * CAT.system("hgx-h20-141g").chips_per_system == pytest.approx(1_050_000)


def test_mi325x_sits_just_inside_the_2026_case_by_case_window() -> None:
    # BIS 2026-01-15: case-by-case review below TPP 21,000 and 6,500 GB/s of DRAM bandwidth.
    part = CAT.accelerator("mi325x")
    assert part.software_stack == "rocm"
    tpp = part.spec("bf16_dense_tflops") * 16  # type: ignore[operator]
    assert 20_000 < tpp < 21_000
    assert part.spec("memory_tb_s") * 1000 < 6500  # type: ignore[operator]
    assert part.export_control is not None
    assert "75,000" in part.export_control.status


def test_roadmap_parts_come_after_the_950pr() -> None:
    shipping = CAT.accelerator("ascend-950pr").availability
    assert shipping is not None
    assert shipping.status == "shipping"
    dates = []
    for record_id in ROADMAP:
        availability = CAT.accelerator(record_id).availability
        assert availability is not None
        assert availability.status == "roadmap"
        assert availability.available_from > shipping.available_from
        dates.append(availability.available_from)
    assert dates == sorted(dates)  # 950DT, then 960, then 970
    assert [d.year for d in dates] == [2026, 2027, 2028]


def test_periods_read_as_their_first_day() -> None:
    assert period_start("2028-Q4").isoformat() == "2028-10-01"
    assert period_start("2026").isoformat() == "2026-01-01"
    assert period_start("2026-03-21").isoformat() == "2026-03-21"
    with pytest.raises(ValueError, match="calendar period"):
        Availability(
            status="roadmap", available="2026-02-30", source="test", date="2026", confidence="vendor"
        )
    with pytest.raises(ValueError, match="pattern"):
        Availability(status="roadmap", available="2026-Q5", source="test", date="2026", confidence="vendor")


def test_950pr_bf16_is_the_atlas_350_spec() -> None:
    part = CAT.accelerator("ascend-950pr")
    figure = part.bf16_dense_tflops
    assert figure is not None
    assert (figure.value, figure.range[0]) == (425, 378.5)  # cube + vector, cube alone
    assert "Atlas 350" in figure.source
    assert part.fp8_dense_tflops is not None
    assert part.fp8_dense_tflops.value < part.fp8_dense_tflops.range[1] == 1000  # below HC2025's 1 PF


@pytest.mark.parametrize("record_id", FP8_ONLY)
def test_fp8_only_parts_are_refused_for_bf16_training_with_a_reason(record_id: str) -> None:
    part = CAT.accelerator(record_id)
    assert part.matmul_16bit_tflops is None
    assert part.fp8_dense_tflops is not None
    target = TrainingTarget(model="llama3-8b", tokens=1e12, days=30)
    with pytest.raises(InfeasibleError, match=r"cannot run BF16.*no BF16 or FP16 peak") as caught:
        predict(target, CAT.default_system(record_id), 64, CAT)
    assert len(str(caught.value).splitlines()) == 1
    assert record_id in str(caught.value)
    # The same part trains and serves at FP8.
    fp8 = TrainingTarget(model="llama3-8b", tokens=1e12, days=30, precision="fp8")
    assert predict(fp8, CAT.default_system(record_id), 64, CAT).tokens_per_s > 0
    serve = ServingTarget(
        model="llama3-70b",
        output_tokens_per_s=1000,
        input_tokens=1000,
        output_tokens=200,
        weight_precision="fp8",
    )
    assert predict(serve, CAT.default_system(record_id), 8, CAT).tokens_per_s > 0


@pytest.mark.parametrize("record_id", NO_COMPUTE)
def test_parts_without_published_compute_say_so(record_id: str) -> None:
    part = CAT.accelerator(record_id)
    assert part.matmul_16bit_tflops is None
    assert part.fp8_dense_tflops is None
    assert part.int8_dense_tops is None
    assert part.notes is not None
    assert "not disclosed" in part.notes
    target = TrainingTarget(model="llama3-8b", tokens=1e12, days=30)
    with pytest.raises(MissingDataError, match="tensor peak"):
        predict(target, CAT.default_system(record_id), 8, CAT)


def test_ppu_gives_a_training_prediction() -> None:
    ppu = CAT.accelerator("t-head-zhenwu-810e")
    figure = ppu.bf16_dense_tflops
    assert figure is not None
    # The Qinghai derivation (1,945 P over 16,384 cards) lies inside the stored range.
    low, high = figure.range
    assert low <= 1_945_000 / 16_384 <= figure.value <= high
    assert ppu.memory_tb_s is not None
    assert ppu.memory_tb_s.confidence == "derived"
    assert CAT.default_system("t-head-zhenwu-810e").chips_per_system == 16
    target = TrainingTarget(model="llama3-70b", tokens=1e12, days=30)
    pred = predict(target, CAT.default_system("t-head-zhenwu-810e"), 1024, CAT)
    assert pred.kind == "training"
    assert pred.tokens_per_s > 0
    assert pred.mfu is not None
    assert 0 < pred.mfu < 1
    # An H20-class part: far slower than the same fleet of H800.
    h800 = predict(target, CAT.default_system("h800-sxm"), 1024, CAT)
    assert pred.tokens_per_s < h800.tokens_per_s / 3
