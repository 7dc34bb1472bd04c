"""MoE building blocks shared by the training and serving models.

* :func:`grouped_gemm_efficiency`: the share of a large GEMM's efficiency that a grouped
  expert GEMM reaches when each expert receives ``m`` tokens.
* :data:`LOAD_IMBALANCE` and :func:`load_imbalance`: tokens on the busiest expert rank
  over the mean, flat or growing with the expert-parallel degree.
* :func:`expert_hit_share` and :func:`tokens_per_hit_expert`: the share of experts that
  receive at least one token (whose weights a step must read) and the rows each such
  expert's GEMM runs.
* :func:`dispatch_combine_seconds`: dispatch or combine over
  an expert-parallel group, split between the scale-up fabric (peers inside the domain)
  and the scale-out network.

All functions take numpy arrays or scalars and broadcast, so that the training model can
score thousands of parallelism plans at once.

References
----------
deepseek-ai/DeepGEMM README (2025), FP8 grouped GEMMs on H800 (masked layout, N=4096,
K=7168): 932, 1040 and 1233 TFLOP/s at 256, 512 and 1024 tokens per expert, against 1297
for 8192 tokens per expert (0.72, 0.80, 0.95); N=7168, K=2048: 815, 916, 925 against 1099
(0.74, 0.83, 0.84).
The SGLang Team, "Deploying DeepSeek with PD Disaggregation and Large-scale Expert
Parallelism on 96 H100 GPUs", LMSYS blog, 2025-05-05: EP32 prefill at 50,302 tokens/s per
node with the default expert placement, 59,337 with simulated perfect balance; "as the
number of GPUs (EP size) increases, the imbalance issue gets more severe".
DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv 2412.19437, sections 2.1.2 and 3.4
(auxiliary-loss-free balancing, redundant experts in deployment); deepseek-ai/EPLB.
deepseek-ai/DeepEP README (2025): hierarchical dispatch sends a token once over RDMA to
each remote node holding one of its experts and forwards it over NVLink there.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from suanli.perf.efficiency import StackEfficiency
from suanli.perf.hardware import Chip

FloatArray = NDArray[np.float64]

#: Tokens per expert at which a grouped GEMM reaches half its large-GEMM efficiency: a GEMM
#: of ``m`` rows costs about ``m + 64`` rows of tensor-core work. 64 is the row count of
#: one Hopper WGMMA instruction (m64nNk16): fewer rows still issue a full one, and a
#: part-filled last tile wastes half a tile on average. Checks: ``m / (m + 64)`` gives
#: 0.80, 0.89 and 0.94 at 256, 512 and 1024 tokens per expert against DeepGEMM's published
#: 0.72-0.74, 0.80-0.83 and 0.84-0.95 (see References); and at batch 1 on an H20 (148
#: TFLOP/s BF16, 4 TB/s) it makes Qwen3-8B/32B decode compute-bound at about 11 and 44 ms
#: per token, against 12.2 and 48 ms measured (Qwen3 speed benchmark, SGLang). Range
#: 64-128: the larger fits DeepGEMM's mid-size groups better and H20's batch 1 worse.
GROUPED_GEMM_KNEE = 64.0
#: Busiest expert rank's tokens over the mean at the reference expert-parallel degree
#: :data:`LOAD_IMBALANCE_REFERENCE_EP`, from expert popularity (not sampling noise). SGLang
#: measured 15 % less prefill throughput at EP32 with the default placement than with
#: simulated perfect balance; with the MoE layer about 70 % of the step that is a busiest
#: rank ~1.25x the mean. DeepSeek-V3 deployments with redundant experts (EPLB) get nearer
#: 1.1; stated range 1.1-1.4. Callers that do not model the EP degree use it as is.
LOAD_IMBALANCE = 1.2
#: Expert-parallel degree at which :data:`LOAD_IMBALANCE` holds.
LOAD_IMBALANCE_REFERENCE_EP = 32


def grouped_gemm_efficiency(tokens_per_expert: ArrayLike) -> FloatArray:
    """Share (0, 1) of large-GEMM efficiency a grouped GEMM reaches at ``m`` tokens per expert.

    ``m / (m + GROUPED_GEMM_KNEE)``: rises with ``m`` and tends to 1 for thousands of tokens
    per expert. Small ``m`` underfills the tensor-core tiles; whether such a GEMM is then
    bound by its weight reads is for the caller's roofline, which compares this compute
    time with the time to stream the expert's weights.

    Parameters
    ----------
    tokens_per_expert
        Rows (tokens) each expert's GEMM receives, scalar or array.

    Returns
    -------
    numpy.ndarray
        Efficiency shares of the same shape, in (0, 1).
    """
    m = np.maximum(np.asarray(tokens_per_expert, dtype=np.float64), 1e-9)
    return np.asarray(m / (m + GROUPED_GEMM_KNEE), dtype=np.float64)


def load_imbalance(expert_parallel: ArrayLike, tokens_per_rank: ArrayLike | None = None) -> FloatArray:
    """Busiest expert rank's tokens over the mean for an expert-parallel group.

    Two parts add up. Expert popularity: ``1 + (LOAD_IMBALANCE - 1) * log2(ep) / log2(32)``,
    1 for one rank and growing with the degree as SGLang's simulation shows (an assumption
    on the shape; the value at EP32 is sourced). Sampling noise, when ``tokens_per_rank``
    (token-expert pairs per rank per layer) is given: with Poisson counts of mean ``mu`` the
    largest of ``ep`` ranks is about ``mu + sqrt(2 mu ln ep)``, which matters for small
    decode batches.

    Parameters
    ----------
    expert_parallel
        Ranks sharing the experts (1 = no expert parallelism), scalar or array.
    tokens_per_rank
        Mean token-expert pairs each rank receives per layer; ``None`` leaves out the noise.

    Returns
    -------
    numpy.ndarray
        Factors >= 1, broadcast over the inputs.
    """
    ep = np.maximum(np.asarray(expert_parallel, dtype=np.float64), 1.0)
    skew = 1.0 + (LOAD_IMBALANCE - 1.0) * np.log2(ep) / np.log2(LOAD_IMBALANCE_REFERENCE_EP)
    if tokens_per_rank is None:
        return np.asarray(skew, dtype=np.float64)
    mu = np.maximum(np.asarray(tokens_per_rank, dtype=np.float64), 1e-9)
    noise = np.sqrt(2.0 * np.log(ep) / mu)
    return np.asarray(skew + noise, dtype=np.float64)


def expert_hit_share(tokens_per_expert: ArrayLike) -> FloatArray:
    """Share of experts that receive at least one token: ``1 - exp(-m)``.

    Routing scatters token-expert pairs over experts like Poisson counts of mean ``m``; a
    decode step reads only the weights of experts it hits (few for a small batch, all of
    them once ``m`` is a few tokens).
    """
    m = np.maximum(np.asarray(tokens_per_expert, dtype=np.float64), 0.0)
    return np.asarray(-np.expm1(-m), dtype=np.float64)


def tokens_per_hit_expert(tokens_per_expert: ArrayLike) -> FloatArray:
    """Mean tokens an expert gets given that it gets any: ``m / (1 - exp(-m))``, at least 1.

    The rows a grouped GEMM actually runs per expert it launches for (1 as ``m`` -> 0).
    """
    m = np.maximum(np.asarray(tokens_per_expert, dtype=np.float64), 0.0)
    safe = np.maximum(m, 1e-9)
    return np.asarray(np.where(m > 1e-9, safe / -np.expm1(-safe), 1.0), dtype=np.float64)


def _link_rates(chip: Chip, eff: StackEfficiency) -> tuple[float, float]:
    return chip.scaleup_bytes_s * eff.scaleup, chip.scaleout_bytes_s * eff.scaleout


def remote_domains_per_token(group_chips: ArrayLike, domain: int, active_experts: int) -> FloatArray:
    """Expected scale-up domains other than its own that one token's ``k`` experts fall in.

    Hierarchical dispatch (DeepEP's inter-node kernels, HCCL's hierarchical all-to-all)
    sends a token once to each remote domain holding one of its experts and fans it out over
    the scale-up link there, so scale-out traffic counts distinct domains, not experts.
    """
    domains = np.maximum(np.asarray(group_chips, dtype=np.float64) / domain, 1.0)
    distinct = domains * (1.0 - (1.0 - 1.0 / domains) ** active_experts)
    return np.asarray(distinct * (domains - 1.0) / domains, dtype=np.float64)


def dispatch_combine_seconds(  # noqa: PLR0917 - the training model scores plans with positional arrays
    chip: Chip,
    eff: StackEfficiency,
    group_chips: ArrayLike,
    tokens: ArrayLike,
    active_experts: int,
    bytes_per_token: float,
    ops: ArrayLike,
) -> FloatArray:
    """Seconds for ``ops`` hierarchical dispatches or combines of ``tokens`` tokens per chip.

    Each of a token's ``k`` copies whose expert sits on another chip crosses a scale-up
    link once: directly inside the sender's domain, or as the forwarding hop inside a
    remote domain, which each chip does for its peers as much as they do for it. Beyond
    the domain each remote domain receives the token once over the scale-out network
    (:func:`remote_domains_per_token`). The two links work at once; the slower sets the
    time, plus a fixed latency per operation. ``tokens`` counts the tokens of all
    operations together, per chip. A larger domain therefore never makes it slower.
    """
    g = np.maximum(np.asarray(group_chips, dtype=np.float64), 1.0)
    t = np.asarray(tokens, dtype=np.float64)
    n_ops = np.asarray(ops, dtype=np.float64)
    up_rate, out_rate = _link_rates(chip, eff)
    up_bytes = t * active_experts * bytes_per_token * (g - 1.0) / g
    out_bytes = t * bytes_per_token * remote_domains_per_token(g, chip.scaleup_domain, active_experts)
    seconds = (
        np.maximum(up_bytes / up_rate, out_bytes / out_rate) + n_ops * eff.moe_dispatch_latency_us * 1e-6
    )
    return np.asarray(np.where(g > 1.0, seconds, 0.0), dtype=np.float64)
