"""``suanli validate``: the performance model against published measurements."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from suanli.cli.options import Json
from suanli.cli.output import console, print_json
from suanli.perf import validate_measurements
from suanli.perf.validation import GroupError, ValidationReport

#: The accuracy targets of the validate split (issue 10), as absolute MAPE.
TARGETS = {
    "all": 0.12,
    "nvidia-dense-inference": 0.10,
    "moe": 0.20,
    "chinese-accelerators": 0.20,
    "training-1000-chips-plus": 0.10,
}


def _percent(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def _headline(groups: list[GroupError]) -> Table:
    table = Table(title="Validate split: error by group (sources the fit never saw)")
    for header in ("group", "points", "MAPE", "mean signed error", "target"):
        table.add_column(header, justify="left" if header == "group" else "right")
    for g in groups:
        target = TARGETS.get(g.group)
        table.add_row(
            g.group,
            str(g.points),
            _percent(g.mape),
            _percent(g.bias, signed=True),
            "" if target is None else f"<= {target:.0%}",
        )
    return table


def _print(report: ValidationReport, split: str) -> None:
    table = Table(title="Published measurements against the model")
    for header in ("id", "chip", "split", "metric", "measured", "predicted", "error", "P10–P90"):
        table.add_column(header, justify="right" if header in ("measured", "predicted", "error") else "left")
    for row in report.rows:
        if split not in {"all", row.split}:
            continue
        predicted = "-" if row.predicted is None else f"{row.predicted:,.4g}"
        error = "-" if row.error is None else f"{row.error:+.0%}"
        band = "" if row.p10 is None or row.p90 is None else f"{row.p10:,.3g}–{row.p90:,.3g}"
        table.add_row(
            row.id, row.accelerator, row.split, row.metric, f"{row.measured:,.4g}", predicted, error, band
        )
    console.print(table)
    console.print(_headline(report.headline))
    worst = Table(title="Ten worst validate points")
    for header in ("id", "error", "source table"):
        worst.add_column(header, justify="right" if header == "error" else "left")
    for row in report.worst:
        worst.add_row(row.id, _percent(row.error, signed=True), row.table)
    console.print(worst)
    coverage = report.interval_coverage
    console.print(
        f"validate split MAPE {_percent(report.overall_validate_mape)} "
        f"(all points {_percent(report.overall_all_mape)}); {report.predicted} predicted, "
        f"{report.skipped} not predictable; P10-P90 holds {_percent(coverage)} of validate "
        f"measurements ({_percent(report.interval_coverage_loo)} leave-one-out; target 80 %)"
    )
    for row in report.rows:
        if row.error is None:
            console.print(f"  [dim]{row.id}: {row.note}[/]")


def validate_command(
    split: Annotated[str, typer.Option(help="Rows to show: validate, calibrate or all.")] = "all",
    json: Json = False,
) -> None:
    """Predict every bundled published measurement; report MAPE and bias per group."""
    if split not in {"all", "validate", "calibrate"}:
        raise typer.BadParameter(f"must be all, validate or calibrate (got {split!r})", param_hint="--split")
    report = validate_measurements()
    if json:
        print_json(report)
        return
    _print(report, split)
