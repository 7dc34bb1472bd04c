"""Prediction intervals from the validation residuals of each software stack.

The spread of ``log(measured / predicted)`` over a stack's held-out validation points gives
that stack's ``sigma``; it is shrunk towards a wide prior for stacks with few points
(``(n * s^2 + k * prior^2) / (n + k)``), so an unmeasured stack gets the prior itself. A
prediction's P10-P90 is ``value * exp(-/+ 1.2816 * sigma)``: the model's point estimate is
taken as the median.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from suanli.perf.results import Interval

#: z-score of the 90th percentile of a standard normal.
Z90 = 1.2816
#: Log-scale spread assumed before any measurement: a factor of ~1.6 either way at P10/P90,
#: the scale of disagreement between vendor claims and independent results for new stacks.
PRIOR_SIGMA = 0.35
#: Weight of the prior, in pseudo-measurements.
PRIOR_WEIGHT = 2.0


class ResidualSummary(BaseModel):
    """Residual spread of one group of validation points."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    points: int = Field(ge=0)
    rms_log: float = Field(ge=0)


def shrunk_sigma(summary: ResidualSummary | None) -> float:
    """Posterior log-spread of a group from its residuals and the prior."""
    if summary is None or summary.points == 0:
        return PRIOR_SIGMA
    n = summary.points
    return math.sqrt((n * summary.rms_log**2 + PRIOR_WEIGHT * PRIOR_SIGMA**2) / (n + PRIOR_WEIGHT))


def summarize(log_residuals: Iterable[float]) -> ResidualSummary:
    """RMS of log residuals (about zero: a bias counts as error)."""
    values = list(log_residuals)
    if not values:
        return ResidualSummary(points=0, rms_log=0.0)
    return ResidualSummary(points=len(values), rms_log=math.sqrt(sum(v * v for v in values) / len(values)))


def interval(
    value: float, summary: ResidualSummary | None, basis: str, ceiling: float | None = None
) -> Interval:
    """P10-P90 of ``value`` under the group's residual spread.

    ``ceiling`` is a physical bound (MFU 1, the roofline throughput): no percentile exceeds
    it, so the distribution is truncated there rather than spilling past what the hardware
    can do.
    """
    sigma = shrunk_sigma(summary)
    low, high = value * math.exp(-Z90 * sigma), value * math.exp(Z90 * sigma)
    if ceiling is not None:
        low, high = min(low, ceiling), min(high, ceiling)
    return Interval(p10=low, p90=high, sigma_log=sigma, basis=basis)
