"""Order plans: units of each candidate ordered in each quarter, static or contingent.

A static plan orders the same on every path. A contingent (wait-then-switch) plan has two
books: ``orders`` for quarters in which the buyer does not yet know the import was approved,
and ``orders_approved`` for quarters after it learnt the approval (by the end of the previous
quarter). Orders placed in a quarter depend only on what is known then (non-anticipativity).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from suanli.supply.model import SupplyModel

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Plan:
    """Units ordered per quarter (rows) and accelerator (columns)."""

    name: str
    orders: FloatArray  # (T, A); the book while approval is not known
    orders_approved: FloatArray | None = None  # (T, A); the book once it is
    signal: int = -1  # index of the accelerator whose approval switches books

    @property
    def contingent(self) -> bool:
        """Whether orders depend on the approval state."""
        return self.orders_approved is not None and self.signal >= 0

    def apply(self, model: SupplyModel) -> SupplyModel:
        """``model`` ordering this plan."""
        return dataclasses.replace(
            model,
            orders=self.orders,
            orders_approved=self.orders_approved if self.contingent else None,
            signal=self.signal if self.contingent else -1,
        )

    def as_dict(self, accelerators: Sequence[str], quarters: Sequence[str]) -> dict[str, dict[str, float]]:
        """``{accelerator: {quarter: units}}`` of the static book, leaving out zeros."""
        return book_dict(self.orders, accelerators, quarters)

    def approved_dict(
        self, accelerators: Sequence[str], quarters: Sequence[str]
    ) -> dict[str, dict[str, float]] | None:
        """The approved book as a dict, or ``None`` for a static plan."""
        if self.orders_approved is None:
            return None
        return book_dict(self.orders_approved, accelerators, quarters)


def book_dict(
    orders: FloatArray, accelerators: Sequence[str], quarters: Sequence[str]
) -> dict[str, dict[str, float]]:
    """``{accelerator: {quarter: units}}`` of ``orders`` (T, A), leaving out zeros."""
    out: dict[str, dict[str, float]] = {}
    for a, accelerator in enumerate(accelerators):
        row = {quarters[t]: float(orders[t, a]) for t in range(len(quarters)) if orders[t, a] > 0}
        if row:
            out[accelerator] = row
    return out


def plan_from_dict(
    name: str,
    orders: Mapping[str, Mapping[str, float]],
    accelerators: Sequence[str],
    quarters: Sequence[str],
) -> Plan:
    """A static plan from ``{accelerator: {quarter: units}}`` (quarters outside are ignored)."""
    matrix = np.zeros((len(quarters), len(accelerators)))
    index = {q: t for t, q in enumerate(quarters)}
    for a, accelerator in enumerate(accelerators):
        for quarter, units in orders.get(accelerator, {}).items():
            if quarter in index:
                matrix[index[quarter], a] += units
    return Plan(name=name, orders=matrix)
