"""Find and read scenarios: built-in ones by name, or a user's YAML file by path."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from suanli.catalog.loader import suggest
from suanli.errors import UnknownIdError
from suanli.scenario.model import Scenario
from suanli.yamlfile import parse_yaml, read_yaml, validate

#: The scenario every command runs when none is named.
DEFAULT_SCENARIO = "h200-china-2026"


def builtin_scenarios() -> list[str]:
    """Names of the scenarios that ship with suanli."""
    root = files("suanli.scenario").joinpath("builtin")
    return sorted(e.name.removesuffix(".yaml") for e in root.iterdir() if e.name.endswith(".yaml"))


@cache
def _builtin(name: str) -> Scenario:
    entry = files("suanli.scenario").joinpath("builtin", f"{name}.yaml")
    doc = parse_yaml(entry.read_text(encoding="utf-8"), f"suanli/scenario/builtin/{name}.yaml")
    return validate(Scenario, doc, doc.data)


def load_scenario(name_or_path: str | Path = DEFAULT_SCENARIO) -> Scenario:
    """A built-in scenario by name, or the scenario file at a path (anything with a suffix or a slash)."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        doc = read_yaml(name_or_path)
        return validate(Scenario, doc, doc.data)
    names = builtin_scenarios()
    if text not in names:
        raise UnknownIdError("scenario", text, suggest(text, names))
    return _builtin(text)
