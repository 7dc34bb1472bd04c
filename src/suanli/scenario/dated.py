"""What a scenario's ``as_of`` leaves out, and what it still uses that is dated later.

A scenario states the date its assumptions could have been set. Dated records (chip and
system prices, cost defaults, the measurements the performance model is calibrated on) are
read as of that date: entries published later are excluded, so that a view "as of
2026-01-20" cannot lean on what was learnt in March. :func:`excluded_after` lists what was
left out, for the report; :func:`used_after` lists figures the scenario still uses although
they are dated later (specs carry no history: a part's figures are the ones published), which
for a well-dated scenario is empty.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from suanli.catalog.accelerator import SPEC_FIELDS
from suanli.catalog.loader import Catalog
from suanli.catalog.provenance import Figure, Price, known_by
from suanli.catalog.system import System
from suanli.economics.costs import Assumption, cost_defaults
from suanli.perf.efficiency import efficiency_file, evidence_as_of, evidence_vintage
from suanli.perf.measurements import measurements
from suanli.scenario.model import Scenario


class DatedEntry(BaseModel):
    """One dated entry, named by what it is and where it lives."""

    model_config = ConfigDict(frozen=True)

    kind: str  # price, cost default, calibration point, spec
    record: str  # accelerator or system id, cost-default path, measurement id
    date: str
    source: str
    reason: str | None = None  # why a scenario uses it although it is dated later (later_evidence)


def _cost_entries() -> Iterator[tuple[str, Assumption]]:
    defaults = cost_defaults()
    for name in type(defaults).model_fields:
        value = getattr(defaults, name)
        if isinstance(value, dict):
            for key, entries in value.items():
                yield from ((f"{name}.{key}", e) for e in entries)
        else:
            yield from ((name, e) for e in value)
    for section in (defaults.model_extra or {}).get("variants") or {}:
        for case, entries in defaults.variants(section).items():
            yield from ((f"variants.{section}.{case}", e) for e in entries)


def _systems(scenario: Scenario, catalog: Catalog) -> list[System]:
    return [s for a in scenario.candidates for s in catalog.systems_of(a)]


def excluded_after(scenario: Scenario, catalog: Catalog) -> list[DatedEntry]:
    """Dated entries the scenario's view leaves out because they are later than its ``as_of``."""
    as_of = scenario.as_of
    priced: list[tuple[str, tuple[Price, ...]]] = [
        (a, catalog.accelerator(a).prices) for a in scenario.candidates
    ] + [(s.id, s.prices) for s in _systems(scenario, catalog)]
    out = [
        DatedEntry(kind="price", record=record, date=p.date, source=p.source)
        for record, prices in priced
        for p in prices
        if not known_by(p.date, as_of)
    ]
    out += [
        DatedEntry(kind="cost default", record=path, date=e.date, source=e.source)
        for path, e in _cost_entries()
        if not known_by(e.date, as_of)
    ]
    with evidence_as_of(as_of):
        vintage = evidence_vintage()
    if vintage != "all":
        stored = efficiency_file()
        used = {i for v in stored.vintages if v.as_of == vintage for i in v.calibrated_on}
        out += [
            DatedEntry(kind="calibration point", record=p.id, date=p.date, source=p.source)
            for p in measurements().points
            if p.id in stored.calibrated_on and p.id not in used
        ]
    return sorted(out, key=lambda e: (e.kind, e.record, e.date))


def used_after(scenario: Scenario, catalog: Catalog) -> list[DatedEntry]:
    """Figures dated after the scenario's ``as_of`` that it uses without saying why."""
    return [e for e in _later_specs(scenario, catalog) if e.record not in scenario.later_evidence]


def acknowledged_after(scenario: Scenario, catalog: Catalog) -> list[DatedEntry]:
    """Figures dated after ``as_of`` that the scenario uses and names in ``later_evidence``, with why."""
    return [
        e.model_copy(update={"reason": scenario.later_evidence[e.record]})
        for e in _later_specs(scenario, catalog)
        if e.record in scenario.later_evidence
    ]


def later_used(scenario: Scenario, catalog: Catalog) -> list[DatedEntry]:
    """Every figure dated after ``as_of`` that the scenario uses: unexplained first, then explained."""
    return [*used_after(scenario, catalog), *acknowledged_after(scenario, catalog)]


def stale_acknowledgements(scenario: Scenario, catalog: Catalog) -> list[str]:
    """Entries of ``later_evidence`` that name no figure dated after ``as_of`` (fixed data, or a typo)."""
    later = {e.record for e in _later_specs(scenario, catalog)}
    return sorted(set(scenario.later_evidence) - later)


def _later_specs(scenario: Scenario, catalog: Catalog) -> list[DatedEntry]:
    """Spec figures of the scenario's candidates and their systems dated after its ``as_of``."""
    found = []
    for a in scenario.candidates:
        accelerator = catalog.accelerator(a)
        for name in SPEC_FIELDS:
            figure: Figure | None = getattr(accelerator, name)
            if figure is not None and not known_by(figure.date, scenario.as_of):
                found.append(
                    DatedEntry(kind="spec", record=f"{a}.{name}", date=figure.date, source=figure.source)
                )
    for system in _systems(scenario, catalog):
        for name in ("chips", "scaleup_domain", "scaleup_gb_s", "scaleout_gb_s", "power_kw"):
            item = getattr(system, name)
            if item is not None and not known_by(item.date, scenario.as_of):
                found.append(
                    DatedEntry(kind="spec", record=f"{system.id}.{name}", date=item.date, source=item.source)
                )
    return found
