"""The scenario file: one YAML document that describes a decision.

This first version holds the identity of the scenario, its money settings and the order under
discussion with the consistency checks its sources call for; later sections (workloads,
supply, decision, standoff) extend the same model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from suanli.catalog.provenance import SourceDate
from suanli.economics.costs import CostInputs, default_cost_inputs
from suanli.economics.order import Order


class Source(BaseModel):
    """A document a scenario draws on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    title: str = Field(min_length=3)
    date: SourceDate
    url: str | None = None


class EconomicsSection(BaseModel):
    """Cost inputs a scenario sets; anything left out takes the documented default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: Literal["CNY", "USD"] = "CNY"
    cny_per_usd: float | None = Field(default=None, gt=0.5, lt=50)
    electricity_per_kwh: float | None = Field(default=None, ge=0, le=100)
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
    power_utilisation: float | None = Field(default=None, gt=0, le=1.5)
    load_factor: float | None = Field(default=None, gt=0, le=1)
    engineer_month_cost: float | None = Field(default=None, ge=0)
    migration_engineer_months: dict[str, float] | None = None

    def cost_inputs(self) -> CostInputs:
        """The defaults with this section's values laid over them."""
        overrides = self.model_dump(exclude_none=True, exclude={"currency"})
        return default_cost_inputs(self.currency, **overrides)


class Scenario(BaseModel):
    """A decision scenario."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    title: str = Field(min_length=3)
    as_of: SourceDate = Field(description="The date the assumptions could have been set.")
    order: Order
    economics: EconomicsSection = EconomicsSection()
    sources: tuple[Source, ...] = ()
    notes: str | None = None

    def cost_inputs(self) -> CostInputs:
        """The cost inputs in force for this scenario."""
        return self.economics.cost_inputs()
