"""Fleet sizing: how many chips of one accelerator meet a workload target.

Sizes come from the performance model (never from TFLOPS ratios), rounded to whole servers
and scale-up domains.

Each size comes with a range: the chips needed if the chip performs at the P90 or the P10 of
its prediction interval, so performance uncertainty flows on into fleet size and cost.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from suanli.catalog.accelerator import Accelerator
from suanli.catalog.loader import Catalog
from suanli.economics.workload import ServingTarget, Target, TrainingTarget
from suanli.errors import InfeasibleError
from suanli.perf import predict_inference, predict_training
from suanli.perf.hardware import chip_of
from suanli.perf.results import InferencePrediction
from suanli.perf.uncertainty import Z90

#: The largest fleet the sizing search considers, in chips.
MAX_FLEET_CHIPS = 2_000_000


class FleetSize(BaseModel):
    """The fleet of one accelerator that meets one target."""

    model_config = ConfigDict(frozen=True)

    accelerator: str
    target: str
    kind: str
    required_tokens_per_s: float
    chips: int
    chips_p90_perf: int  # chips needed if the chip performs at its P90 (fewer)
    chips_p10_perf: int  # chips needed if it performs at its P10 (more)
    servers: int
    unit_chips: int  # sizing granularity: whole servers and scale-up domains
    delivered_tokens_per_s: float
    tokens_per_s_per_chip: float
    effective_pflops: float  # model FLOP/s the fleet delivers, in PFLOP/s
    perf_sigma_log: float  # log-spread of the per-chip throughput prediction
    detail: dict[str, float | int | str]


def sizing_unit(accelerator: Accelerator) -> int:
    """Chips per sizing step: whole servers, and whole scale-up domains where larger."""
    server = accelerator.chips_per_server
    domain = int(accelerator.spec("scaleup_domain") or server)
    return math.lcm(server, domain) if domain <= 64 else server


def _training_rate(
    target: TrainingTarget, catalog: Catalog, accelerator: Accelerator, chips: int
) -> tuple[float, float, float, float]:
    """(tokens/s, p10, p90, model FLOP/s) of ``chips`` chips on ``target``, or raise."""
    sequences = chips * max(1, math.ceil(1024 / chips))  # one or more sequences per chip per step
    pred = predict_training(
        catalog.model(target.model),
        accelerator,
        chips,
        seq_len=target.seq_len,
        global_batch_tokens=float(sequences * target.seq_len),
        precision=target.precision,
        top_k=1,
    )
    flops = pred.model_tflops_per_chip * 1e12 * chips
    return pred.tokens_per_s, pred.interval.p10, pred.interval.p90, flops


def _size_training(
    target: TrainingTarget, catalog: Catalog, accelerator: Accelerator, rate: float
) -> FleetSize:
    unit = sizing_unit(accelerator)

    def attempt(units: int) -> tuple[float, float, float, float] | None:
        try:
            return _training_rate(target, catalog, accelerator, units * unit)
        except InfeasibleError:
            return None

    # Bracket the smallest size that meets the rate, starting from linear scaling of a probe,
    # then bisect: throughput grows with chips, minus communication overheads.
    probe_units = max(1, 1024 // unit)
    probe = attempt(probe_units)
    if probe is None:
        raise InfeasibleError(
            f"{accelerator.id}: {target.model} has no feasible plan on {probe_units * unit} chips"
        )
    high = max(1, math.ceil(rate / (probe[0] / probe_units)))
    while (result := attempt(high)) is None or result[0] < rate:
        high = high * 2 if result is None else max(high + 1, math.ceil(high * rate / result[0] * 1.05))
        if high * unit > MAX_FLEET_CHIPS:
            raise InfeasibleError(
                f"{accelerator.id}: no fleet up to {MAX_FLEET_CHIPS:,} chips meets {target.label}"
            )
    low = 0  # sizes at or below low are known not to meet the rate (or not tried)
    best = (high, result)
    while high - low > 1:
        middle = (low + high) // 2
        tried = attempt(middle)
        if tried is not None and tried[0] >= rate:
            high, best = middle, (middle, tried)
        else:
            low = middle
    units, (tokens_s, p10, p90, flops) = best
    chips = units * unit
    return FleetSize(
        accelerator=accelerator.id,
        target=target.label,
        kind="training",
        required_tokens_per_s=rate,
        chips=chips,
        chips_p90_perf=_round_up(rate / (p90 / chips), unit),
        chips_p10_perf=_round_up(rate / (p10 / chips), unit),
        servers=chips // accelerator.chips_per_server,
        unit_chips=unit,
        delivered_tokens_per_s=tokens_s,
        tokens_per_s_per_chip=tokens_s / chips,
        effective_pflops=flops / 1e15,
        perf_sigma_log=math.log(p90 / tokens_s) / Z90,
        detail={"days_at_rate": target.tokens / tokens_s / 86_400},
    )


def _round_up(chips: float, unit: int) -> int:
    return max(unit, math.ceil(chips / unit) * unit)


def _size_serving(
    target: ServingTarget, catalog: Catalog, accelerator: Accelerator, rate: float
) -> FleetSize:
    model = catalog.model(target.model)
    unit = sizing_unit(accelerator)
    # The smallest group of whole servers that holds the model, then up to 8x that: bigger
    # groups spread the weights thinner and leave more room for KV cache and batch.
    options: list[tuple[int, InferencePrediction]] = []
    last_error: InfeasibleError | None = None
    group = unit
    while group <= 4096 and (not options or group <= 8 * options[0][0]):
        try:
            pred = predict_inference(
                model,
                accelerator,
                group,
                input_tokens=target.input_tokens,
                output_tokens=target.output_tokens,
                tpot_ms=target.tpot_ms,
                weight_precision=target.weight_precision,
                kv_precision=target.kv_precision,
            )
            options.append((group, pred))
        except InfeasibleError as exc:
            last_error = exc
        group *= 2
    if not options:
        raise InfeasibleError(f"{accelerator.id}: {last_error}")
    group, pred = max(options, key=lambda o: o[1].tokens_per_s_per_chip)
    if target.ttft_ms is not None and pred.ttft_s * 1e3 > target.ttft_ms:
        raise InfeasibleError(
            f"{accelerator.id}: TTFT {pred.ttft_s * 1e3:.0f} ms exceeds the {target.ttft_ms:g} ms target"
        )
    per_chip = pred.tokens_per_s / group
    chips = _round_up(rate / per_chip, group)
    flops_per_token = 2.0 * model.params_active * (1.0 + target.input_tokens / target.output_tokens)
    delivered = per_chip * chips
    return FleetSize(
        accelerator=accelerator.id,
        target=target.label,
        kind="serving",
        required_tokens_per_s=rate,
        chips=chips,
        chips_p90_perf=_round_up(rate / (pred.interval.p90 / group), group),
        chips_p10_perf=_round_up(rate / (pred.interval.p10 / group), group),
        servers=chips // accelerator.chips_per_server,
        unit_chips=group,
        delivered_tokens_per_s=delivered,
        tokens_per_s_per_chip=per_chip,
        effective_pflops=delivered * flops_per_token / 1e15,
        perf_sigma_log=pred.interval.sigma_log,
        detail={
            "instance_chips": pred.tp,
            "tpot_ms": pred.tpot_s * 1e3,
            "ttft_ms": pred.ttft_s * 1e3,
            "batch_per_group": pred.batch,
            "bound": pred.bound,
        },
    )


def size_fleet(
    target: Target, accelerator: Accelerator, catalog: Catalog, rate: float | None = None
) -> FleetSize:
    """The fleet of ``accelerator`` that delivers ``rate`` tokens/s (default: the target's)."""
    chip_of(accelerator)  # fail early, with the missing figures named
    required = target.tokens_per_s if rate is None else rate
    if isinstance(target, TrainingTarget):
        return _size_training(target, catalog, accelerator, required)
    return _size_serving(target, catalog, accelerator, required)


def fleet_rate(target: Target, accelerator: Accelerator, catalog: Catalog, chips: int) -> float:
    """Tokens/s that ``chips`` chips of ``accelerator`` deliver on ``target``."""
    if isinstance(target, TrainingTarget):
        return _training_rate(target, catalog, accelerator, chips)[0]
    # Serving scales by whole model instances: the per-chip rate of the best instance group.
    return _size_serving(target, catalog, accelerator, target.tokens_per_s).tokens_per_s_per_chip * chips


def fleet_of(target: Target, accelerator: Accelerator, catalog: Catalog, chips: int) -> FleetSize:
    """The fleet of exactly ``chips`` chips of ``accelerator`` working on ``target``."""
    chip_of(accelerator)
    if chips < 1:
        raise InfeasibleError(f"a fleet needs at least one chip (got {chips})")
    if isinstance(target, TrainingTarget):
        tokens_s, p10, p90, flops = _training_rate(target, catalog, accelerator, chips)
        detail: dict[str, float | int | str] = {"days_at_rate": target.tokens / tokens_s / 86_400}
        effective = flops / 1e15
    else:
        sized = _size_serving(target, catalog, accelerator, target.tokens_per_s)
        per_chip = sized.tokens_per_s_per_chip
        tokens_s = per_chip * chips
        p10 = tokens_s * sized.chips / sized.chips_p10_perf
        p90 = tokens_s * sized.chips / sized.chips_p90_perf
        effective = sized.effective_pflops * chips / sized.chips
        detail = dict(sized.detail)
    return FleetSize(
        accelerator=accelerator.id,
        target=target.label,
        kind=target.kind,
        required_tokens_per_s=tokens_s,
        chips=chips,
        chips_p90_perf=chips,
        chips_p10_perf=chips,
        servers=math.ceil(chips / accelerator.chips_per_server),
        unit_chips=accelerator.chips_per_server,
        delivered_tokens_per_s=tokens_s,
        tokens_per_s_per_chip=tokens_s / chips,
        effective_pflops=effective,
        perf_sigma_log=math.log(p90 / tokens_s) / Z90,
        detail={**detail, "tokens_per_s_p10": p10, "tokens_per_s_p90": p90},
    )
