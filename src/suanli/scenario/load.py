"""Find and read scenarios: built-in ones by name, or a user's YAML file by path.

A scenario with ``extends: BASE`` is the base's data with its own keys laid over it:
mappings merge key by key, anything else (lists, numbers) is replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from suanli.catalog.loader import suggest
from suanli.errors import InputValueError, UnknownIdError
from suanli.scenario.model import Scenario
from suanli.yamlfile import YamlDocument, parse_yaml, read_yaml, validate

#: The scenario every command runs when none is named.
DEFAULT_SCENARIO = "h200-china-2026"


def builtin_scenarios() -> list[str]:
    """Names of the scenarios that ship with suanli."""
    root = files("suanli.scenario").joinpath("builtin")
    return sorted(e.name.removesuffix(".yaml") for e in root.iterdir() if e.name.endswith(".yaml"))


def _is_path(name_or_path: str | Path) -> bool:
    text = str(name_or_path)
    return isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text


def _document(name_or_path: str | Path, relative_to: Path | None = None) -> YamlDocument:
    if _is_path(name_or_path):
        path = Path(name_or_path)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        return read_yaml(path)
    names = builtin_scenarios()
    if str(name_or_path) not in names:
        raise UnknownIdError("scenario", str(name_or_path), suggest(str(name_or_path), names))
    entry = files("suanli.scenario").joinpath("builtin", f"{name_or_path}.yaml")
    return parse_yaml(entry.read_text(encoding="utf-8"), f"suanli/scenario/builtin/{name_or_path}.yaml")


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on top: mappings merge recursively, other values replace."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolved(doc: YamlDocument, seen: tuple[str, ...] = ()) -> tuple[Any, list[YamlDocument]]:
    """The merged data and the documents it came from, most derived first."""
    data = doc.data
    if not isinstance(data, dict) or not data.get("extends"):
        return data, [doc]
    base_name = str(data["extends"])
    if base_name in seen:
        raise InputValueError(
            f"scenarios extend each other in a cycle: {' -> '.join([*seen, base_name])}",
            file=doc.name,
            line=doc.line_of(["extends"]),
            field="extends",
        )
    here = None if doc.name.startswith("suanli/") else Path(doc.name).parent
    try:
        base_doc = _document(base_name, here)
    except UnknownIdError as exc:
        raise UnknownIdError(
            exc.kind,
            exc.unknown,
            exc.suggestions,
            file=doc.name,
            line=doc.line_of(["extends"]),
            field="extends",
        ) from None
    base, docs = _resolved(base_doc, (*seen, base_name))
    return deep_merge(base if isinstance(base, dict) else {}, data), [doc, *docs]


def load_scenario(name_or_path: str | Path = DEFAULT_SCENARIO) -> Scenario:
    """A built-in scenario by name, or the scenario file at a path (anything with a suffix or a slash)."""
    doc = _document(name_or_path)
    data, docs = _resolved(doc, (str(name_or_path),))
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
