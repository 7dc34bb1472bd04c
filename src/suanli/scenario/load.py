"""Find and read scenarios: built-in ones by name, or a user's YAML file by path.

A scenario with ``extends: BASE`` is the base's data with its own keys laid over it. ``BASE``
is a built-in scenario's name or the path of another YAML file, relative to the file that
names it. Mappings merge key by key and anything else (lists, numbers) is replaced, with one
exception: the keys in :data:`REPLACED_WHOLE` (``plan``, ``decision.policy``,
``decision.placed``, ``uncertainties``) each describe one whole thing, so a scenario that
sets one replaces the base's entirely. That is how a child drops an order of its parent:
``plan: {h200-sxm: {}}`` leaves a plan with no orders at all, not the parent's plan unchanged.

Once loaded, ``Scenario.extends`` holds a reference that :func:`load_scenario` resolves to the
same base from any working directory: a built-in's name, or the base file's absolute path.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from importlib.resources import files
from pathlib import Path
from typing import Any

from suanli.catalog.loader import suggest
from suanli.errors import InputFileError, InputValueError, UnknownIdError
from suanli.scenario.model import Scenario
from suanli.yamlfile import YamlDocument, parse_yaml, read_yaml, validate

#: The scenario every command runs when none is named.
DEFAULT_SCENARIO = "h200-china-2026"

#: Paths (keys from the top of a scenario) whose value ``extends`` replaces whole instead of
#: merging. Each is one object rather than a set of independent settings: an order plan, a
#: decision policy, the list of uncertainties. Merged, a child could add to or change the
#: parent's entries but never remove one.
REPLACED_WHOLE: frozenset[tuple[str, ...]] = frozenset(
    {("plan",), ("decision", "policy"), ("decision", "placed"), ("uncertainties",)}
)


def builtin_scenarios() -> list[str]:
    """Names of the scenarios that ship with suanli."""
    root = files("suanli.scenario").joinpath("builtin")
    return sorted(e.name.removesuffix(".yaml") for e in root.iterdir() if e.name.endswith(".yaml"))


def _is_path(name_or_path: str | Path) -> bool:
    text = str(name_or_path)
    return isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text


def _located(name_or_path: str | Path, relative_to: Path | None = None) -> str | Path:
    """A path joined to ``relative_to`` (where it is relative), a built-in's name as it is."""
    if not _is_path(name_or_path):
        return str(name_or_path)
    path = Path(name_or_path)
    return relative_to / path if relative_to is not None and not path.is_absolute() else path


def _reference(name_or_path: str | Path, relative_to: Path | None = None) -> str:
    """The name of a built-in, or the absolute path of a file: the same scenario from any directory."""
    located = _located(name_or_path, relative_to)
    return str(located.resolve()) if isinstance(located, Path) else located


def _document(name_or_path: str | Path, relative_to: Path | None = None) -> YamlDocument:
    located = _located(name_or_path, relative_to)
    if isinstance(located, Path):
        return read_yaml(located)
    names = builtin_scenarios()
    if located not in names:
        raise UnknownIdError("scenario", located, suggest(located, names))
    entry = files("suanli.scenario").joinpath("builtin", f"{located}.yaml")
    return parse_yaml(entry.read_text(encoding="utf-8"), f"suanli/scenario/builtin/{located}.yaml")


def deep_merge(
    base: Mapping[str, Any],
    over: Mapping[str, Any],
    replaced_whole: Set[tuple[str, ...]] = frozenset(),
) -> dict[str, Any]:
    """``base`` with ``over`` laid on top: mappings merge recursively, other values replace.

    Parameters
    ----------
    base, over
        The mappings to merge; neither is modified.
    replaced_whole
        Paths (key tuples from the top) at which a value of ``over`` replaces that of
        ``base`` even when both are mappings; :data:`REPLACED_WHOLE` for scenarios.

    Returns
    -------
    dict
        A new mapping; nested mappings that both sides set are new too.
    """
    return _merge(base, over, replaced_whole, ())


def _merge(
    base: Mapping[str, Any],
    over: Mapping[str, Any],
    replaced_whole: Set[tuple[str, ...]],
    at: tuple[str, ...],
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        path = (*at, key)
        if path not in replaced_whole and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value, replaced_whole, path)
        else:
            merged[key] = value
    return merged


def _resolved(doc: YamlDocument, seen: tuple[str, ...] = ()) -> tuple[Any, list[YamlDocument]]:
    """The merged data and the documents it came from, most derived first.

    This is the one place ``extends`` is resolved: the merged data's ``extends`` becomes the
    base's reference (see :func:`_reference`), so that whoever loads it later from the loaded
    scenario gets this same base, whatever the working directory then.
    """
    data = doc.data
    if not isinstance(data, dict) or not data.get("extends"):
        return data, [doc]
    line = doc.line_of(["extends"])
    # A built-in's own relative ``extends`` could only mean the working directory, as before.
    here = None if doc.name.startswith("suanli/") else Path(doc.name).parent
    base_ref = _reference(str(data["extends"]), here)
    if base_ref in seen:
        cycle = " -> ".join([*seen, base_ref])
        raise InputValueError(
            f"scenarios extend each other in a cycle: {cycle}", file=doc.name, line=line, field="extends"
        )
    try:
        base_doc = _document(str(data["extends"]), here)
    except UnknownIdError as exc:
        raise UnknownIdError(
            exc.kind, exc.unknown, exc.suggestions, file=doc.name, line=line, field="extends"
        ) from None
    except InputFileError as exc:
        # Name the base file in the problem, and point at the line that asked for it.
        raise InputFileError(
            f"base scenario {exc.file}: {exc.problem}", file=doc.name, line=line, field="extends"
        ) from None
    base, docs = _resolved(base_doc, (*seen, base_ref))
    merged = deep_merge(base if isinstance(base, dict) else {}, data, REPLACED_WHOLE)
    merged["extends"] = base_ref
    return merged, [doc, *docs]


def load_scenario(name_or_path: str | Path = DEFAULT_SCENARIO) -> Scenario:
    """A built-in scenario by name, or the scenario file at a path (anything with a suffix or a slash).

    Parameters
    ----------
    name_or_path
        A built-in scenario's name, or a path (relative to the working directory).

    Returns
    -------
    Scenario
        The validated scenario, with any ``extends`` merged in (module docstring) and
        ``extends`` holding a reference that loads the same base from any directory.

    Raises
    ------
    InputError
        The file is missing, not YAML or not a valid scenario, or names an unknown base;
        the message points at the file and line at fault.
    """
    doc = _document(name_or_path)
    data, docs = _resolved(doc, (_reference(name_or_path),))
    try:
        return validate(Scenario, doc, data)
    except InputValueError as exc:
        # Point at the file that spells out the bad value (the scenario or one it extends).
        path = [int(p) if p.isdigit() else p for p in (exc.field or "").split(".") if p]
        owner = next((d for d in docs if d.has(path)), doc)
        if owner is doc:
            raise
        raise InputValueError(
            exc.problem, file=owner.name, line=owner.line_of(path), field=exc.field
        ) from exc
