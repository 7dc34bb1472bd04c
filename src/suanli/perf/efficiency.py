"""Efficiency factors per software stack: the share of each hardware peak real software gets.

The factors live in ``perf/data/efficiency.yaml`` with the source of each value: a
microbenchmark, a documented assumption, or a calibration run on the measurements of the
``calibrate`` split (never on a ``validate`` point). A stack with no entry of its own uses
the ``default`` entry, and its predictions carry the wider uncertainty of an unmeasured stack.

Measurements are dated evidence. A view "as of" a date (a scenario's ``as_of``, set with
:func:`evidence_as_of`) may use only a calibration fitted on points published by then: the
full calibration when all its points are, else the latest stored *vintage* (a fit on the
points known by its date), else the priors alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib.resources import files

from pydantic import BaseModel, ConfigDict, Field

from suanli.catalog.provenance import SourceDate, known_by
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


class Vintage(BaseModel):
    """A calibration fitted only on the calibrate points published by ``as_of``."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    as_of: SourceDate
    calibrated: dict[str, CalibratedFactors]
    calibrated_on: tuple[str, ...]


class EfficiencyFile(BaseModel):
    """The data file: hand-set priors with sources, and what calibration fitted on top."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    priors: dict[str, StackEfficiency]
    calibrated: dict[str, CalibratedFactors] = {}
    calibrated_on: tuple[str, ...] = ()
    vintages: tuple[Vintage, ...] = ()


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


_EVIDENCE_AS_OF: ContextVar[str | None] = ContextVar("evidence_as_of", default=None)


@contextmanager
def evidence_as_of(date: str | None) -> Iterator[None]:
    """Within the block, predictions use only measurements published by ``date``."""
    token = _EVIDENCE_AS_OF.set(date)
    try:
        yield
    finally:
        _EVIDENCE_AS_OF.reset(token)


def _all_known(ids: tuple[str, ...], as_of: str | None) -> bool:
    from suanli.perf.measurements import measurements  # noqa: PLC0415 (measurements import this module)

    dates = {p.id: p.date for p in measurements().points}
    return all(known_by(dates[i], as_of) for i in ids if i in dates)


@cache
def _vintage_for(as_of: str | None) -> str:
    data = efficiency_file()
    if as_of is None or _all_known(data.calibrated_on, as_of):
        return "all"
    usable = [v for v in data.vintages if known_by(v.as_of, as_of) and _all_known(v.calibrated_on, as_of)]
    return max(usable, key=lambda v: v.as_of).as_of if usable else "priors"


def evidence_vintage() -> str:
    """Which calibration predictions use now: ``all``, a vintage's date, or ``priors``."""
    return _vintage_for(_EVIDENCE_AS_OF.get())


@cache
def _table(vintage: str) -> EfficiencyTable:
    data = efficiency_file()
    if vintage == "all":
        return apply_calibration(data.priors, data.calibrated)
    if vintage == "priors":
        return apply_calibration(data.priors, {})
    (chosen,) = (v for v in data.vintages if v.as_of == vintage)
    return apply_calibration(data.priors, chosen.calibrated)


def efficiency_table() -> EfficiencyTable:
    """The efficiency factors in force: priors plus the calibration the evidence date allows."""
    return _table(evidence_vintage())
