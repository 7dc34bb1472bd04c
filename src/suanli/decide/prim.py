"""PRIM, the Patient Rule Induction Method, for scenario discovery.

Given experiments ``x`` (one row per run of a model over uncertain inputs) and a boolean outcome
``y`` (True where the outcome is of interest, for instance where a purchase plan fails),
:func:`prim_boxes` finds a few axis-aligned boxes in input space where the cases of interest
concentrate, and reports each box as a set of input ranges with its coverage, density and mass.

Each box is found in three stages:

peeling
    Starting from the whole data, repeatedly remove the ``peel_alpha`` share of the points in the
    box from the low or the high end of one input, choosing among all inputs and both ends the
    peel that leaves the highest density, until a further peel would leave fewer than ``mass_min``
    of all points or the box holds cases of interest only. As in the paper, a step is taken even
    when it lowers the density; the choice below passes such steps over. The successive boxes
    form the peeling trajectory.
choice
    On the trajectory, take the box with the highest coverage among those whose density reaches
    ``threshold``; if none does, the box with the highest density.
pasting
    Grow the chosen box back, one end of one input at a time by ``paste_alpha`` of its points,
    taking the enlargement with the highest density, for as long as the density does not fall.

Covering then drops the points inside the box and looks for the next box in what is left.

References
----------
J. H. Friedman, N. I. Fisher, "Bump hunting in high-dimensional data", Statistics and Computing
9(2):123-143, 1999 (peeling, pasting, covering). B. P. Bryant, R. J. Lempert, "Thinking inside
the box: a participatory, computer-assisted approach to scenario discovery", Technological
Forecasting & Social Change 77(1):34-49, 2010 (coverage and density as the measures of a box,
the choice of box on the peeling trajectory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from suanli.errors import InputValueError

__all__ = ["PrimBox", "prim_boxes"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class PrimBox(BaseModel):
    """One box found by PRIM, with its measures on the full data set.

    A point lies inside the box when ``low <= x[name] <= high`` for every ``name`` in
    :attr:`limits`; inputs not named there are unrestricted.

    Attributes
    ----------
    limits
        The restricted inputs only, each mapped to its closed range ``(low, high)``. A side that
        the box does not restrict is given as the minimum (or maximum) of that input over all
        experiments, so the range always reads as finite numbers.
    coverage
        Share of all cases of interest that fall inside the box.
    density
        Share of the experiments inside the box that are cases of interest.
    mass
        Share of all experiments that fall inside the box.
    cases
        Number of experiments inside the box.
    """

    model_config = ConfigDict(frozen=True)

    limits: dict[str, tuple[float, float]]
    coverage: float = Field(ge=0.0, le=1.0)
    density: float = Field(ge=0.0, le=1.0)
    mass: float = Field(ge=0.0, le=1.0)
    cases: int = Field(ge=0)


@dataclass(frozen=True)
class _Step:
    """One box of a peeling trajectory, measured on the data it was peeled from."""

    low: FloatArray
    high: FloatArray
    count: int
    hits: int


def prim_boxes(
    x: NDArray[np.float64],
    y: NDArray[np.bool_],
    names: Sequence[str],
    *,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    threshold: float = 0.8,
    max_boxes: int = 3,
) -> list[PrimBox]:
    """Boxes in input space where the cases of interest concentrate, found by PRIM with covering.

    Parameters
    ----------
    x
        Experiment inputs, shape ``(n, d)``, finite.
    y
        Shape ``(n,)``, booleans: True where the outcome is of interest.
    names
        The ``d`` input names, distinct, in the column order of ``x``.
    peel_alpha
        Share of the points in the box removed by each peel, in (0, 0.5).
    paste_alpha
        Share of the points in the box added by each paste, in (0, 0.5).
    mass_min
        Peeling stops before the box would hold less than this share of all ``n`` experiments;
        in (0, 1).
    threshold
        Density wanted of a box, in [0, 1]: on the peeling trajectory the box with the highest
        coverage among those reaching it is chosen. Boxes after the first are kept only if they
        reach it.
    max_boxes
        Most boxes to return, at least 1.

    Returns
    -------
    list[PrimBox]
        The boxes in the order found, at most ``max_boxes``; empty when no experiment is a case
        of interest. The first box is always returned otherwise (with no limits when no region
        beats the whole data set). Covering stops early when too few points are left to hold a
        box, when no case of interest is left, or when the next box does not reach ``threshold``
        or does not beat the base rate of the points left: in pure noise peeling still finds some
        small box above the base rate, and it would be reported as a finding.
        Coverage, density and mass are measured on the full data set from the reported limits,
        so a later box may overlap an earlier one and their coverages may add up to more than 1.

    Raises
    ------
    InputValueError
        When the shapes of ``x``, ``y`` and ``names`` disagree, ``x`` holds a non-finite value,
        ``y`` is not boolean, the names are not distinct, or a parameter is out of range.
    """
    _check_parameters(
        peel_alpha=peel_alpha,
        paste_alpha=paste_alpha,
        mass_min=mass_min,
        threshold=threshold,
        max_boxes=max_boxes,
    )
    xs, ys = _checked_data(x, y, names)
    n_total = xs.shape[0]
    hits_total = int(ys.sum())
    if hits_total == 0:
        return []
    full_low = xs.min(axis=0)
    full_high = xs.max(axis=0)
    min_count = mass_min * n_total

    boxes: list[PrimBox] = []
    xc, yc = xs, ys
    while len(boxes) < max_boxes:
        hits_left = int(yc.sum())
        if hits_left == 0 or xc.shape[0] < min_count:
            break
        trajectory = _peel(xc, yc, peel_alpha, min_count)
        chosen = _choose(trajectory, hits_left, threshold)
        low, high, count, hits = _paste(xc, yc, chosen.low, chosen.high, paste_alpha)
        if boxes and not (hits >= threshold * count and hits * xc.shape[0] > hits_left * count):
            break
        data_low = xc.min(axis=0)
        data_high = xc.max(axis=0)
        restricted = (low > data_low) | (high < data_high)
        # An open side is reported at the full data's extreme, not at the extreme of the points
        # left by covering, so that it excludes no experiment of the full data either.
        shown_low = np.where(low > data_low, low, full_low)
        shown_high = np.where(high < data_high, high, full_high)
        limits = {
            names[j]: (float(shown_low[j]), float(shown_high[j])) for j in range(len(names)) if restricted[j]
        }
        inside_full = _inside(xs, shown_low, shown_high, restricted)
        cases = int(inside_full.sum())
        hits_in = int(ys[inside_full].sum())
        boxes.append(
            PrimBox(
                limits=limits,
                coverage=hits_in / hits_total,
                density=hits_in / cases if cases else 0.0,
                mass=cases / n_total,
                cases=cases,
            )
        )
        if not restricted.any():
            break
        keep = ~_inside(xc, low, high, restricted)
        xc, yc = xc[keep], yc[keep]
    return boxes


def _check_parameters(
    *, peel_alpha: float, paste_alpha: float, mass_min: float, threshold: float, max_boxes: int
) -> None:
    """Refuse a tuning parameter out of its range."""
    for field, alpha in (("peel_alpha", peel_alpha), ("paste_alpha", paste_alpha)):
        if not 0.0 < alpha < 0.5:
            raise InputValueError(f"must be in (0, 0.5), got {alpha!r}", field=field)
    if not 0.0 < mass_min < 1.0:
        raise InputValueError(f"must be in (0, 1), got {mass_min!r}", field="mass_min")
    if not 0.0 <= threshold <= 1.0:
        raise InputValueError(f"must be in [0, 1], got {threshold!r}", field="threshold")
    if isinstance(max_boxes, bool) or not isinstance(max_boxes, int | np.integer) or max_boxes < 1:
        raise InputValueError(f"must be an integer of at least 1, got {max_boxes!r}", field="max_boxes")


def _checked_data(
    x: NDArray[np.float64], y: NDArray[np.bool_], names: Sequence[str]
) -> tuple[FloatArray, BoolArray]:
    """``x`` and ``y`` as arrays, after checking their shapes and values against each other and ``names``."""
    try:
        xs = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputValueError(f"must be an array of numbers ({exc})", field="x") from exc
    if xs.ndim != 2:
        raise InputValueError(f"must be 2-dimensional (experiments x inputs), not {xs.shape}", field="x")
    ys = np.asarray(y)
    if ys.ndim != 1 or ys.shape[0] != xs.shape[0]:
        raise InputValueError(f"must have shape ({xs.shape[0]},) to match x, got {ys.shape}", field="y")
    if ys.dtype != np.bool_:
        raise InputValueError(f"must be booleans, got dtype {ys.dtype}", field="y")
    if isinstance(names, str) or len(names) != xs.shape[1]:
        got = "one string" if isinstance(names, str) else f"{len(names)}"
        raise InputValueError(f"must give {xs.shape[1]} names, one per column of x; got {got}", field="names")
    if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        raise InputValueError("must be distinct strings", field="names")
    if not np.isfinite(xs).all():
        raise InputValueError("must hold finite numbers only (no NaN or infinity)", field="x")
    return xs, ys


def _inside(x: FloatArray, low: FloatArray, high: FloatArray, restricted: BoolArray) -> BoolArray:
    """Rows of ``x`` within ``[low, high]`` on every restricted column."""
    xr = x[:, restricted]
    result: BoolArray = np.all((xr >= low[restricted]) & (xr <= high[restricted]), axis=1)
    return result


def _peel(x: FloatArray, y: BoolArray, alpha: float, min_count: float) -> list[_Step]:
    """The peeling trajectory from the whole of ``x`` down to about ``min_count`` points.

    Limits are always values of points kept in the box, so that the closed ranges in the
    limits select exactly the points the peels kept.
    """
    low = x.min(axis=0)
    high = x.max(axis=0)
    # Columns as contiguous rows: the per-column partitions and reductions below run several
    # times faster on them than on the strided columns of a row-major array.
    xt = np.ascontiguousarray(x.T)
    yb = y
    hits = int(y.sum())
    trajectory = [_Step(low.copy(), high.copy(), y.size, hits)]
    while hits < yb.size and yb.size > 1:
        m = yb.size
        k = max(1, int(alpha * m))
        part = np.partition(xt, (0, k, m - 1 - k, m - 1), axis=1)
        col_min, col_max = part[:, 0], part[:, m - 1]
        new_low = part[:, k].copy()
        new_high = part[:, m - 1 - k].copy()
        # With ties at the end of a column the alpha quantile can equal the extreme, and a cut
        # there removes nothing; peel the whole tied group instead (Friedman & Fisher's rule for
        # discrete inputs), so that ties do not block a dimension.
        for j in np.flatnonzero(new_low <= col_min):
            new_low[j] = np.min(xt[j], where=xt[j] > col_min[j], initial=np.inf)
        for j in np.flatnonzero(new_high >= col_max):
            new_high[j] = np.max(xt[j], where=xt[j] < col_max[j], initial=-np.inf)
        cut_low = xt < new_low[:, None]
        cut_high = xt > new_high[:, None]
        removed = np.stack([cut_low.sum(axis=1), cut_high.sum(axis=1)])
        removed_hits = np.stack([cut_low[:, yb].sum(axis=1), cut_high[:, yb].sum(axis=1)])
        left = m - removed
        valid = (removed > 0) & (left >= min_count) & (left > 0)
        if not valid.any():
            break
        density = np.where(valid, (hits - removed_hits) / np.maximum(left, 1), -1.0)
        side, j = np.unravel_index(int(np.argmax(density)), density.shape)
        if side == 0:
            keep = ~cut_low[j]
            low[j] = new_low[j]
        else:
            keep = ~cut_high[j]
            high[j] = new_high[j]
        xt = xt[:, keep]
        yb = yb[keep]
        hits -= int(removed_hits[side, j])
        trajectory.append(_Step(low.copy(), high.copy(), yb.size, hits))
    return trajectory


def _choose(trajectory: Sequence[_Step], hits_total: int, threshold: float) -> _Step:
    """The box of the trajectory with the most coverage at ``threshold`` density, else the densest."""
    dense = [s for s in trajectory if s.hits >= threshold * s.count]
    if dense:
        # Equal coverage on consecutive steps means only non-cases were peeled: prefer the denser.
        return max(dense, key=lambda s: (s.hits / hits_total, s.hits / s.count))
    return max(trajectory, key=lambda s: (s.hits / s.count, s.hits / hits_total))


def _paste(
    x: FloatArray, y: BoolArray, low: FloatArray, high: FloatArray, alpha: float
) -> tuple[FloatArray, FloatArray, int, int]:
    """Grow the box ``[low, high]`` while its density does not fall; its limits, count and hits."""
    low = low.copy()
    high = high.copy()
    d = x.shape[1]
    while True:
        in_dim = (x >= low) & (x <= high)
        outside_dims = d - in_dim.sum(axis=1)
        in_box = outside_dims == 0
        count = int(in_box.sum())
        hits = int(y[in_box].sum())
        k = max(1, int(alpha * count))
        best: tuple[int, int, int, float] | None = None  # (added, added hits, dimension, new limit)
        for j in range(d):
            # Only points outside the box on this dimension alone enter when it is widened.
            near = (outside_dims == 1) & ~in_dim[:, j]
            values = x[near, j]
            labels = y[near]
            for below in (True, False):
                side = values < low[j] if below else values > high[j]
                if not side.any():
                    continue
                vals = values[side]
                kk = min(k, vals.size)
                if below:
                    limit = float(-np.partition(-vals, kk - 1)[kk - 1])
                    enter = vals >= limit
                else:
                    limit = float(np.partition(vals, kk - 1)[kk - 1])
                    enter = vals <= limit
                added = int(enter.sum())
                added_hits = int(labels[side][enter].sum())
                # Compare densities as cross-products of integers so that ties are exact.
                if best is None or (hits + added_hits) * (count + best[0]) > (hits + best[1]) * (
                    count + added
                ):
                    best = (added, added_hits, j, limit)
        if best is None or (hits + best[1]) * count < hits * (count + best[0]):
            return low, high, count, hits
        added, added_hits, j, limit = best
        if limit < low[j]:
            low[j] = limit
        else:
            high[j] = limit
