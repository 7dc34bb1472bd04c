"""Dated records and ``as_of``: a view of the data as it could be read on a date."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.catalog import load_catalog
from suanli.catalog.provenance import Price, first_day, known_by, latest
from suanli.economics.compare import compare
from suanli.economics.costs import cost_defaults, default_cost_inputs, site_electricity
from suanli.economics.fleet import FleetSize
from suanli.economics.tco import fleet_tco
from suanli.economics.workload import load_workload
from suanli.errors import InputValueError
from suanli.perf.calibrate import calibration_points, fit
from suanli.perf.efficiency import efficiency_file, evidence_as_of, evidence_vintage
from suanli.scenario import load_scenario
from suanli.scenario.compile import ScenarioCompiler
from suanli.scenario.dated import acknowledged_after, excluded_after, stale_acknowledgements, used_after

CAT = load_catalog()
FLAGSHIP = "h200-china-2026"


def _fleet(chips: int = 64) -> FleetSize:
    return FleetSize(
        accelerator="any",
        target="test",
        kind="training",
        required_tokens_per_s=1.0,
        chips=chips,
        chips_p90_perf=chips,
        chips_p10_perf=chips,
        servers=chips // 8,
        unit_chips=8,
        delivered_tokens_per_s=1.0,
        tokens_per_s_per_chip=1.0 / chips,
        effective_pflops=1.0,
        perf_sigma_log=0.1,
        detail={},
    )


def _price(amount: float, date: str) -> dict[str, object]:
    return {
        "amount": amount,
        "currency": "CNY",
        "source": "test quote",
        "date": date,
        "confidence": "primary",
    }


def test_dates_of_lower_precision_read_as_their_first_day() -> None:
    assert first_day("2026").isoformat() == "2026-01-01"
    assert first_day("2026-02").isoformat() == "2026-02-01"
    assert known_by("2026-01", "2026-01-20")
    assert not known_by("2026-02", "2026-01-20")
    assert not known_by("2026-01-21", "2026-01-20")
    assert known_by("2030", None)
    with pytest.raises(ValueError, match="calendar"):
        Price.model_validate(_price(1.0, "2026-02-30"))


def test_latest_entry_known_by_a_date() -> None:
    entries = [Price.model_validate(_price(a, d)) for a, d in ((100, "2025-06"), (80, "2026-03-01"))]
    assert latest(entries) is entries[1]
    assert latest(entries, "2026-01-20") is entries[0]
    assert latest(entries, "2025-01-01") is None


def test_a_record_may_carry_dated_prices_and_a_view_picks_by_date(tmp_path: Path) -> None:
    user = tmp_path / "prices.yaml"
    user.write_text(
        "id: mlu590\nbase: mlu590\nprice:\n"
        "  - {amount: 90000, currency: CNY, source: early quote, date: 2025-05, confidence: primary}\n"
        "  - {amount: 60000, currency: CNY, source: later tender, date: 2026-03, confidence: primary}\n",
        encoding="utf-8",
    )
    catalog = load_catalog([user])
    assert [p.amount for p in catalog.accelerator("mlu590").prices] == [90000, 60000]
    assert catalog.accelerator("mlu590").price is not None
    assert catalog.accelerator("mlu590").price.amount == 60000  # type: ignore[union-attr]
    early = catalog.as_of("2026-01-20").accelerator("mlu590").price
    assert early is not None
    assert early.amount == 90000
    assert catalog.as_of("2025-01-01").accelerator("mlu590").price is None


def test_cost_defaults_are_read_as_of_a_date() -> None:
    defaults = cost_defaults()
    for name in ("pue", "cny_per_usd", "electricity_cny_per_kwh", "residual_value_share"):
        entry = defaults.at(name, "2026-01-20")
        assert known_by(entry.date, "2026-01-20"), name
    with pytest.raises(InputValueError, match="as_of 1999-01-01"):
        default_cost_inputs(as_of="1999-01-01")


def test_a_candidate_without_a_price_known_by_as_of_is_an_error_not_a_free_chip(tmp_path: Path) -> None:
    user = tmp_path / "late.yaml"
    user.write_text(
        "id: h200-sxm\nbase: h200-sxm\nprice:\n"
        "  - {amount: 175000, currency: CNY, source: later quote, date: 2026-03, confidence: primary}\n",
        encoding="utf-8",
    )
    scenario = load_scenario(FLAGSHIP).model_copy(update={"prices": {}})
    with pytest.raises(InputValueError, match=r"only prices dated 2026-03.*prices\.h200-sxm"):
        ScenarioCompiler(load_catalog([user])).prices(scenario)


def test_calibration_evidence_follows_the_view_date() -> None:
    with evidence_as_of("2020-01-01"):
        assert evidence_vintage() == "priors"
    with evidence_as_of("2026-01-20"):
        early = evidence_vintage()
    assert early == "2026-01-20"
    assert evidence_vintage() == "all"
    stored = {v.as_of: v for v in efficiency_file().vintages}[early]
    known = {p.id for p in calibration_points("2026-01-20")}
    assert set(stored.calibrated_on) == known
    later = {p.id for p in calibration_points()} - known
    assert later, "the bundled calibrate split has points published after 2026-01-20"


def test_stored_vintage_is_reproducible() -> None:
    source = efficiency_file()
    stored = {v.as_of: v for v in source.vintages}["2026-01-20"]
    refit = fit(source, "2026-01-20")
    assert set(refit) == set(stored.calibrated)
    for stack, factors in refit.items():
        assert factors.gemm == pytest.approx(stored.calibrated[stack].gemm, rel=2e-3), stack
        assert (factors.memory or 0) == pytest.approx(stored.calibrated[stack].memory or 0, rel=2e-3), stack


def test_flagship_uses_nothing_published_after_its_as_of() -> None:
    scenario = load_scenario(FLAGSHIP)
    assert used_after(scenario, CAT) == []  # every later figure it uses is named, with the reason
    explained = acknowledged_after(scenario, CAT)
    assert {e.record for e in explained} == set(scenario.later_evidence)
    assert all(e.reason and not known_by(e.date, scenario.as_of) for e in explained)
    assert stale_acknowledgements(scenario, CAT) == []
    excluded = excluded_after(scenario, CAT)
    assert all(not known_by(e.date, scenario.as_of) for e in excluded)
    assert {e.kind for e in excluded} >= {"calibration point"}
    # The update, dated later, sees those entries again.
    update = load_scenario("h200-china-2026-update")
    assert len(excluded_after(update, CAT)) < len(excluded)


def test_domestic_chip_power_subsidy_lowers_domestic_running_cost_only() -> None:
    every, domestic = site_electricity("western_hub", "2026-01-20")
    assert domestic is not None
    assert domestic < every
    assert site_electricity("western_hub", "2026-01-20", subsidy=False)[1] is None
    assert site_electricity("east_coast", "2026-01-20")[1] is None
    plain = default_cost_inputs(electricity_per_kwh=every)
    subsidised = default_cost_inputs(electricity_per_kwh=every, domestic_electricity_per_kwh=domestic)
    fleet = _fleet()
    ascend, h200 = CAT.accelerator("ascend-910c"), CAT.accelerator("h200-sxm")
    cheaper = fleet_tco(fleet, ascend, subsidised).power_per_year
    before = fleet_tco(fleet, ascend, plain).power_per_year
    assert cheaper is not None
    assert before is not None
    assert cheaper == pytest.approx(before * domestic / every)
    assert fleet_tco(fleet, h200, subsidised).power_per_year == fleet_tco(fleet, h200, plain).power_per_year


def test_vat_costs_nothing_when_recoverable_and_the_same_rate_on_both_origins_when_not() -> None:
    fleet = _fleet()
    for accelerator_id in ("h200-sxm", "ascend-910c"):
        accelerator = CAT.accelerator(accelerator_id)
        recoverable = fleet_tco(fleet, accelerator, default_cost_inputs())
        paid = fleet_tco(fleet, accelerator, default_cost_inputs(vat_recoverable=False))
        assert recoverable.vat == 0
        assert paid.vat is not None
        assert recoverable.capex is not None
        assert paid.capex is not None
        assert paid.capex == pytest.approx(recoverable.capex * 1.13)


def test_price_uncertainty_takes_its_range_from_the_catalog_and_moves_the_price() -> None:
    scenario = load_scenario(FLAGSHIP)
    (u,) = (u for u in scenario.uncertainties if u.name == "price_ascend-910c")
    price = CAT.as_of(scenario.as_of).accelerator("ascend-910c").price
    assert price is not None
    assert price.low is not None
    assert price.high is not None
    assert (u.low, u.high) == pytest.approx((price.low / price.amount, price.high / price.amount))
    compiler = ScenarioCompiler()
    base = compiler.prices(scenario)["ascend-910c"]
    cheap = compiler.prices(scenario.with_values({"price_ascend-910c": u.low}))["ascend-910c"]
    assert cheap == pytest.approx(base * u.low)


def test_range_from_catalog_refuses_a_path_it_cannot_read() -> None:
    data = load_scenario(FLAGSHIP).model_dump(mode="python")
    data["uncertainties"] = [
        {"name": "bad", "paths": ["economics.pue"], "range_from": "catalog", "source": "test"}
    ]
    with pytest.raises(ValueError, match=r"price_scale\.ID"):
        type(load_scenario(FLAGSHIP)).model_validate(data)


def test_a_later_figure_the_scenario_does_not_explain_is_reported() -> None:
    scenario = load_scenario(FLAGSHIP)
    quiet = scenario.model_copy(update={"later_evidence": {}})
    assert {e.record for e in used_after(quiet, CAT)} == set(scenario.later_evidence)
    stale = scenario.model_copy(update={"later_evidence": {**scenario.later_evidence, "h200-sxm.tdp_w": "x"}})
    assert stale_acknowledgements(stale, CAT) == ["h200-sxm.tdp_w"]


def test_the_power_subsidy_moves_the_substitution_cost_towards_domestic_chips() -> None:
    work = load_workload("train-llama3-70b")
    plain = default_cost_inputs(electricity_per_kwh=0.6)
    subsidised = default_cost_inputs(electricity_per_kwh=0.6, domestic_electricity_per_kwh=0.4)
    ratios = []
    for inputs in (plain, subsidised):
        result = compare(work, ["h200-sxm", "ascend-910c"], CAT, inputs, reference=("h200-sxm", 8192))
        ratio = result.accelerators["ascend-910c"].tco_to_reference
        assert ratio is not None
        ratios.append(ratio)
    assert ratios[1] < ratios[0] - 0.01
