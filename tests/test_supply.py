"""The supply simulator: closed forms, determinism, monotonicity, conditioning."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.analysis import supply_model
from suanli.scenario import load_scenario
from suanli.supply.model import SupplyModel, compile_supply
from suanli.supply.process import Approval, Capacity, PriceProcess, Revocation, Supply
from suanli.supply.quarters import quarter_index, quarter_labels
from suanli.supply.reference import simulate_reference
from suanli.supply.run import Observation, consistent, run, simulate_paths
from suanli.supply.simulate import BLOCK_PATHS

SRC = "test fixture"
QUARTERS = quarter_labels("2026Q1", 8)


def _model(
    supplies: dict[str, Supply], orders: dict[str, dict[str, float]], target: float = 0.0
) -> SupplyModel:
    return compile_supply(
        supplies,
        QUARTERS,
        orders=orders,
        prices=dict.fromkeys(supplies, 1.0),
        prepayment={a: s.price.prepayment_share for a, s in supplies.items()},
        rates=dict.fromkeys(supplies, (1.0, 0.0)),
        target=[target] * len(QUARTERS),
    )


def _hazard(p: float, never: float = 0.0, first: str = "2026Q1", **extra: object) -> Supply:
    return Supply(
        approval=Approval(hazard_per_quarter=p, first_quarter=first, never_share=never, source=SRC),
        capacity=Capacity(start="2026Q1", base=1e9, source=SRC),
        **extra,  # type: ignore[arg-type]
    )


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize(("p", "never"), [(0.3, 0.0), (0.1, 0.0), (0.5, 0.25)])
def test_approval_matches_closed_form(p: float, never: float) -> None:
    # With a constant hazard p, P(approved by the end of quarter k) = (1 - never) (1 - (1-p)^k).
    n = 40_000
    result = run(_model({"x": _hazard(p, never)}, {"x": {"2026Q1": 1.0}}), scenario="t", paths=n, seed=11)
    for k, simulated in enumerate(result.p_approved["x"], start=1):
        exact = (1 - never) * (1 - (1 - p) ** k)
        assert abs(simulated - exact) < 4 * _se(exact, n) + 1e-9, (k, simulated, exact)


def test_explicit_approval_distribution() -> None:
    supply = Supply(
        approval=Approval(by_quarter={"2026Q2": 0.5, "2026Q4": 0.3}, source=SRC),
        capacity=Capacity(start="2026Q1", base=1e9, source=SRC),
    )
    n = 40_000
    result = run(_model({"x": supply}, {"x": {"2026Q1": 1.0}}), scenario="t", paths=n, seed=5)
    expected = [0.0, 0.5, 0.5, 0.8, 0.8, 0.8, 0.8, 0.8]
    for simulated, exact in zip(result.p_approved["x"], expected, strict=True):
        assert abs(simulated - exact) < 4 * _se(exact, n) + 1e-9


def test_same_seed_same_numbers_whatever_the_chunking() -> None:
    model = _model(
        {
            "x": _hazard(0.3, revocation=Revocation(hazard_per_quarter=0.1, strand_share=0.5, source=SRC)),
            "y": Supply(
                approval=Approval(approved=True, source=SRC),
                capacity=Capacity(start="2026Q2", base=50, growth_per_quarter=0.1, sigma=0.4, source=SRC),
                price=PriceProcess(
                    sigma_per_quarter=0.1, duty_shock_probability=0.2, duty_shock_size=0.1, source=SRC
                ),
            ),
        },
        {"x": {"2026Q1": 100}, "y": {"2026Q1": 300, "2026Q3": 100}},
    )
    paths = 3 * BLOCK_PATHS + 123
    small = simulate_paths(model, paths, seed=7, chunk_paths=BLOCK_PATHS)
    large = simulate_paths(model, paths, seed=7, chunk_paths=16 * BLOCK_PATHS)
    for name in (
        "delivered",
        "compute",
        "spend",
        "stranded_prepayment",
        "approval_quarter",
        "limited_by",
        "held_work",
    ):
        assert np.array_equal(getattr(small, name), getattr(large, name)), name
    other = simulate_paths(model, paths, seed=8)
    assert not np.array_equal(small.compute, other.compute)


def test_prefix_of_paths_is_stable() -> None:
    # Path i's numbers depend only on the seed and i: a longer run extends a shorter one.
    model = _model({"x": _hazard(0.3)}, {"x": {"2026Q1": 10}})
    short = simulate_paths(model, BLOCK_PATHS + 10, seed=3)
    long = simulate_paths(model, 2 * BLOCK_PATHS, seed=3)
    assert np.array_equal(short.delivered, long.delivered[:, :, : BLOCK_PATHS + 10])


@settings(max_examples=15, deadline=None)
@given(low=st.floats(min_value=0.0, max_value=0.5), bump=st.floats(min_value=0.01, max_value=0.5))
def test_higher_revocation_hazard_never_raises_deliveries(low: float, bump: float) -> None:
    def deliveries(hazard: float) -> float:
        supply = Supply(
            approval=Approval(hazard_per_quarter=0.4, first_quarter="2026Q1", source=SRC),
            revocation=Revocation(hazard_per_quarter=hazard, strand_share=0.3, source=SRC),
            capacity=Capacity(start="2026Q1", base=30, sigma=0.2, source=SRC),
        )
        model = _model({"x": supply}, {"x": {"2026Q1": 100, "2026Q3": 100}})
        return float(simulate_paths(model, 4096, seed=1).delivered[-1].mean())

    assert deliveries(min(low + bump, 1.0)) <= deliveries(low) + 1e-9


def test_capacity_total_cap_and_lead_time() -> None:
    supply = Supply(
        approval=Approval(approved=True, source=SRC),
        capacity=Capacity(start="2026Q1", base=40, total_cap=100, source=SRC),
        lead_time_quarters=2,
    )
    paths = simulate_paths(_model({"x": supply}, {"x": {"2026Q1": 500}}), 1000, seed=2)
    delivered = paths.delivered[:, 0, :]  # (T, P)
    assert np.all(delivered[:2] == 0)  # nothing before the lead time has passed
    assert np.allclose(delivered[2], 40)
    assert np.allclose(delivered[-1], 100)  # the total cap binds


def test_conditioning_reports_prior_probability() -> None:
    # No delivery through 2026Q2 means approval after 2026Q2: probability (1 - p)^2.
    p, n = 0.35, 60_000
    model = _model({"x": _hazard(p)}, {"x": {"2026Q1": 10}})
    obs = Observation(accelerator="x", quarter="2026Q2", delivered_at_most=0, source="test observation")
    result = run(model, scenario="t", paths=n, seed=4, observations=[obs])
    exact = (1 - p) ** 2
    assert result.p_observed is not None
    assert abs(result.p_observed - exact) < 4 * _se(exact, n)
    assert result.delivered["x"].p95[1] == 0  # every kept path agrees with the observation
    paths = simulate_paths(model, 1000, seed=4)
    assert consistent(paths, model, [obs]).sum() == np.sum(paths.delivered[1, 0] <= 0)


def test_tension_moves_approvals_together() -> None:
    def supply(loading: float) -> Supply:
        return _hazard(0.3, tension_loading=loading)

    for loading, sign in ((0.9, 1), (0.0, 0)):
        model = _model({"a": supply(loading), "b": supply(loading)}, {"a": {"2026Q1": 1}, "b": {"2026Q1": 1}})
        q = simulate_paths(model, 20_000, seed=9).approval_quarter.astype(float)
        q = np.minimum(q, 20)
        corr = np.corrcoef(q[0], q[1])[0, 1]
        if sign:
            assert corr > 0.3
        else:
            assert abs(corr) < 0.05


def test_target_probability_and_tail() -> None:
    supply = Supply(
        approval=Approval(approved=True, source=SRC),
        capacity=Capacity(start="2026Q1", base=100, sigma=0.5, source=SRC),
    )
    result = run(
        _model({"x": supply}, {"x": {"2026Q1": 1000}}, target=150), scenario="t", paths=20_000, seed=6
    )
    # 2026Q1 delivers ~100 (< 150): rarely met; by 2026Q2 ~200: mostly met.
    assert result.p_meet_target[0] < 0.3
    assert result.p_meet_target[1] > 0.6
    assert result.capacity_at_risk[1] < result.compute.p5[1] + 1e-6
    assert result.shortfall_at_risk[1] == pytest.approx(max(0.0, 150 - result.capacity_at_risk[1]))


def test_quarter_arithmetic() -> None:
    assert quarter_index("2027Q2", "2026Q1") == 5
    assert quarter_labels("2026Q3", 3) == ["2026Q3", "2026Q4", "2027Q1"]
    with pytest.raises(ValueError, match="2026Q1"):
        quarter_index("2026-Q1", "2026Q1")


def test_vectorised_simulator_agrees_with_the_plain_loop() -> None:
    # Same model, independent random numbers: means agree within a few standard errors.
    model = supply_model(load_scenario("h200-china-2026"))
    n = 6000
    loop = simulate_reference(model, n, seed=2)
    compute = np.array([c for c, _ in loop])
    spend = np.array([s for _, s in loop])
    fast = simulate_paths(model, 40_000, seed=2)
    for t in (2, 5, 11):
        se = compute[:, t].std() / math.sqrt(n)
        assert abs(compute[:, t].mean() - fast.compute[t].mean()) < 4 * se + 1e-6
    se = spend.std() / math.sqrt(n)
    assert abs(spend.mean() - fast.spend.sum(axis=0).mean()) < 4 * se
