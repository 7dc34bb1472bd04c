"""Catalog stage: accelerators, systems and LLMs with provenance, from package data and user files."""

from suanli.catalog.accelerator import SPEC_FIELDS, Accelerator
from suanli.catalog.derived import DerivedFigures, derive
from suanli.catalog.llm import LLM, MLA, MoE
from suanli.catalog.loader import Catalog, builtin_catalog, load_catalog
from suanli.catalog.provenance import Count, ExportControl, Figure, Price, Provenance
from suanli.catalog.system import PublishedMFU, System, deployed, server_of

__all__ = [
    "Accelerator",
    "Catalog",
    "Count",
    "DerivedFigures",
    "ExportControl",
    "Figure",
    "LLM",
    "MLA",
    "MoE",
    "Price",
    "Provenance",
    "PublishedMFU",
    "SPEC_FIELDS",
    "System",
    "builtin_catalog",
    "deployed",
    "derive",
    "load_catalog",
    "server_of",
]
