"""Sample paths for the optimiser: the simulator's own draws, reduced to what a plan meets.

For each sampled path the optimiser needs, per accelerator and quarter, whether supply is
open (approved and not revoked), the capacity offered (the least of the vendor's capacity and
the input pools the part draws on, as the simulator ships), the performance factor, and what
one unit ordered in a quarter will cost on that path: the prepayment at order and, if the
unit is ever delivered (the first open quarter at or after its arrival), the price, duty and
capex at delivery plus the running cost until the horizon's end. Draws come from
:func:`suanli.supply.simulate.draw_block` with the simulator's seeding, so the optimiser's
paths are exactly paths the simulator would play.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from suanli.errors import InfeasibleError
from suanli.supply.model import SupplyModel
from suanli.supply.run import Observation, Paths, consistent
from suanli.supply.simulate import BLOCK_PATHS, Draws, draw_block, offered_capacity, play

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Sample:
    """What the optimiser needs of S paths (arrays path axis last)."""

    open: NDArray[np.bool_]  # (A, T, S): deliveries possible
    capacity: FloatArray  # (A, T, S): units the vendor can ship
    perf: FloatArray  # (A, S): factor on useful work per chip
    unit_cost: FloatArray  # (A, T, S): all-in cost of one unit ordered in quarter t
    switch: NDArray[np.int64]  # (S,): first quarter whose orders know the signal's approval (T: never)
    kept_share: float  # share of drawn paths consistent with the observations

    @property
    def paths(self) -> int:
        """Paths in the sample."""
        return int(self.perf.shape[1])


def _concat(draws: Sequence[Draws]) -> Draws:
    def cat(arrays: Sequence[NDArray[np.float32]]) -> NDArray[np.float32]:
        width = max(a.shape[1] for a in arrays)
        return np.concatenate([np.broadcast_to(a, (a.shape[0], width)) for a in arrays], axis=1)

    return Draws(
        approve_at=np.concatenate([d.approve_at for d in draws], axis=1),
        revoke_at=np.concatenate([d.revoke_at for d in draws], axis=1),
        cap_factor=np.concatenate([d.cap_factor for d in draws], axis=1),
        constraint_factor=np.concatenate([d.constraint_factor for d in draws], axis=1),
        perf=np.concatenate([d.perf for d in draws], axis=1),
        price=[cat([d.price[a] for d in draws]) for a in range(len(draws[0].price))],
        duty=[cat([d.duty[a] for d in draws]) for a in range(len(draws[0].duty))],
    )


def _take(draws: Draws, keep: NDArray[np.bool_] | NDArray[np.int64]) -> Draws:
    def pick(array: NDArray[np.float32]) -> NDArray[np.float32]:
        return array if array.shape[1] == 1 else array[:, keep]

    return Draws(
        approve_at=draws.approve_at[:, keep],
        revoke_at=draws.revoke_at[:, keep],
        cap_factor=draws.cap_factor[:, keep],
        constraint_factor=draws.constraint_factor[:, keep],
        perf=draws.perf[:, keep],
        price=[pick(p) for p in draws.price],
        duty=[pick(d) for d in draws.duty],
    )


def draw_paths(
    model: SupplyModel, paths: int, seed: int, observations: Sequence[Observation] = ()
) -> tuple[Draws, float]:
    """``paths`` draws consistent with ``observations`` under ``model``'s own plan, and the kept share.

    Blocks are drawn in order until enough paths agree with what was observed.
    """
    chosen: list[Draws] = []
    kept = drawn = 0
    block = 0
    while kept < paths:
        draws = draw_block(model, seed, block)
        drawn += draws.paths
        if observations:
            mask = consistent(Paths.of(play(model, draws)), model, observations)
            draws = _take(draws, mask)
        chosen.append(draws)
        kept += draws.paths
        block += 1
        if block * BLOCK_PATHS > 50 * paths + 10 * BLOCK_PATHS and kept < paths:
            raise InfeasibleError(
                f"only {kept} of {drawn} paths agree with the observations; the prior all but rules out "
                "what happened"
            )
    draws = _concat(chosen)
    return _take(draws, np.arange(paths)), kept / drawn


def build_sample(model: SupplyModel, draws: Draws, kept_share: float = 1.0) -> Sample:
    """The optimiser's view of ``draws`` under ``model`` (its costs, capacities and signal)."""
    n_t, n_a = model.shape
    s = draws.paths
    t = np.arange(n_t)
    approve = draws.approve_at[:, None, :]  # (A, 1, S)
    revoke = draws.revoke_at[:, None, :]
    is_open = (approve <= t[None, :, None]) & (t[None, :, None] < revoke)  # (A, T, S)
    # The simulator's own limits, so that a plan the optimiser finds feasible ships the same.
    capacity = np.moveaxis(offered_capacity(model, draws, np.float64), 1, 0)  # (A, T, S)
    unit = np.zeros((n_a, n_t, s))
    for a in range(n_a):
        price = np.broadcast_to(draws.price[a].astype(np.float64), (n_t, s))
        duty = np.broadcast_to(draws.duty[a].astype(np.float64), (n_t, s))
        prepay = float(model.prepayment_share[a])
        # First open quarter at or after each quarter: where an order arriving then is shipped.
        first_open = np.full((n_t + 1, s), n_t, dtype=np.int64)
        for q in range(n_t - 1, -1, -1):
            first_open[q] = np.where(is_open[a, q], q, first_open[q + 1])
        lead = int(model.lead_time[a])
        for q in range(n_t):
            arrive = min(q + lead, n_t)
            ship = first_open[arrive]
            shipped = ship < n_t
            at = np.minimum(ship, n_t - 1)
            cols = np.arange(s)
            delivered_cost = price[at, cols] * (1.0 - prepay + model.capex_share[a] + duty[at, cols]) + (
                n_t - ship
            ) * float(model.opex_per_quarter[a])
            unit[a, q] = prepay * price[q] + np.where(shipped, delivered_cost, 0.0)
    switch = np.full(s, n_t, dtype=np.int64)
    if model.signal >= 0:
        switch = np.minimum(draws.approve_at[model.signal] + 1, n_t)
    return Sample(
        open=is_open,
        capacity=capacity,
        perf=draws.perf.astype(np.float64),
        unit_cost=unit,
        switch=switch,
        kept_share=kept_share,
    )
