"""Plans a user recognises, to hold the recommendation against.

``as written`` (the scenario's own plan), ``all import`` (its imported orders only: the
announced order), ``all domestic`` (domestic candidates sized to the target and ordered as
fast as their median capacity allows) and ``hedge`` (the announced imports plus domestic
chips sized to half the target). Orders in quarters already past stay as they were.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from suanli.decide.plans import Plan
from suanli.supply.model import SupplyModel

FloatArray = NDArray[np.float64]


def domestic_sized(
    model: SupplyModel, imported: NDArray[np.bool_], lots: NDArray[np.int64], share: float, start: int
) -> FloatArray:
    """Domestic orders (T, A) that install ``share`` of the target at median capacity and performance.

    The work is split across domestic candidates in proportion to their median capacity times
    useful work per chip, and each is ordered from quarter ``start`` on, no faster than its
    median capacity, in whole lots.
    """
    n_t, n_a = model.shape
    orders = np.zeros((n_t, n_a))
    domestic = ~imported & (model.rate_per_chip > 0)
    if not domestic.any() or model.target.max() <= 0:
        return orders
    pace = model.capacity.mean(axis=1) * model.rate_per_chip * domestic
    if pace.sum() <= 0:
        return orders
    need = share * model.target.max() * pace / pace.sum() / np.maximum(model.rate_per_chip, 1e-30)
    for a in np.flatnonzero(domestic):
        left = need[a]
        for t in range(start, n_t - int(model.lead_time[a])):
            if left <= 0:
                break
            now = min(left, float(model.capacity[a, t]))
            orders[t, a] = now
            left -= now
        orders[:, a] = np.ceil(orders[:, a] / lots[a]) * lots[a]
    return orders


def baselines(
    model: SupplyModel, imported: NDArray[np.bool_], lots: NDArray[np.int64], fixed_quarters: int
) -> list[tuple[Plan, str]]:
    """The baseline plans with a one-line description each."""
    written = model.orders.copy()
    imports = written * imported[None, :]
    past = np.zeros_like(written)
    past[:fixed_quarters] = written[:fixed_quarters]

    def keep_past(orders: FloatArray) -> FloatArray:
        orders = orders.copy()
        orders[:fixed_quarters] = past[:fixed_quarters]
        return orders

    domestic = domestic_sized(model, imported, lots, 1.0, fixed_quarters)
    half = domestic_sized(model, imported, lots, 0.5, fixed_quarters)
    return [
        (Plan("as written", written), "the scenario's own order plan"),
        (Plan("all import", keep_past(imports)), "the plan's imported orders only (the announced order)"),
        (
            Plan("all domestic", keep_past(past * ~imported[None, :] + domestic)),
            "domestic chips sized to the target at median capacity and performance",
        ),
        (
            Plan("hedge", keep_past(imports + half)),
            "the announced imports plus domestic chips sized to half the target",
        ),
    ]
