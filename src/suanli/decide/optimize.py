"""``suanli optimize``: the recommended order plan, its contingent version, and the baselines.

The plan is chosen by the sample-average MILP (:mod:`suanli.decide.milp`) on paths drawn
with the simulator's seeding, then every plan (recommended, contingent, baselines) is
re-simulated on fresh paths the optimiser never saw (another seed) and scored by the same
objective (:mod:`suanli.decide.objective`). For a scenario dated after its start, orders in
quarters already past are fixed as written and the paths are conditioned on what was
observed; the parent scenario's recommendation is reported beside it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from suanli.decide.baselines import baselines, domestic_sized
from suanli.decide.lshaped import Recourse, solve_decomposed
from suanli.decide.milp import Problem, Solution, solve
from suanli.decide.objective import Outcome, Preferences, evaluate, paired_difference
from suanli.decide.plans import Plan, book_dict, plan_from_dict
from suanli.decide.sample import Sample, build_sample, draw_paths
from suanli.errors import InfeasibleError, InputValueError
from suanli.scenario.compile import Candidates, ScenarioCompiler
from suanli.scenario.load import load_scenario
from suanli.scenario.model import Scenario
from suanli.supply.model import SupplyModel
from suanli.supply.quarters import quarter_index

FloatArray = NDArray[np.float64]

DEFAULT_PATHS = 2_000
OUT_OF_SAMPLE_PATHS = 20_000
CALIBRATION_STEPS = 5  # bisection steps on the CVaR share of the chance approximation
Method = Literal["decomposed", "full"]
Relaxation = Literal["chance", "budget", "budget per quarter", "policies"]  # groups a diagnosis drops


class PlanResult(BaseModel):
    """One plan and how it fared on the out-of-sample paths."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    plan: dict[str, dict[str, float]]
    plan_if_approved: dict[str, dict[str, float]] | None = None
    committed_cost: float  # all-in at base prices, worst history of the approval signal
    within_budget: bool | None
    outcome: Outcome
    dominated_by: list[str] = []

    # The headline figures at the top level too, as for the recommended plan.
    expected_cost: float
    cvar_shortfall: float
    p_meet_target: dict[str, float]


class SwitchRule(BaseModel):
    """A simple rule: order the approved book if the licence comes; if not by quarter k, go domestic."""

    model_config = ConfigDict(frozen=True)

    objective: float
    p_meet_required_min: float
    meets_chance_target: bool


class Contingent(BaseModel):
    """The wait-then-switch plan: orders that depend on whether the import was approved."""

    model_config = ConfigDict(frozen=True)

    signal: str
    plan: dict[str, dict[str, float]]  # while approval is not known
    plan_if_approved: dict[str, dict[str, float]]
    value_of_flexibility: float  # static objective minus contingent objective, same fresh paths
    value_of_flexibility_se: float  # batch-means standard error of that difference
    last_quarter_approval_matters: str | None  # the last quarter whose orders an approval changes
    switch_rules: dict[str, SwitchRule]  # wait for the licence until k, else domestic from k
    latest_wait_quarter: str | None  # the last k whose rule meets the requirement and beats the static plan
    result: PlanResult


class Optimization(BaseModel):
    """What ``suanli optimize`` returns."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    as_of: str
    currency: str
    quarters: list[str]
    accelerators: list[str]
    target_tokens_per_s: float
    aversion: float
    tail: float
    p_meet_required: float
    p_meet_from: str
    budget: float | None
    policies: list[str]
    fixed_through: str | None  # orders up to this quarter are as observed
    recommended: str
    plan: dict[str, dict[str, float]]
    expected_cost: float
    cvar_shortfall: float
    p_meet_target: dict[str, float]
    objective: float
    in_sample_objective: float
    in_sample_resimulated: float  # the chosen plan played by the simulator on the optimiser's own paths
    gap: float
    chance_tail: float  # CVaR share standing in for P(meet) >= p (1 - p is the safe, conservative one)
    solve_s: float
    solver: str  # how the program was solved, and how many master iterations it took
    paths: int
    paths_out_of_sample: int
    kept_share: float
    variables: int
    integer_variables: int
    constraints: int
    seed: int
    result: PlanResult  # the recommended static plan in full
    baselines: list[PlanResult]
    contingent: Contingent | None
    not_dominated: bool  # no baseline is as good on (expected cost, CVaR) and better on one
    parent: Optimization | None = None
    changes_from_parent: dict[str, dict[str, float]] | None = None


def preferences(scenario: Scenario, model: SupplyModel, aversion: float | None = None) -> Preferences:
    """The decision maker's preferences from the scenario (``aversion`` overrides its own)."""
    decision = scenario.decision
    if decision is None:
        raise InputValueError("the scenario has no decision section to optimise", field="decision")
    risk = decision.risk
    start = risk.p_meet_from or decision.target.from_quarter
    return Preferences(
        aversion=risk.aversion if aversion is None else aversion,
        tail=risk.tail,
        p_meet_target=risk.p_meet_target,
        chance_from=quarter_index(start, model.quarters[0]),
        budget=decision.budget,
    )


def fixed_quarters(scenario: Scenario) -> int:
    """Quarters before the one containing ``as_of``: their orders are history."""
    year, month = int(scenario.as_of[:4]), int(scenario.as_of[5:7]) if len(scenario.as_of) >= 7 else 1
    label = f"{year}Q{(month - 1) // 3 + 1}"
    return max(0, min(quarter_index(label, scenario.start_quarter), scenario.horizon_quarters))


def placed_orders(scenario: Scenario, model: SupplyModel) -> SupplyModel:
    """``model`` with the orders of past quarters replaced by those observed to have been placed."""
    decision = scenario.decision
    fixed = fixed_quarters(scenario)
    if decision is None or decision.placed is None or fixed == 0:
        return model
    placed = plan_from_dict("placed", decision.placed, model.accelerators, model.quarters).orders
    orders = model.orders.copy()
    orders[:fixed] = placed[:fixed]
    return dataclasses.replace(model, orders=orders)


def signal_index(scenario: Scenario, candidates: Candidates) -> int:
    """The import a contingent plan waits for, or -1 where none needs approval."""
    assert scenario.decision is not None
    name = scenario.decision.contingent_on
    if name is not None:
        return candidates.accelerators.index(name)
    waiting = np.flatnonzero(candidates.needs_approval)
    return int(waiting[0]) if waiting.size else -1


def committed_cost(plan: Plan, model: SupplyModel) -> float:
    """All-in cost the plan commits at base prices, on its most expensive approval history."""
    n_t = model.shape[0]
    steps = np.arange(1, n_t + 1)[:, None]
    price = model.price[None, :] * np.exp(model.price_drift[None, :] * steps)
    running = np.maximum(n_t - (np.arange(n_t)[:, None] + model.lead_time[None, :]), 0)
    per_unit = price * (1.0 + model.capex_share + model.duty)[None, :] + running * model.opex_per_quarter
    histories = range(1, n_t + 1) if plan.contingent else [n_t]
    worst = 0.0
    for k in histories:
        orders = plan.orders.copy()
        if plan.orders_approved is not None:
            orders[k:] = plan.orders_approved[k:]
        stacks = {model.stack[a] for a in range(model.shape[1]) if orders[:, a].sum() > 0}
        migration = sum(
            max(model.migration[a] for a in range(model.shape[1]) if model.stack[a] == s) for s in stacks
        )
        worst = max(worst, float((orders * per_unit).sum()) + float(migration))
    return worst


class _Context:
    """A scenario compiled once for one optimisation run."""

    def __init__(self, scenario: Scenario, compiler: ScenarioCompiler, aversion: float | None) -> None:
        self.scenario = scenario
        self.model = placed_orders(scenario, compiler.compile(scenario))
        self.candidates = compiler.candidates(scenario)
        self.fixed = fixed_quarters(scenario)
        prefs = preferences(scenario, self.model, aversion)
        # When re-planning, a requirement binds only from the quarter by which orders placed
        # now can have arrived from every candidate: earlier quarters are already decided.
        reach = self.fixed + int(self.model.lead_time.max()) if self.fixed > 0 else 0
        self.preferences = dataclasses.replace(prefs, chance_from=max(prefs.chance_from, reach))
        self.signal = signal_index(scenario, self.candidates)
        assert scenario.decision is not None
        self.decision = scenario.decision

    def problem(
        self, *, contingent: bool = False, drop: Relaxation | None = None, chance_tail: float | None = None
    ) -> Problem:
        """The program for this scenario, optionally without one group of constraints."""
        prefs = self.preferences
        return Problem(
            model=self.model,
            lot_units=self.candidates.lot_units,
            imported=self.candidates.imported,
            needs_approval=self.candidates.needs_approval,
            preferences=dataclasses.replace(prefs, budget=None) if drop == "budget" else prefs,
            budget_per_quarter=None if drop == "budget per quarter" else self.decision.budget_per_quarter,
            policies=() if drop == "policies" else self.decision.policy,
            contingent=contingent,
            fixed_quarters=self.fixed,
            enforce_chance=drop != "chance",
            chance_tail=chance_tail,
        )

    def result(self, plan: Plan, description: str, outcome: Outcome) -> PlanResult:
        cost = committed_cost(plan, self.model)
        budget = self.preferences.budget
        a, q = self.model.accelerators, self.model.quarters
        return PlanResult(
            name=plan.name,
            description=description,
            plan=plan.as_dict(a, q),
            plan_if_approved=plan.approved_dict(a, q),
            committed_cost=cost,
            within_budget=None if budget is None else cost <= budget * (1 + 1e-9),
            outcome=outcome,
            expected_cost=outcome.expected_cost,
            cvar_shortfall=outcome.cvar_shortfall,
            p_meet_target=outcome.p_meet_target,
        )


def solve_with(method: Method, problem: Problem, sample: Sample) -> Solution:
    """The program solved by L-shaped decomposition (default) or as one MILP (the reference)."""
    return solve_decomposed(problem, sample) if method == "decomposed" else solve(problem, sample)


def meets_in_sample(problem: Problem, sample: Sample, books: Sequence[FloatArray]) -> float:
    """Lowest P(meet target) on the sample over the required quarters, less the required one."""
    model = problem.model
    lots = [book / problem.lot_units[None, :] for book in books]
    work = Recourse(problem, sample).installed_work(lots) * float(model.target.max())
    required = [
        t
        for t in range(model.shape[0])
        if model.target[t] > 0 and t >= problem.preferences.chance_from and problem.enforce_chance
    ]
    if not required:
        return 1.0
    return float((work[required] >= model.target[required, None] * (1 - 1e-9)).mean(axis=1).min())


def _calibrate(
    context: _Context,
    sample: Sample,
    solution: Solution,
    method: Method,
    *,
    contingent: bool = False,
    high: float = 0.95,
    steps: int = CALIBRATION_STEPS,
) -> tuple[Solution, float]:
    """The least conservative CVaR share whose plan still meets the requirement on the sample.

    CVaR at ``1 - p`` of the unmet target is a safe but conservative stand-in for P(meet) >= p
    (on the flagship it gives ~91 % where 80 % is asked). A larger share averages over more
    paths and asks less; bisection between ``1 - p`` and ``high`` finds the largest share whose
    plan (``solution`` is the one at ``1 - p``) still meets p on the sample with a margin of one
    standard error of a proportion, and that plan is used.
    """
    p = context.preferences.p_meet_target
    wanted = p + np.sqrt(p * (1 - p) / sample.paths)
    low = 1.0 - p
    best = (solution, low)
    required = context.problem(contingent=contingent)
    if meets_in_sample(required, sample, solution.books) < wanted:
        return best
    for _ in range(steps):
        middle = 0.5 * (low + high)
        try:
            trial = solve_with(method, context.problem(contingent=contingent, chance_tail=middle), sample)
        except InfeasibleError:
            high = middle
            continue
        if meets_in_sample(required, sample, trial.books) >= wanted:
            low, best = middle, (trial, middle)
        else:
            high = middle
    return best


def _diagnose(
    context: _Context, sample_paths: int, seed: int, error: InfeasibleError, method: Method
) -> InfeasibleError:
    """Which constraint makes the program infeasible: relax each group and see what helps."""
    draws, kept = draw_paths(context.model, sample_paths, seed, context.scenario.observations)
    sample = build_sample(context.model, draws, kept)
    prefs = context.preferences
    trials: list[tuple[str, Problem]] = [
        (
            f"the required probability {prefs.p_meet_target:.0%} of meeting the target from "
            f"{context.model.quarters[prefs.chance_from]}",
            context.problem(drop="chance"),
        ),
        (
            f"the budget of {prefs.budget:,.0f} {context.scenario.economics.currency}",
            context.problem(drop="budget"),
        ),
        ("the per-quarter budget", context.problem(drop="budget per quarter")),
        (
            "the policies (" + ", ".join(p.name for p in context.decision.policy) + ")",
            context.problem(drop="policies"),
        ),
    ]
    binding = []
    for name, problem in trials:
        try:
            solve_with(method, problem, sample)
        except InfeasibleError:
            continue
        binding.append(name)
    if not binding:
        return InfeasibleError(
            f"no plan satisfies every constraint, and no single one of {len(trials)} constraint groups "
            f"explains it (budget, per-quarter budget, policies, the required probability): {error}"
        )
    return InfeasibleError(
        "no plan satisfies every constraint; dropping any one of these would make it feasible: "
        + "; ".join(binding)
    )


def optimize_scenario(
    scenario: Scenario | str,
    *,
    paths: int = DEFAULT_PATHS,
    seed: int = 0,
    aversion: float | None = None,
    out_of_sample_paths: int = OUT_OF_SAMPLE_PATHS,
    compiler: ScenarioCompiler | None = None,
    contingent: bool = True,
    parent: bool = True,
    progress: Callable[[str], None] | None = None,
    method: Method = "decomposed",
    calibrate: bool = True,
) -> Optimization:
    """The recommended plan for ``scenario``, its contingent version and the baselines."""
    scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
    compiler = compiler or ScenarioCompiler()
    say = progress or (lambda _: None)
    context = _Context(scenario, compiler, aversion)
    model, prefs, cands = context.model, context.preferences, context.candidates
    observations = scenario.observations
    if paths < 10:
        raise InputValueError(f"must be >= 10 (got {paths})", field="paths")
    say("sampling paths")
    signalled = dataclasses.replace(model, signal=context.signal)
    draws, kept = draw_paths(model, paths, seed, observations)
    sample = build_sample(signalled, draws, kept)
    say("solving the static plan")
    try:
        static = solve_with(method, context.problem(), sample)
    except InfeasibleError as exc:
        raise _diagnose(context, min(paths, 500), seed, exc, method) from None
    chance_tail = 1.0 - prefs.p_meet_target
    if calibrate:
        say("calibrating the chance approximation")
        static, chance_tail = _calibrate(context, sample, static, method)
    fresh = seed + 1_000_003  # another stream: paths the optimiser never saw

    def judge(plan: Plan, description: str) -> PlanResult:
        outcome = evaluate(
            plan.name,
            plan,
            model,
            prefs,
            cands.imported,
            paths=out_of_sample_paths,
            seed=fresh,
            observations=observations,
        )
        return context.result(plan, description, outcome)

    say("re-simulating plans on fresh paths")
    recommended = Plan("recommended", static.books[0])
    best = judge(recommended, "the optimiser's static plan")
    in_sample = evaluate(
        "in sample",
        recommended,
        model,
        prefs,
        cands.imported,
        paths=paths,
        seed=seed,
        observations=observations,
    )
    others = [
        judge(plan, text) for plan, text in baselines(model, cands.imported, cands.lot_units, context.fixed)
    ]
    flexible = None
    if contingent and context.signal >= 0:
        say("solving the contingent plan")
        flexible = _contingent(
            context,
            sample,
            judge,
            best,
            static.books[0],
            chance_tail=chance_tail,
            out_of_sample_paths=out_of_sample_paths,
            fresh=fresh,
            method=method,
        )
    plans = [best, *others, *([flexible.result] if flexible else [])]
    plans = [_dominance(p, plans) for p in plans]
    best, others = plans[0], plans[1 : 1 + len(others)]
    if flexible is not None:
        flexible = flexible.model_copy(update={"result": plans[-1]})
    use = flexible.result if flexible is not None and flexible.value_of_flexibility > 0 else best
    parent_result = changes = None
    if parent and scenario.extends and context.fixed > 0:
        say("re-planning: the parent scenario's recommendation")
        parent_result = optimize_scenario(
            scenario.extends,
            paths=paths,
            seed=seed,
            aversion=aversion,
            out_of_sample_paths=out_of_sample_paths,
            compiler=compiler,
            contingent=False,
            parent=False,
            method=method,
        )
        changes = _difference(best.plan, parent_result.plan)
    decision = context.decision
    return Optimization(
        scenario=scenario.id,
        as_of=scenario.as_of,
        currency=scenario.economics.currency,
        quarters=list(model.quarters),
        accelerators=list(model.accelerators),
        target_tokens_per_s=float(model.target.max()),
        aversion=prefs.aversion,
        tail=prefs.tail,
        p_meet_required=prefs.p_meet_target,
        p_meet_from=model.quarters[min(prefs.chance_from, len(model.quarters) - 1)],
        budget=prefs.budget,
        policies=[f"{p.name} ({p.kind}, {p.date}): {p.source}" for p in decision.policy],
        fixed_through=model.quarters[context.fixed - 1] if context.fixed > 0 else None,
        recommended=use.name,
        plan=best.plan,
        expected_cost=best.outcome.expected_cost,
        cvar_shortfall=best.outcome.cvar_shortfall,
        p_meet_target=best.outcome.p_meet_target,
        objective=best.outcome.objective,
        in_sample_objective=static.objective,
        in_sample_resimulated=in_sample.objective,
        gap=static.gap,
        chance_tail=chance_tail,
        solve_s=static.solve_s,
        solver=f"{method}: {static.status}",
        paths=paths,
        paths_out_of_sample=out_of_sample_paths,
        kept_share=kept,
        variables=static.variables,
        integer_variables=static.integer_variables,
        constraints=static.constraints,
        seed=seed,
        result=best,
        baselines=others,
        contingent=flexible,
        not_dominated=not set(use.dominated_by) & {b.name for b in others},
        parent=parent_result,
        changes_from_parent=changes,
    )


def _contingent(
    context: _Context,
    sample: Sample,
    judge: Callable[[Plan, str], PlanResult],
    best: PlanResult,
    best_orders: FloatArray,
    *,
    chance_tail: float,
    out_of_sample_paths: int,
    fresh: int,
    method: Method,
) -> Contingent:
    """The two-book plan, its value over the best static plan, and how long waiting pays."""
    model, cands = context.model, context.candidates
    # The static plan's share first; if the two-book plan then falls short on the sample, a
    # shorter bisection below it, so that both plans are held to the same requirement.
    solution = solve_with(method, context.problem(contingent=True, chance_tail=chance_tail), sample)
    p = context.preferences.p_meet_target
    wanted = p + np.sqrt(p * (1 - p) / sample.paths)
    if meets_in_sample(context.problem(contingent=True), sample, solution.books) < wanted:
        safe = solve_with(method, context.problem(contingent=True), sample)
        solution, _ = (
            _calibrate(context, sample, safe, method, contingent=True, high=chance_tail, steps=3)
            if chance_tail > 1.0 - p
            else (safe, chance_tail)
        )
    plan = Plan("contingent", solution.books[0], solution.books[1], context.signal)
    result = judge(plan, "wait-then-switch: orders depend on whether the import was approved")
    diff, error = paired_difference(
        Plan("static", best_orders),
        plan,
        model,
        context.preferences,
        cands.imported,
        paths=out_of_sample_paths,
        seed=fresh,
        observations=context.scenario.observations,
    )
    rules = {}
    latest = None
    for k in range(max(1, context.fixed), model.shape[0]):
        waiting = np.zeros_like(plan.orders)
        waiting[: context.fixed] = model.orders[: context.fixed]
        waiting += (
            domestic_sized(model, cands.imported, cands.lot_units, 1.0, k)
            * (np.arange(model.shape[0]) >= k)[:, None]
        )
        rule = Plan(f"wait until {model.quarters[k]}", waiting, solution.books[1], context.signal)
        outcome = judge(rule, "").outcome
        rules[model.quarters[k]] = SwitchRule(
            objective=outcome.objective,
            p_meet_required_min=outcome.p_meet_required_min,
            meets_chance_target=outcome.meets_chance_target,
        )
        if outcome.meets_chance_target and outcome.objective < best.outcome.objective:
            latest = model.quarters[k]
    differs = np.flatnonzero(np.abs(solution.books[1] - solution.books[0]).sum(axis=1)[1:] > 0) + 1
    a, q = model.accelerators, model.quarters
    return Contingent(
        signal=model.accelerators[context.signal],
        plan=book_dict(solution.books[0], a, q),
        plan_if_approved=book_dict(solution.books[1], a, q),
        value_of_flexibility=diff,
        value_of_flexibility_se=error,
        last_quarter_approval_matters=q[int(differs[-1])] if differs.size else None,
        switch_rules=rules,
        latest_wait_quarter=latest,
        result=result,
    )


def _dominance(plan: PlanResult, plans: Sequence[PlanResult]) -> PlanResult:
    """``plan`` with the names of plans at least as good on both cost and CVaR and better on one."""
    mine = plan.outcome
    better = [
        other.name
        for other in plans
        if other is not plan
        and other.outcome.expected_cost <= mine.expected_cost
        and other.outcome.cvar_shortfall <= mine.cvar_shortfall
        and (
            other.outcome.expected_cost < mine.expected_cost
            or other.outcome.cvar_shortfall < mine.cvar_shortfall
        )
    ]
    return plan.model_copy(update={"dominated_by": better})


def _difference(
    now: dict[str, dict[str, float]], before: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Units added (positive) or dropped (negative) per accelerator and quarter."""
    out: dict[str, dict[str, float]] = {}
    for accelerator in sorted(set(now) | set(before)):
        quarters = set(now.get(accelerator, {})) | set(before.get(accelerator, {}))
        row = {
            q: now.get(accelerator, {}).get(q, 0.0) - before.get(accelerator, {}).get(q, 0.0)
            for q in sorted(quarters)
        }
        row = {q: v for q, v in row.items() if v != 0}
        if row:
            out[accelerator] = row
    return out
