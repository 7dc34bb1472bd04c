"""Serving model v2: MoE building blocks, MoE serving, serving modes, physics bounds, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from suanli.catalog import builtin_catalog
from suanli.cli import app
from suanli.errors import InfeasibleError, InputValueError
from suanli.perf import efficiency_table, predict_inference
from suanli.perf import moe as moe_module
from suanli.perf.efficiency import EfficiencyTable
from suanli.perf.hardware import BYTES, chip_of
from suanli.perf.inference import _Shape
from suanli.perf.moe import (
    LOAD_IMBALANCE,
    LOAD_IMBALANCE_REFERENCE_EP,
    dispatch_combine_seconds,
    expert_hit_share,
    grouped_gemm_efficiency,
    load_imbalance,
    tokens_per_hit_expert,
)
from suanli.perf.workload import model_work

CAT = builtin_catalog()
runner = CliRunner()


def _cuda() -> tuple[object, object]:
    return chip_of(CAT.accelerator("h100-sxm")), efficiency_table().for_stack("cuda")


# -- MoE building blocks ------------------------------------------------------------------


def test_grouped_gemm_efficiency_rises_to_one() -> None:
    m = np.geomspace(0.01, 1e6, 200)
    share = grouped_gemm_efficiency(m)
    assert share.shape == m.shape
    assert np.all(np.diff(share) > 0)
    assert np.all((share > 0) & (share <= 1))
    assert share[-1] > 0.999


@pytest.mark.parametrize(
    ("tokens", "published"),
    # deepseek-ai/DeepGEMM README (H800, FP8, masked grouped layout): TFLOP/s at 256, 512 and
    # 1024 tokens per expert over the same shape's 8192-token rate (1297 for N=4096, K=7168;
    # 1099 for N=7168, K=2048).
    [(256, 932 / 1297), (256, 815 / 1099), (512, 1040 / 1297), (512, 916 / 1099), (1024, 1233 / 1297)],
)
def test_grouped_gemm_efficiency_near_deepgemm(tokens: int, published: float) -> None:
    assert float(grouped_gemm_efficiency(tokens)) == pytest.approx(published, abs=0.12)


def test_load_imbalance_grows_with_expert_parallelism() -> None:
    assert float(load_imbalance(1)) == 1.0
    assert float(load_imbalance(LOAD_IMBALANCE_REFERENCE_EP)) == pytest.approx(LOAD_IMBALANCE)
    factors = load_imbalance(np.array([2, 8, 32, 128, 512]))
    assert np.all(np.diff(factors) > 0)
    # Sampling noise: fewer tokens per rank, a busier busiest rank; none for one rank.
    assert float(load_imbalance(64, 100)) > float(load_imbalance(64, 10_000)) > float(load_imbalance(64))
    assert float(load_imbalance(1, 5)) == 1.0


def test_expert_hits() -> None:
    assert float(expert_hit_share(0.0)) == 0.0
    assert float(expert_hit_share(50.0)) == pytest.approx(1.0)
    assert float(tokens_per_hit_expert(0.0)) == 1.0
    assert float(tokens_per_hit_expert(1e-6)) == pytest.approx(1.0, rel=1e-5)
    assert float(tokens_per_hit_expert(500.0)) == pytest.approx(500.0)


def test_dispatch_beyond_the_domain_is_slower() -> None:
    chip, eff = _cuda()
    tokens, k, token_bytes = 1e5, 8, 2.0 * 7168
    inside = float(dispatch_combine_seconds(chip, eff, chip.scaleup_domain, tokens, k, token_bytes, 1))
    beyond = float(dispatch_combine_seconds(chip, eff, 2 * chip.scaleup_domain, tokens, k, token_bytes, 1))
    assert beyond > inside  # the remote domain is reached over the slower scale-out network
    assert float(dispatch_combine_seconds(chip, eff, 1, tokens, k, token_bytes, 1)) == 0.0
    # Arrays broadcast, as the training model scores many plans at once.
    many = dispatch_combine_seconds(chip, eff, np.array([1, 8, 16, 64]), 1e4, k, token_bytes, 2)
    assert many.shape == (4,)
    assert np.all(np.diff(many) > 0)


def test_all_to_all_follows_the_chip_domain() -> None:
    accelerator = CAT.accelerator("ascend-910c")
    eff = efficiency_table().for_stack("cann")
    small, big = chip_of(accelerator, None, 8), chip_of(accelerator, None, 384)
    args = (64, 1e5, 8, 2.0 * 7168, 1)
    assert float(dispatch_combine_seconds(big, eff, *args)) < float(
        dispatch_combine_seconds(small, eff, *args)
    )


# -- MoE serving ----------------------------------------------------------------------------


def test_supernode_serves_deepseek_with_fewer_chips() -> None:
    kwargs = {"input_tokens": 2000, "output_tokens": 500, "weight_precision": "int8", "tpot_ms": 50}
    model, chip = CAT.model("deepseek-v3"), CAT.accelerator("ascend-910c")
    servers = predict_inference(model, chip, 64, scaleup_domain=8, **kwargs)
    supernode = predict_inference(model, chip, 64, scaleup_domain=384, **kwargs)
    # A larger domain never slows the all-to-alls (every copy crosses a scale-up link once
    # either way; only the scale-out hops go away).
    assert supernode.tokens_per_s_per_chip >= servers.tokens_per_s_per_chip
    # CloudMatrix-Infer (arXiv 2506.12708) puts a 910C at roughly half an H800/H100-class GPU
    # on DeepSeek decode; an H200 has more memory bandwidth still: 1.5-3x chips per H200.
    h200 = predict_inference(model, CAT.accelerator("h200-sxm"), 64, scaleup_domain=8, **kwargs)
    assert 1.5 <= h200.tokens_per_s_per_chip / supernode.tokens_per_s_per_chip <= 3.0


def test_expert_parallel_serving_beats_tensor_parallel_for_deepseek() -> None:
    kwargs = {"input_tokens": 2000, "output_tokens": 500, "weight_precision": "fp8", "objective": "decode"}
    model, chip = CAT.model("deepseek-v3"), CAT.accelerator("h200-sxm")
    ep = predict_inference(model, chip, 32, expert_parallel=True, tpot_ms=100, **kwargs)
    tp = predict_inference(model, chip, 32, expert_parallel=False, tpot_ms=100, **kwargs)
    assert ep.plan["expert_ep"] > 1
    assert ep.plan["attention_dp"] > 1
    assert tp.plan["expert_ep"] == 1
    assert ep.tokens_per_s > tp.tokens_per_s


def test_small_batch_reads_only_the_experts_it_hits() -> None:
    model, chip = CAT.model("deepseek-v3"), CAT.accelerator("h200-sxm")
    pred = predict_inference(
        model, chip, 8, input_tokens=512, output_tokens=128, weight_precision="fp8", batch=1, tp=8
    )
    all_weights_s = model.params_total * BYTES["fp8"] / 8 / (chip_of(chip).memory_bytes_s)
    assert pred.tpot_s < all_weights_s


def test_load_imbalance_slows_expert_parallel_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    def run() -> float:
        return predict_inference(
            CAT.model("deepseek-v3"),
            CAT.accelerator("h100-sxm"),
            32,
            input_tokens=2000,
            output_tokens=500,
            weight_precision="fp8",
            objective="decode",
            batch=4096,
            tp=32,
            attention_tp=1,
        ).tpot_s

    skewed = run()
    monkeypatch.setattr(moe_module, "LOAD_IMBALANCE", 1.0)
    assert run() < skewed


def test_shared_experts_and_dense_layers_cost_time() -> None:
    base = CAT.model("deepseek-v3")
    assert base.moe is not None
    no_shared = base.model_copy(update={"moe": base.moe.model_copy(update={"shared_experts": 0})})
    kwargs = {"input_tokens": 2000, "output_tokens": 500, "weight_precision": "fp8", "batch": 512, "tp": 16}
    chip = CAT.accelerator("h200-sxm")
    with_shared = predict_inference(base, chip, 16, objective="decode", **kwargs)
    without = predict_inference(no_shared, chip, 16, objective="decode", **kwargs)
    assert without.tpot_s < with_shared.tpot_s
    shape = _Shape.of(base)
    work = model_work(base)
    # Dense leading layers and shared experts are outside the routed experts.
    assert shape.dense_store == pytest.approx(work.params_total - work.params_experts)
    assert shape.dense_flops > 3 * base.dense_mlp_params + 58 * base.expert_params


def test_mla_decode_attention_uses_the_absorbed_form() -> None:
    model = CAT.model("deepseek-v3")
    assert model.mla is not None
    shape = _Shape.of(model)
    assert shape.attn_decode == model.heads * (2 * model.mla.kv_lora_rank + model.mla.qk_rope_head_dim)
    assert shape.attn_prefill == model_work(model).attn_dims
    assert shape.kv_heads is None


# -- dense decode and prefill fidelity --------------------------------------------------------


def test_decode_step_sums_kernel_rooflines() -> None:
    # At a large batch the GEMMs are compute-bound and attention reads the KV cache after
    # them: the step is at least the GEMM compute plus the KV read, not the larger of the two.
    model, accelerator = CAT.model("llama3-8b"), CAT.accelerator("h200-sxm")
    pred = predict_inference(
        model, accelerator, 1, input_tokens=128, output_tokens=512, objective="decode", batch=512
    )
    chip, eff = chip_of(accelerator), efficiency_table().for_stack("cuda")
    work = model_work(model)
    gemm_s = 512 * 2 * work.flops_params / (chip.compute_peak("bf16") * eff.gemm_share("bf16"))
    weights_s = work.params_total * 2 / (chip.memory_bytes_s * eff.memory)
    kv_s = 512 * (128 + 256) * work.kv_elements * 2 / (chip.memory_bytes_s * eff.memory)
    assert gemm_s > weights_s  # compute-bound GEMMs
    assert pred.tpot_s >= gemm_s + kv_s > 1.3 * max(gemm_s, kv_s)
    assert pred.tpot_s < 1.6 * (gemm_s + kv_s)


def test_scheduler_reservation_limits_the_batch() -> None:
    model, accelerator = CAT.model("llama3-70b"), CAT.accelerator("h100-sxm")
    table = efficiency_table()
    cuda = table.for_stack("cuda")
    paged = EfficiencyTable(
        stacks={**table.stacks, "cuda": cuda.model_copy(update={"kv_reserved_output_share": 0.5})}
    )
    kwargs = {"input_tokens": 128, "output_tokens": 2048, "weight_precision": "fp8", "tp": 2}
    whole = predict_inference(model, accelerator, 2, efficiency=table, **kwargs)
    half = predict_inference(model, accelerator, 2, efficiency=paged, **kwargs)
    assert cuda.kv_reserved_output_share == 1.0
    assert whole.max_batch < 0.6 * half.max_batch


def test_prefill_rides_on_decode_steps() -> None:
    # Mixing prompt tokens into memory-bound decode steps is never slower than running
    # prefill and decode one after the other at their own best rates.
    kwargs = {"input_tokens": 5000, "output_tokens": 500, "weight_precision": "fp8", "tp": 8}
    model, chip = CAT.model("llama3.1-405b"), CAT.accelerator("h100-sxm")
    mixed = predict_inference(model, chip, 8, **kwargs)
    decode = predict_inference(model, chip, 8, objective="decode", batch=mixed.batch, **kwargs)
    prefill = predict_inference(model, chip, 8, objective="prefill", **kwargs)
    apart = 1.0 / (5000 / 500 / prefill.input_tokens_per_s + 1.0 / decode.tokens_per_s)
    assert mixed.tokens_per_s >= apart


# -- serving modes ---------------------------------------------------------------------------


def test_prefill_objective_reports_input_tokens_consistent_with_ttft() -> None:
    pred = predict_inference(
        CAT.model("llama3-70b"),
        CAT.accelerator("h200-sxm"),
        8,
        input_tokens=2000,
        output_tokens=200,
        weight_precision="fp8",
        objective="prefill",
        tp=8,
    )
    assert pred.objective == "prefill"
    assert pred.input_tokens_per_s == pytest.approx(pred.batch * 2000 / pred.ttft_s)
    assert pred.tokens_per_s == pred.input_tokens_per_s
    limited = predict_inference(
        CAT.model("llama3-70b"),
        CAT.accelerator("h200-sxm"),
        8,
        input_tokens=2000,
        output_tokens=200,
        weight_precision="fp8",
        objective="prefill",
        tp=8,
        ttft_ms=150,
    )
    assert limited.ttft_s <= 0.150
    assert limited.batch < pred.batch


def test_latency_limits_are_honoured_and_the_batch_is_maximal() -> None:
    kwargs = {"input_tokens": 2000, "output_tokens": 500, "weight_precision": "fp8", "tp": 8}
    model, chip = CAT.model("llama3-70b"), CAT.accelerator("h200-sxm")
    pred = predict_inference(model, chip, 8, tpot_ms=40, ttft_ms=150, **kwargs)
    assert pred.tpot_s <= 0.040
    assert pred.ttft_s <= 0.150
    bigger = predict_inference(model, chip, 8, batch=pred.batch + 1, **kwargs)
    assert bigger.tpot_s > 0.040 or bigger.ttft_s > 0.150
    tpot_only = predict_inference(model, chip, 8, tpot_ms=40, **kwargs)
    assert tpot_only.batch >= pred.batch


def test_speculative_decoding_gains_less_than_the_accept_length() -> None:
    kwargs = {
        "input_tokens": 2000,
        "output_tokens": 500,
        "weight_precision": "fp8",
        "objective": "decode",
        "batch": 16,
        "tp": 8,
    }
    model, chip = CAT.model("llama3-70b"), CAT.accelerator("h200-sxm")
    plain = predict_inference(model, chip, 8, **kwargs)
    spec = predict_inference(model, chip, 8, spec_accept_length=2.0, **kwargs)
    assert plain.tokens_per_s < spec.tokens_per_s < 2.0 * plain.tokens_per_s
    assert spec.spec_accept_length == 2.0
    assert spec.spec_draft_tokens == 1
    assert spec.tpot_s < plain.tpot_s
    drafted = predict_inference(
        model, chip, 8, spec_accept_length=2.0, draft_model=CAT.model("llama3-8b"), **kwargs
    )
    assert plain.tokens_per_s < drafted.tokens_per_s < spec.tokens_per_s  # an 8B draft costs more than MTP


@pytest.mark.parametrize(
    ("keywords", "field"),
    [
        ({"spec_accept_length": 0.5}, "spec_accept_length"),
        ({"spec_accept_length": float("nan")}, "spec_accept_length"),
        ({"spec_accept_length": 3.0, "spec_draft_tokens": 1}, "spec_accept_length"),
        ({"tpot_ms": 0.0}, "tpot_ms"),
        ({"ttft_ms": -5.0}, "ttft_ms"),
        ({"ttft_ms": float("nan")}, "ttft_ms"),
        ({"objective": "speedy"}, "objective"),
        ({"objective": "disaggregated", "batch": 4}, "batch"),
        ({"expert_parallel": True}, "expert_parallel"),
    ],
)
def test_bad_serving_inputs_name_the_field(keywords: dict[str, object], field: str) -> None:
    with pytest.raises(InputValueError) as info:
        predict_inference(
            CAT.model("llama3-8b"),
            CAT.accelerator("h100-sxm"),
            2,
            input_tokens=100,
            output_tokens=100,
            **keywords,  # type: ignore[arg-type]
        )
    assert info.value.field == field


def test_disaggregated_pools_sum_to_the_chips() -> None:
    for chips, domain in ((16, None), (32, 384)):
        pred = predict_inference(
            CAT.model("deepseek-v3"),
            CAT.accelerator("ascend-910c"),
            chips,
            input_tokens=2000,
            output_tokens=500,
            weight_precision="int8",
            objective="disaggregated",
            tpot_ms=50,
            ttft_ms=3000,
            scaleup_domain=domain,
        )
        assert pred.pools is not None
        # Pools count ranks: a 910C package is two devices.
        assert pred.ranks_per_chip == 2
        assert pred.pools["prefill"] + pred.pools["decode"] == chips * pred.ranks_per_chip
        assert pred.pools["prefill"] >= pred.pools["prefill_instance_chips"]
        assert pred.pools["decode"] >= pred.pools["decode_instance_chips"] == pred.tp
        assert pred.tpot_s <= 0.050
        assert pred.ttft_s <= 3.0
        assert pred.input_tokens_per_s == pytest.approx(pred.tokens_per_s * 2000 / 500)


def test_disaggregated_kv_transfer_crosses_the_network_beyond_the_domain() -> None:
    # The same split with a slow scale-out network: a long prompt's KV must cross it.
    accelerator = CAT.accelerator("h100-sxm")
    kwargs = {"input_tokens": 32_000, "output_tokens": 100, "weight_precision": "fp8", "tp": 8}
    model = CAT.model("llama3-8b")
    inside = predict_inference(model, accelerator, 16, objective="disaggregated", scaleup_domain=16, **kwargs)
    beyond = predict_inference(model, accelerator, 16, objective="disaggregated", **kwargs)
    assert beyond.ttft_s > inside.ttft_s


def test_too_tight_limits_are_infeasible() -> None:
    with pytest.raises(InfeasibleError):
        predict_inference(
            CAT.model("llama3-70b"),
            CAT.accelerator("h100-sxm"),
            8,
            input_tokens=8000,
            output_tokens=100,
            weight_precision="fp8",
            ttft_ms=1,
        )


# -- physics bounds ----------------------------------------------------------------------------


CASES = [
    ("llama3-8b", "h100-sxm", 2, "fp8"),
    ("llama3-70b", "h200-sxm", 8, "fp8"),
    ("llama3.1-405b", "h200-sxm", 8, "fp8"),
    ("mixtral-8x7b", "h100-sxm", 8, "fp8"),
    ("deepseek-v3", "h200-sxm", 16, "fp8"),
    ("deepseek-v3", "ascend-910c", 32, "int8"),
    ("qwen2.5-72b", "ascend-910b", 8, "bf16"),
]


@pytest.mark.parametrize(("model_id", "accelerator_id", "chips", "precision"), CASES)
@pytest.mark.parametrize("objective", ["offline", "decode", "prefill", "disaggregated"])
def test_throughput_stays_under_the_roofline(
    model_id: str, accelerator_id: str, chips: int, precision: str, objective: str
) -> None:
    model, accelerator = CAT.model(model_id), CAT.accelerator(accelerator_id)
    pred = predict_inference(
        model,
        accelerator,
        chips,
        input_tokens=1500,
        output_tokens=300,
        weight_precision=precision,
        objective=objective,
    )
    numbers = [
        pred.tokens_per_s,
        pred.input_tokens_per_s,
        pred.decode_tokens_per_s,
        pred.prefill_tokens_per_s,
        pred.ttft_s,
        pred.tpot_s,
        *pred.breakdown.values(),
    ]
    assert all(math.isfinite(v) and v >= 0 for v in numbers)
    assert pred.tokens_per_s > 0
    chip = chip_of(accelerator)
    flops = 2.0 * model_work(model).flops_params
    peak = chip.compute_peak(precision) * chips
    # Compute roofline: all tokens the chips process, prompts and outputs, at the dense peak.
    processed = pred.input_tokens_per_s + (0.0 if objective == "prefill" else pred.tokens_per_s)
    assert processed * flops <= peak
    assert pred.tokens_per_s <= pred.roofline_tokens_per_s
    assert pred.prefill_tokens_per_s * flops <= peak
    # Memory roofline: a decode step of an instance reads at least the weights of the tokens'
    # active parameters once (spread over its chips) and every sequence's KV cache.
    if objective != "prefill":
        per_step_s = (
            model.params_active * BYTES[precision] / pred.tp
            + pred.batch / pred.replicas * 1500 * model.kv_elements_per_token * BYTES[precision] / pred.tp
        ) / chip.memory_bytes_s
        assert pred.tpot_s >= per_step_s
        assert pred.decode_tokens_per_s <= pred.batch / per_step_s


def test_old_keywords_still_work() -> None:
    pred = predict_inference(
        CAT.model("llama3-70b"),
        CAT.accelerator("h200-sxm"),
        8,
        input_tokens=2000,
        output_tokens=500,
        batch=None,
        tpot_ms=50,
        weight_precision="fp8",
        kv_precision="fp8",
        tp=8,
        memory_gb_override=None,
        scaleup_domain=None,
        efficiency=efficiency_table(),
        max_concurrency=512,
        objective="offline",
    )
    assert pred.tpot_s <= 0.050
    assert pred.batch <= 512
    assert pred.pools is None


# -- command line --------------------------------------------------------------------------------

BASE = ["predict", "infer", "-m", "llama3-8b", "-a", "h100-sxm", "-n", "2", "--input-tokens", "500"]


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--spec-accept-length", "0.5"], "--spec-accept-length"),
        (["--spec-accept-length", "nan"], "--spec-accept-length"),
        (["--ttft-ms", "0"], "--ttft-ms"),
        (["--ttft-ms", "nan"], "--ttft-ms"),
        (["--tpot-ms", "-1"], "--tpot-ms"),
        (["--objective", "fastest"], "objective"),
    ],
)
def test_cli_rejects_bad_serving_values(cli, extra: list[str], option: str) -> None:
    result = cli(*BASE, "--output-tokens", "100", *extra)
    assert result.code == 2, result.err
    assert result.err.startswith("error:")
    assert option in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("objective", ["offline", "decode", "prefill", "disaggregated"])
def test_cli_objectives_json(objective: str) -> None:
    args = [*BASE, "--output-tokens", "100", "--objective", objective, "--tpot-ms", "30", "--ttft-ms", "1000"]
    result = runner.invoke(app, [*args, "--spec-accept-length", "1.5", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["objective"] == objective
    assert out["input_tokens_per_s"] > 0 or objective == "decode"
    assert out["ttft_s"] <= 1.0
    assert (out["pools"] is not None) == (objective == "disaggregated")
    if objective != "prefill":
        assert out["tpot_s"] <= 0.030
        assert out["spec_accept_length"] == 1.5


def test_cli_prints_a_table_for_each_objective() -> None:
    for objective in ("prefill", "disaggregated"):
        result = runner.invoke(app, [*BASE, "--output-tokens", "100", "--objective", objective])
        assert result.exit_code == 0, result.output
        assert "input tokens/s" in result.stdout
        assert ("prefill / decode chips" in result.stdout) == (objective == "disaggregated")
