"""Enumerate valid parallelism plans as arrays, optionally pinning some dimensions.

The grid is built with NumPy broadcasting and filtered by divisibility, so a search over
tens of thousands of plans costs one vectorised evaluation, not a Python loop per plan.

The search keeps to plans practitioners run and counts what it leaves out, by reason
(:data:`PRACTICE`): tensor parallelism stays inside one scale-up domain, context
parallelism leaves every rank at least :data:`CP_MIN_TOKENS` tokens, and ZeRO-3 is not
combined with pipeline parallelism. A dimension the user pins is exempt from these rules
but must still be valid (:func:`check_pinned`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from suanli.errors import InputValueError
from suanli.perf.training_model import RECOMPUTE, IntArray, Plans
from suanli.perf.workload import ModelWork

TP_CHOICES = (1, 2, 4, 8, 16, 32, 64)
CP_CHOICES = (1, 2, 4, 8, 16, 32)
MB_CHOICES = (1, 2, 4, 8)
VP_CHOICES = (1, 2, 4, 8)
ZERO_CHOICES = (0, 1, 3)
ETP_CHOICES = (1, 2, 4, 8)
#: Context parallelism is a long-context tool: Llama 3 used CP 16 only for 131k-token
#: sequences (arXiv 2407.21783, Table 4), Megatron-Core recipes use CP 2 at 8k for 70B+.
CP_MIN_TOKENS = 4096
PLAN_NAMES = ("tp", "pp", "dp", "cp", "ep", "etp", "vp", "mb", "recompute", "zero")

#: Why the search leaves a plan out although it would divide evenly.
PRACTICE = {
    "tp-beyond-scaleup": (
        "tensor parallelism across the scale-up domain (its all-gathers would cross the scale-out network)"
    ),
    "cp-short-slices": f"context parallelism leaving fewer than {CP_MIN_TOKENS} tokens per rank",
    "zero3-with-pp": (
        "ZeRO-3 together with pipeline parallelism (Megatron-LM and DeepSpeed do not combine them)"
    ),
}


@dataclass(frozen=True)
class Search:
    """The plans to evaluate and how many were left out as unpractised, by reason."""

    plans: Plans
    rejected: dict[str, int]


def _divisors(n: int, limit: int) -> list[int]:
    return [d for d in range(1, min(n, limit) + 1) if n % d == 0]


def check_pinned(work: ModelWork, chips: int, pinned: Mapping[str, int | str]) -> None:
    """Raise :class:`InputValueError` naming the first pinned dimension that cannot run."""
    _check_values(chips, pinned)
    _check_fit(work, chips, {k: int(v) for k, v in pinned.items() if k != "recompute"})


def _check_values(chips: int, pinned: Mapping[str, int | str]) -> None:
    """Each pinned value on its own: known name, integer, in range."""
    for name, value in pinned.items():
        if name not in PLAN_NAMES:
            raise InputValueError(f"unknown plan dimension (use {', '.join(PLAN_NAMES)})", field=name)
        if name == "recompute":
            if str(value) not in RECOMPUTE:
                raise InputValueError(f"must be one of {', '.join(RECOMPUTE)} (got {value!r})", field=name)
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputValueError(f"must be an integer (got {value!r})", field=name)
        if name == "zero":
            if not 0 <= value <= 3:
                raise InputValueError(f"must be a ZeRO stage 0-3 (got {value})", field=name)
        elif value < 1:
            raise InputValueError(f"must be >= 1 (got {value})", field=name)
        elif name in {"tp", "pp", "dp", "cp", "ep", "etp"} and value > chips:
            raise InputValueError(f"must be <= the {chips} chips (got {value})", field=name)


def _check_fit(work: ModelWork, chips: int, get: Mapping[str, int]) -> None:
    """The pinned values against the model and the chip count."""
    if "tp" in get and work.heads % get["tp"]:
        raise InputValueError(
            f"must divide the model's {work.heads} attention heads (got {get['tp']})", field="tp"
        )
    if "pp" in get and get["pp"] > work.layers:
        raise InputValueError(f"must be <= the model's {work.layers} layers (got {get['pp']})", field="pp")
    for name in ("ep", "etp"):
        if get.get(name, 1) > 1 and not work.experts:
            raise InputValueError(f"the model has no experts (got {get[name]})", field=name)
    if work.experts and "ep" in get and work.experts % get["ep"]:
        raise InputValueError(f"must divide the model's {work.experts} experts (got {get['ep']})", field="ep")
    degrees = [get[k] for k in ("tp", "pp", "dp", "cp") if k in get]
    product = math.prod(degrees)
    if len(degrees) == 4 and product != chips:
        raise InputValueError(f"tp*pp*dp*cp = {product} must equal the {chips} chips", field="dp")
    if chips % product:
        first = next(k for k in ("tp", "pp", "dp", "cp") if k in get)
        raise InputValueError(
            f"the pinned degrees' product {product} must divide the {chips} chips", field=first
        )


def enumerate_plans(
    work: ModelWork,
    chips: int,
    seq_len: int,
    global_batch_tokens: float,
    pinned: Mapping[str, int | str] | None = None,
    *,
    scaleup_domain: int | None = None,
) -> Search:
    """All practised plans for ``chips`` chips that divide the model, batch and chips evenly.

    ``pinned`` fixes any of :data:`PLAN_NAMES`; the others are searched. The product
    ``tp * pp * dp * cp`` always equals ``chips``; the expert group ``ep * etp`` is folded
    over the ``tp * cp * dp`` chips of a pipeline stage (Megatron-Core's parallel folding,
    arXiv 2504.14960), so it may span data- and context-parallel ranks.
    """
    pinned = dict(pinned or {})
    check_pinned(work, chips, pinned)
    sequences = round(global_batch_tokens / seq_len)

    def choices(name: str, default: list[int]) -> list[int]:
        if name not in pinned:
            return default
        value = pinned[name]
        return [RECOMPUTE.index(str(value))] if name == "recompute" else [int(value)]

    tp = choices("tp", [t for t in TP_CHOICES if work.heads % t == 0 and t <= chips])
    cp = choices("cp", [c for c in CP_CHOICES if seq_len % (2 * c) == 0 and c <= chips] or [1])
    pp = choices("pp", _divisors(chips, work.layers))
    experts = [e for e in _divisors(work.experts, chips) if e & (e - 1) == 0] if work.experts else [1]
    ep = choices("ep", experts)
    etp = choices("etp", list(ETP_CHOICES) if work.experts else [1])
    mb = choices("mb", list(MB_CHOICES))
    vp = choices("vp", list(VP_CHOICES))
    recompute = choices("recompute", list(range(len(RECOMPUTE))))
    zero = choices("zero", list(ZERO_CHOICES))

    grids = np.meshgrid(
        *(np.asarray(c, dtype=np.int64) for c in (tp, cp, pp, ep, etp, mb, vp, recompute, zero)),
        indexing="ij",
    )
    t, c, p, e, et, m, v, r, z = (g.ravel() for g in grids)
    inner = t * c * p
    ok = chips % inner == 0
    d = np.where(ok, chips // np.maximum(inner, 1), 0)
    if "dp" in pinned:
        ok &= d == int(pinned["dp"])
    ok &= d >= 1
    ok &= ((t * c * d) % (e * et)) == 0  # the expert group folds over the stage's chips
    ok &= (et <= t) | ("etp" in pinned)
    ok &= sequences % np.maximum(d * m, 1) == 0
    micro = sequences // np.maximum(d * m, 1)
    stage_layers = -(-work.layers // p)
    ok &= (v == 1) | ((p > 1) & (stage_layers % v == 0) & (micro % p == 0))

    practice = {
        "tp-beyond-scaleup": (t > (scaleup_domain or chips)) & ("tp" not in pinned),
        "cp-short-slices": (seq_len // c < CP_MIN_TOKENS) & (c > 1) & ("cp" not in pinned),
        "zero3-with-pp": (z >= 3) & (p > 1) & ("zero" not in pinned and "pp" not in pinned),
    }
    rejected = {}
    for reason, mask in practice.items():
        rejected[reason] = int((ok & mask).sum())
        ok &= ~mask
    index: IntArray = np.flatnonzero(ok)
    plans = Plans(
        tp=t[index],
        pp=p[index],
        dp=d[index],
        cp=c[index],
        ep=e[index],
        vp=v[index],
        mb=m[index],
        recompute=r[index],
        zero=z[index],
        etp=et[index],
    )
    return Search(plans=plans, rejected={k: n for k, n in rejected.items() if n})
