"""Order economics: what an order of modules is worth, to whom, and whether stated totals add up.

An order is a number of modules (a range where the source gives one), chips per module and a
price per module. The seller-side surcharge (the 25 % the US takes on licensed H200 sales to
China) and the buyer-side import duty are kept apart: the first lowers what the seller keeps,
the second raises what the buyer pays. Stated figures from a source (the seed article's
"¥7-10 B") are checked against the arithmetic and any mismatch is reported with what it would
imply, never silently corrected.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Currency = Literal["CNY", "USD"]
Quantity = Literal["chips", "total_value"]


class Span(BaseModel):
    """A quantity known as a range; ``low == high`` for a point value."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.low > self.high:
            msg = f"low must be <= high (got {self.low} > {self.high})"
            raise ValueError(msg)
        return self

    def scaled(self, factor: float) -> Span:
        """The span multiplied by ``factor`` (which must be >= 0)."""
        return Span(low=self.low * factor, high=self.high * factor)


class ConsistencyCheck(BaseModel):
    """A figure a source states, to compare with what the order's own numbers imply."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    quantity: Quantity
    stated: Span
    source: str = Field(min_length=3)
    rel_tolerance: float = Field(default=0.02, ge=0, le=1)


class Order(BaseModel):
    """An order of accelerator modules."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    accelerator: str | None = Field(default=None, description="Catalog id of the chip ordered.")
    modules: Span
    chips_per_module: int = Field(ge=1, le=1024)
    price_per_module: float = Field(gt=0, le=1e10)
    currency: Currency
    cny_per_usd: float = Field(gt=0.5, lt=50, description="FX rate, CNY per USD.")
    surcharge_share: float = Field(default=0.0, ge=0, lt=1, description="Seller side.")
    import_duty_share: float = Field(default=0.0, ge=0, le=5, description="Buyer side.")
    checks: tuple[ConsistencyCheck, ...] = ()

    @model_validator(mode="after")
    def _positive_modules(self) -> Self:
        if self.modules.low <= 0 or self.modules.high > 1e8:
            msg = f"modules must be > 0 and <= 1e8 (got {self.modules.low:g}-{self.modules.high:g})"
            raise ValueError(msg)
        return self


class CheckFinding(BaseModel):
    """The outcome of one consistency check."""

    model_config = ConfigDict(frozen=True)

    quantity: Quantity
    stated: Span
    computed: Span
    source: str
    consistent: bool
    message: str


class OrderSummary(BaseModel):
    """What an order amounts to. Money is in the order's currency unless the name says USD/CNY."""

    model_config = ConfigDict(frozen=True)

    order: Order
    chips: Span
    price_per_chip: float
    total_value: Span
    total_value_cny: Span
    total_value_usd: Span
    surcharge: Span
    seller_net: Span
    import_duty: Span
    buyer_cost: Span
    findings: tuple[CheckFinding, ...]

    @property
    def warnings(self) -> list[str]:
        """Messages of the checks that failed."""
        return [f.message for f in self.findings if not f.consistent]


def to_cny(amount: float, currency: Currency, cny_per_usd: float) -> float:
    """``amount`` in CNY."""
    return amount if currency == "CNY" else amount * cny_per_usd


def to_usd(amount: float, currency: Currency, cny_per_usd: float) -> float:
    """``amount`` in USD."""
    return amount if currency == "USD" else amount / cny_per_usd


def _fmt_money(amount: float, currency: Currency) -> str:
    symbol = "¥" if currency == "CNY" else "$"
    return f"{symbol}{amount / 1e9:.2f} B" if amount >= 1e8 else f"{symbol}{amount:,.0f}"


def _fmt_span(span: Span, currency: Currency) -> str:
    if span.low == span.high:
        return _fmt_money(span.low, currency)
    return f"{_fmt_money(span.low, currency)}-{_fmt_money(span.high, currency)}"


def _within(value: float, stated: Span, tolerance: float) -> bool:
    return stated.low * (1 - tolerance) <= value <= stated.high * (1 + tolerance)


def _check(order: Order, check: ConsistencyCheck, chips: Span, total: Span) -> CheckFinding:
    """Whether each end of the computed range lies within the stated range (with tolerance)."""
    computed = chips if check.quantity == "chips" else total
    ends = [(order.modules.low, computed.low)]
    if order.modules.high != order.modules.low:
        ends.append((order.modules.high, computed.high))
    parts = []
    for modules, got in ends:
        if _within(got, check.stated, check.rel_tolerance):
            continue
        bound = check.stated.high if got > check.stated.high else check.stated.low
        if check.quantity == "total_value":
            parts.append(
                f"{modules:,.0f} modules x {_fmt_money(order.price_per_module, order.currency)} = "
                f"{_fmt_money(got, order.currency)} lies outside the stated "
                f"{_fmt_span(check.stated, order.currency)}; the stated "
                f"{_fmt_money(bound, order.currency)} implies "
                f"{bound / order.price_per_module:,.0f} modules at the stated price, or "
                f"{_fmt_money(bound / modules, order.currency)} per module for {modules:,.0f} modules"
            )
        else:
            parts.append(
                f"{modules:,.0f} modules x {order.chips_per_module} = {got:,.0f} chips lies outside "
                f"the stated {check.stated.low:,.0f}-{check.stated.high:,.0f}; the stated "
                f"{bound:,.0f} implies {bound / modules:.2f} chips per module"
            )
    consistent = not parts
    verdict = "consistent with" if consistent else "inconsistent with"
    message = f"{check.quantity} {verdict} {check.source}" + (": " + "; ".join(parts) if parts else "")
    return CheckFinding(
        quantity=check.quantity,
        stated=check.stated,
        computed=computed,
        source=check.source,
        consistent=consistent,
        message=message,
    )


def summarize_order(order: Order) -> OrderSummary:
    """Chips, value, surcharge, duty and consistency findings of ``order``."""
    chips = order.modules.scaled(order.chips_per_module)
    total = order.modules.scaled(order.price_per_module)
    cny = total.scaled(to_cny(1.0, order.currency, order.cny_per_usd))
    usd = total.scaled(to_usd(1.0, order.currency, order.cny_per_usd))
    surcharge = total.scaled(order.surcharge_share)
    duty = total.scaled(order.import_duty_share)
    return OrderSummary(
        order=order,
        chips=chips,
        price_per_chip=order.price_per_module / order.chips_per_module,
        total_value=total,
        total_value_cny=cny,
        total_value_usd=usd,
        surcharge=surcharge,
        seller_net=total.scaled(1.0 - order.surcharge_share),
        import_duty=duty,
        buyer_cost=total.scaled(1.0 + order.import_duty_share),
        findings=tuple(_check(order, c, chips, total) for c in order.checks),
    )
