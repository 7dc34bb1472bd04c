"""Published measurements bundled for calibration and validation of the performance model.

Each point records the source, date, hardware, model, configuration and measured figure.
``split`` keeps calibration apart from validation: efficiency factors are fitted on the
``calibrate`` points only, and accuracy is reported on the ``validate`` points.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from suanli.catalog.llm import LLM, MoE
from suanli.catalog.loader import Catalog
from suanli.catalog.provenance import Confidence, SourceDate
from suanli.errors import MissingDataError
from suanli.yamlfile import parse_yaml, validate

Metric = Literal["tokens_per_s", "tokens_per_s_per_chip", "mfu", "tflops_per_chip", "step_time_s"]


class InlineModel(BaseModel):
    """An architecture given in place, for models outside the zoo."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    layers: int | None = None
    hidden_size: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    ffn_size: int | None = None
    vocab_size: int | None = None
    gated_mlp: bool = True
    experts: int | None = None
    active_experts: int | None = None
    expert_ffn_size: int | None = None


class Measurement(BaseModel):
    """One published measurement with the configuration it was taken under."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str
    kind: Literal["training", "inference"]
    accelerator: str
    chips: int = Field(ge=1)
    model: str | None = None
    model_inline: InlineModel | None = None
    seq_len: int | None = None
    global_batch_sequences: int | None = None
    precision: str | None = None
    parallelism: dict[str, int | str | bool | None] | None = None
    flash_attention: bool = True
    input_tokens: int | None = None
    output_tokens: int | None = None
    batch: int | None = None
    max_concurrency: int | None = None
    tpot_ms_limit: float | None = None
    weight_precision: str | None = None
    kv_precision: str | None = None
    phase: Literal["offline", "decode", "prefill"] = "offline"
    memory_gb_override: float | None = None
    scaleup_domain_override: int | None = None
    metric: Metric
    value: float = Field(gt=0)
    software: str
    source: str
    #: The source table the point comes from (a paper's table, a README's results table):
    #: the unit of the calibrate/validate split, and of the cap on points per source.
    table: str = Field(min_length=3)
    date: SourceDate
    confidence: Confidence
    split: Literal["calibrate", "validate"]
    note: str | None = None

    @property
    def vendor_group(self) -> str:
        """Which vendor family the chip belongs to, for per-group error reports."""
        if self.accelerator.startswith(("h1", "h2", "a100", "b200")):
            return "nvidia"
        if self.accelerator.startswith("ascend"):
            return "huawei"
        return "other-cn"


class MeasurementSet(BaseModel):
    """The bundled measurements."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    points: tuple[Measurement, ...]


@cache
def measurements() -> MeasurementSet:
    """The measurements that ship with suanli (read once)."""
    entry = files("suanli.perf").joinpath("data", "measurements.yaml")
    doc = parse_yaml(entry.read_text(encoding="utf-8"), "suanli/perf/data/measurements.yaml")
    return validate(MeasurementSet, doc, doc.data)


def resolve_model(point: Measurement, catalog: Catalog) -> LLM:
    """The LLM of ``point``: a zoo id, or an inline architecture when it is complete."""
    if point.model is not None:
        return catalog.model(point.model)
    inline = point.model_inline
    if inline is None:
        raise MissingDataError(f"{point.id}: no model given")
    needed = {
        "layers": inline.layers,
        "hidden_size": inline.hidden_size,
        "heads": inline.heads,
        "kv_heads": inline.kv_heads,
        "ffn_size": inline.ffn_size,
        "vocab_size": inline.vocab_size,
    }
    missing = [k for k, v in needed.items() if v is None]
    if inline.experts and not (inline.expert_ffn_size and inline.active_experts):
        missing.append("expert_ffn_size")
    if missing:
        raise MissingDataError(f"{point.id}: the published architecture lacks {', '.join(missing)}")
    moe = None
    if inline.experts and inline.active_experts and inline.expert_ffn_size:
        moe = MoE(
            experts=inline.experts,
            active_experts=inline.active_experts,
            expert_ffn_size=inline.expert_ffn_size,
        )
    return LLM(
        id=inline.name.lower().replace("_", "-"),
        name=inline.name,
        source=point.source,
        date=point.date,
        layers=needed["layers"] or 0,
        hidden_size=needed["hidden_size"] or 0,
        heads=needed["heads"] or 0,
        kv_heads=needed["kv_heads"] or 0,
        ffn_size=needed["ffn_size"] or 0,
        vocab_size=needed["vocab_size"] or 0,
        gated_mlp=inline.gated_mlp,
        max_seq_len=1 << 20,
        moe=moe,
        published_params_b=1.0,
    )
