"""The accelerator record: identity, specs with provenance, price and export status.

Units are in field names. ``scaleup_gb_s`` is always per direction (NVLink4's "900 GB/s"
is 450 GB/s per direction); ``scaleout_gb_s`` is the typical NIC bandwidth per chip, per
direction. A field is ``None`` where no usable figure exists: suanli never fills a gap with a
guess dressed as a fact.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suanli.catalog.provenance import Count, ExportControl, Figure, Price, check_limits

SoftwareStack = Literal["cuda", "rocm", "cann", "neuware", "xpu", "dtk", "ppu-sdk", "maca", "musa"]

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

    price: Price | None = None
    export_control: ExportControl | None = None
    notes: str | None = None

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
