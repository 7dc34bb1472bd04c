"""Printing for the command line: JSON for machines, Rich tables for people."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from pydantic import BaseModel
from rich.console import Console

# Piped output keeps wide tables whole instead of folding them to 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_json(value: Any) -> None:
    """Print ``value`` (pydantic models, dicts, lists) as indented JSON on stdout."""
    print(json.dumps(_plain(value), indent=2, ensure_ascii=False))


def number(value: float | None, digits: int = 0) -> str:
    """A number for a table cell, with thousands separators; a dash where unknown."""
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"
