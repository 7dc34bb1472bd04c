"""What the performance model needs of a chip: peaks by precision, bandwidths, capacity.

A precision the chip has no figure for is an :class:`~suanli.errors.InfeasibleError`, never a
silent fallback; the one documented exception is weight-only quantisation (``int4``, ``fp4``
weights on a chip without that tensor format), which computes at the 16-bit or 8-bit peak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from suanli.catalog.accelerator import Accelerator
from suanli.errors import InfeasibleError, MissingDataError

Precision = Literal["bf16", "fp8", "int8", "int4", "fp4"]

#: Bytes per element of weights or KV cache stored at each precision.
BYTES: dict[str, float] = {"bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "fp4": 0.5}

#: Share of HBM a framework can use for weights, activations and KV cache; the rest goes to
#: the runtime context, workspaces and fragmentation (vLLM's default gpu_memory_utilization
#: is 0.9; Megatron users report a similar 5-10 GB reserve on 80 GB parts).
USABLE_MEMORY_SHARE = 0.9
#: Per-direction bandwidths assumed where the catalog has no figure (see :func:`chip_of`).
FALLBACK_SCALEOUT_GB_S = 25.0
FALLBACK_SCALEUP_GB_S = 32.0


@dataclass(frozen=True)
class Chip:
    """The figures of one accelerator the performance model uses, in base units."""

    id: str
    stack: str
    peak_flops: dict[str, float]
    memory_bytes: float
    memory_bytes_s: float
    scaleup_bytes_s: float
    scaleup_domain: int
    scaleout_bytes_s: float

    @property
    def usable_memory_bytes(self) -> float:
        """HBM available to the model and its state."""
        return self.memory_bytes * USABLE_MEMORY_SHARE

    def compute_peak(self, precision: str) -> float:
        """Dense tensor peak in FLOP/s for matrix maths at ``precision``."""
        if precision in self.peak_flops:
            return self.peak_flops[precision]
        if precision in {"int4", "fp4"}:
            # Weight-only quantisation: weights are dequantised and multiplied at 8/16 bit.
            for fallback in ("fp8", "int8", "bf16"):
                if fallback in self.peak_flops:
                    return self.peak_flops[fallback]
        raise InfeasibleError(f"{self.id} has no {precision} tensor peak in the catalog")

    def link_bytes_s(self, group: int) -> float:
        """Per-direction bandwidth per chip for a collective over ``group`` consecutive chips.

        The scale-up link within one domain, the slower scale-out network beyond it.
        """
        if group <= 1:
            return float("inf")
        return self.scaleup_bytes_s if group <= self.scaleup_domain else self.scaleout_bytes_s


def chip_of(
    accelerator: Accelerator,
    memory_gb_override: float | None = None,
    scaleup_domain_override: int | None = None,
) -> Chip:
    """The performance model's view of ``accelerator``; missing essentials are infeasible.

    The overrides describe a deployment that differs from the catalog's typical one: a
    memory slice of a card, or a supernode whose scale-up domain spans more chips
    (CloudMatrix 384 joins 384 Ascend 910C in one Unified-Bus domain).
    """
    missing = [
        name
        for name, value in (
            ("bf16_dense_tflops or fp16_dense_tflops", accelerator.matmul_16bit_tflops),
            ("memory_gb", accelerator.spec("memory_gb")),
            ("memory_tb_s", accelerator.spec("memory_tb_s")),
        )
        if value is None
    ]
    if missing:
        raise MissingDataError(
            f"{accelerator.id}: the catalog lacks {', '.join(missing)}, which the performance model needs"
        )
    peaks = {"bf16": accelerator.matmul_16bit_tflops}
    for precision, field in (("fp8", "fp8_dense_tflops"), ("int8", "int8_dense_tops")):
        value = accelerator.spec(field)
        if value is not None:
            peaks[precision] = value
    memory_gb = memory_gb_override or accelerator.spec("memory_gb")
    scaleup = accelerator.spec("scaleup_gb_s")
    scaleout = accelerator.spec("scaleout_gb_s")
    # Assumptions where the catalog is silent: a 200 Gb/s NIC per chip (25 GB/s per
    # direction), the common RoCE/IB port of domestic 8-card servers, and PCIe 4.0 x16
    # (32 GB/s per direction) between chips of one server without a stated scale-up link.
    scaleout_gb_s = FALLBACK_SCALEOUT_GB_S if scaleout is None else scaleout
    return Chip(
        id=accelerator.id,
        stack=accelerator.software_stack,
        peak_flops={k: v * 1e12 for k, v in peaks.items() if v is not None},
        memory_bytes=float(memory_gb or 0) * 1e9,
        memory_bytes_s=float(accelerator.spec("memory_tb_s") or 0) * 1e12,
        scaleup_bytes_s=(FALLBACK_SCALEUP_GB_S if scaleup is None else scaleup) * 1e9,
        scaleup_domain=scaleup_domain_override
        or int(accelerator.spec("scaleup_domain") or accelerator.chips_per_server),
        scaleout_bytes_s=scaleout_gb_s * 1e9,
    )
