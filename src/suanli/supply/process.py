"""The stochastic processes of supply, one set per accelerator, as scenario data.

Each accelerator's supply is described by documented parameters:

approval
    when import (or export) approval arrives: a per-quarter hazard from a first possible
    quarter, or an explicit probability per quarter; the rest of the mass is "never".
    ``approved: true`` means no approval is needed (domestic chips).
revocation
    once approved, a per-quarter hazard that the licence is revoked: further deliveries
    stop and ``strand_share`` of that quarter's shipment is lost in transit.
capacity
    units the vendor can deliver to this buyer per quarter: ``base`` in ``start``, growing
    by ``growth`` per quarter, times a per-path log-normal factor (spread ``sigma``),
    optionally capped in total (a per-buyer licence cap), and never more than any of its
    ``constraints`` allow.
constraints
    the binding inputs of a part's supply (HBM stacks, foundry wafer starts), each a pool
    shared by every part that names it: a log-normal process per path that loads on the
    trade-tension factor, so that one bad HBM path hits every HBM-fed part at once and
    higher tension (tooling and memory export rules) tightens them together.
price and duty
    a drift per quarter and a log-normal price level whose spread grows as
    ``sigma_per_quarter * sqrt(quarters)``, and discrete duty shocks (probability per
    quarter, size in share of price), buyer side.
tension
    the loading of this accelerator's hazards on a per-path "trade tension" factor shared by
    all accelerators: positive tension raises revocation and lowers approval together.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suanli.supply.quarters import parse_quarter


class Sourced(BaseModel):
    """Where an assumption comes from: a source, or the reason it is an assumption."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    source: str = Field(min_length=3, description="Document, or 'assumption: <reason>'.")


class Approval(Sourced):
    """When approval arrives. Exactly one of ``approved``, ``hazard``, ``by_quarter`` or ``from``.

    ``from: standoff`` takes the per-quarter hazard from the approval standoff
    (:mod:`suanli.decide.standoff`): the import is approved when the war of attrition ends,
    whichever side gives in (a seller who concedes accepts the buyer's terms, which the buyer
    then approves). ``first_quarter`` and ``never_share`` apply to it as to a hazard.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, populate_by_name=True)

    approved: bool = False
    hazard_per_quarter: float | None = Field(default=None, ge=0, le=1)
    from_: Literal["standoff"] | None = Field(
        default=None, alias="from", description="Take the hazard from a model: standoff."
    )
    first_quarter: str | None = None
    never_share: float = Field(default=0.0, ge=0, le=1, description="Probability of never.")
    by_quarter: dict[str, float] | None = Field(default=None, description="Probability mass per quarter.")

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        forms = [
            self.approved,
            self.hazard_per_quarter is not None,
            self.by_quarter is not None,
            self.from_ is not None,
        ]
        if sum(forms) != 1:
            msg = "give exactly one of approved: true, hazard_per_quarter, by_quarter, or from: standoff"
            raise ValueError(msg)
        for label in [self.first_quarter, *(self.by_quarter or {})]:
            if label is not None:
                parse_quarter(label)
        if self.by_quarter is not None and sum(self.by_quarter.values()) > 1 + 1e-9:
            msg = f"by_quarter probabilities must sum to <= 1 (got {sum(self.by_quarter.values()):.3f})"
            raise ValueError(msg)
        return self


class Revocation(Sourced):
    """Per-quarter hazard of losing an approval once granted."""

    hazard_per_quarter: float = Field(default=0.0, ge=0, le=1)
    strand_share: float = Field(default=0.0, ge=0, le=1)


#: Names of the limits that are not constraints: the vendor's own capacity and the licence cap.
RESERVED_LIMITS = ("vendor", "total_cap")


class Constraint(Sourced):
    """One binding input of a part's supply, drawn from a pool shared across parts.

    The pool fields (``input``, ``start``, ``input_per_quarter``, ``growth_per_quarter``,
    ``sigma``, ``tension_loading``) describe one random process per scenario: every part
    that names a constraint under the same key draws on the same pool and must state the
    same values for them (the simulator checks). The part fields say how much of the pool
    goes to this part and how much of the input one good chip needs. Chips the pool allows
    this buyer in quarter ``t`` (mean over paths)::

        input_per_quarter x (1 + growth_per_quarter) ** (t - start)
            x part_share x yield_share / input_per_chip x buyer_share

    with ``buyer_share`` from the part's :class:`Capacity`. On each path the pool's level is
    multiplied by ``exp(-sigma * z - sigma**2 / 2)`` (mean one), where
    ``z = tension_loading * Z + sqrt(1 - tension_loading**2) * eps``, ``Z`` the path's
    trade-tension factor and ``eps`` the pool's own normal: a positive loading means higher
    tension cuts the input.
    """

    #: The fields that belong to the shared pool, and so must agree across parts.
    POOL_FIELDS: ClassVar[tuple[str, ...]] = (
        "input",
        "start",
        "input_per_quarter",
        "growth_per_quarter",
        "sigma",
        "tension_loading",
    )

    input: str = Field(min_length=2, description="What the pool counts, e.g. 'HBM2E stacks'.")
    start: str | None = Field(
        default=None, description="Quarter in which input_per_quarter applies (default: the first)."
    )
    input_per_quarter: float = Field(gt=0, le=1e12, description="National input per quarter.")
    growth_per_quarter: float = Field(default=0.0, ge=-0.9, le=5)
    sigma: float = Field(default=0.0, ge=0, le=3)
    tension_loading: float = Field(
        default=0.0,
        ge=-1,
        le=1,
        description="Correlation with the tension factor (positive: tension cuts it).",
    )
    input_per_chip: float = Field(gt=0, le=1e6, description="Input one chip needs at full yield.")
    yield_share: float = Field(default=1.0, gt=0, le=1, description="Share of chips started that are good.")
    part_share: float = Field(gt=0, le=1, description="Share of the pool that goes to this part.")

    @model_validator(mode="after")
    def _valid_start(self) -> Self:
        if self.start is not None:
            parse_quarter(self.start)
        return self

    def chips_per_quarter(self, buyer_share: float) -> float:
        """Chips per quarter the pool allows this buyer at ``start``, on average over paths."""
        return self.input_per_quarter * self.part_share * self.yield_share / self.input_per_chip * buyer_share


class Capacity(Sourced):
    """Units per quarter the vendor can deliver to this buyer.

    ``buyer_share`` is the share of the vendor's output that goes to this buyer: it turns the
    national inputs of ``constraints`` into this buyer's chips, and the buyer's ``base`` back
    into a national volume that a reader can hold against published plans.
    """

    start: str
    base: float = Field(ge=0, le=1e9)
    growth_per_quarter: float = Field(default=0.0, ge=-0.9, le=5)
    sigma: float = Field(default=0.0, ge=0, le=3)
    total_cap: float | None = Field(default=None, ge=0, description="Most units over the horizon.")
    buyer_share: float | None = Field(
        default=None, gt=0, le=1, description="Share of the vendor's national output going to this buyer."
    )
    constraints: dict[str, Constraint] = Field(
        default_factory=dict, description="Binding inputs by pool name (parts naming a pool share it)."
    )

    @model_validator(mode="after")
    def _valid_start(self) -> Self:
        parse_quarter(self.start)
        for name in self.constraints:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name) or name in RESERVED_LIMITS:
                msg = (
                    f"constraint name {name!r} must be letters, digits, '_' or '-' and not one of "
                    f"{', '.join(RESERVED_LIMITS)}"
                )
                raise ValueError(msg)
        if self.constraints and self.buyer_share is None:
            msg = "constraints need buyer_share: the share of the national input that reaches this buyer"
            raise ValueError(msg)
        return self


class PriceProcess(Sourced):
    """Price drift and buyer-side duty shocks."""

    drift_per_quarter: float = Field(default=0.0, ge=-0.5, le=0.5)
    sigma_per_quarter: float = Field(default=0.0, ge=0, le=1)
    duty_share: float = Field(default=0.0, ge=0, le=5)
    duty_shock_probability: float = Field(default=0.0, ge=0, le=1)
    duty_shock_size: float = Field(default=0.0, ge=-1, le=5)
    prepayment_share: float = Field(
        default=0.0, ge=0, le=1, description="Paid at order, lost if never delivered."
    )


class Supply(BaseModel):
    """Everything uncertain about getting one accelerator."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    approval: Approval
    revocation: Revocation = Revocation(source="assumption: no revocation risk stated")
    capacity: Capacity
    lead_time_quarters: int = Field(default=0, ge=0, le=20)
    price: PriceProcess = PriceProcess(source="assumption: constant price, no duty")
    tension_loading: float = Field(
        default=0.0, ge=-1, le=1, description="Correlation with the tension factor."
    )


class Tension(Sourced):
    """The shared trade-tension factor: a standard normal per path, scaled by each loading.

    ``scale`` multiplies every loading on it, the accelerators' and the constraint pools'.
    """

    scale: float = Field(default=1.0, ge=0, le=3)
