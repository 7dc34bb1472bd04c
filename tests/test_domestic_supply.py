"""Domestic supply that can fail: shared input pools (HBM, foundry wafers) and why targets are missed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from suanli.analysis import simulate_scenario, supply_model
from suanli.decide.baselines import domestic_sized
from suanli.errors import InputValueError
from suanli.scenario import load_scenario
from suanli.scenario.compile import ScenarioCompiler
from suanli.supply.model import SupplyModel, compile_supply
from suanli.supply.process import Approval, Capacity, Constraint, Supply
from suanli.supply.quarters import quarter_labels
from suanli.supply.reference import simulate_reference
from suanli.supply.run import run, simulate_paths
from suanli.supply.simulate import BLOCK_PATHS, draw_block, offered_capacity

SRC = "test fixture"
QUARTERS = quarter_labels("2026Q1", 8)
DOMESTIC = Approval(approved=True, source=SRC)


def _pool(
    units: float, *, sigma: float = 0.4, loading: float = 0.0, share: float = 1.0, **extra: float
) -> Constraint:
    # One chip per unit of input: the pool's chips for a part are units x share x buyer share.
    return Constraint(
        input="test stacks",
        input_per_quarter=units,
        sigma=sigma,
        tension_loading=loading,
        input_per_chip=1.0,
        part_share=share,
        source=SRC,
        **extra,
    )


def _domestic(pools: dict[str, Constraint], base: float = 1e9, sigma: float = 0.0) -> Supply:
    return Supply(
        approval=DOMESTIC,
        capacity=Capacity(
            start="2026Q1", base=base, sigma=sigma, buyer_share=1.0, constraints=pools, source=SRC
        ),
    )


def _model(
    supplies: dict[str, Supply],
    orders: dict[str, dict[str, float]] | None = None,
    target: float = 0.0,
    tension_scale: float = 1.0,
) -> SupplyModel:
    return compile_supply(
        supplies,
        QUARTERS,
        orders=orders or {},
        prices=dict.fromkeys(supplies, 1.0),
        prepayment=dict.fromkeys(supplies, 0.0),
        rates=dict.fromkeys(supplies, (1.0, 0.0)),
        target=[target] * len(QUARTERS),
        tension_scale=tension_scale,
    )


def test_a_pool_moves_every_part_that_draws_on_it() -> None:
    model = _model(
        {
            "a": _domestic({"hbm": _pool(1000, share=0.6)}),
            "b": _domestic({"hbm": _pool(1000, share=0.3)}),
            "c": _domestic({"other": _pool(1000)}),
        }
    )
    assert model.constraints == ("hbm", "other")
    capacity = np.log(offered_capacity(model, draw_block(model, seed=3, block=0))[0])  # (A, P)
    # Same pool, same factor: perfectly correlated, in the ratio of the shares.
    assert np.corrcoef(capacity[0], capacity[1])[0, 1] == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(capacity[0] - capacity[1], math.log(2.0), atol=1e-5)
    # Another pool with no tension loading: independent (|r| within 4 standard errors of 0).
    assert abs(np.corrcoef(capacity[0], capacity[2])[0, 1]) < 4 / math.sqrt(BLOCK_PATHS)
    # The pool's level has mean one: the stated input is the mean over paths.
    share_mean = np.exp(capacity[0]).mean() / 600
    assert share_mean == pytest.approx(1.0, abs=4 * math.sqrt(math.exp(0.4**2) - 1) / math.sqrt(BLOCK_PATHS))


@pytest.mark.parametrize(("loading", "scale"), [(0.8, 1.0), (0.4, 2.0), (0.8, 0.0), (0.0, 1.0)])
def test_tension_tightens_a_pool_with_positive_loading(loading: float, scale: float) -> None:
    # The import's approval time rises with the tension factor (loading 1); a pool that loads on
    # tension is then smaller on the paths where the licence comes late.
    supplies = {
        "import": Supply(
            approval=Approval(hazard_per_quarter=0.3, first_quarter="2026Q1", source=SRC),
            capacity=Capacity(start="2026Q1", base=1e9, source=SRC),
            tension_loading=1.0,
        ),
        "home": _domestic({"hbm": _pool(1000, loading=loading)}),
    }
    model = _model(supplies, tension_scale=scale)
    draws = draw_block(model, seed=4, block=0)
    late = np.minimum(draws.approve_at[0], 20)
    rho = spearmanr(late, draws.constraint_factor[0]).statistic
    effective = min(loading * scale, 1.0)
    if effective > 0:
        assert rho < -0.3 * effective
        high = late >= np.quantile(late, 0.75)
        assert draws.constraint_factor[0, high].mean() < draws.constraint_factor[0, ~high].mean()
    else:
        assert abs(rho) < 4 / math.sqrt(BLOCK_PATHS)


def test_vectorised_simulator_agrees_with_the_plain_loop_on_pools() -> None:
    # An import with tension, two parts on one pool that binds often, one on a second pool.
    supplies = {
        "import": Supply(
            approval=Approval(hazard_per_quarter=0.4, first_quarter="2026Q1", source=SRC),
            capacity=Capacity(start="2026Q1", base=300, sigma=0.3, source=SRC),
            tension_loading=0.6,
        ),
        "a": _domestic(
            {"hbm": _pool(400, loading=0.5, share=0.6, growth_per_quarter=0.05)}, base=300, sigma=0.2
        ),
        "b": _domestic(
            {"hbm": _pool(400, loading=0.5, share=0.4, growth_per_quarter=0.05)}, base=200, sigma=0.2
        ),
        "c": _domestic({"fab": _pool(150, sigma=0.3, loading=0.7)}, base=150, sigma=0.2),
    }
    orders = {a: {"2026Q1": 600.0, "2026Q3": 400.0} for a in supplies}
    model = _model(supplies, orders, target=1500.0)
    n = 4000
    loop = simulate_reference(model, n, seed=8)
    compute = np.array([c for c, _ in loop])
    spend = np.array([s for _, s in loop])
    fast = simulate_paths(model, 32_000, seed=8)
    for t in (0, 2, 4, 7):
        se = math.hypot(compute[:, t].std() / math.sqrt(n), fast.compute[t].std() / math.sqrt(32_000))
        assert abs(compute[:, t].mean() - fast.compute[t].mean()) < 4 * se + 1e-6, t
    se = math.hypot(spend.std() / math.sqrt(n), fast.spend.sum(axis=0).std() / math.sqrt(32_000))
    assert abs(spend.mean() - fast.spend.sum(axis=0).mean()) < 4 * se
    # Means do not see how pools and tension move together; the lower tail does.
    for t in (1, 2, 3):
        low = np.quantile(fast.compute[t], 0.1)
        p_fast, p_loop = float(np.mean(fast.compute[t] <= low)), float(np.mean(compute[:, t] <= low))
        se = math.sqrt(p_fast * (1 - p_fast) / 32_000 + p_loop * (1 - p_loop) / n)
        assert abs(p_loop - p_fast) < 4 * se, t
    assert (fast.limited_by == model.limits.index("hbm")).any()  # the pool does bind


def test_same_seed_same_pool_numbers_whatever_the_chunking() -> None:
    model = _model(
        {"a": _domestic({"hbm": _pool(100, loading=0.5)}, base=150, sigma=0.3)},
        {"a": {"2026Q1": 500.0}},
        target=300.0,
    )
    paths = 2 * BLOCK_PATHS + 17
    small = simulate_paths(model, paths, seed=5, chunk_paths=BLOCK_PATHS)
    large = simulate_paths(model, paths, seed=5, chunk_paths=4 * BLOCK_PATHS)
    for name in ("delivered", "limited_by", "held_work"):
        assert np.array_equal(getattr(small, name), getattr(large, name)), name


def test_binding_pool_and_supply_misses_are_reported() -> None:
    # A pool of 100 a quarter (no spread) against an order of 1,000: the pool binds every quarter.
    pool = {"hbm": _pool(100, sigma=0.0)}
    enough = run(
        _model({"a": _domestic(pool)}, {"a": {"2026Q1": 1000.0}}, target=450.0),
        scenario="t",
        paths=500,
        seed=1,
    )
    assert enough.binding_share["a"] == {"vendor": 0.0, "hbm": 1.0}
    # Installed 100, 200, 300, 400 < 450 with 900..600 units waiting: missed for supply reasons.
    assert enough.p_meet_target[:4] == [0.0] * 4
    assert enough.p_miss_for_supply == {"vendor": 0.0, "hbm": 1.0, "any": 1.0}
    # Ordering 300 misses on every path too, but the units held back could never have met the
    # target: that is a plan that asked for too little, not supply failing.
    short = run(
        _model({"a": _domestic(pool)}, {"a": {"2026Q1": 300.0}}, target=450.0),
        scenario="t",
        paths=500,
        seed=1,
    )
    assert max(short.p_meet_target) == 0.0
    assert short.binding_share["a"]["hbm"] == pytest.approx(2 / 8)
    assert short.p_miss_for_supply["any"] == 0.0


def test_a_pool_must_be_stated_alike_by_every_part() -> None:
    supplies = {"a": _domestic({"hbm": _pool(100)}), "b": _domestic({"hbm": _pool(100, sigma=0.2)})}
    with pytest.raises(InputValueError, match=r"supply\.b\.capacity\.constraints\.hbm\.sigma"):
        _model(supplies)
    with pytest.raises(ValueError, match="buyer_share"):
        Capacity(start="2026Q1", base=1.0, constraints={"hbm": _pool(1.0)}, source=SRC)
    with pytest.raises(ValueError, match="vendor"):
        Capacity(start="2026Q1", base=1.0, buyer_share=1.0, constraints={"vendor": _pool(1.0)}, source=SRC)


def test_flagship_910c_capacity_against_published_2026_plans() -> None:
    # Bloomberg 2025-09-30: Huawei plans ~600,000 Ascend 910C in 2026. SemiAnalysis 2025-09-08:
    # ~300,000 Ascend in 2026 if HBM is not solved. The flagship's capacity for this buyer group,
    # divided by the group's share, must land between them (20 % either side) at the median, and
    # leave a real chance of falling short of Huawei's plan.
    scenario = load_scenario("h200-china-2026")
    model = supply_model(scenario)
    capacity = scenario.supply["ascend-910c"].capacity
    assert capacity.buyer_share is not None
    assert {"hbm", "smic-n2"} <= set(capacity.constraints)
    a = model.accelerators.index("ascend-910c")
    offered = offered_capacity(model, draw_block(model, seed=11, block=0))
    national = offered[:4, a].sum(axis=0) / capacity.buyer_share  # 2026Q1-2026Q4
    p5, p50, p95 = np.percentile(national, [5, 50, 95])
    assert 300_000 * 0.8 <= p50 <= 600_000 * 1.2, (p5, p50, p95)
    assert p5 < 600_000, (p5, p50, p95)
    assert p95 > 300_000, (p5, p50, p95)  # the bear case is not the whole story either
    # Every Huawei and Cambricon part draws on the same HBM pool, which loads on tension.
    hbm = model.constraints.index("hbm")
    assert model.constraint_loading[hbm] > 0
    for part in ("ascend-910c", "ascend-910b", "mlu590"):
        assert np.isfinite(model.constraint_capacity[hbm, model.accelerators.index(part)]).all()


def test_flagship_all_domestic_plan_can_miss_for_supply_reasons() -> None:
    # The optimiser's "all domestic" baseline: domestic chips sized to the target at the vendors'
    # median pace. HBM and wafers can hold its orders back far enough to miss the target.
    scenario = load_scenario("h200-china-2026")
    compiler = ScenarioCompiler()
    model = compiler.compile(scenario)
    candidates = compiler.candidates(scenario)
    orders = domestic_sized(model, candidates.imported, candidates.lot_units, 1.0, 0)
    plan = {
        acc: {q: float(orders[t, a]) for t, q in enumerate(model.quarters) if orders[t, a] > 0}
        for a, acc in enumerate(model.accelerators)
        if orders[:, a].any()
    }
    assert "h200-sxm" not in plan
    variant = scenario.model_copy(update={"plan": plan})
    result = simulate_scenario(variant, paths=4000, seed=2, compiler=compiler, hindsight=False).result
    assert result.p_miss_for_supply["any"] > 0.02
    assert result.p_miss_for_supply["hbm"] > 0.02
    assert result.binding_share["ascend-910c"]["hbm"] > 0
    assert set(result.binding_share["ascend-910c"]) == {"vendor", "hbm", "smic-n2"}
    assert result.p_miss_for_supply["hbm"] <= result.p_miss_for_supply["any"]


def test_flagship_mlu590_capacity_against_cambricons_2026_plan() -> None:
    # Bloomberg (late 2025): Cambricon plans ~500,000 units in 2026, ~300,000 of them Siyuan
    # 590/690, at yields reported near 20 %. The flagship's national MLU590 output, from the
    # vendor's plan capped by the shared HBM and SMIC pools, must not exceed that plan by more
    # than its spread at the median, and must fall short of it on a real share of paths.
    scenario = load_scenario("h200-china-2026")
    model = supply_model(scenario)
    capacity = scenario.supply["mlu590"].capacity
    assert capacity.buyer_share is not None
    a = model.accelerators.index("mlu590")
    offered = offered_capacity(model, draw_block(model, seed=11, block=0))
    national = offered[:4, a].sum(axis=0) / capacity.buyer_share
    p5, p50, p95 = np.percentile(national, [5, 50, 95])
    assert 300_000 * 0.5 <= p50 <= 300_000 * 1.2, (p5, p50, p95)
    assert np.mean(national < 300_000) > 0.3, (p5, p50, p95)
