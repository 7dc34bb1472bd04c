"""Data audit of the catalog and the cost defaults: gaps, weak sources, wide ranges, dangling references.

Every catalog number carries its provenance, but a reader still wants to see where the data is
thin: spec fields nobody gives, figures resting on a report of a report or on a judgement, ranges
so wide the central value means little, figures a scenario's ``as_of`` could not have seen, and
notes that point at a record or a cost default that does not exist. :func:`audit` lists those as
:class:`Finding` values; :func:`sourced_figures` lists every sourced item of one record. Both walk
pydantic models, mappings, lists and tuples generically and treat any node with a ``source``,
``date`` or ``confidence`` as a sourced item, so dated lists of entries (a ``price:`` given as
several dated prices, a cost default given as several dated assumptions) are covered as they
come, each entry under its index (``price[1]``).

The cost defaults are taken as any pydantic model (``suanli.economics.costs.CostDefaults``): the
catalog stage sits upstream of economics and does not import it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from suanli.catalog.accelerator import SPEC_FIELDS
from suanli.catalog.loader import Catalog
from suanli.catalog.provenance import CONFIDENCE_ORDER, DATE_PATTERN, first_day, known_by
from suanli.catalog.system import SYSTEM_LIMITS
from suanli.errors import InputValueError

FindingKind = Literal[
    "missing", "weak", "wide_range", "after_as_of", "dangling_ref", "incomplete", "local_path"
]

#: What each kind of finding means, in the order reports list them.
FINDING_KINDS: dict[FindingKind, str] = {
    "missing": "spec field with no figure",
    "weak": "numeric figure rated secondary or assumption, or derived without a note giving the rule",
    "wide_range": "range with high/low > 2",
    "after_as_of": "figure or entry dated after --as-of",
    "dangling_ref": "id field or textual reference naming nothing in the data",
    "incomplete": "numeric figure without a source, a valid date or a rubric confidence",
    "local_path": "machine-local path in a source or note",
}

#: Sections of the data, in the order reports list them.
SECTIONS: tuple[str, ...] = ("accelerators", "systems", "models", "cost_defaults")

#: Confidence levels the report calls weak for a number.
WEAK_CONFIDENCE = frozenset({"secondary", "assumption"})

#: A range is wide when its high end exceeds this multiple of its low end.
WIDE_RANGE_RATIO = 2.0

#: Keys whose strings are prose that may name other data.
TEXT_FIELDS = frozenset({"source", "note", "notes"})

_UNIT_SUFFIXES = (
    ("_tb_s", "TB/s"),
    ("_gb_s", "GB/s"),
    ("_tflops", "TFLOPS"),
    ("_pflops", "PFLOPS"),
    ("_tops", "TOPS"),
    ("_gb", "GB"),
    ("_kw", "kW"),
    ("_w", "W"),
)
_UNIT_NAMES = {
    "scaleup_domain": "chips",
    "chips": "chips",
    "dies": "dies",
    "published_mfu": "fraction of peak",
}


@dataclass(frozen=True)
class Finding:
    """One observation about the data: where it is, what kind, and the particulars."""

    section: str
    record: str
    field: str
    kind: FindingKind
    detail: str


@dataclass(frozen=True)
class SourcedFigure:
    """One sourced item of a record: a figure, a count, a price, an export status or an entry."""

    field: str
    value: float | str | None
    low: float | None
    high: float | None
    unit: str | None
    confidence: str | None
    date: str | None
    source: str | None
    note: str | None


# -- generic traversal ---------------------------------------------------------------------------


def _get(node: object, name: str) -> object:
    """Field ``name`` of a model or key of a mapping; properties and methods are not fields."""
    if isinstance(node, BaseModel):
        if name in type(node).model_fields:
            return getattr(node, name)
        return (node.model_extra or {}).get(name)
    if isinstance(node, Mapping):
        return node.get(name)
    return None


def _children(node: object) -> Iterator[tuple[str | int, object]]:
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield name, getattr(node, name)
        yield from (node.model_extra or {}).items()
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield str(key), value
    elif isinstance(node, list | tuple):
        yield from enumerate(node)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def walk(node: object, path: str = "") -> Iterator[tuple[str, object]]:
    """``(path, node)`` for ``node`` and everything under it, depth first, in field order.

    Paths join keys with dots and list positions with brackets: ``variants.pue.hub``, ``price[1]``.
    """
    yield path, node
    for key, child in _children(node):
        yield from walk(child, _join(path, key))


def _number(value: object) -> float | None:
    # Kept as given (an int stays an int in JSON); bool is an int to Python but never a figure.
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _is_sourced(node: object) -> bool:
    return isinstance(node, BaseModel | Mapping) and any(
        _get(node, name) is not None for name in ("source", "date", "confidence")
    )


def _is_numeric(node: object) -> bool:
    """A figure-like node: a model or mapping with a numeric value, amount or range end."""
    return isinstance(node, BaseModel | Mapping) and any(
        _number(_get(node, name)) is not None for name in ("value", "amount", "low", "high")
    )


def _central(node: object) -> float | str | None:
    for name in ("value", "amount"):
        number = _number(_get(node, name))
        if number is not None:
            return number
    return _text(_get(node, "status"))


def _range(node: object) -> tuple[float | None, float | None]:
    """``(low, high)`` with each end defaulting to the value (a published MFU's high to its low)."""
    central = _central(node)
    middle = None if isinstance(central, str) else central
    low = _number(_get(node, "low"))
    low = middle if low is None else low
    high = _number(_get(node, "high"))
    if high is None:
        high = low if middle is None else middle
    return low, high


def _field_name(path: str) -> str:
    """The last key of ``path`` that names a field (``price[1]`` -> ``price``)."""
    return re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1]


def _unit(node: object, path: str) -> str | None:
    for name in ("unit", "currency"):
        text = _text(_get(node, name))
        if text is not None:
            return text
    name = _field_name(path)
    for suffix, unit in _UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return _UNIT_NAMES.get(name)


def sourced_figures(record: object) -> list[SourcedFigure]:
    """Every sourced item of ``record`` (an accelerator, a system, a model, the cost defaults).

    The record itself is listed as field ``record`` where it carries a source (an LLM does).
    """
    figures = []
    for path, node in walk(record):
        if not _is_sourced(node):
            continue
        figures.append(
            SourcedFigure(
                field=path or "record",
                value=_central(node),
                low=_number(_get(node, "low")),
                high=_number(_get(node, "high")),
                unit=_unit(node, path),
                confidence=_text(_get(node, "confidence")),
                date=_text(_get(node, "date")),
                source=_text(_get(node, "source")),
                note=_text(_get(node, "note")),
            )
        )
    return figures


# -- the audit -----------------------------------------------------------------------------------


def parse_as_of(text: str) -> str:
    """``text`` checked as a date of the form ``YYYY[-MM[-DD]]`` (read as its first day)."""
    if not re.fullmatch(DATE_PATTERN, text):
        raise InputValueError(f"must be a date YYYY[-MM[-DD]] (got {text!r})", field="--as-of")
    try:
        first_day(text)
    except ValueError:
        raise InputValueError(f"is not a calendar date (got {text!r})", field="--as-of") from None
    return text


def records(catalog: Catalog, costs: BaseModel | None = None) -> Iterator[tuple[str, str, object]]:
    """``(section, record id, record)`` for every record, in :data:`SECTIONS` order, by id."""
    for section, mapping in (
        ("accelerators", catalog.accelerators),
        ("systems", catalog.systems),
        ("models", catalog.models),
    ):
        for record_id in sorted(mapping):
            yield section, record_id, mapping[record_id]
    if costs is not None:
        yield "cost_defaults", "cost_defaults", costs


def _valid_date(date: object) -> str | None:
    """``date`` if it is a pattern-valid calendar date, else ``None``."""
    if not isinstance(date, str) or not re.fullmatch(DATE_PATTERN, date):
        return None
    try:
        first_day(date)
    except ValueError:
        return None
    return date


def _completeness(node: object) -> list[str]:
    problems = []
    source = _text(_get(node, "source"))
    if source is None or len(source.strip()) < 3:
        problems.append("no source")
    if _valid_date(_get(node, "date")) is None:
        problems.append(f"no valid date (got {_get(node, 'date')!r})")
    if _get(node, "confidence") not in CONFIDENCE_ORDER:
        problems.append(f"confidence not in the rubric (got {_get(node, 'confidence')!r})")
    return problems


def _figure_findings(node: object, path: str, as_of: str | None) -> Iterator[tuple[str, FindingKind, str]]:
    confidence = _get(node, "confidence")
    if _is_numeric(node):
        for problem in _completeness(node):
            yield path, "incomplete", problem
        if confidence in WEAK_CONFIDENCE:
            yield path, "weak", f"confidence {confidence}"
        note = _text(_get(node, "note"))
        if confidence == "derived" and not (note and note.strip()):
            yield path, "weak", "derived without a note stating the rule"
        low, high = _range(node)
        if low is not None and high is not None and high > WIDE_RANGE_RATIO * low:
            ratio = "from zero" if low == 0 else f"{high / low:.1f}x"
            yield path, "wide_range", f"{low:g}-{high:g} ({ratio})"
    date = _valid_date(_get(node, "date"))
    if as_of is not None and date is not None and not known_by(date, as_of):
        yield path, "after_as_of", f"dated {date}, after {as_of}"


def _missing_fields(section: str, record: object) -> list[str]:
    names = SPEC_FIELDS if section == "accelerators" else tuple(SYSTEM_LIMITS) if section == "systems" else ()
    return [name for name in names if _get(record, name) is None]


def audit(catalog: Catalog, costs: BaseModel | None = None, as_of: str | None = None) -> list[Finding]:
    """Every finding on the catalog's records and the cost defaults, grouped by record.

    Parameters
    ----------
    catalog
        The catalog to audit (built-in records plus any user files).
    costs
        The cost defaults (``suanli.economics.costs.cost_defaults()``), or ``None`` to skip them.
    as_of
        A date ``YYYY[-MM[-DD]]``: figures and entries dated after it are reported.

    Returns
    -------
    list of Finding
        Sorted by section and record; within a record in field order, reference checks last.
    """
    if as_of is not None:
        parse_as_of(as_of)
    findings: list[Finding] = []
    for section, record_id, record in records(catalog, costs):
        for name in _missing_fields(section, record):
            findings.append(Finding(section, record_id, name, "missing", "no figure"))
        for path, node in walk(record):
            if _is_sourced(node) or _is_numeric(node):
                for where, kind, detail in _figure_findings(node, path or "record", as_of):
                    findings.append(Finding(section, record_id, where, kind, detail))
        findings += _local_path_findings(section, record_id, record)
    findings += check_references(catalog, costs)
    order = {section: i for i, section in enumerate(SECTIONS)}
    return sorted(findings, key=lambda f: (order.get(f.section, len(order)), f.record))


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    """Findings per kind, every kind listed (zeros included), in :data:`FINDING_KINDS` order."""
    tally = Counter(f.kind for f in findings)
    return {kind: tally[kind] for kind in FINDING_KINDS}


# -- provenance completeness and machine-local paths ------------------------------------------------

#: A path that exists only on somebody's machine: a Unix home, scratch or work folder, or a
#: Windows drive. The lookbehind keeps URLs (``example.com/work/...``) out.
LOCAL_PATH = re.compile(r"(?<![\w.~-])(?:/home/|/tmp/|/work/|/Users/|/root/)|\b[A-Za-z]:\\")


def machine_local_paths(text: str) -> list[str]:
    """The machine-local paths in ``text``, each with what follows it up to the next space."""
    return [text[m.start() :].split(maxsplit=1)[0] for m in LOCAL_PATH.finditer(text)]


def _text_fields(record: object) -> Iterator[tuple[str, str]]:
    for path, node in walk(record):
        if isinstance(node, str) and _field_name(path) in TEXT_FIELDS:
            yield path, node


def _local_path_findings(section: str, record_id: str, record: object) -> list[Finding]:
    return [
        Finding(section, record_id, path, "local_path", f"machine-local path {hit!r}")
        for path, text in _text_fields(record)
        for hit in machine_local_paths(text)
    ]


def provenance_gaps(catalog: Catalog, costs: BaseModel | None = None) -> list[Finding]:
    """Numeric figures without source, valid date or rubric confidence, and machine-local paths.

    The schema guarantees provenance on typed fields; this also covers the untyped parts of the
    data (the ``variants`` of the cost defaults) and anything a later schema change lets through.
    """
    findings = []
    for section, record_id, record in records(catalog, costs):
        for path, node in walk(record):
            if _is_numeric(node):
                findings += [
                    Finding(section, record_id, path or "record", "incomplete", problem)
                    for problem in _completeness(node)
                ]
        findings += _local_path_findings(section, record_id, record)
    return findings


# -- reference integrity -------------------------------------------------------------------------

_BACKTICKED = re.compile(r"`([^`\s]+)`")
_WORD = re.compile(r"[^\s,;()\[\]{}'\"`<>=]+")
#: Lower-case identifiers, dots and hyphens only: no URL (slash, colon), no Python name
#: (``CostInputs.power_utilisation``), no version (``0.11.0+dtk``).
_REFERENCE = re.compile(r"[a-z][a-z0-9_.-]*[a-z0-9]")
#: ``<record-id>_<field>``: a hyphenated id, then the field after the first underscore.
_ID_FIELD = re.compile(r"[a-z0-9.]+(?:-[a-z0-9.]+)+_[a-z0-9_]+")
_FILE_SUFFIXES = frozenset(
    {"py", "md", "yaml", "yml", "json", "ipynb", "txt", "csv", "html", "htm", "pdf", "xlsx", "toml", "sh"}
)


def _looks_like_reference(token: str) -> bool:
    if not _REFERENCE.fullmatch(token) or ".." in token:
        return False
    if "." in token and token.rsplit(".", 1)[1] in _FILE_SUFFIXES:
        return False
    return "." in token or bool(_ID_FIELD.fullmatch(token))


def reference_tokens(text: str) -> list[str]:
    """The tokens of ``text`` that claim to name a record field or a cost-defaults path.

    The rule, kept narrow to avoid false alarms on prose, URLs, file names and versions:

    - a backticked token is a candidate; so is a bare word (punctuation stripped) that contains
      an underscore together with a dot or a hyphen;
    - a candidate must be lower-case letters, digits, ``_``, ``.`` and ``-``, start with a
      letter and not end in a file suffix (``hardware.py``, ``catalog_facts.md``): slashes and
      colons (URLs, paths), capitals (Python names) and leading digits (versions) rule it out;
    - it is then either a dotted path (``variants.pue.liquid_cooled_best``,
      ``ascend-910c.tdp_w``) or ``<record-id>_<field>`` (``ascend-910c_tdp_w``).

    A bare word must contain an underscore, so a dotted path without one (``h200-sxm.price``) is
    only recognised in backticks; domain names (``china-briefing.com``) never are.
    """
    candidates = _BACKTICKED.findall(text)
    for word in _WORD.findall(_BACKTICKED.sub(" ", text)):
        stripped = word.rstrip(".:")
        if "_" in stripped and ("." in stripped or "-" in stripped):
            candidates.append(stripped)
    return list(dict.fromkeys(c for c in candidates if _looks_like_reference(c)))


def _path_exists(node: object, keys: Sequence[str]) -> bool:
    """Whether ``keys`` lead somewhere under ``node``; a list is entered through any entry.

    A model's field counts as existing even where it holds ``None`` (the schema names it).
    """
    if not keys:
        return True
    if isinstance(node, list | tuple):
        return any(_path_exists(item, keys) for item in node)
    key, rest = keys[0], keys[1:]
    if isinstance(node, BaseModel):
        # A property stands for its field where the YAML key and the field differ (``price``).
        if key in type(node).model_fields or isinstance(getattr(type(node), key, None), property):
            return not rest or _path_exists(getattr(node, key), rest)
        extra = node.model_extra or {}
        return key in extra and _path_exists(extra[key], rest)
    if isinstance(node, Mapping):
        return key in node and _path_exists(node[key], rest)
    return False


def resolves(token: str, catalog: Catalog, costs: BaseModel | None = None) -> bool:
    """Whether a reference token (see :func:`reference_tokens`) names something that exists."""
    named: dict[str, object] = {**catalog.models, **catalog.systems, **catalog.accelerators}
    # Ids may hold dots (``llama3.1-405b``), so try every id rather than splitting at a dot.
    for record_id, record in named.items():
        for separator in (".", "_"):
            if token.startswith(record_id + separator):
                rest = token[len(record_id) + 1 :]
                keys = rest.split(".") if separator == "." else [rest]
                if _path_exists(record, keys):
                    return True
    return costs is not None and "." in token and _path_exists(costs, token.split("."))


def _id_findings(catalog: Catalog, costs: BaseModel | None) -> Iterator[Finding]:
    stacks = _get(costs, "migration_engineer_months") if costs is not None else None
    for accelerator_id in sorted(catalog.accelerators):
        accelerator = catalog.accelerators[accelerator_id]
        system_id = accelerator.default_system
        if system_id is not None:
            system = catalog.systems.get(system_id)
            if system is None:
                yield Finding(
                    "accelerators",
                    accelerator_id,
                    "default_system",
                    "dangling_ref",
                    f"no system {system_id!r}",
                )
            elif system.accelerator != accelerator_id:
                yield Finding(
                    "accelerators",
                    accelerator_id,
                    "default_system",
                    "dangling_ref",
                    f"system {system_id!r} holds {system.accelerator}, not {accelerator_id}",
                )
        if isinstance(stacks, Mapping) and accelerator.software_stack not in stacks:
            yield Finding(
                "accelerators",
                accelerator_id,
                "software_stack",
                "dangling_ref",
                f"no cost_defaults.migration_engineer_months entry for {accelerator.software_stack!r}",
            )
    for system_id in sorted(catalog.systems):
        system = catalog.systems[system_id]
        if system.accelerator not in catalog.accelerators:
            yield Finding(
                "systems", system_id, "accelerator", "dangling_ref", f"no accelerator {system.accelerator!r}"
            )


def check_references(catalog: Catalog, costs: BaseModel | None = None) -> list[Finding]:
    """Id fields and textual references that name nothing in ``catalog`` or ``costs``.

    Id fields: an accelerator's ``default_system`` (which must also hold that accelerator), its
    ``software_stack`` (which needs a ``migration_engineer_months`` cost default) and a system's
    ``accelerator``. Textual references: the tokens :func:`reference_tokens` finds in every
    ``source``, ``note`` and ``notes`` string.
    """
    findings = list(_id_findings(catalog, costs))
    for section, record_id, record in records(catalog, costs):
        for path, text in _text_fields(record):
            findings += [
                Finding(section, record_id, path, "dangling_ref", f"{token!r} names nothing in the data")
                for token in reference_tokens(text)
                if not resolves(token, catalog, costs)
            ]
    return findings
