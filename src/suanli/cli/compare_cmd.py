"""``suanli compare``: fleets, power and cost of accelerators on a workload, and substitution."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from suanli.catalog import load_catalog
from suanli.cli.catalog_cmd import CONFIDENCE_MARK
from suanli.cli.options import CatalogFiles, Json
from suanli.cli.output import console, number, print_json
from suanli.economics.compare import AcceleratorResult, Comparison, compare
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


def parse_systems(texts: list[str] | None) -> dict[str, str]:
    """``["ascend-910c=atlas-800-a3"]`` as ``{"ascend-910c": "atlas-800-a3"}``."""
    chosen: dict[str, str] = {}
    for text in texts or []:
        accelerator, _, system = text.partition("=")
        if not accelerator.strip() or not system.strip():
            raise InputValueError(
                f"expected ACCELERATOR=SYSTEM such as ascend-910c=atlas-800-a3 (got {text!r})",
                field="--system",
            )
        chosen[accelerator.strip()] = system.strip()
    return chosen


def compare_command(
    workload: Annotated[str, typer.Option(help="Workload preset or YAML file.")] = "train-llama3-70b",
    accelerators: Annotated[
        str | None,
        typer.Option(help="Comma-separated accelerator ids (default: every chip the model can predict)."),
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="Reference fleet ACCELERATOR:CHIPS, e.g. h200-sxm:80000.")
    ] = None,
    system: Annotated[
        list[str] | None,
        typer.Option(
            "--system",
            help="Deploy ACCELERATOR in SYSTEM, e.g. ascend-910c=atlas-800-a3 (repeatable; "
            "default: each accelerator's default system, see `suanli catalog systems`).",
        ),
    ] = None,
    utilisation: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            max=1.0,
            help="Share of serving capacity that does work, for cost per token (default: the "
            "scenario's load_factor if set, else 0.5).",
        ),
    ] = None,
    scenario: Annotated[
        str, typer.Option(help="Scenario whose economics section sets the cost inputs.")
    ] = DEFAULT_SCENARIO,
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """Chips, systems, MW, capex, TCO, unit costs and implied MFU of each accelerator on a workload."""
    cat = load_catalog(catalog or [])
    work = load_workload(workload)
    inputs = load_scenario(scenario).cost_inputs()
    ref = parse_reference(reference)
    systems = parse_systems(system)
    if accelerators:
        ids = [a.strip() for a in accelerators.split(",") if a.strip()]
    else:
        ids = sorted(cat.accelerators, key=lambda a: (cat.accelerators[a].country != "US", a))
    result = compare(work, ids, cat, inputs, ref, systems=systems, utilisation=utilisation)
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


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _mfu(result: AcceleratorResult) -> str:
    if result.mfu is None:
        return "-"
    published = result.mfu_published
    if published is None:
        return f"{_percent(result.mfu)}\n[dim](none published)[/]"
    span = (
        _percent(published.low)
        if published.low == published.high
        else (f"{published.low:.0%}–{published.high:.0%}")
    )
    mark = CONFIDENCE_MARK[published.confidence]
    return f"{_percent(result.mfu)}\n[dim](pub. {span}{mark})[/]"


def _print(result: Comparison, title: str) -> None:
    ref = result.reference
    heading = title
    if ref["chips"]:
        heading = f"{title} — reference: {ref['chips']:,} x {ref['accelerator']} in {ref['system']}"
    table = Table(title=heading)
    for header in (
        "accelerator\nsystem",
        "chips\n(P90–P10 perf)",
        "systems",
        "IT MW",
        "capex",
        "TCO\n(P90–P10 perf)",
        "unit cost",
        "MFU\n(published)",
        "x ref\nchips / TCO",
    ):
        if header.startswith("accelerator"):
            table.add_column(header, overflow="fold", min_width=21)
        else:
            table.add_column(header, justify="right")
    currency = result.currency
    for acc_id, r in result.accelerators.items():
        name = acc_id if r.system is None else f"{acc_id}\n[dim]{r.system}[/]"
        if not r.available:
            table.add_row(name, f"[dim]{r.reason}[/]", "", "", "", "", "", "", "")
            continue
        low, high = r.chips_range or (r.chips, r.chips)
        unit = "-"
        if r.cost_per_million_tokens is not None:
            unit = f"{_money(r.cost_per_million_tokens, currency)}/M tok"
        elif r.cost_per_run is not None:
            unit = f"{_money(r.cost_per_run, currency)}/run"
        missing = f" [dim](no {', '.join(r.missing)})[/]" if r.missing else ""
        table.add_row(
            name + missing,
            f"{r.chips:,} ({low:,}–{high:,})",
            f"{r.systems:,} x {r.system_chips}",
            number(r.it_power_mw, 1),
            _money(r.capex, currency),
            _money(r.tco, currency) + _span(r.tco_range, currency),
            unit,
            _mfu(r),
            _ratio(r.equivalent_to_reference) + " / " + _ratio(r.tco_to_reference),
        )
    console.print(table)
    inputs = result.inputs
    months = ", ".join(f"{k} {v:g}" for k, v in inputs.migration_engineer_months.items())
    console.print(
        f"[dim]{inputs.horizon_years:g}-year horizon, electricity {inputs.electricity_per_kwh:.2f} "
        f"{currency}/kWh, PUE {inputs.pue:g}, FX {inputs.cny_per_usd:g} CNY/USD, import duty "
        f"{inputs.import_duty_share:.0%} on imported chips; migration engineer-months: {months}. "
        f"Cost per M tokens counts input and output tokens at {result.utilisation:.0%} serving "
        "utilisation (--utilisation). MFU = model FLOPs the fleet delivers / (all its chips x dense "
        "peak); pub. = the largest published run on that kind of system (`suanli catalog show SYSTEM`; "
        "ᵖ primary, ˢ secondary, ᵈ derived, ᵃ assumption). Systems: `suanli catalog systems`; "
        "choose with --system ACCELERATOR=SYSTEM.[/]"
    )
