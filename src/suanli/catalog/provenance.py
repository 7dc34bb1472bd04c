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
from collections.abc import Iterable, Mapping
from typing import Annotated, Literal, Protocol, Self, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

Confidence = Literal["vendor", "primary", "secondary", "derived", "assumption"]

#: Confidence levels from most to least trusted.
CONFIDENCE_ORDER: tuple[Confidence, ...] = ("vendor", "primary", "secondary", "derived", "assumption")

#: A date as precise as the source gives it: ``2025``, ``2025-12`` or ``2025-12-24``.
DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"


def _date_as_text(value: object) -> object:
    # YAML reads an unquoted 2025-12-24 as a date and 2025 as a number; keep the source's
    # precision as text.
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _real_date(value: str) -> str:
    try:
        first_day(value)
    except ValueError:
        msg = f"{value!r} is not a calendar date"
        raise ValueError(msg) from None
    return value


SourceDate = Annotated[
    str,
    BeforeValidator(_date_as_text),
    Field(pattern=DATE_PATTERN, description="Date of the source (YYYY[-MM[-DD]])."),
    AfterValidator(_real_date),
]


def first_day(date: str) -> dt.date:
    """The first day a source date can mean: ``2026`` is 2026-01-01, ``2026-02`` 2026-02-01.

    A ValueError for an impossible date (``2026-02-30``).
    """
    parts = [int(p) for p in date.split("-")]
    return dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)


def known_by(date: str, as_of: str | None) -> bool:
    """Whether a source dated ``date`` could be read on ``as_of`` (always, without one).

    Both are read as their first day: a figure dated ``2026-01`` is known on 2026-01-20, and
    an ``as_of`` of ``2026`` sees only what is dated 2026-01-01 or a less precise 2026.
    """
    return as_of is None or first_day(date) <= first_day(as_of)


class _Dated(Protocol):
    @property
    def date(self) -> str: ...


D = TypeVar("D", bound=_Dated)


def latest(entries: Iterable[D], as_of: str | None = None) -> D | None:
    """The most recent of ``entries`` known by ``as_of``; ``None`` if none is.

    Of entries with the same date, the last listed wins (a correction follows what it corrects).
    """
    best: D | None = None
    for entry in entries:
        if known_by(entry.date, as_of) and (best is None or first_day(entry.date) >= first_day(best.date)):
            best = entry
    return best


def price_entries(data: object) -> object:
    """A record's YAML ``price`` (one entry or a list of dated entries) as its ``prices`` tuple.

    ``price`` and ``prices`` may not both be given.
    """
    if not isinstance(data, Mapping) or "price" not in data:
        return data
    if "prices" in data:
        msg = "give price (one entry or a list), not both price and prices"
        raise ValueError(msg)
    out = {k: v for k, v in data.items() if k != "price"}
    given = data["price"]
    out["prices"] = () if given is None else [given] if isinstance(given, Mapping | BaseModel) else given
    return out


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
