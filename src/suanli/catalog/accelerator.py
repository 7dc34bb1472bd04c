"""The accelerator record: identity, specs with provenance, price and export status.

Units are in field names. ``scaleup_gb_s`` is always per direction (NVLink4's "900 GB/s"
is 450 GB/s per direction); ``scaleout_gb_s`` is the typical NIC bandwidth per chip, per
direction. A field is ``None`` where no usable figure exists: suanli never fills a gap with a
guess dressed as a fact.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from suanli.catalog.provenance import (
    Count,
    ExportControl,
    Figure,
    Price,
    Provenance,
    check_limits,
    latest,
    price_entries,
)

SoftwareStack = Literal["cuda", "rocm", "cann", "neuware", "xpu", "dtk", "ppu-sdk", "maca", "musa"]

#: Where a part stands: on sale (``shipping``), presented with figures but not yet on sale
#: (``announced``), on a vendor roadmap with a target date (``roadmap``), or no longer sold
#: to new buyers (``end-of-sale``: export-barred parts that survive as an installed base).
AvailabilityStatus = Literal["shipping", "announced", "roadmap", "end-of-sale"]

#: A period as precise as the source gives it: ``2028``, ``2028-Q4``, ``2026-03`` or ``2026-03-21``.
PERIOD_PATTERN = r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2])(-\d{2})?)?$"


def period_start(period: str) -> dt.date:
    """The first day of ``period`` (``2028-Q4`` is 2028-10-01, ``2026`` is 2026-01-01)."""
    year, _, rest = period.partition("-")
    if not rest:
        return dt.date(int(year), 1, 1)
    if rest.startswith("Q"):
        return dt.date(int(year), 3 * int(rest[1]) - 2, 1)
    month, _, day = rest.partition("-")
    return dt.date(int(year), int(month), int(day) if day else 1)


class Availability(Provenance):
    """When a part reaches buyers, as a source states it (``date`` is the source's date).

    ``available`` is the period the part first shipped or is due to ship; ``status`` says
    which of the two it is. A roadmap date is the vendor's target, not a delivery.
    """

    status: AvailabilityStatus
    available: str = Field(
        pattern=PERIOD_PATTERN,
        description="First shipment, done or due: YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD.",
    )

    @field_validator("available", mode="before")
    @classmethod
    def _period_as_text(cls, value: object) -> object:
        # YAML reads 2026-03-21 as a date and 2028 as a number; keep the source's precision.
        if isinstance(value, dt.date):
            return value.isoformat()
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _real_period(self) -> Self:
        try:
            period_start(self.available)
        except ValueError:
            msg = f"available {self.available!r} is not a calendar period"
            raise ValueError(msg) from None
        return self

    @property
    def available_from(self) -> dt.date:
        """The first day of the ``available`` period."""
        return period_start(self.available)


#: Upper bounds beyond which a figure is absurd for a single accelerator (about 10x the
#: largest shipping part), caught so that a unit slip (GB/s written as TB/s, W as kW) fails.
SPEC_LIMITS: dict[str, float] = {
    "bf16_dense_tflops": 50_000,
    "fp16_dense_tflops": 50_000,
    "fp8_dense_tflops": 100_000,
    "int8_dense_tops": 100_000,
    "fp32_tflops": 20_000,
    "memory_gb": 5_000,
    "memory_tb_s": 100,
    "scaleup_gb_s": 20_000,
    "scaleup_domain": 100_000,
    "scaleout_gb_s": 2_000,
    "tdp_w": 5_000,
}

SPEC_FIELDS: tuple[str, ...] = tuple(SPEC_LIMITS)


class Accelerator(BaseModel):
    """One accelerator of the catalog.

    Figures are dense peaks (no 2:4 sparsity); Chinese vendors' headline peaks are stored as
    quoted and marked by their confidence.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=64)
    vendor: str = Field(min_length=1)
    name: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="Country of design, ISO 3166 alpha-2.")
    foundry: str | None = None
    process: str | None = None
    year: int = Field(ge=2010, le=2035, description="Year of launch or first volume.")
    memory_type: str | None = None
    software_stack: SoftwareStack
    form_factor: str | None = None
    chips_per_server: int = Field(ge=1, le=64, description="Chips in one server or module.")
    scaleup_link: str | None = Field(default=None, description="NVLink4, HCCS, MLU-Link, ...")
    dies: Count | None = Field(
        default=None,
        description=(
            "Compute dies the software drives as separate devices (ranks); absent = 1. Figures "
            "stay per package; the performance model splits them evenly over the dies."
        ),
    )
    default_system: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9.-]*$",
        description="Id of the system record fleets of this chip are sized in unless told otherwise.",
    )

    bf16_dense_tflops: Figure | None = None
    fp16_dense_tflops: Figure | None = None
    fp8_dense_tflops: Figure | None = None
    int8_dense_tops: Figure | None = None
    fp32_tflops: Figure | None = None
    memory_gb: Figure | None = None
    memory_tb_s: Figure | None = None
    scaleup_gb_s: Figure | None = None
    scaleup_domain: Figure | None = None
    scaleout_gb_s: Figure | None = None
    tdp_w: Figure | None = None

    prices: tuple[Price, ...] = Field(
        default=(),
        description="Dated price entries (YAML key ``price``: one entry or a list); the latest applies.",
    )
    export_control: ExportControl | None = None
    availability: Availability | None = Field(
        default=None,
        description="Shipping, roadmap or end-of-sale status and first-shipment date (absent: unknown).",
    )
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
    def _figures_within_limits(self) -> Self:
        check_limits(self, SPEC_LIMITS)
        return self

    @property
    def die_count(self) -> int:
        """Devices the software sees per package (1 unless the record says otherwise)."""
        return 1 if self.dies is None else self.dies.value

    def spec(self, name: str) -> float | None:
        """The value of spec field ``name``, or ``None`` where unknown."""
        if name not in SPEC_LIMITS:
            msg = f"no spec field {name!r}; known: {', '.join(SPEC_FIELDS)}"
            raise KeyError(msg)
        figure: Figure | None = getattr(self, name)
        return None if figure is None else figure.value

    @property
    def matmul_16bit_tflops(self) -> float | None:
        """Dense 16-bit tensor peak: BF16 where known, else FP16."""
        return self.spec("bf16_dense_tflops") or self.spec("fp16_dense_tflops")
