"""Compare accelerators on a workload: fleet, power, cost, and equivalence to a reference.

With a reference fleet (``h200-sxm:80000``) every alternative is sized to deliver the same
useful work as the reference on each target ("how many Ascend 910C replace 80,000 H200 on
this workload?"); the reverse question is the same call with the roles swapped. Without one,
every accelerator is sized to the workload's own targets and compared with the first listed.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from suanli.catalog.loader import Catalog
from suanli.economics.costs import CostInputs
from suanli.economics.fleet import FleetSize, fleet_of, fleet_rate, size_fleet
from suanli.economics.tco import TCO, fleet_power, fleet_tco
from suanli.economics.workload import TrainingTarget, Workload
from suanli.errors import InfeasibleError


class TargetResult(BaseModel):
    """One target's fleet and its cost."""

    model_config = ConfigDict(frozen=True)

    fleet: FleetSize
    cost: TCO
    tco_bounds: list[float | None]  # TCO if performance lands at its P90, then at its P10


class AcceleratorResult(BaseModel):
    """One accelerator on the whole workload (targets summed)."""

    model_config = ConfigDict(frozen=True)

    accelerator: str
    available: bool
    reason: str | None = None
    chips: int | None = None
    chips_range: tuple[int, int] | None = None  # if performance lands at its P90 / P10
    servers: int | None = None
    racks: int | None = None
    it_power_mw: float | None = None
    facility_power_mw: float | None = None
    capex: float | None = None
    tco: float | None = None
    tco_range: tuple[float, float] | None = None  # TCO of the fleets in chips_range
    currency: str
    cost_per_million_tokens: float | None = None
    cost_per_run: float | None = None
    cost_per_pflop_day: float | None = None
    migration: float | None = None
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


def _sum(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _evaluate(
    workload: Workload,
    accelerator_id: str,
    catalog: Catalog,
    inputs: CostInputs,
    *,
    rates: list[float] | None = None,
    chips: int | None = None,
) -> AcceleratorResult:
    accelerator = catalog.accelerator(accelerator_id)
    results = []
    try:
        for i, target in enumerate(workload.targets):
            if chips is not None:
                fleet = fleet_of(target, accelerator, catalog, chips)
            else:
                fleet = size_fleet(target, accelerator, catalog, None if rates is None else rates[i])
            run_days = (
                target.tokens / fleet.delivered_tokens_per_s / 86_400
                if isinstance(target, TrainingTarget)
                else None
            )
            cost = fleet_tco(fleet, accelerator, inputs, run_days)
            bounds = [
                fleet_tco(fleet.model_copy(update={"chips": n}), accelerator, inputs, run_days).tco
                for n in (fleet.chips_p90_perf, fleet.chips_p10_perf)
            ]
            results.append(TargetResult(fleet=fleet, cost=cost, tco_bounds=bounds))
    except InfeasibleError as exc:
        return AcceleratorResult(
            accelerator=accelerator_id, available=False, reason=str(exc), currency=inputs.currency
        )
    powers = [fleet_power(r.fleet, accelerator, inputs) for r in results]
    missing = sorted({m for r in results for m in r.cost.missing})
    kinds = {r.fleet.kind for r in results}
    return AcceleratorResult(
        accelerator=accelerator_id,
        available=True,
        chips=sum(r.fleet.chips for r in results),
        chips_range=(
            sum(r.fleet.chips_p90_perf for r in results),
            sum(r.fleet.chips_p10_perf for r in results),
        ),
        servers=sum(r.fleet.servers for r in results),
        racks=None if any(p is None for p in powers) else sum(p.racks for p in powers if p is not None),
        it_power_mw=_sum([None if p is None else p.it_power_kw / 1000 for p in powers]),
        facility_power_mw=_sum([None if p is None else p.facility_power_kw / 1000 for p in powers]),
        capex=_sum([r.cost.capex for r in results]),
        tco=_sum([r.cost.tco for r in results]),
        tco_range=_range([r.tco_bounds for r in results]),
        currency=inputs.currency,
        cost_per_million_tokens=next(
            (r.cost.cost_per_million_tokens for r in results if r.fleet.kind == "serving"), None
        )
        if kinds == {"serving"}
        else None,
        cost_per_run=next((r.cost.cost_per_run for r in results if r.fleet.kind == "training"), None)
        if kinds == {"training"}
        else None,
        cost_per_pflop_day=_sum([r.cost.cost_per_pflop_day for r in results]) if len(results) == 1 else None,
        migration=results[0].cost.migration,
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
) -> Comparison:
    """Size, power and cost every accelerator on ``workload``, relative to a reference fleet."""
    if not accelerator_ids:
        raise InfeasibleError("no accelerators to compare")
    for accelerator_id in accelerator_ids:
        catalog.accelerator(accelerator_id)  # unknown ids fail before any work
    if reference is not None:
        ref_id, ref_chips = reference
        ref_accelerator = catalog.accelerator(ref_id)
        rates = [fleet_rate(t, ref_accelerator, catalog, ref_chips) for t in workload.targets]
        ref_result = _evaluate(workload, ref_id, catalog, inputs, chips=ref_chips)
    else:
        ref_id = accelerator_ids[0]
        rates = None
        ref_result = _evaluate(workload, ref_id, catalog, inputs)
    results: dict[str, AcceleratorResult] = {}
    for accelerator_id in accelerator_ids:
        if accelerator_id == ref_id and reference is None:
            result = ref_result
        else:
            result = _evaluate(workload, accelerator_id, catalog, inputs, rates=rates)
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
            "chips": ref_result.chips,
            "given": reference is not None,
            "tco": ref_result.tco,
            "it_power_mw": ref_result.it_power_mw,
            "reason": ref_result.reason,
        },
        accelerators=results,
        inputs=inputs,
    )
