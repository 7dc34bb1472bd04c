"""The scenario file: one YAML document that describes a decision.

Sections: identity and horizon (``as_of``, ``start_quarter``, ``horizon_quarters``), the
``order`` under discussion with its consistency checks, ``economics`` (cost inputs),
``workload`` (what useful compute means), ``candidates`` and their ``supply`` processes,
the order ``plan``, the ``decision`` (budget, target, risk appetite), ``sovereignty``
weights, ``standoff`` parameters, ``uncertainties`` (ranges for robustness and sensitivity),
and ``observations`` made after ``as_of``. A scenario may ``extend`` another: its keys are laid
over the base's (mappings merged; lists, numbers and the sections ``plan``, ``decision.policy``,
``decision.placed`` and ``uncertainties`` replaced whole).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suanli.catalog.provenance import SourceDate
from suanli.economics.costs import CostInputs, Site, default_cost_inputs, site_electricity
from suanli.economics.order import Order
from suanli.economics.workload import Workload
from suanli.errors import InputValueError
from suanli.supply.process import Supply, Tension
from suanli.supply.quarters import parse_quarter, quarter_index
from suanli.supply.run import Observation


def lookup(data: object, path: str) -> object:
    """The value at dotted ``path`` in nested mappings, or ``None`` where there is none."""
    for key in path.split(".") if path else []:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


class Source(BaseModel):
    """A document a scenario draws on."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str = Field(min_length=1)
    title: str = Field(min_length=3)
    date: SourceDate
    url: str | None = None


class EconomicsSection(BaseModel):
    """Cost inputs a scenario sets; anything left out takes the documented default."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    currency: Literal["CNY", "USD"] = "CNY"
    cny_per_usd: float | None = Field(default=None, gt=0.5, lt=50)
    site: Site | None = Field(
        default=None,
        description=(
            "Site type whose sourced electricity price applies (cost defaults); in a western hub "
            "domestic chips pay the subsidised price once the subsidy is known by as_of."
        ),
    )
    domestic_chip_subsidy: bool = Field(
        default=True, description="Whether domestic-chip sites in a western hub get the power subsidy."
    )
    electricity_per_kwh: float | None = Field(default=None, ge=0, le=100)
    domestic_electricity_per_kwh: float | None = Field(default=None, ge=0, le=100)
    pue: float | None = Field(default=None, ge=1.0, le=3.0)
    horizon_years: float | None = Field(default=None, gt=0, le=20)
    maintenance_share_per_year: float | None = Field(default=None, ge=0, le=1)
    network_capex_share: float | None = Field(default=None, ge=0, le=2)
    server_overhead_share: float | None = Field(default=None, ge=0, le=5)
    host_power_share: float | None = Field(default=None, ge=0, le=5)
    rack_kw: float | None = Field(default=None, gt=0, le=1000)
    floor_cost_per_rack_year: float | None = Field(default=None, ge=0)
    residual_value_share: float | None = Field(default=None, ge=0, le=1)
    import_duty_share: float | None = Field(default=None, ge=0, le=5)
    vat_share: float | None = Field(default=None, ge=0, le=1)
    vat_recoverable: bool | None = None
    surcharge_share: dict[str, float] | None = None
    surcharge_pass_through: float | None = Field(default=None, ge=0, le=1)
    power_utilisation: float | None = Field(default=None, gt=0, le=1.5)
    load_factor: float | None = Field(default=None, gt=0, le=1)
    engineer_month_cost: float | None = Field(default=None, ge=0)
    migration_engineer_months: dict[str, float] | None = None

    def cost_inputs(self, as_of: str | None = None) -> CostInputs:
        """The defaults known by ``as_of`` with this section's values laid over them.

        A ``site`` sets both electricity prices from its sourced figures (converted at this
        section's FX); ``electricity_per_kwh`` and ``domestic_electricity_per_kwh`` given
        here replace them.
        """
        overrides = self.model_dump(exclude_none=True, exclude={"currency", "site", "domestic_chip_subsidy"})
        if self.site is not None:
            every, domestic = site_electricity(self.site, as_of, subsidy=self.domestic_chip_subsidy)
            fx = self.cny_per_usd or default_cost_inputs(as_of=as_of).cny_per_usd
            to = 1.0 if self.currency == "CNY" else 1.0 / fx
            overrides.setdefault("electricity_per_kwh", every * to)
            if domestic is not None:
                overrides.setdefault("domestic_electricity_per_kwh", domestic * to)
        return default_cost_inputs(self.currency, as_of=as_of, **overrides)


class Equivalent(BaseModel):
    """A target stated as the useful work of a fleet (e.g. 60,000 H200 on the workload)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    accelerator: str
    chips: int = Field(ge=1, le=10_000_000)


class ComputeTarget(BaseModel):
    """Useful compute required from ``from_quarter`` on: tokens/s, or a fleet equivalent."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    from_quarter: str
    tokens_per_s: float | None = Field(default=None, gt=0)
    equivalent: Equivalent | None = None
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        parse_quarter(self.from_quarter)
        if (self.tokens_per_s is None) == (self.equivalent is None):
            msg = "give exactly one of tokens_per_s and equivalent"
            raise ValueError(msg)
        return self


class RiskAppetite(BaseModel):
    """How sure the decision maker wants to be, and what a shortfall is worth to avoid."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    p_meet_target: float = Field(default=0.8, gt=0, lt=1, description="Required probability of meeting it.")
    p_meet_from: str | None = Field(
        default=None,
        description="First quarter the required probability applies to (default: the target's first).",
    )
    tail: float = Field(
        default=0.05, gt=0, lt=0.5, description="Tail share for capacity at risk and CVaR of shortfall."
    )
    aversion: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Weight of the CVaR of shortfall in the objective: scenario currency per quarter in which "
            "the whole target is missing."
        ),
    )
    source: str = Field(default="assumption: no stated risk appetite", min_length=3)

    @model_validator(mode="after")
    def _valid_quarter(self) -> Self:
        if self.p_meet_from is not None:
            parse_quarter(self.p_meet_from)
        return self


PolicyKind = Literal[
    "cap_units", "max_foreign_share", "min_domestic_share", "no_prepayment_before_approval", "bundling_ratio"
]


class Policy(BaseModel):
    """A rule the plan must obey, dated and sourced.

    ``cap_units``: at most ``units`` of ``accelerators`` ordered over the horizon (a per-buyer
    licence cap); ``max_foreign_share`` / ``min_domestic_share``: the imported / domestic share
    of units ordered by each quarter; ``no_prepayment_before_approval``: no order of an import
    that needs approval before it is known to be approved; ``bundling_ratio``: at least
    ``ratio`` domestic units ordered per imported unit, by each quarter.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1)
    kind: PolicyKind
    accelerators: tuple[str, ...] = Field(default=(), description="cap_units: the parts it caps.")
    units: float | None = Field(default=None, ge=0)
    share: float | None = Field(default=None, ge=0, le=1)
    ratio: float | None = Field(default=None, ge=0, le=100)
    date: SourceDate = Field(description="When the rule took effect or was reported.")
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _parameters(self) -> Self:
        needs = {
            "cap_units": "units",
            "max_foreign_share": "share",
            "min_domestic_share": "share",
            "bundling_ratio": "ratio",
        }.get(self.kind)
        if needs is not None and getattr(self, needs) is None:
            msg = f"policy {self.name!r} of kind {self.kind} needs {needs!r}"
            raise ValueError(msg)
        if self.kind == "cap_units" and not self.accelerators:
            msg = f"policy {self.name!r} of kind cap_units needs 'accelerators'"
            raise ValueError(msg)
        return self


class Decision(BaseModel):
    """What the decision maker wants: a compute target within a budget at a risk appetite."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    budget: float | None = Field(
        default=None, gt=0, description="Cap on committed all-in cost at base prices, scenario currency."
    )
    budget_per_quarter: float | None = Field(
        default=None, gt=0, description="Cap on capex committed by orders in any one quarter."
    )
    target: ComputeTarget
    risk: RiskAppetite = RiskAppetite()
    policy: tuple[Policy, ...] = ()
    placed: dict[str, dict[str, float]] | None = Field(
        default=None,
        description=(
            "Orders observed to have been placed in quarters before as_of (default: the plan as "
            "written); a re-plan keeps them fixed."
        ),
    )
    contingent_on: str | None = Field(
        default=None,
        description="Import whose approval a contingent plan waits for (default: the first that needs one).",
    )


class Uncertainty(BaseModel):
    """A range for one assumption, for robustness and sensitivity.

    ``paths`` name scenario numbers by their dotted keys (``supply.h200-sxm.approval.hazard_per_quarter``);
    ``mode: set`` gives them the value, ``mode: scale`` multiplies them by it (nominal 1).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    paths: tuple[str, ...] = Field(min_length=1)
    mode: Literal["set", "scale"] = "set"
    low: float
    high: float
    range_from: Literal["catalog"] | None = Field(
        default=None,
        description=(
            "Take low and high from the catalog: for ``price_scale.ID`` paths, the price range of "
            "accelerator ID known by as_of, relative to its price (the sources' disagreement)."
        ),
    )
    source: str = Field(min_length=3, description="Document, or 'assumption: <reason>'.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low < self.high:
            msg = f"uncertainty {self.name!r} needs low < high (got {self.low} and {self.high})"
            raise ValueError(msg)
        return self


DeploymentMode = Literal["own_dc", "domestic_cloud", "foreign_cloud"]


class SovereigntyOverride(BaseModel):
    """A score set by hand for one candidate and criterion, replacing the register's, with why."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    score: float = Field(ge=0, le=1)
    reason: str = Field(min_length=3)
    modes: tuple[DeploymentMode, ...] = ("own_dc", "domestic_cloud", "foreign_cloud")


class Sovereignty(BaseModel):
    """Weights of sovereignty criteria; scores (0 worst, 1 best) come from the register.

    The licence and sovereignty register (``suanli sovereignty``) derives each candidate's
    score per criterion and deployment mode from dated, sourced items; ``overrides`` replaces
    one with a reason. ``scores`` is the older hand-set form, read as own-data-centre overrides
    whose reason is ``source``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    weights: dict[str, float]
    scores: dict[str, dict[str, float]] = {}
    overrides: dict[str, dict[str, SovereigntyOverride]] = {}
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _scores_in_range(self) -> Self:
        named = [(a, set(s)) for a, s in self.scores.items()] + [
            (a, set(o)) for a, o in self.overrides.items()
        ]
        for accelerator, criteria in named:
            unknown = criteria - set(self.weights)
            if unknown:
                msg = f"scores of {accelerator} name criteria without a weight: {', '.join(sorted(unknown))}"
                raise ValueError(msg)
        for accelerator, scores in self.scores.items():
            if any(not 0 <= v <= 1 for v in scores.values()):
                msg = f"scores of {accelerator} must lie in [0, 1]"
                raise ValueError(msg)
        return self


class Standoff(BaseModel):
    """Parameters of the game between the seller and the buyer's regulator (per quarter)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    seller_inventory_units: float = Field(ge=0)
    seller_holding_cost_per_unit_quarter: float = Field(ge=0, description="Scenario currency.")
    seller_line_cost_per_quarter: float = Field(ge=0, description="Dedicated line, scenario currency.")
    seller_margin_per_unit: float = Field(ge=0, description="Scenario currency.")
    buyer_delay_cost_per_quarter: float = Field(ge=0, description="Scenario currency.")
    buyer_security_cost_share: float = Field(
        ge=0, le=1, description="Of the order value, for the black-box risk."
    )
    source: str = Field(min_length=3)


def catalog_range(uncertainty: dict[str, Any], as_of: str | None) -> dict[str, Any]:
    """``uncertainty`` with ``low``/``high`` from the built-in catalog's price range (see ``range_from``).

    Each path must be ``price_scale.ID``; with several, the widest relative range is used.
    Left as given (validation then names what is missing) where the catalog has no range.
    """
    from suanli.catalog.loader import builtin_catalog  # noqa: PLC0415 (the catalog imports nothing from here)

    catalog = builtin_catalog().as_of(as_of)
    lows, highs = [], []
    for path in uncertainty.get("paths") or ():
        section, _, accelerator = str(path).partition(".")
        if section != "price_scale" or accelerator not in catalog.accelerators:
            name = uncertainty.get("name")
            msg = f"uncertainty {name!r}: range_from catalog needs price_scale.ID paths (got {path})"
            raise ValueError(msg)
        price = catalog.accelerator(accelerator).price
        if price is None:
            msg = (
                f"uncertainty {uncertainty.get('name')!r}: {accelerator} has no price known by as_of {as_of}"
            )
            raise ValueError(msg)
        low, high = (price.low or price.amount) / price.amount, (price.high or price.amount) / price.amount
        if low == high:
            msg = f"uncertainty {uncertainty.get('name')!r}: the catalog price of {accelerator} has no range"
            raise ValueError(msg)
        lows.append(low)
        highs.append(high)
    given = dict(uncertainty)
    given.setdefault("low", min(lows, default=1.0))
    given.setdefault("high", max(highs, default=1.0))
    return given


class Scenario(BaseModel):
    """A decision scenario."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    title: str = Field(min_length=3)
    as_of: SourceDate = Field(description="The date the assumptions could have been set.")
    extends: str | None = Field(default=None, description="Scenario this one updates.")
    start_quarter: str = "2026Q1"
    horizon_quarters: int = Field(default=12, ge=1, le=80)
    order: Order | None = None
    economics: EconomicsSection = EconomicsSection()
    workload: str | Workload = "train-llama3-70b"
    candidates: tuple[str, ...] = ()
    supply: dict[str, Supply] = {}
    tension: Tension = Tension(source="assumption: one shared factor, unit scale")
    plan: dict[str, dict[str, float]] = {}
    prices: dict[str, float] = Field(default={}, description="Per-chip price overrides, scenario currency.")
    decision: Decision | None = None
    sovereignty: Sovereignty | None = None
    standoff: Standoff | None = None
    price_scale: dict[str, float] = Field(
        default={},
        description="Multiplies each candidate's chip price (1 = as the catalog or prices give it).",
    )
    performance_scale: dict[str, float] = Field(
        default={}, description="Multiplies the performance model's useful work per chip, per accelerator."
    )
    uncertainties: tuple[Uncertainty, ...] = ()
    later_evidence: dict[str, str] = Field(
        default={},
        description=(
            "Figures (ACCELERATOR.FIELD or SYSTEM.FIELD) dated after as_of that the scenario uses "
            "anyway, each with the reason (no earlier source exists); the report lists them."
        ),
    )
    observations: tuple[Observation, ...] = ()
    sources: tuple[Source, ...] = ()
    notes: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _catalog_ranges(cls, data: object) -> object:
        if not isinstance(data, dict) or not isinstance(data.get("uncertainties"), list | tuple):
            return data
        as_of = data.get("as_of")
        as_of = as_of.isoformat() if isinstance(as_of, dt.date) else as_of
        resolved = [
            catalog_range(u, as_of if isinstance(as_of, str) else None)
            if isinstance(u, dict) and u.get("range_from") == "catalog"
            else u
            for u in data["uncertainties"]
        ]
        return {**data, "uncertainties": resolved}

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        parse_quarter(self.start_quarter)
        missing = [c for c in self.candidates if c not in self.supply]
        if missing:
            msg = f"candidates without a supply process: {', '.join(missing)}"
            raise ValueError(msg)
        for accelerator, orders in self.plan.items():
            if accelerator not in self.candidates:
                msg = f"plan orders {accelerator!r}, which is not a candidate"
                raise ValueError(msg)
            for label, units in orders.items():
                index = quarter_index(label, self.start_quarter)
                if not 0 <= index < self.horizon_quarters:
                    msg = f"plan quarter {label} of {accelerator} is outside the horizon"
                    raise ValueError(msg)
                if units < 0:
                    msg = f"plan units must be >= 0 (got {units} for {accelerator} in {label})"
                    raise ValueError(msg)
        for observation in self.observations:
            if observation.accelerator not in self.candidates:
                msg = f"observation of {observation.accelerator!r}, which is not a candidate"
                raise ValueError(msg)
        for accelerator, scale in self.price_scale.items():
            if accelerator not in self.candidates or not 0 < scale <= 10:
                msg = f"price_scale of {accelerator!r} needs a candidate and a factor in (0, 10]"
                raise ValueError(msg)
        for accelerator, scale in self.performance_scale.items():
            if accelerator not in self.candidates or not 0 < scale <= 10:
                msg = f"performance_scale of {accelerator!r} needs a candidate and a factor in (0, 10]"
                raise ValueError(msg)
        self._check_decision()
        self._check_uncertainties()
        return self

    def _check_decision(self) -> None:
        if self.decision is None:
            return
        for policy in self.decision.policy:
            if policy.date > self.as_of:
                msg = (
                    f"policy {policy.name!r} is dated {policy.date}, after the scenario's as_of "
                    f"{self.as_of}: it could not have been known"
                )
                raise ValueError(msg)
            unknown = [a for a in policy.accelerators if a not in self.candidates]
            if unknown:
                msg = f"policy {policy.name!r} names non-candidates: {', '.join(unknown)}"
                raise ValueError(msg)
        names = [p.name for p in self.decision.policy]
        if len(set(names)) != len(names):
            msg = "policy names must be unique"
            raise ValueError(msg)
        for accelerator, orders in (self.decision.placed or {}).items():
            if accelerator not in self.candidates:
                msg = f"decision.placed names {accelerator!r}, which is not a candidate"
                raise ValueError(msg)
            for label, units in orders.items():
                if not 0 <= quarter_index(label, self.start_quarter) < self.horizon_quarters or units < 0:
                    msg = (
                        f"decision.placed: {units} units of {accelerator} in {label} "
                        "are outside the horizon or negative"
                    )
                    raise ValueError(msg)
        wait = self.decision.contingent_on
        if wait is not None and wait not in self.candidates:
            msg = f"contingent_on names {wait!r}, which is not a candidate"
            raise ValueError(msg)

    def _check_uncertainties(self) -> None:
        data = self.model_dump(mode="python", exclude={"uncertainties"})
        names = [u.name for u in self.uncertainties]
        if len(set(names)) != len(names):
            msg = "uncertainty names must be unique"
            raise ValueError(msg)
        for uncertainty in self.uncertainties:
            for path in uncertainty.paths:
                value = lookup(data, path)
                if not isinstance(value, int | float) or isinstance(value, bool):
                    msg = f"uncertainty {uncertainty.name!r}: {path} is not a number in this scenario"
                    raise ValueError(msg)

    def with_values(self, values: dict[str, float]) -> Scenario:
        """The scenario with uncertainties set to ``values`` (by name), validated again."""
        data = self.model_dump(mode="python")
        for uncertainty in self.uncertainties:
            if uncertainty.name not in values:
                continue
            value = values[uncertainty.name]
            for path in uncertainty.paths:
                keys = path.split(".")
                owner = lookup(data, ".".join(keys[:-1])) if len(keys) > 1 else data
                if not isinstance(owner, dict):
                    msg = f"uncertainty {uncertainty.name!r}: {path} is not a number in this scenario"
                    raise InputValueError(msg, field="uncertainties")
                owner[keys[-1]] = value if uncertainty.mode == "set" else owner[keys[-1]] * value
        return Scenario.model_validate(data)

    def nominal(self, uncertainty: Uncertainty) -> float:
        """The scenario's own value of ``uncertainty`` (1 for a scale)."""
        if uncertainty.mode == "scale":
            return 1.0
        value = lookup(self.model_dump(mode="python"), uncertainty.paths[0])
        return float(value) if isinstance(value, int | float) else float("nan")

    def cost_inputs(self) -> CostInputs:
        """The cost inputs in force for this scenario, as known by its ``as_of``."""
        return self.economics.cost_inputs(self.as_of)
