"""Efficiency factors per software stack: the share of each hardware peak real software gets.

The factors live in ``perf/data/efficiency.yaml`` with the source of each value: a
microbenchmark, a documented assumption, or a calibration run on the measurements of the
``calibrate`` split (never on a ``validate`` point). A stack with no entry of its own uses
the ``default`` entry, and its predictions carry the wider uncertainty of an unmeasured stack.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from pydantic import BaseModel, ConfigDict, Field

from suanli.yamlfile import parse_yaml, validate


class StackEfficiency(BaseModel):
    """Sustained shares of peak for one software stack.

    ``gemm`` maps a compute precision to the share of its dense peak that a transformer's
    large matrix multiplies sustain end to end (kernel efficiency, not MFU: communication,
    bubbles and memory-bound work are modelled separately). ``memory`` is the share of peak
    HBM bandwidth streamed by weight and KV-cache reads; ``scaleup``/``scaleout`` the share of
    per-direction link bandwidth a collective achieves as bus bandwidth. ``comm_overlap`` is
    the share of a training step's compute time behind which tensor-, context- and
    expert-parallel communication can hide (comm-GEMM overlap, DualPipe-style scheduling).
    ``collective_latency_us`` is the fixed cost of one collective within a server;
    ``moe_dispatch_latency_us`` that of one expert-parallel dispatch or combine in serving,
    which spans many chips and waits for the slowest expert.
    ``kv_reserved_output_share`` is the share of a request's output length whose KV cache
    the serving scheduler holds for it while it runs: 1 where it reserves the whole
    sequence at admission (TensorRT-LLM's default GUARANTEED_NO_EVICT policy), 0.5 where
    blocks are allocated as tokens are generated (vLLM's PagedAttention), so that a request
    in flight holds its prompt and half its output on average. ``ep_overlap`` is the share
    of a serving step's kernel time behind which expert dispatch and combine hide when the
    step is split into two overlapped micro-batches (DeepSeek's and SGLang's two-batch
    overlap, CloudMatrix-Infer's micro-batch pipeline).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    gemm: dict[str, float]
    memory: float = Field(gt=0, le=1)
    scaleup: float = Field(gt=0, le=1)
    scaleout: float = Field(gt=0, le=1)
    comm_overlap: float = Field(ge=0, le=1)
    collective_latency_us: float = Field(ge=0)
    moe_dispatch_latency_us: float = Field(ge=0)
    decode_overhead_us_per_layer: float = Field(ge=0)
    kv_reserved_output_share: float = Field(default=0.5, ge=0.5, le=1)
    ep_overlap: float = Field(default=0.0, ge=0, le=1)
    #: Fixed time (microseconds) per MoE layer per micro-batch in training, forward and
    #: backward, that does not scale with the tokens: router and permutation kernels, the
    #: device-to-host sync a dropless grouped GEMM needs for its per-expert token counts,
    #: the launches it serialises. Fitted per stack on the calibrate split; the fit lands
    #: near 10 ms, far above what launches and syncs cost (~1 ms), so it also stands for
    #: MoE-layer costs the model does not resolve (see the validation note).
    moe_layer_overhead_us: float = Field(default=1000.0, ge=0)
    source: str

    def gemm_share(self, precision: str) -> float:
        """GEMM efficiency at ``precision`` (weight-only formats compute at 8 or 16 bit)."""
        for key in (precision, "fp8" if precision in {"int4", "fp4"} else "bf16", "bf16"):
            if key in self.gemm:
                return self.gemm[key]
        msg = f"no gemm efficiency for {precision}"
        raise KeyError(msg)


class CalibratedFactors(BaseModel):
    """Factors a calibration run fitted for one stack; they replace the prior's values."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    gemm: dict[str, float] = {}
    memory: float | None = Field(default=None, gt=0, le=1)
    comm_overlap: float | None = Field(default=None, ge=0, le=1)
    moe_dispatch_latency_us: float | None = Field(default=None, ge=0)
    moe_layer_overhead_us: float | None = Field(default=None, ge=0)


class EfficiencyFile(BaseModel):
    """The data file: hand-set priors with sources, and what calibration fitted on top."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    priors: dict[str, StackEfficiency]
    calibrated: dict[str, CalibratedFactors] = {}
    calibrated_on: tuple[str, ...] = ()


class EfficiencyTable(BaseModel):
    """Efficiency factors of every stack with measurements, and the default for the rest."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    stacks: dict[str, StackEfficiency]

    def for_stack(self, stack: str) -> StackEfficiency:
        """The factors of ``stack``, or the ``default`` entry where the stack has none."""
        return self.stacks.get(stack, self.stacks["default"])

    def is_measured(self, stack: str) -> bool:
        """Whether ``stack`` has factors of its own."""
        return stack in self.stacks and stack != "default"


def apply_calibration(
    priors: dict[str, StackEfficiency], calibrated: dict[str, CalibratedFactors]
) -> EfficiencyTable:
    """The priors with calibrated factors laid over them (a stack without a prior starts from ``default``)."""
    stacks = dict(priors)
    for stack, fitted in calibrated.items():
        base = stacks.get(stack, priors["default"])
        update: dict[str, object] = {"gemm": {**base.gemm, **fitted.gemm}}
        for name in ("memory", "comm_overlap", "moe_dispatch_latency_us", "moe_layer_overhead_us"):
            if getattr(fitted, name) is not None:
                update[name] = getattr(fitted, name)
        update["source"] = f"{base.source}; fitted factors calibrated on the calibrate split"
        stacks[stack] = base.model_copy(update=update)
    return EfficiencyTable(stacks=stacks)


@cache
def efficiency_file() -> EfficiencyFile:
    """The bundled efficiency data file (read once)."""
    entry = files("suanli.perf").joinpath("data", "efficiency.yaml")
    doc = parse_yaml(entry.read_text(encoding="utf-8"), "suanli/perf/data/efficiency.yaml")
    return validate(EfficiencyFile, doc, doc.data)


@cache
def efficiency_table() -> EfficiencyTable:
    """The efficiency factors in force: priors plus the stored calibration."""
    data = efficiency_file()
    return apply_calibration(data.priors, data.calibrated)
