"""``suanli compare``: fleets, power and cost of accelerators on a workload, and substitution."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from suanli.catalog import load_catalog
from suanli.cli.options import CatalogFiles, Json
from suanli.cli.output import console, number, print_json
from suanli.economics.compare import Comparison, compare
from suanli.economics.workload import load_workload
from suanli.errors import InputValueError
from suanli.scenario import DEFAULT_SCENARIO, load_scenario


def parse_reference(text: str | None) -> tuple[str, int] | None:
    """``"h200-sxm:80000"`` as ``("h200-sxm", 80000)``."""
    if text is None:
        return None
    accelerator, _, count = text.partition(":")
    try:
        chips = int(count.replace(",", "").replace("_", ""))
    except ValueError:
        chips = 0
    if not accelerator or chips < 1:
        raise InputValueError(
            f"expected ACCELERATOR:CHIPS such as h200-sxm:80000 (got {text!r})", field="--reference"
        )
    return accelerator, chips


def compare_command(
    workload: Annotated[str, typer.Option(help="Workload preset or YAML file.")] = "train-llama3-70b",
    accelerators: Annotated[
        str | None,
        typer.Option(help="Comma-separated accelerator ids (default: every chip the model can predict)."),
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="Reference fleet ACCELERATOR:CHIPS, e.g. h200-sxm:80000.")
    ] = None,
    scenario: Annotated[
        str, typer.Option(help="Scenario whose economics section sets the cost inputs.")
    ] = DEFAULT_SCENARIO,
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """Chips, servers, MW, capex, TCO and unit costs of each accelerator on a workload."""
    cat = load_catalog(catalog or [])
    work = load_workload(workload)
    inputs = load_scenario(scenario).cost_inputs()
    ref = parse_reference(reference)
    if accelerators:
        ids = [a.strip() for a in accelerators.split(",") if a.strip()]
    else:
        ids = sorted(cat.accelerators, key=lambda a: (cat.accelerators[a].country != "US", a))
    result = compare(work, ids, cat, inputs, ref)
    if json:
        print_json(result)
        return
    _print(result, work.title)


def _money(value: float | None, currency: str) -> str:
    if value is None:
        return "-"
    symbol = "¥" if currency == "CNY" else "$"
    if value >= 1e9:
        return f"{symbol}{value / 1e9:,.2f} B"
    if value >= 1e6:
        return f"{symbol}{value / 1e6:,.1f} M"
    return f"{symbol}{value:,.2f}"


def _span(bounds: tuple[float, float] | None, currency: str) -> str:
    if bounds is None:
        return ""
    return f"\n({_money(bounds[0], currency)}–{_money(bounds[1], currency)})"


def _print(result: Comparison, title: str) -> None:
    ref = result.reference
    heading = f"{title} — reference: {ref['chips']:,} x {ref['accelerator']}" if ref["chips"] else title
    table = Table(title=heading)
    for header in (
        "accelerator",
        "chips (P90–P10 perf)",
        "servers",
        "IT MW",
        "capex",
        "TCO (P90–P10 perf)",
        "unit cost",
        "x ref chips",
        "x ref TCO",
    ):
        table.add_column(header, justify="left" if header == "accelerator" else "right")
    currency = result.currency
    for acc_id, r in result.accelerators.items():
        if not r.available:
            table.add_row(acc_id, f"[dim]{r.reason}[/]", "", "", "", "", "", "", "")
            continue
        low, high = r.chips_range or (r.chips, r.chips)
        unit = "-"
        if r.cost_per_million_tokens is not None:
            unit = f"{_money(r.cost_per_million_tokens, currency)}/M tok"
        elif r.cost_per_run is not None:
            unit = f"{_money(r.cost_per_run, currency)}/run"
        missing = f" [dim](no {', '.join(r.missing)})[/]" if r.missing else ""
        table.add_row(
            acc_id + missing,
            f"{r.chips:,} ({low:,}–{high:,})",
            f"{r.servers:,}",
            number(r.it_power_mw, 1),
            _money(r.capex, currency),
            _money(r.tco, currency) + _span(r.tco_range, currency),
            unit,
            "-" if r.equivalent_to_reference is None else f"{r.equivalent_to_reference:.2f}",
            "-" if r.tco_to_reference is None else f"{r.tco_to_reference:.2f}",
        )
    console.print(table)
    inputs = result.inputs
    months = ", ".join(f"{k} {v:g}" for k, v in inputs.migration_engineer_months.items())
    console.print(
        f"[dim]{inputs.horizon_years:g}-year horizon, electricity {inputs.electricity_per_kwh:.2f} "
        f"{currency}/kWh, PUE {inputs.pue:g}, FX {inputs.cny_per_usd:g} CNY/USD, import duty "
        f"{inputs.import_duty_share:.0%} on imported chips; migration engineer-months: {months}[/]"
    )
