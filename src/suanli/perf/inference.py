"""Predict LLM serving speed: prefill, decode, KV capacity and the batch that binds.

The chips run identical model instances. A dense model's instance is tensor parallel over
its chips. A MoE instance is either tensor parallel throughout (each expert sliced over the
chips, as vLLM and TensorRT-LLM do by default) or, as SGLang, vLLM and MindIE serve
DeepSeek, attention data parallel (groups of ``attention_tp`` chips, each with its own
sequences) with the routed experts spread whole over all chips (expert parallel); the
search tries both.

One step of an instance runs its kernels one after another, each at the longer of its
memory and compute time (a roofline per kernel, not one for the whole step, since a
compute-bound GEMM cannot hide a memory-bound attention that runs after it):

* the non-routed weights (attention projections, dense and shared MLPs, output head),
  at the GEMM efficiency the step's token count allows (:func:`grouped_gemm_efficiency`);
* the routed experts: weights of the experts hit, grouped GEMMs at the tokens each expert
  gets, on the busiest rank (:func:`load_imbalance`) under expert parallelism;
* decode attention (the KV cache read; MLA computed in its absorbed form) and prefill
  attention;
* communication (tensor-parallel all-reduces, expert dispatch and combine over the fabric
  each hop crosses) and a per-layer launch overhead.

An offline run mixes prefill into the decode steps (in-flight batching, chunked prefill):
a step that decodes ``B`` sequences also prefills ``B * in / out`` prompt tokens, which ride
on the weight reads of a memory-bound decode. Throughput counts generated tokens per second
of the whole system, as MLPerf and vendor tables do.

References
----------
R. Pope et al., "Efficiently Scaling Transformer Inference", MLSys 2023 (arXiv 2211.05102),
for the decode memory-bandwidth bound and KV-cache accounting.
A. Agrawal et al., "SARATHI: Efficient LLM Inference by Piggybacking Decodes with Chunked
Prefills", arXiv 2308.16369, and "Taming Throughput-Latency Tradeoff in LLM Inference with
Sarathi-Serve", OSDI 2024 (arXiv 2403.02310), for mixed prefill-decode steps.
DeepSeek-AI, "DeepSeek-V2", arXiv 2405.04434, appendix on absorbing the MLA up-projections;
deepseek-ai/FlashMLA README (decode attention in the absorbed form, compute-bound at large
batch).
Y. Leviathan et al., "Fast Inference from Transformers via Speculative Decoding", ICML 2023
(arXiv 2211.17192); DeepSeek-V3 (arXiv 2412.19437) section 2.2 for one-layer MTP drafts.
Y. Zhong et al., "DistServe: Disaggregating Prefill and Decoding", OSDI 2024
(arXiv 2401.09670), for prefill/decode pools and the KV transfer between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from suanli.catalog.accelerator import Accelerator
from suanli.catalog.llm import LLM
from suanli.errors import InfeasibleError, InputValueError
from suanli.perf.calibration_data import residual_summary
from suanli.perf.efficiency import EfficiencyTable, StackEfficiency, efficiency_table
from suanli.perf.hardware import BYTES, Chip, chip_of
from suanli.perf.moe import (
    dispatch_combine_seconds,
    expert_hit_share,
    grouped_gemm_efficiency,
    load_imbalance,
    tokens_per_hit_expert,
)
from suanli.perf.results import InferencePrediction
from suanli.perf.uncertainty import interval
from suanli.perf.workload import model_work

FloatArray = NDArray[np.float64]

INFERENCE_PRECISIONS = ("bf16", "fp8", "int8", "int4", "fp4")
OBJECTIVES = ("offline", "decode", "prefill", "disaggregated")
ACTIVATION_BYTES = 2.0
#: Largest model instance (chips sharing one copy of the weights) considered.
MAX_INSTANCE_CHIPS = 512
#: Largest batch considered when searching for the throughput optimum.
MAX_BATCH_SEARCHED = 65_536
#: Prompt tokens one chip takes into one prefill step at most: the prefill profiles of
#: DeepSeek (deepseek-ai/profile-data) and SGLang (LMSYS blog, 2025-05-05) run 16,384
#: tokens per device.
PREFILL_TOKENS_PER_CHIP = 16_384
#: A prefill batch without a TTFT limit is the smallest within this share of the best
#: rate: beyond the knee a bigger batch only lengthens TTFT.
PREFILL_KNEE = 0.99
#: Attention tensor-parallel degrees tried for data-parallel attention (SGLang's DP
#: attention groups of 1-8 chips; CloudMatrix-Infer runs 1).
ATTENTION_TP_CHOICES = (1, 2, 4, 8)
#: Tokens per chip from which two-batch overlap hides expert dispatch fully (its gain falls
#: to nothing or below at 64-128 tokens per device; SGLang, LMSYS blog 2025-05-05).
TWO_BATCH_OVERLAP_TOKENS = 128.0


def compute_precision(chip: Chip, weight_precision: str) -> str:
    """Precision the matrix units run at: W8A8 formats use their 8-bit peak where it exists."""
    if weight_precision in chip.peak_flops:
        return weight_precision
    return "fp8" if weight_precision in {"int4", "fp4"} and "fp8" in chip.peak_flops else "bf16"


def _attention_precision(chip: Chip, kv_precision: str, matmul: str) -> str:
    """Precision attention computes at.

    FP8 with an FP8 cache where the chip has FP8 (TensorRT-LLM's FP8 context FMHA);
    otherwise 16 bit, or the matrix precision on a part with 8-bit peaks only.
    """
    if kv_precision == "fp8" and "fp8" in chip.peak_flops:
        return "fp8"
    return "bf16" if "bf16" in chip.peak_flops else matmul


@dataclass(frozen=True)
class _Shape:
    """The sizes of one model the serving model uses, in parameters and elements."""

    layers: int
    hidden: int
    kv_heads: int | None  # None for MLA: the latent cache is shared by all heads
    dense_read: float  # non-routed weights one step reads (the input lookup table is not)
    dense_store: float  # non-routed weights stored
    dense_flops: float  # non-routed weights a token multiplies by
    expert: float  # one routed expert of one layer
    experts: int
    active: int
    moe_layers: int
    kv_elements: float  # cached elements per token over all layers
    attn_prefill: float  # heads * (d_qk + d_v)
    attn_decode: float  # the same in MLA's absorbed form
    flops: float  # all weights a token multiplies by
    head: float  # output projection

    @classmethod
    def of(cls, model: LLM) -> _Shape:
        """The shape of ``model``."""
        work = model_work(model)
        lookup = work.params_active - work.flops_params
        routed_active = work.moe_layers * work.active_experts * model.expert_params
        attn_decode = work.attn_dims
        if model.mla is not None:
            # Absorbed MLA (DeepSeek-V2 appendix, FlashMLA): scores over the latent and the
            # rope part, values over the latent, per head.
            attn_decode = float(model.heads * (2 * model.mla.kv_lora_rank + model.mla.qk_rope_head_dim))
        return cls(
            layers=work.layers,
            hidden=work.hidden,
            kv_heads=None if model.mla is not None else model.kv_heads,
            dense_read=work.params_total - work.params_experts - lookup,
            dense_store=work.params_total - work.params_experts,
            dense_flops=work.flops_params - routed_active,
            expert=float(model.expert_params),
            experts=work.experts,
            active=work.active_experts,
            moe_layers=work.moe_layers,
            kv_elements=work.kv_elements,
            attn_prefill=work.attn_dims,
            attn_decode=attn_decode,
            flops=work.flops_params,
            head=float(model.vocab_size * model.hidden_size),
        )


@dataclass(frozen=True)
class _Layout:
    """How one instance of ``chips`` chips splits the model."""

    chips: int
    attention_tp: int  # chips sharing one attention shard; chips // attention_tp groups
    expert_parallel: bool  # routed experts whole on chips (else sliced over all chips)

    @property
    def groups(self) -> int:
        """Attention data-parallel groups, each with its own sequences."""
        return self.chips // self.attention_tp

    def plan(self) -> dict[str, int]:
        """The layout as the prediction reports it."""
        return {
            "instance_chips": self.chips,
            "attention_tp": self.attention_tp,
            "attention_dp": self.groups,
            "expert_ep": self.chips if self.expert_parallel else 1,
            "expert_tp": 1 if self.expert_parallel else self.chips,
        }


@dataclass(frozen=True)
class _Pins:
    """Layout choices the caller fixed (``None``: searched)."""

    attention_tp: int | None = None
    expert_parallel: bool | None = None


def _layouts(shape: _Shape, chips: int, domain: int, pins: _Pins) -> list[_Layout]:
    """Layouts of an instance of ``chips`` chips: tensor parallel, and for a MoE, DP attention + EP."""
    options = [_Layout(chips, chips, expert_parallel=False)]
    if shape.experts and chips > 1:
        choices = ATTENTION_TP_CHOICES if pins.attention_tp is None else (pins.attention_tp,)
        options += [
            _Layout(chips, a, expert_parallel=True)
            for a in choices
            if a < chips and chips % a == 0 and (a <= domain or pins.attention_tp is not None)
        ]
        if pins.attention_tp == chips:
            options.append(_Layout(chips, chips, expert_parallel=True))
    return [
        lay
        for lay in options
        if (pins.attention_tp is None or lay.attention_tp == pins.attention_tp)
        and (pins.expert_parallel is None or lay.expert_parallel == pins.expert_parallel)
    ]


@dataclass(frozen=True)
class _Load:
    """What one instance is asked to run: a batch, latency limits, or the throughput optimum."""

    batch: int | None
    tpot_s: float | None
    ttft_s: float | None
    cap: int | None
    objective: str  # offline, decode or prefill (disaggregated pools use decode and prefill)


@dataclass(frozen=True)
class _Instance:
    """One model instance at its chosen batch."""

    layout: _Layout
    batch: int  # sequences decoding (prompts, for a prefill instance)
    limit: str
    max_batch: int
    step_s: float
    tpot_s: float
    ttft_s: float
    throughput: float  # of the objective: output tokens/s, or input tokens/s for prefill
    output_tokens_per_s: float
    input_tokens_per_s: float
    prefill_tokens_per_s: float
    parts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Serving:
    """One model served on one chip type at fixed precisions, request shape and decoding."""

    shape: _Shape
    chip: Chip
    eff: StackEfficiency
    precision: str  # of the matrix units
    attention_precision: str
    weight_precision: str
    kv_precision: str
    input_tokens: int
    output_tokens: int
    accept: float = 1.0  # mean tokens emitted per sequence per step (speculative decoding)
    queries: int = 1  # tokens each sequence runs through the target model per step
    draft_share: float = 0.0  # draft cost per drafted token, as a share of a plain step
    draft: _Serving | None = None  # a separate draft model, served on the same chips

    @property
    def wbytes(self) -> float:
        """Bytes per stored weight."""
        return BYTES[self.weight_precision]

    @property
    def kvbytes(self) -> float:
        """Bytes per cached KV element."""
        return BYTES[self.kv_precision]

    @property
    def context(self) -> float:
        """Mean context of a sequence in flight."""
        return self.input_tokens + self.output_tokens / 2.0

    @property
    def reserved_context(self) -> float:
        """KV tokens the scheduler holds per sequence in flight (see ``kv_reserved_output_share``)."""
        return self.input_tokens + self.output_tokens * self.eff.kv_reserved_output_share

    def _rate(self, precision: str) -> float:
        return self.chip.compute_peak(precision) * self.eff.gemm_share(precision)

    def _kv_shard(self, lay: _Layout) -> int:
        """Chips one group's KV cache is split over.

        By heads, up to the KV heads there are. MLA's latent is shared by all heads, so a
        data-parallel attention group of several chips holds it whole on each (SGLang's
        hybrid DP/TP attention); an instance tensor parallel throughout splits it by tokens
        instead (decode context parallelism, vLLM's ``decode_context_parallel_size``), at
        the cost of one more collective per layer to merge the partial attentions.
        """
        if self.shape.kv_heads is not None:
            return min(lay.attention_tp, self.shape.kv_heads)
        return 1 if lay.expert_parallel else lay.attention_tp

    def weights_per_chip(self, lay: _Layout) -> float:
        """Weight bytes one chip stores."""
        s = self.shape
        experts = s.moe_layers * s.experts * s.expert
        if lay.expert_parallel:
            experts = s.moe_layers * math.ceil(s.experts / lay.chips) * s.expert * lay.chips
        draft = (
            0.0 if self.draft is None else self.draft.weights_per_chip(_Layout(lay.chips, lay.chips, False))
        )
        return (s.dense_store / lay.attention_tp + experts / lay.chips) * self.wbytes + draft

    def kv_per_sequence(self, lay: _Layout, tokens: float) -> float:
        """KV bytes one sequence of ``tokens`` tokens takes on each chip of its group."""
        own = tokens * self.shape.kv_elements * self.kvbytes / self._kv_shard(lay)
        if self.draft is not None:
            own += self.draft.kv_per_sequence(_Layout(lay.chips, lay.chips, False), tokens) * lay.groups
        return own

    def step(
        self, lay: _Layout, batch: FloatArray, prefill: FloatArray, queries: float = 1.0
    ) -> dict[str, FloatArray]:
        """Seconds of one step of the busiest chip, by kind, for each batch size.

        ``batch`` sequences decode ``queries`` tokens each while ``prefill`` prompt tokens
        of the instance are prefilled in the same step.
        """
        s, chip, eff = self.shape, self.chip, self.eff
        d, a = lay.groups, lay.attention_tp
        bandwidth = chip.memory_bytes_s * eff.memory
        rate, arate = self._rate(self.precision), self._rate(self.attention_precision)
        tokens = batch * queries + prefill
        group_tokens = tokens / d
        memory: list[FloatArray] = []
        compute: list[FloatArray] = []

        def kernel(mem_s: FloatArray | float, comp_s: FloatArray | float) -> None:
            m, c = np.broadcast_arrays(
                np.asarray(mem_s, dtype=np.float64), np.asarray(comp_s, dtype=np.float64)
            )
            memory.append(np.where(m >= c, m, 0.0))
            compute.append(np.where(m >= c, 0.0, c))

        # Non-routed weights: one GEMM per matrix with the group's tokens as its rows.
        kernel(
            s.dense_read * self.wbytes / a / bandwidth,
            group_tokens * 2.0 * s.dense_flops / a / (rate * grouped_gemm_efficiency(group_tokens)),
        )
        if s.experts:
            # Routed experts: token-expert pairs spread over the experts; a step reads the
            # weights of the experts it hits and runs one grouped GEMM over them.
            pairs = tokens * s.active
            expert_bytes = s.moe_layers * s.expert * self.wbytes
            flops_per_pair = 2.0 * s.expert * s.moe_layers
            if lay.expert_parallel:
                slots = math.ceil(s.experts / lay.chips)  # experts per chip; redundant ones fill
                busiest = load_imbalance(lay.chips, pairs / lay.chips)
                per_slot = busiest * pairs / (slots * lay.chips)
                efficiency = grouped_gemm_efficiency(tokens_per_hit_expert(per_slot))
                kernel(
                    slots * expert_hit_share(per_slot) * expert_bytes / bandwidth,
                    busiest * pairs / lay.chips * flops_per_pair / (rate * efficiency),
                )
            else:  # each expert sliced over the instance: balanced, all tokens on every chip
                per_expert = pairs / s.experts
                efficiency = grouped_gemm_efficiency(tokens_per_hit_expert(per_expert))
                kernel(
                    s.experts * expert_hit_share(per_expert) * expert_bytes / lay.chips / bandwidth,
                    pairs / lay.chips * flops_per_pair / (rate * efficiency),
                )
        # Decode attention reads each sequence's cache once for all its query tokens.
        shard = self._kv_shard(lay)
        sequences = batch / d
        kernel(
            sequences * self.context * s.kv_elements * self.kvbytes / shard / bandwidth,
            sequences * queries * 2.0 * s.layers * self.context * s.attn_decode / a / arate,
        )
        # Prefill attention, causal: each prompt token meets half its prompt on average.
        kernel(
            prefill / d * s.kv_elements * self.kvbytes / shard / bandwidth,
            prefill / d * s.layers * self.input_tokens * s.attn_prefill / a / arate,
        )
        busy = np.sum(memory, axis=0) + np.sum(compute, axis=0)
        collective, dispatch = self.comm_seconds(lay, tokens)
        # Two-batch overlap (DeepSeek's serving, SGLang, CloudMatrix-Infer) hides dispatch and
        # combine behind the other micro-batch's kernels, up to the stack's ep_overlap share
        # of them; it gains nothing below ~128 tokens per chip (SGLang's TBO ablation).
        overlap = eff.ep_overlap * np.minimum(1.0, tokens / lay.chips / TWO_BATCH_OVERLAP_TOKENS)
        dispatch = dispatch - np.minimum(dispatch, overlap * busy)
        return {
            "memory": np.sum(memory, axis=0),
            "compute": np.sum(compute, axis=0),
            "communication": collective + dispatch,
            "overhead": np.full(np.shape(tokens), s.layers * eff.decode_overhead_us_per_layer * 1e-6),
        }

    def comm_seconds(self, lay: _Layout, tokens: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Communication of one step that carries ``tokens`` tokens on one instance.

        Tensor parallel over the instance: two all-reduces of the activations per layer.
        Data-parallel attention with expert parallelism: one all-reduce per layer inside an
        attention group, and per MoE layer a dispatch and a combine of each chip's tokens
        to their ``k`` experts over the instance (:func:`dispatch_combine_seconds`: scale-up
        inside the domain, scale-out beyond), the busiest rank receiving the most. Returns
        the collectives and the dispatch/combine time apart, before any overlap.
        """
        s, chip, eff = self.shape, self.chip, self.eff

        def all_reduce(group: int, group_tokens: FloatArray, ops: float) -> FloatArray:
            if group == 1:
                return np.zeros_like(group_tokens)
            scale = eff.scaleup if group <= chip.scaleup_domain else eff.scaleout
            volume = ops * 2.0 * (group - 1) / group * group_tokens * s.hidden * ACTIVATION_BYTES
            return np.asarray(
                volume / (chip.link_bytes_s(group) * scale) + ops * eff.collective_latency_us * 1e-6
            )

        if not lay.expert_parallel:
            ops = 2.0 * s.layers + (s.layers if s.kv_heads is None else 0.0)  # MLA: merge partial attention
            # Sliced experts still route locally: sort tokens to experts and sum them back.
            routing = 2.0 * s.moe_layers * eff.moe_dispatch_latency_us * 1e-6
            return all_reduce(lay.chips, tokens, ops) + routing, np.zeros_like(tokens)
        attention = all_reduce(lay.attention_tp, tokens / lay.groups, float(s.layers))
        per_chip = tokens / lay.chips
        busiest = load_imbalance(lay.chips, per_chip * s.active)
        dispatch_bytes = 1.0 if self.wbytes <= 1.0 else ACTIVATION_BYTES  # DeepEP: FP8 out, BF16 back
        ops = 2.0 * s.moe_layers
        moe = dispatch_combine_seconds(
            chip,
            eff,
            lay.chips,
            busiest * per_chip * ops,
            s.active,
            (dispatch_bytes + ACTIVATION_BYTES) / 2.0 * s.hidden,
            ops,
        )
        return attention, moe

    def step_seconds(
        self, lay: _Layout, batch: FloatArray, prefill: FloatArray
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Total seconds of a step (verification plus drafting) and its parts."""
        parts = self.step(lay, batch, prefill, float(self.queries))
        total = parts["memory"] + parts["compute"] + parts["communication"] + parts["overhead"]
        drafted = self.queries - 1
        if drafted:
            if self.draft is not None:  # drafted autoregressively, tensor parallel over the instance
                draft_parts = self.draft.step(_Layout(lay.chips, lay.chips, False), batch, 0.0 * batch)
                one = np.sum(list(draft_parts.values()), axis=0)
            else:
                one = self.draft_share * np.sum(list(self.step(lay, batch, 0.0 * batch).values()), axis=0)
            # Only decoding sequences draft; a prefill-only step has none.
            parts["draft"] = np.asarray(np.where(batch > 0, drafted * one, 0.0), dtype=np.float64)
            total = total + parts["draft"]
        return np.asarray(total, dtype=np.float64), parts

    def prefill_rate(self, lay: _Layout) -> float:
        """Prompt tokens per second of a prefill-only instance at its largest step."""
        chunk = np.array([float(PREFILL_TOKENS_PER_CHIP * lay.chips)])
        total, _ = self.step_seconds(lay, np.zeros(1), chunk)
        return float(chunk[0] / total[0])

    def capacity(self, lay: _Layout, tokens_per_sequence: float) -> int | str:
        """Sequences of ``tokens_per_sequence`` KV tokens an instance holds, or why none fit."""
        weights = self.weights_per_chip(lay)
        free = self.chip.usable_memory_bytes - weights
        if free <= 0:
            return f"weights need {weights / 1e9:.1f} GB per chip over {lay.chips} chips"
        per_group = math.floor(free / self.kv_per_sequence(lay, tokens_per_sequence))
        if per_group < 1:
            return f"no room for one request's KV cache beside the weights over {lay.chips} chips"
        return min(per_group * lay.groups, MAX_BATCH_SEARCHED)

    def instance(self, lay: _Layout, load: _Load) -> _Instance | str:
        """The best operating point of one instance in ``lay``, or why there is none."""
        if load.objective == "prefill":
            return self._prefill_instance(lay, load)
        max_batch = self.capacity(lay, self.reserved_context)
        if isinstance(max_batch, str):
            return max_batch
        if load.batch is not None and load.batch > max_batch:
            return (
                f"batch {load.batch} exceeds the KV capacity of {max_batch} requests over {lay.chips} chips"
            )
        searched = max_batch if load.cap is None or load.batch is not None else min(max_batch, load.cap)
        batches = np.arange(1, searched + 1, dtype=np.float64)
        accepted = self.accept
        offline = load.objective == "offline"
        prefill = batches * accepted * self.input_tokens / self.output_tokens if offline else 0.0 * batches
        step, parts = self.step_seconds(lay, batches, prefill)
        tpot = step / accepted
        throughput = batches * accepted / step
        alone, _ = self.step_seconds(lay, np.zeros(1), np.array([float(self.input_tokens)]))
        if offline:  # the step that carries a new request's whole prompt
            ttft, _ = self.step_seconds(lay, batches, prefill + self.input_tokens)
        else:
            ttft = np.full(batches.shape, alone[0])
        meets = np.ones(batches.shape, dtype=bool)
        if load.tpot_s is not None:
            meets &= tpot <= load.tpot_s
        if load.ttft_s is not None:
            meets &= ttft <= load.ttft_s
        if load.batch is not None:
            chosen, limit = load.batch, "given"
        elif load.tpot_s is not None or load.ttft_s is not None:
            found = np.flatnonzero(meets)
            if found.size == 0:
                return (
                    f"one sequence alone takes {tpot[0] * 1e3:.1f} ms per token and {ttft[0] * 1e3:.1f} ms "
                    f"to its first token over {lay.chips} chips"
                )
            chosen = int(found[-1]) + 1
            limit = "kv-capacity" if chosen == max_batch else "latency-target"
        else:
            chosen = int(np.argmax(throughput)) + 1
            limit = "kv-capacity" if chosen == max_batch else "throughput-optimum"
            if chosen == searched < max_batch:
                limit = "concurrency-cap"
        i = chosen - 1
        return _Instance(
            layout=lay,
            batch=chosen,
            limit=limit,
            max_batch=max_batch,
            step_s=float(step[i]),
            tpot_s=float(tpot[i]),
            ttft_s=float(ttft[i]),
            throughput=float(throughput[i]),
            output_tokens_per_s=float(throughput[i]),
            input_tokens_per_s=float(throughput[i]) * self.input_tokens / self.output_tokens
            if offline
            else 0.0,
            prefill_tokens_per_s=self.prefill_rate(lay),
            parts={k: float(v[i]) for k, v in parts.items()},
        )

    def _prefill_instance(self, lay: _Layout, load: _Load) -> _Instance | str:
        """A prefill-only instance: ``B`` prompts per step, TTFT the step's time."""
        held = self.capacity(lay, float(self.input_tokens))
        if isinstance(held, str):
            return held
        most = min(held, max(1, PREFILL_TOKENS_PER_CHIP * lay.chips // self.input_tokens))
        if load.batch is not None and load.batch > held:
            return f"batch {load.batch} exceeds the KV capacity of {held} prompts over {lay.chips} chips"
        if load.batch is not None:
            most = max(most, load.batch)
        prompts = np.arange(1, most + 1, dtype=np.float64)
        step, parts = self.step_seconds(lay, 0.0 * prompts, prompts * self.input_tokens)
        rate = prompts * self.input_tokens / step
        if load.batch is not None:
            chosen, limit = load.batch, "given"
        elif load.ttft_s is not None:
            found = np.flatnonzero(step <= load.ttft_s)
            if found.size == 0:
                return f"one prompt alone takes {step[0] * 1e3:.1f} ms to prefill over {lay.chips} chips"
            chosen = int(found[-1]) + 1
            limit = "latency-target"
        else:
            chosen = int(np.flatnonzero(rate >= PREFILL_KNEE * rate.max())[0]) + 1
            limit = "prefill-knee"
        i = chosen - 1
        return _Instance(
            layout=lay,
            batch=chosen,
            limit=limit,
            max_batch=held,
            step_s=float(step[i]),
            tpot_s=float("nan"),
            ttft_s=float(step[i]),
            throughput=float(rate[i]),
            output_tokens_per_s=float(rate[i]) / self.input_tokens,
            input_tokens_per_s=float(rate[i]),
            prefill_tokens_per_s=float(rate.max()),
            parts={k: float(v[i]) for k, v in parts.items()},
        )

    def kv_transfer_rate(self, chips: int) -> float:
        """Bytes/s per sending chip for KV moving between pools of a ``chips``-chip system."""
        scale = self.eff.scaleup if chips <= self.chip.scaleup_domain else self.eff.scaleout
        return self.chip.link_bytes_s(max(chips, 2)) * scale

    def kv_bytes_per_request(self) -> float:
        """KV bytes of one prompt, all layers (what prefill hands to decode)."""
        return self.input_tokens * self.shape.kv_elements * self.kvbytes


def _divisors(n: int, limit: int) -> list[int]:
    return [t for t in range(1, min(n, limit) + 1) if n % t == 0]


def _best(serving: _Serving, size: int, load: _Load, pins: _Pins, reasons: list[str]) -> _Instance | None:
    """The fastest layout of an instance of ``size`` chips under ``load``."""
    found: list[_Instance] = []
    layouts = _layouts(serving.shape, size, serving.chip.scaleup_domain, pins)
    if not layouts:
        reasons.append(
            f"no layout of {size} chips matches attention_tp={pins.attention_tp}, "
            f"expert_parallel={pins.expert_parallel}"
        )
    for lay in layouts:
        option = serving.instance(lay, load)
        if isinstance(option, str):
            reasons.append(option)
        else:
            found.append(option)
    return max(found, key=lambda o: o.throughput) if found else None


def _check_positive(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputValueError(f"must be a number > 0 (got {value})", field=name)


def _speculation(
    shape: _Shape,
    accept: float | None,
    draft_tokens: int | None,
    draft_cost: float | None,
) -> tuple[float, int, float]:
    """``(accepted tokens per step, tokens verified per step, draft share)`` of the request."""
    if accept is None:
        if draft_tokens is not None:
            raise InputValueError("give spec_accept_length with spec_draft_tokens", field="spec_draft_tokens")
        return 1.0, 1, 0.0
    if not (math.isfinite(accept) and accept >= 1.0):
        raise InputValueError(f"must be a number >= 1 (got {accept})", field="spec_accept_length")
    drafted = draft_tokens if draft_tokens is not None else max(1, math.ceil(accept - 1.0))
    if drafted < 1:
        raise InputValueError(f"must be >= 1 (got {drafted})", field="spec_draft_tokens")
    if accept > drafted + 1:
        raise InputValueError(
            f"cannot exceed spec_draft_tokens + 1 = {drafted + 1} (got {accept})", field="spec_accept_length"
        )
    if draft_cost is not None and not (math.isfinite(draft_cost) and draft_cost >= 0):
        raise InputValueError(f"must be a number >= 0 (got {draft_cost})", field="spec_draft_cost")
    # Default: an MTP-style draft (DeepSeek-V3 section 2.2, EAGLE) runs one extra layer and
    # the shared output head per drafted token.
    share = draft_cost if draft_cost is not None else 1.0 / shape.layers + shape.head / shape.flops
    return accept, drafted + 1, share


@dataclass(frozen=True)
class _Request:
    """What the caller asked, validated: the system, the load, and the layout pins."""

    model: LLM
    accelerator: Accelerator
    chips: int
    objective: str
    batch: int | None
    tpot_s: float | None
    ttft_s: float | None
    tp: int | None
    max_concurrency: int | None
    pins: _Pins
    table: EfficiencyTable


def _check_disaggregated(chips: int, batch: int | None, tp: int | None) -> None:
    if chips < 2:
        raise InputValueError("disaggregated serving needs at least 2 chips", field="chips")
    if batch is not None:
        raise InputValueError(
            "disaggregated serving sizes each pool's batch; give latency limits instead", field="batch"
        )
    if tp is not None and not 1 <= tp < chips:
        raise InputValueError(f"must be between 1 and chips - 1 = {chips - 1} (got {tp})", field="tp")


def _check_request(
    model: LLM,
    chips: int,
    *,
    input_tokens: int,
    output_tokens: int,
    batch: int | None,
    tpot_ms: float | None,
    ttft_ms: float | None,
    precisions: dict[str, str],
    tp: int | None,
    objective: str,
    attention_tp: int | None,
    expert_parallel: bool | None,
) -> None:
    """Raise :class:`InputValueError` naming the first bad keyword."""
    for name, count in (("chips", chips), ("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if count < 1:
            raise InputValueError(f"must be >= 1 (got {count})", field=name)
    for name, precision_name in precisions.items():
        if precision_name not in INFERENCE_PRECISIONS:
            raise InputValueError(
                f"must be one of {', '.join(INFERENCE_PRECISIONS)} (got {precision_name!r})", field=name
            )
    _check_positive("tpot_ms", tpot_ms)
    _check_positive("ttft_ms", ttft_ms)
    if batch is not None and (tpot_ms is not None or ttft_ms is not None):
        raise InputValueError("give a batch or a TPOT/TTFT target, not both", field="batch")
    if batch is not None and batch < 1:
        raise InputValueError(f"must be >= 1 (got {batch})", field="batch")
    if objective not in OBJECTIVES:
        raise InputValueError(
            f"must be one of {', '.join(OBJECTIVES)} (got {objective!r})", field="objective"
        )
    if objective == "disaggregated":
        _check_disaggregated(chips, batch, tp)
    elif tp is not None and (tp < 1 or chips % tp):
        raise InputValueError(f"must divide chips={chips} (got {tp})", field="tp")
    if attention_tp is not None and attention_tp < 1:
        raise InputValueError(f"must be >= 1 (got {attention_tp})", field="attention_tp")
    if expert_parallel and model.moe is None:
        raise InputValueError(f"{model.id} has no experts to spread", field="expert_parallel")


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
    ttft_ms: float | None = None,
    spec_accept_length: float | None = None,
    spec_draft_tokens: int | None = None,
    spec_draft_cost: float | None = None,
    draft_model: LLM | None = None,
    attention_tp: int | None = None,
    expert_parallel: bool | None = None,
) -> InferencePrediction:
    """Predict serving speed of ``model`` on ``chips`` of ``accelerator``.

    The chips run ``chips / tp`` identical instances of ``tp`` chips each; without ``tp``
    every instance size that divides ``chips`` (and for a MoE each layout: tensor parallel,
    or data-parallel attention with expert-parallel experts) is tried and the one with the
    highest system throughput wins. Give a ``batch`` (concurrent sequences per system),
    latency limits (``tpot_ms`` per output token, ``ttft_ms`` to the first token: each
    instance runs the largest batch meeting both), or neither (the batch that maximises
    throughput within KV memory, capped at ``max_concurrency`` sequences per system).

    ``objective``:

    * ``"offline"``: prefill mixed into decode steps; ``tokens_per_s`` counts output tokens,
      ``ttft_s`` is the step that carries a new request's prompt beside the running batch.
    * ``"decode"``: decode alone, as the decode pool of disaggregated serving; ``ttft_s`` is
      a lone prompt's prefill on the same instance.
    * ``"prefill"``: prefill alone; ``tokens_per_s`` and ``input_tokens_per_s`` count prompt
      tokens, ``ttft_s`` is the time of one prefill step of the chosen batch of prompts.
    * ``"disaggregated"``: the chips split into a prefill pool and a decode pool (the split
      is searched; ``pools`` reports it), the KV cache crossing the scale-up fabric when
      all chips share one domain and the scale-out network otherwise.

    Speculative decoding: ``spec_accept_length`` is the mean tokens emitted per sequence per
    verification step (>= 1); ``spec_draft_tokens`` the tokens drafted per step (default:
    the fewest that can reach the accept length); the draft costs either ``draft_model``'s
    decode steps on the same chips or ``spec_draft_cost`` of a plain decode step per drafted
    token (default: one layer and the output head, an MTP-style draft).

    ``attention_tp`` and ``expert_parallel`` pin a MoE instance's layout (the chips sharing
    one attention shard; experts spread whole over the instance or sliced), for comparing
    with a stated deployment; by default both are searched.
    """
    kv_precision = kv_precision or weight_precision
    chip = chip_of(accelerator, memory_gb_override, scaleup_domain)
    packages, chips = chips, chips * chip.dies  # from here on ``chips`` counts ranks (dies)
    _check_request(
        model,
        chips,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        batch=batch,
        tpot_ms=tpot_ms,
        ttft_ms=ttft_ms,
        precisions={"weight_precision": weight_precision, "kv_precision": kv_precision},
        tp=tp,
        objective=objective,
        attention_tp=attention_tp,
        expert_parallel=expert_parallel,
    )
    table = efficiency if efficiency is not None else efficiency_table()
    eff = table.for_stack(chip.stack)
    shape = _Shape.of(model)
    accept, queries, share = _speculation(shape, spec_accept_length, spec_draft_tokens, spec_draft_cost)
    precision = compute_precision(chip, weight_precision)
    chip.compute_peak(precision)

    def serving_of(llm_shape: _Shape, draft: _Serving | None) -> _Serving:
        return _Serving(
            llm_shape,
            chip,
            eff,
            precision,
            _attention_precision(chip, kv_precision, precision),
            weight_precision,
            kv_precision,
            input_tokens,
            output_tokens,
            accept=accept,
            queries=queries,
            draft_share=share,
            draft=draft,
        )

    draft = None if draft_model is None or queries == 1 else serving_of(_Shape.of(draft_model), None)
    request = _Request(
        model=model,
        accelerator=accelerator,
        chips=chips,
        objective=objective,
        batch=batch,
        tpot_s=None if tpot_ms is None else tpot_ms / 1e3,
        ttft_s=None if ttft_ms is None else ttft_ms / 1e3,
        tp=tp,
        max_concurrency=max_concurrency,
        pins=_Pins(attention_tp, expert_parallel),
        table=table,
    )
    serving = serving_of(shape, draft)
    pred = _disaggregated(serving, request) if objective == "disaggregated" else _colocated(serving, request)
    if chip.dies == 1:
        return pred
    return pred.model_copy(
        update={
            "chips": packages,
            "tokens_per_s_per_chip": pred.tokens_per_s / packages,
            "decode_tokens_per_s_per_chip": pred.decode_tokens_per_s / packages,
            "ranks_per_chip": chip.dies,
        }
    )


def _colocated(serving: _Serving, req: _Request) -> InferencePrediction:
    """Every chip runs the objective's work; the best instance size and layout win."""
    sizes = [req.tp] if req.tp is not None else _divisors(req.chips, MAX_INSTANCE_CHIPS)
    options: list[tuple[int, _Instance]] = []
    reasons: list[str] = []
    for size in sizes:
        replicas = req.chips // size
        per_instance = None if req.batch is None else -(-req.batch // replicas)
        cap = None if req.max_concurrency is None else max(1, req.max_concurrency // replicas)
        load = _Load(per_instance, req.tpot_s, req.ttft_s, cap, req.objective)
        best = _best(serving, size, load, req.pins, reasons)
        if best is not None:
            options.append((replicas, best))
    if not options:
        where = f"{req.model.id} on {req.chips} x {req.accelerator.id} at {serving.weight_precision}"
        raise InfeasibleError(f"{where}: {reasons[-1]}")
    replicas, best = max(options, key=lambda o: o[1].throughput * o[0])
    return _prediction(
        serving,
        req,
        decode=best,
        decode_replicas=replicas,
        tokens_per_s=best.throughput * replicas,
        input_tokens_per_s=best.input_tokens_per_s * replicas,
        ttft_s=best.ttft_s,
        prefill_tokens_per_s=best.prefill_tokens_per_s * replicas,
    )


def _disaggregated(serving: _Serving, req: _Request) -> InferencePrediction:
    """Split the chips into a prefill and a decode pool; search the split that serves most.

    Requests flow prefill -> KV transfer -> decode, so the system serves the least of: the
    decode pool's output rate, the prefill pool's input rate times ``out / in``, and the KV
    transfer rate of the prefill pool's links times ``out``. Each pool runs whole instances
    (leftover chips idle), of the size that serves it best.
    """
    chips = req.chips
    domain = serving.chip.scaleup_domain
    candidates = {t for t in range(1, chips) if chips % t == 0 or t & (t - 1) == 0 or t % domain == 0}
    sizes = [req.tp] if req.tp is not None else sorted(t for t in candidates if t <= MAX_INSTANCE_CHIPS)
    transfer_rate = serving.kv_transfer_rate(chips)
    per_request = serving.kv_bytes_per_request()
    latency = serving.eff.collective_latency_us * 1e-6
    reasons: list[str] = []
    prefill: dict[int, _Instance] = {}
    decode: dict[int, _Instance] = {}
    for size in sizes:
        # TTFT includes moving the prompt's KV: the prefill step gets what is left.
        move_s = per_request / (size * transfer_rate) + latency
        budget = None if req.ttft_s is None else req.ttft_s - move_s
        if budget is not None and budget <= 0:
            reasons.append(f"moving one prompt's KV cache alone takes {move_s * 1e3:.1f} ms")
            continue
        found = _best(serving, size, _Load(None, None, budget, None, "prefill"), req.pins, reasons)
        if found is not None:
            prefill[size] = found
        found = _best(
            serving, size, _Load(None, req.tpot_s, None, req.max_concurrency, "decode"), req.pins, reasons
        )
        if found is not None:
            decode[size] = found
    if not prefill or not decode:
        raise InfeasibleError(
            f"{req.model.id} on {chips} x {req.accelerator.id} disaggregated: {reasons[-1]}"
        )
    pool = np.arange(1, chips, dtype=np.int64)  # chips of the prefill pool; the decode pool has the rest

    def pool_rates(found: dict[int, _Instance], rate: str) -> tuple[FloatArray, NDArray[np.int64]]:
        """Best rate of a pool of 1 .. chips-1 chips, and the instance size that gives it."""
        sizes_found = np.array(sorted(found), dtype=np.int64)
        rates = np.array([getattr(found[int(t)], rate) for t in sizes_found])
        total = (pool[:, None] // sizes_found[None, :]) * rates[None, :]
        pick = np.argmax(total, axis=1)
        return np.asarray(total[np.arange(pool.size), pick], dtype=np.float64), sizes_found[pick]

    prefill_in, prefill_size = pool_rates(prefill, "input_tokens_per_s")
    decode_out, decode_size = pool_rates(decode, "output_tokens_per_s")
    out_per_in = serving.output_tokens / serving.input_tokens
    moved_in = pool * transfer_rate / per_request * serving.input_tokens
    served = np.minimum(decode_out[::-1], np.minimum(prefill_in, moved_in) * out_per_in)
    i = int(np.argmax(served))
    if served[i] <= 0:
        where = f"{req.model.id} on {chips} x {req.accelerator.id} disaggregated"
        raise InfeasibleError(f"{where}: no split fits an instance in each pool")
    prefill_chips = int(pool[i])
    decode_chips = chips - prefill_chips
    first = prefill[int(prefill_size[i])]
    second = decode[int(decode_size[decode_chips - 1])]
    tokens_per_s = float(served[i])
    return _prediction(
        serving,
        req,
        decode=second,
        decode_replicas=decode_chips // second.layout.chips,
        tokens_per_s=tokens_per_s,
        input_tokens_per_s=tokens_per_s / out_per_in,
        ttft_s=first.ttft_s + per_request / (first.layout.chips * transfer_rate) + latency,
        prefill_tokens_per_s=float(prefill_in[i]),
        pools={
            "prefill": prefill_chips,
            "decode": decode_chips,
            "prefill_instance_chips": first.layout.chips,
            "decode_instance_chips": second.layout.chips,
        },
    )


def _prediction(
    serving: _Serving,
    req: _Request,
    *,
    decode: _Instance,
    decode_replicas: int,
    tokens_per_s: float,
    input_tokens_per_s: float,
    ttft_s: float,
    prefill_tokens_per_s: float,
    pools: dict[str, int] | None = None,
) -> InferencePrediction:
    """The prediction of an operating point (``decode`` is the instance that emits tokens)."""
    chip, shape, best, chips = serving.chip, serving.shape, decode, req.chips
    dominant = max(
        ("memory-bandwidth", best.parts.get("memory", 0.0)),
        ("compute", best.parts.get("compute", 0.0)),
        ("communication", best.parts.get("communication", 0.0)),
        key=lambda kv: kv[1],
    )[0]
    summary = residual_summary(
        chip.stack, "inference", req.table.is_measured(chip.stack), moe=req.model.moe is not None
    )
    # Compute roofline: every token the chips process needs 2 FLOPs per weight it meets, at
    # the dense peak with no loss; an offline output token also brings in/out prompt tokens.
    prompts = (
        serving.input_tokens / serving.output_tokens if req.objective in {"offline", "disaggregated"} else 0.0
    )
    roofline = chip.compute_peak(serving.precision) * chips / (2.0 * shape.flops * (1.0 + prompts))
    prefill_only = req.objective == "prefill"
    decode_rate = 0.0 if prefill_only else best.batch * serving.accept / best.step_s * decode_replicas
    return InferencePrediction(
        model=req.model.id,
        accelerator=req.accelerator.id,
        chips=chips,
        tp=best.layout.chips,
        replicas=decode_replicas,
        input_tokens=serving.input_tokens,
        output_tokens=serving.output_tokens,
        weight_precision=serving.weight_precision,
        kv_precision=serving.kv_precision,
        batch=best.batch * decode_replicas,
        ttft_s=ttft_s,
        tpot_s=best.step_s if prefill_only else best.tpot_s,
        tokens_per_s=tokens_per_s,
        tokens_per_s_per_chip=tokens_per_s / chips,
        decode_tokens_per_s=decode_rate,
        decode_tokens_per_s_per_chip=decode_rate / chips,
        prefill_tokens_per_s=prefill_tokens_per_s,
        max_batch=best.max_batch * decode_replicas,
        kv_cache_gb_per_request=(serving.input_tokens + serving.output_tokens)
        * shape.kv_elements
        * serving.kvbytes
        / 1e9,
        weights_gb_per_chip=serving.weights_per_chip(best.layout) / 1e9,
        bound=f"{dominant} (batch: {best.limit})",
        breakdown=best.parts,
        interval=interval(
            tokens_per_s,
            summary,
            f"{chip.stack} {'MoE ' if req.model.moe else ''}inference residuals",
            ceiling=roofline,
        ),
        objective=req.objective,
        input_tokens_per_s=input_tokens_per_s,
        pools=pools,
        plan=best.layout.plan(),
        spec_accept_length=serving.accept,
        spec_draft_tokens=serving.queries - 1,
        roofline_tokens_per_s=roofline,
    )
