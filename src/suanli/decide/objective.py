"""The one objective: expected all-in cost plus a weight times the CVaR of compute shortfall.

The optimiser minimises it over sample paths (:mod:`suanli.decide.milp` builds the same
terms as a linear program) and every plan is scored by it on simulated paths, so the
optimiser's choice and the re-simulation that checks it speak the same language.

Shortfall of a path is counted in *target-quarters*: the sum over quarters of the part of
the target not installed, divided by the target (1 = the whole target missing for one
quarter). CVaR at tail share ``alpha`` is the mean of the worst ``alpha`` share of paths,
computed as Rockafellar and Uryasev's minimum, which weighs the boundary path fractionally.

References
----------
R. T. Rockafellar and S. Uryasev, "Optimization of conditional value-at-risk", Journal of
Risk 2(3), 2000, pp. 21-41.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from suanli.decide.plans import Plan
from suanli.supply.model import SupplyModel
from suanli.supply.run import Observation, Paths, consistent, simulate_paths
from suanli.supply.simulate import Draws, play

FloatArray = NDArray[np.float64]


def cvar(losses: NDArray[np.floating], tail: float) -> float:
    """Mean of the worst ``tail`` share of ``losses`` (Rockafellar-Uryasev, fractional boundary)."""
    values = np.sort(np.asarray(losses, dtype=np.float64))[::-1]
    n = values.shape[0]
    share = tail * n
    whole = int(np.floor(share))
    total = values[:whole].sum() + (share - whole) * (values[whole] if whole < n else 0.0)
    return float(total / share)


def shortfall(compute: NDArray[np.floating], target: FloatArray) -> FloatArray:
    """Target-quarters missing per path: sum over quarters of the unmet share of the target."""
    level = float(target.max())
    if level <= 0:
        return np.zeros(compute.shape[1])
    short = np.maximum(target[:, None] - compute.astype(np.float64), 0.0)
    return np.asarray(short.sum(axis=0) / level, dtype=np.float64)


@dataclass(frozen=True)
class Preferences:
    """What the decision maker weighs: risk aversion, tail, required probability and budget."""

    aversion: float  # currency per target-quarter of CVaR shortfall
    tail: float
    p_meet_target: float
    chance_from: int  # first quarter index the required probability applies to
    budget: float | None = None


class Outcome(BaseModel):
    """How one plan fares on simulated paths."""

    model_config = ConfigDict(frozen=True)

    name: str
    objective: float
    expected_cost: float
    cost_p5: float
    cost_p50: float
    cost_p95: float
    cvar_shortfall: float  # target-quarters, mean of the worst ``tail`` share of paths
    expected_shortfall: float  # target-quarters
    p_meet_target: dict[str, float]
    p_meet_required_min: float  # lowest P(meet) over the quarters the requirement covers
    meets_chance_target: bool
    spend_p50_by_quarter: list[float]
    p_within_budget: float | None
    stranded_prepayment_mean: float
    foreign_share: float  # imported units over all units ordered (mean over paths)
    units_ordered: dict[str, float]  # mean over paths
    paths: int


def score(
    name: str,
    paths: Paths,
    *,
    model: SupplyModel,
    plan: Plan,
    preferences: Preferences,
    imported: Sequence[bool] | NDArray[np.bool_],
) -> Outcome:
    """The objective and its parts for ``plan`` on simulated ``paths`` of ``plan.apply(model)``."""
    spend = paths.spend.astype(np.float64)
    total = spend.sum(axis=0)
    short = shortfall(paths.compute, model.target)
    meet = (paths.compute >= model.target[:, None]).mean(axis=1)
    p_meet = {
        q: float(m) if model.target[t] > 0 else 1.0
        for t, (q, m) in enumerate(zip(model.quarters, meet, strict=True))
    }
    required = [
        p_meet[q]
        for t, q in enumerate(model.quarters)
        if t >= preferences.chance_from and model.target[t] > 0
    ]
    units = _units_per_path(plan, paths)  # (A, P)
    all_units = units.sum(axis=0)
    foreign = units[np.asarray(imported, dtype=bool)].sum(axis=0)
    share = np.divide(foreign, all_units, out=np.zeros_like(all_units), where=all_units > 0)
    expected = float(total.mean())
    risk = cvar(short, preferences.tail)
    p_min = min(required) if required else 1.0
    return Outcome(
        name=name,
        objective=expected + preferences.aversion * risk,
        expected_cost=expected,
        cost_p5=float(np.percentile(total, 5)),
        cost_p50=float(np.percentile(total, 50)),
        cost_p95=float(np.percentile(total, 95)),
        cvar_shortfall=risk,
        expected_shortfall=float(short.mean()),
        p_meet_target=p_meet,
        p_meet_required_min=p_min,
        meets_chance_target=p_min >= preferences.p_meet_target,
        spend_p50_by_quarter=np.percentile(np.cumsum(spend, axis=0), 50, axis=1).tolist(),
        p_within_budget=None if preferences.budget is None else float(np.mean(total <= preferences.budget)),
        stranded_prepayment_mean=float(paths.stranded_prepayment.mean()),
        foreign_share=float(share.mean()),
        units_ordered={a: float(units[i].mean()) for i, a in enumerate(model.accelerators)},
        paths=int(total.shape[0]),
    )


def _units_per_path(plan: Plan, paths: Paths) -> FloatArray:
    """Units ordered per accelerator on each path (A, P)."""
    static = plan.orders.sum(axis=0)[:, None]
    if not plan.contingent or plan.orders_approved is None:
        return np.broadcast_to(static, (static.shape[0], paths.compute.shape[1])).astype(np.float64)
    n_t = plan.orders.shape[0]
    switch = np.minimum(paths.approval_quarter[plan.signal].astype(np.int64) + 1, n_t)  # (P,)
    before = np.cumsum(plan.orders, axis=0)  # (T, A): static book through quarter t
    after = np.cumsum(plan.orders_approved[::-1], axis=0)[::-1]  # (T, A): approved book from t on
    head = np.vstack([np.zeros((1, before.shape[1])), before])[switch]  # (P, A)
    tail = np.vstack([after, np.zeros((1, after.shape[1]))])[switch]
    return np.asarray((head + tail).T, dtype=np.float64)


def evaluate(
    name: str,
    plan: Plan,
    model: SupplyModel,
    preferences: Preferences,
    imported: Sequence[bool] | NDArray[np.bool_],
    *,
    paths: int,
    seed: int,
    observations: Sequence[Observation] = (),
) -> Outcome:
    """Simulate ``plan`` on ``paths`` fresh paths (those agreeing with ``observations``) and score it."""
    raw, planned = simulated(plan, model, paths, seed, observations)
    return score(name, raw, model=planned, plan=plan, preferences=preferences, imported=imported)


def simulated(
    plan: Plan, model: SupplyModel, paths: int, seed: int, observations: Sequence[Observation] = ()
) -> tuple[Paths, SupplyModel]:
    """The paths of ``plan`` that agree with ``observations``, and the model that ordered it."""
    planned = plan.apply(model)
    raw = simulate_paths(planned, paths, seed)
    if observations:
        raw = raw.select(consistent(raw, planned, observations))
    return raw, planned


def paired_difference(
    first: Plan,
    second: Plan,
    model: SupplyModel,
    preferences: Preferences,
    imported: Sequence[bool] | NDArray[np.bool_],
    *,
    paths: int,
    seed: int,
    observations: Sequence[Observation] = (),
    batches: int = 20,
) -> tuple[float, float]:
    """Objective of ``first`` minus ``second`` on the same paths, and its standard error.

    Both plans meet the same simulated paths (common random numbers); the error comes from
    the spread of the difference over ``batches`` batches of paths (batch means), since the
    CVaR term does not split into a sum over paths.
    """
    outcomes = [(*simulated(plan, model, paths, seed, observations), plan) for plan in (first, second)]
    kept = min(o[0].compute.shape[1] for o in outcomes)
    edges = np.linspace(0, kept, batches + 1).astype(int)
    diffs = []
    for lo, hi in itertools.pairwise(edges):
        part = [
            score(
                "batch",
                raw.select(slice(lo, hi)),
                model=planned,
                plan=plan,
                preferences=preferences,
                imported=imported,
            ).objective
            for raw, planned, plan in outcomes
        ]
        diffs.append(part[0] - part[1])
    whole = [
        score("all", raw, model=planned, plan=plan, preferences=preferences, imported=imported).objective
        for raw, planned, plan in outcomes
    ]
    return whole[0] - whole[1], float(np.std(diffs, ddof=1) / np.sqrt(batches))


def score_draws(
    plan: Plan,
    model: SupplyModel,
    draws: Draws,
    preferences: Preferences,
    imported: Sequence[bool] | NDArray[np.bool_],
) -> Outcome:
    """Play ``plan`` on ``draws`` of ``model`` and score it (plans on the same draws share paths)."""
    planned = plan.apply(model)
    return score(
        plan.name,
        Paths.of(play(planned, draws)),
        model=planned,
        plan=plan,
        preferences=preferences,
        imported=imported,
    )
