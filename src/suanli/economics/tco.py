"""Total cost of ownership of a sized fleet, per year and over the horizon.

Capex: chips (catalog price, converted at the scenario's FX), servers around them, the
scale-out network, import duty on imported hardware, and the share of a seller-side
surcharge passed on to the buyer (none by default: the quoted price is what the buyer
pays). Opex per year: power (IT power at the average draw, times PUE, hours and price),
maintenance (a share of hardware capex) and floor space per rack. Residual value is credited
at the end of the horizon. Software migration is a one-off line for stacks other than CUDA.

Where the fleet's system record gives its input power (a DGX's nameplate, CloudMatrix 384's
559 kW), IT power is that per chip, hosts, switches and optics included; otherwise the chip's
TDP plus the host share.

Unit costs: per million tokens served (input and output tokens both counted) at a stated
serving utilisation, per training run (the fleet's annualised cost over the run), per
effective PFLOP-day.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from suanli.catalog.accelerator import Accelerator
from suanli.catalog.system import System
from suanli.economics.costs import CostInputs
from suanli.economics.fleet import FleetSize
from suanli.economics.unit_cost import BUYER_COUNTRY, capex_shares, chip_price
from suanli.errors import InputValueError

HOURS_PER_YEAR = 8766.0  # 365.25 days

#: Average share of a serving fleet's capacity that does work, used for cost per token when
#: the cost inputs set no ``load_factor``. Assumption: fleets are sized for peak demand, and
#: LLM serving traffic is diurnal and bursty (Microsoft's Office 365 LLM serving, >10 M
#: requests a day, shows large swings across hours and regions and idle auto-scaled
#: capacity: SageServe, arXiv 2502.14617, 2025); on-premise GPU clusters sized for peak run at
#: 15-30 % average utilisation (sysart.pages.dev, 2025). 0.5 is a middle planning figure for a
#: well-run shared platform, well below the 100 % a throughput benchmark implies; treat
#: 0.3-0.7 as its range.
DEFAULT_SERVING_UTILISATION = 0.5


def serving_utilisation(inputs: CostInputs, utilisation: float | None = None) -> float:
    """The share of serving capacity that does work: given, else the inputs' own, else default.

    The inputs' ``load_factor`` counts only where it was set (a scenario or an override);
    its model default of 1.0 would price tokens as if the fleet never idled.
    """
    if utilisation is not None:
        if not 0 < utilisation <= 1:
            raise InputValueError(f"must be > 0 and <= 1 (got {utilisation:g})", field="utilisation")
        return utilisation
    if "load_factor" in inputs.model_fields_set:
        return inputs.load_factor
    return DEFAULT_SERVING_UTILISATION


class FleetPower(BaseModel):
    """Power and floor space of a fleet."""

    model_config = ConfigDict(frozen=True)

    it_power_kw: float
    facility_power_kw: float
    racks: int


class TCO(BaseModel):
    """What a fleet costs. ``None`` where an input the catalog lacks (price, TDP) is needed."""

    model_config = ConfigDict(frozen=True)

    currency: str
    horizon_years: float
    chip_price: float | None
    capex_chips: float | None
    capex_servers: float | None
    capex_network: float | None
    import_duty: float | None
    surcharge: float | None
    vat: float | None  # only for a buyer who cannot credit VAT
    capex: float | None
    power_per_year: float | None
    maintenance_per_year: float | None
    floor_per_year: float | None
    opex_per_year: float | None
    residual_value: float | None
    migration: float
    tco: float | None
    per_year: list[float] | None
    annualised_cost: float | None
    cost_per_million_tokens: float | None  # input and output tokens, at ``utilisation``
    cost_per_million_output_tokens: float | None
    utilisation: float | None  # serving: share of capacity that does work
    cost_per_run: float | None
    cost_per_pflop_day: float | None
    missing: list[str]


def chip_power_w(accelerator: Accelerator, inputs: CostInputs, system: System | None = None) -> float | None:
    """IT power per chip: the system's input power per chip, else TDP plus the host share."""
    if system is not None and system.power_w_per_chip is not None:
        return system.power_w_per_chip
    tdp = accelerator.spec("tdp_w")
    return None if tdp is None else tdp * (1.0 + inputs.host_power_share)


def fleet_power(
    fleet: FleetSize, accelerator: Accelerator, inputs: CostInputs, system: System | None = None
) -> FleetPower | None:
    """IT and facility power and racks; ``None`` when neither system power nor TDP is known."""
    per_chip = chip_power_w(accelerator, inputs, system)
    if per_chip is None:
        return None
    it_kw = fleet.chips * per_chip / 1000.0
    return FleetPower(
        it_power_kw=it_kw, facility_power_kw=it_kw * inputs.pue, racks=math.ceil(it_kw / inputs.rack_kw)
    )


def fleet_tco(
    fleet: FleetSize,
    accelerator: Accelerator,
    inputs: CostInputs,
    run_days: float | None = None,
    *,
    system: System | None = None,
    utilisation: float | None = None,
) -> TCO:
    """The TCO of ``fleet`` (built from ``system``) under ``inputs``.

    ``run_days`` prices one training run; ``utilisation`` is the share of a serving fleet's
    capacity that does work (default: :func:`serving_utilisation`).
    """
    missing = []
    years = inputs.horizon_years
    price = chip_price(accelerator, inputs)
    if price is None:
        missing.append("price")
    power = fleet_power(fleet, accelerator, inputs, system)
    if power is None:
        missing.append("tdp_w")
    migration = (
        inputs.migration_engineer_months.get(accelerator.software_stack, 0.0) * inputs.engineer_month_cost
    )

    capex_chips = capex_servers = capex_network = duty = surcharge = vat = capex = None
    if price is not None:
        shares = capex_shares(accelerator, inputs)
        capex_chips = price * fleet.chips
        capex_servers = capex_chips * shares.servers
        capex_network = capex_chips * shares.network
        duty = capex_chips * shares.import_duty
        surcharge = capex_chips * shares.surcharge
        vat = capex_chips * shares.vat
        capex = capex_chips + capex_servers + capex_network + duty + surcharge + vat

    power_year = maintenance_year = floor_year = opex_year = None
    if power is not None:
        kwh = power.facility_power_kw * inputs.power_utilisation * HOURS_PER_YEAR
        power_year = kwh * inputs.electricity_for(accelerator.country == BUYER_COUNTRY)
        floor_year = power.racks * inputs.floor_cost_per_rack_year
    if (
        capex is not None
        and capex_network is not None
        and capex_chips is not None
        and capex_servers is not None
    ):
        maintenance_year = (capex_chips + capex_servers + capex_network) * inputs.maintenance_share_per_year
    if power_year is not None and maintenance_year is not None and floor_year is not None:
        opex_year = power_year + maintenance_year + floor_year

    tco = residual = per_year = annualised = per_m_tokens = per_m_output = per_run = per_pflop_day = None
    used = serving_utilisation(inputs, utilisation) if fleet.kind == "serving" else None
    if capex is not None and opex_year is not None:
        residual = capex * inputs.residual_value_share
        tco = capex + migration + opex_year * years - residual
        full_years = max(1, math.ceil(years))
        per_year = [opex_year * min(1.0, years - y) for y in range(full_years)]
        per_year[0] += capex + migration
        per_year[-1] -= residual
        annualised = (capex - residual + migration) / years + opex_year
        seconds = years * HOURS_PER_YEAR * 3600.0
        if used is not None:
            output = fleet.delivered_tokens_per_s * seconds * used
            per_m_output = tco / output * 1e6
            per_m_tokens = tco / (output + fleet.delivered_input_tokens_per_s * seconds * used) * 1e6
        if run_days is not None:
            per_run = annualised * run_days / 365.25
        if fleet.effective_pflops > 0:
            per_pflop_day = annualised / 365.25 / (fleet.effective_pflops * inputs.load_factor)
    return TCO(
        currency=inputs.currency,
        horizon_years=years,
        chip_price=price,
        capex_chips=capex_chips,
        capex_servers=capex_servers,
        capex_network=capex_network,
        import_duty=duty,
        surcharge=surcharge,
        vat=vat,
        capex=capex,
        power_per_year=power_year,
        maintenance_per_year=maintenance_year,
        floor_per_year=floor_year,
        opex_per_year=opex_year,
        residual_value=residual,
        migration=migration,
        tco=tco,
        per_year=per_year,
        annualised_cost=annualised,
        cost_per_million_tokens=per_m_tokens,
        cost_per_million_output_tokens=per_m_output,
        utilisation=used,
        cost_per_run=per_run,
        cost_per_pflop_day=per_pflop_day,
        missing=missing,
    )
