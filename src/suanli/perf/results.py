"""Typed results of the performance model, serialisable as the CLI's ``--json``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Interval(BaseModel):
    """A P10-P90 range of a prediction, from the validation residuals of its stack."""

    model_config = ConfigDict(frozen=True)

    p10: float
    p90: float
    sigma_log: float
    basis: str


class RankedPlan(BaseModel):
    """One feasible plan of a search with its speed."""

    model_config = ConfigDict(frozen=True)

    plan: dict[str, int | str]
    step_time_s: float
    tokens_per_s: float
    memory_gb_per_chip: float


class TrainingPrediction(BaseModel):
    """Predicted training speed of one model on one fleet."""

    model_config = ConfigDict(frozen=True)

    model: str
    accelerator: str
    chips: int
    seq_len: int
    global_batch_tokens: float
    precision: str
    plan: dict[str, int | str]
    step_time_s: float
    tokens_per_s: float
    tokens_per_s_per_chip: float
    mfu: float
    model_tflops_per_chip: float
    days: float | None
    memory_gb_per_chip: float
    memory_gb_available: float
    breakdown: dict[str, float]
    interval: Interval
    mfu_interval: Interval
    top_plans: list[RankedPlan]
    plans_evaluated: int
    plans_feasible: int
    search_plans_per_s: float
    #: Plans that would divide evenly but that practitioners do not run, by reason.
    plans_rejected: dict[str, int] = {}
    #: Devices the software sees per chip (2 for a dual-die Ascend 910C): the plan's degrees
    #: and the memory figures are per rank.
    ranks_per_chip: int = 1
    #: Expected share of wall time spent on productive steps at this fleet size (failures,
    #: restarts and checkpoints take the rest); step-time figures above exclude it.
    goodput: float = 1.0
    warnings: list[str] = []


class InferencePrediction(BaseModel):
    """Predicted serving speed of one model on one group of chips."""

    model_config = ConfigDict(frozen=True)

    model: str
    accelerator: str
    chips: int
    tp: int
    replicas: int
    input_tokens: int
    output_tokens: int
    weight_precision: str
    kv_precision: str
    batch: int
    ttft_s: float
    tpot_s: float
    tokens_per_s: float
    tokens_per_s_per_chip: float
    decode_tokens_per_s: float
    decode_tokens_per_s_per_chip: float
    prefill_tokens_per_s: float
    max_batch: int
    kv_cache_gb_per_request: float
    weights_gb_per_chip: float
    bound: str
    breakdown: dict[str, float]
    interval: Interval
    #: offline, decode, prefill or disaggregated; for prefill ``tokens_per_s`` counts prompt tokens.
    objective: str = "offline"
    #: Prompt tokens prefilled per second by these chips (0 for a decode-only objective).
    input_tokens_per_s: float = 0.0
    #: Chips of the prefill and decode pools (and their instance sizes), disaggregated only.
    pools: dict[str, int] | None = None
    #: The decoding instance's layout: chips, attention TP and DP, expert EP or TP.
    plan: dict[str, int] = {}
    #: Mean tokens emitted per sequence per step (1 without speculative decoding).
    spec_accept_length: float = 1.0
    spec_draft_tokens: int = 0
    #: Compute roofline of ``tokens_per_s``: the chips' dense peak over 2 FLOPs per weight.
    roofline_tokens_per_s: float | None = None
    #: Devices the software sees per chip (2 for a dual-die Ascend 910C): ``tp``, ``plan``,
    #: ``pools`` and ``weights_gb_per_chip`` count ranks; the per-chip rates count packages.
    ranks_per_chip: int = 1
