"""Performance stage: LLM training and inference on any accelerator, with uncertainty.

``predict_training`` and ``predict_inference`` answer "how much useful work does this chip
do on this workload?"; ``validate_measurements`` checks the answers against published
measurements bundled with the package.
"""

from suanli.perf.efficiency import EfficiencyTable, efficiency_table
from suanli.perf.inference import predict_inference
from suanli.perf.measurements import Measurement, measurements
from suanli.perf.results import InferencePrediction, Interval, RankedPlan, TrainingPrediction
from suanli.perf.training import predict_training
from suanli.perf.validation import ValidationReport, validate_measurements

__all__ = [
    "EfficiencyTable",
    "InferencePrediction",
    "Interval",
    "Measurement",
    "RankedPlan",
    "TrainingPrediction",
    "ValidationReport",
    "efficiency_table",
    "measurements",
    "predict_inference",
    "predict_training",
    "validate_measurements",
]
