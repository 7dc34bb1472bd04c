"""One prediction protocol: a workload target on chips of an accelerator or system.

``predict(target, hardware, chips, catalog)`` answers training and serving targets alike
with a :class:`Prediction` (tokens/s, its P10-P90, the plan, warnings and the full detail of
the performance model). Answers are memoised per (target, accelerator, system, chips) for
the life of the process, so ``compare``, fleet sizing, scenario compilation, the simulator
and the optimiser never compute the same rate twice.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict

from suanli.catalog.accelerator import Accelerator
from suanli.catalog.loader import Catalog
from suanli.catalog.system import System, deployed
from suanli.economics.workload import Target, TrainingTarget
from suanli.errors import InfeasibleError, MissingDataError, SuanliError
from suanli.perf import predict_inference, predict_training
from suanli.perf.efficiency import evidence_vintage
from suanli.perf.results import InferencePrediction, Interval, TrainingPrediction

#: Most answers kept; beyond it the oldest are dropped (a scenario sweep stays bounded).
CACHE_LIMIT = 20_000


class Prediction(BaseModel):
    """What ``chips`` chips deliver on one target: the common face of both models.

    ``tokens_per_s`` counts trained tokens for training and output tokens for serving;
    ``goodput`` is the share of wall time a training run advances (1 for serving), already
    applied to neither ``tokens_per_s`` nor ``interval``.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["training", "serving"]
    target: str
    accelerator: str
    system: str | None
    chips: int
    tokens_per_s: float
    interval: Interval
    mfu: float | None
    goodput: float
    plan: dict[str, int | str]
    warnings: list[str]
    detail: TrainingPrediction | InferencePrediction


_cache: dict[tuple[str, str, str, int, str], Prediction | SuanliError] = {}
_stats = {"hits": 0, "misses": 0}


def _fingerprint(*parts: BaseModel | None) -> str:
    text = "|".join("" if p is None else p.model_dump_json() for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _split(hardware: Accelerator | System, catalog: Catalog) -> tuple[Accelerator, System | None]:
    if isinstance(hardware, System):
        return catalog.accelerator(hardware.accelerator), hardware
    return hardware, None


def predict(target: Target, hardware: Accelerator | System, chips: int, catalog: Catalog) -> Prediction:
    """Predict ``target`` on ``chips`` chips of ``hardware`` (an accelerator or a system).

    A system sets the scale-up domain and links; a bare accelerator uses its own figures.
    Raises what the performance model raises (:class:`~suanli.errors.InfeasibleError` when
    no plan fits, :class:`~suanli.errors.MissingDataError` when the catalog lacks a figure).
    """
    accelerator, system = _split(hardware, catalog)
    key = (
        _fingerprint(target, catalog.model(target.model)),
        _fingerprint(accelerator),
        _fingerprint(system),
        chips,
        evidence_vintage(),
    )
    found = _cache.get(key)
    if found is not None:
        _stats["hits"] += 1
        if isinstance(found, SuanliError):
            raise found  # an impossible layout stays impossible: remembered, not re-searched
        return found
    _stats["misses"] += 1
    try:
        result = _predict(target, accelerator, system, chips, catalog)
    except (InfeasibleError, MissingDataError) as exc:
        _remember(key, exc)
        raise
    _remember(key, result)
    return result


def _remember(key: tuple[str, str, str, int, str], answer: Prediction | SuanliError) -> None:
    if len(_cache) >= CACHE_LIMIT:
        _cache.pop(next(iter(_cache)))
    _cache[key] = answer


def _predict(
    target: Target, accelerator: Accelerator, system: System | None, chips: int, catalog: Catalog
) -> Prediction:
    chip = accelerator if system is None else deployed(accelerator, system)
    domain = None if system is None else system.domain
    model = catalog.model(target.model)
    common = {
        "target": target.label,
        "accelerator": accelerator.id,
        "system": None if system is None else system.id,
        "chips": chips,
    }
    if isinstance(target, TrainingTarget):
        train = predict_training(
            model,
            chip,
            chips,
            seq_len=target.seq_len,
            global_batch_tokens=target.global_batch_tokens,
            precision=target.precision,
            top_k=1,
            scaleup_domain=domain,
        )
        return Prediction(
            kind="training",
            tokens_per_s=train.tokens_per_s,
            interval=train.interval,
            mfu=train.mfu,
            goodput=train.goodput,
            plan=train.plan,
            warnings=train.warnings,
            detail=train,
            **common,
        )
    serve = predict_inference(
        model,
        chip,
        chips,
        input_tokens=target.input_tokens,
        output_tokens=target.output_tokens,
        tpot_ms=target.tpot_ms,
        weight_precision=target.weight_precision,
        kv_precision=target.kv_precision,
        scaleup_domain=domain,
    )
    return Prediction(
        kind="serving",
        tokens_per_s=serve.tokens_per_s,
        interval=serve.interval,
        mfu=None,
        goodput=1.0,
        plan=dict(serve.plan),
        warnings=[],
        detail=serve,
        **common,
    )


def cache_info() -> dict[str, int]:
    """Hits, misses and entries of the prediction cache."""
    return {**_stats, "entries": len(_cache)}


def clear_cache() -> None:
    """Forget every memoised answer (for benchmarks and tests)."""
    _cache.clear()
    _stats.update(hits=0, misses=0)
