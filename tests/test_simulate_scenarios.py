"""The flagship scenarios end to end: supply model, simulation, hindsight, executors, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from suanli.analysis import simulate_scenario, supply_model, target_rate
from suanli.catalog import builtin_catalog
from suanli.scenario import builtin_scenarios, load_scenario
from suanli.supply.executors import make_executor
from suanli.supply.run import simulate_paths


def test_builtin_scenarios_load() -> None:
    assert {"h200-china-2026", "h200-china-2026-update"} <= set(builtin_scenarios())
    base = load_scenario("h200-china-2026")
    update = load_scenario("h200-china-2026-update")
    assert update.extends == base.id
    # The update changes no prior: it only adds observations (hindsight stays honest).
    assert update.supply == base.supply
    assert update.plan == base.plan
    assert update.as_of > base.as_of
    assert all(o.source for o in update.observations)


def test_every_supply_assumption_says_where_it_comes_from() -> None:
    scenario = load_scenario("h200-china-2026")
    for accelerator, supply in scenario.supply.items():
        for part in (supply.approval, supply.revocation, supply.capacity, supply.price):
            assert len(part.source) > 10, (accelerator, part)


def test_supply_model_uses_the_performance_model() -> None:
    scenario = load_scenario("h200-china-2026")
    model = supply_model(scenario)
    rates = dict(zip(model.accelerators, model.rate_per_chip, strict=True))
    assert all(r > 0 for r in rates.values())
    assert rates["h200-sxm"] > rates["ascend-910b"]  # a faster chip does more useful work
    # The target is 60,000 H200 worth of work: about 60,000 x the H200's per-chip rate.
    assert target_rate(scenario, builtin_catalog()) == pytest.approx(60_000 * rates["h200-sxm"], rel=0.1)
    assert model.orders.sum() == sum(sum(q.values()) for q in scenario.plan.values())


def test_hindsight_reports_prior_probability_of_what_happened() -> None:
    report = simulate_scenario("h200-china-2026-update", paths=20_000, seed=1)
    assert report.hindsight is not None
    h = report.hindsight
    # The flagship's H200 process: approval hazard 0.4 per quarter, never 0.25, so no H200 by
    # the end of 2026Q2 has probability 1 - 0.75 (1 - 0.6^2) = 0.52 (capacity never zero).
    assert h.p_observed_under_base == pytest.approx(1 - 0.75 * (1 - 0.6**2), abs=0.02)
    result = report.result
    assert result.p_observed == pytest.approx(h.p_observed_under_base, abs=1e-12)
    assert result.delivered["h200-sxm"].p95[1] == 0
    # Knowing no H200 came through mid-2026 can only lower the odds of meeting the target then.
    assert h.p_meet_target_now[2] <= h.p_meet_target_base[2]


@pytest.mark.allow_loopback
def test_local_and_dask_executors_agree() -> None:
    model = supply_model(load_scenario("h200-china-2026"))
    local = simulate_paths(model, 20_000, seed=42, chunk_paths=8192)
    executor = make_executor("dask")
    try:
        distributed = simulate_paths(model, 20_000, seed=42, chunk_paths=16384, executor=executor)
    finally:
        executor.close()
    assert np.array_equal(local.compute, distributed.compute)
    assert np.array_equal(local.delivered, distributed.delivered)
    assert np.array_equal(local.spend, distributed.spend)


def test_simulate_cli_json(cli) -> None:
    result = cli("simulate", "h200-china-2026", "--paths", "5000", "--seed", "3", "--json")
    assert result.code == 0, result.err
    out = json.loads(result.out)
    for field in (
        "quarters",
        "delivered",
        "compute",
        "p_meet_target",
        "capacity_at_risk",
        "cost",
        "paths",
        "seed",
        "paths_per_s",
    ):
        assert field in out
    assert out["quarters"][0] == "2026Q1"
    assert set(out["delivered"]) == set(load_scenario("h200-china-2026").candidates)
    assert out["paths"] == 5000
    again = json.loads(cli("simulate", "--paths", "5000", "--seed", "3", "--json").out)
    assert again["compute"] == out["compute"]


def test_simulate_cli_table_with_hindsight(cli) -> None:
    result = cli("simulate", "h200-china-2026-update", "--paths", "5000")
    assert result.code == 0, result.err
    assert "Hindsight against h200-china-2026" in result.out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["simulate", "--executor", "spark"], "--executor"),
        (["simulate", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
        (["simulate", "--paths", "0"], "paths"),
        (["simulate", "h200-china"], "h200-china-2026"),
    ],
)
def test_simulate_bad_input(cli, args: list[str], fragment: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert fragment in result.err


def test_scenario_schema_new_check(cli, tmp_path: Path) -> None:
    schema = json.loads(cli("scenario", "schema").out)
    assert "supply" in schema["properties"]
    target = tmp_path / "mine.yaml"
    assert cli("scenario", "new", "--output", target).code == 0
    checked = cli("scenario", "check", target)
    assert checked.code == 0, checked.err
    again = cli("scenario", "new", "--output", target)
    assert again.code == 2
    assert "already exists" in again.err
    assert cli("simulate", target, "--paths", "2000").code == 0


def test_scenario_errors_point_at_file_and_line(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\ntitle: a bad one\nas_of: 2026-11-29\nextends: h200-china-2026\n"
        "supply:\n  h200-sxm:\n    revocation:\n      hazard_per_quarter: 1.5\n"
    )
    result = cli("scenario", "check", bad)
    assert result.code == 2
    assert f"{bad}:8: supply.h200-sxm.revocation.hazard_per_quarter" in result.err
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("id: u\ntitle: unknown base\nas_of: 2026\nextends: h200-china-2025\n")
    result = cli("scenario", "check", unknown)
    assert result.code == 2
    assert f"{unknown}:4: extends" in result.err
    assert "h200-china-2026" in result.err


def test_scenario_check_reports_consistency_warning(cli) -> None:
    result = cli("scenario", "check", "h200-china-2026")
    assert result.code == 0
    assert "7,143 modules" in result.err


@pytest.mark.allow_loopback
def test_simulate_cli_dask_matches_local(cli) -> None:
    local = json.loads(cli("simulate", "--paths", "3000", "--seed", "9", "--json").out)
    dask = cli("simulate", "--paths", "3000", "--seed", "9", "--executor", "dask", "--json")
    assert dask.code == 0, dask.err
    out = json.loads(dask.out)
    assert out["executor"] == "dask"
    assert out["compute"] == local["compute"]
    assert out["delivered"] == local["delivered"]


def test_analyze_answers_the_whole_question(cli) -> None:
    result = cli("analyze", "--paths", "4000", "--optimize-paths", "100", "--json")
    assert result.code == 0, result.err
    out = json.loads(result.out)
    assert out["scenario"] == "h200-china-2026"
    # It leads with a recommendation that no baseline dominates, checked on the same 4,000 paths.
    recommendation = out["recommendation"]
    assert recommendation["plan"]
    assert recommendation["paths"] == 100
    assert recommendation["paths_out_of_sample"] == 4000
    assert recommendation["not_dominated"]
    assert any("7,143 modules" in w for w in out["order_warnings"])
    plans = {p["name"]: p for p in out["plans"]}
    assert set(plans) == {"as planned", "domestic only", "imports only"}
    # Domestic chips need no prepayment in the flagship: nothing can be lost on them.
    assert plans["domestic only"]["stranded_prepayment_mean"] == 0.0
    # Adding orders never lowers the chance of meeting the target (same seed, same paths).
    for t in range(len(out["quarters"])):
        assert plans["as planned"]["p_meet_target"][t] >= plans["domestic only"]["p_meet_target"][t]
    for p in plans.values():
        assert 0.0 <= p["within_budget"] <= 1.0
    scores = {c["accelerator"]: c["sovereignty_score"] for c in out["candidates"]}
    assert scores["ascend-910c"] > scores["h200-sxm"]
    # "All domestic" is not riskless: some paths miss for supply reasons, and HBM is named.
    domestic = plans["domestic only"]["p_miss_for_supply"]
    assert domestic["any"] > 0
    assert domestic.get("hbm", 0) + domestic.get("smic-n2", 0) > 0
    # The as_of view says what it left out and which later figures it still uses, and why.
    assert {e["kind"] for e in out["excluded_after_as_of"]} >= {"price", "calibration point"}
    assert all(e["reason"] for e in out["used_after_as_of"])


def test_analyze_table_and_hindsight(cli) -> None:
    result = cli("analyze", "h200-china-2026-update", "--paths", "3000", "--optimize-paths", "100")
    assert result.code == 0, result.err
    assert "Recommendation:" in result.out
    assert "Change against h200-china-2026's recommendation" in result.out
    assert "Plans under supply risk" in result.out
    assert "hindsight" in result.out
    assert "missed the target for supply reasons" in result.out
