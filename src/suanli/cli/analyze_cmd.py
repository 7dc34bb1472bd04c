"""``suanli analyze``: the whole question on one scenario, in one command."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from suanli.analysis import DEFAULT_PATHS, Analysis, analyze_scenario
from suanli.catalog import load_catalog
from suanli.cli.dating import print_dating, supply_reasons
from suanli.cli.decide_cmd import print_optimization
from suanli.cli.options import CatalogFiles, Json
from suanli.cli.output import console, err_console, print_json
from suanli.decide.optimize import DEFAULT_PATHS as OPTIMIZE_PATHS
from suanli.decide.optimize import Optimization
from suanli.scenario import DEFAULT_SCENARIO, load_scenario
from suanli.supply.executors import make_executor


def analyze_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file or built-in name.")] = DEFAULT_SCENARIO,
    paths: Annotated[int, typer.Option(help="Monte Carlo paths per plan variant.")] = DEFAULT_PATHS,
    optimize_paths: Annotated[
        int, typer.Option(help="Sample paths the optimiser solves over.")
    ] = OPTIMIZE_PATHS,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    executor: Annotated[str, typer.Option(help="local or dask.")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """Order checks, each candidate's useful work, cost and sovereignty, and how the plan fares.

    The plan is simulated as written, without its imported chips and without its domestic
    ones, so the value of each part under supply risk shows side by side.
    """
    runner = make_executor(executor, scheduler)
    try:
        result = analyze_scenario(
            load_scenario(scenario),
            paths=paths,
            seed=seed,
            executor=runner,
            catalog=load_catalog(catalog or []),
            optimize_paths=optimize_paths,
        )
    finally:
        runner.close()
    if json:
        print_json(result)
        return
    _print(result)


def _lead(r: Optimization) -> None:
    """The recommendation in words: which plan, why, and when waiting stops paying."""
    static, cur = r.result.outcome, r.currency
    beaten = [b.name for b in r.baselines if r.result.name in b.dominated_by]
    c = r.contingent
    if r.recommended == "contingent" and c is not None:
        first = (
            f"[bold]Recommendation:[/] the contingent plan below: order the first book now and the "
            f"second only once the {c.signal} licence is known; it beats the best static plan by "
            f"{c.value_of_flexibility / 1e9:,.2f} B {cur} (± {c.value_of_flexibility_se / 1e9:,.2f}) on the "
            f"same paths, and an approval after {c.last_quarter_approval_matters or 'the first quarter'} "
            "no longer changes what to buy."
        )
    else:
        first = "[bold]Recommendation:[/] the static plan below."
    console.print(first)
    names = {b.name for b in r.baselines}
    over = [n for n in r.result.dominated_by if n in names]
    console.print(
        f"The static plan: expected all-in cost {static.expected_cost / 1e9:,.2f} B {cur}, "
        f"CVaR{r.tail:.0%} of shortfall {static.cvar_shortfall:.2f} target-quarters, P(meet target) >= "
        f"{static.p_meet_required_min:.0%} from {r.p_meet_from}; it dominates "
        f"{', '.join(beaten) or 'no baseline'}, and "
        + (f"{', '.join(over)} dominate it." if over else "no baseline dominates it.")
    )


def _print(a: Analysis) -> None:
    symbol = "¥" if a.currency == "CNY" else "$"
    console.print(f"[bold]{a.title}[/] ({a.scenario}, as of {a.as_of})")
    print_dating(a.as_of, a.excluded_after_as_of, a.used_after_as_of)
    for warning in a.order_warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    if a.recommendation is not None:
        _lead(a.recommendation)
        print_optimization(a.recommendation)
    if a.recommendation_error is not None:
        err_console.print(f"[yellow]no recommendation:[/] {a.recommendation_error}")
    cands = Table(title="Candidates: useful work (Llama-3-70B-class training tokens/s per chip) and price")
    for header in (
        "accelerator",
        "tokens/s per chip",
        "perf σ (log)",
        "price",
        "price per token/s",
        "sovereignty score",
    ):
        cands.add_column(header, justify="left" if header == "accelerator" else "right")
    for c in a.candidates:
        cands.add_row(
            c.accelerator,
            f"{c.tokens_per_s_per_chip:,.0f}",
            f"{c.perf_sigma_log:.2f}",
            f"{symbol}{c.price:,.0f}",
            "-" if c.price_per_unit_work is None else f"{symbol}{c.price_per_unit_work:,.0f}",
            "-" if c.sovereignty_score is None else f"{c.sovereignty_score:.2f}",
        )
    console.print(cands)
    shown = [i for i, q in enumerate(a.quarters) if a.target_from is None or q >= a.target_from][:6]
    plans = Table(
        title=f"Plans under supply risk ({a.paths:,} paths each): P(useful compute >= target of "
        f"{a.target_tokens_per_s / 1e6:,.1f} M tokens/s)"
    )
    plans.add_column("plan")
    for i in shown:
        plans.add_column(a.quarters[i], justify="right")
    plans.add_column("spend P50 / P95", justify="right")
    plans.add_column("P(within budget)", justify="right")
    plans.add_column("prepaid, lost (mean)", justify="right")
    for p in a.plans:
        plans.add_row(
            p.name,
            *(f"{p.p_meet_target[i]:.0%}" for i in shown),
            f"{symbol}{p.spend_p50 / 1e9:,.1f} B / {symbol}{p.spend_p95 / 1e9:,.1f} B",
            "-" if p.within_budget is None else f"{p.within_budget:.0%}",
            f"{symbol}{p.stranded_prepayment_mean / 1e9:,.2f} B",
        )
    console.print(plans)
    for p in a.plans:
        reasons = supply_reasons(p.p_miss_for_supply)
        if reasons:
            console.print(f"{p.name}: {reasons}")
    h = a.hindsight
    if h is not None:
        console.print(
            f"hindsight: {h.base} (as of {h.base_as_of}) gave {h.p_observed_under_base:.1%} "
            f"to what was observed since ({'; '.join(h.observations)})"
        )
