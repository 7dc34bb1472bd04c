"""Physics of the performance model: monotonicity, hand-checked memory, feasibility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.catalog import LLM, Accelerator, Figure, builtin_catalog
from suanli.errors import InfeasibleError, InputValueError, MissingDataError, SuanliError
from suanli.perf import predict_inference, predict_training
from suanli.perf.calibration_data import residual_summary
from suanli.perf.efficiency import efficiency_table
from suanli.perf.hardware import chip_of
from suanli.perf.search import enumerate_plans
from suanli.perf.training_model import (
    GRAD_BYTES,
    OPTIMIZER_BYTES,
    WEIGHT_BYTES,
    Plans,
    memory_per_chip,
    step_cost,
)
from suanli.perf.uncertainty import PRIOR_SIGMA, shrunk_sigma
from suanli.perf.workload import model_work
from tests.strategies import bandwidth_scale, dense_models, nvidia_chips

CAT = builtin_catalog()


def _scaled(accelerator: Accelerator, field: str, factor: float) -> Accelerator:
    figure = getattr(accelerator, field)
    return accelerator.model_copy(
        update={field: figure.model_copy(update={"value": figure.value * factor, "low": None, "high": None})}
    )


@settings(max_examples=25, deadline=None)
@given(
    model=dense_models,
    chip=nvidia_chips,
    scale=bandwidth_scale,
    batch=st.integers(min_value=1, max_value=256),
    tpot=st.booleans(),
)
def test_more_bandwidth_never_slows_decode(
    model: LLM, chip: Accelerator, scale: float, batch: int, tpot: bool
) -> None:
    faster = _scaled(chip, "memory_tb_s", scale)
    kwargs = {"input_tokens": 1024, "output_tokens": 256, "weight_precision": "bf16", "tp": 8}
    try:
        base = predict_inference(model, chip, 8, batch=batch, **kwargs)
    except InfeasibleError:
        return
    quick = predict_inference(model, faster, 8, batch=batch, **kwargs)
    assert quick.tpot_s <= base.tpot_s * (1 + 1e-12)
    assert quick.tokens_per_s >= base.tokens_per_s * (1 - 1e-12)


def _plans(n: int, **fixed: int) -> Plans:
    columns = {
        k: np.full(n, fixed.get(k, 1), dtype=np.int64)
        for k in ("tp", "pp", "dp", "cp", "ep", "etp", "vp", "mb", "recompute", "zero")
    }
    return Plans(**columns)


@pytest.mark.parametrize("model_id", ["llama3-8b", "llama3-70b", "gpt3-175b"])
def test_more_chips_never_raise_per_step_compute(model_id: str) -> None:
    work = model_work(CAT.model(model_id))
    chip = chip_of(CAT.accelerator("h100-sxm"))
    eff = efficiency_table().for_stack("cuda")
    batch = 2048 * 4096.0
    previous = np.inf
    for dp in (1, 2, 4, 8, 16, 32, 64, 128):
        plans = _plans(1, tp=8, dp=dp)
        compute = float(
            step_cost(
                work, chip, eff, plans, seq_len=4096, global_batch_tokens=batch, precision="bf16"
            ).compute_s[0]
        )
        assert compute <= previous
        previous = compute


def test_memory_accounting_matches_hand_count() -> None:
    # A toy dense model: 2 layers, h = 64, 4 heads, ffn 256, vocab 100, gated MLP.
    toy = LLM(
        id="toy",
        name="toy",
        source="hand",
        date="2026",
        layers=2,
        hidden_size=64,
        heads=4,
        kv_heads=4,
        ffn_size=256,
        vocab_size=100,
        gated_mlp=True,
        max_seq_len=128,
        published_params_b=1e-4,
    )
    work = model_work(toy)
    params = toy.params_total  # 2 x (4 x 64^2 + 3 x 64 x 256) + 2 x 100 x 64 + 5 x 64
    assert params == 2 * (4 * 64 * 64 + 3 * 64 * 256) + 2 * 100 * 64 + 5 * 64
    seq, mb = 128, 2
    plans = _plans(1, mb=mb, recompute=0, zero=0)
    states = params * (WEIGHT_BYTES + GRAD_BYTES + OPTIMIZER_BYTES)  # 18 bytes per parameter
    # activations: (11 + 19 x mlp_ratio) x s x b x h per layer; mlp_ratio = 256/(4x64) x 1.5
    per_layer = (11 + 19 * 1.5) * seq * mb * 64
    logits = 4 * seq * mb * 100
    expected = states + 2 * per_layer + logits
    got = float(memory_per_chip(work, plans, seq, seq * mb * 1.0)[0])
    assert got == pytest.approx(expected, rel=1e-12)


def test_zero_and_tp_shard_memory() -> None:
    work = model_work(CAT.model("llama3-70b"))
    one = memory_per_chip(work, _plans(1, dp=8, zero=0), 4096, 8 * 4096.0)[0]
    sharded = memory_per_chip(work, _plans(1, dp=8, zero=1), 4096, 8 * 4096.0)[0]
    tp8 = memory_per_chip(work, _plans(1, tp=8, zero=0), 4096, 4096.0)[0]
    assert sharded < one
    assert tp8 < one / 6


def test_search_is_exhaustive_and_valid() -> None:
    work = model_work(CAT.model("llama3.1-405b"))
    search = enumerate_plans(work, 16384, 8192, 2048 * 8192.0, scaleup_domain=8)
    plans = search.plans
    assert len(plans) > 1000
    assert np.all(plans.tp * plans.pp * plans.dp * plans.cp == 16384)
    assert np.all((2048 % (plans.dp * plans.mb)) == 0)
    assert np.all((plans.tp * plans.cp * plans.dp) % (plans.ep * plans.etp) == 0)
    assert np.all(plans.tp <= 8)  # never across the scale-up domain unless pinned
    assert search.rejected["tp-beyond-scaleup"] > 0


def test_search_picks_fastest_feasible_plan() -> None:
    pred = predict_training(CAT.model("llama3-70b"), CAT.accelerator("h100-sxm"), 512, top_k=10)
    times = [p.step_time_s for p in pred.top_plans]
    assert times == sorted(times)
    assert pred.step_time_s == times[0]
    assert all(p.memory_gb_per_chip <= pred.memory_gb_available for p in pred.top_plans)
    assert 0.2 < pred.mfu < 0.7
    assert sum(pred.breakdown.values()) == pytest.approx(pred.step_time_s)


def test_pinned_plan_is_respected() -> None:
    pred = predict_training(
        CAT.model("gpt3-175b"),
        CAT.accelerator("a100-sxm-80gb"),
        1024,
        seq_len=2048,
        global_batch_tokens=1536 * 2048,
        plan={"tp": 8, "pp": 8},
    )
    assert (pred.plan["tp"], pred.plan["pp"], pred.plan["dp"]) == (8, 8, 16)


def test_days_follow_tokens() -> None:
    pred = predict_training(CAT.model("llama3-8b"), CAT.accelerator("h100-sxm"), 64, tokens=1e12)
    assert 0.95 < pred.goodput < 1.0
    assert pred.days == pytest.approx(1e12 / (pred.tokens_per_s * pred.goodput) / 86400)


def test_interval_brackets_prediction() -> None:
    pred = predict_training(CAT.model("llama3-8b"), CAT.accelerator("ascend-910b"), 64)
    assert pred.interval.p10 < pred.tokens_per_s < pred.interval.p90
    # A stack with no measurements of its own gets the prior; a measured one the spread of
    # its own held-out residuals (shrunk towards the prior), whatever that turns out to be.
    musa = predict_training(CAT.model("llama3-8b"), CAT.accelerator("mtt-s4000"), 64)
    assert musa.interval.sigma_log == pytest.approx(PRIOR_SIGMA)
    stored = residual_summary("cann", "training", True)
    assert stored is not None
    assert stored.points >= 3
    assert pred.interval.sigma_log == pytest.approx(shrunk_sigma(stored))


def test_model_too_big_is_infeasible() -> None:
    with pytest.raises(InfeasibleError, match="does not fit"):
        predict_training(CAT.model("llama3.1-405b"), CAT.accelerator("h100-sxm"), 8)
    with pytest.raises(InfeasibleError, match="weights"):
        predict_inference(
            CAT.model("llama3.1-405b"), CAT.accelerator("h100-sxm"), 1, input_tokens=100, output_tokens=100
        )


def test_indivisible_chips_are_infeasible() -> None:
    # A pinned degree that cannot divide the chips is the user's error, named as such.
    with pytest.raises(InputValueError, match="must divide the 7 chips") as caught:
        predict_training(
            CAT.model("llama3-70b"),
            CAT.accelerator("h100-sxm"),
            7,
            global_batch_tokens=1024 * 4096.0,
            plan={"tp": 2},
        )
    assert caught.value.field == "tp"
    # Nothing pinned, yet 97 chips (a prime above the 80 layers) divide neither the heads nor
    # 1,024 sequences, and a 97-stage pipeline would leave stages without a layer.
    with pytest.raises(InfeasibleError, match="no parallelism plan"):
        predict_training(
            CAT.model("llama3-70b"), CAT.accelerator("h100-sxm"), 97, global_batch_tokens=1024 * 4096.0
        )


def test_precision_the_chip_lacks() -> None:
    with pytest.raises(InfeasibleError, match="no fp8"):
        predict_training(CAT.model("llama3-8b"), CAT.accelerator("ascend-910b"), 8, precision="fp8")
    with pytest.raises(InputValueError):
        predict_training(CAT.model("llama3-8b"), CAT.accelerator("h100-sxm"), 8, precision="fp16x")


def test_chip_without_compute_figures_is_missing_data() -> None:
    with pytest.raises(MissingDataError, match="lacks"):
        predict_inference(
            CAT.model("llama3-8b"),
            CAT.accelerator("mi308x"),
            1,
            input_tokens=512,
            output_tokens=128,
        )


def test_tpot_target_is_met_and_batch_maximal() -> None:
    kwargs = {"input_tokens": 2000, "output_tokens": 500, "weight_precision": "fp8", "tp": 8}
    pred = predict_inference(CAT.model("llama3-70b"), CAT.accelerator("h200-sxm"), 8, tpot_ms=50, **kwargs)
    assert pred.tpot_s <= 0.050
    bigger = predict_inference(
        CAT.model("llama3-70b"),
        CAT.accelerator("h200-sxm"),
        8,
        batch=min(pred.batch + 1, pred.max_batch),
        **kwargs,
    )
    assert bigger.tpot_s > 0.050 or pred.batch == pred.max_batch


def test_kv_cache_per_request_hand_count() -> None:
    pred = predict_inference(
        CAT.model("llama3-70b"),
        CAT.accelerator("h200-sxm"),
        8,
        input_tokens=2000,
        output_tokens=500,
        weight_precision="fp8",
        kv_precision="bf16",
        batch=8,
    )
    # 80 layers x 2 (K, V) x 8 KV heads x 128 dims x 2 bytes x 2,500 tokens
    assert pred.kv_cache_gb_per_request == pytest.approx(80 * 2 * 8 * 128 * 2 * 2500 / 1e9)


def test_unknown_catalog_field_override_changes_prediction() -> None:
    base = CAT.accelerator("h100-sxm")
    slower = base.model_copy(
        update={"bf16_dense_tflops": Figure(value=500, source="test", date="2026", confidence="derived")}
    )
    a = predict_training(CAT.model("llama3-8b"), base, 8)
    b = predict_training(CAT.model("llama3-8b"), slower, 8)
    assert b.tokens_per_s < a.tokens_per_s


@pytest.mark.parametrize("accelerator_id", sorted(CAT.accelerators))
def test_every_catalog_chip_predicts_or_says_why(accelerator_id: str) -> None:
    # Any model on any chip gives a result or a clear SuanliError, never a crash or a NaN.
    accelerator = CAT.accelerator(accelerator_id)
    for model in CAT.models.values():
        try:
            train = predict_training(model, accelerator, 64)
            assert np.isfinite(train.tokens_per_s)
            assert 0 < train.mfu < 1
        except SuanliError:
            pass
        try:
            infer = predict_inference(
                model,
                accelerator,
                8,
                input_tokens=1000,
                output_tokens=200,
                weight_precision="int8",
                tpot_ms=50,
            )
            assert np.isfinite(infer.tokens_per_s)
            assert infer.tpot_s <= 0.050
        except SuanliError:
            pass
