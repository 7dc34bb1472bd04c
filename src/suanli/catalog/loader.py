"""The catalog: built-in accelerators, systems and LLMs from package data, plus user files.

Built-in records ship one YAML file per entry under ``suanli/catalog/accelerators``,
``suanli/catalog/systems`` and ``suanli/catalog/models``, read lazily through
:mod:`importlib.resources` and cached.

A user catalog file either holds one record (the same format as a built-in file) or lists
records under ``accelerators:``, ``systems:`` and ``models:``. A record with an id already in the catalog
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
from suanli.catalog.provenance import Price, known_by
from suanli.catalog.system import System, server_of
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
    """Accelerators, the systems they are deployed in, and LLMs, by id."""

    accelerators: Mapping[str, Accelerator] = field(default_factory=dict)
    models: Mapping[str, LLM] = field(default_factory=dict)
    systems: Mapping[str, System] = field(default_factory=dict)

    def accelerator(self, accelerator_id: str) -> Accelerator:
        """The accelerator ``accelerator_id``; an :class:`UnknownIdError` names the closest ids."""
        try:
            return self.accelerators[accelerator_id]
        except KeyError:
            hints = suggest(accelerator_id, self.accelerators)
            raise UnknownIdError("accelerator", accelerator_id, hints) from None

    def system(self, system_id: str) -> System:
        """The system ``system_id``; an :class:`UnknownIdError` names the closest ids."""
        try:
            return self.systems[system_id]
        except KeyError:
            raise UnknownIdError("system", system_id, suggest(system_id, self.systems)) from None

    def systems_of(self, accelerator_id: str) -> list[System]:
        """Every system built from ``accelerator_id``, by id."""
        return sorted(
            (s for s in self.systems.values() if s.accelerator == accelerator_id), key=lambda s: s.id
        )

    def default_system(self, accelerator_id: str) -> System:
        """The system fleets of ``accelerator_id`` are sized in unless told otherwise.

        The accelerator's ``default_system``; else its only system record; else a plain
        server built from the accelerator's own figures (:func:`server_of`).
        """
        accelerator = self.accelerator(accelerator_id)
        if accelerator.default_system is not None:
            return self.system(accelerator.default_system)
        own = self.systems_of(accelerator_id)
        return own[0] if len(own) == 1 else server_of(accelerator)

    def deployment(self, accelerator_id: str, system_id: str | None = None) -> System:
        """``system_id`` (which must hold ``accelerator_id``), or the accelerator's default."""
        if system_id is None:
            return self.default_system(accelerator_id)
        system = self.system(system_id)
        if system.accelerator != accelerator_id:
            hints = [s.id for s in self.systems_of(accelerator_id)]
            raise InputValueError(
                f"system {system_id!r} holds {system.accelerator}, not {accelerator_id}"
                + (f"; systems of {accelerator_id}: {', '.join(hints)}" if hints else ""),
                field="system",
            )
        return system

    def as_of(self, date: str | None) -> Catalog:
        """The catalog as it could be read on ``date``: dated entries after it are dropped.

        Prices are the dated records of the catalog (specs do not change once published);
        :func:`excluded_after` lists what this view leaves out.
        """
        if date is None:
            return self

        def known(prices: tuple[Price, ...]) -> tuple[Price, ...]:
            return tuple(p for p in prices if known_by(p.date, date))

        return Catalog(
            accelerators={
                k: a.model_copy(update={"prices": known(a.prices)}) for k, a in self.accelerators.items()
            },
            models=self.models,
            systems={k: s.model_copy(update={"prices": known(s.prices)}) for k, s in self.systems.items()},
        )

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
    systems: dict[str, System] = {}
    for doc in _package_records("systems"):
        system = validate(System, doc, doc.data)
        _check_id_matches_name(doc, system.id)
        _check_accelerator_known(doc, [], system, accelerators)
        systems[system.id] = system
    return Catalog(accelerators=accelerators, models=models, systems=systems)


def _check_accelerator_known(
    doc: YamlDocument, path: list[int | str], system: System, accelerators: Mapping[str, Accelerator]
) -> None:
    if system.accelerator not in accelerators:
        raise UnknownIdError(
            "accelerator",
            system.accelerator,
            suggest(system.accelerator, accelerators),
            file=doc.name,
            line=doc.line_of([*path, "accelerator"]),
            field=".".join(map(str, [*path, "accelerator"])),
        )


def _kind_of(data: dict[str, Any]) -> str:
    if "layers" in data:
        return "models"
    if "accelerator" in data and "chips" in data:
        return "systems"
    return "accelerators"


def _records(doc: YamlDocument) -> list[tuple[str, list[int | str], Any]]:
    """``(kind, path, data)`` for each record of a user catalog file."""
    data = doc.data
    if not isinstance(data, dict):
        raise InputValueError("a catalog file must be a mapping", file=doc.name, line=doc.line_of([]))
    if "id" in data:
        return [(_kind_of(data), [], data)]
    unknown = sorted(set(data) - {"accelerators", "systems", "models"})
    if unknown or not data:
        raise InputValueError(
            "a catalog file holds one record (with 'id') or lists under 'accelerators'/'systems'/'models'",
            file=doc.name,
            line=doc.line_of([unknown[0]] if unknown else []),
            field=unknown[0] if unknown else None,
        )
    records: list[tuple[str, list[int | str], Any]] = []
    for kind in ("accelerators", "systems", "models"):
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
    if "price" in record:  # a price given replaces the base's dated entries whole
        merged.pop("prices", None)
    merged.update({k: v for k, v in record.items() if k != "base"})
    return merged


def with_user_files(catalog: Catalog, paths: Iterable[str | Path]) -> Catalog:
    """``catalog`` with the records of each user file added or replaced, in order."""
    accelerators = dict(catalog.accelerators)
    models = dict(catalog.models)
    systems = dict(catalog.systems)
    for path in paths:
        doc = read_yaml(path)
        for kind, where, record in _records(doc):
            if kind == "accelerators":
                data = _resolve_base(doc, where, record, accelerators)
                accelerator = validate(Accelerator, doc, data, where)
                accelerators[accelerator.id] = accelerator
            elif kind == "systems":
                data = _resolve_base(doc, where, record, systems)
                system = validate(System, doc, data, where)
                _check_accelerator_known(doc, where, system, accelerators)
                systems[system.id] = system
            else:
                data = _resolve_base(doc, where, record, models)
                model = validate(LLM, doc, data, where)
                models[model.id] = model
    return Catalog(accelerators=accelerators, models=models, systems=systems)


def load_catalog(user_files: Iterable[str | Path] = ()) -> Catalog:
    """The built-in catalog extended by ``user_files`` (``--catalog FILE`` on the command line)."""
    return with_user_files(builtin_catalog(), user_files)
