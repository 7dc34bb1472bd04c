"""Fit each stack's GEMM and memory efficiency on the ``calibrate`` split of measurements.

Run ``python -m suanli.perf.calibrate`` to see the fit and ``--write`` to store it (and the
validation residuals that set prediction intervals) in the package data. Only ``calibrate``
points enter the fit; the ``validate`` points are predicted afterwards and never seen by it.

The fit minimises, per stack, the squared log error of its calibration points plus a pull
of weight :data:`PRIOR_PULL` (:data:`LATENCY_PULL` for latencies) towards the hand-set
prior, so that a stack with one point moves only as far as that point demands.
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from functools import partial
from importlib.resources import files
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import least_squares

from suanli.catalog.loader import builtin_catalog
from suanli.errors import InfeasibleError, MissingDataError
from suanli.perf.calibration_data import ResidualTable
from suanli.perf.efficiency import (
    CalibratedFactors,
    EfficiencyFile,
    StackEfficiency,
    apply_calibration,
    efficiency_file,
)
from suanli.perf.hardware import chip_of
from suanli.perf.inference import compute_precision
from suanli.perf.measurements import Measurement, measurements
from suanli.perf.uncertainty import summarize
from suanli.perf.validation import ValidationReport, log_residuals, predict_point, validate_measurements

PRIOR_PULL = 0.5
#: Latencies are known only to an order of magnitude before calibration: a weaker pull.
LATENCY_PULL = 0.1
BOUNDS = (0.05, 1.0)
LATENCY_BOUNDS = (1.0, 2000.0)


def _parameters(point: Measurement) -> list[str]:
    """Names of the factors a point's prediction depends on."""
    chip = chip_of(builtin_catalog().accelerator(point.accelerator))
    if point.kind == "training":
        return [f"gemm.{point.precision or 'bf16'}", "comm_overlap"]
    names = [f"gemm.{compute_precision(chip, point.weight_precision or 'bf16')}", "memory"]
    return [*names, "moe_dispatch_latency_us"] if point.phase == "decode" else names


def _factors(names: list[str], x: np.ndarray) -> CalibratedFactors:
    gemm = {n.split(".")[1]: float(v) for n, v in zip(names, x, strict=True) if n.startswith("gemm.")}
    named = {n: float(v) for n, v in zip(names, x, strict=True) if "." not in n}
    return CalibratedFactors(gemm=gemm, **named)


def _prior_value(prior: StackEfficiency, name: str) -> float:
    return prior.gemm_share(name.split(".")[1]) if name.startswith("gemm.") else float(getattr(prior, name))


def _residuals(
    x: np.ndarray,
    *,
    stack: str,
    names: list[str],
    points: list[Measurement],
    x0: np.ndarray,
    fitted: dict[str, CalibratedFactors],
    source: EfficiencyFile,
) -> np.ndarray:
    """Log errors of ``points`` under factors ``x``, then the pulls towards the priors."""
    table = apply_calibration(source.priors, {**fitted, stack: _factors(names, x)})
    errors = []
    for point in points:
        try:
            errors.append(math.log(predict_point(point, None, table)[0] / point.value))
        except MissingDataError:
            continue
        except InfeasibleError:
            errors.append(-5.0)  # the model rejects a measured configuration: a large miss
    pull = np.array([LATENCY_PULL if n == "moe_dispatch_latency_us" else PRIOR_PULL for n in names])
    return np.concatenate([np.array(errors), pull * np.log(x / x0)])


def fit(source: EfficiencyFile) -> dict[str, CalibratedFactors]:
    """Fitted factors per stack, from the calibrate split and the priors of ``source``."""
    catalog = builtin_catalog()
    by_stack: dict[str, list[Measurement]] = defaultdict(list)
    for point in measurements().points:
        if point.split == "calibrate":
            by_stack[catalog.accelerator(point.accelerator).software_stack].append(point)
    fitted: dict[str, CalibratedFactors] = {}
    for stack in sorted(by_stack):
        points = by_stack[stack]
        names = sorted({name for p in points for name in _parameters(p)})
        prior = source.priors.get(stack, source.priors["default"])
        x0 = np.array([_prior_value(prior, n) for n in names])
        low = np.array([LATENCY_BOUNDS[0] if n == "moe_dispatch_latency_us" else BOUNDS[0] for n in names])
        high = np.array([LATENCY_BOUNDS[1] if n == "moe_dispatch_latency_us" else BOUNDS[1] for n in names])
        objective = partial(
            _residuals, stack=stack, names=names, points=points, x0=x0, fitted=fitted, source=source
        )
        result = least_squares(
            objective, x0, bounds=(low, high), diff_step=np.full(len(names), 1e-3), x_scale=x0 / 5
        )
        fitted[stack] = _factors(names, np.round(result.x, 4))
    return fitted


def residual_table(report: ValidationReport) -> ResidualTable:
    """Residual spread of the validate split per stack and kind."""
    catalog = builtin_catalog()
    stack_of = {a: catalog.accelerator(a).software_stack for a in {r.accelerator for r in report.rows}}
    return ResidualTable(groups={k: summarize(v) for k, v in sorted(log_residuals(report, stack_of).items())})


def _dump(path: Path, text_head: str, data: object) -> None:
    path.write_text(text_head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Fit, report, and with ``--write`` store the calibration in the source tree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the fit in suanli/perf/data")
    args = parser.parse_args(argv)
    source = efficiency_file()
    before = validate_measurements(efficiency=apply_calibration(source.priors, {}))
    fitted = fit(source)
    table = apply_calibration(source.priors, fitted)
    after = validate_measurements(efficiency=table)
    for stack, factors in fitted.items():
        print(f"{stack}: {factors.model_dump(exclude_none=True)}")
    for label, report in (("priors", before), ("calibrated", after)):
        print(
            f"{label}: validate MAPE {100 * (report.overall_validate_mape or 0):.1f} % "
            f"(all {100 * (report.overall_all_mape or 0):.1f} %, {report.predicted} predicted)"
        )
    if not args.write:
        return
    data_dir = Path(str(files("suanli.perf").joinpath("data")))
    eff_path = data_dir / "efficiency.yaml"
    text = eff_path.read_text(encoding="utf-8")
    head = text[: text.index("calibrated:")]
    calibrated_on = sorted(p.id for p in measurements().points if p.split == "calibrate")
    _dump(
        eff_path,
        head,
        {
            "calibrated": {k: v.model_dump(exclude_none=True) for k, v in fitted.items()},
            "calibrated_on": calibrated_on,
        },
    )
    residuals = residual_table(after)
    _dump(
        data_dir / "residuals.yaml",
        "# Written by `python -m suanli.perf.calibrate --write`: RMS of log(measured/predicted)\n"
        "# over the validate split, per stack and kind. Sets the width of prediction intervals.\n",
        residuals.model_dump(),
    )


if __name__ == "__main__":
    main()
