"""``suanli optimize``, ``robust`` and ``sensitivity``: what to buy, and how sure to be of it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from suanli.catalog import load_catalog
from suanli.cli.options import CatalogFiles, Json
from suanli.cli.output import console, err_console, number, print_json
from suanli.decide.objective import Outcome
from suanli.decide.optimize import DEFAULT_PATHS, Optimization, optimize_scenario
from suanli.decide.plans import Plan, plan_from_dict
from suanli.decide.robust import Robustness, Sensitivity, robustness, sensitivity
from suanli.decide.sobol import SobolIndices, sobol_indices
from suanli.scenario import DEFAULT_SCENARIO, load_scenario
from suanli.scenario.compile import ScenarioCompiler
from suanli.supply.executors import make_executor

Paths = Annotated[int, typer.Option(help="Sample paths the optimiser solves over.")]
Seed = Annotated[int, typer.Option(help="Random seed.")]
Aversion = Annotated[
    float | None,
    typer.Option(
        help="Weight of the CVaR of shortfall, currency per target-quarter (default: the scenario's)."
    ),
]


def optimize_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file or built-in name.")] = DEFAULT_SCENARIO,
    paths: Paths = DEFAULT_PATHS,
    seed: Seed = 0,
    risk_aversion: Aversion = None,
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """The recommended order plan, the contingent wait-then-switch plan, and the baselines.

    Solved as a mixed-integer program over sampled supply paths (HiGHS), then every plan is
    re-simulated on 20,000 fresh paths.
    """
    result = _optimize(scenario, paths, seed, risk_aversion, catalog, quiet=json)
    if json:
        print_json(result)
        return
    print_optimization(result)


def _optimize(
    scenario: str, paths: int, seed: int, aversion: float | None, catalog: CatalogFiles, *, quiet: bool
) -> Optimization:
    compiler = ScenarioCompiler(load_catalog(catalog or []))
    loaded = load_scenario(scenario)
    with Progress(console=err_console, transient=True, disable=quiet) as bar:
        task = bar.add_task("optimising", total=None)
        return optimize_scenario(
            loaded,
            paths=paths,
            seed=seed,
            aversion=aversion,
            compiler=compiler,
            progress=lambda stage: bar.update(task, description=stage),
        )


def _plan_table(title: str, plan: dict[str, dict[str, float]], quarters: list[str]) -> Table:
    used = [q for q in quarters if any(q in row for row in plan.values())]
    table = Table(title=title)
    table.add_column("accelerator")
    for q in used:
        table.add_column(q, justify="right")
    for accelerator, row in plan.items():
        table.add_row(accelerator, *(number(row.get(q)) if q in row else "" for q in used))
    return table


def _money(value: float, currency: str) -> str:
    return f"{'¥' if currency == 'CNY' else '$'}{value / 1e9:,.2f} B"


def print_optimization(r: Optimization) -> None:
    """The recommendation, the contingent plan and the baselines as tables."""
    cur = r.currency
    console.print(
        f"[bold]Recommended plan[/] for {r.scenario} (as of {r.as_of}): minimise expected all-in cost + "
        f"{_money(r.aversion, cur)} x CVaR{r.tail:.0%} of shortfall, with P(meet target) >= "
        f"{r.p_meet_required:.0%} from {r.p_meet_from}"
        + (f", budget {_money(r.budget, cur)}" if r.budget else "")
    )
    if r.fixed_through:
        console.print(
            f"Orders through {r.fixed_through} are fixed as observed; paths agree with the observations."
        )
    console.print(_plan_table("Recommended static plan (units)", r.plan, r.quarters))
    if r.contingent is not None:
        c = r.contingent
        console.print(
            _plan_table(f"Contingent plan while {c.signal} approval is not known", c.plan, r.quarters)
        )
        console.print(_plan_table(f"... and once {c.signal} is approved", c.plan_if_approved, r.quarters))
        console.print(
            f"Value of waiting for the licence and switching: {_money(c.value_of_flexibility, cur)} "
            f"(± {_money(c.value_of_flexibility_se, cur)}, same fresh paths); an approval changes the "
            f"orders up to {c.last_quarter_approval_matters or '-'}; latest quarter a plain "
            f"wait-then-go-domestic rule still meets the requirement and beats the static plan: "
            f"{c.latest_wait_quarter or 'none'}"
        )
    table = Table(title=f"Plans on {r.paths_out_of_sample:,} fresh paths ({cur})")
    for header in (
        "plan",
        "E(cost)",
        "CVaR short",
        "min P(meet)",
        "committed",
        "in budget",
        "foreign",
        "lost prepay",
        "dominated by",
    ):
        table.add_column(header, justify="left" if header in ("plan", "dominated by") else "right")
    plans = [r.result, *r.baselines, *([r.contingent.result] if r.contingent else [])]
    for p in plans:
        o: Outcome = p.outcome
        table.add_row(
            p.name,
            _money(o.expected_cost, cur),
            f"{o.cvar_shortfall:.2f}",
            f"{o.p_meet_required_min:.0%}",
            _money(p.committed_cost, cur),
            "-" if p.within_budget is None else ("yes" if p.within_budget else "no"),
            f"{o.foreign_share:.0%}",
            _money(o.stranded_prepayment_mean, cur),
            ", ".join(p.dominated_by) or "-",
        )
    console.print(table)
    console.print(
        f"Solver ({r.solver}): {r.paths} paths, {r.variables:,} variables ({r.integer_variables} integer), "
        f"{r.constraints:,} constraints, gap {r.gap:.2%}, solved in {r.solve_s:.1f} s; P(meet) >= "
        f"{r.p_meet_required:.0%} stood in for by CVaR over the worst {r.chance_tail:.0%} of paths; "
        "in-sample objective "
        f"{_money(r.in_sample_objective, cur)} (re-simulated on the same paths "
        f"{_money(r.in_sample_resimulated, cur)})"
    )
    if r.parent is not None and r.changes_from_parent is not None:
        console.print(
            _plan_table(
                f"Change against {r.parent.scenario}'s recommendation (units)",
                r.changes_from_parent,
                r.quarters,
            )
        )


def robust_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file or built-in name.")] = DEFAULT_SCENARIO,
    experiments: Annotated[int, typer.Option(help="Latin-hypercube experiments.")] = 1_000,
    paths: Paths = DEFAULT_PATHS,
    seed: Seed = 0,
    executor: Annotated[str, typer.Option(help="local or dask.")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """Regret and satisficing of the recommended, contingent and baseline plans over the uncertainties.

    Names the boxes of assumptions (PRIM) under which the recommended plan fails.
    """
    result = _optimize(scenario, paths, seed, None, catalog, quiet=json)
    plans = _plans(result)
    loaded = load_scenario(scenario)
    runner = make_executor(executor, scheduler)
    try:
        with Progress(console=err_console, transient=True, disable=json) as bar:
            task = bar.add_task("experiments", total=experiments)
            robust = robustness(
                loaded,
                plans,
                experiments=experiments,
                seed=seed,
                executor=runner,
                compiler=ScenarioCompiler(load_catalog(catalog or [])),
                progress=lambda n: bar.advance(task, n),
            )
    finally:
        runner.close()
    if json:
        print_json(robust)
        return
    print_robustness(robust)


def _plans(result: Optimization) -> list[Plan]:
    plans = [plan_from_dict("recommended", result.plan, _ids(result), result.quarters)]
    plans += [plan_from_dict(b.name, b.plan, _ids(result), result.quarters) for b in result.baselines]
    if result.contingent is not None:
        c = result.contingent
        static = plan_from_dict("contingent", c.plan, _ids(result), result.quarters)
        approved = plan_from_dict("contingent", c.plan_if_approved, _ids(result), result.quarters)
        plans.append(Plan("contingent", static.orders, approved.orders, _ids(result).index(c.signal)))
    return plans


def _ids(result: Optimization) -> list[str]:
    return result.accelerators


def print_robustness(r: Robustness) -> None:
    """Regret and satisficing per plan, and the failure boxes of the recommended plan."""
    cur = r.currency
    table = Table(title=f"Plans over {r.experiments:,} experiments ({r.paths_per_experiment} paths each)")
    for header in ("plan", "max regret", "P90 regret", "mean regret", "satisficing"):
        table.add_column(header, justify="left" if header == "plan" else "right")
    for p in r.plans:
        table.add_row(
            p.name,
            _money(p.max_regret, cur),
            _money(p.p90_regret, cur),
            _money(p.mean_regret, cur),
            f"{p.satisficing_share:.0%}",
        )
    console.print(table)
    console.print(r.fails_when)
    for p in r.plans:
        for i, box in enumerate(p.prim_boxes, start=1):
            limits = (
                ", ".join(f"{k} in [{lo:.3g}, {hi:.3g}]" for k, (lo, hi) in box.limits.items())
                or "anywhere in the ranges"
            )
            console.print(
                f"  {p.name} box {i}: {limits} (coverage {box.coverage:.0%}, "
                f"density {box.density:.0%}, mass {box.mass:.0%})"
            )


def sensitivity_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file or built-in name.")] = DEFAULT_SCENARIO,
    paths: Paths = DEFAULT_PATHS,
    seed: Seed = 0,
    sobol: Annotated[
        int,
        typer.Option(help="Base samples for Sobol' indices (a power of two, e.g. 64; 0 for none)."),
    ] = 0,
    executor: Annotated[str, typer.Option(help="local or dask (for the Sobol' evaluations).")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """Tornado: how P(meet target) and expected cost of the recommended plan move with each assumption.

    With --sobol N, also first-order and total Sobol' indices (Saltelli sampling, SALib) from
    N x (uncertainties + 2) evaluations.
    """
    result = _optimize(scenario, paths, seed, None, catalog, quiet=json)
    plan = plan_from_dict("recommended", result.plan, _ids(result), result.quarters)
    compiler = ScenarioCompiler(load_catalog(catalog or []))
    loaded = load_scenario(scenario)
    tornado = sensitivity(loaded, plan, seed=seed, compiler=compiler)
    indices = None
    if sobol:
        runner = make_executor(executor, scheduler)
        try:
            with Progress(console=err_console, transient=True, disable=json) as bar:
                task = bar.add_task("Sobol' evaluations", total=sobol * (len(loaded.uncertainties) + 2))
                indices = sobol_indices(
                    loaded,
                    plan,
                    base_samples=sobol,
                    seed=seed,
                    compiler=compiler,
                    executor=runner,
                    progress=lambda n: bar.advance(task, n),
                )
        finally:
            runner.close()
    if json:
        print_json({"tornado": tornado, "sobol": indices})
        return
    print_sensitivity(tornado)
    if indices is not None:
        print_sobol(indices)


def print_sobol(s: SobolIndices) -> None:
    """First-order and total indices per uncertainty and output."""
    table = Table(
        title=f"Sobol' indices of the {s.plan} plan ({s.evaluations:,} evaluations, {s.paths} paths)"
    )
    table.add_column("assumption")
    for output in s.outputs:
        table.add_column(f"{output} S1", justify="right")
        table.add_column(f"{output} ST", justify="right")
    names = [i.name for i in next(iter(s.outputs.values()))]
    for k, name in enumerate(names):
        cells = []
        for indices in s.outputs.values():
            cells += [
                f"{indices[k].first_order:.2f} ± {indices[k].first_order_conf:.2f}",
                f"{indices[k].total_order:.2f} ± {indices[k].total_order_conf:.2f}",
            ]
        table.add_row(name, *cells)
    console.print(table)


def print_sensitivity(s: Sensitivity) -> None:
    """The tornado as a table, largest swing first."""
    cur = s.currency
    table = Table(
        title=f"Sensitivity of the {s.plan} plan: nominal P(meet) {s.p_meet_nominal:.0%}, "
        f"E(cost) {_money(s.expected_cost_nominal, cur)}"
    )
    for header in ("assumption", "low", "high", "P(meet) low", "P(meet) high", "E(cost) low", "E(cost) high"):
        table.add_column(header, justify="left" if header == "assumption" else "right")
    for e in s.effects:
        table.add_row(
            e.name,
            f"{e.low:g}",
            f"{e.high:g}",
            f"{e.p_meet_low:.0%}",
            f"{e.p_meet_high:.0%}",
            _money(e.expected_cost_low, cur),
            _money(e.expected_cost_high, cur),
        )
    console.print(table)
