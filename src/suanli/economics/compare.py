"""Compare accelerators on a workload: fleet, power, cost, and equivalence to a reference.

With a reference fleet (``h200-sxm:80000``) every alternative is sized to deliver the same
useful work as the reference on each target ("how many Ascend 910C replace 80,000 H200 on
this workload?"); the reverse question is the same call with the roles swapped. Without one,
every accelerator is sized to the workload's own targets and compared with the first listed.

Every fleet is built from a system (``systems`` maps an accelerator id to a system id; the
catalog's default system otherwise), which every result names. On training targets each
result carries the MFU its fleet implies beside the MFU published for that kind of system,
where a publication gives one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from suanli.catalog.loader import Catalog
from suanli.catalog.system import PublishedMFU, System
from suanli.economics.costs import CostInputs
from suanli.economics.fleet import FleetSize, fleet_of, fleet_rate, size_fleet
from suanli.economics.tco import TCO, fleet_power, fleet_tco, serving_utilisation
from suanli.economics.workload import TrainingTarget, Workload
from suanli.errors import InfeasibleError


class TargetResult(BaseModel):
    """One target's fleet and its cost."""

    model_config = ConfigDict(frozen=True)

    fleet: FleetSize
    cost: TCO
    tco_bounds: list[float | None]  # TCO if performance lands at its P90, then at its P10


class MFUReference(BaseModel):
    """A published MFU range for the kind of system a fleet is built from."""

    model_config = ConfigDict(frozen=True)

    low: float
    high: float
    run: str
    system: str  # the system record that carries the publication
    source: str
    confidence: str


class AcceleratorResult(BaseModel):
    """One accelerator on the whole workload (targets summed)."""

    model_config = ConfigDict(frozen=True)

    accelerator: str
    available: bool
    system: str | None = None  # the system record the fleet is built from
    system_chips: int | None = None  # chips per system
    reason: str | None = None
    chips: int | None = None
    chips_range: tuple[int, int] | None = None  # if performance lands at its P90 / P10
    systems: int | None = None  # whole systems bought
    servers: int | None = None
    racks: int | None = None
    it_power_mw: float | None = None
    facility_power_mw: float | None = None
    capex: float | None = None
    tco: float | None = None
    tco_range: tuple[float, float] | None = None  # TCO of the fleets in chips_range
    currency: str
    cost_per_million_tokens: float | None = None  # input + output tokens, at ``utilisation``
    cost_per_million_output_tokens: float | None = None
    utilisation: float | None = None  # serving: share of capacity that does work
    cost_per_run: float | None = None
    cost_per_pflop_day: float | None = None
    migration: float | None = None
    mfu: float | None = None  # training: model FLOPs delivered / (all chips x dense peak)
    mfu_published: MFUReference | None = None
    equivalent_to_reference: float | None = None  # chips per reference chip
    tco_to_reference: float | None = None
    power_to_reference: float | None = None
    missing: list[str] = []
    targets: list[TargetResult] = []


class Comparison(BaseModel):
    """The answer of ``suanli compare``."""

    model_config = ConfigDict(frozen=True)

    workload: str
    currency: str
    reference: dict[str, str | int | float | None]
    accelerators: dict[str, AcceleratorResult]
    inputs: CostInputs
    utilisation: float  # serving utilisation behind every cost per token


def _sum(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def published_mfu(catalog: Catalog, system: System, kind: str) -> MFUReference | None:
    """The published MFU for ``kind`` ("dense"/"moe") training on ``system``'s kind of system.

    The system's own publications first, then those of other systems of the same
    accelerator; the largest run wins. ``None`` where nothing is published.
    """
    candidates: list[tuple[int, int, PublishedMFU, System]] = []
    for rank, owner in enumerate(
        [system, *(s for s in catalog.systems_of(system.accelerator) if s != system)]
    ):
        candidates += [(rank, -(p.chips or 0), p, owner) for p in owner.published_mfu if p.kind == kind]
    if not candidates:
        return None
    _, _, found, owner = min(candidates, key=lambda c: (c[0], c[1]))
    low, high = found.range
    return MFUReference(
        low=low,
        high=high,
        run=found.run,
        system=owner.id,
        source=found.source,
        confidence=found.confidence,
    )


def _evaluate(
    workload: Workload,
    accelerator_id: str,
    catalog: Catalog,
    inputs: CostInputs,
    *,
    system: System,
    utilisation: float,
    rates: list[float] | None = None,
    chips: int | None = None,
) -> AcceleratorResult:
    accelerator = catalog.accelerator(accelerator_id)
    results = []
    named = {"system": system.id, "system_chips": system.chips_per_system}
    try:
        for i, target in enumerate(workload.targets):
            if chips is not None:
                fleet = fleet_of(target, accelerator, catalog, chips, system=system)
            else:
                rate = None if rates is None else rates[i]
                # Matching a reference fleet matches its capacity, which may be several runs.
                fleet = size_fleet(
                    target, accelerator, catalog, rate, system=system, concurrent=rate is not None
                )
            run_days = (
                target.tokens / fleet.delivered_tokens_per_s / 86_400
                if isinstance(target, TrainingTarget)
                else None
            )

            def cost(sized: FleetSize, days: float | None = run_days) -> TCO:
                return fleet_tco(sized, accelerator, inputs, days, system=system, utilisation=utilisation)

            bounds = [
                cost(fleet.model_copy(update={"chips": n})).tco
                for n in (fleet.chips_p90_perf, fleet.chips_p10_perf)
            ]
            results.append(TargetResult(fleet=fleet, cost=cost(fleet), tco_bounds=bounds))
    except InfeasibleError as exc:
        return AcceleratorResult(
            accelerator=accelerator_id, available=False, reason=str(exc), currency=inputs.currency, **named
        )
    powers = [fleet_power(r.fleet, accelerator, inputs, system) for r in results]
    missing = sorted({m for r in results for m in r.cost.missing})
    kinds = {r.fleet.kind for r in results}
    training = [r.fleet for r in results if r.fleet.kind == "training"]
    mfu = training[0].mfu if len(training) == 1 else None
    model_kind = "dense"
    for target in workload.targets:
        if isinstance(target, TrainingTarget) and catalog.model(target.model).moe is not None:
            model_kind = "moe"
    serving = [r.cost for r in results if r.fleet.kind == "serving"]
    return AcceleratorResult(
        accelerator=accelerator_id,
        available=True,
        **named,
        chips=sum(r.fleet.chips for r in results),
        chips_range=(
            sum(r.fleet.chips_p90_perf for r in results),
            sum(r.fleet.chips_p10_perf for r in results),
        ),
        systems=sum(r.fleet.systems or 0 for r in results),
        servers=sum(r.fleet.servers for r in results),
        racks=None if any(p is None for p in powers) else sum(p.racks for p in powers if p is not None),
        it_power_mw=_sum([None if p is None else p.it_power_kw / 1000 for p in powers]),
        facility_power_mw=_sum([None if p is None else p.facility_power_kw / 1000 for p in powers]),
        capex=_sum([r.cost.capex for r in results]),
        tco=_sum([r.cost.tco for r in results]),
        tco_range=_range([r.tco_bounds for r in results]),
        currency=inputs.currency,
        cost_per_million_tokens=serving[0].cost_per_million_tokens if kinds == {"serving"} else None,
        cost_per_million_output_tokens=(
            serving[0].cost_per_million_output_tokens if kinds == {"serving"} else None
        ),
        utilisation=utilisation if serving else None,
        cost_per_run=next((r.cost.cost_per_run for r in results if r.fleet.kind == "training"), None)
        if kinds == {"training"}
        else None,
        cost_per_pflop_day=_sum([r.cost.cost_per_pflop_day for r in results]) if len(results) == 1 else None,
        migration=results[0].cost.migration,
        mfu=mfu,
        mfu_published=published_mfu(catalog, system, model_kind) if training else None,
        missing=missing,
        targets=results,
    )


def _range(bounds: list[list[float | None]]) -> tuple[float, float] | None:
    low, high = _sum([b[0] for b in bounds]), _sum([b[1] for b in bounds])
    return None if low is None or high is None else (low, high)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def compare(
    workload: Workload,
    accelerator_ids: Sequence[str],
    catalog: Catalog,
    inputs: CostInputs,
    reference: tuple[str, int] | None = None,
    *,
    systems: Mapping[str, str] | None = None,
    utilisation: float | None = None,
) -> Comparison:
    """Size, power and cost every accelerator on ``workload``, relative to a reference fleet.

    ``systems`` picks the system each accelerator is deployed in (default: the catalog's
    default system of each); ``utilisation`` is the serving utilisation behind the cost per
    token (default: :func:`~suanli.economics.tco.serving_utilisation`).
    """
    if not accelerator_ids:
        raise InfeasibleError("no accelerators to compare")
    chosen = dict(systems or {})
    deployment: dict[str, System] = {}
    ids = list(accelerator_ids) + ([reference[0]] if reference is not None else [])
    for accelerator_id, system_id in chosen.items():
        catalog.deployment(accelerator_id, system_id)  # unknown or mismatched ids fail first
    for accelerator_id in ids:
        catalog.accelerator(accelerator_id)  # unknown ids fail before any work
        deployment[accelerator_id] = catalog.deployment(accelerator_id, chosen.get(accelerator_id))
    share = serving_utilisation(inputs, utilisation)
    if reference is not None:
        ref_id, ref_chips = reference
        ref_accelerator = catalog.accelerator(ref_id)
        ref_system = deployment[ref_id]
        rates = [
            fleet_rate(t, ref_accelerator, catalog, ref_chips, system=ref_system) for t in workload.targets
        ]
        ref_result = _evaluate(
            workload, ref_id, catalog, inputs, system=ref_system, utilisation=share, chips=ref_chips
        )
    else:
        ref_id = accelerator_ids[0]
        rates = None
        ref_result = _evaluate(
            workload, ref_id, catalog, inputs, system=deployment[ref_id], utilisation=share
        )
    results: dict[str, AcceleratorResult] = {}
    for accelerator_id in accelerator_ids:
        if accelerator_id == ref_id and reference is None:
            result = ref_result
        else:
            result = _evaluate(
                workload,
                accelerator_id,
                catalog,
                inputs,
                system=deployment[accelerator_id],
                utilisation=share,
                rates=rates,
            )
        if result.available and ref_result.available:
            result = result.model_copy(
                update={
                    "equivalent_to_reference": _ratio(result.chips, ref_result.chips),
                    "tco_to_reference": _ratio(result.tco, ref_result.tco),
                    "power_to_reference": _ratio(result.it_power_mw, ref_result.it_power_mw),
                }
            )
        results[accelerator_id] = result
    return Comparison(
        workload=workload.id,
        currency=inputs.currency,
        reference={
            "accelerator": ref_id,
            "system": ref_result.system,
            "chips": ref_result.chips,
            "given": reference is not None,
            "tco": ref_result.tco,
            "it_power_mw": ref_result.it_power_mw,
            "mfu": ref_result.mfu,
            "reason": ref_result.reason,
        },
        accelerators=results,
        inputs=inputs,
        utilisation=share,
    )
