"""``suanli scenario`` (schema, check, new, list) and ``suanli simulate``."""

from __future__ import annotations

import json
import os
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from suanli.analysis import DEFAULT_PATHS, SimulationReport, simulate_scenario
from suanli.catalog import load_catalog
from suanli.cli.dating import print_dating, supply_reasons
from suanli.cli.options import CatalogFiles, Json
from suanli.cli.output import console, err_console, print_json
from suanli.economics.order import summarize_order
from suanli.errors import InputFileError
from suanli.scenario import DEFAULT_SCENARIO, Scenario, builtin_scenarios, load_scenario
from suanli.scenario.dated import excluded_after, later_used, stale_acknowledgements
from suanli.supply.executors import make_executor

scenario_app = typer.Typer(help="Scenario files: JSON Schema, validation, a starting file.")


@scenario_app.command("schema")
def scenario_schema() -> None:
    """Print the scenario file's JSON Schema (for editor completion)."""
    print(json.dumps(Scenario.model_json_schema(), indent=2))


@scenario_app.command("list")
def scenario_list(json: Json = False) -> None:
    """List the built-in scenarios."""
    rows = [
        {"id": name, "title": load_scenario(name).title, "as_of": load_scenario(name).as_of}
        for name in builtin_scenarios()
    ]
    if json:
        print_json(rows)
        return
    for row in rows:
        console.print(f"{row['id']:<28} as of {row['as_of']}  {row['title']}")


@scenario_app.command("check")
def scenario_check(
    scenario: Annotated[str, typer.Argument(help="Scenario file or built-in name.")],
    json: Json = False,
) -> None:
    """Validate a scenario (file:line:field on errors) and run its consistency checks."""
    loaded = load_scenario(scenario)
    warnings = [] if loaded.order is None else summarize_order(loaded.order).warnings
    catalog = load_catalog()
    excluded, used = excluded_after(loaded, catalog), later_used(loaded, catalog)
    if json:
        print_json(
            {
                "id": loaded.id,
                "valid": True,
                "warnings": warnings,
                "excluded_after_as_of": [e.model_dump() for e in excluded],
                "used_after_as_of": [e.model_dump() for e in used],
            }
        )
        return
    console.print(
        f"[green]ok[/] {scenario}: scenario {loaded.id!r}, {len(loaded.candidates)} candidates, "
        f"{len(loaded.observations)} observations"
    )
    print_dating(loaded.as_of, excluded, used, detail=True)
    for record in stale_acknowledgements(loaded, catalog):
        err_console.print(f"[yellow]warning:[/] later_evidence names {record}, not dated after as_of")
    for warning in warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")


@scenario_app.command("new")
def scenario_new(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")] = Path("scenario.yaml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starting scenario file."""
    if output.exists() and not force:
        raise InputFileError("already exists (use --force to overwrite)", file=output)
    text = files("suanli.scenario").joinpath("template.yaml").read_text(encoding="utf-8")
    directory = output.parent if str(output.parent) else Path()
    # Write beside the target and rename, so a failure never leaves half a file.
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".suanli-", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    console.print(f"wrote {output}; check it with: suanli scenario check {output}")


def simulate_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file or built-in name.")] = DEFAULT_SCENARIO,
    paths: Annotated[int, typer.Option(help="Monte Carlo paths.")] = DEFAULT_PATHS,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same numbers.")] = 0,
    executor: Annotated[str, typer.Option(help="local (this machine) or dask.")] = "local",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (default: a local cluster).")
    ] = None,
    chunk_paths: Annotated[int, typer.Option(help="Paths per work unit.")] = 65_536,
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """Simulate supply quarter by quarter: deliveries, useful compute, target odds, tail risk, cost."""
    loaded = load_scenario(scenario)
    runner = make_executor(executor, scheduler)
    total = paths * (2 if loaded.extends and loaded.observations else 1)
    try:
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} paths"),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
            disable=json,
        ) as bar:
            task = bar.add_task("paths", total=total)
            report = simulate_scenario(
                loaded,
                paths=paths,
                seed=seed,
                executor=runner,
                chunk_paths=chunk_paths,
                catalog=load_catalog(catalog or []),
                progress=lambda n: bar.advance(task, n),
            )
    finally:
        runner.close()
    if json:
        print_json(
            {
                **report.result.model_dump(mode="json"),
                "hindsight": None if report.hindsight is None else report.hindsight.model_dump(mode="json"),
            }
        )
        return
    _print_report(report)


def _k(units: float) -> str:
    return f"{units / 1e3:,.0f}k" if units >= 1e3 else f"{units:,.0f}"


def _print_report(report: SimulationReport) -> None:
    r = report.result
    kept = "" if r.p_observed is None else f", {r.paths_kept:,} consistent with the observations"
    table = Table(
        title=f"{r.scenario}: {r.paths:,} paths{kept}, seed {r.seed} — chips installed P50 [P5–P95]"
    )
    table.add_column("quarter")
    for acc in r.accelerators:
        table.add_column(acc, justify="right")
    unit = f"M {r.compute_unit}"
    table.add_column(f"compute P50 [P5–P95], {unit}", justify="right")
    table.add_column(f"target, {unit}", justify="right")
    table.add_column("P(meet)", justify="right")
    table.add_column(f"worst 5 %, {unit}", justify="right")
    for t, quarter in enumerate(r.quarters):
        cells = [
            f"{_k(r.delivered[a].p50[t])} [{_k(r.delivered[a].p5[t])}–{_k(r.delivered[a].p95[t])}]"
            for a in r.accelerators
        ]
        compute = (
            f"{r.compute.p50[t] / 1e6:,.1f} [{r.compute.p5[t] / 1e6:,.1f}–{r.compute.p95[t] / 1e6:,.1f}]"
        )
        has_target = r.target[t] > 0
        table.add_row(
            quarter,
            *cells,
            compute,
            f"{r.target[t] / 1e6:,.1f}" if has_target else "-",
            f"{r.p_meet_target[t]:.0%}" if has_target else "-",
            f"{r.capacity_at_risk[t] / 1e6:,.1f}",
        )
    console.print(table)
    symbol = "¥" if r.currency == "CNY" else "$"
    c = r.cost
    console.print(
        f"spend over the horizon: P50 {symbol}{c['p50'] / 1e9:,.2f} B (P5 {symbol}{c['p5'] / 1e9:,.2f} B – "
        f"P95 {symbol}{c['p95'] / 1e9:,.2f} B); prepayments lost on undelivered orders, mean "
        f"{symbol}{c['stranded_prepayment_mean'] / 1e9:,.2f} B"
    )
    reasons = supply_reasons(r.p_miss_for_supply)
    if reasons:
        console.print(reasons)
    console.print(
        f"[dim]{r.paths_per_s:,.0f} paths/s, {r.path_quarter_accelerators_per_s / 1e6:,.1f} M "
        f"path-quarter-accelerators/s on the {r.executor} executor[/]"
    )
    h = report.hindsight
    if h is None:
        return
    console.print(
        f"\n[bold]Hindsight against {h.base} (as of {h.base_as_of})[/]: the base's priors gave "
        f"[bold]{h.p_observed_under_base:.1%}[/] to what was observed since:"
    )
    for line in h.observations:
        console.print(f"  - {line}")
    diff = Table(title="How the picture changed")
    diff.add_column("quarter")
    diff.add_column("P(meet) then", justify="right")
    diff.add_column("P(meet) now", justify="right")
    diff.add_column(f"compute P50 then, M {r.compute_unit}", justify="right")
    diff.add_column(f"compute P50 now, M {r.compute_unit}", justify="right")
    for t, quarter in enumerate(r.quarters):
        has_target = r.target[t] > 0
        diff.add_row(
            quarter,
            f"{h.p_meet_target_base[t]:.0%}" if has_target else "-",
            f"{h.p_meet_target_now[t]:.0%}" if has_target else "-",
            f"{h.compute_p50_base[t] / 1e6:,.1f}",
            f"{h.compute_p50_now[t] / 1e6:,.1f}",
        )
    console.print(diff)
