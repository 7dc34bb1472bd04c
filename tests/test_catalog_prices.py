"""Prices agree with their sources and with each other (chips, systems, the host rule)."""

from __future__ import annotations

import pytest

from suanli.catalog import load_catalog
from suanli.catalog.provenance import Price
from suanli.economics.costs import default_cost_inputs

CAT = load_catalog()
INPUTS = default_cost_inputs("CNY")


def _cny(price: Price) -> float:
    return INPUTS.to_currency(price.amount, price.currency)


@pytest.mark.parametrize("system_id", sorted(s.id for s in CAT.systems.values() if s.prices))
def test_system_price_is_its_chips_plus_the_host_rule(system_id: str) -> None:
    # The host rule (catalog/README.md): a system costs its chips plus server_overhead_share of
    # them, so the TCO, which adds that share to the chip price, gives back the system price.
    system = CAT.system(system_id)
    price = system.price
    assert price is not None
    chip = CAT.accelerator(system.accelerator).price_as_of(price.date)
    if chip is None:
        pytest.skip(f"{system.accelerator} has no chip price known on {price.date}")
    share = INPUTS.server_overhead_share
    implied = system.chips.value * _cny(chip) * (1 + share)
    low = system.chips.value * INPUTS.to_currency(chip.low or chip.amount, chip.currency) * (1 + share)
    high = system.chips.value * INPUTS.to_currency(chip.high or chip.amount, chip.currency) * (1 + share)
    assert min(low, implied * 0.85) <= _cny(price) <= max(high, implied * 1.15), system_id


def test_910c_chip_costs_less_than_a_cloudmatrix_seat() -> None:
    cloudmatrix = CAT.system("cloudmatrix-384")
    seat = cloudmatrix.price
    chip = CAT.accelerator("ascend-910c").price
    assert seat is not None
    assert chip is not None
    per_npu = seat.amount / cloudmatrix.chips.value
    assert chip.currency == seat.currency
    assert chip.amount < per_npu  # the system price includes CPUs, optics and racks
    assert chip.high is not None
    assert chip.high <= per_npu


def test_h20_is_at_its_china_channel_price() -> None:
    # Tencent Tech 2025-12: CNY 880k per 8-GPU module (96 GB), CNY 1.05M for the 141 GB part.
    h20 = CAT.accelerator("h20").price_as_of("2026-01-20")
    h20_141 = CAT.accelerator("h20-141g").price_as_of("2026-01-20")
    assert h20 is not None
    assert h20_141 is not None
    assert _cny(h20) == pytest.approx(880_000 / 8, rel=0.01)
    assert _cny(h20_141) == pytest.approx(1_050_000 / 8, rel=0.01)
