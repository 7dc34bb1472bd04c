"""Training goodput at fleet scale: the share of wall time that advances the model.

A synchronous job stops at every failure of any of its chips. With a fleet mean time
between failures ``M``, a checkpoint that takes ``C`` to write and a restart that takes
``R``, checkpointing every ``tau = sqrt(2 C M)`` (Young 1974; Daly 2006) loses about
``C / tau`` to checkpoints and ``(tau / 2 + R) / M`` to failures: recomputing half an
interval and restarting.

The failure rate is Meta's for Llama 3 405B: 419 unexpected interruptions in a 54-day
snapshot on 16,384 H100 (Dubey et al., arXiv 2407.21783, section 3.3.4, Table 5), about one
per 50,700 GPU-hours; Meta reports over 90 % effective training time there. Checkpoint and
restart times are assumptions (ranges in the constants' comments), chosen so the formula
gives Meta's ~90 % at 16k chips.
"""

from __future__ import annotations

import math

#: Chip-hours between job-stopping failures (Llama 3: 16,384 GPUs x 54 days x 24 h / 419).
CHIP_HOURS_PER_FAILURE = 16_384 * 54 * 24 / 419
#: Hours to write a checkpoint without stalling long (asynchronous, sharded): 0.5-3 minutes.
CHECKPOINT_HOURS = 0.5 / 60.0
#: Hours from a failure to resumed training (detect, reschedule, reload): 3-15 minutes.
RESTART_HOURS = 3.0 / 60.0


def goodput(chips: int, failure_scale: float = 1.0) -> float:
    """Expected share of wall time in productive steps for a job on ``chips`` chips.

    ``failure_scale`` multiplies the failure rate (a less mature fleet fails more often).
    """
    if chips < 1:
        raise ValueError("chips must be >= 1")
    mtbf = CHIP_HOURS_PER_FAILURE / (chips * failure_scale)
    tau = math.sqrt(2.0 * CHECKPOINT_HOURS * mtbf)
    lost = CHECKPOINT_HOURS / tau + (tau / 2.0 + RESTART_HOURS) / mtbf
    return max(0.0, 1.0 - lost)
