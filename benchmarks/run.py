"""Benchmarks for suanli: print figures measured in one run (ratios where a baseline exists).

Run with ``make bench``. Nothing here is a pass/fail test: machines are shared and noisy.
"""

from __future__ import annotations

import timeit

from suanli.catalog import builtin_catalog, load_catalog
from suanli.economics.order import summarize_order
from suanli.scenario import load_scenario


def _per_second(statement: object, number: int) -> float:
    seconds = min(timeit.repeat(statement, number=number, repeat=5))  # type: ignore[arg-type]
    return number / seconds


def main() -> None:
    def cold() -> None:
        builtin_catalog.cache_clear()
        builtin_catalog()

    cold_rate = _per_second(cold, 5)
    warm_rate = _per_second(load_catalog, 2000)
    print(
        f"catalog: cold parse+validate {cold_rate:,.1f}/s, cached {warm_rate:,.0f}/s "
        f"(cache speed-up {warm_rate / cold_rate:,.0f}x)"
    )
    order = load_scenario().order
    print(f"order summaries: {_per_second(lambda: summarize_order(order), 2000):,.0f}/s")


if __name__ == "__main__":
    main()
