"""``suanli order``: chips, value, surcharge and duty of an order, with consistency warnings."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from suanli.cli.output import console, err_console, print_json
from suanli.economics.order import ConsistencyCheck, Order, OrderSummary, Span, summarize_order
from suanli.errors import InputValueError
from suanli.scenario import DEFAULT_SCENARIO, load_scenario

_SPAN = re.compile(r"^\s*([0-9][0-9.eE+_,]*)\s*(?:-|\.\.)\s*([0-9][0-9.eE+_,]*)\s*$")


#: The command-line option behind each order field, for error messages.
OPTION_OF = {
    "modules": "--modules",
    "chips_per_module": "--chips-per-module",
    "price_per_module": "--price-per-module",
    "currency": "--currency",
    "cny_per_usd": "--cny-per-usd",
    "surcharge_share": "--surcharge",
    "import_duty_share": "--import-duty",
}


def parse_span(text: str, option: str) -> Span:
    """``"5000"`` or ``"5000-10000"`` (also ``5000..10000``) as a :class:`Span`."""
    try:
        value = float(text.replace(",", "").replace("_", ""))
        return Span(low=value, high=value)
    except ValueError:
        pass
    match = _SPAN.match(text)
    try:
        if match is None:
            raise ValueError(text)
        low, high = (float(g.replace(",", "").replace("_", "")) for g in match.groups())
        return Span(low=low, high=high)
    except (ValueError, ValidationError):
        raise InputValueError(
            f"expected a number or a range LOW-HIGH with LOW <= HIGH (got {text!r})", field=option
        ) from None


def order_command(
    scenario: Annotated[
        str, typer.Option(help="Built-in scenario name or scenario YAML file.")
    ] = DEFAULT_SCENARIO,
    modules: Annotated[str | None, typer.Option(help="Modules ordered: N or LOW-HIGH.")] = None,
    chips_per_module: Annotated[int | None, typer.Option(help="Chips per module.")] = None,
    price_per_module: Annotated[float | None, typer.Option(help="Price per module.")] = None,
    currency: Annotated[str | None, typer.Option(help="Currency of the price: CNY or USD.")] = None,
    cny_per_usd: Annotated[float | None, typer.Option(help="FX rate, CNY per USD.")] = None,
    surcharge: Annotated[
        float | None, typer.Option(help="Seller-side surcharge share (0.25 = 25 %).")
    ] = None,
    import_duty: Annotated[float | None, typer.Option(help="Buyer-side import duty share.")] = None,
    stated_total: Annotated[
        str | None, typer.Option(help="A total value a source states (N or LOW-HIGH), to check.")
    ] = None,
    stated_chips: Annotated[
        str | None, typer.Option(help="A chip count a source states (N or LOW-HIGH), to check.")
    ] = None,
    no_checks: Annotated[
        bool, typer.Option("--no-checks", help="Drop the scenario's consistency checks.")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Summarise an order: chips, total value in CNY and USD, surcharge, duty, consistency.

    Without options it takes the order of the scenario (the flagship by default). Options
    override the scenario's fields. The scenario's consistency checks (figures its sources
    state) still apply and are printed as warnings where the order falls outside them;
    ``--no-checks`` drops them.
    """
    loaded = load_scenario(scenario)
    if loaded.order is None:
        raise InputValueError(f"scenario {loaded.id!r} has no order section", field="--scenario")
    base = loaded.order
    overrides: dict[str, object] = {
        key: value
        for key, value in {
            "chips_per_module": chips_per_module,
            "price_per_module": price_per_module,
            "currency": currency,
            "cny_per_usd": cny_per_usd,
            "surcharge_share": surcharge,
            "import_duty_share": import_duty,
        }.items()
        if value is not None
    }
    if modules is not None:
        overrides["modules"] = parse_span(modules, "--modules")
    checks = [] if no_checks else list(base.checks)
    if stated_total is not None:
        span = parse_span(stated_total, "--stated-total")
        checks.append(ConsistencyCheck(quantity="total_value", stated=span, source="--stated-total"))
    if stated_chips is not None:
        span = parse_span(stated_chips, "--stated-chips")
        checks.append(ConsistencyCheck(quantity="chips", stated=span, source="--stated-chips"))
    overrides["checks"] = tuple(checks)
    data = {**base.model_dump(), **overrides}
    try:
        order = Order.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = OPTION_OF.get(str(error["loc"][0])) if error["loc"] else None
        message = str(error["msg"]).removeprefix("Value error, ")
        raise InputValueError(f"{message} (got {error.get('input')!r})", field=field) from None
    summary = summarize_order(order)
    if json:
        print_json(summary.model_dump(mode="json") | {"warnings": summary.warnings})
        return
    _print_summary(summary)


def _money(span: Span, symbol: str) -> str:
    def one(x: float) -> str:
        return f"{symbol}{x / 1e9:,.2f} B" if x >= 1e8 else f"{symbol}{x:,.0f}"

    return one(span.low) if span.low == span.high else f"{one(span.low)} – {one(span.high)}"


def _count(span: Span) -> str:
    return f"{span.low:,.0f}" if span.low == span.high else f"{span.low:,.0f} – {span.high:,.0f}"


def _print_summary(s: OrderSummary) -> None:
    o = s.order
    symbol = "¥" if o.currency == "CNY" else "$"
    table = Table(title=f"Order summary{f' ({o.accelerator})' if o.accelerator else ''}")
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_row("modules", _count(o.modules))
    table.add_row("chips", _count(s.chips))
    table.add_row("price per module", f"{symbol}{o.price_per_module:,.0f}")
    table.add_row("price per chip", f"{symbol}{s.price_per_chip:,.0f}")
    table.add_row("total value", _money(s.total_value, symbol))
    table.add_row("total value (CNY)", _money(s.total_value_cny, "¥"))
    table.add_row(f"total value (USD at {o.cny_per_usd:g} CNY/USD)", _money(s.total_value_usd, "$"))
    table.add_row(f"seller surcharge ({o.surcharge_share:.0%})", _money(s.surcharge, symbol))
    table.add_row("seller keeps", _money(s.seller_net, symbol))
    table.add_row(f"buyer import duty ({o.import_duty_share:.0%})", _money(s.import_duty, symbol))
    table.add_row("buyer pays", _money(s.buyer_cost, symbol))
    console.print(table)
    for finding in s.findings:
        if finding.consistent:
            console.print(f"[green]ok[/] {finding.message}")
    for warning in s.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
