"""Predict LLM training speed: the fastest plan that fits, its step time, MFU and breakdown."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from suanli.catalog.accelerator import Accelerator
from suanli.catalog.llm import LLM
from suanli.errors import InfeasibleError, InputValueError
from suanli.perf.calibration_data import residual_summary
from suanli.perf.efficiency import EfficiencyTable, efficiency_table
from suanli.perf.goodput import goodput
from suanli.perf.hardware import chip_of
from suanli.perf.results import RankedPlan, TrainingPrediction
from suanli.perf.search import PRACTICE, enumerate_plans
from suanli.perf.training_model import step_cost
from suanli.perf.uncertainty import interval
from suanli.perf.workload import model_work

TRAINING_PRECISIONS = ("bf16", "fp8")
#: Sequences per step when no batch is given: 1,024 of 4,096 tokens (4 M tokens, the
#: Llama 2 / Llama 3 early pre-training batch), doubled until there is a sequence for every two
#: chips: large runs use large batches (Llama 3: 16 M tokens on 8-16k GPUs, arXiv 2407.21783;
#: DeepSeek-V3: 15,360 sequences on 2,048 GPUs, arXiv 2412.19437), so that data parallelism
#: has work for every rank and the pipeline enough micro-batches.
DEFAULT_BATCH_SEQUENCES = 1024


def default_global_batch_tokens(chips: int, seq_len: int) -> float:
    """A batch large enough that data parallelism over ``chips`` has work for every rank."""
    sequences = DEFAULT_BATCH_SEQUENCES
    while sequences * 2 < chips:
        sequences *= 2
    return float(sequences * seq_len)


def predict_training(
    model: LLM,
    accelerator: Accelerator,
    chips: int,
    *,
    seq_len: int = 4096,
    global_batch_tokens: float | None = None,
    tokens: float | None = None,
    precision: str = "bf16",
    plan: Mapping[str, int | str] | None = None,
    top_k: int = 5,
    memory_gb_override: float | None = None,
    scaleup_domain: int | None = None,
    flash_attention: bool = True,
    efficiency: EfficiencyTable | None = None,
    load_imbalance: float | None = None,
    known_to_fit: bool = False,
) -> TrainingPrediction:
    """Predict training speed of ``model`` on ``chips`` of ``accelerator``.

    Without a ``plan`` every valid plan is searched and the fastest that fits in memory wins;
    a partial plan pins the dimensions it names. ``tokens`` (a training budget) yields days,
    counting the fleet's goodput (failures, restarts, checkpoints). ``load_imbalance`` is
    the busiest expert rank's load over the mean (MoE; 1 under forced-balanced routing).
    ``known_to_fit`` says the pinned plan is known to have run (a published measurement):
    the model's memory accounting then warns instead of rejecting it.
    Raises :class:`InputValueError` for a pinned plan that cannot run and
    :class:`InfeasibleError` when no plan fits.
    """
    if chips < 1:
        raise InputValueError(f"must be >= 1 (got {chips})", field="chips")
    if seq_len < 1 or seq_len > model.max_seq_len * 8:
        raise InputValueError(
            f"must be between 1 and {model.max_seq_len * 8} (got {seq_len})", field="seq_len"
        )
    if precision not in TRAINING_PRECISIONS:
        raise InputValueError(
            f"must be one of {', '.join(TRAINING_PRECISIONS)} (got {precision!r})", field="precision"
        )
    chip = chip_of(accelerator, memory_gb_override, scaleup_domain)
    table = efficiency if efficiency is not None else efficiency_table()
    eff = table.for_stack(chip.stack)
    chip.compute_peak(precision)  # raises when the chip lacks the format
    work = model_work(model)
    if global_batch_tokens is not None and not seq_len <= global_batch_tokens <= 1e12:
        raise InputValueError(
            f"must be between one sequence ({seq_len}) and 1e12 tokens (got {global_batch_tokens:g})",
            field="global_batch_tokens",
        )
    if load_imbalance is not None and not 1.0 <= load_imbalance <= 10.0:
        raise InputValueError(f"must be between 1 and 10 (got {load_imbalance:g})", field="load_imbalance")
    # A multi-die package is several ranks: plans, memory and step time are per rank.
    ranks = chips * chip.dies
    batch = global_batch_tokens or default_global_batch_tokens(ranks, seq_len)
    started = time.perf_counter()
    search = enumerate_plans(work, ranks, seq_len, batch, plan, scaleup_domain=chip.scaleup_domain)
    plans = search.plans
    if len(plans) == 0:
        raise InfeasibleError(
            f"no parallelism plan divides {ranks} ranks, {model.layers} layers, {model.heads} heads and "
            f"{batch / seq_len:g} sequences of {seq_len} tokens evenly"
            + (f" with the pinned {dict(plan)}" if plan else "")
        )
    cost = step_cost(
        work,
        chip,
        eff,
        plans,
        seq_len=seq_len,
        global_batch_tokens=batch,
        precision=precision,
        flash_attention=flash_attention,
        load_imbalance=load_imbalance,
    )
    search_seconds = time.perf_counter() - started
    fits = cost.memory_bytes <= chip.usable_memory_bytes
    over = []
    if known_to_fit and not fits.any():
        need, usable = float(cost.memory_bytes.min()) / 1e9, chip.usable_memory_bytes / 1e9
        over.append(
            f"the model's memory accounting puts this plan at {need:.1f} GB per device, over the "
            f"{usable:.1f} GB it counts usable; kept because it ran"
        )
        fits = cost.memory_bytes <= cost.memory_bytes.min()
    if not fits.any():
        least = float(cost.memory_bytes.min()) / 1e9
        raise InfeasibleError(
            f"{model.id} does not fit on {chips} x {accelerator.id}: the leanest plan needs "
            f"{least:.1f} GB per chip, {chip.usable_memory_bytes / 1e9:.1f} GB usable"
        )
    candidates = np.flatnonzero(fits)
    order = candidates[np.argsort(cost.step_time_s[candidates], kind="stable")]
    best = int(order[0])
    step = float(cost.step_time_s[best])
    tokens_per_s = batch / step
    model_flops = work.model_flops_per_token(seq_len) * batch
    peak = chip.compute_peak(precision)
    mfu = model_flops / (step * ranks * peak)
    roofline = ranks * peak / work.model_flops_per_token(seq_len)  # tokens/s at MFU 1
    share = goodput(chips)
    warnings = over + [
        f"{count:,} plans left out: {PRACTICE[reason]}" for reason, count in search.rejected.items()
    ]
    summary = residual_summary(chip.stack, "training", table.is_measured(chip.stack), moe=work.experts > 0)
    basis = f"{chip.stack} {'MoE ' if work.experts else ''}training residuals"
    breakdown = {
        "compute": cost.compute_s,
        "memory": cost.memory_s,
        "tp": cost.tp_s,
        "cp": cost.cp_s,
        "ep": cost.ep_s,
        "pp_bubble": cost.pp_bubble_s,
        "pp_comm": cost.pp_comm_s,
        "dp": cost.dp_s,
        "sync": cost.sync_s,
    }
    return TrainingPrediction(
        model=model.id,
        accelerator=accelerator.id,
        chips=chips,
        seq_len=seq_len,
        global_batch_tokens=batch,
        precision=precision,
        plan=plans.row(best),
        step_time_s=step,
        tokens_per_s=tokens_per_s,
        tokens_per_s_per_chip=tokens_per_s / chips,
        mfu=mfu,
        model_tflops_per_chip=model_flops / step / chips / 1e12,
        days=None if tokens is None else tokens / (tokens_per_s * share) / 86_400,
        memory_gb_per_chip=float(cost.memory_bytes[best]) / 1e9,
        memory_gb_available=chip.usable_memory_bytes / 1e9,
        breakdown={k: float(v[best]) for k, v in breakdown.items()},
        interval=interval(tokens_per_s, summary, basis, ceiling=roofline),
        mfu_interval=interval(mfu, summary, basis, ceiling=1.0),
        top_plans=[
            RankedPlan(
                plan=plans.row(int(i)),
                step_time_s=float(cost.step_time_s[i]),
                tokens_per_s=batch / float(cost.step_time_s[i]),
                memory_gb_per_chip=float(cost.memory_bytes[i]) / 1e9,
            )
            for i in order[:top_k]
        ],
        plans_evaluated=len(plans),
        plans_feasible=int(fits.sum()),
        search_plans_per_s=len(plans) / max(search_seconds, 1e-9),
        plans_rejected=search.rejected,
        ranks_per_chip=chip.dies,
        goodput=share,
        warnings=warnings,
    )
