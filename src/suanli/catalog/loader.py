"""The catalog: built-in accelerators and LLMs from package data, plus user catalog files.

Built-in records ship one YAML file per entry under ``suanli/catalog/accelerators`` and
``suanli/catalog/models``, read lazily through :mod:`importlib.resources` and cached.

A user catalog file either holds one record (the same format as a built-in file) or lists
records under ``accelerators:`` and ``models:``. A record with an id already in the catalog
replaces it; a record with ``base: ID`` starts from that record and replaces the top-level
fields it gives (a figure is replaced whole, so that its value never keeps another source).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from suanli.catalog.accelerator import Accelerator
from suanli.catalog.llm import LLM
from suanli.errors import InputValueError, UnknownIdError
from suanli.yamlfile import YamlDocument, parse_yaml, read_yaml, validate


def suggest(unknown: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """The known ids closest to ``unknown``: substring matches first, then similar spellings."""
    known = sorted(known)
    needle = unknown.lower()
    hits = [k for k in known if needle and (needle in k or k in needle)]
    close = difflib.get_close_matches(needle, known, n=limit, cutoff=0.4)
    return list(dict.fromkeys([*hits, *close]))[:limit]


@dataclass(frozen=True)
class Catalog:
    """Accelerators and LLMs by id."""

    accelerators: Mapping[str, Accelerator] = field(default_factory=dict)
    models: Mapping[str, LLM] = field(default_factory=dict)

    def accelerator(self, accelerator_id: str) -> Accelerator:
        """The accelerator ``accelerator_id``; an :class:`UnknownIdError` names the closest ids."""
        try:
            return self.accelerators[accelerator_id]
        except KeyError:
            hints = suggest(accelerator_id, self.accelerators)
            raise UnknownIdError("accelerator", accelerator_id, hints) from None

    def model(self, model_id: str) -> LLM:
        """The LLM ``model_id``; an :class:`UnknownIdError` names the closest ids."""
        try:
            return self.models[model_id]
        except KeyError:
            raise UnknownIdError("model", model_id, suggest(model_id, self.models)) from None


def _package_records(folder: str) -> list[YamlDocument]:
    root = files("suanli.catalog").joinpath(folder)
    docs = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            docs.append(
                parse_yaml(entry.read_text(encoding="utf-8"), f"suanli/catalog/{folder}/{entry.name}")
            )
    return docs


def _check_id_matches_name(doc: YamlDocument, record_id: str) -> None:
    stem = Path(doc.name).stem
    if stem != record_id:
        raise InputValueError(
            f"id must equal the file name {stem!r} (got {record_id!r})",
            file=doc.name,
            line=doc.line_of(["id"]),
            field="id",
        )


@cache
def builtin_catalog() -> Catalog:
    """The catalog that ships with suanli (read once, then cached)."""
    accelerators: dict[str, Accelerator] = {}
    for doc in _package_records("accelerators"):
        accelerator = validate(Accelerator, doc, doc.data)
        _check_id_matches_name(doc, accelerator.id)
        accelerators[accelerator.id] = accelerator
    models: dict[str, LLM] = {}
    for doc in _package_records("models"):
        model = validate(LLM, doc, doc.data)
        _check_id_matches_name(doc, model.id)
        models[model.id] = model
    return Catalog(accelerators=accelerators, models=models)


def _records(doc: YamlDocument) -> list[tuple[str, list[int | str], Any]]:
    """``(kind, path, data)`` for each record of a user catalog file."""
    data = doc.data
    if not isinstance(data, dict):
        raise InputValueError("a catalog file must be a mapping", file=doc.name, line=doc.line_of([]))
    if "id" in data:
        return [("models" if "layers" in data else "accelerators", [], data)]
    unknown = sorted(set(data) - {"accelerators", "models"})
    if unknown or not data:
        raise InputValueError(
            "a catalog file holds one record (with 'id') or lists under 'accelerators'/'models'",
            file=doc.name,
            line=doc.line_of([unknown[0]] if unknown else []),
            field=unknown[0] if unknown else None,
        )
    records: list[tuple[str, list[int | str], Any]] = []
    for kind in ("accelerators", "models"):
        entries = data.get(kind) or []
        if not isinstance(entries, list):
            raise InputValueError(
                "must be a list of records", file=doc.name, line=doc.line_of([kind]), field=kind
            )
        records += [(kind, [kind, i], entry) for i, entry in enumerate(entries)]
    return records


def _resolve_base(doc: YamlDocument, path: list[int | str], record: Any, known: Mapping[str, Any]) -> Any:
    if not isinstance(record, dict) or "base" not in record:
        return record
    base_id = record["base"]
    if base_id not in known:
        raise UnknownIdError(
            "base record",
            str(base_id),
            suggest(str(base_id), known),
            file=doc.name,
            line=doc.line_of([*path, "base"]),
            field=".".join(map(str, [*path, "base"])),
        )
    merged = known[base_id].model_dump(exclude_none=True)
    merged.update({k: v for k, v in record.items() if k != "base"})
    return merged


def with_user_files(catalog: Catalog, paths: Iterable[str | Path]) -> Catalog:
    """``catalog`` with the records of each user file added or replaced, in order."""
    accelerators = dict(catalog.accelerators)
    models = dict(catalog.models)
    for path in paths:
        doc = read_yaml(path)
        for kind, where, record in _records(doc):
            if kind == "accelerators":
                data = _resolve_base(doc, where, record, accelerators)
                accelerator = validate(Accelerator, doc, data, where)
                accelerators[accelerator.id] = accelerator
            else:
                data = _resolve_base(doc, where, record, models)
                model = validate(LLM, doc, data, where)
                models[model.id] = model
    return Catalog(accelerators=accelerators, models=models)


def load_catalog(user_files: Iterable[str | Path] = ()) -> Catalog:
    """The built-in catalog extended by ``user_files`` (``--catalog FILE`` on the command line)."""
    return with_user_files(builtin_catalog(), user_files)
