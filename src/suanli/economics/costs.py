"""Cost inputs: documented defaults with sources, overridable per scenario.

Defaults live in ``economics/data/cost_defaults.yaml``, each with its source, date and
confidence (and a range where sources disagree). :class:`CostInputs` holds the values a
calculation uses; a scenario's ``economics`` section replaces any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from suanli.catalog.provenance import Confidence, SourceDate, latest
from suanli.errors import InputValueError
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


def _entries(value: object) -> object:
    return [value] if isinstance(value, Mapping) else value


def _as_list(value: object) -> list[object]:
    entries = _entries(value)
    return list(entries) if isinstance(entries, list | tuple) else [entries]


#: A cost input as dated entries: YAML gives one mapping or a list, each with its own date.
Dated = Annotated[tuple[Assumption, ...], BeforeValidator(_entries), Field(min_length=1)]


def current(
    entries: tuple[Assumption, ...], as_of: str | None = None, name: str = "cost default"
) -> Assumption:
    """The most recent entry known by ``as_of``; an input error if every entry is later."""
    found = latest(entries, as_of)
    if found is None:
        dates = ", ".join(e.date for e in entries)
        raise InputValueError(
            f"no entry of {name} is dated on or before as_of {as_of} (entries dated {dates})",
            file="suanli/economics/data/cost_defaults.yaml",
            field=name,
        )
    return found


class CostDefaults(BaseModel):
    """The bundled defaults file; each input is a list of dated entries (usually one)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    electricity_cny_per_kwh: Dated
    pue: Dated
    cny_per_usd: Dated
    horizon_years: Dated
    maintenance_share_per_year: Dated
    network_capex_share: Dated
    server_overhead_share: Dated
    host_power_share: Dated
    rack_kw: Dated
    floor_cost_cny_per_rack_year: Dated
    residual_value_share: Dated
    import_duty_share_china: Dated
    import_vat_share_china: Dated
    engineer_month_cny: Dated
    migration_engineer_months: dict[str, Dated]

    def variants(self, name: str) -> dict[str, tuple[Assumption, ...]]:
        """The sourced reference cases behind input ``name`` (``variants:`` in the file), by case."""
        extra = self.model_extra or {}
        cases = (extra.get("variants") or {}).get(name) or {}
        return {
            case: tuple(Assumption.model_validate(e) for e in _as_list(entry))
            for case, entry in cases.items()
        }

    def at(self, name: str, as_of: str | None = None) -> Assumption:
        """Input ``name`` (``migration_engineer_months.cann`` for a stack) as known by ``as_of``."""
        section, _, key = name.partition(".")
        entries = getattr(self, section)
        if key:
            entries = entries[key]
        return current(entries, as_of, name)


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
    domestic_electricity_per_kwh: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description=(
            "Paid where domestic chips run, in ``currency``: the November 2025 provincial subsidies "
            "for data centres on domestic chips. None: ``electricity_per_kwh`` for every chip."
        ),
    )
    pue: float = Field(ge=1.0, le=3.0)
    horizon_years: float = Field(gt=0, le=20)
    maintenance_share_per_year: float = Field(ge=0, le=1)
    network_capex_share: float = Field(ge=0, le=2)
    server_overhead_share: float = Field(ge=0, le=5)
    host_power_share: float = Field(ge=0, le=5)
    rack_kw: float = Field(gt=0, le=1000)
    floor_cost_per_rack_year: float = Field(ge=0, description="In ``currency``.")
    residual_value_share: float = Field(ge=0, le=1)
    import_duty_share: float = Field(ge=0, le=5, description="Buyer-side customs duty on imported hardware.")
    vat_share: float = Field(
        default=0.13, ge=0, le=1, description="VAT on hardware, import VAT and domestic VAT alike."
    )
    vat_recoverable: bool = Field(
        default=True,
        description="A general VAT taxpayer credits input VAT (costing nothing); else it adds to hardware.",
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

    def electricity_for(self, domestic: bool) -> float:
        """Electricity price for a chip of the buyer's own country (``domestic``) or an imported one."""
        if domestic and self.domestic_electricity_per_kwh is not None:
            return self.domestic_electricity_per_kwh
        return self.electricity_per_kwh

    def to_currency(self, amount: float, currency: str) -> float:
        """``amount`` of ``currency`` in this input's currency."""
        if currency == self.currency:
            return amount
        return amount * self.cny_per_usd if currency == "USD" else amount / self.cny_per_usd


#: Site types with a sourced electricity price (cost defaults, ``variants.electricity_cny_per_kwh``).
Site = Literal["average", "east_coast", "western_hub"]

#: The variant a domestic-chip data centre in a western hub pays once the subsidy is known.
SUBSIDY_VARIANT = "western_hub_domestic_chip_subsidy"


def site_electricity(
    site: Site, as_of: str | None = None, *, subsidy: bool = True
) -> tuple[float, float | None]:
    """``(price for every chip, price for domestic chips or None)`` in CNY/kWh at ``site``.

    The November 2025 subsidies (Gansu, Guizhou, Inner Mongolia: bills cut for large data
    centres that run domestic chips; NVIDIA sites not eligible) apply in western hubs only,
    and only in views dated after they were announced.
    """
    d = cost_defaults()
    if site == "average":
        return d.at("electricity_cny_per_kwh", as_of).value, None
    variants = d.variants("electricity_cny_per_kwh")
    base = current(variants[site], as_of, f"variants.electricity_cny_per_kwh.{site}").value
    if site != "western_hub" or not subsidy or SUBSIDY_VARIANT not in variants:
        return base, None
    known = latest(variants[SUBSIDY_VARIANT], as_of)
    return base, None if known is None else known.value


def default_cost_inputs(
    currency: Literal["CNY", "USD"] = "CNY", *, as_of: str | None = None, **overrides: object
) -> CostInputs:
    """Cost inputs from the bundled defaults (China, CNY) known by ``as_of``, with ``overrides`` applied."""
    d = cost_defaults()

    def value(name: str) -> float:
        return d.at(name, as_of).value

    given = overrides.get("cny_per_usd")
    fx = float(given) if isinstance(given, int | float) else value("cny_per_usd")
    to = 1.0 if currency == "CNY" else 1.0 / fx
    values: dict[str, object] = {
        "currency": currency,
        "cny_per_usd": fx,
        "electricity_per_kwh": value("electricity_cny_per_kwh") * to,
        "pue": value("pue"),
        "horizon_years": value("horizon_years"),
        "maintenance_share_per_year": value("maintenance_share_per_year"),
        "network_capex_share": value("network_capex_share"),
        "server_overhead_share": value("server_overhead_share"),
        "host_power_share": value("host_power_share"),
        "rack_kw": value("rack_kw"),
        "floor_cost_per_rack_year": value("floor_cost_cny_per_rack_year") * to,
        "residual_value_share": value("residual_value_share"),
        "import_duty_share": value("import_duty_share_china"),
        "vat_share": value("import_vat_share_china"),
        "engineer_month_cost": value("engineer_month_cny") * to,
        "migration_engineer_months": {
            k: value(f"migration_engineer_months.{k}") for k in d.migration_engineer_months
        },
    }
    values.update(overrides)
    return CostInputs.model_validate(values)
