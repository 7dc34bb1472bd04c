"""The same program as :mod:`suanli.decide.milp`, solved by decomposition (L-shaped cuts).

On a fixed plan, a path's deliveries are the simulator's greedy shipments: installed work
``I[t] = min(I[t-1] + capacity[t], orders arrived by t, total cap)``, a minimum of affine
functions of the orders, hence concave in them. The path's shortfall, the CVaR of its loss
and the CVaR approximation of the chance target are then convex in the orders, and one
evaluation of all paths (vectorised, a few milliseconds for thousands of paths) gives their
values and subgradients. A small master program over the orders alone (the same order
columns, budget and policy rows as the full program) collects these as cuts:

* ``theta >= CVaR(loss)(x_k) + g_k . (x - x_k)`` for the risk term, and
* ``CVaR_{1-p}(1 - compute_t)(x_k) + h_k . (x - x_k) <= 0`` per required quarter.

Its value is a lower bound on the program's optimum and every evaluated chance-feasible
plan an upper bound; cuts are taken both at the master's solution and, for stability, at
its midpoint with the best plan so far ("in-out" separation). The relaxation is solved to a
tight gap, then the master with integer lots is re-solved, adding cuts at each integer plan,
until the gap between the best integer plan and the integer master's bound closes. The work
per iteration grows linearly with the number of paths, where the full program's simplex
grows much faster.

References
----------
R. M. Van Slyke and R. Wets, "L-shaped linear programs with applications to optimal control
and stochastic programming", SIAM J. Appl. Math. 17(4), 1969. W. Ben-Ameur and J. Neto,
"Acceleration of cutting-plane and column generation algorithms", Networks 49(1), 2007.
J. Linderoth and S. Wright, "Decomposition algorithms for stochastic programming on a
computational grid", Comput. Optim. Appl. 24, 2003.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import highspy
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_array, csr_array

from suanli.decide.milp import INF, Problem, Solution, _plan_rules, _Program
from suanli.decide.sample import Sample
from suanli.errors import InfeasibleError

FloatArray = NDArray[np.float64]
#: A chance term counts as met within HiGHS' primal feasibility tolerance (its default 1e-7,
#: on target shares), so that a cut the master may violate by that much is not re-added forever.
FEASIBLE = 1e-6


def cvar_weights(losses: FloatArray, tail: float) -> tuple[float, FloatArray]:
    """CVaR of ``losses`` at ``tail`` and the path weights whose sum of losses gives it."""
    n = losses.shape[0]
    order = np.argsort(-losses, kind="stable")
    share = tail * n
    whole = int(np.floor(share))
    weights = np.zeros(n)
    weights[order[:whole]] = 1.0 / share
    if whole < n:
        weights[order[whole]] = (share - whole) / share
    return float(weights @ losses), weights


@dataclass(frozen=True)
class Evaluation:
    """Risk values of a plan on the sample and their subgradients per book (T, A), per lot."""

    risk: float  # CVaR of the loss, target-quarters
    risk_grad: list[FloatArray]
    chance: dict[int, float]  # quarter -> CVaR_{1-p}(target - compute), <= 0 when met
    chance_grad: dict[int, list[FloatArray]]


class Recourse:
    """Greedy shipments of plans on a sample, with subgradients."""

    def __init__(self, problem: Problem, sample: Sample) -> None:
        model = problem.model
        self.problem = problem
        self.sample = sample
        self.n_t, self.n_a = model.shape
        level = float(model.target.max())
        self.work = problem.lot_units * model.rate_per_chip / level  # target share per lot (A,)
        unit_work = model.rate_per_chip / level
        self.capacity = sample.capacity * sample.open * unit_work[:, None, None]  # (A, T, S)
        self.total = np.where(np.isfinite(model.total_cap), model.total_cap * unit_work, INF)
        self.targets = model.target / level
        self.targeted = [t for t in range(self.n_t) if model.target[t] > 0]
        prefs = problem.preferences
        self.chance_quarters = (
            [t for t in self.targeted if t >= prefs.chance_from] if problem.enforce_chance else []
        )
        t = np.arange(self.n_t)
        switch = sample.switch
        self.masks = (
            [np.ones((self.n_t, sample.paths), dtype=bool)]
            if not problem.contingent
            else [t[:, None] < switch[None, :], t[:, None] >= switch[None, :]]
        )

    def _arrived(self, books: list[FloatArray]) -> FloatArray:
        """Work ordered through each quarter on each path (T, A, S), before lead times."""
        cum = [np.cumsum(b, axis=0) * self.work[None, :] for b in books]  # (T, A)
        if len(books) == 1:
            return np.broadcast_to(cum[0][:, :, None], (self.n_t, self.n_a, self.sample.paths))
        k = self.sample.switch  # first quarter of the approved book per path
        t = np.arange(self.n_t)[:, None]
        before = np.minimum(t, k[None, :] - 1)  # (T, S): last static quarter counted
        static = np.where(before[:, None, :] >= 0, cum[0][np.maximum(before, 0)].transpose(0, 2, 1), 0.0)
        start = np.where(k >= 1, cum[1][np.maximum(k - 1, 0)].T, 0.0)  # (A, S)
        later = np.where((t >= k[None, :])[:, None, :], cum[1][:, :, None] - start[None, :, :], 0.0)
        return np.asarray(static + later, dtype=np.float64)

    def installed_work(self, books: list[FloatArray]) -> FloatArray:
        """Useful work installed per quarter and path (T, S), in target units."""
        return self._ship(books)[0]

    def evaluate(self, books: list[FloatArray]) -> Evaluation:
        """Risk terms of the plan ``books`` (lots) and their subgradients."""
        prefs = self.problem.preferences
        s = self.sample.paths
        n_t = self.n_t
        compute, bind = self._ship(books)
        short = np.maximum(self.targets[:, None] - compute, 0.0)
        loss = short[self.targeted].sum(axis=0)
        risk, weights = cvar_weights(loss, prefs.tail)
        pull = np.zeros((n_t, s))
        pull[self.targeted] = (short[self.targeted] > 0) * weights[None, :]
        chance, chance_grad = {}, {}
        for t in self.chance_quarters:
            value, w = cvar_weights(self.targets[t] - compute[t], self.problem.tail_of_chance)
            chance[t] = value
            one = np.zeros((n_t, s))
            one[t] = w
            chance_grad[t] = self._gradient(one, bind)
        return Evaluation(risk, self._gradient(pull, bind), chance, chance_grad)

    def _ship(self, books: list[FloatArray]) -> tuple[FloatArray, NDArray[np.int64]]:
        """Greedy shipments: compute (T, S) and the binding order quarter (T, A, S), -1 for none."""
        model = self.problem.model
        n_t, n_a, s = self.n_t, self.n_a, self.sample.paths
        arrived = self._arrived(books)
        installed = np.zeros((n_a, s))
        binding = np.full((n_a, s), -1, dtype=np.int64)
        compute = np.zeros((n_t, s))
        bind = np.empty((n_t, n_a, s), dtype=np.int64)
        lead = model.lead_time
        for t in range(n_t):
            j = t - lead  # (A,): last order quarter that has arrived
            ready = np.where((j >= 0)[:, None], arrived[np.maximum(j, 0), np.arange(n_a)], 0.0)
            room = installed + self.capacity[:, t]
            by_orders = ready <= room
            now = np.where(by_orders, ready, room)
            binding = np.where(by_orders, j[:, None], binding)
            capped = now >= self.total[:, None]
            now = np.minimum(now, self.total[:, None])
            binding = np.where(capped, -1, binding)
            installed = now
            bind[t] = binding
            compute[t] = (self.sample.perf * installed).sum(axis=0)
        return compute, bind

    def _gradient(self, pull: FloatArray, bind: NDArray[np.int64]) -> list[FloatArray]:
        """Subgradient per book of ``-sum_{t,s} pull[t, s] * compute[t, s]`` with respect to lots.

        An order placed in quarter ``tau`` raises a path's installed work in quarter ``t`` when
        the order quarter binding there (``bind``) is at or after ``tau``.
        """
        rows = np.flatnonzero(pull.any(axis=1))
        tau = np.arange(self.n_t)
        grads = [np.zeros((self.n_t, self.n_a)) for _ in self.masks]
        for a in range(self.n_a):
            weight = pull[rows] * self.sample.perf[a][None, :]  # (R, S)
            reached = bind[rows, a, :][:, None, :] >= tau[None, :, None]  # (R, T, S)
            per_path = np.einsum("rs,rts->ts", weight, reached)  # (T, S)
            for b, mask in enumerate(self.masks):
                grads[b][:, a] = -self.work[a] * (per_path * mask).sum(axis=1)
        return grads


def solve_decomposed(
    problem: Problem,
    sample: Sample,
    money_scale: float | None = None,
    *,
    tolerance: float = 1e-4,
    max_iterations: int = 400,
) -> Solution:
    """Solve :func:`suanli.decide.milp.solve`'s program by L-shaped cuts on ``sample``."""
    started = time.perf_counter()
    cuts = _Cutting(problem, sample, money_scale)
    build_s = time.perf_counter() - started
    center: FloatArray | None = None
    # The relaxation: cuts at the master's solution and at its midpoint with a moving centre.
    for _ in range(max_iterations):
        values, bound = cuts.master.solve()
        found = cuts.add(values)
        value = cuts.objective(values, found)
        if _violation(found) <= FEASIBLE and value - bound <= tolerance * max(abs(value), 1e-12):
            break
        center = values if center is None else 0.5 * (values + center)
        if center is not values:
            cuts.add(center)
    # Integer lots: the same master with integer columns, cut at each integer plan.
    cuts.master.make_integer(cuts.integrality)
    best: tuple[float, FloatArray, Evaluation] | None = None
    seen: FloatArray | None = None
    for _ in range(max_iterations):
        values, bound = cuts.master.solve()
        if seen is not None and np.allclose(values, seen, rtol=0, atol=1e-9):
            break  # the master returns a plan already cut at: no cut can move it further
        seen = values
        found = cuts.add(values)
        value = cuts.objective(values, found)
        if _violation(found) <= FEASIBLE and (best is None or value < best[0]):
            best = (value, values, found)
        if best is not None and best[0] - bound <= problem.mip_rel_gap * max(abs(best[0]), 1e-12):
            break
    if best is None:
        raise InfeasibleError("no integer plan meets the required probability on the sample")
    value, values, found = best
    scale = cuts.program.scale
    books = [np.round(b) * cuts.program.lots[None, :] for b in cuts.books(values)]
    for book in books:
        book[: problem.fixed_quarters] = problem.model.orders[: problem.fixed_quarters]
    return Solution(
        books=books,
        objective=value * scale,
        expected_cost=(value - cuts.aversion * found.risk) * scale,
        cvar_shortfall=found.risk,
        gap=max(0.0, (value - bound) / max(abs(value), 1e-12)),
        solve_s=time.perf_counter() - started - build_s,
        build_s=build_s,
        variables=cuts.program.cols.count,
        integer_variables=int(cuts.integrality.sum()),
        constraints=cuts.master.rows,
        max_violation=cuts.violation_of_rules(values),
        status=f"optimal after {cuts.master.solves} master solves",
    )


def _violation(found: Evaluation) -> float:
    return max(found.chance.values(), default=0.0)


class _Cutting:
    """The master (order columns, budget and policy rows, a risk column) and its cuts."""

    def __init__(self, problem: Problem, sample: Sample, money_scale: float | None) -> None:
        program = _Program(problem, sample, money_scale)
        program.orders()
        program.cumulative()
        program.migration()
        _plan_rules(problem, program.rows, program.x, program.lots, program.scale)
        self.program = program
        self.aversion = problem.preferences.aversion / program.scale
        self.theta = int(program.cols.add(1, 0.0, INF, self.aversion)[0])
        self.recourse = Recourse(problem, sample)
        lower, upper, self.cost, self.integrality = program.cols.arrays()
        self.rules = csr_array(
            coo_array(
                (
                    np.concatenate(program.rows.vals),
                    (np.concatenate(program.rows.rows), np.concatenate(program.rows.cols)),
                ),
                shape=(program.rows.count, program.cols.count),
            )
        )
        self.rules_lo = np.concatenate(program.rows.lower)
        self.rules_hi = np.concatenate(program.rows.upper)
        self.master = _Master(self.cost, lower, upper, problem.time_limit_s, problem.mip_rel_gap / 2)
        self.master.add_rows(self.rules, self.rules_lo, self.rules_hi)
        self.order_cols = [np.asarray(x) for x in program.x]

    def books(self, values: FloatArray) -> list[FloatArray]:
        """Lots per book (T, A) in ``values``."""
        return [values[x] for x in self.order_cols]

    def objective(self, values: FloatArray, found: Evaluation) -> float:
        """The program's objective (scaled money) of ``values`` with its true risk."""
        return float(self.cost @ values - self.aversion * values[self.theta] + self.aversion * found.risk)

    def violation_of_rules(self, values: FloatArray) -> float:
        """Largest violation of a budget or policy row by ``values``."""
        activity = self.rules @ values
        return float(
            max(np.max(self.rules_lo - activity, initial=0.0), np.max(activity - self.rules_hi, initial=0.0))
        )

    def add(self, values: FloatArray) -> Evaluation:
        """Evaluate the plan ``values`` on the sample and add its cuts to the master."""
        found = self.recourse.evaluate(self.books(values))
        books = self.books(values)
        grads = [found.risk_grad, *found.chance_grad.values()]
        rows = np.zeros((len(grads), self.program.cols.count))
        lo = np.full(len(grads), -INF)
        hi = np.full(len(grads), INF)
        for r, grad in enumerate(grads):
            at = sum(float((g * b).sum()) for g, b in zip(grad, books, strict=True))
            for x, g in zip(self.order_cols, grad, strict=True):
                rows[r, x] = g
            if r == 0:  # theta - g . x >= risk(x_k) - g . x_k
                rows[r] = -rows[r]
                rows[r, self.theta] = 1.0
                lo[r] = found.risk - at
        for r, value in enumerate(found.chance.values(), start=1):  # h . x <= h . x_k - G(x_k)
            hi[r] = -value + sum(float((g * b).sum()) for g, b in zip(grads[r], books, strict=True))
        self.master.add_rows(csr_array(rows), lo, hi)
        return found


class _Master:
    """The master program in HiGHS, kept between iterations so each re-solve starts warm."""

    def __init__(
        self, cost: FloatArray, lower: FloatArray, upper: FloatArray, time_limit_s: float, gap: float
    ) -> None:
        self._highs = _new_highs()
        for option, value in (
            ("output_flag", False),
            ("time_limit", float(time_limit_s)),
            ("mip_rel_gap", float(gap)),
        ):
            self._highs.setOptionValue(option, value)
        n = cost.shape[0]
        self.columns = n
        self.rows = 0
        self.solves = 0
        self.integer = False
        self._highs.addCols(
            n, cost, lower, upper, 0, np.zeros(n, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0)
        )

    def add_rows(self, matrix: csr_array, lower: FloatArray, upper: FloatArray) -> None:
        """Append rows ``lower <= matrix @ x <= upper``."""
        matrix = csr_array(matrix)
        matrix.eliminate_zeros()
        count = matrix.shape[0]
        self._highs.addRows(
            count,
            np.asarray(lower, dtype=np.float64),
            np.asarray(upper, dtype=np.float64),
            int(matrix.nnz),
            matrix.indptr[:-1].astype(np.int32),
            matrix.indices.astype(np.int32),
            matrix.data.astype(np.float64),
        )
        self.rows += count

    def make_integer(self, integrality: FloatArray) -> None:
        """Turn the integer columns integer (the relaxation was solved first)."""
        index = np.flatnonzero(integrality > 0).astype(np.int32)
        kinds = np.array([highspy.HighsVarType.kInteger] * index.size)
        self._highs.changeColsIntegrality(int(index.size), index, kinds)
        self.integer = True

    def solve(self) -> tuple[FloatArray, float]:
        """Optimal columns and a lower bound on the master's value."""
        self._highs.run()
        self.solves += 1
        status = self._highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise InfeasibleError(
                f"no plan satisfies the constraints ({self._highs.modelStatusToString(status)})"
            )
        info = self._highs.getInfo()
        values = np.asarray(self._highs.getSolution().col_value, dtype=np.float64)
        bound = float(info.mip_dual_bound) if self.integer else float(info.objective_function_value)
        return values, bound


def _new_highs() -> highspy.Highs:
    """A HiGHS instance, made with standard output closed.

    highspy 1.16 prints its banner on file descriptor 1 when an instance is made, before any
    option can silence it, which would corrupt ``--json`` output.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
