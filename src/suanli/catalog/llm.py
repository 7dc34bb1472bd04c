"""LLM architectures and the parameter and KV-cache counts derived from them.

Counts are exact for the listed matrices (embeddings, attention, MLP or experts, router,
norms); bias vectors, which are below 0.1 % of any model here, are left out.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suanli.catalog.provenance import SourceDate


class MoE(BaseModel):
    """Mixture-of-experts layout: ``experts`` routed experts, ``active_experts`` per token."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    experts: int = Field(ge=2, le=4096)
    active_experts: int = Field(ge=1, le=256)
    shared_experts: int = Field(default=0, ge=0, le=64)
    expert_ffn_size: int = Field(ge=1, le=1_000_000)
    dense_layers: int = Field(default=0, ge=0, description="Leading layers with a dense MLP.")

    @model_validator(mode="after")
    def _active_within_experts(self) -> Self:
        if self.active_experts > self.experts:
            msg = f"active_experts must be <= experts (got {self.active_experts} > {self.experts})"
            raise ValueError(msg)
        return self


class MLA(BaseModel):
    """Multi-head latent attention (DeepSeek-V2/V3): low-rank compressed queries and KV."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    q_lora_rank: int | None = Field(default=None, ge=1)
    kv_lora_rank: int = Field(ge=1)
    qk_nope_head_dim: int = Field(ge=1)
    qk_rope_head_dim: int = Field(ge=1)
    v_head_dim: int = Field(ge=1)


class LLM(BaseModel):
    """A transformer LLM's architecture, with the published parameter totals to check against."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=64)
    name: str = Field(min_length=1)
    source: str = Field(min_length=3, description="Config file or paper giving the architecture.")
    date: SourceDate
    layers: int = Field(ge=1, le=1000)
    hidden_size: int = Field(ge=1, le=1_000_000)
    heads: int = Field(ge=1, le=4096)
    kv_heads: int = Field(ge=1, le=4096)
    head_dim: int | None = Field(default=None, ge=1, description="Defaults to hidden/heads.")
    ffn_size: int = Field(ge=1, le=10_000_000, description="Dense MLP intermediate size.")
    vocab_size: int = Field(ge=1, le=10_000_000)
    gated_mlp: bool = Field(description="SwiGLU-style MLP with three matrices instead of two.")
    tied_embeddings: bool = False
    learned_positions: int = Field(default=0, ge=0, description="Rows of a learned position table.")
    max_seq_len: int = Field(ge=1)
    moe: MoE | None = None
    mla: MLA | None = None
    published_params_b: float = Field(gt=0)
    published_active_params_b: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _heads_consistent(self) -> Self:
        if self.heads % self.kv_heads:
            msg = f"heads must be a multiple of kv_heads (got {self.heads} and {self.kv_heads})"
            raise ValueError(msg)
        if self.head_dim is None and self.hidden_size % self.heads:
            msg = "hidden_size must be a multiple of heads when head_dim is not given"
            raise ValueError(msg)
        if self.moe is not None and self.moe.dense_layers > self.layers:
            msg = "moe.dense_layers must be <= layers"
            raise ValueError(msg)
        return self

    # -- derived counts ----------------------------------------------------------------------

    @property
    def head_size(self) -> int:
        """Per-head dimension of queries, keys and values (standard attention)."""
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.heads

    @property
    def embedding_params(self) -> int:
        """Input embedding, output head (unless tied) and learned positions."""
        tables = 1 if self.tied_embeddings else 2
        return self.vocab_size * self.hidden_size * tables + self.learned_positions * self.hidden_size

    @property
    def attention_params_per_layer(self) -> int:
        """Weights of one attention block (projections, plus MLA's low-rank norms)."""
        h = self.hidden_size
        if self.mla is not None:
            m = self.mla
            qk_dim = m.qk_nope_head_dim + m.qk_rope_head_dim
            if m.q_lora_rank is None:
                q = h * self.heads * qk_dim
            else:
                q = h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * self.heads * qk_dim
            kv = (
                h * (m.kv_lora_rank + m.qk_rope_head_dim)
                + m.kv_lora_rank
                + m.kv_lora_rank * self.heads * (m.qk_nope_head_dim + m.v_head_dim)
            )
            return q + kv + self.heads * m.v_head_dim * h
        d = self.head_size
        return h * self.heads * d * 2 + h * self.kv_heads * d * 2

    def _mlp_params(self, ffn: int) -> int:
        return (3 if self.gated_mlp else 2) * self.hidden_size * ffn

    @property
    def dense_mlp_params(self) -> int:
        """Weights of one dense MLP block."""
        return self._mlp_params(self.ffn_size)

    @property
    def expert_params(self) -> int:
        """Weights of one expert (0 for a dense model)."""
        return 0 if self.moe is None else self._mlp_params(self.moe.expert_ffn_size)

    @property
    def moe_layers(self) -> int:
        """Layers whose MLP is a mixture of experts."""
        return 0 if self.moe is None else self.layers - self.moe.dense_layers

    def _mlp_total(self, experts_per_layer: int) -> int:
        if self.moe is None:
            return self.layers * self.dense_mlp_params
        router = self.hidden_size * self.moe.experts
        per_moe_layer = router + (experts_per_layer + self.moe.shared_experts) * self.expert_params
        return self.moe.dense_layers * self.dense_mlp_params + self.moe_layers * per_moe_layer

    @property
    def norm_params(self) -> int:
        """Two norms per layer and a final one."""
        return (2 * self.layers + 1) * self.hidden_size

    def _params(self, experts_per_layer: int) -> int:
        return (
            self.embedding_params
            + self.layers * self.attention_params_per_layer
            + self._mlp_total(experts_per_layer)
            + self.norm_params
        )

    @property
    def params_total(self) -> int:
        """All parameters."""
        return self._params(0 if self.moe is None else self.moe.experts)

    @property
    def params_active(self) -> int:
        """Parameters used by one token (equal to the total for a dense model)."""
        return self._params(0 if self.moe is None else self.moe.active_experts)

    @property
    def kv_elements_per_token(self) -> int:
        """Cached elements per token over all layers (MLA caches the compressed latent)."""
        if self.mla is not None:
            per_layer = self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        else:
            per_layer = 2 * self.kv_heads * self.head_size
        return self.layers * per_layer
