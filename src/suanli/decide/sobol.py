"""Variance-based sensitivity of a plan: Sobol' first-order and total indices.

Where :func:`suanli.decide.robust.sensitivity` swings one uncertainty at a time around the
scenario's nominal values, this apportions the variance of each output over all the
scenario's ``uncertainties`` at once, each drawn uniformly over its range. The first-order
index ``S1`` of an uncertainty is the share of the output's variance it explains alone; its
total index ``ST`` adds every interaction it takes part in, so ``ST >= S1`` up to sampling
error, and ``ST`` near 0 means the uncertainty can be fixed anywhere in its range without
changing the output.

The points come from Saltelli's extension of a scrambled Sobol' sequence (``N (D + 2)``
points for ``N`` base samples and ``D`` uncertainties, no second-order indices); at each, the
scenario is rebuilt with those values and the plan is played on the same paths (common random
numbers), so that the indices measure the assumptions and not the Monte Carlo noise between
points. The outputs are the mean probability of meeting the target over the quarters the
requirement covers (``p_meet``, as in the tornado) and the expected cost (``expected_cost``).

References
----------
A. Saltelli, P. Annoni, I. Azzini, F. Campolongo, M. Ratto and S. Tarantola, "Variance based
sensitivity analysis of model output. Design and estimator for the total sensitivity index",
Computer Physics Communications 181(2), 259-270, 2010 (the sampling design and the first-order
estimator). M. J. W. Jansen, "Analysis of variance designs for model output", Computer Physics
Communications 117(1-2), 35-43, 1999 (the total-index estimator). I. M. Sobol', "Global
sensitivity indices for nonlinear mathematical models and their Monte Carlo estimates",
Mathematics and Computers in Simulation 55, 271-280, 2001. J. Herman and W. Usher, "SALib: An
open-source Python library for sensitivity analysis", Journal of Open Source Software 2(9), 2017.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from suanli.decide.objective import score_draws
from suanli.decide.plans import Plan
from suanli.decide.robust import p_meet_required_mean, varied
from suanli.errors import InputValueError
from suanli.scenario.compile import ScenarioCompiler
from suanli.scenario.model import Scenario
from suanli.supply.executors import Executor, map_chunks
from suanli.supply.simulate import draw_block

FloatArray = NDArray[np.float64]
OUTPUTS = ("p_meet", "expected_cost")
CHUNK_POINTS = 16  # points per task sent to the executor; the results do not depend on it
BOOTSTRAP_RESAMPLES = 100
CONFIDENCE_LEVEL = 0.95


class SobolIndex(BaseModel):
    """The Sobol' indices of one uncertainty on one output, with 95 % bootstrap half-widths."""

    model_config = ConfigDict(frozen=True)

    name: str
    first_order: float  # S1: share of the output's variance explained by this uncertainty alone
    first_order_conf: float
    total_order: float  # ST: S1 plus every interaction this uncertainty takes part in
    total_order_conf: float


class SobolIndices(BaseModel):
    """Variance-based sensitivity of one plan's outputs to the scenario's uncertainties."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    plan: str
    outputs: dict[str, list[SobolIndex]]  # "p_meet", "expected_cost": one per uncertainty, in scenario order
    base_samples: int
    evaluations: int  # base_samples * (uncertainties + 2)
    paths: int
    seed: int


@dataclass(frozen=True)
class _SobolJob:
    scenario: Scenario
    compiler: ScenarioCompiler
    plan: Plan
    paths: int
    seed: int


def outputs_at(job: _SobolJob, values: dict[str, float]) -> tuple[float, float]:
    """Mean P(meet target) over the required quarters and expected cost with uncertainties at ``values``."""
    model, prefs, imported = varied(job.scenario, job.compiler, values)
    # The same paths at every point: differences come from the assumptions alone.
    outcome = score_draws(job.plan, model, draw_block(model, job.seed, 0, job.paths), prefs, imported)
    mean = p_meet_required_mean(outcome.p_meet_target, prefs, model.quarters, model.target)
    return mean, outcome.expected_cost


def _chunk(job: _SobolJob, names: Sequence[str], rows: list[list[float]]) -> list[tuple[float, float]]:
    return [outputs_at(job, dict(zip(names, values, strict=True))) for values in rows]


def _indices(problem: dict[str, Any], names: Sequence[str], y: FloatArray, seed: int) -> list[SobolIndex]:
    """SALib's first-order and total indices of ``y``; all 0 for an output that does not vary."""
    from SALib.analyze import sobol as sobol_analyze  # noqa: PLC0415 - optional extra, checked by caller

    if np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
        # No variance to apportion (beyond rounding); SALib would divide by a zero standard deviation.
        return [
            SobolIndex(name=n, first_order=0.0, first_order_conf=0.0, total_order=0.0, total_order_conf=0.0)
            for n in names
        ]
    # SALib falls back to NumPy's global generator when its seed is 0 (falsy): seed + 1 keeps
    # the bootstrap intervals reproducible for every seed >= 0.
    result = sobol_analyze.analyze(
        problem,
        y,
        calc_second_order=False,
        num_resamples=BOOTSTRAP_RESAMPLES,
        conf_level=CONFIDENCE_LEVEL,
        seed=seed + 1,
    )
    return [
        SobolIndex(
            name=name,
            first_order=float(result["S1"][j]),
            first_order_conf=float(result["S1_conf"][j]),
            total_order=float(result["ST"][j]),
            total_order_conf=float(result["ST_conf"][j]),
        )
        for j, name in enumerate(names)
    ]


def sobol_indices(
    scenario: Scenario,
    plan: Plan,
    *,
    base_samples: int = 64,
    paths: int = 256,
    seed: int = 0,
    compiler: ScenarioCompiler | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> SobolIndices:
    """Sobol' first-order and total indices of ``plan``'s P(meet target) and expected cost.

    Parameters
    ----------
    scenario
        The scenario; its ``uncertainties`` are drawn uniformly over ``[low, high]``.
    plan
        The plan to play at every point.
    base_samples
        ``N``, a power of two (the balance of Sobol' points needs it): the analysis makes
        ``N (D + 2)`` evaluations for ``D`` uncertainties.
    paths
        Monte Carlo paths per evaluation, the same paths at every point.
    seed
        Seeds the Sobol' scrambling, the paths and the bootstrap of the confidence intervals.
    compiler
        Compiles the varied scenarios (default: one on the built-in catalog).
    executor
        Runs chunks of points (default: a :class:`LocalExecutor`, closed afterwards; one
        passed in is left open). The numbers do not depend on it.
    progress
        Called with the number of points done after each chunk.

    Returns
    -------
    SobolIndices
        Per output (``p_meet``, ``expected_cost``) one :class:`SobolIndex` per uncertainty,
        in the scenario's order, with 95 % bootstrap half-widths.

    Raises
    ------
    InputValueError
        Without the ``sensitivity`` extra (SALib), without uncertainties, or with a
        ``base_samples``, ``paths`` or ``seed`` out of range.

    Notes
    -----
    An output that takes the same value at every point has all its indices 0. The indices are
    estimates: with small ``base_samples`` they can fall a little below 0 or ``S1`` above
    ``ST``, by about their confidence half-widths.

    References
    ----------
    A. Saltelli et al., Computer Physics Communications 181(2), 259-270, 2010 (design and
    first-order estimator); M. J. W. Jansen, Computer Physics Communications 117(1-2), 35-43,
    1999 (total-index estimator).
    """
    try:
        from SALib.sample import sobol as sobol_sample  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        raise InputValueError(
            "needs the sensitivity extra: pip install 'suanli[sensitivity]'", field="--sobol"
        ) from exc
    if not scenario.uncertainties:
        raise InputValueError("the scenario states no uncertainties to explore", field="uncertainties")
    if base_samples < 2 or base_samples & (base_samples - 1):
        raise InputValueError(f"must be a power of two >= 2 (got {base_samples})", field="base_samples")
    if paths < 1:
        raise InputValueError(f"must be >= 1 (got {paths})", field="paths")
    if seed < 0:
        raise InputValueError(f"must be >= 0 (got {seed})", field="seed")
    compiler = compiler or ScenarioCompiler()
    names = [u.name for u in scenario.uncertainties]
    problem: dict[str, Any] = {
        "num_vars": len(names),
        "names": names,
        "bounds": [[u.low, u.high] for u in scenario.uncertainties],
    }
    points = np.asarray(
        sobol_sample.sample(problem, base_samples, calc_second_order=False, seed=seed), dtype=np.float64
    )
    rows = [points[i].tolist() for i in range(len(points))]
    chunks = [rows[i : i + CHUNK_POINTS] for i in range(0, len(rows), CHUNK_POINTS)]
    # Size the fleets once here, so that every chunk (pickled to a Dask worker) finds them cached.
    compiler.compile(scenario)
    job = _SobolJob(scenario, compiler, plan, paths, seed)
    results = map_chunks(partial(_chunk, job, names), chunks, executor, progress)
    values = np.array(results, dtype=np.float64)  # (points, outputs)
    return SobolIndices(
        scenario=scenario.id,
        plan=plan.name,
        outputs={out: _indices(problem, names, values[:, k], seed) for k, out in enumerate(OUTPUTS)},
        base_samples=base_samples,
        evaluations=len(rows),
        paths=paths,
        seed=seed,
    )
