"""Fleet sizing: how many chips of one accelerator, in whole systems, meet a workload target.

Sizes come from the performance model (never from TFLOPS ratios) for the accelerator as
deployed in a system (an HGX server, a CloudMatrix 384 supernode): the system sets the
scale-up domain and the per-chip links the model sees, and fleets are bought in whole
systems. Without a system the accelerator's default system of the catalog stands.

Training honours the target's global batch: a fleet cannot give a data-parallel rank less
than one sequence, so larger fleets must spend chips on model parallelism, whose returns
fall. A fleet whose chip count admits no parallel layout runs its job on the largest layout
that fits (chips left idle are reported and count against the fleet's MFU).

Each size comes with a range: the chips needed if the chip performs at the P90 or the P10 of
its prediction interval, so performance uncertainty flows on into fleet size and cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from suanli.catalog.accelerator import Accelerator
from suanli.catalog.loader import Catalog
from suanli.catalog.system import System, server_of
from suanli.economics.predict import predict
from suanli.economics.workload import ServingTarget, Target, TrainingTarget
from suanli.errors import InfeasibleError
from suanli.perf.hardware import chip_of
from suanli.perf.results import InferencePrediction, TrainingPrediction
from suanli.perf.uncertainty import Z90

#: The largest fleet the sizing search considers, in chips.
MAX_FLEET_CHIPS = 2_000_000
#: A training job on a fleet whose size admits no parallel layout may leave up to half the
#: chips idle before the fleet counts as unusable.
MIN_USED_SHARE = 0.5


class FleetSize(BaseModel):
    """The fleet of one accelerator, in one system, that meets one target."""

    model_config = ConfigDict(frozen=True)

    accelerator: str
    target: str
    kind: str
    required_tokens_per_s: float
    chips: int
    chips_p90_perf: int  # chips needed if the chip performs at its P90 (fewer)
    chips_p10_perf: int  # chips needed if it performs at its P10 (more)
    servers: int
    unit_chips: int  # sizing granularity: whole systems (serving: whole model-instance groups)
    delivered_tokens_per_s: float  # output tokens for serving, trained tokens for training
    tokens_per_s_per_chip: float
    effective_pflops: float  # model FLOP/s the fleet delivers, in PFLOP/s
    perf_sigma_log: float  # log-spread of the per-chip throughput prediction
    detail: dict[str, float | int | str]
    system: str | None = None  # the system record the fleet is built from
    systems: int | None = None  # whole systems bought
    system_chips: int | None = None  # chips per system
    delivered_input_tokens_per_s: float = 0.0  # serving: prompt tokens processed per second
    global_batch_tokens: float | None = None  # training: tokens per optimiser step
    mfu: float | None = None  # training: model FLOPs delivered / (all chips x dense peak)


def sizing_unit(system: System) -> int:
    """Chips per sizing step: one whole system."""
    return system.chips_per_system


def _systems(chips: int, system: System) -> int:
    return math.ceil(chips / system.chips_per_system)


def _layouts(chips: int) -> list[int]:
    """Chip counts one training run on ``chips`` chips may use: all of them, else fewer.

    ``chips`` rounded down to multiples of growing powers of two, never under half: a layout
    (tensor x pipeline x data x context parallel) must divide the chips it runs on, and the
    batch of power-of-two sequences divides only power-of-two data-parallel degrees.
    """
    if chips < 1:
        return []
    counts = [chips]
    step = 2
    while step <= chips:
        used = chips // step * step
        if used < chips * MIN_USED_SHARE:
            break
        if used != counts[-1]:
            counts.append(used)
        step *= 2
    return counts


def _run_sizes(chips: int, unit: int) -> list[int]:
    """Sizes of one run when a fleet of ``chips`` chips runs several at once.

    Power-of-two and three-times-power-of-two multiples of 8 chips and of the system, which
    the layouts of a power-of-two batch divide, plus the fleet's own layouts.
    """
    sizes = set(_layouts(chips))
    for base in {8, 24, unit, 3 * unit}:
        size = base
        while size <= chips:
            sizes.add(size)
            size *= 2
    return sorted(sizes)


@dataclass(frozen=True)
class _Runs:
    """Training runs a fleet executes at once: ``runs`` runs of ``chips_per_run``, and fill-ins."""

    runs: int  # runs of ``chips_per_run`` chips (the main runs)
    chips_per_run: int
    run_tokens_per_s: float  # one main run
    tokens_per_s: float  # all runs together, smaller runs on left-over chips included
    p10: float
    p90: float
    model_flops_s: float
    chips_used: int | None = None  # all runs together; default: runs x chips_per_run

    @property
    def used(self) -> int:
        """Chips that run any training."""
        return self.runs * self.chips_per_run if self.chips_used is None else self.chips_used


@dataclass
class _TrainingRater:
    """Training throughput of a fleet of a given size, memoised across the sizing search."""

    target: TrainingTarget
    catalog: Catalog
    accelerator: Accelerator
    system: System
    _cache: dict[int, tuple[float, float, float, float] | None] = field(default_factory=dict)

    def _predict(self, chips: int) -> tuple[float, float, float, float]:
        pred = predict(self.target, self.system, chips, self.catalog).detail
        assert isinstance(pred, TrainingPrediction)  # a training target gets a training answer
        # A run advances only between failures, restarts and checkpoints: its goodput.
        share = pred.goodput
        flops = pred.model_tflops_per_chip * 1e12 * chips * share
        return (pred.tokens_per_s * share, pred.interval.p10 * share, pred.interval.p90 * share, flops)

    def _run(self, chips: int) -> tuple[float, float, float, float] | None:
        """(tokens/s, p10, p90, model FLOP/s) of one run on exactly ``chips`` chips, or None."""
        if chips not in self._cache:
            try:
                self._cache[chips] = self._predict(chips)
            except InfeasibleError:
                self._cache[chips] = None
        return self._cache[chips]

    def _fill(self, chips: int) -> tuple[int, tuple[float, float, float, float]]:
        """Chips used and summed rates of runs packed greedily, largest first, into ``chips``."""
        used, total = 0, (0.0, 0.0, 0.0, 0.0)
        sizes = _run_sizes(chips, sizing_unit(self.system))
        while sizes:
            size = sizes.pop()
            if size > chips - used or (run := self._run(size)) is None:
                continue
            while size <= chips - used:
                used += size
                total = (total[0] + run[0], total[1] + run[1], total[2] + run[2], total[3] + run[3])
        return used, total

    def rate(self, chips: int, *, concurrent: bool = False) -> _Runs | None:
        """The most a fleet of ``chips`` chips trains, or ``None`` where nothing fits.

        One run on all or most of the chips. With ``concurrent``, runs side by side (a
        fleet's training capacity): as many identical runs as fit, each big enough to meet the
        target's deadline (else the fastest run there is), the size giving the most tokens in
        all; chips left over run smaller, slower runs rather than idle.
        """
        if not concurrent:
            options = [(size, 1, run) for size in _layouts(chips) if (run := self._run(size)) is not None]
            if not options:
                return None
            size, _, run = max(options, key=lambda r: r[2][0])
            return _Runs(1, size, run[0], *run)
        unit = sizing_unit(self.system)
        sized = [(size, run) for size in _run_sizes(chips, unit) if (run := self._run(size)) is not None]
        on_time = [(size, run) for size, run in sized if run[0] >= self.target.tokens_per_s]
        if not on_time and sized:
            on_time = [max(sized, key=lambda s: s[1][0])]
        best: _Runs | None = None
        for size, run in on_time:
            count = chips // size
            rest, extra = self._fill(chips - count * size)
            tokens, p10, p90, flops = (count * x + y for x, y in zip(run, extra, strict=True))
            if best is None or tokens > best.tokens_per_s:
                best = _Runs(count, size, run[0], tokens, p10, p90, flops, chips_used=count * size + rest)
        return best

    def infeasible(self, chips: int) -> InfeasibleError:
        """Why ``chips`` chips cannot train the target at all."""
        try:
            self._predict(chips)
        except InfeasibleError as exc:
            return InfeasibleError(f"{self.accelerator.id} in {self.system.id}: {exc}")
        return InfeasibleError(
            f"{self.accelerator.id} in {self.system.id}: no feasible plan on {chips} chips"
        )


def _training_fleet(rater: _TrainingRater, chips: int, rate: float, *, unit: int, runs: _Runs) -> FleetSize:
    target, system, accelerator = rater.target, rater.system, rater.accelerator
    chip = chip_of(accelerator, system=system)
    peak = chip.compute_peak(target.precision) * chip.dies  # per package, as chips are counted
    tokens_s = runs.tokens_per_s
    return FleetSize(
        accelerator=accelerator.id,
        target=target.label,
        kind="training",
        required_tokens_per_s=rate,
        chips=chips,
        # Scaled from this fleet's per-chip rates, and never on the wrong side of it: the
        # nominal fleet is the smallest that meets the rate, which a slower chip cannot undercut.
        chips_p90_perf=min(chips, _round_up(rate / (runs.p90 / chips), unit)),
        chips_p10_perf=max(chips, _round_up(rate / (runs.p10 / chips), unit)),
        servers=math.ceil(chips / accelerator.chips_per_server),
        unit_chips=unit,
        delivered_tokens_per_s=tokens_s,
        tokens_per_s_per_chip=tokens_s / chips,
        effective_pflops=runs.model_flops_s / 1e15,
        perf_sigma_log=math.log(runs.p90 / tokens_s) / Z90,
        detail={
            "days_at_rate": target.tokens / tokens_s / 86_400,
            "days_per_run": target.tokens / runs.run_tokens_per_s / 86_400,
            "runs_in_parallel": runs.runs,
            "chips_per_run": runs.chips_per_run,
            "idle_chips": chips - runs.used,
            "batch_sequences": target.batch_sequences,
        },
        system=system.id,
        systems=_systems(chips, system),
        system_chips=system.chips_per_system,
        global_batch_tokens=target.global_batch_tokens,
        mfu=runs.model_flops_s / (chips * peak),
    )


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _smooth_sizes(unit: int, limit: int) -> list[int]:
    """Fleet sizes ``unit x 2^a x 3^b x 5^c`` up to ``limit``, ascending.

    One run can only use a chip count its layout divides (tensor and context parallel in
    powers of two, pipeline stages dividing the chips, data parallel dividing the batch), so
    the sizes worth buying for one run have small prime factors; any other size idles chips.
    """
    sizes: set[int] = set()
    two = unit
    while two <= limit:
        three = two
        while three <= limit:
            five = three
            while five <= limit:
                sizes.add(five)
                five *= 5
            three *= 3
        two *= 2
    return sorted(sizes)


def _size_one_run(rater: _TrainingRater, rate: float, unit: int) -> tuple[int, _Runs]:
    """The smallest fleet, in whole systems, whose one run trains at ``rate`` tokens/s."""
    sizes = _smooth_sizes(unit, MAX_FLEET_CHIPS)

    def meets(size: int) -> _Runs | None:
        run = rater.rate(size)
        return run if run is not None and run.runs == 1 and run.chips_per_run == size else None

    # Bracket on a coarse grid (unit x 2^a and 3 x 2^a): throughput grows with chips until
    # the global batch runs out of data parallelism, then stalls or falls.
    coarse = [
        s for s in sizes if _power_of_two(s // unit) or (s // unit % 3 == 0 and _power_of_two(s // unit // 3))
    ]
    low, high = 0, None
    peak: tuple[int, float] = (0, 0.0)
    for size in coarse:
        run = meets(size)
        if run is not None and run.tokens_per_s >= rate:
            high = (size, run)
            break
        if run is not None:
            low = size
            if run.tokens_per_s > peak[1]:
                peak = (size, run.tokens_per_s)
        if peak[0] and size > 16 * peak[0]:
            break
    if high is None:
        target = rater.target
        if not peak[0]:
            raise rater.infeasible(coarse[0])
        raise InfeasibleError(
            f"{rater.accelerator.id} in {rater.system.id}: no fleet trains {target.model} at {rate:,.0f} "
            f"tokens/s; one run peaks near {peak[1]:,.0f} tokens/s on {peak[0]:,} chips, its global "
            f"batch of {target.batch_sequences:,} sequences of {target.seq_len:,} tokens capping data "
            "parallelism"
        )
    # Refine between the bracket's ends on the fine grid; throughput is taken as rising there.
    fine = [s for s in sizes if low < s < high[0]]
    best = high
    lo, hi = 0, len(fine)
    while lo < hi:
        middle = (lo + hi) // 2
        run = meets(fine[middle])
        if run is not None and run.tokens_per_s >= rate:
            hi, best = middle, (fine[middle], run)
        else:
            lo = middle + 1
    return best


def _size_training(
    target: TrainingTarget,
    catalog: Catalog,
    accelerator: Accelerator,
    system: System,
    rate: float,
    *,
    concurrent: bool,
) -> FleetSize:
    unit = sizing_unit(system)
    rater = _TrainingRater(target, catalog, accelerator, system)
    if not concurrent:
        chips, runs = _size_one_run(rater, rate, unit)
        return _training_fleet(rater, chips, rate, unit=unit, runs=runs)

    def attempt(units: int) -> _Runs | None:
        return rater.rate(units * unit, concurrent=True)

    # Several runs side by side: capacity grows about linearly with chips. Bracket the
    # smallest size that meets the rate from linear scaling of a probe, then bisect.
    probe_units = max(1, 1024 // unit)
    probe = attempt(probe_units)
    if probe is None:
        raise rater.infeasible(probe_units * unit)
    high = max(1, math.ceil(rate / (probe.tokens_per_s / probe_units)))
    while (result := attempt(high)) is None or result.tokens_per_s < rate:
        if high * unit > MAX_FLEET_CHIPS:
            raise InfeasibleError(
                f"{accelerator.id} in {system.id}: no fleet up to {MAX_FLEET_CHIPS:,} chips trains "
                f"{target.model} at {rate:,.0f} tokens/s"
            )
        high = (
            high * 2 if result is None else max(high + 1, math.ceil(high * rate / result.tokens_per_s * 1.05))
        )
    low = 0  # sizes at or below low are known not to meet the rate (or not tried)
    best = (high, result)
    while high - low > 1:
        middle = (low + high) // 2
        tried = attempt(middle)
        if tried is not None and tried.tokens_per_s >= rate:
            high, best = middle, (middle, tried)
        else:
            low = middle
    units, runs = best
    return _training_fleet(rater, units * unit, rate, unit=unit, runs=runs)


def _round_up(chips: float, unit: int) -> int:
    return max(unit, math.ceil(chips / unit) * unit)


def _size_serving(
    target: ServingTarget, catalog: Catalog, accelerator: Accelerator, system: System, rate: float
) -> FleetSize:
    model = catalog.model(target.model)
    unit = sizing_unit(system)
    # The smallest group of whole systems that holds the model, then up to 8x that: bigger
    # groups spread the weights thinner and leave more room for KV cache and batch.
    options: list[tuple[int, InferencePrediction]] = []
    last_error: InfeasibleError | None = None
    group = unit
    while group <= max(4096, unit) and (not options or group <= 8 * options[0][0]):
        try:
            pred = predict(target, system, group, catalog).detail
            assert isinstance(pred, InferencePrediction)  # a serving target gets a serving answer
            options.append((group, pred))
        except InfeasibleError as exc:
            last_error = exc
        group *= 2
    if not options:
        raise InfeasibleError(f"{accelerator.id} in {system.id}: {last_error}")

    def fleet_chips(option: tuple[int, InferencePrediction]) -> tuple[int, float]:
        # Fewest chips for the rate in whole systems and instances; then the faster group.
        per_chip = option[1].tokens_per_s / option[0]
        return _round_up(rate / per_chip, math.lcm(unit, option[1].tp)), -per_chip

    group, pred = min(options, key=fleet_chips)
    if target.ttft_ms is not None and pred.ttft_s * 1e3 > target.ttft_ms:
        raise InfeasibleError(
            f"{accelerator.id}: TTFT {pred.ttft_s * 1e3:.0f} ms exceeds the {target.ttft_ms:g} ms target"
        )
    per_chip = pred.tokens_per_s / group
    # Whole systems holding whole model instances; every instance runs at the group's rate.
    step = math.lcm(unit, pred.tp)
    chips = _round_up(rate / per_chip, step)
    flops_per_token = 2.0 * model.params_active * (1.0 + target.input_tokens / target.output_tokens)
    delivered = per_chip * chips
    return FleetSize(
        accelerator=accelerator.id,
        target=target.label,
        kind="serving",
        required_tokens_per_s=rate,
        chips=chips,
        chips_p90_perf=min(chips, _round_up(rate / (pred.interval.p90 / group), step)),
        chips_p10_perf=max(chips, _round_up(rate / (pred.interval.p10 / group), step)),
        servers=math.ceil(chips / accelerator.chips_per_server),
        unit_chips=step,
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
        system=system.id,
        systems=_systems(chips, system),
        system_chips=system.chips_per_system,
        delivered_input_tokens_per_s=delivered * target.input_tokens / target.output_tokens,
    )


def _system_for(accelerator: Accelerator, catalog: Catalog, system: System | None) -> System:
    """``system``, checked to hold ``accelerator``; else the catalog's default for it."""
    if system is not None:
        return system
    if accelerator.id in catalog.accelerators:
        return catalog.default_system(accelerator.id)
    return server_of(accelerator)


def size_fleet(
    target: Target,
    accelerator: Accelerator,
    catalog: Catalog,
    rate: float | None = None,
    *,
    system: System | None = None,
    concurrent: bool = False,
) -> FleetSize:
    """The fleet of ``accelerator`` in ``system`` that delivers ``rate`` tokens/s.

    ``rate`` defaults to the target's; ``system`` to the catalog's default system of the
    accelerator. A training rate is met by one run unless ``concurrent``, where the fleet may
    run several identical runs side by side (matching the training capacity of another
    fleet rather than the speed of one run).
    """
    system = _system_for(accelerator, catalog, system)
    chip_of(accelerator, system=system)  # fail early, with the missing figures named
    required = target.tokens_per_s if rate is None else rate
    if isinstance(target, TrainingTarget):
        return _size_training(target, catalog, accelerator, system, required, concurrent=concurrent)
    return _size_serving(target, catalog, accelerator, system, required)


def fleet_rate(
    target: Target,
    accelerator: Accelerator,
    catalog: Catalog,
    chips: int,
    *,
    system: System | None = None,
) -> float:
    """Tokens/s that ``chips`` chips of ``accelerator`` in ``system`` deliver on ``target``.

    The fleet's capacity: on a training target, as many identical runs side by side as
    deliver the most tokens (one run's global batch caps how many chips it can use well).
    """
    system = _system_for(accelerator, catalog, system)
    if isinstance(target, TrainingTarget):
        rater = _TrainingRater(target, catalog, accelerator, system)
        best = rater.rate(chips, concurrent=True)
        if best is None:
            raise rater.infeasible(chips)
        return best.tokens_per_s
    # Serving scales by whole model instances: the per-chip rate of the best instance group.
    sized = _size_serving(target, catalog, accelerator, system, target.tokens_per_s)
    return sized.tokens_per_s_per_chip * chips


def fleet_of(
    target: Target,
    accelerator: Accelerator,
    catalog: Catalog,
    chips: int,
    *,
    system: System | None = None,
) -> FleetSize:
    """The fleet of exactly ``chips`` chips of ``accelerator`` in ``system`` working on ``target``.

    Its capacity as in :func:`fleet_rate`.
    """
    system = _system_for(accelerator, catalog, system)
    chip_of(accelerator, system=system)
    if chips < 1:
        raise InfeasibleError(f"a fleet needs at least one chip (got {chips})")
    if isinstance(target, TrainingTarget):
        rater = _TrainingRater(target, catalog, accelerator, system)
        best = rater.rate(chips, concurrent=True)
        if best is None:
            raise rater.infeasible(chips)
        fleet = _training_fleet(rater, chips, best.tokens_per_s, unit=system.chips_per_system, runs=best)
        return fleet.model_copy(
            update={
                "chips_p90_perf": chips,
                "chips_p10_perf": chips,
                "detail": {**fleet.detail, "tokens_per_s_p10": best.p10, "tokens_per_s_p90": best.p90},
            }
        )
    sized = _size_serving(target, catalog, accelerator, system, target.tokens_per_s)
    per_chip = sized.tokens_per_s_per_chip
    tokens_s = per_chip * chips
    p10 = tokens_s * sized.chips / sized.chips_p10_perf
    p90 = tokens_s * sized.chips / sized.chips_p90_perf
    return sized.model_copy(
        update={
            "required_tokens_per_s": tokens_s,
            "chips": chips,
            "chips_p90_perf": chips,
            "chips_p10_perf": chips,
            "servers": math.ceil(chips / accelerator.chips_per_server),
            "delivered_tokens_per_s": tokens_s,
            "delivered_input_tokens_per_s": sized.delivered_input_tokens_per_s * chips / sized.chips,
            "effective_pflops": sized.effective_pflops * chips / sized.chips,
            "perf_sigma_log": math.log(p90 / tokens_s) / Z90,
            "systems": _systems(chips, system),
            "detail": {**sized.detail, "tokens_per_s_p10": p10, "tokens_per_s_p90": p90},
        }
    )
