"""Robustness of plans over ranges of assumptions: regret, satisficing, and where plans fail.

An ensemble of experiments is drawn by Latin hypercube over the scenario's ``uncertainties``;
in each, the scenario is rebuilt with those values and every plan is played on the same
freshly drawn paths (common random numbers, seeded by experiment so that results do not
depend on the executor or on chunking). Per plan: regret (its objective minus the best
plan's in that experiment), the satisficing share (experiments in which it meets the
required probability of the target and its committed cost stays within budget), and with
PRIM the boxes of assumptions under which the recommended plan fails.

References
----------
R. J. Lempert, S. W. Popper and S. C. Bankes, *Shaping the Next One Hundred Years*, RAND
2003 (regret and satisficing). B. P. Bryant and R. J. Lempert, "Thinking inside the box",
Technological Forecasting & Social Change 77, 2010 (scenario discovery with PRIM).
M. D. McKay, R. J. Beckman and W. J. Conover, Technometrics 21(2), 1979 (Latin hypercube).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from scipy.stats import qmc

from suanli.decide.objective import Preferences, score_draws
from suanli.decide.optimize import committed_cost, preferences
from suanli.decide.plans import Plan
from suanli.decide.prim import PrimBox, prim_boxes
from suanli.errors import InputValueError
from suanli.scenario.compile import ScenarioCompiler
from suanli.scenario.model import Scenario
from suanli.supply.executors import Executor, map_chunks
from suanli.supply.model import SupplyModel
from suanli.supply.simulate import draw_block

FloatArray = NDArray[np.float64]
EXPERIMENT_PATHS = 500


class UncertaintyRange(BaseModel):
    """One uncertainty as the ensemble used it."""

    model_config = ConfigDict(frozen=True)

    name: str
    low: float
    high: float
    nominal: float
    mode: str
    source: str


class PlanRobustness(BaseModel):
    """How one plan fares across the ensemble."""

    model_config = ConfigDict(frozen=True)

    name: str
    max_regret: float
    p90_regret: float
    mean_regret: float
    satisficing_share: float
    mean_objective: float
    prim_boxes: list[PrimBox]


class Robustness(BaseModel):
    """What ``suanli robust`` returns."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    currency: str
    experiments: int
    paths_per_experiment: int
    seed: int
    uncertainties: list[UncertaintyRange]
    plans: list[PlanRobustness]
    fails_when: str  # the recommended plan's first box, in words


@dataclass(frozen=True)
class _Job:
    scenario: Scenario
    compiler: ScenarioCompiler
    plans: tuple[Plan, ...]
    paths: int
    seed: int


def varied(
    scenario: Scenario, compiler: ScenarioCompiler, values: dict[str, float]
) -> tuple[SupplyModel, Preferences, NDArray[np.bool_]]:
    """The compiled model, preferences and import flags with the uncertainties at ``values``."""
    changed = scenario.with_values(values)
    model = compiler.compile(changed)
    return model, preferences(changed, model), compiler.candidates(changed).imported


def outcomes_at(job: _Job, values: dict[str, float], experiment: int) -> tuple[list[float], list[bool]]:
    """Objective and satisficing of each plan with the uncertainties at ``values``."""
    model, prefs, imported = varied(job.scenario, job.compiler, values)
    draws = draw_block(model, job.seed, experiment, job.paths)
    objectives, satisficing = [], []
    for plan in job.plans:
        outcome = score_draws(plan, model, draws, prefs, imported)
        within = prefs.budget is None or committed_cost(plan, model) <= prefs.budget * (1 + 1e-9)
        objectives.append(outcome.objective)
        satisficing.append(outcome.meets_chance_target and within)
    return objectives, satisficing


def _chunk(
    job: _Job, names: Sequence[str], rows: list[tuple[int, list[float]]]
) -> list[tuple[list[float], list[bool]]]:
    return [outcomes_at(job, dict(zip(names, values, strict=True)), i) for i, values in rows]


def latin_hypercube(scenario: Scenario, experiments: int, seed: int) -> FloatArray:
    """``experiments`` points (n, d) spread over the scenario's uncertainty ranges."""
    lows = np.array([u.low for u in scenario.uncertainties])
    highs = np.array([u.high for u in scenario.uncertainties])
    unit = qmc.LatinHypercube(d=len(lows), seed=np.random.default_rng(seed)).random(experiments)
    return np.asarray(qmc.scale(unit, lows, highs), dtype=np.float64)


def robustness(
    scenario: Scenario,
    plans: Sequence[Plan],
    *,
    experiments: int = 1_000,
    paths: int = EXPERIMENT_PATHS,
    seed: int = 0,
    executor: Executor | None = None,
    compiler: ScenarioCompiler | None = None,
    recommended: str = "recommended",
    progress: Callable[[int], None] | None = None,
) -> Robustness:
    """Regret, satisficing and failure boxes of ``plans`` over the scenario's uncertainties."""
    if not scenario.uncertainties:
        raise InputValueError("the scenario states no uncertainties to explore", field="uncertainties")
    if experiments < 10:
        raise InputValueError(f"must be >= 10 (got {experiments})", field="experiments")
    compiler = compiler or ScenarioCompiler()
    compiler.compile(scenario)  # size the fleets once, before the compiler is shipped to workers
    names = [u.name for u in scenario.uncertainties]
    points = latin_hypercube(scenario, experiments, seed)
    job = _Job(scenario, compiler, tuple(plans), paths, seed)
    rows = [(i, points[i].tolist()) for i in range(experiments)]
    chunks = [rows[i : i + 50] for i in range(0, experiments, 50)]
    results = map_chunks(partial(_chunk, job, names), chunks, executor, progress)
    objective = np.array([r[0] for r in results])  # (n, plans)
    ok = np.array([r[1] for r in results])
    regret = objective - objective.min(axis=1, keepdims=True)
    out = []
    for p, plan in enumerate(plans):
        fails = ~ok[:, p]
        boxes = prim_boxes(points, fails, names) if fails.any() and not fails.all() else []
        out.append(
            PlanRobustness(
                name=plan.name,
                max_regret=float(regret[:, p].max()),
                p90_regret=float(np.percentile(regret[:, p], 90)),
                mean_regret=float(regret[:, p].mean()),
                satisficing_share=float(ok[:, p].mean()),
                mean_objective=float(objective[:, p].mean()),
                prim_boxes=boxes,
            )
        )
    chosen = next((r for r in out if r.name == recommended), out[0])
    return Robustness(
        scenario=scenario.id,
        currency=scenario.economics.currency,
        experiments=experiments,
        paths_per_experiment=paths,
        seed=seed,
        uncertainties=[
            UncertaintyRange(
                name=u.name, low=u.low, high=u.high, nominal=scenario.nominal(u), mode=u.mode, source=u.source
            )
            for u in scenario.uncertainties
        ],
        plans=out,
        fails_when=describe_box(chosen),
    )


def describe_box(result: PlanRobustness) -> str:
    """The first failure box of a plan in words."""
    if result.satisficing_share >= 1.0:
        return f"{result.name} met the target within budget in every experiment"
    if not result.prim_boxes:
        return f"{result.name} fails in {1 - result.satisficing_share:.0%} of experiments, in no simple box"
    box = result.prim_boxes[0]
    limits = " and ".join(f"{lo:.3g} <= {name} <= {hi:.3g}" for name, (lo, hi) in box.limits.items())
    return (
        f"{result.name} fails when {limits or 'anywhere'} (coverage {box.coverage:.0%} of failures, "
        f"density {box.density:.0%})"
    )


class Effect(BaseModel):
    """The effect of one uncertainty at its low and high end, others at their nominal values."""

    model_config = ConfigDict(frozen=True)

    name: str
    low: float
    high: float
    nominal: float
    p_meet_low: float
    p_meet_high: float
    expected_cost_low: float
    expected_cost_high: float
    swing_p_meet: float
    swing_cost: float


class Sensitivity(BaseModel):
    """What ``suanli sensitivity`` returns: a tornado over the scenario's uncertainties."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    plan: str
    currency: str
    paths: int
    seed: int
    p_meet_nominal: float  # mean over the quarters the requirement covers
    expected_cost_nominal: float
    effects: list[Effect]  # largest swing in P(meet) first


def p_meet_required_mean(
    outcome_p: dict[str, float], prefs: Preferences, quarters: Sequence[str], target: FloatArray
) -> float:
    """Mean P(meet target) over the quarters the requirement covers."""
    values = [outcome_p[q] for t, q in enumerate(quarters) if t >= prefs.chance_from and target[t] > 0]
    return float(np.mean(values)) if values else 1.0


def sensitivity(
    scenario: Scenario,
    plan: Plan,
    *,
    paths: int = 4_000,
    seed: int = 0,
    compiler: ScenarioCompiler | None = None,
) -> Sensitivity:
    """One-at-a-time swings of P(meet target) and expected cost of ``plan``, on common paths."""
    if not scenario.uncertainties:
        raise InputValueError("the scenario states no uncertainties to explore", field="uncertainties")
    compiler = compiler or ScenarioCompiler()

    def at(values: dict[str, float]) -> tuple[float, float]:
        model, prefs, imported = varied(scenario, compiler, values)
        outcome = score_draws(plan, model, draw_block(model, seed, 0, paths), prefs, imported)
        return p_meet_required_mean(
            outcome.p_meet_target, prefs, model.quarters, model.target
        ), outcome.expected_cost

    p0, c0 = at({})
    effects = []
    for u in scenario.uncertainties:
        p_low, c_low = at({u.name: u.low})
        p_high, c_high = at({u.name: u.high})
        effects.append(
            Effect(
                name=u.name,
                low=u.low,
                high=u.high,
                nominal=scenario.nominal(u),
                p_meet_low=p_low,
                p_meet_high=p_high,
                expected_cost_low=c_low,
                expected_cost_high=c_high,
                swing_p_meet=abs(p_high - p_low),
                swing_cost=abs(c_high - c_low),
            )
        )
    effects.sort(key=lambda e: (-e.swing_p_meet, -e.swing_cost))
    return Sensitivity(
        scenario=scenario.id,
        plan=plan.name,
        currency=scenario.economics.currency,
        paths=paths,
        seed=seed,
        p_meet_nominal=p0,
        expected_cost_nominal=c0,
        effects=effects,
    )
