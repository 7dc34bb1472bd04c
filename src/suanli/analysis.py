"""One scenario in, one result out: the pipeline from catalog to decision, wired together.

The scenario is compiled once (:class:`suanli.scenario.compile.ScenarioCompiler` sizes each
candidate's fleet once and converts money in one place). :func:`simulate_scenario` runs the
Monte Carlo and, for a scenario that extends another, also runs the base with the same seed
and reports what the base gave to the observations (the hindsight check).
:func:`analyze_scenario` leads with the recommendation of :mod:`suanli.decide` and shows
the plan variants, the candidates and the hindsight beside it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict

from suanli.catalog.loader import Catalog
from suanli.decide.optimize import DEFAULT_PATHS as OPTIMIZE_PATHS
from suanli.decide.optimize import Optimization, optimize_scenario
from suanli.economics.order import summarize_order
from suanli.errors import InfeasibleError
from suanli.scenario import Scenario, load_scenario
from suanli.scenario.compile import ScenarioCompiler
from suanli.scenario.dated import DatedEntry, excluded_after, later_used
from suanli.sovereignty.assess import scores_for, weighted_score
from suanli.supply.executors import Executor
from suanli.supply.model import SupplyModel
from suanli.supply.run import TAIL, SimulationResult, consistent, simulate_paths, summarize

DEFAULT_PATHS = 100_000


def supply_model(scenario: Scenario, catalog: Catalog | None = None) -> SupplyModel:
    """The simulator's arrays for ``scenario`` (compiled with a fresh compiler)."""
    return ScenarioCompiler(catalog).compile(scenario)


def target_rate(scenario: Scenario, catalog: Catalog) -> float:
    """Useful work the decision requires, in the workload's tokens/s."""
    return ScenarioCompiler(catalog).target_rate(scenario)


class Hindsight(BaseModel):
    """How a scenario compares with the one it extends."""

    model_config = ConfigDict(frozen=True)

    base: str
    base_as_of: str
    p_observed_under_base: float  # what the base's priors gave to everything observed since
    observations: list[str]
    p_meet_target_base: list[float]
    p_meet_target_now: list[float]
    compute_p50_base: list[float]
    compute_p50_now: list[float]
    delivered_p50_base: dict[str, list[float]]
    delivered_p50_now: dict[str, list[float]]


class SimulationReport(BaseModel):
    """The result of ``suanli simulate``: the scenario's picture, and the hindsight check."""

    model_config = ConfigDict(frozen=True)

    result: SimulationResult
    hindsight: Hindsight | None = None


def simulate_scenario(
    scenario: Scenario | str,
    *,
    paths: int = DEFAULT_PATHS,
    seed: int = 0,
    executor: Executor | None = None,
    chunk_paths: int = 65_536,
    catalog: Catalog | None = None,
    progress: Callable[[int], None] | None = None,
    hindsight: bool = True,
    compiler: ScenarioCompiler | None = None,
    model: SupplyModel | None = None,
) -> SimulationReport:
    """Simulate ``scenario``; for one that extends another, also the hindsight check."""
    scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
    compiler = compiler or ScenarioCompiler(catalog)
    model = compiler.compile(scenario) if model is None else model
    currency = scenario.economics.currency
    tail = TAIL if scenario.decision is None else scenario.decision.risk.tail
    start = time.perf_counter()
    raw = simulate_paths(model, paths, seed, executor=executor, chunk_paths=chunk_paths, progress=progress)
    result = summarize(
        raw,
        model,
        scenario=scenario.id,
        seed=seed,
        executor=executor.name if executor is not None else "local",
        seconds=time.perf_counter() - start,
        observations=scenario.observations,
        currency=currency,
        budget=None if scenario.decision is None else scenario.decision.budget,
        tail=tail,
    )
    check = None
    if hindsight and scenario.extends and scenario.observations:
        base = load_scenario(scenario.extends)
        base_model = compiler.compile(base)
        raw = simulate_paths(
            base_model, paths, seed, executor=executor, chunk_paths=chunk_paths, progress=progress
        )
        before = summarize(
            raw,
            base_model,
            scenario=base.id,
            seed=seed,
            executor=result.executor,
            seconds=result.seconds,
            currency=currency,
            tail=tail,
        )
        observed = float(np.mean(consistent(raw, base_model, scenario.observations)))
        check = Hindsight(
            base=base.id,
            base_as_of=base.as_of,
            p_observed_under_base=observed,
            observations=[f"{o.accelerator} {o.quarter}: " + _describe(o) for o in scenario.observations],
            p_meet_target_base=before.p_meet_target,
            p_meet_target_now=result.p_meet_target,
            compute_p50_base=before.compute.p50,
            compute_p50_now=result.compute.p50,
            delivered_p50_base={a: b.p50 for a, b in before.delivered.items()},
            delivered_p50_now={a: b.p50 for a, b in result.delivered.items()},
        )
    return SimulationReport(result=result, hindsight=check)


def _describe(observation: object) -> str:
    parts = []
    for name in ("delivered_at_most", "delivered_at_least", "approved"):
        value = getattr(observation, name)
        if value is not None:
            parts.append(
                f"{name.replace('_', ' ')} {value:g}" if not isinstance(value, bool) else f"approved={value}"
            )
    return ", ".join(parts)


class PlanOutcome(BaseModel):
    """How one variant of the order plan fares in the supply simulation."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    p_meet_target: list[float]
    compute_p50: list[float]
    capacity_at_risk: list[float]
    spend_p50: float
    spend_p95: float
    stranded_prepayment_mean: float
    within_budget: float | None  # P(total spend <= budget)
    # Share of paths that miss the target in a quarter where units a limit held back would have
    # met it, per limit (a vendor's capacity, a shared input pool such as HBM) and "any".
    p_miss_for_supply: dict[str, float] = {}


class CandidateView(BaseModel):
    """One candidate's useful work, price and sovereignty score."""

    model_config = ConfigDict(frozen=True)

    accelerator: str
    tokens_per_s_per_chip: float
    perf_sigma_log: float
    price: float
    price_per_unit_work: float | None  # price per (token/s) of useful work
    sovereignty_score: float | None


class Analysis(BaseModel):
    """What ``suanli analyze`` returns: the whole question on one scenario."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    title: str
    as_of: str
    currency: str
    quarters: list[str]
    target_tokens_per_s: float
    target_from: str | None
    order_warnings: list[str]
    candidates: list[CandidateView]
    plans: list[PlanOutcome]
    hindsight: Hindsight | None
    recommendation: Optimization | None  # what to buy, when, and the contingent plan
    recommendation_error: str | None = None  # why no plan could be recommended
    excluded_after_as_of: list[DatedEntry] = []  # dated entries the as_of view left out
    used_after_as_of: list[DatedEntry] = []  # figures still used although dated after as_of
    paths: int
    seed: int


def _plan_variants(
    scenario: Scenario, catalog: Catalog
) -> list[tuple[str, str, dict[str, dict[str, float]]]]:
    domestic = {a: q for a, q in scenario.plan.items() if catalog.accelerator(a).country == "CN"}
    imported = {a: q for a, q in scenario.plan.items() if catalog.accelerator(a).country != "CN"}
    variants = [("as planned", "the scenario's order plan", dict(scenario.plan))]
    if domestic and imported:
        variants.append(("domestic only", "the plan without its imported chips", domestic))
        variants.append(("imports only", "the plan without its domestic chips", imported))
    return variants


def analyze_scenario(
    scenario: Scenario | str,
    *,
    paths: int = DEFAULT_PATHS,
    seed: int = 0,
    executor: Executor | None = None,
    catalog: Catalog | None = None,
    optimize_paths: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Analysis:
    """The whole question on one scenario.

    The recommended plan (with its contingent version and the baselines, when the scenario
    has a decision section), order checks, each candidate's useful work and cost, and how
    plan variants fare against the target under supply risk (with the hindsight check for an
    updated scenario). The scenario is compiled once and every variant reuses it.
    """
    scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
    compiler = ScenarioCompiler(catalog)
    catalog = compiler.catalog
    say = progress or (lambda _: None)
    warnings = [] if scenario.order is None else summarize_order(scenario.order).warnings
    base_model = compiler.compile(scenario)
    # Sovereignty in the buyer's own data centres, from the dated register (with the scenario's
    # overrides); one weighted column here, the items behind it in `suanli sovereignty`.
    register = None if scenario.sovereignty is None else scores_for(scenario, "own_dc", catalog=catalog)
    views = []
    for a, accelerator in enumerate(base_model.accelerators):
        rate, price = float(base_model.rate_per_chip[a]), float(base_model.price[a])
        score = None if register is None else weighted_score(register[accelerator].values())
        views.append(
            CandidateView(
                accelerator=accelerator,
                tokens_per_s_per_chip=rate,
                perf_sigma_log=float(base_model.rate_sigma[a]),
                price=price,
                price_per_unit_work=price / rate if price > 0 and rate > 0 else None,
                sovereignty_score=score,
            )
        )
    outcomes = []
    hindsight = None
    for name, description, plan in _plan_variants(scenario, catalog):
        say(f"simulating the plan {name}")
        variant = scenario.model_copy(update={"plan": plan})
        orders = np.zeros_like(base_model.orders)
        for a, accelerator in enumerate(base_model.accelerators):
            for quarter, units in plan.get(accelerator, {}).items():
                if quarter in base_model.quarters:
                    orders[base_model.quarters.index(quarter), a] += units
        report = simulate_scenario(
            variant,
            paths=paths,
            seed=seed,
            executor=executor,
            hindsight=name == "as planned",
            compiler=compiler,
            model=dataclasses.replace(base_model, orders=orders),
        )
        result = report.result
        if name == "as planned":
            hindsight = report.hindsight
        outcomes.append(
            PlanOutcome(
                name=name,
                description=description,
                p_meet_target=result.p_meet_target,
                compute_p50=result.compute.p50,
                capacity_at_risk=result.capacity_at_risk,
                spend_p50=result.cost["p50"],
                spend_p95=result.cost["p95"],
                stranded_prepayment_mean=result.cost["stranded_prepayment_mean"],
                within_budget=result.cost.get("p_within_budget"),
                p_miss_for_supply=result.p_miss_for_supply,
            )
        )
    recommendation = None
    why_not = None
    if scenario.decision is not None:
        say("optimising the plan")
        try:
            recommendation = optimize_scenario(
                scenario,
                paths=optimize_paths or OPTIMIZE_PATHS,
                seed=seed,
                compiler=compiler,
                out_of_sample_paths=paths,  # the plans are checked on as many paths as the variants
            )
        except InfeasibleError as exc:  # the rest of the analysis still answers; say why
            why_not = str(exc)
    return Analysis(
        scenario=scenario.id,
        title=scenario.title,
        as_of=scenario.as_of,
        currency=scenario.economics.currency,
        excluded_after_as_of=excluded_after(scenario, catalog),
        used_after_as_of=later_used(scenario, catalog),
        quarters=list(base_model.quarters),
        target_tokens_per_s=float(base_model.target.max()),
        target_from=None if scenario.decision is None else scenario.decision.target.from_quarter,
        order_warnings=warnings,
        candidates=views,
        plans=outcomes,
        hindsight=hindsight,
        recommendation=recommendation,
        recommendation_error=why_not,
        paths=paths,
        seed=seed,
    )
