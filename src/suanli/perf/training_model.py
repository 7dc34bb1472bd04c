"""The training step-time and memory model, vectorised over parallelism plans.

Every function takes arrays of plans (one element per plan) so that the search evaluates
thousands of plans in one pass. The model, per optimiser step:

* compute: hardware FLOPs (model FLOPs, causal attention halved, plus recomputation) over
  the dense peak times the stack's GEMM efficiency and a GEMM-shape factor;
* memory-bound work: element-wise traffic of the layers and the optimiser update;
* tensor parallel (sequence-parallel all-gather/reduce-scatter, four per layer forward and
  four backward), context-parallel KV exchange and MoE all-to-all, on the scale-up link when
  the group fits in one domain and on the scale-out network otherwise;
* pipeline bubble ``(pp - 1) / vp`` micro-batch times of the busiest stage (the last one
  also computes the output head) and stage-boundary transfers;
* data-parallel gradient reduction (and ZeRO-3 weight gathers), hidden behind the backward
  pass up to ``DP_OVERLAP`` of it, dense weights over ``dp * cp`` and expert weights over
  the expert-data-parallel group;
* MoE layers as Megatron-Core lays them out ("parallel folding", arXiv 2504.14960): the
  expert-parallel group of ``ep * etp`` chips is folded over the ``tp * cp * dp`` chips of a
  pipeline stage, independent of the dense layers' ``tp``; routed experts run as grouped
  GEMMs whose efficiency falls with the tokens each expert receives, the busiest rank waits
  for its share of the load imbalance, and dispatch/combine all-to-alls cross the fabric
  the group spans;
* synchronisation at scale: every step waits for the slowest of the fleet's scale-up
  domains (extreme value of their step-time jitter).

References
----------
D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using
Megatron-LM", SC21 (arXiv 2104.04473). V. Korthikanti et al., "Reducing Activation
Recomputation in Large Transformer Models", MLSys 2023 (arXiv 2205.05198), for activation
memory (34·s·b·h per layer with sequence parallelism and flash attention). S. Rajbhandari
et al., "ZeRO", SC20, for optimiser-state sharding (2 + 4 + 12 bytes per parameter).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from suanli.perf.efficiency import StackEfficiency
from suanli.perf.hardware import Chip
from suanli.perf.moe import dispatch_combine_seconds, grouped_gemm_efficiency
from suanli.perf.moe import load_imbalance as imbalance_at
from suanli.perf.workload import ModelWork

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

RECOMPUTE = ("none", "selective", "partial", "full")
#: Share of layers recomputed in full under each RECOMPUTE choice: "partial" is Megatron's
#: ``--recompute-num-layers`` at half the layers (selective recomputation on the rest), the
#: middle way large runs take when full recomputation costs too much and none does not fit.
FULL_SHARE = np.array([0.0, 0.0, 0.5, 1.0])

#: Share of the backward pass behind which data-parallel communication can hide.
DP_OVERLAP = 0.9
#: GEMM-shape knee: a matrix dimension ``d`` (the TP shard ``h / tp``, the tokens of a
#: micro-batch slice) runs at ``d / (d + knee)`` of the large-GEMM efficiency: narrow shards
#: and short slices underfill the tensor cores.
GEMM_KNEE = 128.0
#: Attention kernels (FlashAttention-2) run at about this share of the large-GEMM rate:
#: Dao (arXiv 2307.08691) reports 50-73 % of A100 peak forward and less backward, against
#: 80-90 % for large cuBLAS GEMMs.
ATTENTION_EFFICIENCY = 0.75
#: Element-wise bytes per token per layer per hidden unit, forward and backward, 16-bit:
#: the 34·h activation bytes of Korthikanti et al. written once and read or rewritten about
#: five more times by norms, activations, dropout and residual adds.
ELEMENTWISE_BYTES_PER_H = 200.0
#: Optimiser update traffic per parameter: read bf16 weight, fp32 master, two Adam moments
#: and fp32 gradient; write the first four back.
OPTIMIZER_BYTES_PER_PARAM = 32.0
#: Bytes per parameter held in memory: bf16 weights, fp32 gradients, fp32 master + 2 moments.
WEIGHT_BYTES, GRAD_BYTES, OPTIMIZER_BYTES = 2.0, 4.0, 12.0
#: Coefficient of variation of one scale-up domain's step time (kernel timing, thermal and
#: clock variation, network congestion). A synchronous step waits for the slowest of ``n``
#: domains, about ``1 + cv * sqrt(2 ln n)`` times the mean (the expected maximum of ``n``
#: normal draws). Assumption, range 0.005-0.02: ByteDance's five-month trace (Lin et al.,
#: "Understanding Stragglers in Large Model Training Using What-if Analysis", OSDI 2025,
#: arXiv 2505.05713) finds straggling common and often not caused by failures.
STEP_JITTER_CV = 0.01


@dataclass(frozen=True)
class Plans:
    """Parallelism plans as parallel arrays (one element per plan)."""

    tp: IntArray
    pp: IntArray
    dp: IntArray
    cp: IntArray
    ep: IntArray
    vp: IntArray
    mb: IntArray
    recompute: IntArray  # index into RECOMPUTE
    zero: IntArray
    etp: IntArray  # tensor parallelism inside each expert (separate from the dense tp)

    def __len__(self) -> int:
        return int(self.tp.shape[0])

    def take(self, index: IntArray | NDArray[np.bool_]) -> Plans:
        """The plans selected by ``index`` (integer positions or a mask)."""
        return Plans(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def row(self, i: int) -> dict[str, int | str]:
        """Plan ``i`` as a plain mapping."""
        row: dict[str, int | str] = {f.name: int(getattr(self, f.name)[i]) for f in fields(self)}
        row["recompute"] = RECOMPUTE[int(self.recompute[i])]
        return row


@dataclass(frozen=True)
class StepCost:
    """Per-plan step time, its parts, and memory per chip (arrays in seconds and bytes)."""

    step_time_s: FloatArray
    compute_s: FloatArray
    memory_s: FloatArray
    tp_s: FloatArray
    cp_s: FloatArray
    ep_s: FloatArray
    pp_bubble_s: FloatArray
    pp_comm_s: FloatArray
    dp_s: FloatArray
    sync_s: FloatArray  # waiting for the slowest scale-up domain
    memory_bytes: FloatArray
    micro_batches: FloatArray


@dataclass(frozen=True)
class _Layout:
    """A batch of plans as float arrays, with the sizes every cost term shares."""

    tp: FloatArray
    pp: FloatArray
    dp: FloatArray
    cp: FloatArray
    ep: FloatArray
    etp: FloatArray
    vp: FloatArray
    micro: FloatArray  # micro-batches per step on one pipeline
    tokens_mb: FloatArray  # tokens of one micro-batch on one chip's sequence slice
    stage_layers: FloatArray  # layers on the busiest pipeline stage
    recompute: IntArray
    zero: IntArray

    @property
    def expert_dp(self) -> FloatArray:
        """Replicas of each expert shard: the stage's chips over the expert group."""
        return np.asarray(self.tp * self.cp * self.dp / (self.ep * self.etp), dtype=np.float64)

    @classmethod
    def of(cls, work: ModelWork, plans: Plans, seq_len: int, global_batch_tokens: float) -> _Layout:
        tp, pp, dp, cp, ep, etp, vp, mb = (
            a.astype(np.float64)
            for a in (plans.tp, plans.pp, plans.dp, plans.cp, plans.ep, plans.etp, plans.vp, plans.mb)
        )
        return cls(
            tp=tp,
            pp=pp,
            dp=dp,
            cp=cp,
            ep=ep,
            etp=etp,
            vp=vp,
            micro=global_batch_tokens / seq_len / (dp * mb),
            tokens_mb=mb * seq_len / cp,
            stage_layers=np.ceil(work.layers / pp),
            recompute=plans.recompute,
            zero=plans.zero,
        )


def _comm_time(
    chip: Chip, eff: StackEfficiency, span: FloatArray, volume: FloatArray, ops: FloatArray
) -> FloatArray:
    """Seconds for collectives moving ``volume`` bytes per chip in ``ops`` operations.

    ``span`` is the number of consecutive chips the group covers (its size times the
    stride of the dimensions laid out inside it): within one scale-up domain the group
    uses the scale-up link, otherwise the scale-out network.
    """
    fits = span <= chip.scaleup_domain
    bandwidth = np.where(fits, chip.scaleup_bytes_s * eff.scaleup, chip.scaleout_bytes_s * eff.scaleout)
    return volume / bandwidth + ops * eff.collective_latency_us * 1e-6


def tokens_per_expert(work: ModelWork, lay: _Layout) -> FloatArray:
    """Tokens each routed expert multiplies in one micro-batch (uniform routing).

    Each chip of a stage holds ``tokens_mb / tp`` tokens after the sequence-parallel
    scatter; the ``ep * etp`` chips of an expert group send their tokens' ``k`` copies to
    the ``experts`` experts.
    """
    if not work.experts:
        return np.zeros_like(lay.tp)
    return np.asarray(
        lay.tokens_mb / lay.tp * lay.ep * lay.etp * work.active_experts / work.experts, dtype=np.float64
    )


def _compute_seconds(
    work: ModelWork,
    chip: Chip,
    eff: StackEfficiency,
    lay: _Layout,
    *,
    seq_len: int,
    batch: float,
    precision: str,
    imbalance: FloatArray,
) -> FloatArray:
    """Matrix-unit seconds per step on the busiest chip of the busiest pipeline stage."""
    again = 1.0 + FULL_SHARE[lay.recompute] / 3.0  # full recomputation: a second forward
    body = work.flops_params - work.head_params - work.routed_active
    head = work.head_params  # on the last stage only
    causal_attention = work.attention_flops_per_token(seq_len) / 2 / work.layers
    attn = causal_attention * np.where(lay.recompute >= 1, 4.0 / 3.0, 1.0)
    tokens_per_chip = batch / (lay.tp * lay.cp * lay.dp)  # tokens one tensor-parallel rank handles
    per_layer = lay.stage_layers / work.layers
    shard = work.hidden / lay.tp
    shape = shard / (shard + GEMM_KNEE) * lay.tokens_mb / (lay.tokens_mb + GEMM_KNEE)
    rate = chip.compute_peak(precision) * eff.gemm_share(precision)
    dense_s = (6.0 * body * again * per_layer + 6.0 * head) / (rate * shape)
    # FP8 training (Transformer Engine, DeepSeek-V3) casts the linear layers only: the
    # attention kernels still run in BF16.
    attention_rate = chip.compute_peak("bf16") * eff.gemm_share("bf16") if "bf16" in chip.peak_flops else rate
    attention_s = attn * lay.stage_layers / (attention_rate * ATTENTION_EFFICIENCY)
    expert_s = np.zeros_like(dense_s)
    if work.experts:
        width = work.expert_ffn / lay.etp
        expert_shape = grouped_gemm_efficiency(tokens_per_expert(work, lay)) * width / (width + GEMM_KNEE)
        expert_s = 6.0 * work.routed_active * again * per_layer * imbalance / (rate * expert_shape)
    return np.asarray(tokens_per_chip * (dense_s + attention_s + expert_s), dtype=np.float64)


def _elementwise_bytes(work: ModelWork, lay: _Layout, *, seq_len: int, flash_attention: bool) -> FloatArray:
    per_token_layer = ELEMENTWISE_BYTES_PER_H * work.hidden + (
        0.0
        if flash_attention
        else np.where(lay.recompute >= 1, 4.0, 3.0) * 5.0 * work.heads * seq_len / lay.cp
    )
    return np.asarray(
        per_token_layer * lay.stage_layers * lay.tokens_mb * lay.micro / lay.tp, dtype=np.float64
    )


def _parallel_comm(
    work: ModelWork, chip: Chip, eff: StackEfficiency, lay: _Layout, *, imbalance: FloatArray, precision: str
) -> dict[str, FloatArray]:
    """Tensor-, context- and expert-parallel traffic of one step, before overlap."""
    act = 2.0 * lay.tokens_mb * work.hidden  # bytes of one micro-batch slice's activations
    per_step = lay.stage_layers * lay.micro
    # Sequence parallelism: 2 all-gathers and 2 reduce-scatters forward, as many backward,
    # and a second forward set under full recomputation.
    tp_ops = 4.0 * (1.0 + FULL_SHARE[lay.recompute] + 1.0) * per_step
    tp_s = _comm_time(chip, eff, lay.tp, tp_ops * (lay.tp - 1) / lay.tp * act, tp_ops)
    # Ring attention passes K and V around the context group three times (fwd, 2x bwd),
    # half of it hidden behind the attention it feeds.
    cp_ops = 3.0 * (lay.cp - 1) * per_step
    cp_volume = cp_ops * lay.tokens_mb * work.kv_dim / lay.tp * 2.0
    cp_s = 0.5 * _comm_time(chip, eff, lay.tp * lay.cp, cp_volume, cp_ops)
    # MoE: dispatch and combine, forward and backward (and the recomputed forward), of each
    # local token's k copies; the busiest rank receives its share of the imbalance. FP8
    # training dispatches in FP8 (DeepSeek-V3, arXiv 2412.19437 section 3.3) and combines in BF16.
    moe_share = work.moe_layers / work.layers
    ep_ops = (4.0 + 2.0 * FULL_SHARE[lay.recompute]) * per_step * moe_share
    token_bytes = (1.0 + 2.0) / 2.0 * work.hidden if precision == "fp8" else 2.0 * work.hidden
    ep_tokens = ep_ops * lay.tokens_mb / lay.tp * imbalance
    ep_s = dispatch_combine_seconds(
        chip, eff, lay.ep * lay.etp, ep_tokens, max(work.active_experts, 1), token_bytes, ep_ops
    )
    return {
        "tp": np.where(lay.tp > 1, tp_s, 0.0),
        "cp": np.where(lay.cp > 1, cp_s, 0.0),
        "ep": np.where(lay.ep > 1, ep_s, 0.0),
    }


def _data_parallel_seconds(chip: Chip, eff: StackEfficiency, lay: _Layout, work: ModelWork) -> FloatArray:
    """Gradient reduction (and ZeRO-3 weight gathers) of dense and expert weights.

    Dense weights are replicated over ``dp * cp`` chips, expert weights over the expert
    data-parallel group; both groups stride over the stage's other dimensions, so they span
    the whole stage.
    """
    dense_local, expert_local = _params_split(work, lay.tp, lay.pp, lay.ep, lay.etp)
    sharded = lay.zero >= 1  # reduce-scatter gradients, all-gather weights
    per_param = np.where(sharded, GRAD_BYTES + WEIGHT_BYTES, 2.0 * GRAD_BYTES)
    gather = np.where(lay.zero >= 3, 2.0 * WEIGHT_BYTES * lay.micro, 0.0)
    span = lay.dp * lay.tp * lay.cp
    total = np.zeros_like(lay.tp)
    for params, group in ((dense_local, lay.dp * lay.cp), (expert_local, lay.expert_dp)):
        volume = (per_param + gather) * params * (group - 1) / np.maximum(group, 1.0)
        seconds = _comm_time(chip, eff, span, volume, 2.0 * lay.stage_layers)
        total = total + np.where((group > 1) & (params > 0), seconds, 0.0)
    return total


def step_cost(
    work: ModelWork,
    chip: Chip,
    eff: StackEfficiency,
    plans: Plans,
    *,
    seq_len: int,
    global_batch_tokens: float,
    precision: str,
    flash_attention: bool = True,
    load_imbalance: float | None = None,
) -> StepCost:
    """Step time and memory per chip of each plan (no feasibility filtering).

    ``load_imbalance`` is the busiest expert rank's tokens over the mean (1 for a run with
    forced-balanced routing, as some benchmarks use); by default it grows with each plan's
    EP degree as :func:`suanli.perf.moe.load_imbalance` has it, the same as in serving.

    Without ``flash_attention`` (Megatron-LM before 2022) each layer also writes and reads
    its attention scores, softmax and dropout mask: ``5 * heads * s^2`` bytes per sequence
    stored (Korthikanti et al.), moved about three times (write forward, read and write
    backward), a fourth with recomputation.
    """
    lay = _Layout.of(work, plans, seq_len, global_batch_tokens)
    # The busiest expert rank's load over the mean: the same function serving uses, growing
    # with the EP degree of each plan, unless the caller fixes it (1 under forced balance).
    busiest = imbalance_at(lay.ep) if load_imbalance is None else np.full_like(lay.ep, load_imbalance)
    bandwidth = chip.memory_bytes_s * eff.memory
    compute_s = _compute_seconds(
        work,
        chip,
        eff,
        lay,
        seq_len=seq_len,
        batch=global_batch_tokens,
        precision=precision,
        imbalance=busiest,
    )
    elementwise_s = (
        _elementwise_bytes(work, lay, seq_len=seq_len, flash_attention=flash_attention) / bandwidth
    )
    dense_local, expert_local = _params_split(work, lay.tp, lay.pp, lay.ep, lay.etp)
    sharded = lay.zero >= 1
    optimizer_s = (
        OPTIMIZER_BYTES_PER_PARAM
        * (
            dense_local / np.where(sharded, lay.dp * lay.cp, 1.0)
            + expert_local / np.where(sharded, lay.expert_dp, 1.0)
        )
        / bandwidth
    )

    # Communication overlapped with GEMMs hides behind up to comm_overlap of the compute.
    comm = _parallel_comm(work, chip, eff, lay, imbalance=busiest, precision=precision)
    total = comm["tp"] + comm["cp"] + comm["ep"]
    hidden = np.minimum(total, eff.comm_overlap * compute_s)
    exposed = np.where(total > 0, 1.0 - hidden / np.maximum(total, 1e-30), 1.0)
    tp_s, cp_s, ep_s = (comm[k] * exposed for k in ("tp", "cp", "ep"))

    # Fixed per-layer cost of MoE layers (router, permutation, host sync, launches).
    moe_layers = lay.stage_layers * work.moe_layers / work.layers
    compute_s = compute_s + lay.micro * moe_layers * eff.moe_layer_overhead_us * 1e-6
    per_micro = (compute_s + elementwise_s + tp_s + cp_s + ep_s) / lay.micro
    pp_bubble_s = np.where(lay.pp > 1, (lay.pp - 1) / lay.vp * per_micro, 0.0)
    pp_ops = 2.0 * lay.micro * lay.vp
    pp_span = lay.tp * lay.cp * lay.dp * lay.pp
    pp_s = np.where(
        lay.pp > 1,
        _comm_time(chip, eff, pp_span, pp_ops * 2.0 * lay.tokens_mb * work.hidden / lay.tp, pp_ops),
        0.0,
    )

    # Gradient reduction hides behind up to DP_OVERLAP of the backward pass (2/3 of compute).
    dp_raw = _data_parallel_seconds(chip, eff, lay, work)
    dp_s = dp_raw - np.minimum(dp_raw, DP_OVERLAP * compute_s * 2.0 / 3.0)

    memory_s = elementwise_s + optimizer_s
    busy = compute_s + memory_s + tp_s + cp_s + ep_s + pp_bubble_s + pp_s + dp_s
    domains = np.maximum(lay.tp * lay.pp * lay.dp * lay.cp / chip.scaleup_domain, 1.0)
    sync_s = busy * STEP_JITTER_CV * np.sqrt(2.0 * np.log(domains))
    step = busy + sync_s
    return StepCost(
        step_time_s=step,
        compute_s=compute_s,
        memory_s=memory_s,
        tp_s=tp_s,
        cp_s=cp_s,
        ep_s=ep_s,
        pp_bubble_s=pp_bubble_s,
        pp_comm_s=pp_s,
        dp_s=dp_s,
        sync_s=sync_s,
        memory_bytes=memory_per_chip(work, plans, seq_len, global_batch_tokens, flash_attention),
        micro_batches=lay.micro,
    )


def _params_split(
    work: ModelWork, tp: FloatArray, pp: FloatArray, ep: FloatArray, etp: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(dense, routed-expert) parameters on the busiest chip.

    Dense layers split by TP and PP, routed experts by PP, EP and expert TP. The embedding
    table (and output head) sits on the first (last) stage; with one stage both are on
    every chip.
    """
    body = work.params_total - work.params_embedding - work.params_experts
    embedding = np.where(
        pp > 1, work.params_embedding / 2.0 if work.params_embedding else 0.0, work.params_embedding
    )
    dense = np.asarray((body / pp + embedding) / tp, dtype=np.float64)
    return dense, np.asarray(work.params_experts / (pp * ep * etp), dtype=np.float64)


def memory_per_chip(
    work: ModelWork, plans: Plans, seq_len: int, global_batch_tokens: float, flash_attention: bool = True
) -> FloatArray:
    """Bytes of HBM each plan needs on its busiest chip."""
    tp, pp, dp, cp, ep, etp, mb = (
        a.astype(np.float64) for a in (plans.tp, plans.pp, plans.dp, plans.cp, plans.ep, plans.etp, plans.mb)
    )
    dense, experts = _params_split(work, tp, pp, ep, etp)
    zero = plans.zero
    dense_group, expert_group = dp * cp, tp * cp * dp / (ep * etp)

    def held(per_param: float, stage: int) -> FloatArray:
        # ZeRO shards a state over the replicas of each weight from the given stage on.
        return np.asarray(
            per_param
            * (
                dense / np.where(zero >= stage, dense_group, 1.0)
                + experts / np.where(zero >= stage, expert_group, 1.0)
            ),
            dtype=np.float64,
        )

    weights, grads, optimizer = held(WEIGHT_BYTES, 3), held(GRAD_BYTES, 2), held(OPTIMIZER_BYTES, 1)

    h = float(work.hidden)
    mlp_ratio = work.ffn_active / (4.0 * h) * (1.5 if work.gated else 1.0)
    full = FULL_SHARE[plans.recompute]
    per_layer_factor = full * 2.0 + (1.0 - full) * (11.0 + 19.0 * mlp_ratio)
    tokens_mb = mb * seq_len / cp
    per_layer = per_layer_factor * tokens_mb * h / tp
    if not flash_attention:  # scores, softmax and dropout mask stay unless recomputed
        per_layer = per_layer + np.where(
            plans.recompute == 0, 5.0 * work.heads * seq_len * tokens_mb / tp, 0.0
        )
    micro = global_batch_tokens / seq_len / (dp * mb)
    in_flight = np.minimum(micro, pp)  # 1F1B keeps up to pp micro-batches on the first stage
    stage_layers = np.ceil(work.layers / pp)
    activations = per_layer * stage_layers * in_flight
    logits = 4.0 * tokens_mb * work.vocab / tp
    return weights + grads + optimizer + activations + logits
