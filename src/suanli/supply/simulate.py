"""Vectorised Monte Carlo of supply: paths x quarters x accelerators in NumPy.

Paths are simulated in fixed blocks of :data:`BLOCK_PATHS`; block ``b`` draws from its own
stream ``SeedSequence(seed, spawn_key=(b,))`` and always draws a full block, so the numbers
for a path depend only on the seed and the path's index, never on how blocks are grouped
into chunks, how many paths are asked for, or which executor runs them. Arrays keep the
path axis last (accelerator x path): the long, contiguous axis is the one NumPy loops over.
The only Python loops run over quarters, whose state (backlog, deliveries) carries forward,
and over the handful of accelerators when prices are applied.

Correlation: a per-path trade-tension factor ``Z ~ N(0, 1)`` enters each accelerator's
approval and revocation times through a Gaussian copula with correlation
``tension_loading``: high tension delays approval and hastens revocation together.

Capacity: a part ships at most the least of its limits each quarter: the vendor's capacity
(a mean-one log-normal factor per part and path) and each input pool it draws on (HBM
stacks, foundry wafers). A pool has one mean-one log-normal level per path,
``exp(-sigma z - sigma^2 / 2)`` with ``z = rho Z + sqrt(1 - rho^2) eps``: the same ``Z``
as the approvals, so tension that delays an import licence also tightens domestic inputs,
and the same ``eps`` for every part on the pool, so a bad HBM path is bad for all of them.
Which limit held back ordered units is recorded per path, quarter and part, so that a
result can say why a target was missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from suanli.supply.model import NEVER, SupplyModel

BLOCK_PATHS = 8192
F32 = np.float32


@dataclass(frozen=True)
class BlockResult:
    """Per-path outputs of one block (float32 to keep a million paths in a few hundred MB)."""

    first_path: int
    delivered: NDArray[np.float32]  # (T, A, P): units installed by the end of each quarter
    compute: NDArray[np.float32]  # (T, P): useful work installed (tokens/s)
    spend: NDArray[np.float32]  # (T, P): money paid in each quarter
    stranded_prepayment: NDArray[np.float32]  # (P,): prepaid for units never delivered
    approval_quarter: NDArray[np.int16]  # (A, P): NEVER where never approved
    limited_by: NDArray[np.int8]  # (T, A, P): index into model.limits of what held back units; -1: none
    held_work: NDArray[np.float32]  # (L, T, P): useful work of the units each limit held back

    @property
    def paths(self) -> int:
        """Paths in the block."""
        return int(self.compute.shape[1])

    def head(self, paths: int) -> BlockResult:
        """The first ``paths`` paths of the block."""
        if paths >= self.paths:
            return self
        return BlockResult(
            first_path=self.first_path,
            delivered=self.delivered[:, :, :paths],
            compute=self.compute[:, :paths],
            spend=self.spend[:, :paths],
            stranded_prepayment=self.stranded_prepayment[:paths],
            approval_quarter=self.approval_quarter[:, :paths],
            limited_by=self.limited_by[:, :, :paths],
            held_work=self.held_work[:, :, :paths],
        )


def block_generator(seed: int, block: int) -> np.random.Generator:
    """The random stream of block ``block`` under ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))


def _copula_uniform(
    rng: np.random.Generator, z: NDArray[np.float64], loading: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Uniforms (A, P) correlated with the shared factor ``z`` (P,) with correlation ``loading``."""
    eps = rng.standard_normal((loading.shape[0], z.shape[0]))
    mixed = loading[:, None] * z[None, :] + np.sqrt(1.0 - loading**2)[:, None] * eps
    return np.asarray(ndtr(mixed), dtype=np.float64)


def _approval_quarters(model: SupplyModel, u: NDArray[np.float64]) -> NDArray[np.int64]:
    """Inverse CDF of approval time per accelerator (rows of ``u``); ``NEVER`` past the horizon."""
    quarters = np.empty(u.shape, dtype=np.int64)
    for a, cdf in enumerate(model.approval_cdf):
        index = np.searchsorted(cdf, u[a], side="right")
        quarters[a] = np.where(index >= cdf.shape[0], NEVER, index)
    return quarters


def _revocation_quarters(
    model: SupplyModel, approve_at: NDArray[np.int64], u: NDArray[np.float64]
) -> NDArray[np.int64]:
    """First quarter without a licence: a geometric time after approval (``NEVER`` if no hazard)."""
    hazard = np.clip(model.revocation_hazard, 0.0, 1.0 - 1e-12)[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lasting = np.floor(np.log1p(-np.clip(u, 0.0, 1.0 - 1e-12)) / np.log1p(-hazard))
    lasting = np.where(hazard > 0, np.minimum(lasting, NEVER), NEVER).astype(np.int64)
    return np.minimum(approve_at + 1 + lasting, NEVER)


@dataclass(frozen=True)
class _Prices:
    """Price and duty per accelerator as (T, P) arrays, or (T, 1) where they do not vary."""

    price: list[NDArray[np.float32]]
    duty: list[NDArray[np.float32]]


def _prices(model: SupplyModel, rng: np.random.Generator, paths: int) -> _Prices:
    """Price and duty paths, drawn only for the accelerators where they vary.

    Prices drift per quarter around a log-normal level whose spread grows as sqrt(quarters);
    duty rises by discrete shocks, floored at zero.
    """
    n_t, n_a = model.shape
    steps = np.arange(1, n_t + 1, dtype=np.float64)[:, None]
    root = np.sqrt(steps).astype(F32)
    noisy = model.price_sigma > 0
    levels = rng.standard_normal((int(noisy.sum()), paths), dtype=F32)
    shocked = model.duty_shock_probability > 0
    draws = rng.random((int(shocked.sum()), n_t, paths), dtype=F32)
    prices, duties = [], []
    n, j = 0, 0
    for a in range(n_a):
        base = (model.price[a] * np.exp(model.price_drift[a] * steps)).astype(F32)  # (T, 1)
        if noisy[a]:
            base = base * np.exp(F32(model.price_sigma[a]) * root * levels[n][None, :])
            n += 1
        prices.append(base)
        duty = np.full((n_t, 1), model.duty[a], dtype=F32)
        if shocked[a]:
            hits = np.cumsum(draws[j] < F32(model.duty_shock_probability[a]), axis=0, dtype=np.int16)
            duty = np.maximum(duty + F32(model.duty_shock_size[a]) * hits, F32(0.0))
            j += 1
        duties.append(duty)
    return _Prices(price=prices, duty=duties)


@dataclass(frozen=True)
class Draws:
    """The uncertain quantities of a block of paths, independent of any order plan.

    Plans compared on the same draws differ only by what they order (common random numbers),
    and the optimiser builds its sample paths from the same draws the simulator plays.
    """

    approve_at: NDArray[np.int64]  # (A, P): first quarter with approval, NEVER if none
    revoke_at: NDArray[np.int64]  # (A, P): first quarter without a licence, NEVER if none
    cap_factor: NDArray[np.float32]  # (A, P): log-normal factor on the vendor's capacity
    constraint_factor: NDArray[np.float32]  # (C, P): log-normal level of each input pool
    perf: NDArray[np.float32]  # (A, P): log-normal factor on useful work per chip
    price: list[NDArray[np.float32]]  # A arrays (T, P) or (T, 1): chip price per quarter
    duty: list[NDArray[np.float32]]  # A arrays (T, P) or (T, 1): buyer-side duty share

    @property
    def paths(self) -> int:
        """Paths drawn."""
        return int(self.approve_at.shape[1])


def draw_block(model: SupplyModel, seed: int, block: int, paths: int = BLOCK_PATHS) -> Draws:
    """The uncertain quantities of the paths of block ``block`` (a full block unless ``paths`` says)."""
    rng = block_generator(seed, block)
    n_a = model.shape[1]
    z = rng.standard_normal(paths)
    approve_at = _approval_quarters(model, _copula_uniform(rng, z, model.tension_loading))
    # Tension hastens revocation, hence 1 - u.
    revoke_at = _revocation_quarters(model, approve_at, 1.0 - _copula_uniform(rng, z, model.tension_loading))
    sigma = model.capacity_sigma[:, None]
    cap_factor = np.exp(sigma * rng.standard_normal((n_a, paths)) - sigma**2 / 2).astype(F32)
    perf = np.exp(model.rate_sigma[:, None] * rng.standard_normal((n_a, paths))).astype(F32)
    prices = _prices(model, rng, paths)
    # Drawn last, so that a model without pools keeps the numbers it had before pools existed.
    n_c = len(model.constraints)
    pool_factor = np.ones((0, paths), dtype=F32)
    if n_c:
        eps = rng.standard_normal((n_c, paths))
        rho = model.constraint_loading[:, None]
        level = rho * z[None, :] + np.sqrt(1.0 - rho**2) * eps
        spread = model.constraint_sigma[:, None]
        pool_factor = np.exp(-spread * level - spread**2 / 2).astype(F32)
    return Draws(approve_at, revoke_at, cap_factor, pool_factor, perf, prices.price, prices.duty)


def offered(model: SupplyModel, draws: Draws, t: int, dtype: type[np.floating[Any]] = F32) -> NDArray[Any]:
    """Units each part can ship in quarter ``t`` on each path (A, P): the least of its limits.

    The vendor's capacity and each pool the part draws on (a pool's capacity is inf for the
    parts that do not). The simulator asks in float32, the optimiser in float64, each with the
    products it always computed. One quarter at a time: arrays of a block's (A, P) are reused
    by the allocator, while fresh (T, A, P) ones cost page faults that outweigh the arithmetic.
    """
    capacity = model.capacity[:, t].astype(dtype)[:, None] * draws.cap_factor.astype(dtype, copy=False)
    for c in range(len(model.constraints)):
        factor = draws.constraint_factor[c].astype(dtype, copy=False)
        np.minimum(capacity, model.constraint_capacity[c, :, t].astype(dtype)[:, None] * factor, out=capacity)
    return capacity


def offered_capacity(model: SupplyModel, draws: Draws, dtype: type[np.floating[Any]] = F32) -> NDArray[Any]:
    """:func:`offered` for every quarter: (T, A, P)."""
    return np.stack([offered(model, draws, t, dtype) for t in range(model.shape[0])])


def binding_limit(
    model: SupplyModel, draws: Draws, t: int, part: NDArray[np.intp], path: NDArray[np.intp]
) -> NDArray[np.int8]:
    """Index into :attr:`SupplyModel.limits` of the least limit of each (part, path) in quarter ``t``.

    Asked only where units were held back (a small share of path-quarters), with the same
    float32 products as :func:`offered`; a pool that only ties the vendor's capacity leaves
    the vendor named.
    """
    least = model.capacity[part, t].astype(F32) * draws.cap_factor[part, path]
    which = np.zeros(part.shape, dtype=np.int8)
    for c in range(len(model.constraints)):
        pool = model.constraint_capacity[c, part, t].astype(F32) * draws.constraint_factor[c, path]
        lower = pool < least
        least = np.where(lower, pool, least)
        which[lower] = 1 + c
    return which


def path_orders(model: SupplyModel, approve_at: NDArray[np.int64]) -> NDArray[np.float32] | None:
    """Orders per path (T, A, P) of a contingent plan; ``None`` for a static plan.

    Orders placed in quarter ``t`` follow ``orders_approved`` on paths where the signal
    accelerator was approved by the end of quarter ``t - 1`` (what the buyer knows when it
    orders), and ``orders`` elsewhere.
    """
    if model.orders_approved is None or model.signal < 0:
        return None
    n_t = model.shape[0]
    known = approve_at[model.signal][None, :] <= np.arange(n_t)[:, None] - 1  # (T, P)
    return np.where(
        known[:, None, :], model.orders_approved.astype(F32)[:, :, None], model.orders.astype(F32)[:, :, None]
    )


def simulate_block(model: SupplyModel, seed: int, block: int) -> BlockResult:
    """Simulate the :data:`BLOCK_PATHS` paths of block ``block``."""
    return play(model, draw_block(model, seed, block), block * BLOCK_PATHS)


def play(model: SupplyModel, draws: Draws, first_path: int = 0) -> BlockResult:
    """Deliveries, compute and spend of the model's order plan on ``draws``."""
    paths = draws.paths
    n_t, n_a = model.shape
    per_path = path_orders(model, draws.approve_at)
    orders = model.orders.astype(F32)[:, :, None] if per_path is None else per_path  # (T, A, 1 or P)
    arrivals = np.zeros((n_t, n_a, orders.shape[2]), dtype=F32)
    for a in range(n_a):
        lead = int(model.lead_time[a])
        arrivals[lead:, a] = orders[: n_t - lead, a]
    unit_work = draws.perf * model.rate_per_chip.astype(F32)[:, None]  # (A, P): useful work per unit
    out = _ship(model, draws, arrivals, unit_work)

    prepay = model.prepayment_share.astype(F32)
    at_delivery = (1.0 - prepay + model.capex_share).astype(F32)
    opex = model.opex_per_quarter.astype(F32)
    spend = np.zeros((n_t, paths), dtype=F32)
    prepaid = np.zeros((n_a, paths), dtype=F32)
    for a in range(n_a):
        price = draws.price[a]
        ordered = orders[:, a] * prepay[a] * price  # paid at order
        spend += (
            ordered
            + out.ship[:, a] * price * (at_delivery[a] + draws.duty[a])
            + out.delivered[:, a] * opex[a]
        )
        prepaid[a] = ordered.sum(axis=0)
    spend += _migration(model, orders, paths)
    compute = np.einsum("tap,ap->tp", out.delivered, unit_work)
    total_ordered = orders.sum(axis=0)  # (A, 1 or P)
    undelivered = np.clip(1.0 - out.shipped / np.maximum(total_ordered, 1e-30), 0.0, 1.0)
    return BlockResult(
        first_path=first_path,
        delivered=out.delivered,
        compute=compute.astype(F32),
        spend=spend,
        stranded_prepayment=(prepaid * undelivered).sum(axis=0).astype(F32),
        approval_quarter=np.minimum(draws.approve_at, NEVER).astype(np.int16),
        limited_by=out.limited_by,
        held_work=out.held_work,
    )


@dataclass(frozen=True)
class _Shipments:
    """What the quarter loop carries out: shipments, installed units, and what held units back."""

    ship: NDArray[np.float32]  # (T, A, P): units shipped in each quarter
    delivered: NDArray[np.float32]  # (T, A, P): units installed by the end of each quarter
    shipped: NDArray[np.float32]  # (A, P): units shipped over the horizon
    limited_by: NDArray[np.int8]  # (T, A, P): index into model.limits; -1 where nothing held units back
    held_work: NDArray[np.float32]  # (L, T, P): useful work of the units each limit held back


def _ship(
    model: SupplyModel, draws: Draws, arrivals: NDArray[np.float32], unit_work: NDArray[np.float32]
) -> _Shipments:
    """Quarter by quarter: backlog, the least limit, licence cap, revocation and stranding.

    Where ordered units that were free to ship are left waiting, the limit that held them
    back is named, and their useful work is added to that limit's account: with it, would the
    target have been met?
    """
    paths = draws.paths
    n_t, n_a = model.shape
    approve_at, revoke_at = draws.approve_at, draws.revoke_at
    licence = np.int8(len(model.limits) - 1)
    room = model.total_cap.astype(F32)[:, None]
    capped = bool(np.isfinite(model.total_cap).any())
    strand = model.strand_share.astype(F32)[:, None]
    strands = bool(np.any((model.strand_share > 0) & (model.revocation_hazard > 0)))

    pending = np.zeros((n_a, paths), dtype=F32)
    shipped = np.zeros((n_a, paths), dtype=F32)
    installed = np.zeros((n_a, paths), dtype=F32)
    ship = np.empty((n_t, n_a, paths), dtype=F32)
    delivered = np.empty((n_t, n_a, paths), dtype=F32)
    limited_by = np.full((n_t, n_a, paths), -1, dtype=np.int8)
    held_work = np.zeros((len(model.limits), n_t, paths), dtype=F32)
    licensed = None
    for t in range(n_t):
        pending += arrivals[t]
        standing = revoke_at > t
        open_now = standing & (approve_at <= t)
        capacity = offered(model, draws, t)
        now = np.minimum(pending, capacity)
        if capped:
            left = room - shipped
            np.minimum(now, left, out=now)
            licensed = (pending > left) & (left < capacity)
        now *= open_now
        pending -= now
        waiting = np.flatnonzero(pending * open_now)  # a small share: name the limit there only
        if waiting.size:
            part, path = np.divmod(waiting, paths)
            which = binding_limit(model, draws, t, part, path)
            if licensed is not None:
                which = np.where(licensed[part, path], licence, which)
            limited_by[t, part, path] = which
            np.add.at(held_work[:, t], (which, path), pending[part, path] * unit_work[part, path])
        pending *= standing  # a revoked licence cancels the backlog
        shipped += now
        installed += now
        if strands:  # shipped in the last quarter before a revocation: in transit, partly lost
            installed -= now * strand * (revoke_at == t + 1)
        ship[t] = now
        delivered[t] = installed
    return _Shipments(
        ship=ship, delivered=delivered, shipped=shipped, limited_by=limited_by, held_work=held_work
    )


def _migration(model: SupplyModel, orders: NDArray[np.float32], paths: int) -> NDArray[np.float32]:
    """One-off migration per stack, paid in the first quarter the plan orders any of its chips."""
    n_t = model.shape[0]
    out = np.zeros((n_t, paths), dtype=F32)
    for stack in dict.fromkeys(model.stack):
        members = [a for a, s in enumerate(model.stack) if s == stack]
        cost = max(float(model.migration[a]) for a in members)
        if cost <= 0:
            continue
        ordering = orders[:, members].sum(axis=1) > 0  # (T, 1 or P)
        first = ordering & (np.cumsum(ordering, axis=0) == 1)
        out += np.broadcast_to(first * F32(cost), (n_t, paths))
    return out
