"""Fleet sizing, TCO and substitution: hand checks and monotonicity."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.catalog import Figure, builtin_catalog
from suanli.economics.compare import compare
from suanli.economics.costs import cost_defaults, default_cost_inputs
from suanli.economics.fleet import FleetSize, fleet_rate, size_fleet, sizing_unit
from suanli.economics.tco import DEFAULT_SERVING_UTILISATION, HOURS_PER_YEAR, fleet_tco
from suanli.economics.workload import ServingTarget, TrainingTarget, load_workload

CAT = builtin_catalog()


def _fleet(chips: int, kind: str = "serving", tokens_per_s: float = 1000.0) -> FleetSize:
    return FleetSize(
        accelerator="h200-sxm",
        target="test",
        kind=kind,
        required_tokens_per_s=tokens_per_s,
        chips=chips,
        chips_p90_perf=chips,
        chips_p10_perf=chips,
        servers=chips // 8,
        unit_chips=8,
        delivered_tokens_per_s=tokens_per_s,
        tokens_per_s_per_chip=tokens_per_s / chips,
        effective_pflops=1.0,
        perf_sigma_log=0.1,
        detail={},
    )


def test_tco_hand_checked_small_fleet() -> None:
    # 16 H200 at CNY 175,000; every cost input set by hand.
    inputs = default_cost_inputs(
        "CNY",
        electricity_per_kwh=0.5,
        pue=1.25,
        horizon_years=4,
        maintenance_share_per_year=0.05,
        network_capex_share=0.2,
        server_overhead_share=0.25,
        host_power_share=0.5,
        rack_kw=20,
        floor_cost_per_rack_year=100_000,
        residual_value_share=0.1,
        import_duty_share=0.1,
        power_utilisation=0.8,
        engineer_month_cost=100_000,
    )
    h200 = CAT.accelerator("h200-sxm")
    tco = fleet_tco(_fleet(16), h200, inputs)
    chips = 16 * 175_000  # 2.8 M
    servers = chips * 0.25  # 0.7 M
    network = (chips + servers) * 0.2  # 0.7 M
    duty = (chips + servers) * 0.1  # imported: 0.35 M
    capex = chips + servers + network + duty  # 4.55 M
    it_kw = 16 * 700 * 1.5 / 1000  # 16.8 kW
    power = it_kw * 1.25 * 0.8 * HOURS_PER_YEAR * 0.5
    maintenance = (chips + servers + network) * 0.05
    floor = 1 * 100_000  # 16.8 kW fits one 20 kW rack
    expected = capex + 4 * (power + maintenance + floor) - capex * 0.1
    assert tco.capex == pytest.approx(capex)
    assert tco.import_duty == pytest.approx(duty)
    assert tco.power_per_year == pytest.approx(power)
    assert tco.tco == pytest.approx(expected)
    assert tco.migration == 0.0  # CUDA is the reference stack
    assert sum(tco.per_year or []) == pytest.approx(expected)
    seconds = 4 * HOURS_PER_YEAR * 3600
    # Tokens are priced at the default serving utilisation (half the capacity does work).
    assert tco.utilisation == DEFAULT_SERVING_UTILISATION == 0.5
    assert tco.cost_per_million_tokens == pytest.approx(expected / (1000 * seconds * 0.5) * 1e6)


def test_domestic_chips_pay_no_import_duty_but_migration() -> None:
    inputs = default_cost_inputs("CNY", import_duty_share=0.2)
    ascend = CAT.accelerator("ascend-910c")
    tco = fleet_tco(_fleet(8), ascend, inputs)
    assert tco.import_duty == 0.0
    assert tco.migration == inputs.migration_engineer_months["cann"] * inputs.engineer_month_cost


@settings(max_examples=20, deadline=None)
@given(low=st.floats(min_value=0.0, max_value=2.0), bump=st.floats(min_value=0.001, max_value=2.0))
def test_higher_electricity_price_never_lowers_tco(low: float, bump: float) -> None:
    h200 = CAT.accelerator("h200-sxm")
    cheap = fleet_tco(_fleet(64), h200, default_cost_inputs("CNY", electricity_per_kwh=low))
    dear = fleet_tco(_fleet(64), h200, default_cost_inputs("CNY", electricity_per_kwh=low + bump))
    assert dear.tco is not None
    assert cheap.tco is not None
    assert dear.tco >= cheap.tco


def test_currency_round_trip() -> None:
    h200 = CAT.accelerator("h200-sxm")
    cny = fleet_tco(_fleet(64), h200, default_cost_inputs("CNY"))
    usd = fleet_tco(_fleet(64), h200, default_cost_inputs("USD"))
    fx = default_cost_inputs("CNY").cny_per_usd
    assert usd.tco is not None
    assert cny.tco == pytest.approx(usd.tco * fx)
    assert cny.capex == pytest.approx((usd.capex or 0) * fx)


def test_missing_price_gives_none_not_a_guess() -> None:
    fleet = _fleet(8)
    tco = fleet_tco(fleet, CAT.accelerator("mtt-s4000"), default_cost_inputs())
    assert tco.tco is None
    assert tco.capex is None
    assert "price" in tco.missing


@pytest.mark.parametrize("accelerator", ["h100-sxm", "ascend-910b"])
def test_more_efficient_chips_never_need_more(accelerator: str) -> None:
    target = load_workload("train-llama3-70b").targets[0]
    base = CAT.accelerator(accelerator)
    figure = base.bf16_dense_tflops
    assert figure is not None
    faster = base.model_copy(
        update={
            "bf16_dense_tflops": Figure(
                value=figure.value * 1.5, source="test", date="2026", confidence="derived"
            )
        }
    )
    assert size_fleet(target, faster, CAT).chips <= size_fleet(target, base, CAT).chips


def test_training_fleet_meets_its_deadline_and_rounds_to_servers() -> None:
    target = TrainingTarget(model="llama3-8b", tokens=1e12, days=30)
    fleet = size_fleet(target, CAT.accelerator("h100-sxm"), CAT)
    assert fleet.delivered_tokens_per_s >= target.tokens_per_s
    # Sized in whole systems of the accelerator's default system (HGX H100, 8 GPUs).
    assert fleet.system == "hgx-h100"
    assert fleet.chips % sizing_unit(CAT.default_system("h100-sxm")) == 0
    assert fleet.chips_p90_perf <= fleet.chips <= fleet.chips_p10_perf


def test_serving_fleet_meets_rate_and_latency() -> None:
    target = ServingTarget(
        model="llama3-70b",
        output_tokens_per_s=20_000,
        input_tokens=1000,
        output_tokens=200,
        tpot_ms=50,
        weight_precision="fp8",
    )
    fleet = size_fleet(target, CAT.accelerator("h200-sxm"), CAT)
    assert fleet.delivered_tokens_per_s >= 20_000
    assert float(fleet.detail["tpot_ms"]) <= 50


def test_substitution_against_a_reference_fleet() -> None:
    work = load_workload("train-llama3-70b")
    result = compare(
        work,
        ["h200-sxm", "ascend-910c", "mtt-s4000", "mi308x"],
        CAT,
        default_cost_inputs(),
        reference=("h200-sxm", 8192),
    )
    same = result.accelerators["h200-sxm"]
    # Itself: 8,192 chips hold four runs of 2,048 and nothing smaller does as much.
    assert same.equivalent_to_reference == pytest.approx(1.0, abs=0.01)
    # 8,000 chips pack three runs of 2,048 and slower fill-ins; a well-packed fleet of the same
    # chip matches that capacity with fewer chips, never more.
    awkward = compare(work, ["h200-sxm"], CAT, default_cost_inputs(), reference=("h200-sxm", 8000))
    ratio = awkward.accelerators["h200-sxm"].equivalent_to_reference
    assert ratio is not None
    assert 0.85 <= ratio <= 1.0
    ascend = result.accelerators["ascend-910c"]
    assert ascend.equivalent_to_reference is not None
    assert ascend.chips is not None
    assert ascend.tco_to_reference is not None
    assert not result.accelerators["mi308x"].available  # no compute figures in the catalog
    assert result.accelerators["mtt-s4000"].tco is None  # no price in the catalog


def test_reverse_question() -> None:
    work = load_workload("serve-llama3-70b")
    result = compare(work, ["h200-sxm"], CAT, default_cost_inputs(), reference=("ascend-910b", 1024))
    h200 = result.accelerators["h200-sxm"]
    assert h200.chips is not None
    assert h200.chips < 1024  # an H200 outserves a 910B: fewer of them do the same work


def test_compare_cli_json(cli) -> None:
    result = cli(
        "compare",
        "--workload",
        "serve-llama3-70b",
        "--accelerators",
        "h200-sxm,ascend-910c,mlu590",
        "--reference",
        "h200-sxm:80000",
        "--json",
    )
    assert result.code == 0, result.err
    out = json.loads(result.out)
    ascend = out["accelerators"]["ascend-910c"]
    for field in (
        "chips",
        "servers",
        "it_power_mw",
        "capex",
        "tco",
        "currency",
        "cost_per_million_tokens",
        "equivalent_to_reference",
    ):
        assert field in ascend
    assert out["reference"]["chips"] == 80000


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["compare", "--reference", "h200-sxm"], "--reference"),
        (["compare", "--workload", "train-gpt5"], "unknown workload"),
        (["compare", "--accelerators", "h300"], "unknown accelerator"),
    ],
)
def test_compare_bad_input(cli, args: list[str], fragment: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert fragment in result.err


def test_cost_defaults_carry_sources() -> None:
    defaults = cost_defaults()
    for name in (
        "electricity_cny_per_kwh",
        "pue",
        "cny_per_usd",
        "horizon_years",
        "maintenance_share_per_year",
    ):
        item = defaults.at(name)
        assert item.source
        assert item.confidence in {"vendor", "primary", "secondary", "derived", "assumption"}
    assert defaults.at("migration_engineer_months.cuda").value == 0


def test_surcharge_pass_through_is_a_capex_line() -> None:
    h200 = CAT.accelerator("h200-sxm")
    inputs = default_cost_inputs("CNY", surcharge_share={"h200-sxm": 0.25}, surcharge_pass_through=0.4)
    tco = fleet_tco(_fleet(8), h200, inputs)
    assert tco.surcharge == pytest.approx(8 * 175_000 * 0.25 * 0.4)
    none = fleet_tco(_fleet(8), h200, default_cost_inputs("CNY", surcharge_share={"h200-sxm": 0.25}))
    assert none.surcharge == 0.0  # seller side unless passed on
    assert tco.capex == pytest.approx((none.capex or 0) + (tco.surcharge or 0))


def test_performance_range_flows_into_cost_range() -> None:
    work = load_workload("train-llama3-70b")
    result = compare(work, ["ascend-910c"], CAT, default_cost_inputs())
    ascend = result.accelerators["ascend-910c"]
    assert ascend.tco_range is not None
    assert ascend.tco is not None
    low, high = ascend.tco_range
    # Fewer chips if it performs at P90, as many or more at P10 (fleets come in whole
    # CloudMatrix systems, so the nominal size may already cover the P10 case).
    assert low < high
    assert low < ascend.tco <= high


def test_fleet_rate_and_sizing_agree() -> None:
    target = load_workload("serve-llama3-70b").targets[0]
    h200 = CAT.accelerator("h200-sxm")
    fleet = size_fleet(target, h200, CAT)
    assert fleet_rate(target, h200, CAT, fleet.chips) == pytest.approx(fleet.delivered_tokens_per_s)
