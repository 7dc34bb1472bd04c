"""The supply model in array form: what the vectorised simulator consumes.

:func:`compile_supply` turns scenario data (processes per accelerator, an order plan, the
per-chip throughput from the performance model) into fixed-shape NumPy arrays over
quarters x accelerators, so that the simulator never looks at a pydantic object.

Constraints (binding inputs such as HBM stacks or foundry wafers) become pools: one row per
distinct name, with the chips each pool allows each accelerator per quarter. A pool named
by several accelerators is one random process, so its pool-level figures must agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from suanli.economics.unit_cost import UnitCosts
from suanli.errors import InputValueError
from suanli.supply.process import RESERVED_LIMITS, Constraint, Supply
from suanli.supply.quarters import quarter_index

FloatArray = NDArray[np.float64]
NEVER = 10_000  # a quarter index standing for "never"


@dataclass(frozen=True)
class SupplyModel:
    """Arrays for A accelerators over T quarters (index 0 = the scenario's first quarter)."""

    accelerators: tuple[str, ...]
    quarters: tuple[str, ...]
    approval_cdf: FloatArray  # (A, T): P(approved by the end of quarter t); 1 - last = never
    revocation_hazard: FloatArray  # (A,)
    strand_share: FloatArray  # (A,)
    capacity: FloatArray  # (A, T): mean units per quarter (the per-path factor has mean one)
    capacity_sigma: FloatArray  # (A,)
    total_cap: FloatArray  # (A,), inf where none
    constraints: tuple[str, ...]  # (C,): names of the input pools (HBM, foundry wafers)
    constraint_capacity: FloatArray  # (C, A, T): mean chips pool c allows accelerator a; inf if unused
    constraint_sigma: FloatArray  # (C,): log-spread of each pool's per-path level
    constraint_loading: FloatArray  # (C,): correlation of each pool with the tension factor, in [-1, 1]
    lead_time: NDArray[np.int64]  # (A,)
    orders: FloatArray  # (T, A): units requested per quarter
    price: FloatArray  # (A,): base price per unit, scenario currency
    price_drift: FloatArray  # (A,)
    price_sigma: FloatArray  # (A,)
    duty: FloatArray  # (A,)
    duty_shock_probability: FloatArray  # (A,)
    duty_shock_size: FloatArray  # (A,)
    prepayment_share: FloatArray  # (A,)
    tension_loading: FloatArray  # (A,), correlation with the shared factor, in [-1, 1]
    rate_per_chip: FloatArray  # (A,): useful work per chip (tokens/s on the scenario workload)
    rate_sigma: FloatArray  # (A,): log-spread of the performance prediction
    target: FloatArray  # (T,): required useful work per quarter (0 where no target)
    capex_share: FloatArray  # (A,): capex paid at delivery beyond the chip, as a share of its price
    opex_per_quarter: FloatArray  # (A,): running cost of one installed chip per quarter
    migration: FloatArray  # (A,): one-off software migration, paid once per stack at its first order
    stack: tuple[str, ...]  # (A,): software stack of each accelerator
    orders_approved: FloatArray | None = None  # (T, A): orders instead of ``orders`` once approved
    signal: int = -1  # accelerator whose approval (by the end of the previous quarter) switches plans

    @property
    def shape(self) -> tuple[int, int]:
        """``(quarters, accelerators)``."""
        return len(self.quarters), len(self.accelerators)

    @property
    def limits(self) -> tuple[str, ...]:
        """What can hold back a shipment: the vendor's capacity, each pool, then the licence cap.

        The simulator reports, per path, quarter and accelerator, the index into this tuple
        of the limit that held back ordered units.
        """
        return (RESERVED_LIMITS[0], *self.constraints, RESERVED_LIMITS[1])

    def limits_of(self, accelerator: int) -> list[int]:
        """Indices into :attr:`limits` that can bind on ``accelerator``."""
        used = [
            1 + c
            for c in range(len(self.constraints))
            if np.isfinite(self.constraint_capacity[c, accelerator]).any()
        ]
        capped = [len(self.limits) - 1] if np.isfinite(self.total_cap[accelerator]) else []
        return [0, *used, *capped]


def approval_cdf(supply: Supply, quarters: Sequence[str]) -> FloatArray:
    """P(approved by the end of each quarter) for one accelerator."""
    approval = supply.approval
    start = quarters[0]
    t = np.arange(len(quarters))
    if approval.approved:
        return np.ones(len(quarters))
    if approval.from_ is not None:
        msg = f"approval from {approval.from_} must be resolved to by_quarter before compiling"
        raise ValueError(msg)
    if approval.by_quarter is not None:
        mass = np.zeros(len(quarters))
        for label, p in approval.by_quarter.items():
            mass[min(max(quarter_index(label, start), 0), len(quarters) - 1)] += p
        return np.cumsum(mass)
    first = max(0, quarter_index(approval.first_quarter or start, start))
    h = float(approval.hazard_per_quarter or 0.0)
    reached = np.clip(t - first + 1, 0, None)
    return np.asarray((1.0 - approval.never_share) * (1.0 - (1.0 - h) ** reached), dtype=np.float64)


def _pools(
    supplies: Mapping[str, Supply], quarters: Sequence[str]
) -> tuple[tuple[str, ...], FloatArray, FloatArray, FloatArray]:
    """Names, capacities (C, A, T), spreads and loadings of the constraint pools.

    A pool's figures are taken from the first accelerator that names it; every other one
    must state the same, since they describe one process.
    """
    ids = list(supplies)
    first: dict[str, tuple[str, Constraint]] = {}
    for acc in ids:
        for name, constraint in supplies[acc].capacity.constraints.items():
            if name not in first:
                first[name] = (acc, constraint)
                continue
            owner, pool = first[name]
            for key in Constraint.POOL_FIELDS:
                if getattr(constraint, key) != getattr(pool, key):
                    raise InputValueError(
                        f"{getattr(constraint, key)!r} differs from {getattr(pool, key)!r} given for "
                        f"{owner}: parts that name the pool {name!r} share one process",
                        field=f"supply.{acc}.capacity.constraints.{name}.{key}",
                    )
    names = tuple(first)
    n_q = len(quarters)
    capacity = np.full((len(names), len(ids), n_q), np.inf)
    for c, name in enumerate(names):
        pool = first[name][1]
        begin = quarter_index(pool.start or quarters[0], quarters[0])
        growth = (1.0 + pool.growth_per_quarter) ** (np.arange(n_q) - begin)
        for a, acc in enumerate(ids):
            cap = supplies[acc].capacity
            if name in cap.constraints:
                capacity[c, a] = cap.constraints[name].chips_per_quarter(cap.buyer_share or 1.0) * growth
    sigma = np.array([first[n][1].sigma for n in names], dtype=np.float64)
    loading = np.array([first[n][1].tension_loading for n in names], dtype=np.float64)
    return names, capacity, sigma, loading


def compile_supply(
    supplies: Mapping[str, Supply],
    quarters: Sequence[str],
    *,
    orders: Mapping[str, Mapping[str, float]],
    prices: Mapping[str, float],
    prepayment: Mapping[str, float],
    rates: Mapping[str, tuple[float, float]],
    target: Sequence[float],
    costs: Mapping[str, UnitCosts] | None = None,
    tension_scale: float = 1.0,
) -> SupplyModel:
    """Arrays for the simulator.

    ``orders[acc][quarter]`` are units requested; ``rates[acc]`` is (useful work per chip,
    log-spread); ``target`` the required work per quarter; ``costs[acc]`` the all-in cost
    beyond the chip price (none: the chip price alone); ``tension_scale`` multiplies every
    loading on the shared tension factor, the accelerators' and the constraint pools'.
    """
    ids = tuple(supplies)
    start = quarters[0]
    n_q = len(quarters)
    capacity = np.zeros((len(ids), n_q))
    plan = np.zeros((n_q, len(ids)))
    for a, acc in enumerate(ids):
        cap = supplies[acc].capacity
        begin = quarter_index(cap.start, start)
        for t in range(max(begin, 0), n_q):
            capacity[a, t] = cap.base * (1.0 + cap.growth_per_quarter) ** (t - begin)
        for label, units in orders.get(acc, {}).items():
            index = quarter_index(label, start)
            if 0 <= index < n_q:
                plan[index, a] += units
    field = np.array
    pools, pool_capacity, pool_sigma, pool_loading = _pools(supplies, quarters)
    costs = costs or {}
    free = UnitCosts(capex_share=0.0, opex_per_quarter=0.0, migration=0.0, stack="")
    unit = [costs.get(a, free) for a in ids]
    return SupplyModel(
        accelerators=ids,
        quarters=tuple(quarters),
        approval_cdf=np.stack([approval_cdf(supplies[a], quarters) for a in ids]),
        revocation_hazard=field([supplies[a].revocation.hazard_per_quarter for a in ids]),
        strand_share=field([supplies[a].revocation.strand_share for a in ids]),
        capacity=capacity,
        capacity_sigma=field([supplies[a].capacity.sigma for a in ids]),
        total_cap=field(
            [
                np.inf if supplies[a].capacity.total_cap is None else supplies[a].capacity.total_cap
                for a in ids
            ]
        ),
        constraints=pools,
        constraint_capacity=pool_capacity,
        constraint_sigma=pool_sigma,
        constraint_loading=np.clip(tension_scale * pool_loading, -1.0, 1.0),
        lead_time=field([supplies[a].lead_time_quarters for a in ids], dtype=np.int64),
        orders=plan,
        price=field([prices.get(a, 0.0) for a in ids]),
        price_drift=field([supplies[a].price.drift_per_quarter for a in ids]),
        price_sigma=field([supplies[a].price.sigma_per_quarter for a in ids]),
        duty=field([supplies[a].price.duty_share for a in ids]),
        duty_shock_probability=field([supplies[a].price.duty_shock_probability for a in ids]),
        duty_shock_size=field([supplies[a].price.duty_shock_size for a in ids]),
        prepayment_share=field([prepayment.get(a, 0.0) for a in ids]),
        tension_loading=np.clip(
            tension_scale * field([supplies[a].tension_loading for a in ids], dtype=np.float64), -1.0, 1.0
        ),
        rate_per_chip=field([rates[a][0] for a in ids]),
        rate_sigma=field([rates[a][1] for a in ids]),
        target=np.asarray(target, dtype=np.float64),
        capex_share=field([u.capex_share for u in unit], dtype=np.float64),
        opex_per_quarter=field([u.opex_per_quarter for u in unit], dtype=np.float64),
        migration=field([u.migration for u in unit], dtype=np.float64),
        stack=tuple(u.stack or a for u, a in zip(unit, ids, strict=True)),
    )
