"""``suanli predict train|infer``: the performance model on the command line."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.table import Table

from suanli.catalog import load_catalog
from suanli.cli.options import CatalogFiles, Json, parse_quantity
from suanli.cli.output import console, number, print_json
from suanli.errors import InputValueError
from suanli.perf import predict_inference, predict_training
from suanli.perf.results import InferencePrediction, TrainingPrediction

predict_app = typer.Typer(help="Predict training or inference speed of a model on an accelerator.")

Model = Annotated[str, typer.Option("--model", "-m", help="Model id (see `suanli models list`).")]
AcceleratorId = Annotated[str, typer.Option("--accelerator", "-a", help="Accelerator id.")]
Chips = Annotated[int, typer.Option("--chips", "-n", help="Number of chips.")]


@predict_app.command("train")
def predict_train(
    model: Model,
    accelerator: AcceleratorId,
    chips: Chips,
    seq_len: Annotated[int, typer.Option(help="Sequence length in tokens.")] = 4096,
    global_batch_tokens: Annotated[
        str | None, typer.Option(help="Tokens per optimiser step (e.g. 4M); default 4M, more for big fleets.")
    ] = None,
    tokens: Annotated[
        str | None, typer.Option(help="Training budget in tokens (e.g. 15T): gives days.")
    ] = None,
    precision: Annotated[str, typer.Option(help="bf16 or fp8.")] = "bf16",
    tp: Annotated[int | None, typer.Option(help="Pin tensor parallelism.")] = None,
    pp: Annotated[int | None, typer.Option(help="Pin pipeline parallelism.")] = None,
    dp: Annotated[int | None, typer.Option(help="Pin data parallelism.")] = None,
    cp: Annotated[int | None, typer.Option(help="Pin context parallelism.")] = None,
    ep: Annotated[
        int | None, typer.Option(help="Pin expert parallelism (MoE; folded over tp x cp x dp of a stage).")
    ] = None,
    etp: Annotated[int | None, typer.Option(help="Pin tensor parallelism inside each expert (MoE).")] = None,
    vp: Annotated[int | None, typer.Option(help="Pin virtual pipeline stages (interleaving).")] = None,
    mb: Annotated[int | None, typer.Option(help="Pin the micro-batch size (sequences).")] = None,
    recompute: Annotated[
        str | None,
        typer.Option(help="Pin recomputation: none, selective, partial (half the layers in full), full."),
    ] = None,
    zero: Annotated[int | None, typer.Option(help="Pin the ZeRO stage: 0, 1 or 3.")] = None,
    top_k: Annotated[int, typer.Option(help="How many of the fastest plans to list.")] = 5,
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """Training step time, tokens/s, MFU, memory and the fastest parallelism plan that fits."""
    cat = load_catalog(catalog or [])
    pinned = {
        k: v
        for k, v in {
            "tp": tp,
            "pp": pp,
            "dp": dp,
            "cp": cp,
            "ep": ep,
            "etp": etp,
            "vp": vp,
            "mb": mb,
            "recompute": recompute,
            "zero": zero,
        }.items()
        if v is not None
    }
    result = predict_training(
        cat.model(model),
        cat.accelerator(accelerator),
        chips,
        seq_len=seq_len,
        global_batch_tokens=parse_quantity(global_batch_tokens, "--global-batch-tokens"),
        tokens=parse_quantity(tokens, "--tokens"),
        precision=precision,
        plan=pinned,
        top_k=top_k,
    )
    if json:
        print_json(result)
        return
    _print_training(result)


def _print_training(r: TrainingPrediction) -> None:
    table = Table(
        title=f"Training {r.model} on {r.chips:,} x {r.accelerator} ({r.precision}, seq {r.seq_len:,})"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("P10 – P90", justify="right")
    table.add_row("tokens/s", number(r.tokens_per_s), f"{number(r.interval.p10)} – {number(r.interval.p90)}")
    table.add_row("MFU", f"{r.mfu:.1%}", f"{r.mfu_interval.p10:.1%} – {r.mfu_interval.p90:.1%}")
    table.add_row("step time (s)", f"{r.step_time_s:.3f}", "")
    table.add_row("model TFLOP/s per chip", number(r.model_tflops_per_chip, 1), "")
    table.add_row("memory per chip (GB)", f"{r.memory_gb_per_chip:.1f} of {r.memory_gb_available:.1f}", "")
    if r.days is not None:
        low, high = r.days * r.tokens_per_s / r.interval.p90, r.days * r.tokens_per_s / r.interval.p10
        table.add_row("days for the token budget", f"{r.days:,.1f}", f"{low:,.1f} – {high:,.1f}")
    console.print(table)
    ranks = f" (degrees count ranks: {r.ranks_per_chip} per chip)" if r.ranks_per_chip > 1 else ""
    console.print("plan: " + ", ".join(f"{k}={v}" for k, v in r.plan.items()) + ranks)
    shares = ", ".join(f"{k} {v / r.step_time_s:.0%}" for k, v in r.breakdown.items() if v > 0)
    console.print(f"time goes to: {shares}")
    console.print(f"goodput at this fleet size (failures, restarts, checkpoints): {r.goodput:.0%}")
    for warning in r.warnings:
        console.print(f"[dim]{warning}[/]")
    console.print(
        f"[dim]{r.plans_evaluated:,} plans evaluated ({r.search_plans_per_s:,.0f}/s), "
        f"{r.plans_feasible:,} fit in memory; "
        f"interval from {r.interval.basis} (sigma {r.interval.sigma_log:.2f} in log)[/]"
    )


@predict_app.command("infer")
def predict_infer(
    model: Model,
    accelerator: AcceleratorId,
    chips: Chips,
    input_tokens: Annotated[int, typer.Option(help="Prompt tokens per request.")],
    output_tokens: Annotated[int, typer.Option(help="Generated tokens per request.")],
    batch: Annotated[int | None, typer.Option(help="Concurrent sequences in the system.")] = None,
    tpot_ms: Annotated[float | None, typer.Option(help="Time-per-output-token limit in ms.")] = None,
    ttft_ms: Annotated[float | None, typer.Option(help="Time-to-first-token limit in ms.")] = None,
    weight_precision: Annotated[str, typer.Option(help="bf16, fp8, int8, int4 or fp4.")] = "bf16",
    kv_precision: Annotated[str | None, typer.Option(help="KV-cache precision (default: weights').")] = None,
    tp: Annotated[int | None, typer.Option(help="Chips per model instance (default: best).")] = None,
    objective: Annotated[
        str,
        typer.Option(
            help="offline (prefill mixed into decode), decode, prefill (input tokens/s), "
            "or disaggregated (prefill and decode pools)."
        ),
    ] = "offline",
    spec_accept_length: Annotated[
        float | None,
        typer.Option(help="Speculative decoding: mean tokens accepted per verify step (>= 1)."),
    ] = None,
    spec_draft_tokens: Annotated[
        int | None,
        typer.Option(help="Tokens drafted per step (default: the fewest that reach the accept length)."),
    ] = None,
    draft_model: Annotated[
        str | None, typer.Option(help="Draft model id (default: an MTP-style one-layer draft).")
    ] = None,
    scaleup_domain: Annotated[
        int | None, typer.Option(help="Chips in one scale-up domain (e.g. 384 for CloudMatrix 384).")
    ] = None,
    catalog: CatalogFiles = None,
    json: Json = False,
) -> None:
    """Serving TTFT, TPOT, tokens/s, KV cache and the constraint that binds."""
    for option, value in (("--tpot-ms", tpot_ms), ("--ttft-ms", ttft_ms)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputValueError(f"must be a number > 0 (got {value})", field=option)
    if spec_accept_length is not None and not (math.isfinite(spec_accept_length) and spec_accept_length >= 1):
        raise InputValueError(
            f"must be a number >= 1 (got {spec_accept_length})", field="--spec-accept-length"
        )
    for option, count in (("--batch", batch), ("--tp", tp), ("--spec-draft-tokens", spec_draft_tokens)):
        if count is not None and count < 1:
            raise InputValueError(f"must be >= 1 (got {count})", field=option)
    cat = load_catalog(catalog or [])
    result = predict_inference(
        cat.model(model),
        cat.accelerator(accelerator),
        chips,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        batch=batch,
        tpot_ms=tpot_ms,
        ttft_ms=ttft_ms,
        weight_precision=weight_precision,
        kv_precision=kv_precision,
        tp=tp,
        objective=objective,
        spec_accept_length=spec_accept_length,
        spec_draft_tokens=spec_draft_tokens,
        draft_model=None if draft_model is None else cat.model(draft_model),
        scaleup_domain=scaleup_domain,
    )
    if json:
        print_json(result)
        return
    _print_inference(result)


def _print_inference(r: InferencePrediction) -> None:
    table = Table(
        title=f"Serving {r.model} on {r.chips:,} x {r.accelerator} "
        f"({r.weight_precision} weights, {r.kv_precision} KV, {r.input_tokens}+{r.output_tokens} tokens, "
        f"{r.objective})"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    band = f"(P10–P90 {number(r.interval.p10)} – {number(r.interval.p90)})"
    if r.objective == "prefill":
        table.add_row("input tokens/s (system)", f"{number(r.tokens_per_s)}  {band}")
        table.add_row("input tokens/s per chip", number(r.tokens_per_s_per_chip, 1))
        table.add_row("TTFT of a batch (ms)", number(r.ttft_s * 1e3, 1))
        table.add_row("prompts per step (system) / max by KV memory", f"{r.batch:,} / {r.max_batch:,}")
    else:
        table.add_row("output tokens/s (system)", f"{number(r.tokens_per_s)}  {band}")
        table.add_row("output tokens/s per chip", number(r.tokens_per_s_per_chip, 1))
        table.add_row("input tokens/s (system)", number(r.input_tokens_per_s))
        table.add_row("TTFT (ms)", number(r.ttft_s * 1e3, 1))
        table.add_row("TPOT (ms)", number(r.tpot_s * 1e3, 1))
        table.add_row("batch (decoding) / max by KV memory", f"{r.batch:,} / {r.max_batch:,}")
    if r.pools is not None:
        table.add_row(
            "prefill / decode chips",
            f"{r.pools['prefill']} / {r.pools['decode']} "
            f"(instances of {r.pools['prefill_instance_chips']} / {r.pools['decode_instance_chips']})",
        )
    table.add_row("instances x chips each", f"{r.replicas} x {r.tp}")
    if r.plan.get("attention_dp", 1) > 1 or r.plan.get("expert_ep", 1) > 1:
        plan = r.plan
        attention = f"attention DP {plan['attention_dp']} x TP {plan['attention_tp']}"
        table.add_row("layout", f"{attention}, experts EP {plan['expert_ep']}")
    if r.spec_draft_tokens:
        table.add_row(
            "speculative decoding", f"{r.spec_accept_length:g} accepted of {r.spec_draft_tokens} drafted + 1"
        )
    table.add_row("KV cache per request (GB)", f"{r.kv_cache_gb_per_request:.3f}")
    table.add_row("weights per chip (GB)", f"{r.weights_gb_per_chip:.1f}")
    table.add_row("bound", r.bound)
    console.print(table)
