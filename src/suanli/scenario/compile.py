"""The bridge from a scenario to the simulator and the optimiser: computed once, reused.

:class:`ScenarioCompiler` turns a scenario (or any variant of it: another plan, other
assumptions) into the simulator's arrays. The expensive part, each candidate's useful work
per chip from the performance model through fleet sizing, is computed once per workload and
accelerator and cached on the compiler, so a run that compiles a scenario hundreds of times
(robustness ensembles, sensitivity, baselines) sizes each fleet once. Prices are converted
and all-in unit costs taken from :mod:`suanli.economics.unit_cost`, the one place money is
converted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from suanli.catalog.loader import Catalog, builtin_catalog
from suanli.economics.fleet import fleet_rate, size_fleet
from suanli.economics.unit_cost import BUYER_COUNTRY, UnitCosts, chip_price, unit_costs
from suanli.economics.workload import Target, Workload, load_workload
from suanli.errors import InfeasibleError, InputValueError
from suanli.perf.efficiency import evidence_as_of, evidence_vintage
from suanli.scenario.model import Scenario
from suanli.supply.model import SupplyModel, compile_supply
from suanli.supply.process import Approval, Supply
from suanli.supply.quarters import quarter_index, quarter_labels


def scenario_workload(scenario: Scenario) -> Workload:
    """The scenario's workload (a preset name or an inline definition)."""
    return load_workload(scenario.workload) if isinstance(scenario.workload, str) else scenario.workload


def _workload_key(scenario: Scenario) -> str:
    workload = scenario.workload
    return workload if isinstance(workload, str) else workload.model_dump_json()


@dataclass(frozen=True)
class Candidates:
    """Per-candidate facts a plan needs besides the supply arrays, in candidate order."""

    accelerators: tuple[str, ...]
    lot_units: NDArray[np.int64]  # chips per lot: the vendor's server or module
    imported: NDArray[np.bool_]  # designed outside the buyer's country
    needs_approval: NDArray[np.bool_]  # supply waits for an approval


class ScenarioCompiler:
    """Compiles scenarios against one catalog, sizing each (workload, accelerator) once."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or builtin_catalog()
        self._views: dict[str, Catalog] = {}
        self._rates: dict[tuple[str, str, str], tuple[float, float]] = {}
        self._targets: dict[tuple[str, str, int, str], float] = {}

    def view(self, scenario: Scenario) -> Catalog:
        """The catalog as known on the scenario's ``as_of`` (prices dated later left out)."""
        if scenario.as_of not in self._views:
            self._views[scenario.as_of] = self.catalog.as_of(scenario.as_of)
        return self._views[scenario.as_of]

    def _target(self, scenario: Scenario) -> Target:
        return scenario_workload(scenario).targets[0]

    def rate(self, scenario: Scenario, accelerator_id: str) -> tuple[float, float]:
        """Useful work per chip (tokens/s on the workload's first target) and its log-spread."""
        with evidence_as_of(scenario.as_of):
            key = (_workload_key(scenario), accelerator_id, evidence_vintage())
            if key not in self._rates:
                self._rates[key] = self._size(scenario, accelerator_id)
        rate, sigma = self._rates[key]
        return rate * scenario.performance_scale.get(accelerator_id, 1.0), sigma

    def _size(self, scenario: Scenario, accelerator_id: str) -> tuple[float, float]:
        try:
            fleet = size_fleet(self._target(scenario), self.catalog.accelerator(accelerator_id), self.catalog)
        except InfeasibleError as exc:
            raise InfeasibleError(
                f"candidate {accelerator_id} cannot run the scenario workload: {exc}"
            ) from exc
        return fleet.tokens_per_s_per_chip, fleet.perf_sigma_log

    def rates(self, scenario: Scenario) -> dict[str, tuple[float, float]]:
        """:meth:`rate` of every candidate."""
        return {a: self.rate(scenario, a) for a in scenario.candidates}

    def target_rate(self, scenario: Scenario) -> float:
        """Useful work the decision requires, in the workload's tokens/s."""
        if scenario.decision is None:
            return 0.0
        target = scenario.decision.target
        if target.equivalent is None:  # ComputeTarget guarantees tokens_per_s then
            return float(target.tokens_per_s or 0.0)
        equivalent = target.equivalent
        with evidence_as_of(scenario.as_of):
            key = (_workload_key(scenario), equivalent.accelerator, equivalent.chips, evidence_vintage())
            if key not in self._targets:
                self._targets[key] = fleet_rate(
                    self._target(scenario),
                    self.catalog.accelerator(equivalent.accelerator),
                    self.catalog,
                    equivalent.chips,
                )
        return self._targets[key]

    def prices(self, scenario: Scenario) -> dict[str, float]:
        """Chip price per candidate in the scenario currency, as known by its ``as_of``.

        A candidate whose catalog prices are all dated later (or that has none) needs a
        ``prices`` entry in the scenario: a plan must never get its chips for free.
        """
        inputs = scenario.cost_inputs()
        prices = {}
        for accelerator_id in scenario.candidates:
            if accelerator_id in scenario.prices:
                prices[accelerator_id] = scenario.prices[accelerator_id]
                continue
            price = chip_price(self.view(scenario).accelerator(accelerator_id), inputs)
            if price is None:
                later = [p.date for p in self.catalog.accelerator(accelerator_id).prices]
                why = f"only prices dated {', '.join(later)}" if later else "no price in the catalog"
                raise InputValueError(
                    f"candidate {accelerator_id} has {why}, none known by as_of {scenario.as_of}: "
                    f"give prices.{accelerator_id} in the scenario (with its source in a comment)",
                    field=f"prices.{accelerator_id}",
                )
            prices[accelerator_id] = price
        return {a: p * scenario.price_scale.get(a, 1.0) for a, p in prices.items()}

    def unit_costs(self, scenario: Scenario) -> dict[str, UnitCosts]:
        """All-in costs beyond the chip price, per candidate."""
        inputs = scenario.cost_inputs()
        prices = self.prices(scenario)
        return {
            a: unit_costs(self.view(scenario).accelerator(a), inputs, prices[a] or None)
            for a in scenario.candidates
        }

    def supplies(self, scenario: Scenario) -> dict[str, Supply]:
        """Each candidate's supply process, with approvals ``from: standoff`` resolved by the game."""
        standing = {a: scenario.supply[a] for a in scenario.candidates}
        gamed = [a for a, s in standing.items() if s.approval.from_ == "standoff"]
        if not gamed:
            return standing
        from suanli.decide.standoff import solve_standoff  # noqa: PLC0415 (the game compiles scenarios)

        # The game needs the scenario's capacity, rates and target, none of which depends on
        # approval; placeholders keep it from resolving itself.
        placeholder = Approval(approved=True, source="placeholder while the standoff is solved")
        plain = scenario.model_copy(
            update={
                "supply": {
                    a: s.model_copy(update={"approval": placeholder}) if a in gamed else s
                    for a, s in scenario.supply.items()
                }
            }
        )
        deal = solve_standoff(plain, compiler=self).hazards_deal
        quarters = quarter_labels(scenario.start_quarter, scenario.horizon_quarters)
        for a in gamed:
            approval = standing[a].approval
            first = max(0, quarter_index(approval.first_quarter or quarters[0], quarters[0]))
            survive, mass = 1.0, {}
            for t, label in enumerate(quarters):
                if t < first:
                    continue
                hazard = min(max(deal[t] if t < len(deal) else deal[-1], 0.0), 1.0)
                mass[label] = (1.0 - approval.never_share) * survive * hazard
                survive *= 1.0 - hazard
            resolved = Approval(
                by_quarter=mass,
                source=f"approval standoff (suanli standoff): {approval.source}",
            )
            standing[a] = standing[a].model_copy(update={"approval": resolved})
        return standing

    def candidates(self, scenario: Scenario) -> Candidates:
        """Lot sizes, origin and approval need of each candidate."""
        accelerators = [self.catalog.accelerator(a) for a in scenario.candidates]
        return Candidates(
            accelerators=tuple(scenario.candidates),
            lot_units=np.array([a.chips_per_server for a in accelerators], dtype=np.int64),
            imported=np.array([a.country != BUYER_COUNTRY for a in accelerators]),
            needs_approval=np.array([not scenario.supply[a].approval.approved for a in scenario.candidates]),
        )

    def compile(self, scenario: Scenario) -> SupplyModel:
        """The simulator's arrays for ``scenario`` and its own plan."""
        if not scenario.candidates:
            raise InputValueError("the scenario names no candidates to simulate", field="candidates")
        quarters = quarter_labels(scenario.start_quarter, scenario.horizon_quarters)
        required = self.target_rate(scenario)
        start = (
            0
            if scenario.decision is None
            else quarter_index(scenario.decision.target.from_quarter, quarters[0])
        )
        target = [required if t >= start else 0.0 for t in range(len(quarters))]
        prices = self.prices(scenario)
        return compile_supply(
            self.supplies(scenario),
            quarters,
            orders=scenario.plan,
            prices=prices,
            prepayment={a: scenario.supply[a].price.prepayment_share for a in scenario.candidates},
            rates=self.rates(scenario),
            target=target,
            costs=self.unit_costs(scenario),
            tension_scale=scenario.tension.scale,
        )
