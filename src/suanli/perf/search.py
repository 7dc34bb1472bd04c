"""Enumerate valid parallelism plans as arrays, optionally pinning some dimensions.

The grid is built with NumPy broadcasting and filtered by divisibility, so a search over
tens of thousands of plans costs one vectorised evaluation, not a Python loop per plan.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from suanli.perf.training_model import RECOMPUTE, IntArray, Plans
from suanli.perf.workload import ModelWork

TP_CHOICES = (1, 2, 4, 8, 16, 32, 64)
CP_CHOICES = (1, 2, 4, 8, 16, 32)
MB_CHOICES = (1, 2, 4, 8)
VP_CHOICES = (1, 2, 4, 8)
ZERO_CHOICES = (0, 1, 3)


def _divisors(n: int, limit: int) -> list[int]:
    return [d for d in range(1, min(n, limit) + 1) if n % d == 0]


def enumerate_plans(
    work: ModelWork,
    chips: int,
    seq_len: int,
    global_batch_tokens: float,
    pinned: Mapping[str, int | str] | None = None,
) -> Plans:
    """All plans for ``chips`` chips that divide the model, batch and chips evenly.

    ``pinned`` fixes any of ``tp, pp, dp, cp, ep, vp, mb, recompute, zero``; the others are
    searched. The product ``tp * pp * dp * cp`` always equals ``chips``.
    """
    pinned = dict(pinned or {})
    sequences = round(global_batch_tokens / seq_len)

    def choices(name: str, default: list[int]) -> list[int]:
        if name not in pinned:
            return default
        value = pinned[name]
        return [RECOMPUTE.index(str(value))] if name == "recompute" else [int(value)]

    tp = choices("tp", [t for t in TP_CHOICES if work.heads % t == 0 and t <= chips])
    cp = choices("cp", [c for c in CP_CHOICES if seq_len % (2 * c) == 0 and c <= chips])
    pp = choices("pp", _divisors(chips, work.layers))
    experts = [e for e in _divisors(work.experts, chips) if e & (e - 1) == 0] if work.experts else [1]
    ep = choices("ep", experts)
    mb = choices("mb", list(MB_CHOICES))
    vp = choices("vp", list(VP_CHOICES))
    recompute = choices("recompute", list(range(len(RECOMPUTE))))
    zero = choices("zero", list(ZERO_CHOICES))

    grids = np.meshgrid(
        *(np.asarray(c, dtype=np.int64) for c in (tp, cp, pp, ep, mb, vp, recompute, zero)), indexing="ij"
    )
    t, c, p, e, m, v, r, z = (g.ravel() for g in grids)
    inner = t * c * p
    ok = chips % inner == 0
    d = np.where(ok, chips // np.maximum(inner, 1), 0)
    if "dp" in pinned:
        ok &= d == int(pinned["dp"])
    ok &= d >= 1
    ok &= (d % e) == 0  # experts are spread across data-parallel ranks
    ok &= sequences % np.maximum(d * m, 1) == 0
    micro = sequences // np.maximum(d * m, 1)
    stage_layers = -(-work.layers // p)
    ok &= (v == 1) | ((p > 1) & (stage_layers % v == 0) & (micro % p == 0))
    index: IntArray = np.flatnonzero(ok)
    return Plans(
        tp=t[index],
        pp=p[index],
        dp=d[index],
        cp=c[index],
        ep=e[index],
        vp=v[index],
        mb=m[index],
        recompute=r[index],
        zero=z[index],
    )
