"""Vectorised Monte Carlo of supply: paths x quarters x accelerators in NumPy.

Paths are simulated in fixed blocks of :data:`BLOCK_PATHS`; block ``b`` draws from its own
stream ``SeedSequence(seed, spawn_key=(b,))``, so the numbers for a path depend only on the
seed and the path's index, never on how blocks are grouped into chunks or which executor runs
them. Within a block every draw is an array over paths and accelerators; the only Python
loop runs over quarters, whose state (backlog, cumulative deliveries) carries forward.

Correlation: a per-path trade-tension factor ``Z ~ N(0, 1)`` enters each accelerator's
approval and revocation times through a Gaussian copula with correlation
``tension_loading``: high tension delays approval and hastens revocation together.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    delivered: NDArray[np.float32]  # (P, T, A): units installed by the end of each quarter
    compute: NDArray[np.float32]  # (P, T): useful work installed (tokens/s)
    spend: NDArray[np.float32]  # (P, T): money paid in each quarter
    stranded_prepayment: NDArray[np.float32]  # (P,): prepaid for units never delivered
    approval_quarter: NDArray[np.int16]  # (P, A): NEVER where never approved

    def head(self, paths: int) -> BlockResult:
        """The first ``paths`` paths of the block."""
        if paths >= self.compute.shape[0]:
            return self
        return BlockResult(
            first_path=self.first_path,
            delivered=self.delivered[:paths],
            compute=self.compute[:paths],
            spend=self.spend[:paths],
            stranded_prepayment=self.stranded_prepayment[:paths],
            approval_quarter=self.approval_quarter[:paths],
        )


def block_generator(seed: int, block: int) -> np.random.Generator:
    """The random stream of block ``block`` under ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))


def _copula_uniform(
    rng: np.random.Generator, z: NDArray[np.float64], loading: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Uniforms correlated with the shared factor ``z`` (shape (P, 1)) with correlation ``loading``."""
    eps = rng.standard_normal((z.shape[0], loading.shape[0]))
    return np.asarray(ndtr(loading * z + np.sqrt(1.0 - loading**2) * eps), dtype=np.float64)


def _approval_quarters(model: SupplyModel, u: NDArray[np.float64]) -> NDArray[np.int64]:
    """Inverse CDF of approval time per accelerator; ``NEVER`` past the last quarter."""
    quarters = np.empty(u.shape, dtype=np.int64)
    for a in range(u.shape[1]):
        cdf = model.approval_cdf[a]
        index = np.searchsorted(cdf, u[:, a], side="right")
        quarters[:, a] = np.where(index >= cdf.shape[0], NEVER, index)
    return quarters


def _price_and_duty(
    model: SupplyModel, rng: np.random.Generator, paths: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Price and duty, shape (paths or 1, quarters, accelerators); random only where they vary."""
    n_t, n_a = model.shape
    steps = np.arange(1, n_t + 1)[None, :, None]
    price = (model.price * np.exp(model.price_drift * steps)).astype(F32)
    noisy = np.flatnonzero(model.price_sigma > 0)
    if noisy.size:
        walk = np.cumsum(rng.standard_normal((paths, n_t, noisy.size), dtype=F32), axis=1)
        price = np.repeat(price, paths, axis=0)
        price[:, :, noisy] *= np.exp(model.price_sigma[noisy].astype(F32) * walk)
    duty = np.broadcast_to(model.duty.astype(F32), (1, n_t, n_a))
    shocked = np.flatnonzero(model.duty_shock_probability > 0)
    if shocked.size:
        draws = rng.random((paths, n_t, shocked.size), dtype=F32)
        hits = np.cumsum(draws < model.duty_shock_probability[shocked], axis=1)
        duty = np.repeat(duty, paths, axis=0)
        duty[:, :, shocked] = np.maximum(model.duty[shocked] + model.duty_shock_size[shocked] * hits, 0.0)
    return price, duty


def simulate_block(model: SupplyModel, seed: int, block: int, paths: int) -> BlockResult:
    """Simulate ``paths`` paths of block ``block`` (paths ``block * BLOCK_PATHS`` onwards)."""
    rng = block_generator(seed, block)
    n_t, n_a = model.shape
    z = rng.standard_normal((paths, 1))
    approve_at = _approval_quarters(model, _copula_uniform(rng, z, model.tension_loading))
    # Revocation: geometric time after approval, hastened by tension (hence 1 - u).
    u_rev = 1.0 - _copula_uniform(rng, z, model.tension_loading)
    hazard = np.clip(model.revocation_hazard, 0.0, 1.0 - 1e-12)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lasting = np.floor(np.log1p(-np.clip(u_rev, 0.0, 1.0 - 1e-12)) / np.log1p(-hazard))
    lasting = np.where(hazard > 0, np.minimum(lasting, NEVER), NEVER).astype(np.int64)
    revoke_at = np.minimum(approve_at + 1 + lasting, NEVER)
    sigma = model.capacity_sigma
    cap_factor = np.exp(sigma * rng.standard_normal((paths, n_a)) - sigma**2 / 2).astype(F32)
    perf = np.exp(model.rate_sigma * rng.standard_normal((paths, n_a))).astype(F32)
    price, duty = _price_and_duty(model, rng, paths)
    arrivals = np.zeros((n_t, n_a), dtype=F32)
    for a in range(n_a):
        lead = int(model.lead_time[a])
        arrivals[lead:, a] = model.orders[: n_t - lead, a]
    capacity = model.capacity.T.astype(F32)  # (T, A)
    total_cap = model.total_cap.astype(F32)
    strands = bool(np.any((model.strand_share > 0) & (model.revocation_hazard > 0)))
    strand = model.strand_share.astype(F32)

    capped = bool(np.isfinite(total_cap).any())
    pending = np.zeros((paths, n_a), dtype=F32)
    shipped_total = np.zeros((paths, n_a), dtype=F32)
    installed = np.zeros((paths, n_a), dtype=F32)
    delivered = np.empty((paths, n_t, n_a), dtype=F32)
    ship = np.empty((paths, n_t, n_a), dtype=F32)
    for t in range(n_t):
        pending += arrivals[t]
        standing = revoke_at > t
        now = np.minimum(pending, capacity[t] * cap_factor)
        if capped:
            np.minimum(now, total_cap - shipped_total, out=now)
        now *= standing & (approve_at <= t)
        pending -= now
        pending *= standing  # a revoked licence cancels the backlog
        shipped_total += now
        ship[:, t] = now
        installed += now
        if strands:  # shipped in the last quarter before a revocation: in transit, partly lost
            installed -= now * strand * (revoke_at == t + 1)
        delivered[:, t] = installed
    prepay = model.prepayment_share.astype(F32)
    orders = model.orders.astype(F32)
    order_cost = (
        np.einsum("ta,pta->pt", orders * prepay, price)
        if price.shape[0] > 1
        else np.broadcast_to((orders * prepay * price[0]).sum(axis=1), (paths, n_t))
    )
    delivery_cost = np.einsum("pta,pta->pt", ship, price * ((1.0 - prepay) + duty))
    compute = np.einsum("pta,pa->pt", delivered, perf * model.rate_per_chip.astype(F32))
    ordered = orders.sum(axis=0)
    never_delivered = np.clip(1.0 - shipped_total / np.maximum(ordered, 1e-30), 0.0, 1.0)
    prepaid = (orders * prepay * price).sum(axis=1)  # (paths or 1, A)
    return BlockResult(
        first_path=block * BLOCK_PATHS,
        delivered=delivered,
        compute=compute.astype(F32),
        spend=(order_cost + delivery_cost).astype(F32),
        stranded_prepayment=(prepaid * never_delivered).sum(axis=1).astype(F32),
        approval_quarter=np.minimum(approve_at, NEVER).astype(np.int16),
    )
