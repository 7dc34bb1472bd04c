"""Workload targets: what a fleet must do.

Train a model on T tokens in D days, serve a model at R tokens/s (or requests/s) within a
latency target, or a mix of both.

Presets ship as package data (``economics/workloads/<id>.yaml``); a workload file with the
same shape defines others.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suanli.catalog.loader import suggest
from suanli.errors import UnknownIdError
from suanli.yamlfile import parse_yaml, read_yaml, validate

#: Tokens per optimiser step when a training target gives none: 2**24 ~ 16.8 M, the batch of
#: the Llama 3 405B pre-training run from 2.87 T tokens on (2,048 sequences of 8,192 tokens;
#: Llama Team, "The Llama 3 Herd of Models", arXiv 2407.21783, section 3.4.1). For scale:
#: DeepSeek-V3 ramped to 15,360 sequences of 4,096 tokens (~63 M tokens, arXiv 2412.19437,
#: section 4.2); Llama 2 used 4 M tokens (arXiv 2307.09288).
DEFAULT_GLOBAL_BATCH_TOKENS = float(2**24)


class TrainingTarget(BaseModel):
    """Train ``model`` on ``tokens`` tokens within ``days`` days.

    ``global_batch_tokens`` is the tokens per optimiser step. It caps data parallelism: a
    fleet cannot give every data-parallel rank less than one sequence, so beyond
    ``global_batch_tokens / seq_len`` ranks the extra chips must go to model parallelism.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: Literal["training"] = "training"
    model: str
    tokens: float = Field(gt=0, le=1e15)
    days: float = Field(gt=0, le=3650)
    seq_len: int = Field(default=4096, ge=128, le=1_048_576)
    precision: Literal["bf16", "fp8"] = "bf16"
    global_batch_tokens: float = Field(default=DEFAULT_GLOBAL_BATCH_TOKENS, gt=0, le=1e10)

    @model_validator(mode="after")
    def _whole_sequences(self) -> Self:
        sequences = self.global_batch_tokens / self.seq_len
        if sequences < 1 or abs(sequences - round(sequences)) > 1e-9 * sequences:
            msg = (
                f"global_batch_tokens must be a whole number (>= 1) of {self.seq_len}-token sequences "
                f"(got {self.global_batch_tokens:g})"
            )
            raise ValueError(msg)
        return self

    @property
    def batch_sequences(self) -> int:
        """Sequences per optimiser step."""
        return round(self.global_batch_tokens / self.seq_len)

    @property
    def label(self) -> str:
        """A short description for tables."""
        return f"train {self.model}: {self.tokens / 1e12:g} T tokens in {self.days:g} days"

    @property
    def tokens_per_s(self) -> float:
        """Training throughput the target demands."""
        return self.tokens / (self.days * 86_400)


class ServingTarget(BaseModel):
    """Serve ``model`` at a given output rate within a time-per-output-token target."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: Literal["serving"] = "serving"
    model: str
    output_tokens_per_s: float | None = Field(default=None, gt=0, le=1e12)
    requests_per_s: float | None = Field(default=None, gt=0, le=1e9)
    input_tokens: int = Field(ge=1, le=10_000_000)
    output_tokens: int = Field(ge=1, le=1_000_000)
    tpot_ms: float | None = Field(default=None, gt=0, le=10_000)
    ttft_ms: float | None = Field(default=None, gt=0, le=600_000)
    weight_precision: Literal["bf16", "fp8", "int8", "int4", "fp4"] = "bf16"
    kv_precision: Literal["bf16", "fp8", "int8", "int4", "fp4"] | None = None

    @model_validator(mode="after")
    def _one_rate(self) -> Self:
        if (self.output_tokens_per_s is None) == (self.requests_per_s is None):
            msg = "give exactly one of output_tokens_per_s and requests_per_s"
            raise ValueError(msg)
        return self

    @property
    def tokens_per_s(self) -> float:
        """Output tokens per second the target demands."""
        if self.output_tokens_per_s is not None:
            return self.output_tokens_per_s
        return float(self.requests_per_s or 0) * self.output_tokens

    @property
    def label(self) -> str:
        """A short description for tables."""
        tpot = f", TPOT <= {self.tpot_ms:g} ms" if self.tpot_ms else ""
        return (
            f"serve {self.model}: {self.tokens_per_s:,.0f} output tokens/s "
            f"({self.input_tokens} in / {self.output_tokens} out{tpot})"
        )


Target = Annotated[TrainingTarget | ServingTarget, Field(discriminator="kind")]


class Workload(BaseModel):
    """A named set of targets a fleet must meet together."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    title: str
    targets: tuple[Target, ...] = Field(min_length=1)
    source: str | None = None


def builtin_workloads() -> list[str]:
    """Names of the workload presets that ship with suanli."""
    root = files("suanli.economics").joinpath("workloads")
    return sorted(e.name.removesuffix(".yaml") for e in root.iterdir() if e.name.endswith(".yaml"))


@cache
def _builtin(name: str) -> Workload:
    entry = files("suanli.economics").joinpath("workloads", f"{name}.yaml")
    doc = parse_yaml(entry.read_text(encoding="utf-8"), f"suanli/economics/workloads/{name}.yaml")
    return validate(Workload, doc, doc.data)


def load_workload(name_or_path: str | Path) -> Workload:
    """A preset by name, or the workload file at a path."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        doc = read_yaml(name_or_path)
        return validate(Workload, doc, doc.data)
    names = builtin_workloads()
    if text not in names:
        raise UnknownIdError("workload", text, suggest(text, names))
    return _builtin(text)
