"""The licence and sovereignty register, and the scores it implies.

The register (``sovereignty/data/register.yaml``, or a user file of the same shape) lists
findings about accelerators: who controls their firmware, the conditions of their export
licence, how controllable their supply chain is and how mature their software is. Each
finding is a :class:`RegisterItem` for one criterion, a set of accelerators (by id, vendor,
country of design or software stack) and a set of deployment modes, with its evidence,
source, date and confidence, and a severity.

Scoring rule
------------
The score of accelerator *a* in mode *m* on criterion *c*, as known on ``as_of``, is

    score = product of (1 - penalty(item)) over the items that apply to (a, m, c),
            are dated on or before as_of, and are not superseded by another such item

with penalties by severity: none 0, minor 0.1, moderate 0.25, major 0.5, severe 0.75,
unknown 0.25 (an unanswered question costs what a moderate finding does, because a buyer
cannot rely on what it cannot verify). A criterion no item speaks to has no score, never a
silent 1. A product, not a mean, so that independent findings compound and a single
``none`` item (evidence the criterion is met) does not dilute a real penalty.

References
----------
The confidence rubric and the date rules are those of the catalog, ``suanli/catalog/README.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    computed_field,
    model_validator,
)

from suanli.catalog.accelerator import Accelerator, SoftwareStack
from suanli.catalog.loader import Catalog, builtin_catalog, suggest
from suanli.catalog.provenance import Confidence, SourceDate, first_day, known_by
from suanli.errors import InputValueError, UnknownIdError
from suanli.yamlfile import YamlDocument, parse_yaml, read_yaml, validate

Criterion = Literal["supply_security", "firmware_control", "data_sovereignty", "ecosystem_maturity"]
#: The criteria the register scores, in the order they are shown.
CRITERIA: tuple[Criterion, ...] = get_args(Criterion)

Mode = Literal["own_dc", "domestic_cloud", "foreign_cloud"]
#: Deployment modes: the buyer's own data centre in China, a cloud operator in China, one abroad.
MODES: tuple[Mode, ...] = get_args(Mode)

Severity = Literal["none", "minor", "moderate", "major", "severe", "unknown"]

#: The penalty each severity takes off a criterion's score (see the module docstring).
PENALTY: Mapping[Severity, float] = {
    "none": 0.0,
    "minor": 0.1,
    "moderate": 0.25,
    "major": 0.5,
    "severe": 0.75,
    "unknown": 0.25,
}

#: The rule in one sentence, for reports.
SCORING_RULE = (
    "score = product of (1 - penalty) over the register items that apply to the accelerator and "
    "mode, are dated on or before as_of and are not superseded; penalties: none 0, minor 0.1, "
    "moderate 0.25, major 0.5, severe 0.75, unknown 0.25; no item, no score"
)

_DATE: TypeAdapter[str] = TypeAdapter(SourceDate)


def parse_date(text: str, field: str = "--as-of") -> str:
    """``text`` as a source date (``YYYY[-MM[-DD]]``); an :class:`InputValueError` otherwise."""
    try:
        return _DATE.validate_python(text)
    except ValidationError:
        raise InputValueError(f"expected a date YYYY[-MM[-DD]] (got {text!r})", field=field) from None


class RegisterItem(BaseModel):
    """One dated, sourced finding about some accelerators on one criterion."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    criterion: Criterion
    applies_to: tuple[str, ...] | Literal["all"] | None = Field(
        default=None, description="Catalog ids, or 'all' for every accelerator."
    )
    vendor: str | None = Field(default=None, min_length=1, description="Catalog vendor, as spelt there.")
    origin: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="Country of design.")
    stack: SoftwareStack | None = Field(default=None, description="Catalog software_stack.")
    modes: tuple[Mode, ...] | Literal["any"]
    severity: Severity
    finding: str = Field(min_length=10, description="What the evidence means for the criterion.")
    evidence: str = Field(min_length=10, description="What the source says.")
    source: str = Field(min_length=3)
    date: SourceDate
    confidence: Confidence
    supersedes: tuple[str, ...] = Field(
        default=(), description="Earlier items this one replaces for the accelerators both apply to."
    )
    note: str | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> Self:
        given = [
            name for name in ("applies_to", "vendor", "origin", "stack") if getattr(self, name) is not None
        ]
        if len(given) != 1:
            msg = (
                f"give exactly one of applies_to, vendor, origin and stack (got {', '.join(given) or 'none'})"
            )
            raise ValueError(msg)
        if self.applies_to == () or self.modes == ():
            msg = "applies_to and modes must not be empty"
            raise ValueError(msg)
        return self

    @computed_field  # type: ignore[prop-decorator]  # so that --json shows it beside severity
    @property
    def penalty(self) -> float:
        """The share of the criterion's score this item takes away."""
        return PENALTY[self.severity]

    def applies(self, accelerator: Accelerator, mode: Mode) -> bool:
        """Whether this item speaks to ``accelerator`` deployed in ``mode``."""
        if self.modes != "any" and mode not in self.modes:
            return False
        if self.applies_to is not None:
            return self.applies_to == "all" or accelerator.id in self.applies_to
        if self.vendor is not None:
            return accelerator.vendor == self.vendor
        if self.origin is not None:
            return accelerator.country == self.origin
        return accelerator.software_stack == self.stack


class Register(BaseModel):
    """The register: items with unique ids, each superseding only earlier items it names."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    items: tuple[RegisterItem, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        by_id: dict[str, RegisterItem] = {}
        for item in self.items:
            if item.id in by_id:
                msg = f"item id {item.id!r} is used twice"
                raise ValueError(msg)
            by_id[item.id] = item
        for item in self.items:
            for old in item.supersedes:
                if old not in by_id or old == item.id:
                    msg = f"item {item.id!r} supersedes {old!r}, which is no other item of the register"
                    raise ValueError(msg)
                # A later as_of must never see a replacement without the item it replaces having
                # been visible first; otherwise dating the register would resurrect old findings.
                if first_day(by_id[old].date) > first_day(item.date):
                    msg = (
                        f"item {item.id!r} ({item.date}) supersedes the later item {old!r} "
                        f"({by_id[old].date})"
                    )
                    raise ValueError(msg)
        return self

    def as_of(self, as_of: str | None) -> Register:
        """The items known on ``as_of`` (all of them without one)."""
        return Register(items=tuple(i for i in self.items if known_by(i.date, as_of)))

    def later(self, as_of: str | None) -> tuple[RegisterItem, ...]:
        """The items dated after ``as_of``: not known then."""
        return tuple(i for i in self.items if not known_by(i.date, as_of))

    def applicable(
        self, accelerator: Accelerator, mode: Mode, criterion: str
    ) -> tuple[tuple[RegisterItem, ...], tuple[RegisterItem, ...]]:
        """The items that count for (accelerator, mode, criterion), and those superseded among them.

        An item is superseded only by another item that applies to the same accelerator and
        mode, so a finding that replaces an older one for one part leaves it standing for
        the others.
        """
        apply = [i for i in self.items if i.criterion == criterion and i.applies(accelerator, mode)]
        replaced = {old for i in apply for old in i.supersedes}
        return (
            tuple(i for i in apply if i.id not in replaced),
            tuple(i for i in apply if i.id in replaced),
        )


class DerivedScore(BaseModel):
    """A criterion's score from the register, and the items behind it."""

    model_config = ConfigDict(frozen=True)

    criterion: Criterion
    score: float | None  # None: no item speaks to this criterion
    items: tuple[RegisterItem, ...]
    superseded: tuple[str, ...]  # ids of items known but replaced by a later one
    unknowns: int  # items that record an unanswered question


def score_of(items: Iterable[RegisterItem]) -> float | None:
    """The product of ``1 - penalty`` over ``items``; ``None`` for no item."""
    score: float | None = None
    for item in items:
        score = (1.0 if score is None else score) * (1.0 - item.penalty)
    return score


def _check_ids(register: Register, catalog: Catalog, doc: YamlDocument | None) -> None:
    """Every ``applies_to`` id names an accelerator of ``catalog``."""
    for i, item in enumerate(register.items):
        if item.applies_to is None or item.applies_to == "all":
            continue
        for j, accelerator in enumerate(item.applies_to):
            if accelerator not in catalog.accelerators:
                raise UnknownIdError(
                    "accelerator",
                    accelerator,
                    suggest(accelerator, catalog.accelerators),
                    file=None if doc is None else doc.name,
                    line=None if doc is None else doc.line_of(["items", i, "applies_to", j]),
                    field=f"items.{i}.applies_to",
                )


def _from_document(doc: YamlDocument, catalog: Catalog) -> Register:
    register = validate(Register, doc, doc.data)
    _check_ids(register, catalog, doc)
    return register


@cache
def builtin_register() -> Register:
    """The register that ships with suanli (read once)."""
    entry = files("suanli.sovereignty").joinpath("data", "register.yaml")
    doc = parse_yaml(entry.read_text(encoding="utf-8"), "suanli/sovereignty/data/register.yaml")
    return _from_document(doc, builtin_catalog())


def load_register(path: str | Path, catalog: Catalog | None = None) -> Register:
    """A user register file, validated; its ``applies_to`` ids must be in ``catalog``."""
    return _from_document(read_yaml(path), catalog or builtin_catalog())


def register_as_of(as_of: str | None, register: Register | None = None) -> Register:
    """The (built-in) register as known on ``as_of``."""
    return (register or builtin_register()).as_of(as_of)


def derived_scores(
    register: Register,
    accelerators: Sequence[str],
    mode: Mode,
    as_of: str | None,
    catalog: Catalog | None = None,
) -> dict[str, dict[Criterion, DerivedScore]]:
    """Each accelerator's score on each criterion in ``mode``, from the items known on ``as_of``.

    Parameters
    ----------
    register
        The register (the built-in one: :func:`builtin_register`).
    accelerators
        Catalog ids; an unknown one is an :class:`UnknownIdError`.
    mode
        ``own_dc``, ``domestic_cloud`` or ``foreign_cloud``.
    as_of
        Items dated later are left out; ``None`` keeps them all.
    catalog
        Where vendors, countries and software stacks are looked up (default: the built-in one).

    Returns
    -------
    dict
        ``{accelerator: {criterion: DerivedScore}}`` for every criterion of :data:`CRITERIA`.
    """
    if mode not in MODES:
        raise InputValueError(f"must be one of {', '.join(MODES)} (got {mode!r})", field="mode")
    catalog = catalog or builtin_catalog()
    known = register.as_of(as_of)
    out: dict[str, dict[Criterion, DerivedScore]] = {}
    for accelerator_id in accelerators:
        accelerator = catalog.accelerator(accelerator_id)
        scores: dict[Criterion, DerivedScore] = {}
        for criterion in CRITERIA:
            items, superseded = known.applicable(accelerator, mode, criterion)
            scores[criterion] = DerivedScore(
                criterion=criterion,
                score=score_of(items),
                items=items,
                superseded=tuple(i.id for i in superseded),
                unknowns=sum(i.severity == "unknown" for i in items),
            )
        out[accelerator_id] = scores
    return out
