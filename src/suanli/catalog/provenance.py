"""Provenance of catalog figures: where a number comes from and how far to trust it.

Every numeric catalog field is a :class:`Figure`: a value, an optional range (``low`` to
``high``) where sources disagree or a figure is derived, and the source, date and confidence
behind it. Confidence has three levels, following the tags of ``shared/facts``:

``datasheet``
    the vendor's datasheet, an official document or a vendor paper;
``press``
    reputable press or analysts, usually citing sources;
``estimate``
    derived from other figures (the rule goes in ``note``), community figures or rumour.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

Confidence = Literal["datasheet", "press", "estimate"]

#: A date as precise as the source gives it: ``2025``, ``2025-12`` or ``2025-12-24``.
DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"


def _date_as_text(value: object) -> object:
    # YAML reads an unquoted 2025-12-24 as a date; keep the source's precision as text.
    return value.isoformat() if isinstance(value, dt.date) else value


SourceDate = Annotated[
    str,
    BeforeValidator(_date_as_text),
    Field(pattern=DATE_PATTERN, description="Date of the source (YYYY[-MM[-DD]])."),
]


class Provenance(BaseModel):
    """Where a figure comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(min_length=3, description="URL or document the figure comes from.")
    date: SourceDate
    confidence: Confidence
    note: str | None = Field(default=None, description="Derivation rule or caveat.")


class Figure(Provenance):
    """A number with its range and provenance.

    ``value`` is the figure suanli uses; ``low`` and ``high`` bound it where sources disagree
    or the figure is derived. Both default to ``value``.
    """

    value: float = Field(ge=0)
    low: float | None = Field(default=None, ge=0)
    high: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _range_brackets_value(self) -> Self:
        low = self.value if self.low is None else self.low
        high = self.value if self.high is None else self.high
        if not low <= self.value <= high:
            msg = f"range must satisfy low <= value <= high (got {low} <= {self.value} <= {high})"
            raise ValueError(msg)
        return self

    @property
    def range(self) -> tuple[float, float]:
        """``(low, high)``, each defaulting to ``value``."""
        low = self.value if self.low is None else self.low
        high = self.value if self.high is None else self.high
        return (low, high)


class Price(Provenance):
    """A price estimate per chip, in a stated currency, with its range and provenance."""

    amount: float = Field(gt=0)
    low: float | None = Field(default=None, gt=0)
    high: float | None = Field(default=None, gt=0)
    currency: Literal["USD", "CNY"]

    @model_validator(mode="after")
    def _range_brackets_amount(self) -> Self:
        low = self.amount if self.low is None else self.low
        high = self.amount if self.high is None else self.high
        if not low <= self.amount <= high:
            msg = f"range must satisfy low <= amount <= high (got {low} <= {self.amount} <= {high})"
            raise ValueError(msg)
        return self


class ExportControl(BaseModel):
    """Export-control status of a chip, as free text at a date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str = Field(min_length=3)
    date: SourceDate
    source: str = Field(min_length=3)
