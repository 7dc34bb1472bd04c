"""One scenario in, one result out: the pipeline from catalog to supply risk, wired together.

:func:`supply_model` turns a scenario into the simulator's arrays, taking each candidate's
useful work per chip (and its uncertainty) from the performance model through fleet
sizing, and the target from the scenario's decision section. :func:`simulate_scenario` runs
the Monte Carlo and, for a scenario that extends another, also runs the base with the same
seed and reports what the base gave to the observations (the hindsight check) and how the
picture changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict

from suanli.catalog.loader import Catalog, builtin_catalog
from suanli.economics.fleet import fleet_rate, size_fleet
from suanli.economics.order import summarize_order
from suanli.economics.workload import Target, Workload, load_workload
from suanli.errors import InfeasibleError, InputValueError
from suanli.scenario import Scenario, load_scenario
from suanli.supply.executors import Executor
from suanli.supply.model import SupplyModel, compile_supply
from suanli.supply.quarters import quarter_index, quarter_labels
from suanli.supply.run import SimulationResult, consistent, simulate_paths, summarize

DEFAULT_PATHS = 100_000


def scenario_workload(scenario: Scenario) -> Workload:
    """The scenario's workload (a preset name or an inline definition)."""
    return load_workload(scenario.workload) if isinstance(scenario.workload, str) else scenario.workload


def _primary_target(scenario: Scenario) -> Target:
    return scenario_workload(scenario).targets[0]


def candidate_rates(scenario: Scenario, catalog: Catalog) -> dict[str, tuple[float, float]]:
    """Useful work per chip (tokens/s on the workload's first target) and its log-spread."""
    target = _primary_target(scenario)
    rates = {}
    for accelerator_id in scenario.candidates:
        try:
            fleet = size_fleet(target, catalog.accelerator(accelerator_id), catalog)
        except InfeasibleError as exc:
            raise InfeasibleError(
                f"candidate {accelerator_id} cannot run the scenario workload: {exc}"
            ) from exc
        rates[accelerator_id] = (fleet.tokens_per_s_per_chip, fleet.perf_sigma_log)
    return rates


def target_rate(scenario: Scenario, catalog: Catalog) -> float:
    """Useful work the decision requires, in the workload's tokens/s."""
    if scenario.decision is None:
        return 0.0
    target = scenario.decision.target
    equivalent = target.equivalent
    if equivalent is None:  # ComputeTarget guarantees tokens_per_s then
        return float(target.tokens_per_s or 0.0)
    return fleet_rate(
        _primary_target(scenario), catalog.accelerator(equivalent.accelerator), catalog, equivalent.chips
    )


def supply_model(scenario: Scenario, catalog: Catalog | None = None) -> SupplyModel:
    """The simulator's arrays for ``scenario``."""
    catalog = catalog or builtin_catalog()
    if not scenario.candidates:
        raise InputValueError("the scenario names no candidates to simulate", field="candidates")
    quarters = quarter_labels(scenario.start_quarter, scenario.horizon_quarters)
    inputs = scenario.cost_inputs()
    prices = {}
    for accelerator_id in scenario.candidates:
        if accelerator_id in scenario.prices:
            prices[accelerator_id] = scenario.prices[accelerator_id]
            continue
        price = catalog.accelerator(accelerator_id).price
        prices[accelerator_id] = 0.0 if price is None else inputs.to_currency(price.amount, price.currency)
    required = target_rate(scenario, catalog)
    start = (
        0 if scenario.decision is None else quarter_index(scenario.decision.target.from_quarter, quarters[0])
    )
    target = [required if t >= start else 0.0 for t in range(len(quarters))]
    return compile_supply(
        {a: scenario.supply[a] for a in scenario.candidates},
        quarters,
        orders=scenario.plan,
        prices=prices,
        prepayment={a: scenario.supply[a].price.prepayment_share for a in scenario.candidates},
        rates=candidate_rates(scenario, catalog),
        target=target,
    )


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
) -> SimulationReport:
    """Simulate ``scenario``; for one that extends another, also the hindsight check."""
    scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
    catalog = catalog or builtin_catalog()
    model = supply_model(scenario, catalog)
    currency = scenario.economics.currency
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
    )
    check = None
    if hindsight and scenario.extends and scenario.observations:
        base = load_scenario(scenario.extends)
        base_model = supply_model(base, catalog)
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
) -> Analysis:
    """The whole question on one scenario.

    Order checks, each candidate's useful work and cost, and how plan variants fare against
    the target under supply risk (with the hindsight check for an updated scenario).
    """
    scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
    catalog = catalog or builtin_catalog()
    warnings = [] if scenario.order is None else summarize_order(scenario.order).warnings
    base_model = supply_model(scenario, catalog)
    weights = None if scenario.sovereignty is None else scenario.sovereignty.weights
    views = []
    for a, accelerator in enumerate(base_model.accelerators):
        rate, price = float(base_model.rate_per_chip[a]), float(base_model.price[a])
        score = None
        if scenario.sovereignty is not None and weights and accelerator in scenario.sovereignty.scores:
            scores = scenario.sovereignty.scores[accelerator]
            score = sum(weights[k] * scores.get(k, 0.0) for k in weights) / sum(weights.values())
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
        variant = scenario.model_copy(update={"plan": plan})
        report = simulate_scenario(
            variant,
            paths=paths,
            seed=seed,
            executor=executor,
            catalog=catalog,
            hindsight=name == "as planned",
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
            )
        )
    return Analysis(
        scenario=scenario.id,
        title=scenario.title,
        as_of=scenario.as_of,
        currency=scenario.economics.currency,
        quarters=list(base_model.quarters),
        target_tokens_per_s=float(base_model.target.max()),
        target_from=None if scenario.decision is None else scenario.decision.target.from_quarter,
        order_warnings=warnings,
        candidates=views,
        plans=outcomes,
        hindsight=hindsight,
        paths=paths,
        seed=seed,
    )
