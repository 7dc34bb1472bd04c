"""All-in cost of one accelerator: what a chip costs beyond its price, per unit and per quarter.

The same rules as the fleet TCO (:mod:`suanli.economics.tco`), stated per chip so that a
procurement plan can be costed unit by unit: servers around the chip and the scale-out
network as shares of the chip price, import duty on imported hardware, the share of a
seller-side surcharge passed to the buyer; power (TDP with host share, PUE, average draw,
electricity price), maintenance and floor space per installed quarter; and a one-off software
migration per stack. Residual value at the end of a horizon is not credited here: a plan is
costed over its own quarters.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanli.catalog.accelerator import Accelerator
from suanli.economics.costs import CostInputs

HOURS_PER_QUARTER = 8766.0 / 4  # 365.25 days a year
#: Country whose customs and tax the buyer-side duty applies to (the flagship's buyers).
BUYER_COUNTRY = "CN"


@dataclass(frozen=True)
class CapexShares:
    """Capex beyond the chip, as shares of the chip price."""

    servers: float
    network: float
    import_duty: float
    surcharge: float
    vat: float = 0.0

    @property
    def total(self) -> float:
        """All capex beyond the chip, as a share of its price."""
        return self.servers + self.network + self.import_duty + self.surcharge + self.vat


def capex_shares(accelerator: Accelerator, inputs: CostInputs) -> CapexShares:
    """Servers, network, duty and passed-on surcharge per unit of chip price."""
    servers = inputs.server_overhead_share
    imported = accelerator.country != BUYER_COUNTRY
    network = (1.0 + servers) * inputs.network_capex_share
    duty = (1.0 + servers) * inputs.import_duty_share if imported else 0.0
    surcharge = inputs.surcharge_share.get(accelerator.id, 0.0) * inputs.surcharge_pass_through
    # Import VAT is levied on customs value plus duty, domestic VAT on the price: the same
    # rate on either side, so it matters only to a buyer who cannot credit it.
    vat = 0.0 if inputs.vat_recoverable else inputs.vat_share * (1.0 + servers + network + duty + surcharge)
    return CapexShares(servers=servers, network=network, import_duty=duty, surcharge=surcharge, vat=vat)


def chip_price(accelerator: Accelerator, inputs: CostInputs) -> float | None:
    """The catalog price in the inputs' currency (the one place a chip price is converted)."""
    if accelerator.price is None:
        return None
    return inputs.to_currency(accelerator.price.amount, accelerator.price.currency)


@dataclass(frozen=True)
class UnitCosts:
    """What one chip costs beyond its price, in the inputs' currency.

    ``capex_share`` is paid at delivery as a share of the chip price; ``opex_per_quarter``
    runs while the chip is installed; ``migration`` is paid once for ``stack``; ``missing``
    names catalog figures the costs needed and did not find (their lines are left at zero
    and reported, never guessed).
    """

    capex_share: float
    opex_per_quarter: float
    migration: float
    stack: str
    missing: tuple[str, ...] = ()


def unit_costs(accelerator: Accelerator, inputs: CostInputs, price: float | None = None) -> UnitCosts:
    """All-in cost of one ``accelerator`` beyond a chip ``price`` (default: the catalog's)."""
    missing = []
    price = chip_price(accelerator, inputs) if price is None else price
    if price is None:
        missing.append("price")
    shares = capex_shares(accelerator, inputs)
    hardware = (price or 0.0) * (1.0 + shares.servers + shares.network)
    maintenance = hardware * inputs.maintenance_share_per_year / 4
    tdp = accelerator.spec("tdp_w")
    power = floor = 0.0
    if tdp is None:
        missing.append("tdp_w")
    else:
        it_kw = tdp * (1.0 + inputs.host_power_share) / 1000.0
        electricity = inputs.electricity_for(accelerator.country == BUYER_COUNTRY)
        power = it_kw * inputs.pue * inputs.power_utilisation * HOURS_PER_QUARTER * electricity
        floor = it_kw / inputs.rack_kw * inputs.floor_cost_per_rack_year / 4
    stack = accelerator.software_stack
    return UnitCosts(
        capex_share=shares.total,
        opex_per_quarter=power + maintenance + floor,
        migration=inputs.migration_engineer_months.get(stack, 0.0) * inputs.engineer_month_cost,
        stack=stack,
        missing=tuple(missing),
    )
