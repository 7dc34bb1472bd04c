"""Figures derived from an accelerator's specs: computed on demand, never stored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from suanli.catalog.accelerator import Accelerator

#: CNY per USD used where the caller gives no rate: the onshore close of 2025 (6.989) rounded,
#: as suggested in shared/facts/catalog_facts.md section C3 (Caixin, 2026-01-01).
DEFAULT_CNY_PER_USD = 7.0

#: USD per unit of each catalog currency at the default rate.
DEFAULT_USD_PER_UNIT: dict[str, float] = {"USD": 1.0, "CNY": 1.0 / DEFAULT_CNY_PER_USD}


class DerivedFigures(BaseModel):
    """Ratios computed from an accelerator's specs; ``None`` where an input is unknown."""

    model_config = ConfigDict(frozen=True)

    ridge_point_flop_per_byte: float | None
    tflops_per_watt: float | None
    price_usd: float | None
    tflops_per_kusd: float | None
    memory_gb_per_kusd: float | None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def derive(accelerator: Accelerator, usd_per_unit: dict[str, float] | None = None) -> DerivedFigures:
    """Compute the derived figures of ``accelerator``.

    The ridge point is the arithmetic intensity (FLOP per byte of memory traffic) above which
    a kernel is compute-bound on this chip, from the dense 16-bit peak and memory bandwidth.
    Prices are converted to USD at ``usd_per_unit`` (default :data:`DEFAULT_USD_PER_UNIT`);
    money ratios are per thousand dollars.

    References
    ----------
    S. Williams, A. Waterman, D. Patterson, "Roofline: an insightful visual performance model
    for multicore architectures", CACM 52(4), 2009.
    """
    rates = DEFAULT_USD_PER_UNIT if usd_per_unit is None else usd_per_unit
    tflops = accelerator.matmul_16bit_tflops
    price_usd = None
    if accelerator.price is not None:
        price_usd = accelerator.price.amount * rates[accelerator.price.currency]
    price_kusd = None if price_usd is None else price_usd / 1000.0
    return DerivedFigures(
        ridge_point_flop_per_byte=_ratio(tflops, accelerator.spec("memory_tb_s")),
        tflops_per_watt=_ratio(tflops, accelerator.spec("tdp_w")),
        price_usd=price_usd,
        tflops_per_kusd=_ratio(tflops, price_kusd),
        memory_gb_per_kusd=_ratio(accelerator.spec("memory_gb"), price_kusd),
    )
