"""``suanli catalog`` and ``suanli models``: list, show and check catalog records (accelerators, systems)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from suanli.catalog import LLM, SPEC_FIELDS, Accelerator, Catalog, Figure, System, derive, load_catalog
from suanli.catalog.audit import FINDING_KINDS, Finding, SourcedFigure, audit, counts, sourced_figures
from suanli.cli.options import CatalogFiles, Json
from suanli.cli.output import console, number, print_json
from suanli.economics.costs import cost_defaults

catalog_app = typer.Typer(
    help="Accelerators and the systems they are deployed in: specs with provenance, prices, export status."
)
models_app = typer.Typer(help="LLM architectures and their parameter counts.")

AsOf = Annotated[
    str | None,
    typer.Option("--as-of", metavar="DATE", help="Also list figures dated after DATE (YYYY[-MM[-DD]])."),
]


#: Marks a figure's confidence in tables: vendor figures stand bare.
CONFIDENCE_MARK = {"vendor": "", "primary": "ᵖ", "secondary": "ˢ", "derived": "ᵈ", "assumption": "ᵃ"}


def _catalog(files: list[Path] | None) -> Catalog:
    return load_catalog(files or [])


def accelerator_record(accelerator: Accelerator) -> dict[str, object]:
    """The accelerator as JSON-ready data, with its derived figures under ``derived``."""
    record = accelerator.model_dump(mode="json")
    record["derived"] = derive(accelerator).model_dump(mode="json")
    return record


def _cell(figure: Figure | None, digits: int = 0) -> str:
    if figure is None:
        return "-"
    low, high = figure.range
    text = number(figure.value, digits)
    if low != high:
        text += f" ({number(low, digits)}-{number(high, digits)})"
    return text + CONFIDENCE_MARK[figure.confidence]


#: Figures of a system record, in the order ``catalog show`` lists them.
SYSTEM_FIGURES = ("scaleup_gb_s", "scaleout_gb_s", "power_kw", "bf16_dense_pflops")


def system_record(system: System, catalog: Catalog) -> dict[str, object]:
    """The system as JSON-ready data, with whether it is its accelerator's default."""
    record = system.model_dump(mode="json")
    record["default_for_accelerator"] = catalog.default_system(system.accelerator).id == system.id
    return record


def _systems_table(cat: Catalog) -> Table:
    table = Table(
        title="Systems (* default for its accelerator; per-chip GB/s per direction; "
        "ᵖ primary, ˢ secondary, ᵈ derived, ᵃ assumption)"
    )
    for header in (
        "id",
        "accelerator",
        "chips",
        "scale-up domain",
        "scale-up GB/s",
        "scale-out GB/s",
        "kW",
        "price",
    ):
        table.add_column(header, justify="left" if header in ("id", "accelerator") else "right")
    for system in sorted(cat.systems.values(), key=lambda s: (s.accelerator, s.id)):
        mark = "*" if cat.default_system(system.accelerator).id == system.id else ""
        price = "-"
        if system.price is not None:
            p = system.price
            price = f"{p.currency} {p.amount / 1e6:,.2f} M" + CONFIDENCE_MARK[p.confidence]
        table.add_row(
            system.id + mark,
            system.accelerator,
            str(system.chips_per_system),
            str(system.domain),
            _cell(system.scaleup_gb_s),
            _cell(system.scaleout_gb_s),
            _cell(system.power_kw, 1),
            price,
        )
    return table


@catalog_app.command("systems")
def catalog_systems(catalog: CatalogFiles = None, json: Json = False) -> None:
    """List the deployable systems (servers, racks, supernodes) fleets are sized in."""
    cat = _catalog(catalog)
    if json:
        print_json([system_record(s, cat) for s in sorted(cat.systems.values(), key=lambda s: s.id)])
        return
    console.print(_systems_table(cat))


@catalog_app.command("list")
def catalog_list(catalog: CatalogFiles = None, json: Json = False) -> None:
    """Compare every accelerator in the catalog, then list the systems they are deployed in."""
    cat = _catalog(catalog)
    accelerators = sorted(cat.accelerators.values(), key=lambda a: (a.country != "US", a.vendor, a.id))
    if json:
        print_json([accelerator_record(a) for a in accelerators])
        return
    table = Table(
        title="Accelerator catalog (dense peaks; ᵖ primary, ˢ secondary, ᵈ derived, ᵃ assumption, - unknown)"
    )
    for header in (
        "id",
        "vendor",
        "BF16 TF",
        "FP8 TF",
        "GB",
        "TB/s",
        "scale-up GB/s",
        "W",
        "ridge F/B",
        "TF/W",
        "price $k",
    ):
        table.add_column(header, justify="left" if header in ("id", "vendor") else "right")
    for a in accelerators:
        d = derive(a)
        bf16 = a.bf16_dense_tflops or a.fp16_dense_tflops
        price = None if d.price_usd is None else d.price_usd / 1000
        table.add_row(
            a.id,
            a.vendor,
            _cell(bf16),
            _cell(a.fp8_dense_tflops),
            _cell(a.memory_gb),
            _cell(a.memory_tb_s, 2),
            _cell(a.scaleup_gb_s),
            _cell(a.tdp_w),
            number(d.ridge_point_flop_per_byte),
            number(d.tflops_per_watt, 2),
            number(price, 1),
        )
    console.print(table)
    console.print(_systems_table(cat))


def _figure_table(record: object, names: Iterable[str]) -> Table:
    """One row per figure of ``record``: value, range, and where it comes from."""
    table = Table(show_lines=False)
    for header in ("field", "value", "range", "confidence", "date", "source"):
        table.add_column(header)
    for name in names:
        figure: Figure | None = getattr(record, name)
        if figure is None:
            table.add_row(name, "unknown", "", "", "", "")
            continue
        low, high = figure.range
        span = "" if low == high else f"{low:g}-{high:g}"
        source = figure.source + (f" [dim]({figure.note})[/]" if figure.note else "")
        table.add_row(name, f"{figure.value:g}", span, figure.confidence, figure.date, source)
    return table


def _show_system(system: System, cat: Catalog, json: bool) -> None:
    if json:
        print_json(system_record(system, cat))
        return
    default = cat.default_system(system.accelerator).id == system.id
    console.print(
        f"[bold]{system.name}[/] ({system.id}) — {system.vendor}, {system.kind}, {system.year or '?'}: "
        f"{system.chips_per_system} x {system.accelerator} in scale-up domains of {system.domain} "
        f"({system.scaleup_link or 'link unnamed'})"
        + (" — default system of its accelerator" if default else "")
    )
    table = _figure_table(system, SYSTEM_FIGURES)
    for name, count in (("chips", system.chips), ("scaleup_domain", system.scaleup_domain)):
        table.add_row(name, str(count.value), "", count.confidence, count.date, count.source)
    console.print(table)
    if system.price is not None:
        p = system.price
        console.print(
            f"price per system {p.currency} {p.amount:,.0f} (range {p.low or p.amount:,.0f}-"
            f"{p.high or p.amount:,.0f}, {p.confidence}, {p.date}): {p.source}"
            + (f" [dim]({p.note})[/]" if p.note else "")
        )
    for mfu in system.published_mfu:
        low, high = mfu.range
        span = f"{low:.0%}" if low == high else f"{low:.0%}-{high:.0%}"
        console.print(
            f"published MFU {span} ({mfu.kind}, {mfu.confidence}, {mfu.date}): {mfu.run} — {mfu.source}"
        )
    if system.notes:
        console.print(f"[dim]{system.notes}[/]")


def _record(cat: Catalog, record_id: str) -> Accelerator | System | LLM:
    """The accelerator, else the system, else the model ``record_id`` (errors name accelerators)."""
    if record_id in cat.systems and record_id not in cat.accelerators:
        return cat.system(record_id)
    if record_id in cat.models and record_id not in cat.accelerators:
        return cat.model(record_id)
    return cat.accelerator(record_id)


def _span(figure: SourcedFigure) -> str:
    value = None if isinstance(figure.value, str) else figure.value
    low = value if figure.low is None else figure.low
    high = value if figure.high is None else figure.high
    return "" if low is None or high is None or low == high else f"{low:g}-{high:g}"


def _show_sources(record: Accelerator | System | LLM, json: bool) -> None:
    figures = sourced_figures(record)
    if json:
        print_json([asdict(f) for f in figures])
        return
    console.print(
        f"[bold]{record.name}[/] ({record.id}): {len(figures)} sourced item{'' if len(figures) == 1 else 's'}"
    )
    table = Table(show_lines=True)
    for header in ("field", "range", "unit", "confidence", "date"):
        if header == "range":
            # An export status is a sentence: the value column wraps it instead of widening.
            table.add_column("value", max_width=32)
        table.add_column(header, no_wrap=True)
    # Sources are shown whole: long URLs fold instead of being cut with an ellipsis.
    table.add_column("source", overflow="fold", ratio=1)
    for f in figures:
        value = f.value if isinstance(f.value, str) else "" if f.value is None else f"{f.value:g}"
        source = (f.source or "") + (f"\n[dim]note: {f.note}[/]" if f.note else "")
        table.add_row(
            f.field,
            value,
            _span(f),
            f.unit or "",
            f.confidence or "",
            f.date or "",
            source,
            end_section=False,
        )
    console.print(table)
    names = (
        SPEC_FIELDS
        if isinstance(record, Accelerator)
        else SYSTEM_FIGURES
        if isinstance(record, System)
        else ()
    )
    unknown = [name for name in names if getattr(record, name) is None]
    if unknown:
        console.print(f"no figure for: {', '.join(unknown)}")


def _show_model(model: LLM, json: bool) -> None:
    if json:
        print_json(
            {
                **model.model_dump(mode="json"),
                "params_total": model.params_total,
                "params_active": model.params_active,
            }
        )
        return
    console.print(
        f"[bold]{model.name}[/] ({model.id}): {model.layers} layers, hidden {model.hidden_size}, "
        f"{number(model.params_total / 1e9, 1)} B parameters "
        f"({number(model.params_active / 1e9, 1)} B active); "
        f"source ({model.date}): {model.source}"
    )


@catalog_app.command("show")
def catalog_show(
    record_id: Annotated[str, typer.Argument(metavar="ID", help="Accelerator, system or model id.")],
    catalog: CatalogFiles = None,
    json: Json = False,
    sources: Annotated[
        bool,
        typer.Option(
            "--sources", help="List every sourced figure: value, range, unit, confidence, date, full source."
        ),
    ] = False,
) -> None:
    """Show one accelerator, system or model with the source of every figure."""
    cat = _catalog(catalog)
    record = _record(cat, record_id)
    if sources:
        _show_sources(record, json)
        return
    if isinstance(record, System):
        _show_system(record, cat, json)
        return
    if isinstance(record, LLM):
        _show_model(record, json)
        return
    a = record
    if json:
        print_json(accelerator_record(a))
        return
    console.print(
        f"[bold]{a.name}[/] ({a.id}) — {a.vendor}, {a.country}, {a.year}, "
        f"{a.process or '?'} at {a.foundry or '?'}, stack {a.software_stack}; "
        f"default system {cat.default_system(a.id).id} (systems: "
        f"{', '.join(s.id for s in cat.systems_of(a.id)) or 'none'})"
    )
    table = _figure_table(a, SPEC_FIELDS)
    if a.dies is not None:
        table.add_row("dies", str(a.dies.value), "", a.dies.confidence, a.dies.date, a.dies.source)
    console.print(table)
    d = derive(a)
    console.print(
        f"ridge point {number(d.ridge_point_flop_per_byte)} FLOP/B, "
        f"{number(d.tflops_per_watt, 2)} TFLOPS/W, "
        f"{number(d.tflops_per_kusd, 1)} TFLOPS per $1k, "
        f"{number(d.memory_gb_per_kusd, 2)} GB per $1k"
    )
    if a.price is not None:
        p = a.price
        console.print(
            f"price {p.currency} {p.amount:,.0f} (range {p.low or p.amount:,.0f}-"
            f"{p.high or p.amount:,.0f}, {p.confidence}, {p.date}): {p.source}"
        )
    if a.export_control is not None:
        console.print(f"export control ({a.export_control.date}): {a.export_control.status}")
    if a.notes:
        console.print(f"[dim]{a.notes}[/]")


def _findings_table(findings: Sequence[Finding]) -> Table:
    table = Table(title="Catalog data check (per record; see --json for machines)")
    for header in ("section", "record", "field", "kind", "detail"):
        # Short columns stay on one line; long cost-default paths and details fold, whole.
        table.add_column(header, no_wrap=header in ("section", "record", "kind"), overflow="fold")
    previous = None
    for f in findings:
        record = (f.section, f.record)
        # Name each record once, on the first row of its findings.
        table.add_row(
            *(("", "") if record == previous else record),
            f.field,
            f.kind,
            f.detail,
            end_section=False,
        )
        previous = record
    return table


@catalog_app.command("check")
def catalog_check(catalog: CatalogFiles = None, as_of: AsOf = None, json: Json = False) -> None:
    """Report where the data is thin: missing specs, weak sources, wide ranges, dangling references.

    Lists, per record (accelerators, systems, models, cost defaults), spec fields without a
    figure, numeric figures rated secondary or assumption (or derived without a rule in their
    note), ranges wider than 2x, id fields and references in notes that name nothing, and with
    --as-of the figures dated after that date. A report: the exit code is 0 whatever it finds.
    """
    cat = _catalog(catalog)
    costs = cost_defaults()
    findings = audit(cat, costs, as_of=as_of)
    tally = counts(findings)
    checked = {
        "accelerators": len(cat.accelerators),
        "systems": len(cat.systems),
        "models": len(cat.models),
        "cost_defaults": 1,
    }
    if json:
        print_json(
            {"as_of": as_of, "checked": checked, "counts": tally, "findings": [asdict(f) for f in findings]}
        )
        return
    if findings:
        console.print(_findings_table(findings))
    kinds = ", ".join(f"{kind} {tally[kind]}" for kind in FINDING_KINDS)
    console.print(
        f"{len(findings)} findings ({kinds}) in {checked['accelerators']} accelerators, "
        f"{checked['systems']} systems, {checked['models']} models and the cost defaults"
        + (f"; as of {as_of}" if as_of else ""),
        soft_wrap=True,
    )
    for kind, meaning in FINDING_KINDS.items():
        console.print(f"[dim]  {kind}: {meaning}[/]")


@catalog_app.callback(invoke_without_command=True)
def catalog_group(
    ctx: typer.Context,
    check: Annotated[bool, typer.Option("--check", help="Run the data check (as `catalog check`).")] = False,
    as_of: AsOf = None,
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """Accelerators and the systems they are deployed in: specs with provenance, prices, export status."""
    if ctx.invoked_subcommand is None:
        if not check:
            ctx.fail("Missing command.")
        catalog_check(catalog=catalog, as_of=as_of, json=json)
    elif check or as_of is not None or catalog or json:
        # Options before a subcommand would be silently dropped; say where they belong.
        ctx.fail(
            f"--check, --as-of, --catalog and --json before {ctx.invoked_subcommand!r} belong to "
            "'catalog --check'; give them after the subcommand"
        )


@models_app.command("list")
def models_list(catalog: CatalogFiles = None, json: Json = False) -> None:
    """List the LLMs in the model zoo with their derived parameter counts."""
    models = sorted(_catalog(catalog).models.values(), key=lambda m: m.id)
    rows = [
        {
            **m.model_dump(mode="json"),
            "params_total": m.params_total,
            "params_active": m.params_active,
            "kv_elements_per_token": m.kv_elements_per_token,
        }
        for m in models
    ]
    if json:
        print_json(rows)
        return
    table = Table(title="LLM model zoo")
    for header in (
        "id",
        "layers",
        "hidden",
        "heads/kv",
        "experts",
        "params B",
        "active B",
        "published B",
        "KV elems/token",
    ):
        table.add_column(header, justify="left" if header == "id" else "right")
    for m in models:
        experts = "-" if m.moe is None else f"{m.moe.active_experts}/{m.moe.experts}"
        table.add_row(
            m.id,
            str(m.layers),
            str(m.hidden_size),
            f"{m.heads}/{m.kv_heads}",
            experts,
            number(m.params_total / 1e9, 1),
            number(m.params_active / 1e9, 1),
            number(m.published_params_b, 1),
            number(m.kv_elements_per_token),
        )
    console.print(table)
