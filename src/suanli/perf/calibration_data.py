"""Residual spreads stored by the calibration run, looked up per stack and workload kind."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from pydantic import BaseModel, ConfigDict

from suanli.perf.uncertainty import ResidualSummary
from suanli.yamlfile import parse_yaml, validate


class ResidualTable(BaseModel):
    """Validation residuals by :func:`residual_key` (stack, kind, and ``/moe`` for MoE models)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    groups: dict[str, ResidualSummary] = {}


@cache
def residual_table() -> ResidualTable:
    """The residual table bundled with the package (read once)."""
    entry = files("suanli.perf").joinpath("data", "residuals.yaml")
    doc = parse_yaml(entry.read_text(encoding="utf-8"), "suanli/perf/data/residuals.yaml")
    return validate(ResidualTable, doc, doc.data or {})


def residual_key(stack: str, kind: str, moe: bool) -> str:
    """``"<stack>/<kind>"``, with ``"/moe"`` for MoE models.

    MoE and dense models are kept apart: the MoE terms are the least certain part of the
    model, and their misses must not widen the intervals of dense predictions (nor dense
    hits narrow MoE ones).
    """
    return f"{stack}/{kind}/moe" if moe else f"{stack}/{kind}"


def residual_summary(stack: str, kind: str, measured: bool, moe: bool = False) -> ResidualSummary | None:
    """The residuals of ``stack`` for ``kind``; ``None`` (the prior) for unmeasured stacks."""
    if not measured:
        return None
    return residual_table().groups.get(residual_key(stack, kind, moe))
