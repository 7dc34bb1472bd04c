"""A plain per-path Python loop of the supply model, as a reference.

The same processes as :mod:`suanli.supply.simulate` (copula-correlated approval and
revocation, capacity factors, input pools loading on the same tension factor, backlog, total
caps, stranding, prices, duty shocks), written one path, one quarter, one accelerator at a
time with Python's ``random``. Tests check that the vectorised simulator agrees with it in
distribution; the benchmark measures how much faster the vectorised one is.
"""

from __future__ import annotations

import bisect
import math
import random
from statistics import NormalDist

from suanli.supply.model import NEVER, SupplyModel

_PHI = NormalDist().cdf


def simulate_reference(  # noqa: PLR0915 - one plain loop, process by process, on purpose
    model: SupplyModel, paths: int, seed: int
) -> list[tuple[list[float], float]]:
    """Useful compute per path and quarter, and each path's total spend."""
    rng = random.Random(seed)
    n_t, n_a = model.shape
    out = []
    for _ in range(paths):
        z = rng.gauss(0.0, 1.0)
        approve, revoke, cap_factor, perf, level = [], [], [], [], []
        for a in range(n_a):
            rho = float(model.tension_loading[a])
            u = _PHI(rho * z + math.sqrt(1 - rho * rho) * rng.gauss(0.0, 1.0))
            cdf = list(model.approval_cdf[a])
            index = bisect.bisect_right(cdf, u)
            approve.append(NEVER if index >= n_t else index)
            v = 1.0 - _PHI(rho * z + math.sqrt(1 - rho * rho) * rng.gauss(0.0, 1.0))
            h = float(model.revocation_hazard[a])
            lasting = (
                NEVER
                if h <= 0
                else math.floor(math.log1p(-min(v, 1 - 1e-12)) / math.log1p(-min(h, 1 - 1e-12)))
            )
            revoke.append(min(approve[a] + 1 + min(lasting, NEVER), NEVER))
            s = float(model.capacity_sigma[a])
            cap_factor.append(math.exp(s * rng.gauss(0.0, 1.0) - s * s / 2))
            perf.append(math.exp(float(model.rate_sigma[a]) * rng.gauss(0.0, 1.0)))
            level.append(rng.gauss(0.0, 1.0) if model.price_sigma[a] > 0 else 0.0)
        pool = []  # one level per input pool, shared by every part that draws on it
        for c in range(len(model.constraints)):
            rho, spread = float(model.constraint_loading[c]), float(model.constraint_sigma[c])
            x = rho * z + math.sqrt(1 - rho * rho) * rng.gauss(0.0, 1.0)
            pool.append(math.exp(-spread * x - spread * spread / 2))
        pending = [0.0] * n_a
        shipped = [0.0] * n_a
        installed = [0.0] * n_a
        spend = 0.0
        shocks = [0] * n_a
        compute = []
        for t in range(n_t):
            for a in range(n_a):
                lead = int(model.lead_time[a])
                if t - lead >= 0:
                    pending[a] += float(model.orders[t - lead, a])
                price = float(model.price[a]) * math.exp(
                    float(model.price_drift[a]) * (t + 1)
                    + float(model.price_sigma[a]) * math.sqrt(t + 1) * level[a]
                )
                if model.duty_shock_probability[a] > 0 and rng.random() < model.duty_shock_probability[a]:
                    shocks[a] += 1
                active = approve[a] <= t < revoke[a]
                now = 0.0
                if active:
                    now = min(
                        pending[a],
                        float(model.capacity[a, t]) * cap_factor[a],
                        float(model.total_cap[a]) - shipped[a],
                        *(float(model.constraint_capacity[c, a, t]) * pool[c] for c in range(len(pool))),
                    )
                pending[a] -= now
                if revoke[a] <= t:
                    pending[a] = 0.0
                shipped[a] += now
                installed[a] += now - (now * float(model.strand_share[a]) if revoke[a] == t + 1 else 0.0)
                duty = max(float(model.duty[a]) + float(model.duty_shock_size[a]) * shocks[a], 0.0)
                prepay = float(model.prepayment_share[a])
                extra = float(model.capex_share[a])
                spend += float(model.orders[t, a]) * prepay * price + now * price * (
                    1.0 - prepay + duty + extra
                )
                spend += installed[a] * float(model.opex_per_quarter[a])
            compute.append(sum(installed[a] * float(model.rate_per_chip[a]) * perf[a] for a in range(n_a)))
        paid = set()
        for a in range(n_a):  # migration: once per stack that the plan orders at all
            if float(model.orders[:, a].sum()) > 0 and model.stack[a] not in paid:
                paid.add(model.stack[a])
                spend += max(
                    float(model.migration[b]) for b in range(n_a) if model.stack[b] == model.stack[a]
                )
        out.append((compute, spend))
    return out
