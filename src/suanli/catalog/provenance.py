"""Provenance of catalog figures: where a number comes from and how far to trust it.

Every numeric catalog field is a :class:`Figure`: a value, an optional range (``low`` to
``high``) where sources disagree or a figure is derived, and the source, date and confidence
behind it. Confidence follows the rubric of ``suanli/catalog/README.md`` (five levels, from
most to least trusted):

``vendor``
    a document of the vendor or an official body: datasheet, vendor paper, filing, tariff
    schedule, regulation;
``primary``
    a report by whoever obtained the figure first: a news agency or paper citing its own
    sources (Reuters, Bloomberg, FT, The Information), an analyst's own research, a measurement
    published by whoever ran it;
``secondary``
    a report of a report: a summary, mirror, aggregator or community page relaying a figure
    it did not obtain itself;
``derived``
    computed from other figures by the rule written in ``note``;
``assumption``
    a judgement with no figure behind it; ``note`` or ``source`` gives the reasoning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

Confidence = Literal["vendor", "primary", "secondary", "derived", "assumption"]

#: Confidence levels from most to least trusted.
CONFIDENCE_ORDER: tuple[Confidence, ...] = ("vendor", "primary", "secondary", "derived", "assumption")

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


def _check_range(low: float | None, central: float, high: float | None, name: str) -> tuple[float, float]:
    """``(low, high)`` with each defaulting to ``central``; a ValueError unless they bracket it."""
    lower = central if low is None else low
    upper = central if high is None else high
    if not lower <= central <= upper:
        msg = f"range must satisfy low <= {name} <= high (got {lower} <= {central} <= {upper})"
        raise ValueError(msg)
    return (lower, upper)


class Provenance(BaseModel):
    """Where a figure comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

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
        _check_range(self.low, self.value, self.high, "value")
        return self

    @property
    def range(self) -> tuple[float, float]:
        """``(low, high)``, each defaulting to ``value``."""
        return _check_range(self.low, self.value, self.high, "value")


def check_limits(record: object, limits: Mapping[str, float]) -> None:
    """Raise ``ValueError`` for a figure of ``record`` outside ``(0, limit]`` (a unit slip)."""
    for name, limit in limits.items():
        figure: Figure | None = getattr(record, name)
        if figure is None:
            continue
        for label, number in (("value", figure.value), ("high", figure.range[1])):
            if number <= 0 or number > limit:
                msg = f"{name}.{label} must be > 0 and <= {limit:g} (got {number:g})"
                raise ValueError(msg)


class Count(Provenance):
    """A whole number (of chips, of dies) with its provenance."""

    value: int = Field(ge=1, le=1_000_000)


class Price(Provenance):
    """A price estimate per chip, in a stated currency, with its range and provenance."""

    amount: float = Field(gt=0)
    low: float | None = Field(default=None, gt=0)
    high: float | None = Field(default=None, gt=0)
    currency: Literal["USD", "CNY"]

    @model_validator(mode="after")
    def _range_brackets_amount(self) -> Self:
        _check_range(self.low, self.amount, self.high, "amount")
        return self


class ExportControl(BaseModel):
    """Export-control status of a chip, as free text at a date."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    status: str = Field(min_length=3)
    date: SourceDate
    source: str = Field(min_length=3)
