"""Order economics: the flagship's arithmetic, its inconsistency, surcharge versus duty."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from suanli import Order, Span, load_scenario, summarize_order
from suanli.economics.order import to_cny, to_usd


def _flagship() -> Order:
    return load_scenario("h200-china-2026").order


def test_flagship_chips_and_value() -> None:
    # Seed article / Reuters 2025-12-22: 5,000-10,000 modules of 8 chips at CNY 1.4M each.
    s = summarize_order(_flagship())
    assert (s.chips.low, s.chips.high) == (40_000, 80_000)
    assert (s.total_value.low, s.total_value.high) == (7.0e9, 14.0e9)
    assert s.price_per_chip == 175_000


def test_flagship_flags_the_articles_ten_billion() -> None:
    s = summarize_order(_flagship())
    [warning] = s.warnings
    assert "¥10.00 B" in warning
    assert "7,143 modules" in warning  # 10e9 / 1.4e6
    assert "¥1,000,000 per module" in warning  # 10e9 / 10,000
    chips = next(f for f in s.findings if f.quantity == "chips")
    assert chips.consistent


def test_consistent_order_has_no_warning() -> None:
    order = _flagship().model_copy(update={"modules": Span(low=5000, high=7000)})
    assert summarize_order(order).warnings == []


def test_surcharge_is_seller_side_and_duty_buyer_side() -> None:
    order = _flagship().model_copy(update={"import_duty_share": 0.1})
    s = summarize_order(order)
    assert s.seller_net.high == pytest.approx(14.0e9 * 0.75)
    assert s.surcharge.high == pytest.approx(14.0e9 * 0.25)
    assert s.buyer_cost.high == pytest.approx(14.0e9 * 1.1)
    assert s.total_value_usd.high == pytest.approx(14.0e9 / 7.0)


@given(
    amount=st.floats(min_value=1e-3, max_value=1e12),
    rate=st.floats(min_value=0.6, max_value=49),
)
def test_currency_round_trip(amount: float, rate: float) -> None:
    assert to_usd(to_cny(amount, "USD", rate), "CNY", rate) == pytest.approx(amount, rel=1e-12)
    assert to_cny(to_usd(amount, "CNY", rate), "USD", rate) == pytest.approx(amount, rel=1e-12)


@given(
    modules=st.integers(min_value=1, max_value=1_000_000),
    chips=st.integers(min_value=1, max_value=64),
    price=st.floats(min_value=1, max_value=1e8),
)
def test_value_is_modules_times_price(modules: int, chips: int, price: float) -> None:
    order = Order(
        modules=Span(low=modules, high=modules),
        chips_per_module=chips,
        price_per_module=price,
        currency="USD",
        cny_per_usd=7.0,
    )
    s = summarize_order(order)
    assert s.chips.low == modules * chips
    assert s.total_value.low == pytest.approx(modules * price)
    assert s.total_value_cny.low == pytest.approx(modules * price * 7.0)


@pytest.mark.parametrize(
    "update",
    [
        {"modules": {"low": -5, "high": 10}},
        {"modules": {"low": 10, "high": 5}},
        {"chips_per_module": 0},
        {"price_per_module": -1},
        {"cny_per_usd": 700},
        {"surcharge_share": 1.5},
        {"currency": "GBP"},
    ],
)
def test_invalid_orders_rejected(update: dict[str, object]) -> None:
    data = _flagship().model_dump() | update
    with pytest.raises(ValidationError):
        Order.model_validate(data)
