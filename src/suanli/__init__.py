"""suanli (算力): decide which AI accelerators to buy, how many, when, and at what risk.

The public API is re-exported here; see ``__all__``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("suanli")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from suanli.analysis import Analysis, SimulationReport, analyze_scenario, simulate_scenario
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
from suanli.decide.optimize import Optimization, optimize_scenario
from suanli.decide.robust import Robustness, Sensitivity, robustness, sensitivity
from suanli.economics.compare import Comparison, compare
from suanli.economics.costs import CostInputs, default_cost_inputs
from suanli.economics.fleet import FleetSize, size_fleet
from suanli.economics.order import ConsistencyCheck, Order, OrderSummary, Span, summarize_order
from suanli.economics.tco import TCO, fleet_tco
from suanli.economics.workload import ServingTarget, TrainingTarget, Workload, load_workload
from suanli.errors import (
    InfeasibleError,
    InputError,
    InputFileError,
    InputSyntaxError,
    InputValueError,
    SuanliError,
    UnknownIdError,
)
from suanli.perf import (
    InferencePrediction,
    TrainingPrediction,
    ValidationReport,
    predict_inference,
    predict_training,
    validate_measurements,
)
from suanli.scenario import Scenario, load_scenario
from suanli.scenario.compile import ScenarioCompiler
from suanli.supply.run import SimulationResult

__all__ = [
    "Accelerator",
    "Analysis",
    "Catalog",
    "Comparison",
    "ConsistencyCheck",
    "CostInputs",
    "DerivedFigures",
    "Figure",
    "FleetSize",
    "InfeasibleError",
    "InferencePrediction",
    "InputError",
    "InputFileError",
    "InputSyntaxError",
    "InputValueError",
    "LLM",
    "Optimization",
    "Order",
    "OrderSummary",
    "Price",
    "Robustness",
    "Scenario",
    "ScenarioCompiler",
    "Sensitivity",
    "ServingTarget",
    "SimulationReport",
    "SimulationResult",
    "Span",
    "SuanliError",
    "TCO",
    "TrainingPrediction",
    "TrainingTarget",
    "UnknownIdError",
    "ValidationReport",
    "Workload",
    "__version__",
    "analyze_scenario",
    "builtin_catalog",
    "compare",
    "default_cost_inputs",
    "derive",
    "fleet_tco",
    "load_catalog",
    "load_scenario",
    "load_workload",
    "optimize_scenario",
    "predict_inference",
    "predict_training",
    "robustness",
    "sensitivity",
    "simulate_scenario",
    "size_fleet",
    "summarize_order",
    "validate_measurements",
]
