"""suanli (算力): decide which AI accelerators to buy, how many, when, and at what risk.

The public API is re-exported here; see ``__all__``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("suanli")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from suanli.catalog import (
    LLM,
    Accelerator,
    Catalog,
    DerivedFigures,
    Figure,
    Price,
    builtin_catalog,
    derive,
    load_catalog,
)
from suanli.economics.order import ConsistencyCheck, Order, OrderSummary, Span, summarize_order
from suanli.errors import (
    InfeasibleError,
    InputError,
    InputFileError,
    InputSyntaxError,
    InputValueError,
    SuanliError,
    UnknownIdError,
)
from suanli.scenario import Scenario, load_scenario

__all__ = [
    "Accelerator",
    "Catalog",
    "ConsistencyCheck",
    "DerivedFigures",
    "Figure",
    "InfeasibleError",
    "InputError",
    "InputFileError",
    "InputSyntaxError",
    "InputValueError",
    "LLM",
    "Order",
    "OrderSummary",
    "Price",
    "Scenario",
    "Span",
    "SuanliError",
    "UnknownIdError",
    "__version__",
    "builtin_catalog",
    "derive",
    "load_catalog",
    "load_scenario",
    "summarize_order",
]
