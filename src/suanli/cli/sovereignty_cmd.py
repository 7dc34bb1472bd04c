"""``suanli sovereignty``: the licence and sovereignty register beside cost and performance."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from suanli.cli.options import Json
from suanli.cli.output import console, number, print_json
from suanli.errors import InputValueError
from suanli.scenario import DEFAULT_SCENARIO, load_scenario
from suanli.sovereignty.assess import (
    CandidateSovereignty,
    CriterionView,
    SovereigntyReport,
    sovereignty_report,
)
from suanli.sovereignty.register import MODES, Mode, parse_date


def parse_modes(text: str) -> tuple[Mode, ...]:
    """``--mode`` as the modes to show: one of :data:`MODES`, or ``all``."""
    if text == "all":
        return MODES
    for mode in MODES:
        if text == mode:
            return (mode,)
    raise InputValueError(f"must be one of {', '.join(MODES)}, all (got {text!r})", field="--mode")


def sovereignty_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file or built-in name.")] = DEFAULT_SCENARIO,
    mode: Annotated[
        str, typer.Option(help="Deployment mode: own_dc, domestic_cloud, foreign_cloud or all.")
    ] = "own_dc",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATE",
            help="View date YYYY[-MM[-DD]] instead of the scenario's as_of (later items are left out).",
        ),
    ] = None,
    json: Json = False,
) -> None:
    """Each candidate's sovereignty scores, and the dated register items behind them.

    Shown beside the chip price and the useful work per chip, never folded into them. A
    score is the product of (1 - penalty) over the register items that apply; the
    weighted column applies the scenario's weights and is labelled as such.
    """
    modes = parse_modes(mode)
    date = None if as_of is None else parse_date(as_of)
    report = sovereignty_report(load_scenario(scenario), modes, as_of=date)
    if json:
        print_json(report)
        return
    _print(report)


def _cell(view: CriterionView) -> str:
    if view.score is None:
        return "[dim]no item[/]"
    text = f"{view.score:.2f}"
    if view.basis == "override":
        derived = "-" if view.derived is None else f"{view.derived:.2f}"
        text += f" set\n[dim](register {derived})[/]"
    elif view.unknowns:
        text += f"\n[dim]({view.unknowns} unknown)[/]"
    return text


def _header(criterion: str, weights: dict[str, float] | None) -> str:
    weight = None if weights is None else weights.get(criterion)
    return criterion.replace("_", " ") + ("\n(no weight)" if weight is None else f"\n(weight {weight:g})")


def _price(c: CandidateSovereignty, currency: str) -> str:
    if c.price_per_chip is None:
        return "[dim]unknown[/]"
    return f"{'¥' if currency == 'CNY' else '$'}{c.price_per_chip:,.0f}"


def _print(report: SovereigntyReport) -> None:
    console.print(f"[bold]{escape(report.title)}[/] ({report.scenario}, as of {report.as_of})")
    names = [v.criterion for v in report.candidates[0].criteria]
    for mode in report.modes:
        rows = [c for c in report.candidates if c.mode == mode]
        table = Table(title=f"Sovereignty beside cost and performance — mode {mode}")
        table.add_column("accelerator")
        table.add_column(f"price per chip\n({report.currency})", justify="right")
        table.add_column("useful work\n(tokens/s per chip)", justify="right")
        for name in names:
            table.add_column(_header(name, report.weights), justify="right")
        table.add_column("weighted\n(scenario weights)", justify="right")
        table.add_column("later\nitems", justify="right")
        for c in rows:
            table.add_row(
                c.accelerator,
                _price(c, report.currency),
                number(c.work_per_chip, 0) if c.work_per_chip is not None else "[dim]unknown[/]",
                *(_cell(v) for v in c.criteria),
                "-" if c.weighted_score is None else f"{c.weighted_score:.2f}",
                str(c.later_items),
            )
        console.print(table)
        _print_items(rows)
    _print_notes(report)


def _print_items(rows: list[CandidateSovereignty]) -> None:
    table = Table(title="Register items behind the scores", show_lines=False)
    table.add_column("accelerator / criterion", overflow="fold")
    table.add_column("item (effect)", overflow="fold")
    table.add_column("finding", overflow="fold", ratio=3)
    table.add_column("source (date, confidence)", overflow="fold", ratio=2)
    for c in rows:
        table.add_section()
        for view in c.criteria:
            if not view.items:
                table.add_row(
                    f"{c.accelerator} / {view.criterion}", "[dim]none[/]", "[dim]no register item[/]", ""
                )
            for item in view.items:
                table.add_row(
                    f"{c.accelerator} / {view.criterion}",
                    f"{item.id} ({item.severity}" + (f", -{item.penalty:g})" if item.penalty else ")"),
                    escape(item.finding),
                    f"{escape(item.source)} ({item.date}, {item.confidence})",
                )
    console.print(table)


def _print_notes(report: SovereigntyReport) -> None:
    reasons = sorted({v.reason for c in report.candidates for v in c.criteria if v.reason})
    for reason in reasons:
        console.print(f"[dim]set = a score the scenario sets by hand: {escape(reason)}[/]")
    missing = sorted(
        {
            f"{c.accelerator}: {note}"
            for c in report.candidates
            for note in (c.price_note, c.work_note)
            if note
        }
    )
    for line in missing:
        console.print(f"[dim]{escape(line)}[/]")
    console.print(
        f"[dim]Scoring rule: {report.scoring_rule}. Useful work = {escape(report.work_unit)}. "
        f"Later, not known on {report.as_of}: {report.later_items} register item(s) about these "
        "candidates, not shown.[/]"
    )
