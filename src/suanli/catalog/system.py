"""The system record: how an accelerator is deployed (server, rack or supernode).

A chip's performance on a model depends on the box it sits in: how many chips share one
scale-up domain, how fast each chip's links run in that box, and how much network each chip
gets beyond it. One :class:`System` states that for one deployable product (an HGX H200
server, a GB200 NVL72 rack, a CloudMatrix 384 supernode), each figure with its provenance
like an accelerator's. Fleets are bought in whole systems.

Bandwidths follow the accelerator convention: ``scaleup_gb_s`` is per chip and per
direction inside the scale-up domain, ``scaleout_gb_s`` per chip and per direction on the
network beyond it. ``power_kw`` and ``price`` are for the whole system.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suanli.catalog.accelerator import Accelerator
from suanli.catalog.provenance import Count, Figure, Price, Provenance, check_limits, latest, price_entries

SystemKind = Literal["server", "rack", "supernode"]

#: Upper bounds beyond which a system figure is absurd (a unit slip: W written as kW).
SYSTEM_LIMITS: dict[str, float] = {
    "scaleup_gb_s": 20_000,
    "scaleout_gb_s": 2_000,
    "power_kw": 100_000,
    "bf16_dense_pflops": 1_000_000,
}


class PublishedMFU(Provenance):
    """Model FLOPs utilisation published for a training run on this kind of system.

    ``low`` and ``high`` are fractions of the dense peak; ``high`` defaults to ``low`` where
    the source gives one figure (or a floor such as "over 50 %").
    """

    run: str = Field(min_length=3, description="Model, size and fleet of the published run.")
    kind: Literal["dense", "moe"]
    low: float = Field(gt=0, le=1)
    high: float | None = Field(default=None, gt=0, le=1)
    chips: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.high is not None and self.high < self.low:
            msg = f"high must be >= low (got {self.low:g} > {self.high:g})"
            raise ValueError(msg)
        return self

    @property
    def range(self) -> tuple[float, float]:
        """``(low, high)``, ``high`` defaulting to ``low``."""
        return (self.low, self.low if self.high is None else self.high)


class System(BaseModel):
    """One deployable system of a catalog accelerator."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=64)
    name: str = Field(min_length=1)
    vendor: str = Field(min_length=1)
    accelerator: str = Field(description="Id of the accelerator the system is built from.")
    kind: SystemKind
    year: int | None = Field(default=None, ge=2010, le=2035)
    chips: Count = Field(description="Accelerators in one system (the unit a fleet is bought in).")
    scaleup_domain: Count = Field(description="Chips that share one scale-up fabric.")
    scaleup_link: str | None = None
    scaleup_gb_s: Figure | None = None
    scaleout_gb_s: Figure | None = None
    power_kw: Figure | None = None
    prices: tuple[Price, ...] = Field(
        default=(),
        description="Dated prices of the whole system (YAML key ``price``: one entry or a list).",
    )
    bf16_dense_pflops: Figure | None = Field(default=None, description="Whole-system dense BF16 peak.")
    published_mfu: tuple[PublishedMFU, ...] = ()
    notes: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _price_entries(cls, data: object) -> object:
        return price_entries(data)

    @property
    def price(self) -> Price | None:
        """The most recent price entry (see :meth:`price_as_of` for a dated view)."""
        return latest(self.prices)

    def price_as_of(self, as_of: str | None) -> Price | None:
        """The most recent price entry known by ``as_of``."""
        return latest(self.prices, as_of)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_limits(self, SYSTEM_LIMITS)
        chips, domain = self.chips.value, self.scaleup_domain.value
        if chips % domain:
            msg = f"scaleup_domain ({domain}) must divide chips ({chips}): a system holds whole domains"
            raise ValueError(msg)
        return self

    @property
    def chips_per_system(self) -> int:
        """Accelerators in one system."""
        return self.chips.value

    @property
    def domain(self) -> int:
        """Chips in one scale-up domain."""
        return self.scaleup_domain.value

    @property
    def power_w_per_chip(self) -> float | None:
        """System input power per chip, hosts, switches and optics included."""
        return None if self.power_kw is None else self.power_kw.value * 1000.0 / self.chips.value


def server_of(accelerator: Accelerator) -> System:
    """The plain server an accelerator without a system record sits in, from its own figures.

    ``chips_per_server`` chips in one server and one scale-up domain of the record's
    ``scaleup_domain`` (else the server); the link figures are the accelerator's, with their
    provenance, and stay absent where the accelerator has none (the performance model then
    names the missing field).
    """
    server = accelerator.chips_per_server
    domain_figure = accelerator.scaleup_domain
    domain = server if domain_figure is None else int(domain_figure.value)
    if domain > server or server % domain:
        domain = server
    basis = f"catalog record {accelerator.id}"
    return System(
        id=f"{accelerator.id}-server",
        name=f"{accelerator.name} server",
        vendor=accelerator.vendor,
        accelerator=accelerator.id,
        kind="server",
        year=accelerator.year,
        chips=Count(
            value=server,
            source=f"{basis}: chips_per_server",
            date=str(accelerator.year),
            confidence="derived",
        ),
        scaleup_domain=Count(
            value=domain, source=f"{basis}: scaleup_domain", date=str(accelerator.year), confidence="derived"
        ),
        scaleup_link=accelerator.scaleup_link,
        scaleup_gb_s=accelerator.scaleup_gb_s,
        scaleout_gb_s=accelerator.scaleout_gb_s,
        notes="derived from the accelerator record: no system record names this accelerator",
    )


def deployed(accelerator: Accelerator, system: System) -> Accelerator:
    """``accelerator`` with the interconnect of ``system``: its domain and per-chip links.

    A figure the system does not give keeps the accelerator's own. The result is what the
    performance model should see for a chip in that system.
    """
    domain = system.scaleup_domain
    update: dict[str, object] = {
        "scaleup_domain": Figure(
            value=float(domain.value),
            source=domain.source,
            date=domain.date,
            confidence=domain.confidence,
            note=f"scale-up domain of {system.id}",
        ),
    }
    if system.scaleup_gb_s is not None:
        update["scaleup_gb_s"] = system.scaleup_gb_s
    if system.scaleout_gb_s is not None:
        update["scaleout_gb_s"] = system.scaleout_gb_s
    if system.scaleup_link is not None:
        update["scaleup_link"] = system.scaleup_link
    return accelerator.model_copy(update=update)
