"""Catalog stage: accelerators and LLMs with provenance, from package data and user files."""

from suanli.catalog.accelerator import SPEC_FIELDS, Accelerator
from suanli.catalog.derived import DerivedFigures, derive
from suanli.catalog.llm import LLM, MLA, MoE
from suanli.catalog.loader import Catalog, builtin_catalog, load_catalog
from suanli.catalog.provenance import ExportControl, Figure, Price, Provenance

__all__ = [
    "Accelerator",
    "Catalog",
    "DerivedFigures",
    "ExportControl",
    "Figure",
    "LLM",
    "MLA",
    "MoE",
    "Price",
    "Provenance",
    "SPEC_FIELDS",
    "builtin_catalog",
    "derive",
    "load_catalog",
]
