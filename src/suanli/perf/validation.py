"""Compare the performance model with published measurements and report its errors.

Each measurement is predicted with its stated configuration (a stated parallelism plan is
pinned; where the model's own memory accounting rejects it, the search picks the plan and
the row says so) and converted to the metric the source reports, in the source's own
convention (Megatron-LM's TFLOP/s per GPU count recomputation, for example).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TypedDict

from pydantic import BaseModel, ConfigDict

from suanli.catalog.loader import Catalog, builtin_catalog
from suanli.errors import InfeasibleError, MissingDataError
from suanli.perf.calibration_data import residual_key
from suanli.perf.efficiency import EfficiencyTable
from suanli.perf.inference import predict_inference
from suanli.perf.measurements import Measurement, measurements, resolve_model
from suanli.perf.training import predict_training
from suanli.perf.uncertainty import Z90, shrunk_sigma, summarize

PLAN_KEYS = {
    "tp": "tp",
    "pp": "pp",
    "dp": "dp",
    "cp": "cp",
    "ep": "ep",
    "etp": "etp",
    "expert_tp": "etp",
    "vp": "vp",
    "interleave": "vp",
    "microbatch": "mb",
    "recompute": "recompute",
    "zero": "zero",
}


class ValidationRow(BaseModel):
    """One measurement against its prediction."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    vendor: str
    accelerator: str
    model: str
    moe: bool
    chips: int
    table: str
    split: str
    metric: str
    measured: float
    predicted: float | None
    error: float | None  # (predicted - measured) / measured
    p10: float | None
    p90: float | None
    note: str


class GroupError(BaseModel):
    """Mean absolute percentage error of a group of rows."""

    model_config = ConfigDict(frozen=True)

    group: str
    points: int
    mape: float | None
    bias: float | None  # mean signed error


class ValidationReport(BaseModel):
    """All rows and the error per group; ``overall`` is the MAPE on the validate split.

    ``headline`` has the validate split's groups the targets are stated for (NVIDIA dense,
    NVIDIA dense inference, MoE, Chinese accelerators, training, training at 1,000 chips or
    more, inference); ``groups`` every split/kind/vendor combination; ``worst`` the ten
    validate rows with the largest absolute error.
    """

    model_config = ConfigDict(frozen=True)

    rows: list[ValidationRow]
    headline: list[GroupError]
    groups: list[GroupError]
    worst: list[ValidationRow]
    overall_validate_mape: float | None
    overall_all_mape: float | None
    predicted: int
    skipped: int
    interval_coverage: float | None  # share of validate rows whose P10-P90 holds the measurement
    interval_coverage_loo: float | None  # the same with each row's spread fitted without that row


def _plan(point: Measurement) -> dict[str, int | str]:
    plan: dict[str, int | str] = {}
    for key, value in (point.parallelism or {}).items():
        if key == "fsdp" and value:
            plan["zero"] = 3
        elif key in PLAN_KEYS and value is not None and not isinstance(value, bool):
            plan[PLAN_KEYS[key]] = value if key == "recompute" else int(value)
    return plan


def megatron_tflops(point: Measurement, layers: int, hidden: int, vocab: int, step_s: float) -> float:
    """TFLOP/s per GPU by Megatron-LM's eq. 3 (counts full recomputation), for a step time."""
    batch, seq = point.global_batch_sequences or 0, point.seq_len or 0
    flops = (
        96.0 * batch * seq * layers * hidden**2 * (1 + seq / (6 * hidden) + vocab / (16 * layers * hidden))
    )
    return flops / step_s / point.chips / 1e12


def predict_point(
    point: Measurement, catalog: Catalog | None = None, efficiency: EfficiencyTable | None = None
) -> tuple[float, float, float, str]:
    """``(predicted, p10, p90, note)`` for ``point`` in its own metric."""
    catalog = catalog or builtin_catalog()
    model = resolve_model(point, catalog)
    accelerator = catalog.accelerator(point.accelerator)
    note = ""
    if point.kind == "training":
        seq = point.seq_len or 4096
        batch = None if point.global_batch_sequences is None else float(point.global_batch_sequences * seq)
        train = partial(
            predict_training,
            model,
            accelerator,
            point.chips,
            seq_len=seq,
            global_batch_tokens=batch,
            precision=point.precision or "bf16",
            memory_gb_override=point.memory_gb_override,
            efficiency=efficiency,
            scaleup_domain=point.scaleup_domain_override,
            flash_attention=point.flash_attention,
            load_imbalance=1.0 if (point.parallelism or {}).get("balanced_routing") else None,
        )
        plan = _plan(point)
        if model.moe is not None and "tp" in plan and "etp" not in plan:
            # Megatron-Core's default expert_tensor_parallel_size is the tensor-parallel size
            # (and before it existed experts were split by tp): a source silent on it ran that.
            tp, cp, ep = int(plan["tp"]), int(plan.get("cp", 1)), int(plan.get("ep", 1))
            stage = point.chips // int(plan.get("pp", 1))
            plan["etp"] = tp if stage % (ep * tp) == 0 and tp * cp > 0 else 1
        # A source that states the model-parallel layout (tp and pp; dp follows from the chips)
        # ran that plan: it fits, whatever the model's memory accounting (an approximation) says.
        stated = "tp" in plan and "pp" in plan
        try:
            pred = train(plan=plan, known_to_fit=stated)
        except InfeasibleError as exc:
            if not plan:
                raise
            note = f"stated plan rejected by the model ({exc}); searched instead"
            pred = train()
        scale = {
            "tokens_per_s": pred.tokens_per_s,
            "tokens_per_s_per_chip": pred.tokens_per_s_per_chip,
            "mfu": pred.mfu,
            "step_time_s": pred.step_time_s,
            "tflops_per_chip": megatron_tflops(
                point, model.layers, model.hidden_size, model.vocab_size, pred.step_time_s
            ),
        }[point.metric]
        low, high = pred.interval.p10 / pred.tokens_per_s, pred.interval.p90 / pred.tokens_per_s
        if point.metric == "step_time_s":  # a time falls as throughput rises
            low, high = 1 / high, 1 / low
        return scale, scale * low, scale * high, note
    if point.input_tokens is None or (point.output_tokens is None and point.phase == "offline"):
        raise MissingDataError("the source gives no mean input/output length, which throughput depends on")
    weight = point.weight_precision or "bf16"
    batch = point.batch
    tpot = None if batch is not None else point.tpot_ms_limit
    serve = partial(
        predict_inference,
        model,
        accelerator,
        point.chips,
        input_tokens=point.input_tokens,
        output_tokens=point.output_tokens or 1,
        batch=batch,
        tpot_ms=tpot,
        weight_precision=weight,
        kv_precision=point.kv_precision,
        memory_gb_override=point.memory_gb_override,
        efficiency=efficiency,
        scaleup_domain=point.scaleup_domain_override,
        max_concurrency=point.max_concurrency,
        objective=point.phase,
    )
    layout = _serving_layout(point, model.moe is not None)
    try:
        ipred = serve(**layout)
    except InfeasibleError as exc:
        if not layout:
            raise
        note = f"stated layout rejected by the model ({exc}); searched instead"
        ipred = serve()
    value = ipred.tokens_per_s  # output tokens, or prompt tokens for a prefill point
    if point.phase == "decode":
        value = ipred.decode_tokens_per_s
    if point.metric == "tokens_per_s_per_chip":
        value /= point.chips
    ratio = value / ipred.tokens_per_s
    return value, ipred.interval.p10 * ratio, ipred.interval.p90 * ratio, note


#: The validate split's groups the accuracy targets are stated for.
HEADLINE: dict[str, Callable[[ValidationRow], bool]] = {
    "all": lambda _row: True,
    "nvidia-dense": lambda r: r.vendor == "nvidia" and not r.moe,
    "nvidia-dense-inference": lambda r: r.vendor == "nvidia" and not r.moe and r.kind == "inference",
    "moe": lambda r: r.moe,
    "chinese-accelerators": lambda r: r.vendor != "nvidia",
    "training": lambda r: r.kind == "training",
    "training-1000-chips-plus": lambda r: r.kind == "training" and r.chips >= 1000,
    "inference": lambda r: r.kind == "inference",
}


class _Layout(TypedDict, total=False):
    tp: int
    attention_tp: int
    expert_parallel: bool


def _serving_layout(point: Measurement, moe: bool) -> _Layout:
    """The serving layout a source states, as ``predict_inference`` pins it.

    A MoE served with expert parallelism runs one instance over the EP group, attention
    split over ``tp`` chips (data-parallel attention when ``dp`` is stated); a dense model
    or sliced experts run instances of ``tp`` chips. Nothing stated: searched.
    """
    stated = {
        k: v for k, v in (point.parallelism or {}).items() if isinstance(v, int) and not isinstance(v, bool)
    }
    ep, tp, dp = stated.get("ep", 1), stated.get("tp"), stated.get("dp")
    if moe and ep > 1 and point.chips % ep == 0:
        attention = tp if tp is not None else (ep // dp if dp and ep % dp == 0 else 1)
        return _Layout(tp=ep, attention_tp=attention, expert_parallel=True)
    if tp is not None and point.chips % tp == 0:
        return _Layout(tp=tp, expert_parallel=False) if moe else _Layout(tp=tp)
    return _Layout()


def _group(rows: Iterable[ValidationRow], name: str) -> GroupError:
    errors = [r.error for r in rows if r.error is not None]
    if not errors:
        return GroupError(group=name, points=0, mape=None, bias=None)
    return GroupError(
        group=name,
        points=len(errors),
        mape=sum(abs(e) for e in errors) / len(errors),
        bias=sum(errors) / len(errors),
    )


def validate_measurements(
    points: Iterable[Measurement] | None = None,
    catalog: Catalog | None = None,
    efficiency: EfficiencyTable | None = None,
) -> ValidationReport:
    """Predict every measurement and report the errors per vendor, kind and split."""
    rows: list[ValidationRow] = []
    for point in points if points is not None else measurements().points:
        model_name = point.model or (point.model_inline.name if point.model_inline else "?")
        is_moe = bool(point.model_inline.experts) if point.model_inline else False
        if point.model is not None:
            is_moe = (catalog or builtin_catalog()).model(point.model).moe is not None
        predicted: float | None
        p10: float | None
        p90: float | None
        error: float | None
        try:
            predicted, p10, p90, note = predict_point(point, catalog, efficiency)
            error = (predicted - point.value) / point.value
        except MissingDataError as exc:
            predicted = p10 = p90 = error = None
            note = f"not predicted: {exc}"
        except InfeasibleError as exc:
            # The model calls a measured configuration impossible: a full miss, counted.
            predicted, p10, p90, error = 0.0, 0.0, 0.0, -1.0
            note = f"model says infeasible: {exc}"
        rows.append(
            ValidationRow(
                id=point.id,
                kind=point.kind,
                vendor=point.vendor_group,
                accelerator=point.accelerator,
                model=model_name,
                moe=is_moe,
                chips=point.chips,
                table=point.table,
                split=point.split,
                metric=point.metric,
                measured=point.value,
                predicted=predicted,
                error=error,
                p10=p10,
                p90=p90,
                note=note,
            )
        )
    buckets: dict[str, list[ValidationRow]] = defaultdict(list)
    for row in rows:
        for key in (
            f"{row.split}",
            f"{row.split}/{row.kind}",
            f"{row.split}/{row.vendor}",
            f"{row.split}/{row.vendor}/{row.kind}",
        ):
            buckets[key].append(row)
    groups = [_group(buckets[k], k) for k in sorted(buckets)]
    validate_rows = [r for r in rows if r.split == "validate"]
    headline = [_group([r for r in validate_rows if keep(r)], name) for name, keep in HEADLINE.items()]
    scored = [r for r in validate_rows if r.error is not None]
    worst = sorted(scored, key=lambda r: abs(r.error or 0.0), reverse=True)[:10]
    bands = [(r.p10, r.measured, r.p90) for r in validate_rows if r.error is not None]
    held = [low <= measured <= high for low, measured, high in bands if low is not None and high is not None]
    coverage = sum(held) / len(held) if held else None
    catalog = catalog or builtin_catalog()
    return ValidationReport(
        rows=rows,
        headline=headline,
        groups=groups,
        worst=worst,
        overall_validate_mape=_group(validate_rows, "validate").mape,
        overall_all_mape=_group(rows, "all").mape,
        predicted=sum(r.error is not None for r in rows),
        skipped=sum(r.error is None for r in rows),
        interval_coverage=coverage,
        interval_coverage_loo=_leave_one_out_coverage(validate_rows, catalog),
    )


def _leave_one_out_coverage(rows: list[ValidationRow], catalog: Catalog) -> float | None:
    """Share of rows inside P10-P90 with each row's spread fitted without that row.

    The spread comes from the other rows of the same stack, kind and MoE-or-dense, shrunk towards the prior
    as predictions are: an out-of-sample check of the intervals.
    """
    scored = [r for r in rows if r.predicted and r.error is not None]
    if not scored:
        return None
    residual = {r.id: math.log(r.measured / r.predicted) for r in scored if r.predicted}
    group = {
        r.id: residual_key(catalog.accelerator(r.accelerator).software_stack, r.kind, r.moe) for r in scored
    }
    inside = 0
    for r in scored:
        others = [residual[o.id] for o in scored if o.id != r.id and group[o.id] == group[r.id]]
        sigma = shrunk_sigma(summarize(others))
        inside += abs(residual[r.id]) <= Z90 * sigma
    # A full miss (the model calls a measured setup infeasible) is outside any interval.
    misses = sum(1 for r in rows if r.error == -1.0 and not r.predicted)
    return inside / (len(scored) + misses)


def log_residuals(report: ValidationReport, stack_of: Mapping[str, str]) -> dict[str, list[float]]:
    """``log(measured / predicted)`` of validate rows by ``"<stack>/<kind>"``."""
    out: dict[str, list[float]] = defaultdict(list)
    for row in report.rows:
        if row.split == "validate" and row.predicted:  # a full miss has no log residual
            out[residual_key(stack_of[row.accelerator], row.kind, row.moe)].append(
                math.log(row.measured / row.predicted)
            )
    return dict(out)
