"""The scenario file: one YAML document that describes a decision.

This first version holds the identity of the scenario, its money settings and the order under
discussion with the consistency checks its sources call for; later sections (workloads,
supply, decision, standoff) extend the same model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from suanli.catalog.provenance import SourceDate
from suanli.economics.order import Order


class Source(BaseModel):
    """A document a scenario draws on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    title: str = Field(min_length=3)
    date: SourceDate
    url: str | None = None


class Scenario(BaseModel):
    """A decision scenario."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    title: str = Field(min_length=3)
    as_of: SourceDate = Field(description="The date the assumptions could have been set.")
    order: Order
    sources: tuple[Source, ...] = ()
    notes: str | None = None
