"""``suanli catalog`` and ``suanli models``: list and show catalog records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from suanli.catalog import SPEC_FIELDS, Accelerator, Catalog, Figure, derive, load_catalog
from suanli.cli.options import CatalogFiles, Json
from suanli.cli.output import console, number, print_json

catalog_app = typer.Typer(help="Accelerators: specs with provenance, prices, export status.")
models_app = typer.Typer(help="LLM architectures and their parameter counts.")


#: Marks a figure's confidence in tables: datasheet figures stand bare.
CONFIDENCE_MARK = {"datasheet": "", "press": "ᵖ", "estimate": "ᵉ"}


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


@catalog_app.command("list")
def catalog_list(catalog: CatalogFiles = None, json: Json = False) -> None:
    """Compare every accelerator in the catalog."""
    cat = _catalog(catalog)
    accelerators = sorted(cat.accelerators.values(), key=lambda a: (a.country != "US", a.vendor, a.id))
    if json:
        print_json([accelerator_record(a) for a in accelerators])
        return
    table = Table(title="Accelerator catalog (dense peaks; ᵖ press, ᵉ estimate, - unknown)")
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


@catalog_app.command("show")
def catalog_show(
    accelerator_id: Annotated[str, typer.Argument(metavar="ID", help="Accelerator id.")],
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """Show one accelerator with the source of every figure."""
    a = _catalog(catalog).accelerator(accelerator_id)
    if json:
        print_json(accelerator_record(a))
        return
    console.print(
        f"[bold]{a.name}[/] ({a.id}) — {a.vendor}, {a.country}, {a.year}, "
        f"{a.process or '?'} at {a.foundry or '?'}, stack {a.software_stack}"
    )
    table = Table(show_lines=False)
    for header in ("field", "value", "range", "confidence", "date", "source"):
        table.add_column(header)
    for name in SPEC_FIELDS:
        figure: Figure | None = getattr(a, name)
        if figure is None:
            table.add_row(name, "unknown", "", "", "", "")
            continue
        low, high = figure.range
        span = "" if low == high else f"{low:g}-{high:g}"
        source = figure.source + (f" [dim]({figure.note})[/]" if figure.note else "")
        table.add_row(name, f"{figure.value:g}", span, figure.confidence, figure.date, source)
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
