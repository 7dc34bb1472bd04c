"""Calendar quarters: labels such as ``2026Q1`` and offsets between them."""

from __future__ import annotations

import re

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def parse_quarter(label: str) -> tuple[int, int]:
    """``"2026Q3"`` as ``(2026, 3)``; a ``ValueError`` names the expected form."""
    match = _QUARTER.match(label)
    if match is None:
        msg = f"a quarter must look like 2026Q1 (got {label!r})"
        raise ValueError(msg)
    return int(match.group(1)), int(match.group(2))


def quarter_index(label: str, start: str) -> int:
    """Quarters from ``start`` to ``label`` (0 for the start itself; negative before it)."""
    year, quarter = parse_quarter(label)
    start_year, start_quarter = parse_quarter(start)
    return (year - start_year) * 4 + (quarter - start_quarter)


def quarter_labels(start: str, count: int) -> list[str]:
    """``count`` consecutive labels from ``start``."""
    year, quarter = parse_quarter(start)
    labels = []
    for i in range(count):
        q = quarter - 1 + i
        labels.append(f"{year + q // 4}Q{q % 4 + 1}")
    return labels
