"""The approval standoff as a war of attrition between the buyer side and the seller.

The buyer side (the regulator and the domestic industry it speaks for) stays silent; the
seller (NVIDIA) holds stock and a dedicated line. Each quarter without a deal costs each side
``c_i``; if the other side gives in first, a side wins its prize ``V_i`` (the value of winning
minus the value of conceding). Values are measured relative to conceding at once, which is
worth 0 to each side.

Stationary case (constant costs; continuous time). In the stationary mixed equilibrium side
``i`` concedes at a constant hazard rate ``lambda_i``. Side ``j`` is willing to keep waiting
only if it is indifferent between conceding now and waiting ``dt`` more: waiting costs
``c_j dt`` and wins ``V_j`` with probability ``lambda_i dt``, so ``lambda_i V_j = c_j`` and::

    lambda_buyer  = c_seller / V_seller        lambda_seller = c_buyer / V_buyer

Each side's hazard is the OTHER side's cost over the OTHER side's prize. The deal comes at
rate ``Lambda = lambda_buyer + lambda_seller``: expected duration ``1 / Lambda`` quarters,
``P(deal by t) = 1 - exp(-Lambda t)``. Indifference means each side's expected payoff equals
its payoff from conceding at once: zero relative to conceding. Where one side's waiting is
free (``c_i = 0``) there is no mixed equilibrium: that side never concedes, and the other's
best reply is to concede at once.

Non-stationary case (costs by quarter: the buyer's delay cost falls as domestic supply
ramps). A discrete war of attrition solved by backward induction over moves of a week
(``STEPS_PER_QUARTER``). In each step both sides choose, at once, to concede or wait; a
concession is final, so if both concede each gets its conceding payoff (0), which is the
convention under which the discrete game converges to the continuous one as steps shorten.
With continuation values ``W_i'`` and one step's cost ``k_i = c_i / n - W_i'``: where both
``k_i > 0`` the stage game's mixed equilibrium has ``q_j = k_i / (V_i + k_i)`` (``i``
indifferent) and values 0; where ``k_i <= 0`` side ``i`` waits (weakly dominant) and the other
concedes at once if its own ``k > 0`` (values ``V_i`` and 0), or both wait. After the horizon
the last quarter's costs are assumed to hold forever (the stationary continuation). With
constant costs the per-quarter hazard is ``1 - (1 + x/n)^-n``, which tends to the continuous
``1 - exp(-x)`` (``x = c/V``) with an error below ``x^2 / 2n``.

References
----------
J. Maynard Smith, "The theory of games and the evolution of animal conflicts", J. Theor.
Biol. 47, 1974 (war of attrition). J. Bulow and P. Klemperer, "The generalized war of
attrition", American Economic Review 89(1), 1999. K. Hendricks, A. Weiss and C. Wilson,
"The war of attrition in continuous time with complete information", International Economic
Review 29(4), 1988 (equilibria with stationary concession rates; the corner where one side
never concedes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from suanli.economics.unit_cost import BUYER_COUNTRY
from suanli.errors import InputValueError
from suanli.scenario.compile import ScenarioCompiler
from suanli.scenario.model import Scenario, Standoff
from suanli.supply.quarters import quarter_labels

FloatArray = NDArray[np.float64]

#: Moves per quarter in the discrete game: a regulator can approve, and a seller give in, any
#: week; weekly steps keep the discretisation error of a quarter's hazard below x^2 / 26.
STEPS_PER_QUARTER = 13


class StandoffResult(BaseModel):
    """The equilibrium of the approval standoff, in the scenario currency and in quarters.

    ``hazard_buyer`` and ``hazard_seller`` are concession rates per quarter (continuous time)
    in the first quarter: the closed form in the stationary regime, ``-ln(1 - p)`` of the
    first quarter's concession probability otherwise (infinite for a concession at once).
    ``hazards_buyer`` / ``hazards_seller`` are, per quarter, the probability that the side
    concedes during the quarter if no deal has been struck before it and the other side holds
    out (as the supply model's ``hazard_per_quarter``); ``hazards_deal`` combines them.
    Payoffs are expected values relative to conceding at once.
    """

    model_config = ConfigDict(frozen=True)

    scenario: str
    currency: str
    regime: Literal["stationary", "non-stationary"]
    steps_per_quarter: int
    quarters: list[str]
    prize_buyer: float
    prize_seller: float
    cost_buyer: list[float]
    cost_seller: list[float]
    domestic_cover: list[float] | None
    hazard_buyer: float
    hazard_seller: float
    hazards_buyer: list[float]
    hazards_seller: list[float]
    hazards_deal: list[float]
    expected_duration_quarters: float
    p_deal_by: dict[str, float]
    payoff_buyer: float
    payoff_seller: float
    explanation: str


@dataclass(frozen=True)
class Attrition:
    """The discrete war of attrition solved over a horizon (per quarter, both sides)."""

    hazards_buyer: FloatArray  # (T,): P(buyer concedes in quarter t | standoff on, seller holds out)
    hazards_seller: FloatArray  # (T,)
    p_deal_by: FloatArray  # (T,): P(deal by the end of quarter t)
    expected_duration_quarters: float
    payoff_buyer: float
    payoff_seller: float


def stationary_rates(
    cost_buyer: float, cost_seller: float, prize_buyer: float, prize_seller: float
) -> tuple[float, float]:
    """Concession rates per quarter ``(lambda_buyer, lambda_seller)`` of the stationary game.

    ``lambda_buyer = cost_seller / prize_seller`` and ``lambda_seller = cost_buyer / prize_buyer``
    (module docstring); where a side waits for free it never concedes (rate 0) and the other
    concedes at once (rate infinite).
    """
    if cost_buyer > 0 and cost_seller > 0:
        return cost_seller / prize_seller, cost_buyer / prize_buyer
    if cost_seller > 0:
        return 0.0, math.inf
    if cost_buyer > 0:
        return math.inf, 0.0
    return 0.0, 0.0


def _stationary_values(
    cost_buyer: float, cost_seller: float, prize_buyer: float, prize_seller: float
) -> tuple[float, float]:
    # The value of playing on forever at these costs, relative to conceding at once: indifference
    # makes it 0 in the mixed equilibrium; a side that waits for free takes its whole prize.
    if cost_buyer > 0 and cost_seller > 0:
        return 0.0, 0.0
    if cost_seller > 0:
        return prize_buyer, 0.0
    if cost_buyer > 0:
        return 0.0, prize_seller
    return 0.0, 0.0


def _stage(
    step_cost_buyer: float,
    step_cost_seller: float,
    prize_buyer: float,
    prize_seller: float,
    after: tuple[float, float],
) -> tuple[float, float, float, float]:
    """Concession probabilities and values ``(q_buyer, q_seller, W_buyer, W_seller)`` of one step.

    ``after`` holds both sides' values of reaching the next step with the standoff still on.
    """
    next_buyer, next_seller = after
    net_buyer = step_cost_buyer - next_buyer
    net_seller = step_cost_seller - next_seller
    if net_buyer > 0 and net_seller > 0:
        # Mixed: each concedes just often enough to leave the OTHER indifferent, so each is
        # worth what conceding is worth, 0.
        return (
            net_seller / (prize_seller + net_seller),
            net_buyer / (prize_buyer + net_buyer),
            0.0,
            0.0,
        )
    if net_seller > 0:
        return 0.0, 1.0, prize_buyer, 0.0
    if net_buyer > 0:
        return 1.0, 0.0, 0.0, prize_seller
    return 0.0, 0.0, next_buyer - step_cost_buyer, next_seller - step_cost_seller


def solve_attrition(
    costs_buyer: Sequence[float],
    costs_seller: Sequence[float],
    prize_buyer: float,
    prize_seller: float,
    *,
    steps_per_quarter: int = STEPS_PER_QUARTER,
) -> Attrition:
    """The discrete war of attrition with costs per quarter, by backward induction.

    Both cost sequences cover the same quarters; after the last one its costs hold forever.
    """
    n = steps_per_quarter
    cb = np.repeat(np.asarray(costs_buyer, dtype=np.float64), n) / n
    cs = np.repeat(np.asarray(costs_seller, dtype=np.float64), n) / n
    if cb.size == 0 or cb.shape != cs.shape:
        msg = "costs_buyer and costs_seller need the same, non-zero number of quarters"
        raise ValueError(msg)
    wb, ws = _stationary_values(cb[-1], cs[-1], prize_buyer, prize_seller)
    tail_b, tail_s, _, _ = _stage(cb[-1], cs[-1], prize_buyer, prize_seller, (wb, ws))
    qb, qs = np.empty_like(cb), np.empty_like(cs)
    for k in range(cb.size - 1, -1, -1):
        qb[k], qs[k], wb, ws = _stage(cb[k], cs[k], prize_buyer, prize_seller, (wb, ws))
    hold_b = np.prod((1.0 - qb).reshape(-1, n), axis=1)
    hold_s = np.prod((1.0 - qs).reshape(-1, n), axis=1)
    # A deal at the start of step k comes k/n quarters in: E[duration] = sum over k >= 1 of
    # P(no deal in steps 0..k-1) / n, with the stationary continuation's geometric tail.
    survive = np.cumprod((1.0 - qb) * (1.0 - qs))
    hold_tail = (1.0 - tail_b) * (1.0 - tail_s)
    if survive[-1] == 0:
        tail = 0.0
    elif hold_tail < 1:
        tail = survive[-1] * hold_tail / (1.0 - hold_tail)
    else:
        tail = math.inf
    return Attrition(
        hazards_buyer=1.0 - hold_b,
        hazards_seller=1.0 - hold_s,
        p_deal_by=1.0 - np.cumprod(hold_b * hold_s),
        expected_duration_quarters=float((survive.sum() + tail) / n),
        payoff_buyer=wb,
        payoff_seller=ws,
    )


def buyer_delay_costs(
    scenario: Scenario, standoff: Standoff, compiler: ScenarioCompiler
) -> tuple[list[float], list[float] | None]:
    """The buyer's delay cost per quarter and the share of the target domestic supply covers.

    The cover in quarter ``t`` is the useful work of every domestic chip the domestic
    candidates (designed in the buyer's country) could have installed by then (their central
    capacity per quarter from the compiled supply model, delivered after each one's lead
    time, accumulated) over the required work; quarters before the target starts count
    against its level, since the compute for it is being installed then. The delay cost is
    ``buyer_delay_cost_per_quarter x max(0, 1 - cover)``: what is covered at home is no
    longer short. Without a target (or candidates) the cost stays constant and the cover is
    ``None``.
    """
    if scenario.decision is None or not scenario.candidates:
        return [standoff.buyer_delay_cost_per_quarter] * scenario.horizon_quarters, None
    model = compiler.compile(scenario)
    quarters = len(model.quarters)
    required = np.asarray(model.target, dtype=np.float64)
    full = float(required.max(initial=0.0))
    if full <= 0:
        return [standoff.buyer_delay_cost_per_quarter] * quarters, None
    required = np.where(required > 0, required, full)
    installed = np.zeros(quarters)
    for a, accelerator in enumerate(model.accelerators):
        if compiler.catalog.accelerator(accelerator).country != BUYER_COUNTRY:
            continue
        work = model.capacity[a] * model.rate_per_chip[a]
        lead = scenario.supply[accelerator].lead_time_quarters
        if lead < quarters:
            installed[lead:] += work[: quarters - lead]
    cover = np.cumsum(installed) / required
    cost = standoff.buyer_delay_cost_per_quarter * np.clip(1.0 - cover, 0.0, None)
    return [float(c) for c in cost], [float(c) for c in cover]


def _prizes(scenario: Scenario, standoff: Standoff) -> tuple[float, float]:
    # Order units: the middle of the stated range of modules. Buyer: the order's value, which
    # it gets on its own terms, less the security (black-box) cost; seller: its margin on it.
    order = scenario.order
    if order is None:
        raise InputValueError(
            "the prizes need the scenario's order (or give prize_buyer and prize_seller)", field="order"
        )
    units = (order.modules.low + order.modules.high) / 2 * order.chips_per_module
    value = scenario.cost_inputs().to_currency(
        units * order.price_per_module / order.chips_per_module, order.currency
    )
    return value * (1.0 - standoff.buyer_security_cost_share), standoff.seller_margin_per_unit * units


def _checked(value: float | None, field: str, *, positive: bool) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        rule = "> 0" if positive else ">= 0"
        raise InputValueError(f"must be a finite number {rule} (got {value:g})", field=field)
    return value


def solve_standoff(
    scenario: Scenario,
    *,
    prize_buyer: float | None = None,
    prize_seller: float | None = None,
    cost_buyer: float | None = None,
    cost_seller: float | None = None,
    compiler: ScenarioCompiler | None = None,
) -> StandoffResult:
    """The standoff of ``scenario``: concession hazards, duration, odds of a deal, payoffs.

    Parameters
    ----------
    scenario
        A scenario with a ``standoff`` section.
    prize_buyer, prize_seller
        What each side wins if the other concedes, scenario currency (default: the order
        value net of the security cost share; the seller's margin on the order).
    cost_buyer, cost_seller
        Cost of waiting one quarter, scenario currency (default: the buyer's delay cost less
        what domestic supply covers, quarter by quarter; the seller's inventory carrying and
        line cost). Given costs are constant: with ``cost_buyer`` given (the seller's is
        constant anyway) the regime is stationary and the closed form applies.
    compiler
        Compiles the scenario's supply model (reuse one to share its cached fleet sizing).

    Returns
    -------
    StandoffResult
        The stationary closed form where both costs are constant over the horizon, the
        backward-induction solution otherwise.
    """
    standoff = scenario.standoff
    if standoff is None:
        raise InputValueError("the scenario has no standoff section to solve", field="standoff")
    prize_buyer = _checked(prize_buyer, "prize_buyer", positive=True)
    prize_seller = _checked(prize_seller, "prize_seller", positive=True)
    cost_buyer = _checked(cost_buyer, "cost_buyer", positive=False)
    cost_seller = _checked(cost_seller, "cost_seller", positive=False)
    if prize_buyer is None or prize_seller is None:
        default_buyer, default_seller = _prizes(scenario, standoff)
        prize_buyer = default_buyer if prize_buyer is None else prize_buyer
        prize_seller = default_seller if prize_seller is None else prize_seller
    for field, prize in (
        ("order (buyer's prize: value net of standoff.buyer_security_cost_share)", prize_buyer),
        ("standoff.seller_margin_per_unit (the seller's prize)", prize_seller),
    ):
        if prize <= 0:
            raise InputValueError(
                f"a side with nothing to win cannot be in a standoff (got {prize:g})", field=field
            )
    quarters = quarter_labels(scenario.start_quarter, scenario.horizon_quarters)
    cover = None
    if cost_buyer is None:
        costs_buyer, cover = buyer_delay_costs(scenario, standoff, compiler or ScenarioCompiler())
    else:
        costs_buyer = [cost_buyer] * len(quarters)
    seller = (
        standoff.seller_inventory_units * standoff.seller_holding_cost_per_unit_quarter
        + standoff.seller_line_cost_per_quarter
        if cost_seller is None
        else cost_seller
    )
    costs_seller = [seller] * len(quarters)
    if len(set(costs_buyer)) == 1:
        solution = _stationary(quarters, costs_buyer[0], seller, prize_buyer, prize_seller)
    else:
        solution = _non_stationary(quarters, costs_buyer, costs_seller, prize_buyer, prize_seller)
    result = StandoffResult.model_validate(
        {
            "scenario": scenario.id,
            "currency": scenario.economics.currency,
            "steps_per_quarter": STEPS_PER_QUARTER,
            "quarters": quarters,
            "prize_buyer": prize_buyer,
            "prize_seller": prize_seller,
            "cost_buyer": costs_buyer,
            "cost_seller": costs_seller,
            "domestic_cover": cover,
            "explanation": "",
            **solution,
        }
    )
    return result.model_copy(update={"explanation": explain(result)})


def _stationary(
    quarters: list[str], cost_buyer: float, cost_seller: float, prize_buyer: float, prize_seller: float
) -> dict[str, object]:
    rate_b, rate_s = stationary_rates(cost_buyer, cost_seller, prize_buyer, prize_seller)
    total = rate_b + rate_s
    payoff_b, payoff_s = _stationary_values(cost_buyer, cost_seller, prize_buyer, prize_seller)
    return {
        "regime": "stationary",
        "hazard_buyer": rate_b,
        "hazard_seller": rate_s,
        # A constant rate lambda gives P(concede within a quarter) = 1 - exp(-lambda).
        "hazards_buyer": [-math.expm1(-rate_b)] * len(quarters),
        "hazards_seller": [-math.expm1(-rate_s)] * len(quarters),
        "hazards_deal": [-math.expm1(-total)] * len(quarters),
        "expected_duration_quarters": 1.0 / total if total > 0 else math.inf,
        "p_deal_by": {q: -math.expm1(-total * (t + 1)) for t, q in enumerate(quarters)},
        "payoff_buyer": payoff_b,
        "payoff_seller": payoff_s,
    }


def _non_stationary(
    quarters: list[str],
    costs_buyer: list[float],
    costs_seller: list[float],
    prize_buyer: float,
    prize_seller: float,
) -> dict[str, object]:
    solved = solve_attrition(costs_buyer, costs_seller, prize_buyer, prize_seller)
    hb, hs = solved.hazards_buyer, solved.hazards_seller
    return {
        "regime": "non-stationary",
        "hazard_buyer": _rate(float(hb[0])),
        "hazard_seller": _rate(float(hs[0])),
        "hazards_buyer": hb.tolist(),
        "hazards_seller": hs.tolist(),
        "hazards_deal": (1.0 - (1.0 - hb) * (1.0 - hs)).tolist(),
        "expected_duration_quarters": solved.expected_duration_quarters,
        "p_deal_by": dict(zip(quarters, solved.p_deal_by.tolist(), strict=True)),
        "payoff_buyer": solved.payoff_buyer,
        "payoff_seller": solved.payoff_seller,
    }


def _rate(probability: float) -> float:
    return math.inf if probability >= 1 else -math.log1p(-probability)


def buyer_concession_hazards(scenario: Scenario, *, compiler: ScenarioCompiler | None = None) -> list[float]:
    """Per quarter of the horizon, the buyer side's probability of conceding (approving the import).

    Conditional on no deal before the quarter and on the seller holding out through it, as
    the supply model's ``hazard_per_quarter``. A concession by the seller also ends the
    standoff (a deal on the buyer's terms, after which the import is approved too):
    ``StandoffResult.hazards_deal`` is the hazard of either.
    """
    return solve_standoff(scenario, compiler=compiler).hazards_buyer


def _money(value: float, currency: str) -> str:
    return f"{'¥' if currency == 'CNY' else '$'}{value / 1e9:,.2f} B"


def explain(result: StandoffResult) -> str:
    """The surprising results of ``result`` in plain words."""
    cur = result.currency
    vb, vs = result.prize_buyer, result.prize_seller
    cb, cs = result.cost_buyer, result.cost_seller
    words = []
    mixed = [
        t
        for t, (b, s) in enumerate(zip(result.hazards_buyer, result.hazards_seller, strict=True))
        if b < 1 > s
    ]
    first_b, first_s = stationary_rates(cb[0], cs[0], vb, vs)
    if cb[0] > 0 and cs[0] > 0:
        stationary = result.regime == "stationary"
        words.append(
            "Each side's hazard of giving in is set by the other side's costs, not its own: "
            + ("" if stationary else "were the costs to stay at their first-quarter level, ")
            + f"the buyer side {'approves' if stationary else 'would approve'} at {first_b:.2f} a "
            f"quarter, the seller's waiting cost ({_money(cs[0], cur)} a quarter) over its prize "
            f"({_money(vs, cur)}), just what keeps the seller willing to hold out; the seller "
            f"{'gives' if stationary else 'would give'} in at {first_s:.2f}, the buyer's cost "
            f"({_money(cb[0], cur)}) over its prize ({_money(vb, cur)}). A side whose own waiting "
            "gets cheaper does not hold out longer: the other side gives in less often."
        )
    free_b = next((t for t, c in enumerate(cb) if c == 0), None)
    free_s = next((t for t, c in enumerate(cs) if c == 0), None)
    if free_b is not None and result.hazards_seller[0] >= 1:
        # Backward induction carries the corner back to the first quarter: a later free wait
        # already makes holding out now worthless to the other side.
        foreseen = f", and, foreseeing that, it already does in {result.quarters[0]}" if free_b > 0 else ""
        words.append(
            f"From {result.quarters[free_b]} the buyer side waits at no cost (domestic supply covers "
            "the target, or its cost is set to zero), and a side that can wait for free never "
            f"concedes; the seller's best reply is to concede at once{foreseen}: silence is the "
            "buyer's bargaining chip, and domestic supply is what makes it credible. The buyer takes "
            f"its whole prize, {_money(vb, cur)}; the seller gets what conceding gives it."
        )
    elif free_s is not None and result.hazards_buyer[0] >= 1:
        foreseen = f", and, foreseeing that, it already does in {result.quarters[0]}" if free_s > 0 else ""
        words.append(
            f"From {result.quarters[free_s]} the seller waits at no cost, so it never concedes; the "
            f"buyer side's best reply is to approve at once{foreseen}. The seller takes its whole "
            f"prize, {_money(vs, cur)}."
        )
    elif mixed:
        words.append(
            f"Expected duration {result.expected_duration_quarters:.2f} quarters; each side expects "
            "exactly what conceding at once would give it (zero relative to conceding): holding out "
            "is a costly lottery in which neither gains on average."
        )
    if result.regime == "non-stationary" and 0 < len(mixed) < len(result.quarters):
        words.append(
            "The equilibrium mixes in "
            + ", ".join(result.quarters[t] for t in mixed)
            + " and is settled at once in the other quarters."
        )
    return " ".join(words) or "Neither side bears a cost of waiting: no one concedes and no deal is struck."
