"""The LLM zoo: derived parameter counts against the published totals."""

from __future__ import annotations

import pytest

from suanli.catalog import LLM, builtin_catalog

REQUIRED = [
    "llama2-70b",
    "llama3-8b",
    "llama3-70b",
    "llama3.1-405b",
    "qwen2.5-72b",
    "gpt3-175b",
    "deepseek-v3",
    "mixtral-8x7b",
]

# Published totals in billions: Llama 2 paper (70B), Meta model cards (8.03B, 70.6B), Llama 3
# herd paper (405B), Qwen2.5 model card (72.7B), GPT-3 paper (175B), DeepSeek-V3 report
# (671B total / 37B active), Mixtral paper (46.7B / 12.9B).
PUBLISHED = {
    "llama2-70b": (70, None),
    "llama3-8b": (8.03, None),
    "llama3-70b": (70.6, None),
    "llama3.1-405b": (405, None),
    "qwen2.5-72b": (72.7, None),
    "gpt3-175b": (175, None),
    "deepseek-v3": (671, 37),
    "mixtral-8x7b": (46.7, 12.9),
}


@pytest.mark.parametrize("model_id", REQUIRED)
def test_params_within_two_percent_of_published(model_id: str) -> None:
    model = builtin_catalog().model(model_id)
    total, active = PUBLISHED[model_id]
    assert model.params_total / 1e9 == pytest.approx(total, rel=0.02)
    assert model.published_params_b == pytest.approx(total, rel=0.001)
    if active is None:
        assert model.params_active == model.params_total
    else:
        assert model.params_active / 1e9 == pytest.approx(active, rel=0.02)


def test_kv_cache_elements_hand_computed() -> None:
    zoo = builtin_catalog()
    # Llama 3 70B: 80 layers x 2 (K and V) x 8 KV heads x 128 head dim.
    assert zoo.model("llama3-70b").kv_elements_per_token == 80 * 2 * 8 * 128
    # DeepSeek-V3 caches the MLA latent: 61 layers x (512 + 64).
    assert zoo.model("deepseek-v3").kv_elements_per_token == 61 * 576


def test_small_dense_model_hand_count() -> None:
    model = LLM(
        id="toy",
        name="toy",
        source="hand",
        date="2026",
        layers=2,
        hidden_size=8,
        heads=2,
        kv_heads=1,
        ffn_size=16,
        vocab_size=10,
        gated_mlp=True,
        max_seq_len=32,
        published_params_b=1e-6,
    )
    # attention: q,o 8x8 each; k,v 8x4 each = 192; mlp 3x8x16 = 384; per layer 576
    # embeddings 2 x 10 x 8 = 160; norms (2x2+1) x 8 = 40
    assert model.params_total == 2 * 576 + 160 + 40
