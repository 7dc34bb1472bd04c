"""Cost inputs: documented defaults with sources, overridable per scenario.

Defaults live in ``economics/data/cost_defaults.yaml``, each with its source, date and
confidence (and a range where sources disagree). :class:`CostInputs` holds the values a
calculation uses; a scenario's ``economics`` section replaces any of them.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from suanli.catalog.provenance import Confidence, SourceDate
from suanli.yamlfile import parse_yaml, validate


class Assumption(BaseModel):
    """A cost input with its range and provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    value: float
    low: float | None = None
    high: float | None = None
    unit: str | None = None
    source: str
    date: SourceDate
    confidence: Confidence
    note: str | None = None


class CostDefaults(BaseModel):
    """The bundled defaults file."""

    model_config = ConfigDict(frozen=True, extra="allow")

    electricity_cny_per_kwh: Assumption
    pue: Assumption
    cny_per_usd: Assumption
    horizon_years: Assumption
    maintenance_share_per_year: Assumption
    network_capex_share: Assumption
    server_overhead_share: Assumption
    host_power_share: Assumption
    rack_kw: Assumption
    floor_cost_cny_per_rack_year: Assumption
    residual_value_share: Assumption
    import_duty_share_china: Assumption
    engineer_month_cny: Assumption
    migration_engineer_months: dict[str, Assumption]


@cache
def cost_defaults() -> CostDefaults:
    """The bundled cost defaults (read once)."""
    entry = files("suanli.economics").joinpath("data", "cost_defaults.yaml")
    doc = parse_yaml(entry.read_text(encoding="utf-8"), "suanli/economics/data/cost_defaults.yaml")
    return validate(CostDefaults, doc, doc.data)


class CostInputs(BaseModel):
    """Every number a TCO calculation uses. Money is in ``currency``; FX converts catalog prices."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    currency: Literal["CNY", "USD"] = "CNY"
    cny_per_usd: float = Field(gt=0.5, lt=50)
    electricity_per_kwh: float = Field(ge=0, le=100, description="In ``currency``.")
    pue: float = Field(ge=1.0, le=3.0)
    horizon_years: float = Field(gt=0, le=20)
    maintenance_share_per_year: float = Field(ge=0, le=1)
    network_capex_share: float = Field(ge=0, le=2)
    server_overhead_share: float = Field(ge=0, le=5)
    host_power_share: float = Field(ge=0, le=5)
    rack_kw: float = Field(gt=0, le=1000)
    floor_cost_per_rack_year: float = Field(ge=0, description="In ``currency``.")
    residual_value_share: float = Field(ge=0, le=1)
    import_duty_share: float = Field(
        ge=0, le=5, description="Buyer-side duty and taxes on imported hardware."
    )
    surcharge_share: dict[str, float] = Field(
        default={}, description="Seller-side surcharge per accelerator id (the 25 % on licensed H200 sales)."
    )
    surcharge_pass_through: float = Field(
        default=0.0, ge=0, le=1, description="Share of the seller's surcharge added to the buyer's price."
    )
    power_utilisation: float = Field(default=0.8, gt=0, le=1.5, description="Average draw as a share of TDP.")
    load_factor: float = Field(
        default=1.0, gt=0, le=1, description="Share of capacity that serves paid work."
    )
    engineer_month_cost: float = Field(ge=0, description="In ``currency``.")
    migration_engineer_months: dict[str, float]

    def to_currency(self, amount: float, currency: str) -> float:
        """``amount`` of ``currency`` in this input's currency."""
        if currency == self.currency:
            return amount
        return amount * self.cny_per_usd if currency == "USD" else amount / self.cny_per_usd


def default_cost_inputs(currency: Literal["CNY", "USD"] = "CNY", **overrides: object) -> CostInputs:
    """Cost inputs from the bundled defaults (China, CNY), with ``overrides`` applied."""
    d = cost_defaults()
    given = overrides.get("cny_per_usd")
    fx = float(given) if isinstance(given, int | float) else d.cny_per_usd.value
    to = 1.0 if currency == "CNY" else 1.0 / fx
    values: dict[str, object] = {
        "currency": currency,
        "cny_per_usd": fx,
        "electricity_per_kwh": d.electricity_cny_per_kwh.value * to,
        "pue": d.pue.value,
        "horizon_years": d.horizon_years.value,
        "maintenance_share_per_year": d.maintenance_share_per_year.value,
        "network_capex_share": d.network_capex_share.value,
        "server_overhead_share": d.server_overhead_share.value,
        "host_power_share": d.host_power_share.value,
        "rack_kw": d.rack_kw.value,
        "floor_cost_per_rack_year": d.floor_cost_cny_per_rack_year.value * to,
        "residual_value_share": d.residual_value_share.value,
        "import_duty_share": d.import_duty_share_china.value,
        "engineer_month_cost": d.engineer_month_cny.value * to,
        "migration_engineer_months": {k: v.value for k, v in d.migration_engineer_months.items()},
    }
    values.update(overrides)
    return CostInputs.model_validate(values)
