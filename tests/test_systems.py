"""Deployable systems: records, the chip the performance model sees, and fleets built from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.catalog import Accelerator, Figure, Provenance, builtin_catalog, deployed, load_catalog
from suanli.economics.compare import compare
from suanli.economics.costs import default_cost_inputs
from suanli.economics.fleet import FleetSize, fleet_rate, size_fleet
from suanli.economics.tco import fleet_tco
from suanli.economics.workload import TrainingTarget, load_workload
from suanli.errors import InfeasibleError, InputError, MissingDataError
from suanli.perf import hardware, predict_inference, predict_training
from suanli.perf.hardware import chip_of

CAT = builtin_catalog()


def _provenance_ok(item: Provenance) -> None:
    assert len(item.source) >= 3
    assert item.date
    assert item.confidence in {"vendor", "primary", "secondary", "derived", "assumption"}


@pytest.mark.parametrize("system_id", sorted(CAT.systems))
def test_every_system_record_carries_provenance(system_id: str) -> None:
    system = CAT.system(system_id)
    assert system.accelerator in CAT.accelerators
    for item in (system.chips, system.scaleup_domain):
        _provenance_ok(item)
    for name in ("scaleup_gb_s", "scaleout_gb_s", "power_kw", "bf16_dense_pflops"):
        figure = getattr(system, name)
        if figure is not None:
            _provenance_ok(figure)
    if system.price is not None:
        _provenance_ok(system.price)
    for published in system.published_mfu:
        _provenance_ok(published)
        assert 0 < published.range[0] <= published.range[1] <= 1
    # Every built-in system gives the performance model the links it needs.
    as_deployed = deployed(CAT.accelerator(system.accelerator), system)
    assert as_deployed.spec("scaleup_gb_s") is not None
    assert as_deployed.spec("scaleout_gb_s") is not None
    assert as_deployed.spec("scaleup_domain") == system.domain


@pytest.mark.parametrize("accelerator_id", sorted(CAT.accelerators))
def test_every_accelerator_names_a_default_system_that_holds_it(accelerator_id: str) -> None:
    system = CAT.default_system(accelerator_id)
    assert system.id == CAT.accelerator(accelerator_id).default_system
    assert system.accelerator == accelerator_id


def test_systems_the_issue_names_are_in_the_catalog() -> None:
    for system_id in (
        "hgx-h100",
        "hgx-h200",
        "hgx-h20",
        "dgx-b200",
        "gb200-nvl72",
        "atlas-800t-a2",
        "atlas-800-a3",
        "cloudmatrix-384",
        "mlu590-server",
        "kunlunxin-p800-server",
        "hygon-k100-server",
        "metax-c500-server",
    ):
        assert system_id in CAT.systems


def test_cloudmatrix_384_figures_hang_together() -> None:
    # 384 x 910C, one UB domain, 559 kW, up to US$8.2 M, 300 PFLOPS BF16 (SemiAnalysis;
    # capacitymedia 2025-07-28; arXiv 2506.12708).
    cm = CAT.system("cloudmatrix-384")
    assert (cm.chips.value, cm.domain) == (384, 384)
    assert cm.power_kw is not None
    assert cm.power_kw.value == 559
    assert cm.price is not None
    assert (cm.price.amount, cm.price.currency) == (8.2e6, "USD")
    assert cm.bf16_dense_pflops is not None
    assert cm.bf16_dense_pflops.value == 300
    bf16 = CAT.accelerator("ascend-910c").bf16_dense_tflops
    assert bf16 is not None
    low, high = bf16.range
    assert 384 * low / 1000 <= 300 <= 384 * high / 1000 * 1.0001  # the system figure fits the chip's range
    assert CAT.default_system("ascend-910c").id == "cloudmatrix-384"


def test_chip_in_cloudmatrix_has_a_384_chip_domain() -> None:
    ascend = CAT.accelerator("ascend-910c")
    chip = chip_of(ascend, system=CAT.system("cloudmatrix-384"))
    # A 910C package is two CANN devices: the model sees 768 ranks in the 384-package domain,
    # each with half the package's links and memory.
    assert chip.dies == 2
    assert chip.scaleup_domain == 384 * 2
    assert chip.scaleup_bytes_s == pytest.approx(392e9 / 2)
    assert chip.scaleout_bytes_s == pytest.approx(50e9 / 2)
    assert chip_of(ascend, system=CAT.system("atlas-800-a3")).scaleup_domain == 8 * 2
    # The positional overrides perf/ uses still win (in packages).
    assert chip_of(ascend, None, 16, system=CAT.system("cloudmatrix-384")).scaleup_domain == 16 * 2
    assert chip_of(ascend, 64.0).memory_bytes == pytest.approx(64e9 / 2)


def test_system_links_reach_the_chip() -> None:
    # The Atlas 350 card's 4-card UB board (159 GB/s per direction), not the 950's 2 TB/s.
    pr = CAT.accelerator("ascend-950pr")
    chip = chip_of(pr, system=CAT.system("atlas-350-server"))
    assert (chip.scaleup_domain, chip.scaleup_bytes_s) == (4, pytest.approx(159e9))
    as_deployed = deployed(pr, CAT.system("atlas-350-server"))
    assert as_deployed.spec("scaleup_gb_s") == 159
    assert pr.spec("scaleup_gb_s") == 1000  # the record itself is untouched


@pytest.mark.parametrize("missing", ["scaleup_gb_s", "scaleout_gb_s"])
def test_a_part_without_interconnect_figures_is_refused(missing: str) -> None:
    bare = CAT.accelerator("h200-sxm").model_copy(update={"id": "bare-chip", missing: None})
    with pytest.raises(MissingDataError, match=missing):
        chip_of(bare)
    with pytest.raises(MissingDataError, match=missing):
        predict_training(CAT.model("llama3-8b"), bare, 8)


def test_a_system_figure_fills_what_the_part_lacks() -> None:
    bare = CAT.accelerator("h200-sxm").model_copy(update={"scaleout_gb_s": None})
    chip = chip_of(bare, system=CAT.system("hgx-h200"))
    assert chip.scaleout_bytes_s == pytest.approx(50e9)


def test_no_silent_interconnect_fallback_remains() -> None:
    assert not [name for name in dir(hardware) if name.startswith("FALLBACK")]


def _fp8_only() -> Accelerator:
    # The catalog's 950PR has FP8 and no BF16/FP16 figure; pin that here whatever the record says.
    return CAT.accelerator("ascend-950pr").model_copy(
        update={"bf16_dense_tflops": None, "fp16_dense_tflops": None}
    )


def test_fp8_only_part_serves_at_fp8() -> None:
    part = _fp8_only()
    system = CAT.system("atlas-350-server")
    pred = predict_inference(
        CAT.model("llama3-8b"),
        deployed(part, system),
        4,
        input_tokens=1000,
        output_tokens=200,
        weight_precision="fp8",
        scaleup_domain=system.domain,
    )
    assert pred.tokens_per_s > 0


def test_fp8_only_part_is_refused_for_bf16_with_a_reason() -> None:
    part = _fp8_only()
    with pytest.raises(InfeasibleError, match=r"bf16.*no BF16 or FP16 peak") as caught:
        predict_training(CAT.model("llama3-8b"), part, 8, precision="bf16")
    assert len(str(caught.value).splitlines()) == 1
    with pytest.raises(InfeasibleError, match="bf16"):
        predict_inference(
            CAT.model("llama3-8b"),
            part,
            8,
            input_tokens=1000,
            output_tokens=200,
            weight_precision="bf16",
        )


def test_training_fleet_honours_the_global_batch() -> None:
    h100 = CAT.accelerator("h100-sxm")
    big = TrainingTarget(
        model="llama3-8b", tokens=1e12, days=30, seq_len=4096, global_batch_tokens=4096 * 1024
    )
    small = big.model_copy(update={"global_batch_tokens": 4096.0 * 64})
    assert big.batch_sequences == 1024
    assert small.batch_sequences == 64
    # On 1,024 chips a 64-sequence batch leaves at most 64 data-parallel ranks: the rest of
    # the chips must go to model parallelism, which pays less.
    wide = fleet_rate(big, h100, CAT, 1024)
    narrow = fleet_rate(small, h100, CAT, 1024)
    assert narrow != pytest.approx(wide)
    assert narrow < wide
    fleet = size_fleet(big, h100, CAT)
    assert fleet.global_batch_tokens == big.global_batch_tokens
    assert fleet.detail["batch_sequences"] == 1024


def test_one_run_cannot_outrun_its_batch_but_a_fleet_runs_several() -> None:
    h100 = CAT.accelerator("h100-sxm")
    tiny = TrainingTarget(model="llama3-8b", tokens=1e12, days=30, seq_len=4096, global_batch_tokens=4096 * 8)
    capacity = fleet_rate(tiny, h100, CAT, 4096)  # many 8-sequence runs side by side
    with pytest.raises(InfeasibleError, match="global batch"):
        size_fleet(tiny, h100, CAT, rate=capacity)  # one run cannot go that fast
    fleet = size_fleet(tiny, h100, CAT, rate=capacity, concurrent=True)
    assert fleet.delivered_tokens_per_s >= capacity * 0.999
    assert int(fleet.detail["runs_in_parallel"]) > 1


def test_workload_presets_state_their_batch() -> None:
    target = load_workload("train-llama3-70b").targets[0]
    assert isinstance(target, TrainingTarget)
    assert target.global_batch_tokens == 2**24  # Llama 3 (arXiv 2407.21783, s. 3.4.1)
    with pytest.raises(ValueError, match="whole number"):
        TrainingTarget(model="llama3-8b", tokens=1e12, days=30, seq_len=4096, global_batch_tokens=1000)


def test_fleets_are_whole_systems_and_name_them() -> None:
    target = load_workload("train-llama3-70b").targets[0]
    fleet = size_fleet(target, CAT.accelerator("ascend-910c"), CAT)
    assert fleet.system == "cloudmatrix-384"
    assert fleet.chips % 384 == 0
    assert fleet.systems == fleet.chips // 384
    small = size_fleet(target, CAT.accelerator("ascend-910c"), CAT, system=CAT.system("atlas-800-a3"))
    assert small.system == "atlas-800-a3"
    assert small.chips % 8 == 0


def test_fleet_mfu_is_model_flops_over_all_chips_at_peak() -> None:
    target = load_workload("train-llama3-70b").targets[0]
    fleet = size_fleet(target, CAT.accelerator("h200-sxm"), CAT)
    assert fleet.mfu is not None
    peak = chip_of(CAT.accelerator("h200-sxm")).compute_peak("bf16")
    assert fleet.mfu == pytest.approx(fleet.effective_pflops * 1e15 / (fleet.chips * peak))
    assert 0 < fleet.mfu < 1


def test_compare_names_systems_and_published_mfu() -> None:
    work = load_workload("train-llama3-70b")
    result = compare(
        work,
        ["h200-sxm", "ascend-910c"],
        CAT,
        default_cost_inputs(),
        systems={"ascend-910c": "atlas-800-a3"},
    )
    h200, ascend = result.accelerators["h200-sxm"], result.accelerators["ascend-910c"]
    assert (h200.system, ascend.system) == ("hgx-h200", "atlas-800-a3")
    assert h200.mfu is not None
    assert h200.mfu_published is not None
    assert (h200.mfu_published.low, h200.mfu_published.high) == (0.38, 0.43)  # arXiv 2407.21783
    assert ascend.mfu_published is None  # nothing published for dense training on 910C


def _ascend_fleet(kind: str = "serving") -> FleetSize:
    return FleetSize(
        accelerator="ascend-910c",
        target="test",
        kind=kind,
        required_tokens_per_s=10_000.0,
        chips=384,
        chips_p90_perf=384,
        chips_p10_perf=384,
        servers=48,
        unit_chips=384,
        delivered_tokens_per_s=10_000.0,
        delivered_input_tokens_per_s=40_000.0,
        tokens_per_s_per_chip=10_000.0 / 384,
        effective_pflops=1.0,
        perf_sigma_log=0.1,
        detail={},
        system="cloudmatrix-384",
    )


def test_system_power_replaces_tdp_and_input_tokens_count() -> None:
    inputs = default_cost_inputs("CNY")
    cm = CAT.system("cloudmatrix-384")
    ascend = CAT.accelerator("ascend-910c")
    tco = fleet_tco(_ascend_fleet(), ascend, inputs, system=cm, utilisation=1.0)
    plain = fleet_tco(_ascend_fleet(), ascend, inputs, utilisation=1.0)
    assert tco.power_per_year is not None
    assert plain.power_per_year is not None
    kwh = 559 * inputs.pue * inputs.power_utilisation * 8766.0
    assert tco.power_per_year == pytest.approx(kwh * inputs.electricity_per_kwh)
    assert tco.power_per_year != pytest.approx(plain.power_per_year)
    # 4 input tokens per output token: five times the tokens per unit of cost.
    assert tco.cost_per_million_output_tokens is not None
    assert tco.cost_per_million_tokens is not None
    assert tco.cost_per_million_tokens == pytest.approx(tco.cost_per_million_output_tokens / 5)


@settings(max_examples=25, deadline=None)
@given(low=st.floats(min_value=0.05, max_value=0.9), bump=st.floats(min_value=0.01, max_value=0.5))
def test_cost_per_token_falls_as_utilisation_rises(low: float, bump: float) -> None:
    inputs = default_cost_inputs("CNY")
    ascend, cm = CAT.accelerator("ascend-910c"), CAT.system("cloudmatrix-384")
    idle = fleet_tco(_ascend_fleet(), ascend, inputs, system=cm, utilisation=low)
    busy = fleet_tco(_ascend_fleet(), ascend, inputs, system=cm, utilisation=min(1.0, low + bump))
    assert idle.cost_per_million_tokens is not None
    assert busy.cost_per_million_tokens is not None
    assert busy.cost_per_million_tokens < idle.cost_per_million_tokens


def test_scenario_load_factor_sets_the_utilisation() -> None:
    ascend, cm = CAT.accelerator("ascend-910c"), CAT.system("cloudmatrix-384")
    default = fleet_tco(_ascend_fleet(), ascend, default_cost_inputs(), system=cm)
    assert default.utilisation == 0.5
    given_ = fleet_tco(_ascend_fleet(), ascend, default_cost_inputs(load_factor=0.8), system=cm)
    assert given_.utilisation == 0.8
    assert fleet_tco(_ascend_fleet("training"), ascend, default_cost_inputs(), system=cm).utilisation is None


def test_compare_cli_json_names_the_system(cli) -> None:
    args = ["compare", "--workload", "serve-llama3-70b", "--accelerators", "h200-sxm,ascend-910c", "--json"]
    result = cli(*args)
    assert result.code == 0, result.err
    out = json.loads(result.out)
    assert out["accelerators"]["ascend-910c"]["system"] == "cloudmatrix-384"
    assert out["accelerators"]["h200-sxm"]["system"] == "hgx-h200"
    assert out["reference"]["system"] == "hgx-h200"
    assert out["utilisation"] == 0.5
    chosen = cli(*args, "--system", "ascend-910c=atlas-800-a3", "--utilisation", "0.8")
    assert chosen.code == 0, chosen.err
    out = json.loads(chosen.out)
    assert out["accelerators"]["ascend-910c"]["system"] == "atlas-800-a3"
    assert out["accelerators"]["ascend-910c"]["utilisation"] == 0.8


@pytest.mark.parametrize(
    ("system", "fragment"),
    [
        ("ascend-910c=hgx-h200", "holds h200-sxm, not ascend-910c"),
        ("ascend-910c=cloudmatrix-38", "unknown system"),
        ("ascend-910c", "ACCELERATOR=SYSTEM"),
    ],
)
def test_compare_cli_bad_system(cli, system: str, fragment: str) -> None:
    result = cli("compare", "--accelerators", "ascend-910c", "--system", system)
    assert result.code == 2
    assert fragment in result.err


def test_catalog_cli_lists_and_shows_systems(cli) -> None:
    listed = cli("catalog", "systems", "--json")
    assert listed.code == 0, listed.err
    records = {r["id"]: r for r in json.loads(listed.out)}
    assert records["cloudmatrix-384"]["default_for_accelerator"] is True
    assert records["atlas-800-a3"]["default_for_accelerator"] is False
    shown = cli("catalog", "show", "cloudmatrix-384", "--json")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["chips"]["value"] == 384
    table = cli("catalog", "list")
    assert table.code == 0
    assert "cloudmatrix-384" in table.out


def test_user_catalog_adds_a_system(tmp_path: Path) -> None:
    file = tmp_path / "mine.yaml"
    figure = {"source": "test rig", "date": "2026", "confidence": "derived"}
    record = {
        "systems": [
            {
                "base": "atlas-800-a3",
                "id": "atlas-800-a3-x16",
                "chips": {"value": 16, **figure},
                "scaleup_domain": {"value": 16, **figure},
            }
        ]
    }
    file.write_text(yaml.safe_dump(record))
    cat = load_catalog([file])
    assert cat.system("atlas-800-a3-x16").domain == 16
    bad = tmp_path / "bad.yaml"
    record["systems"][0]["accelerator"] = "ascend-9000"
    bad.write_text(yaml.safe_dump(record))
    with pytest.raises(InputError, match="ascend-9000"):
        load_catalog([bad])


def test_unknown_precision_figures_are_not_invented() -> None:
    # A system record never carries chip peaks: its figures are links, power and price.
    for system in CAT.systems.values():
        assert not {"bf16_dense_tflops", "memory_gb"} & set(system.model_dump())
    assert isinstance(CAT.system("hgx-h200").scaleup_gb_s, Figure)
