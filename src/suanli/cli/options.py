"""Option types and parsers shared by several commands."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from suanli.errors import InputValueError

CatalogFiles = Annotated[
    list[Path] | None,
    typer.Option("--catalog", help="User catalog YAML adding or overriding records (repeatable)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgbt]?)\s*$", re.IGNORECASE)


def parse_quantity(text: str | None, option: str) -> float | None:
    """``"4194304"``, ``"4M"`` or ``"15.6T"`` as a number; ``None`` stays ``None``."""
    if text is None:
        return None
    match = _QUANTITY.match(text.replace(",", "").replace("_", ""))
    if match is None:
        raise InputValueError(f"expected a number such as 4194304, 4M or 15T (got {text!r})", field=option)
    value = float(match.group(1)) * _SUFFIX[match.group(2).lower()]
    if value <= 0:
        raise InputValueError(f"must be > 0 (got {text!r})", field=option)
    return value
