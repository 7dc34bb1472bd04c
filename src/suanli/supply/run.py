"""Run the simulator in chunks on an executor and summarise the paths.

Outputs per quarter: percentiles (P5/P50/P95) of delivered units per accelerator and of
installed useful compute, the probability of meeting the target, capacity at risk (the mean
compute of the worst 5 % of paths, and the shortfall of that mean from the target), and the
spending distribution, and why supply fell short: per part, how often each limit (the
vendor's capacity, an input pool such as HBM or foundry wafers, the licence cap) held back
ordered units, and how many paths missed the target in a quarter in which the units it held
back would have met it (missed "for supply reasons"). Observed events condition the paths:
only those consistent with every observation are summarised, and the share that was
consistent is reported as the probability the scenario's prior gave to what happened.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from suanli.errors import InfeasibleError, InputValueError
from suanli.supply.executors import Executor, LocalExecutor
from suanli.supply.model import SupplyModel
from suanli.supply.quarters import quarter_index
from suanli.supply.simulate import BLOCK_PATHS, BlockResult, simulate_block

PERCENTILES = (5, 50, 95)
TAIL = 0.05


class Observation(BaseModel):
    """Something observed after a scenario's ``as_of`` date that the paths must agree with."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    accelerator: str
    quarter: str = Field(description="Through the end of this quarter.")
    delivered_at_most: float | None = Field(default=None, ge=0)
    delivered_at_least: float | None = Field(default=None, ge=0)
    approved: bool | None = Field(default=None, description="Approved by the end of the quarter, or not.")
    source: str = Field(min_length=3)
    note: str | None = None


@dataclass(frozen=True)
class Paths:
    """Per-path outputs of a run, paths last so that per-quarter statistics read contiguous rows."""

    delivered: NDArray[np.float32]  # (T, A, P)
    compute: NDArray[np.float32]  # (T, P)
    spend: NDArray[np.float32]  # (T, P)
    stranded_prepayment: NDArray[np.float32]  # (P,)
    approval_quarter: NDArray[np.int16]  # (A, P)
    limited_by: NDArray[np.int8]  # (T, A, P): index into model.limits of what held back units; -1: none
    held_work: NDArray[np.float32]  # (L, T, P): useful work of the units each limit held back

    @staticmethod
    def of(block: BlockResult) -> Paths:
        """The paths of one simulated block."""
        return Paths(
            block.delivered,
            block.compute,
            block.spend,
            block.stranded_prepayment,
            block.approval_quarter,
            block.limited_by,
            block.held_work,
        )

    def select(self, which: slice | NDArray[np.bool_] | NDArray[np.int64]) -> Paths:
        """The paths picked by ``which`` (a slice, mask or indices along the path axis)."""
        return Paths(
            delivered=self.delivered[:, :, which],
            compute=self.compute[:, which],
            spend=self.spend[:, which],
            stranded_prepayment=self.stranded_prepayment[which],
            approval_quarter=self.approval_quarter[:, which],
            limited_by=self.limited_by[:, :, which],
            held_work=self.held_work[:, :, which],
        )


def _chunk(model: SupplyModel, seed: int, paths: int, blocks: Sequence[int]) -> list[BlockResult]:
    # Every block draws all its paths, so a path's numbers never depend on the run's length.
    return [simulate_block(model, seed, b).head(paths - b * BLOCK_PATHS) for b in blocks]


def simulate_paths(
    model: SupplyModel,
    paths: int,
    seed: int,
    *,
    executor: Executor | None = None,
    chunk_paths: int = 65_536,
    progress: Callable[[int], None] | None = None,
) -> Paths:
    """Simulate ``paths`` paths; the result depends only on ``model``, ``paths`` and ``seed``."""
    if paths < 1:
        raise InputValueError(f"must be >= 1 (got {paths})", field="paths")
    if seed < 0:
        raise InputValueError(f"must be >= 0 (got {seed})", field="seed")
    blocks = list(range(-(-paths // BLOCK_PATHS)))
    per_chunk = max(1, chunk_paths // BLOCK_PATHS)
    chunks = [blocks[i : i + per_chunk] for i in range(0, len(blocks), per_chunk)]
    own = executor is None
    runner = executor or LocalExecutor()
    n_t, n_a = model.shape
    out = Paths(
        delivered=np.empty((n_t, n_a, paths), dtype=np.float32),
        compute=np.empty((n_t, paths), dtype=np.float32),
        spend=np.empty((n_t, paths), dtype=np.float32),
        stranded_prepayment=np.empty(paths, dtype=np.float32),
        approval_quarter=np.empty((n_a, paths), dtype=np.int16),
        limited_by=np.empty((n_t, n_a, paths), dtype=np.int8),
        held_work=np.empty((len(model.limits), n_t, paths), dtype=np.float32),
    )
    try:
        for chunk in runner.map(partial(_chunk, model, seed, paths), chunks):
            for r in chunk:
                rows = slice(r.first_path, r.first_path + r.paths)
                out.delivered[:, :, rows] = r.delivered
                out.compute[:, rows] = r.compute
                out.spend[:, rows] = r.spend
                out.stranded_prepayment[rows] = r.stranded_prepayment
                out.approval_quarter[:, rows] = r.approval_quarter
                out.limited_by[:, :, rows] = r.limited_by
                out.held_work[:, :, rows] = r.held_work
            if progress is not None:
                progress(sum(r.paths for r in chunk))
    finally:
        if own:
            runner.close()
    return out


def consistent(paths: Paths, model: SupplyModel, observations: Sequence[Observation]) -> NDArray[np.bool_]:
    """Mask of paths that agree with every observation."""
    mask = np.ones(paths.compute.shape[1], dtype=bool)
    for obs in observations:
        if obs.accelerator not in model.accelerators:
            raise InputValueError(
                f"observation of {obs.accelerator!r}, which the scenario does not simulate",
                field="observations",
            )
        a = model.accelerators.index(obs.accelerator)
        t = quarter_index(obs.quarter, model.quarters[0])
        if not 0 <= t < len(model.quarters):
            raise InputValueError(
                f"observation quarter {obs.quarter} is outside the horizon", field="observations"
            )
        if obs.delivered_at_most is not None:
            mask &= paths.delivered[t, a] <= obs.delivered_at_most
        if obs.delivered_at_least is not None:
            mask &= paths.delivered[t, a] >= obs.delivered_at_least
        if obs.approved is not None:
            approved = paths.approval_quarter[a] <= t
            mask &= approved if obs.approved else ~approved
    return mask


class Band(BaseModel):
    """P5, P50 and P95 of a quantity per quarter."""

    model_config = ConfigDict(frozen=True)

    p5: list[float]
    p50: list[float]
    p95: list[float]
    mean: list[float]


class SimulationResult(BaseModel):
    """What ``suanli simulate`` returns."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    quarters: list[str]
    accelerators: list[str]
    paths: int
    paths_kept: int
    p_observed: float | None  # share of prior paths consistent with the observations
    seed: int
    executor: str
    seconds: float
    paths_per_s: float
    path_quarter_accelerators_per_s: float
    target: list[float]
    compute_unit: str
    delivered: dict[str, Band]
    compute: Band
    p_meet_target: list[float]
    capacity_at_risk: list[float]  # mean compute of the worst ``tail`` share of paths
    tail: float
    shortfall_at_risk: list[float]  # target minus that mean, floored at 0
    p_none_delivered: dict[str, list[float]]
    p_approved: dict[str, list[float]]
    cost: dict[str, float]
    spend: Band
    currency: str
    # Why supply fell short. Limits are "vendor" (the vendor's capacity), each input pool
    # (e.g. "hbm", "smic-n2") and "total_cap" (a licence cap).
    # Per accelerator and limit that can bind on it: the share of path-quarters in which that
    # limit was the least and held back ordered units.
    binding_share: dict[str, dict[str, float]]
    # Per limit, and "any": the share of paths that miss the target in some quarter in which the
    # units that limit held back (ordered, free to ship, not shipped) would have met it: "missed
    # the target for supply reasons: HBM in N % of paths".
    p_miss_for_supply: dict[str, float]


def row_quantiles(values: NDArray[np.float32], shares: Sequence[float]) -> NDArray[np.float64]:
    """Quantiles along the last axis (paths), by partial sorts of contiguous rows on threads.

    Interpolates linearly between order statistics, as ``np.quantile`` does by default.
    """
    rows = np.ascontiguousarray(values.reshape(-1, values.shape[-1]))
    n = rows.shape[1]
    positions = np.asarray(shares) * (n - 1)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    weight = positions - below
    kth = np.unique(np.concatenate([below, above]))

    def one(row: NDArray[np.float32]) -> NDArray[np.float64]:
        part = np.partition(row, kth)
        return np.asarray(part[below] * (1 - weight) + part[above] * weight, dtype=np.float64)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        result = np.stack(list(pool.map(one, rows)))
    return result.reshape((*values.shape[:-1], len(shares)))


def _band(values: NDArray[np.float32]) -> Band:
    """P5/P50/P95 and mean of (quarters, paths) values."""
    q = row_quantiles(values, [p / 100 for p in PERCENTILES])
    return Band(
        p5=q[:, 0].tolist(), p50=q[:, 1].tolist(), p95=q[:, 2].tolist(), mean=values.mean(axis=-1).tolist()
    )


def _bands(delivered: NDArray[np.float32], accelerators: Sequence[str]) -> dict[str, Band]:
    """P5/P50/P95 and mean of (quarters, accelerators, paths) deliveries, per accelerator."""
    q = row_quantiles(delivered, [p / 100 for p in PERCENTILES])  # (T, A, 3)
    mean = delivered.mean(axis=-1)
    return {
        acc: Band(
            p5=q[:, a, 0].tolist(), p50=q[:, a, 1].tolist(), p95=q[:, a, 2].tolist(), mean=mean[:, a].tolist()
        )
        for a, acc in enumerate(accelerators)
    }


def _supply_reasons(
    limited_by: NDArray[np.int8],
    held_work: NDArray[np.float32],
    compute: NDArray[np.float32],
    model: SupplyModel,
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Binding shares per part and limit, and P(missed the target for supply reasons) per limit.

    A path misses "for supply reasons" when, in a target quarter it misses, the units that
    were ordered, free to ship and held back would have met the target had they been
    installed: the plan asked for enough, supply did not ship it. Per limit, only the units
    that limit held back count (so a miss that needed two limits lifted counts under ``any``
    alone); ``any`` counts every limit's.
    """
    names = model.limits
    binding = {
        acc: {names[k]: float(np.mean(limited_by[:, a] == k)) for k in model.limits_of(a)}
        for a, acc in enumerate(model.accelerators)
    }
    target = model.target[:, None]
    miss = (compute < target) & (target > 0)  # (T, P)

    def share(extra: NDArray[np.float32]) -> float:
        return float(np.mean((miss & (compute + extra >= target)).any(axis=0)))

    used = sorted({k for a in range(len(model.accelerators)) for k in model.limits_of(a)})
    reasons = {names[k]: share(held_work[k]) for k in used}
    reasons["any"] = share(held_work.sum(axis=0))
    return binding, reasons


def summarize(
    paths: Paths,
    model: SupplyModel,
    *,
    scenario: str,
    seed: int,
    executor: str,
    seconds: float,
    observations: Sequence[Observation] = (),
    currency: str = "CNY",
    compute_unit: str = "tokens/s",
    budget: float | None = None,
    tail: float = TAIL,
) -> SimulationResult:
    """Percentiles, target probabilities and tail risk of the (consistent) paths.

    With a ``budget``, the cost also says how likely total spend stays within it; ``tail`` is
    the share of worst paths that capacity at risk averages.
    """
    total = paths.compute.shape[1]
    mask = consistent(paths, model, observations) if observations else None
    kept = total if mask is None else int(mask.sum())
    if kept == 0:
        raise InfeasibleError(
            "no simulated path agrees with the observations; the prior rules out what happened"
        )
    compute = paths.compute if mask is None else paths.compute[:, mask]
    delivered = paths.delivered if mask is None else paths.delivered[:, :, mask]
    spend = paths.spend if mask is None else paths.spend[:, mask]
    approvals = paths.approval_quarter if mask is None else paths.approval_quarter[:, mask]
    limited_by = paths.limited_by if mask is None else paths.limited_by[:, :, mask]
    held_work = paths.held_work if mask is None else paths.held_work[:, :, mask]
    stranded = paths.stranded_prepayment if mask is None else paths.stranded_prepayment[mask]
    n_tail = max(1, int(np.ceil(tail * kept)))
    worst = np.partition(compute, n_tail - 1, axis=1)[:, :n_tail].mean(axis=1)
    target = model.target
    meet = (compute >= target[:, None]).mean(axis=1)
    binding, reasons = _supply_reasons(limited_by, held_work, compute, model)
    cumulative = np.cumsum(spend, axis=0)
    total_spend = cumulative[-1]
    n_t, n_a = model.shape
    quarters = list(model.quarters)
    return SimulationResult(
        scenario=scenario,
        quarters=quarters,
        accelerators=list(model.accelerators),
        paths=total,
        paths_kept=kept,
        p_observed=kept / total if observations else None,
        seed=seed,
        executor=executor,
        seconds=seconds,
        paths_per_s=total / seconds if seconds > 0 else float("inf"),
        path_quarter_accelerators_per_s=total * n_t * n_a / seconds if seconds > 0 else float("inf"),
        target=target.tolist(),
        compute_unit=compute_unit,
        delivered=_bands(delivered, model.accelerators),
        compute=_band(compute),
        p_meet_target=[float(m) if target[t] > 0 else 1.0 for t, m in enumerate(meet)],
        capacity_at_risk=worst.tolist(),
        tail=tail,
        shortfall_at_risk=np.maximum(target - worst, 0.0).tolist(),
        p_none_delivered={
            acc: (delivered[:, a] <= 0).mean(axis=-1).tolist() for a, acc in enumerate(model.accelerators)
        },
        p_approved={
            acc: (approvals[a][None, :] <= np.arange(n_t)[:, None]).mean(axis=1).tolist()
            for a, acc in enumerate(model.accelerators)
        },
        cost={
            "p5": float(np.percentile(total_spend, 5)),
            "p50": float(np.percentile(total_spend, 50)),
            "p95": float(np.percentile(total_spend, 95)),
            "mean": float(total_spend.mean()),
            "stranded_prepayment_mean": float(stranded.mean()),
            **(
                {}
                if budget is None
                else {"budget": budget, "p_within_budget": float(np.mean(total_spend <= budget))}
            ),
        },
        spend=_band(cumulative),
        currency=currency,
        binding_share=binding,
        p_miss_for_supply=reasons,
    )


def run(
    model: SupplyModel,
    *,
    scenario: str,
    paths: int,
    seed: int,
    executor: Executor | None = None,
    chunk_paths: int = 65_536,
    observations: Sequence[Observation] = (),
    currency: str = "CNY",
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Simulate and summarise in one call."""
    start = time.perf_counter()
    raw = simulate_paths(model, paths, seed, executor=executor, chunk_paths=chunk_paths, progress=progress)
    seconds = time.perf_counter() - start
    name: Literal["local", "dask"] | str = executor.name if executor is not None else "local"
    return summarize(
        raw,
        model,
        scenario=scenario,
        seed=seed,
        executor=name,
        seconds=seconds,
        observations=observations,
        currency=currency,
    )
