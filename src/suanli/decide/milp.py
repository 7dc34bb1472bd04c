"""The procurement plan as a mixed-integer linear program over sample paths, solved by HiGHS.

Sample average approximation: the plan (integer lots per accelerator and quarter, in one
book, or two for a contingent plan) is shared by all S sampled paths; each path has its own
deliveries. Per path ``s``, accelerator ``a`` and quarter ``t``, installed units ``I`` obey

* ``0 <= I[t] - I[t-1] <= capacity[t] * open[t]``  (shipments, only while the licence stands),
* ``I[t] <= lot * (orders arrived by t)``  (nothing ships before it is ordered and its lead time passed),
* ``I[T-1] <= total cap``,

whose largest solution is what the simulator's greedy shipping gives. Shortfall per quarter
is ``max(0, 1 - sum_a rate_a perf_as I / target)``; its sum over quarters is the path's loss.
The objective is expected all-in cost plus ``aversion`` times CVaR of the loss at the tail
share (Rockafellar-Uryasev: ``zeta + sum(u_s) / (tail S)``, ``u_s >= loss_s - zeta``). The
required probability of meeting the target in a quarter is imposed by its convex
approximation, CVaR at ``1 - p`` of (target - compute) <= 0, which implies it
(Nemirovski-Shapiro). Costs are linear in the order: a unit pays its prepayment when
ordered and, on paths where it is ever shipped, price, duty, capex and running costs from
the first open quarter after its arrival (capacity delays are not charged; the
re-simulation reports the exact figure). Budget and policies bind the committed cost at base
prices and the units ordered along every possible history of the approval signal, so a plan
that passes here passes on any path.

References
----------
A. Shapiro, D. Dentcheva and A. Ruszczynski, *Lectures on Stochastic Programming*, SIAM 2009,
ch. 5 (sample average approximation). A. Nemirovski and A. Shapiro, "Convex approximations
of chance constrained programs", SIAM J. Optim. 17(4), 2006.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array, csr_array

from suanli.decide.objective import Preferences
from suanli.decide.sample import Sample
from suanli.errors import InfeasibleError
from suanli.scenario.model import Policy
from suanli.supply.model import SupplyModel

FloatArray = NDArray[np.float64]
INF = np.inf


@dataclass(frozen=True)
class Problem:
    """Everything the program is built from besides the sample."""

    model: SupplyModel
    lot_units: NDArray[np.int64]  # (A,)
    imported: NDArray[np.bool_]  # (A,)
    needs_approval: NDArray[np.bool_]  # (A,)
    preferences: Preferences
    budget_per_quarter: float | None = None
    policies: tuple[Policy, ...] = ()
    contingent: bool = False
    fixed_quarters: int = 0  # orders before this quarter index are fixed to the model's plan
    enforce_chance: bool = True
    chance_tail: float | None = None  # CVaR share of the chance approximation (default 1 - p)
    time_limit_s: float = 60.0
    mip_rel_gap: float = 1e-3

    @property
    def tail_of_chance(self) -> float:
        """The CVaR share the chance approximation averages over."""
        return 1.0 - self.preferences.p_meet_target if self.chance_tail is None else self.chance_tail


@dataclass(frozen=True)
class Solution:
    """A solved program: the books in units, and how the solve went."""

    books: list[FloatArray]  # (T, A) each: static book, then the approved one if contingent
    objective: float  # in-sample objective of the program (currency)
    expected_cost: float
    cvar_shortfall: float
    gap: float
    solve_s: float
    build_s: float
    variables: int
    integer_variables: int
    constraints: int
    max_violation: float
    status: str = field(default="optimal")


class _Columns:
    """Allocates variable indices and keeps their bounds, costs and integrality."""

    def __init__(self) -> None:
        self.lower: list[FloatArray] = []
        self.upper: list[FloatArray] = []
        self.cost: list[FloatArray] = []
        self.integer: list[FloatArray] = []
        self.count = 0

    def add(
        self, n: int, lower: object = 0.0, upper: object = INF, cost: object = 0.0, integer: bool = False
    ) -> NDArray[np.int64]:
        index = np.arange(self.count, self.count + n)
        self.count += n
        self.lower.append(np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)).copy())
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)).copy())
        self.cost.append(np.broadcast_to(np.asarray(cost, dtype=np.float64), (n,)).copy())
        self.integer.append(np.full(n, 1.0 if integer else 0.0))
        return index

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        cat = np.concatenate
        return cat(self.lower), cat(self.upper), cat(self.cost), cat(self.integer)


class _Rows:
    """Collects constraint rows as COO triplets with their bounds."""

    def __init__(self) -> None:
        self.rows: list[NDArray[np.int64]] = []
        self.cols: list[NDArray[np.int64]] = []
        self.vals: list[FloatArray] = []
        self.lower: list[FloatArray] = []
        self.upper: list[FloatArray] = []
        self.names: list[tuple[str, int]] = []  # (group, first row)
        self.count = 0

    def add(  # noqa: PLR0917 - a block of rows reads like a COO triplet with its bounds
        self,
        group: str,
        rows: NDArray[np.int64],
        cols: NDArray[np.int64],
        vals: object,
        n: int,
        lower: object,
        upper: object,
    ) -> None:
        self.names.append((group, self.count))
        self.rows.append(np.asarray(rows, dtype=np.int64) + self.count)
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), np.shape(rows)).copy())
        self.lower.append(np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)).copy())
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)).copy())
        self.count += n

    def group_of(self, row: int) -> str:
        """The label of the block that ``row`` belongs to."""
        name = self.names[0][0]
        for group, first in self.names:
            if first > row:
                break
            name = group
        return name


def _histories(n_t: int, contingent: bool) -> list[int]:
    """Possible first quarters whose orders know the approval (``n_t``: never)."""
    return list(range(1, n_t + 1)) if contingent else [n_t]


class _Program:
    """The program under construction: columns, rows, and the indices later blocks refer to."""

    def __init__(self, problem: Problem, sample: Sample, money_scale: float | None) -> None:
        self.problem = problem
        self.sample = sample
        self.model = problem.model
        self.prefs = problem.preferences
        self.n_t, self.n_a = self.model.shape
        self.s_count = sample.paths
        self.books = 2 if problem.contingent else 1
        self.lots = problem.lot_units.astype(np.float64)
        self.level = float(self.model.target.max())
        self.scale = money_scale or max(self.prefs.budget or 0.0, 1.0e9)
        self.cols = _Columns()
        self.rows = _Rows()
        # Installed work is counted in target units: units x rate per chip / target, so that
        # the rows mix coefficients near 1 (HiGHS struggles with raw chips against tokens/s).
        self.unit_work = self.model.rate_per_chip / self.level  # (A,): share of the target per chip
        self.x: list[NDArray[np.int64]] = []
        self.cum: list[NDArray[np.int64]] = []
        self.inst: NDArray[np.int64] = np.empty((0, 0, 0), dtype=np.int64)
        self.short: dict[int, NDArray[np.int64]] = {}
        self.risk_columns: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None
        self.upper = np.empty(0)
        self.installed_cols: NDArray[np.int64] = np.empty(0, dtype=np.int64)

    def orders(self) -> None:
        """Integer lots per book, accelerator and quarter, with their expected cost."""
        # Bounds from capacity and rules: lots beyond 3x median capacity cannot ship.
        reach = 3.0 * self.model.capacity.sum(axis=1) / self.lots
        reach = np.minimum(
            reach, np.where(np.isfinite(self.model.total_cap), self.model.total_cap / self.lots + 1, INF)
        )
        upper = np.ceil(np.broadcast_to(reach, (self.n_t, self.n_a))).copy()
        fixed = self.problem.fixed_quarters
        switch = self.sample.switch
        x = self.x
        for b in range(self.books):
            up = upper.copy()
            low = np.zeros_like(up)
            if b == 0 and any(p.kind == "no_prepayment_before_approval" for p in self.problem.policies):
                up[:, self.problem.needs_approval & (self.model.prepayment_share > 0)] = 0.0
            if b == 1:
                up[0] = 0.0  # nothing is known of approval before the first quarter ends
            past = self.model.orders[:fixed] / self.lots
            low[:fixed], up[:fixed] = past, past
            # Expected cost of a lot ordered in this book: paths on which the book applies.
            if not self.problem.contingent:
                applies = np.ones((self.n_t, self.s_count), dtype=bool)
            elif b == 1:
                applies = switch[None, :] <= np.arange(self.n_t)[:, None]
            else:
                applies = switch[None, :] > np.arange(self.n_t)[:, None]
            mean_unit = (self.sample.unit_cost * applies[None, :, :]).sum(axis=2) / self.s_count  # (A, T)
            cost = (mean_unit.T * self.lots[None, :]) / self.scale
            integer = np.ones((self.n_t, self.n_a), dtype=bool)
            integer[:fixed] = False
            index = np.empty((self.n_t, self.n_a), dtype=np.int64)
            for flag in (True, False):
                mask = integer == flag
                index[mask] = self.cols.add(int(mask.sum()), low[mask], up[mask], cost[mask], integer=flag)
            x.append(index)

        self.upper = upper

    def cumulative(self) -> None:
        """Cumulative orders per book in target units."""
        # Cumulative orders per book, in target units: X[b][t, a] = lot * work * orders through t.
        cum = self.cum
        for b in range(self.books):
            cx = self.cols.add(self.n_t * self.n_a, 0.0, INF).reshape(self.n_t, self.n_a)
            r = np.arange(self.n_t * self.n_a).reshape(self.n_t, self.n_a)
            rr = [r.ravel(), r.ravel()]
            cc = [cx.ravel(), self.x[b].ravel()]
            vv = [
                np.ones(self.n_t * self.n_a),
                -np.broadcast_to(self.lots * self.unit_work, (self.n_t, self.n_a)).ravel(),
            ]
            prev = r[1:].ravel()
            rr.append(prev)
            cc.append(cx[:-1].ravel())
            vv.append(-np.ones(prev.size))
            self.rows.add(
                "cumulative orders",
                np.concatenate(rr),
                np.concatenate(cc),
                np.concatenate(vv),
                self.n_t * self.n_a,
                0.0,
                0.0,
            )
            cum.append(cx)

    def migration(self) -> None:
        """One-off migration per stack: a binary any order of the stack switches on."""
        # One-off migration per stack: a binary that any order of the stack switches on.
        for stack in dict.fromkeys(self.model.stack):
            members = [a for a, k in enumerate(self.model.stack) if k == stack]
            if max(self.model.migration[members]) <= 0:
                continue
            y = self.cols.add(
                1, 0.0, 1.0, float(max(self.model.migration[members])) / self.scale, integer=True
            )
            for b in range(self.books):
                for a in members:
                    big = float(self.upper[:, a].sum() * self.lots[a] * self.unit_work[a]) + 1.0
                    self.rows.add(
                        "migration",
                        np.zeros(2, dtype=np.int64),
                        np.array([self.cum[b][-1, a], y[0]]),
                        np.array([1.0, -big]),
                        1,
                        -INF,
                        0.0,
                    )

    def installed(self) -> None:
        """Installed work per path: shipments within capacity, never ahead of orders."""
        # Installed units per path: variables only from the quarter supply first opens.
        ever = np.maximum.accumulate(self.sample.open, axis=1)  # (A, T, S): opened by t
        inst = np.full((self.n_a, self.n_t, self.s_count), -1, dtype=np.int64)
        total_cap = np.where(np.isfinite(self.model.total_cap), self.model.total_cap, INF)
        count = int(ever.sum())
        created = self.cols.add(
            count,
            0.0,
            np.broadcast_to((total_cap * self.unit_work)[:, None, None], ever.shape)[ever],
            -1e-4 / self.s_count,
        )
        inst[ever] = created
        a_i, t_i, s_i = np.nonzero(ever)
        me = inst[a_i, t_i, s_i]
        # Shipments: 0 <= I[t] - I[t-1] <= capacity * open.
        prev = np.where(t_i > 0, inst[a_i, np.maximum(t_i - 1, 0), s_i], -1)
        has_prev = prev >= 0
        n = me.size
        r = np.arange(n)
        cap = self.sample.capacity[a_i, t_i, s_i] * self.sample.open[a_i, t_i, s_i] * self.unit_work[a_i]
        self.rows.add(
            "shipments",
            np.concatenate([r, r[has_prev]]),
            np.concatenate([me, prev[has_prev]]),
            np.concatenate([np.ones(n), -np.ones(int(has_prev.sum()))]),
            n,
            0.0,
            cap,
        )
        # Backlog: I[t] <= lot * orders arrived by t (book by path history).
        arrive = t_i - self.model.lead_time[a_i]
        ok = arrive >= 0
        rr_list = [r]
        cc_list = [me]
        vv_list = [np.ones(n)]
        if self.books == 1:
            rr_list.append(r[ok])
            cc_list.append(self.cum[0][arrive[ok], a_i[ok]])
            vv_list.append(-np.ones(int(ok.sum())))
        else:
            k = self.sample.switch[s_i]
            before = ok & (arrive < k)
            rr_list.append(r[before])
            cc_list.append(self.cum[0][arrive[before], a_i[before]])
            vv_list.append(-np.ones(int(before.sum())))
            after = ok & (arrive >= k)
            rr_list += [r[after], r[after]]
            cc_list += [self.cum[0][k[after] - 1, a_i[after]], self.cum[1][arrive[after], a_i[after]]]
            vv_list += [-np.ones(int(after.sum())), -np.ones(int(after.sum()))]
            known = after & (k >= 1)
            rr_list.append(r[known])
            cc_list.append(self.cum[1][k[known] - 1, a_i[known]])
            vv_list.append(np.ones(int(known.sum())))
        self.rows.add(
            "backlog", np.concatenate(rr_list), np.concatenate(cc_list), np.concatenate(vv_list), n, -INF, 0.0
        )
        # Rows before any order can arrive force I to 0, which is what the simulator gives.

        self.inst = inst
        self.installed_cols = created

    def targets(self) -> None:
        """Shortfall per target quarter and the chance-constraint approximation."""
        # Compute, shortfall and the chance approximation per target quarter.
        weight = self.sample.perf  # (A, S): installed work counts at the path's performance
        targeted = [t for t in range(self.n_t) if self.model.target[t] > 0]
        chance = [t for t in targeted if t >= self.prefs.chance_from] if self.problem.enforce_chance else []
        short = self.short
        for t in targeted:
            sh = self.cols.add(self.s_count, 0.0, 1.0)
            short[t] = sh
            a_k, s_k = np.nonzero(self.inst[:, t, :] >= 0)
            self.rows.add(
                "shortfall",
                np.concatenate([np.arange(self.s_count), s_k]),
                np.concatenate([sh, self.inst[a_k, t, s_k]]),
                np.concatenate([np.ones(self.s_count), weight[a_k, s_k]]),
                self.s_count,
                self.model.target[t] / self.level,
                INF,
            )
            if t in chance:
                v = self.cols.add(self.s_count, 0.0, INF)
                eta = self.cols.add(1, -INF, INF)
                self.rows.add(
                    "chance target",
                    np.concatenate([np.arange(self.s_count), np.arange(self.s_count), s_k]),
                    np.concatenate([v, np.repeat(eta, self.s_count), self.inst[a_k, t, s_k]]),
                    np.concatenate([np.ones(self.s_count), np.ones(self.s_count), weight[a_k, s_k]]),
                    self.s_count,
                    self.model.target[t] / self.level,
                    INF,
                )
                self.rows.add(
                    f"chance target {self.model.quarters[t]}",
                    np.zeros(self.s_count + 1, dtype=np.int64),
                    np.append(v, eta),
                    np.append(np.full(self.s_count, 1.0 / (self.problem.tail_of_chance * self.s_count)), 1.0),
                    1,
                    -INF,
                    0.0,
                )

    def risk(self) -> None:
        """CVaR of the loss in target-quarters."""
        # CVaR of the loss (target-quarters short): u_s >= loss_s - zeta.
        if list(self.short) and self.prefs.aversion > 0:
            zeta = self.cols.add(1, -INF, INF, self.prefs.aversion / self.scale)
            u = self.cols.add(
                self.s_count, 0.0, INF, self.prefs.aversion / (self.prefs.tail * self.s_count * self.scale)
            )
            sh_all = np.concatenate([self.short[t] for t in list(self.short)])
            s_rep = np.tile(np.arange(self.s_count), len(list(self.short)))
            self.rows.add(
                "cvar",
                np.concatenate([np.arange(self.s_count), np.arange(self.s_count), s_rep]),
                np.concatenate([u, np.repeat(zeta, self.s_count), sh_all]),
                np.concatenate([np.ones(self.s_count), np.ones(self.s_count), -np.ones(sh_all.size)]),
                self.s_count,
                0.0,
                INF,
            )

            self.risk_columns = (zeta, u)


def solve(problem: Problem, sample: Sample, money_scale: float | None = None) -> Solution:
    """Solve the program on ``sample``; raise :class:`InfeasibleError` when nothing is feasible."""
    started = time.perf_counter()
    program = _Program(problem, sample, money_scale)
    for step in (program.orders, program.cumulative, program.migration, program.installed):
        step()
    program.targets()
    program.risk()
    _plan_rules(problem, program.rows, program.x, program.lots, program.scale)
    cols, rows, x = program.cols, program.rows, program.x
    prefs, model, lots, scale = program.prefs, program.model, program.lots, program.scale
    fixed, books, s_count = problem.fixed_quarters, program.books, program.s_count

    lower, upper_b, cost, integrality = cols.arrays()
    matrix = csr_array(
        coo_array(
            (np.concatenate(rows.vals), (np.concatenate(rows.rows), np.concatenate(rows.cols))),
            shape=(rows.count, cols.count),
        )
    )
    row_lo, row_hi = np.concatenate(rows.lower), np.concatenate(rows.upper)
    build_s = time.perf_counter() - started
    t0 = time.perf_counter()
    result = milp(
        cost,
        integrality=integrality.astype(np.int64),
        bounds=Bounds(lower, upper_b),
        constraints=LinearConstraint(matrix, row_lo, row_hi),
        options={"time_limit": problem.time_limit_s, "mip_rel_gap": problem.mip_rel_gap, "disp": False},
    )
    solve_s = time.perf_counter() - t0
    if result.x is None:
        raise InfeasibleError(f"no plan satisfies the constraints ({result.message})")
    values = np.asarray(result.x)
    activity = matrix @ values
    excess = np.maximum(row_lo - activity, activity - row_hi)
    violation = float(max(excess.max(initial=0.0), 0.0))
    status = "optimal" if result.status == 0 else str(result.message)
    if violation > 1e-6:  # HiGHS said optimal but a row is off: say which, never hide it
        status += f"; rows of {rows.group_of(int(excess.argmax()))} violated by {violation:.3g}"
    books_units = [np.round(values[x[b]]) * lots[None, :] for b in range(books)]
    for b in range(books):
        books_units[b][:fixed] = model.orders[:fixed]
    risk = 0.0
    if program.risk_columns is not None:
        zeta, u = program.risk_columns
        risk = float(values[zeta][0] + values[u].sum() / (prefs.tail * s_count))
    # The objective without the tie-breaking reward on installed work.
    plain = cost.copy()
    plain[program.installed_cols] = 0.0
    objective = float(plain @ values) * scale
    return Solution(
        books=books_units,
        objective=objective,
        expected_cost=objective - prefs.aversion * risk,
        cvar_shortfall=risk,
        gap=float(getattr(result, "mip_gap", 0.0) or 0.0),
        solve_s=solve_s,
        build_s=build_s,
        variables=cols.count,
        integer_variables=int(integrality.sum()),
        constraints=rows.count,
        max_violation=violation,
        status=status,
    )


def _plan_rules(
    problem: Problem, rows: _Rows, x: list[NDArray[np.int64]], lots: FloatArray, scale: float
) -> None:
    """Budget, per-quarter budget and policies, along every history of the approval signal."""
    model = problem.model
    n_t, n_a = model.shape
    steps = np.arange(1, n_t + 1)[:, None]
    base_price = model.price[None, :] * np.exp(model.price_drift[None, :] * steps)  # (T, A)
    capex = base_price * (1.0 + model.capex_share[None, :] + model.duty[None, :]) * lots[None, :]
    running = (
        np.maximum(n_t - (np.arange(n_t)[:, None] + model.lead_time[None, :]), 0)
        * model.opex_per_quarter[None, :]
    )
    committed = capex + running * lots[None, :]  # per lot ordered in quarter t
    histories = _histories(n_t, problem.contingent)

    def along(k: int, coef: FloatArray) -> tuple[NDArray[np.int64], FloatArray]:
        """Columns and coefficients of sum_t coef[t, a] x[book(t)][t, a] for history k."""
        book = np.zeros((n_t, n_a), dtype=np.int64)
        book[np.arange(n_t) >= k] = 1
        idx = np.where(book == 0, x[0], x[-1])
        return idx.ravel(), coef.ravel()

    budget = problem.preferences.budget
    if budget is not None:
        for k in histories:
            c, v = along(k, committed / scale)
            rows.add("budget", np.zeros(c.size, dtype=np.int64), c, v, 1, -INF, budget / scale)
    if problem.budget_per_quarter is not None:
        for b in range(len(x)):
            r = np.repeat(np.arange(n_t), n_a)
            rows.add(
                "budget per quarter",
                r,
                x[b].ravel(),
                (capex / scale).ravel(),
                n_t,
                -INF,
                problem.budget_per_quarter / scale,
            )
    imported = problem.imported.astype(np.float64)
    for policy in problem.policies:
        if policy.kind == "cap_units":
            members = np.isin(np.array(model.accelerators), policy.accelerators).astype(np.float64)
            coef = np.broadcast_to(members * lots, (n_t, n_a))
            for k in histories:
                c, v = along(k, coef)
                rows.add(
                    f"policy {policy.name}",
                    np.zeros(c.size, dtype=np.int64),
                    c,
                    v,
                    1,
                    -INF,
                    float(policy.units or 0.0),
                )
            continue
        if policy.kind == "no_prepayment_before_approval":
            continue  # bounds of the static book, set with the orders
        share = float(policy.share or 0.0)
        ratio = float(policy.ratio or 0.0)
        per_unit = {
            "max_foreign_share": imported - share,
            "min_domestic_share": share - (1.0 - imported),
            "bundling_ratio": ratio * imported - (1.0 - imported),
        }[policy.kind] * lots
        for k in histories:
            for t in range(n_t):
                coef = np.zeros((n_t, n_a))
                coef[: t + 1] = per_unit
                c, v = along(k, coef)
                keep = v != 0
                rows.add(
                    f"policy {policy.name}",
                    np.zeros(int(keep.sum()), dtype=np.int64),
                    c[keep],
                    v[keep],
                    1,
                    -INF,
                    0.0,
                )
