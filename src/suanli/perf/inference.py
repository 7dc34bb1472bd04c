"""Predict LLM serving speed: prefill, decode, KV capacity and the batch that binds.

Chips serve one model instance, weights and KV cache sharded evenly across them (tensor
parallel for attention and dense layers, expert parallel for experts). Per decode step every
sequence of the batch emits one token; the step reads the weights the batch touches (for a
MoE, the experts hit by at least one token, under uniform routing) and every sequence's KV
cache, does ``2 * N_active`` FLOPs per token plus attention, and all-reduces activations
twice per layer. The step takes the longer of its memory and compute time (a roofline),
plus communication and a per-layer launch overhead. Throughput counts generated tokens per
second of the whole system, as MLPerf and vendor tables do; an offline run amortises each
request's prefill over its output.

References
----------
R. Pope et al., "Efficiently Scaling Transformer Inference", MLSys 2023 (arXiv 2211.05102),
for the decode memory-bandwidth bound and KV-cache accounting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suanli.catalog.accelerator import Accelerator
from suanli.catalog.llm import LLM
from suanli.errors import InfeasibleError, InputValueError
from suanli.perf.calibration_data import residual_summary
from suanli.perf.efficiency import EfficiencyTable, StackEfficiency, efficiency_table
from suanli.perf.hardware import BYTES, Chip, chip_of
from suanli.perf.results import InferencePrediction
from suanli.perf.uncertainty import interval
from suanli.perf.workload import ModelWork, model_work

INFERENCE_PRECISIONS = ("bf16", "fp8", "int8", "int4", "fp4")
OBJECTIVES = ("offline", "decode")
ACTIVATION_BYTES = 2.0
#: Largest model instance (chips sharing one copy of the weights) considered.
MAX_INSTANCE_CHIPS = 512
#: Largest batch considered when searching for the throughput optimum.
MAX_BATCH_SEARCHED = 65_536


def compute_precision(chip: Chip, weight_precision: str) -> str:
    """Precision the matrix units run at: W8A8 formats use their 8-bit peak where it exists."""
    if weight_precision in chip.peak_flops:
        return weight_precision
    return "fp8" if weight_precision in {"int4", "fp4"} and "fp8" in chip.peak_flops else "bf16"


@dataclass(frozen=True)
class _Serving:
    """One model served on one chip type at fixed precisions and request shape."""

    work: ModelWork
    chip: Chip
    eff: StackEfficiency
    precision: str  # of the matrix units
    wbytes: float
    kvbytes: float
    input_tokens: int
    output_tokens: int

    @property
    def context(self) -> float:
        """Mean context of a sequence in flight."""
        return self.input_tokens + self.output_tokens / 2.0

    def _rate(self) -> float:
        return self.chip.compute_peak(self.precision) * self.eff.gemm_share(self.precision)

    def _weights_read(self, batch: np.ndarray) -> np.ndarray:
        """Weight bytes a decode step reads, summed over chips (MoE: experts hit by the batch)."""
        work = self.work
        dense = work.params_total - work.params_experts
        if work.experts == 0:
            return np.full(batch.shape, dense * self.wbytes)
        per_expert = work.params_experts / (work.moe_layers * work.experts)
        touched = work.experts * (1.0 - (1.0 - work.active_experts / work.experts) ** batch)
        return np.asarray((dense + work.moe_layers * touched * per_expert) * self.wbytes, dtype=np.float64)

    def comm_seconds(self, chips: int, tokens: np.ndarray) -> np.ndarray:
        """Communication of one forward pass over ``tokens`` tokens spread on ``chips`` chips.

        A dense model all-reduces its activations twice per layer (tensor parallel). A MoE
        is served with data-parallel attention and expert-parallel experts, as DeepSeek-V3
        and CloudMatrix-Infer deploy it: each MoE layer dispatches every local token to its
        ``k`` experts and combines the results, two all-to-alls of ``tokens/chips * k * h``.
        """
        tokens = np.asarray(tokens, dtype=np.float64)
        if chips == 1:
            return np.zeros_like(tokens)
        work, eff = self.work, self.eff
        fits = chips <= self.chip.scaleup_domain
        bandwidth = self.chip.link_bytes_s(chips) * (eff.scaleup if fits else eff.scaleout)
        share = (chips - 1) / chips
        if work.experts:
            ops = 2.0 * work.moe_layers
            volume = ops * share * tokens / chips * work.active_experts * work.hidden * ACTIVATION_BYTES
            latency = eff.moe_dispatch_latency_us
        else:
            ops = 2.0 * work.layers
            volume = ops * 2.0 * share * tokens * work.hidden * ACTIVATION_BYTES
            latency = eff.collective_latency_us
        return np.asarray(volume / bandwidth + ops * latency * 1e-6, dtype=np.float64)

    def decode_parts(self, chips: int, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Parts of one decode step's time for each batch size in ``batch``."""
        work = self.work
        weights = self._weights_read(batch) / chips
        kv = batch * self.context * work.kv_elements * self.kvbytes / chips
        flops = batch * (2.0 * work.flops_params + 2.0 * work.layers * self.context * work.attn_dims) / chips
        return {
            "memory": (weights + kv) / (self.chip.memory_bytes_s * self.eff.memory),
            "compute": flops / self._rate(),
            "communication": self.comm_seconds(chips, batch),
            "overhead": np.full(batch.shape, work.layers * self.eff.decode_overhead_us_per_layer * 1e-6),
        }

    def prefill_seconds(self, chips: int, tokens: float) -> float:
        """Seconds to prefill ``tokens`` prompt tokens made of prompts of ``input_tokens`` each."""
        work = self.work
        attention = work.layers * self.input_tokens * work.attn_dims  # causal: half of 2 * L * I * dims
        compute_s = tokens * (2.0 * work.flops_params + attention) / chips / self._rate()
        weights_s = work.params_total * self.wbytes / chips / (self.chip.memory_bytes_s * self.eff.memory)
        comm_s = float(self.comm_seconds(chips, np.asarray(tokens)))
        return max(compute_s, weights_s) + comm_s + work.layers * self.eff.decode_overhead_us_per_layer * 1e-6

    def instance(self, tp: int, load: _Load) -> _Instance | str:
        """The best operating point of one instance over ``tp`` chips, or why there is none."""
        weights_chip = self.work.params_total * self.wbytes / tp
        free = self.chip.usable_memory_bytes - weights_chip
        if free <= 0:
            return f"weights need {weights_chip / 1e9:.1f} GB per chip over {tp} chips"
        max_batch = int(
            min(free * tp // (self.context * self.work.kv_elements * self.kvbytes), MAX_BATCH_SEARCHED)
        )
        if max_batch < 1:
            return f"no room for one request's KV cache beside the weights over {tp} chips"
        if load.batch is not None and load.batch > max_batch:
            return f"batch {load.batch} exceeds the KV capacity of {max_batch} requests over {tp} chips"
        searched = max_batch if load.cap is None or load.batch is not None else min(max_batch, load.cap)
        batches = np.arange(1, searched + 1, dtype=np.float64)
        parts = self.decode_parts(tp, batches)
        step = np.maximum(parts["memory"], parts["compute"]) + parts["communication"] + parts["overhead"]
        chunk = 65_536.0
        prefill_per_token = self.prefill_seconds(tp, chunk) / chunk
        if load.objective == "decode":  # disaggregated serving: prefill runs on other chips
            throughput = batches / step
        else:  # offline: a batch of B requests costs B prefills and O decode steps
            out = self.output_tokens
            throughput = batches * out / (batches * self.input_tokens * prefill_per_token + out * step)
        if load.batch is not None:
            chosen, limit = load.batch, "given"
        elif load.tpot_ms is not None:
            meets = np.flatnonzero(step <= load.tpot_ms / 1e3)
            if meets.size == 0:
                return f"one sequence alone takes {step[0] * 1e3:.1f} ms per token over {tp} chips"
            chosen = int(meets[-1]) + 1
            limit = "kv-capacity" if chosen == max_batch else "latency-target"
        else:
            chosen = int(np.argmax(throughput)) + 1
            limit = "kv-capacity" if chosen == max_batch else "throughput-optimum"
            if chosen == searched < max_batch:
                limit = "concurrency-cap"
        i = chosen - 1
        return _Instance(
            tp=tp,
            batch=chosen,
            limit=limit,
            max_batch=max_batch,
            step_s=float(step[i]),
            throughput=float(throughput[i]),
            prefill_one_s=self.prefill_seconds(tp, self.input_tokens),
            prefill_tokens_per_s=1.0 / prefill_per_token,
            parts={k: float(v[i]) for k, v in parts.items()},
        )


@dataclass(frozen=True)
class _Load:
    """What one instance is asked to run: a batch, a TPOT target, or the throughput optimum."""

    batch: int | None
    tpot_ms: float | None
    cap: int | None
    objective: str


@dataclass(frozen=True)
class _Instance:
    """One model instance of ``tp`` chips at its chosen batch."""

    tp: int
    batch: int
    limit: str
    max_batch: int
    step_s: float
    throughput: float
    prefill_one_s: float
    prefill_tokens_per_s: float
    parts: dict[str, float]


def predict_inference(
    model: LLM,
    accelerator: Accelerator,
    chips: int,
    *,
    input_tokens: int,
    output_tokens: int,
    batch: int | None = None,
    tpot_ms: float | None = None,
    weight_precision: str = "bf16",
    kv_precision: str | None = None,
    tp: int | None = None,
    memory_gb_override: float | None = None,
    scaleup_domain: int | None = None,
    efficiency: EfficiencyTable | None = None,
    max_concurrency: int | None = None,
    objective: str = "offline",
) -> InferencePrediction:
    """Predict serving speed of ``model`` on ``chips`` of ``accelerator``.

    The chips run ``chips / tp`` identical instances of ``tp`` chips each; without ``tp``
    every instance size that divides ``chips`` is tried and the one with the
    highest system throughput wins. Give a ``batch`` (concurrent sequences per system), a
    ``tpot_ms`` target (each instance runs the largest batch whose time per output token
    meets it), or neither (the batch that maximises throughput within KV memory, as in an
    offline benchmark, capped at ``max_concurrency`` sequences per system where given).
    ``objective`` ``"decode"`` sizes the instance for decode alone, as in disaggregated
    serving where prefill runs on other chips; ``tokens_per_s`` then counts decode only.
    """
    for name, count in (("chips", chips), ("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if count < 1:
            raise InputValueError(f"must be >= 1 (got {count})", field=name)
    kv_precision = kv_precision or weight_precision
    for name, precision_name in (("weight_precision", weight_precision), ("kv_precision", kv_precision)):
        if precision_name not in INFERENCE_PRECISIONS:
            raise InputValueError(
                f"must be one of {', '.join(INFERENCE_PRECISIONS)} (got {precision_name!r})", field=name
            )
    if batch is not None and tpot_ms is not None:
        raise InputValueError("give a batch or a TPOT target, not both", field="batch")
    if batch is not None and batch < 1:
        raise InputValueError(f"must be >= 1 (got {batch})", field="batch")
    if objective not in OBJECTIVES:
        raise InputValueError(
            f"must be one of {', '.join(OBJECTIVES)} (got {objective!r})", field="objective"
        )
    if tp is not None and (tp < 1 or chips % tp):
        raise InputValueError(f"must divide chips={chips} (got {tp})", field="tp")
    chip = chip_of(accelerator, memory_gb_override, scaleup_domain)
    table = efficiency if efficiency is not None else efficiency_table()
    eff = table.for_stack(chip.stack)
    work = model_work(model)
    precision = compute_precision(chip, weight_precision)
    chip.compute_peak(precision)
    serving = _Serving(
        work, chip, eff, precision, BYTES[weight_precision], BYTES[kv_precision], input_tokens, output_tokens
    )
    sizes = (
        [tp]
        if tp is not None
        else [t for t in range(1, min(chips, MAX_INSTANCE_CHIPS) + 1) if chips % t == 0]
    )
    options: list[_Instance] = []
    reasons: list[str] = []
    for size in sizes:
        replicas = chips // size
        per_instance = None if batch is None else -(-batch // replicas)
        cap = None if max_concurrency is None else max(1, max_concurrency // replicas)
        found = serving.instance(size, _Load(per_instance, tpot_ms, cap, objective))
        if isinstance(found, str):
            reasons.append(found)
        else:
            options.append(found)
    if not options:
        raise InfeasibleError(
            f"{model.id} on {chips} x {accelerator.id} at {weight_precision}: {reasons[-1]}"
        )
    best = max(options, key=lambda o: o.throughput * chips / o.tp)
    replicas = chips // best.tp
    tokens_per_s = best.throughput * replicas
    dominant = max(
        ("memory-bandwidth", best.parts["memory"]),
        ("compute", best.parts["compute"]),
        ("communication", best.parts["communication"]),
        key=lambda kv: kv[1],
    )[0]
    summary = residual_summary(chip.stack, "inference", table.is_measured(chip.stack))
    return InferencePrediction(
        model=model.id,
        accelerator=accelerator.id,
        chips=chips,
        tp=best.tp,
        replicas=replicas,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        weight_precision=weight_precision,
        kv_precision=kv_precision,
        batch=best.batch * replicas,
        ttft_s=best.prefill_one_s,
        tpot_s=best.step_s,
        tokens_per_s=tokens_per_s,
        tokens_per_s_per_chip=tokens_per_s / chips,
        decode_tokens_per_s=best.batch * replicas / best.step_s,
        decode_tokens_per_s_per_chip=best.batch * replicas / best.step_s / chips,
        prefill_tokens_per_s=best.prefill_tokens_per_s * replicas,
        max_batch=best.max_batch * replicas,
        kv_cache_gb_per_request=(input_tokens + output_tokens) * work.kv_elements * serving.kvbytes / 1e9,
        weights_gb_per_chip=work.params_total * serving.wbytes / best.tp / 1e9,
        bound=f"{dominant} (batch: {best.limit})",
        breakdown=best.parts,
        interval=interval(tokens_per_s, summary, f"{chip.stack} inference residuals"),
    )
