"""Per-token work of an LLM: FLOPs by convention, parameters by kind, KV and activation sizes.

Conventions
-----------
Model FLOPs per token follow PaLM (Chowdhery et al. 2022, appendix B) and Megatron-LM
(Narayanan et al. 2021, eq. 3): ``6 * N`` for the weights a token meets (``N`` = active
parameters less the input-embedding lookup) plus ``6 * L * S * heads * (d_qk + d_v)`` for
attention scores and values, with no discount for the causal mask. MFU divides these by
step time and peak. Time itself is computed from the FLOPs the hardware runs: causal
attention kernels skip half the score matrix, and recomputation adds forward passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanli.catalog.llm import LLM


@dataclass(frozen=True)
class ModelWork:
    """Sizes of one LLM that the performance model uses."""

    layers: int
    hidden: int
    heads: int
    vocab: int
    params_total: float
    params_active: float
    params_experts: float  # routed-expert weights in total (0 for a dense model)
    params_embedding: float  # input table, output head and positions
    flops_params: float  # weights a token multiplies by (active, less the input lookup)
    attn_dims: float  # heads * (d_qk + d_v): attention FLOPs per token per context token / 2
    kv_elements: float  # per token, all layers
    ffn_active: float  # MLP width a token passes through (active experts included)
    experts: int
    active_experts: int
    moe_layers: int
    kv_dim: float  # per layer per token K+V elements (for context-parallel exchange)
    gated: bool
    routed_active: float = 0.0  # routed-expert weights a token multiplies by (all MoE layers)
    expert_ffn: int = 0  # MLP width of one routed expert
    head_params: float = 0.0  # output projection to the vocabulary (on the last pipeline stage)

    def model_flops_per_token(self, seq_len: float) -> float:
        """Model FLOPs (forward and backward) per trained token at ``seq_len``."""
        return 6.0 * self.flops_params + 6.0 * self.layers * seq_len * self.attn_dims

    def attention_flops_per_token(self, seq_len: float) -> float:
        """The attention part of :meth:`model_flops_per_token`."""
        return 6.0 * self.layers * seq_len * self.attn_dims


def model_work(model: LLM) -> ModelWork:
    """The sizes of ``model`` the performance model needs."""
    h = model.hidden_size
    input_lookup = model.vocab_size * h * (0 if model.tied_embeddings else 1) + model.learned_positions * h
    if model.mla is not None:
        m = model.mla
        attn_dims = model.heads * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim)
        kv_dim = m.kv_lora_rank + m.qk_rope_head_dim
    else:
        attn_dims = model.heads * 2 * model.head_size
        kv_dim = 2 * model.kv_heads * model.head_size
    if model.moe is None:
        ffn_active = float(model.ffn_size)
        experts = active = moe_layers = expert_ffn = 0
        params_experts = 0.0
    else:
        moe = model.moe
        experts, active, moe_layers = moe.experts, moe.active_experts, model.moe_layers
        ffn_active = (active + moe.shared_experts) * moe.expert_ffn_size
        params_experts = float(moe_layers * moe.experts * model.expert_params)
        expert_ffn = moe.expert_ffn_size
    return ModelWork(
        layers=model.layers,
        hidden=h,
        heads=model.heads,
        vocab=model.vocab_size,
        params_total=float(model.params_total),
        params_active=float(model.params_active),
        params_experts=params_experts,
        params_embedding=float(model.embedding_params),
        flops_params=float(model.params_active - input_lookup),
        attn_dims=float(attn_dims),
        kv_elements=float(model.kv_elements_per_token),
        ffn_active=ffn_active,
        experts=experts,
        active_experts=active,
        moe_layers=moe_layers,
        kv_dim=float(kv_dim),
        gated=model.gated_mlp,
        routed_active=float(moe_layers * active * model.expert_params),
        expert_ffn=expert_ffn,
        head_params=float(model.vocab_size * h),
    )
