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
    optionally capped in total (a per-buyer licence cap).
price and duty
    a drift per quarter and a log-normal price level whose spread grows as
    ``sigma_per_quarter * sqrt(quarters)``, and discrete duty shocks (probability per
    quarter, size in share of price), buyer side.
tension
    the loading of this accelerator's hazards on a per-path "trade tension" factor shared by
    all accelerators: positive tension raises revocation and lowers approval together.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suanli.supply.quarters import parse_quarter


class Sourced(BaseModel):
    """Where an assumption comes from: a source, or the reason it is an assumption."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    source: str = Field(min_length=3, description="Document, or 'assumption: <reason>'.")


class Approval(Sourced):
    """When approval arrives. Exactly one of ``approved``, ``hazard`` or ``by_quarter``."""

    approved: bool = False
    hazard_per_quarter: float | None = Field(default=None, ge=0, le=1)
    first_quarter: str | None = None
    never_share: float = Field(default=0.0, ge=0, le=1, description="Probability of never.")
    by_quarter: dict[str, float] | None = Field(default=None, description="Probability mass per quarter.")

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        forms = [self.approved, self.hazard_per_quarter is not None, self.by_quarter is not None]
        if sum(forms) != 1:
            msg = "give exactly one of approved: true, hazard_per_quarter, or by_quarter"
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


class Capacity(Sourced):
    """Units per quarter the vendor can deliver to this buyer."""

    start: str
    base: float = Field(ge=0, le=1e9)
    growth_per_quarter: float = Field(default=0.0, ge=-0.9, le=5)
    sigma: float = Field(default=0.0, ge=0, le=3)
    total_cap: float | None = Field(default=None, ge=0, description="Most units over the horizon.")

    @model_validator(mode="after")
    def _valid_start(self) -> Self:
        parse_quarter(self.start)
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
    """The shared trade-tension factor: a standard normal per path, scaled by each loading."""

    scale: float = Field(default=1.0, ge=0, le=3)
