"""What the performance model needs of a chip: peaks by precision, bandwidths, capacity.

A :class:`Chip` is an accelerator as deployed in a system: the peaks and memory come from the
accelerator record, the scale-up domain and the per-chip link bandwidths from the system
record it sits in (:class:`~suanli.catalog.system.System`), else from the accelerator's own
figures. A bandwidth neither gives is a :class:`~suanli.errors.MissingDataError` naming the
field, never an assumed default.

A precision the chip has no figure for is an :class:`~suanli.errors.InfeasibleError`, never a
silent fallback; the one documented exception is weight-only quantisation (``int4``, ``fp4``
weights on a chip without that tensor format), which computes at the 16-bit or 8-bit peak. A
part the catalog gives only 8-bit peaks for (Ascend 950DT, 960, MTT S5000) serves at FP8/INT8 and is refused
for BF16 work with a message that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from suanli.catalog.accelerator import Accelerator
from suanli.catalog.system import System, deployed
from suanli.errors import InfeasibleError, InputValueError, MissingDataError

Precision = Literal["bf16", "fp8", "int8", "int4", "fp4"]

#: Bytes per element of weights or KV cache stored at each precision.
BYTES: dict[str, float] = {"bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "fp4": 0.5}

#: Share of HBM a framework can use for weights, activations and KV cache; the rest goes to
#: the runtime context, workspaces and fragmentation (vLLM's default gpu_memory_utilization
#: is 0.9; Megatron users report a similar 5-10 GB reserve on 80 GB parts).
USABLE_MEMORY_SHARE = 0.9
#: Catalog fields that give each tensor peak, in the order a 16-bit peak is looked up.
PEAK_FIELDS: dict[str, tuple[str, ...]] = {
    "bf16": ("bf16_dense_tflops", "fp16_dense_tflops"),
    "fp8": ("fp8_dense_tflops",),
    "int8": ("int8_dense_tops",),
}


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
    #: Ranks per package: the figures above are per rank (die), the domain counts ranks.
    dies: int = 1

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
        if precision == "bf16":
            have = "/".join(p.upper() for p in sorted(self.peak_flops))
            instead = f" (only {have}); serve it at {have} instead" if have else ""
            raise InfeasibleError(
                f"{self.id} cannot run BF16 (bf16) work: the catalog has no BF16 or FP16 peak for it{instead}"
            )
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
    *,
    system: System | None = None,
) -> Chip:
    """The performance model's view of ``accelerator`` deployed in ``system``.

    Without a ``system`` the accelerator's own interconnect figures stand (its
    ``scaleup_domain``, else one server). The overrides describe a deployment that differs
    from both: a memory slice of a card, or a scale-up domain of another size. Missing
    essentials raise :class:`MissingDataError` naming the catalog fields.
    """
    if scaleup_domain_override is not None and scaleup_domain_override < 1:
        raise InputValueError(f"must be >= 1 (got {scaleup_domain_override})", field="scaleup_domain")
    if memory_gb_override is not None and not memory_gb_override > 0:
        raise InputValueError(f"must be > 0 (got {memory_gb_override})", field="memory_gb")
    if system is not None:
        accelerator = deployed(accelerator, system)
    peaks: dict[str, float] = {}
    for precision, fields in PEAK_FIELDS.items():
        value = next((v for f in fields if (v := accelerator.spec(f)) is not None), None)
        if value is not None:
            peaks[precision] = value * 1e12
    missing = [
        name
        for name, value in (
            (
                "a tensor peak (bf16_dense_tflops, fp16_dense_tflops, fp8_dense_tflops or int8_dense_tops)",
                peaks or None,
            ),
            ("memory_gb", accelerator.spec("memory_gb")),
            ("memory_tb_s", accelerator.spec("memory_tb_s")),
            ("scaleup_gb_s", accelerator.spec("scaleup_gb_s")),
            ("scaleout_gb_s", accelerator.spec("scaleout_gb_s")),
        )
        if value is None
    ]
    if missing:
        where = f" or system {system.id}" if system is not None else ""
        raise MissingDataError(
            f"{accelerator.id}: the catalog{where} lacks {', '.join(missing)}, which the performance "
            "model needs (give it in the accelerator or its system record)"
        )
    memory_gb = memory_gb_override or accelerator.spec("memory_gb") or 0.0
    domain = scaleup_domain_override or int(
        accelerator.spec("scaleup_domain") or accelerator.chips_per_server
    )
    # A multi-die package is that many devices to the software: each rank gets its share of
    # the package's peaks, memory and links, and a domain of N packages holds N x dies ranks.
    dies = accelerator.die_count
    return Chip(
        id=accelerator.id,
        stack=accelerator.software_stack,
        peak_flops={p: v / dies for p, v in peaks.items()},
        memory_bytes=float(memory_gb) * 1e9 / dies,
        memory_bytes_s=float(accelerator.spec("memory_tb_s") or 0) * 1e12 / dies,
        scaleup_bytes_s=float(accelerator.spec("scaleup_gb_s") or 0) * 1e9 / dies,
        scaleup_domain=domain * dies,
        scaleout_bytes_s=float(accelerator.spec("scaleout_gb_s") or 0) * 1e9 / dies,
        dies=dies,
    )
