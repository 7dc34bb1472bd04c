"""``suanli standoff``: the approval standoff between the buyer side and the seller."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.table import Table

from suanli.cli.options import Json
from suanli.cli.output import console, print_json
from suanli.decide.standoff import StandoffResult, solve_standoff
from suanli.errors import InputValueError
from suanli.scenario import DEFAULT_SCENARIO, load_scenario

Money = Annotated[float | None, typer.Option(help="Scenario currency.")]

# The API names its keyword arguments; on the command line the user typed the options.
_OPTIONS = {
    "prize_buyer": "--prize-buyer",
    "prize_seller": "--prize-seller",
    "cost_buyer": "--cost-buyer",
    "cost_seller": "--cost-seller",
}


def standoff_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file or built-in name.")] = DEFAULT_SCENARIO,
    prize_buyer: Annotated[
        float | None, typer.Option(help="Buyer's prize if the seller concedes, scenario currency.")
    ] = None,
    prize_seller: Annotated[
        float | None, typer.Option(help="Seller's prize if the buyer concedes, scenario currency.")
    ] = None,
    cost_buyer: Annotated[
        float | None,
        typer.Option(help="Buyer's cost of waiting a quarter (constant: the stationary closed form)."),
    ] = None,
    cost_seller: Annotated[
        float | None, typer.Option(help="Seller's cost of waiting a quarter, scenario currency.")
    ] = None,
    json: Json = False,
) -> None:
    """The approval standoff as a war of attrition: who gives in, how soon, and why.

    Each side's concession hazard is the other side's cost of waiting over the other side's
    prize; the buyer's delay cost falls as domestic supply covers the target.
    """
    loaded = load_scenario(scenario)
    try:
        result = solve_standoff(
            loaded,
            prize_buyer=prize_buyer,
            prize_seller=prize_seller,
            cost_buyer=cost_buyer,
            cost_seller=cost_seller,
        )
    except InputValueError as exc:
        if exc.field not in _OPTIONS:
            raise
        raise InputValueError(exc.problem, field=_OPTIONS[exc.field]) from exc
    if json:
        print_json(result)
        return
    print_standoff(result)


def _money(value: float, currency: str) -> str:
    return f"{'¥' if currency == 'CNY' else '$'}{value / 1e9:,.2f} B"


def _rate(value: float) -> str:
    return "at once" if math.isinf(value) else f"{value:.3f}"


def print_standoff(r: StandoffResult) -> None:
    """The standoff per quarter as a table, then the headline figures and the explanation."""
    cur = r.currency
    table = Table(title=f"Approval standoff in {r.scenario} ({r.regime}; {cur}, per quarter)")
    for header in (
        "quarter",
        "buyer cost",
        "domestic cover",
        "seller cost",
        "P(buyer concedes)",
        "P(seller concedes)",
        "P(deal by end)",
    ):
        table.add_column(header, justify="left" if header == "quarter" else "right")
    for t, quarter in enumerate(r.quarters):
        table.add_row(
            quarter,
            _money(r.cost_buyer[t], cur),
            "-" if r.domestic_cover is None else f"{r.domestic_cover[t]:.0%}",
            _money(r.cost_seller[t], cur),
            f"{r.hazards_buyer[t]:.1%}",
            f"{r.hazards_seller[t]:.1%}",
            f"{r.p_deal_by[quarter]:.1%}",
        )
    console.print(table)
    console.print(
        f"Prizes: buyer {_money(r.prize_buyer, cur)}, seller {_money(r.prize_seller, cur)}. "
        f"Concession rates in {r.quarters[0]} (per quarter): buyer {_rate(r.hazard_buyer)}, "
        f"seller {_rate(r.hazard_seller)}. Expected duration: "
        + (
            "no deal"
            if math.isinf(r.expected_duration_quarters)
            else f"{r.expected_duration_quarters:.2f} quarters"
        )
        + f". Expected payoffs relative to conceding at once: buyer {_money(r.payoff_buyer, cur)}, "
        f"seller {_money(r.payoff_seller, cur)}."
    )
    console.print(r.explanation)
