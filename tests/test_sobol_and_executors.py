"""Sobol' indices of the flagship's written plan, and executors that never change the numbers."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from suanli.decide.plans import Plan, plan_from_dict
from suanli.decide.robust import robustness
from suanli.decide.sobol import OUTPUTS, SobolIndices, sobol_indices
from suanli.errors import InputValueError
from suanli.scenario import load_scenario
from suanli.scenario.model import Scenario
from suanli.supply.executors import DaskExecutor, LocalExecutor
from suanli.supply.quarters import quarter_labels


def _flagship() -> tuple[Scenario, Plan]:
    scenario = load_scenario("h200-china-2026")
    written = plan_from_dict("as written", scenario.plan, scenario.candidates, quarter_labels("2026Q1", 12))
    return scenario, written


@pytest.fixture(scope="module")
def flagship_indices() -> SobolIndices:
    scenario, written = _flagship()
    return sobol_indices(scenario, written, base_samples=16, paths=128, seed=0)


def test_sobol_indices_cover_every_uncertainty_and_output(flagship_indices: SobolIndices) -> None:
    scenario, _ = _flagship()
    names = [u.name for u in scenario.uncertainties]
    result = flagship_indices
    assert result.scenario == "h200-china-2026"
    assert result.plan == "as written"
    assert result.evaluations == 16 * (len(names) + 2)
    assert set(result.outputs) == set(OUTPUTS) == {"p_meet", "expected_cost"}
    for indices in result.outputs.values():
        assert [i.name for i in indices] == names
        for i in indices:
            values = (i.first_order, i.first_order_conf, i.total_order, i.total_order_conf)
            assert all(np.isfinite(values))
            assert i.first_order_conf >= 0
            assert i.total_order_conf >= 0
            assert i.total_order >= 0  # Jansen's estimator is a mean of squares
            # ST >= S1 holds for the true indices; the estimates may cross by their sampling error.
            assert i.total_order + i.total_order_conf >= i.first_order - i.first_order_conf - 1e-9


def test_sobol_indices_follow_the_model(flagship_indices: SobolIndices) -> None:
    p_meet = {i.name: i for i in flagship_indices.outputs["p_meet"]}
    # The price of electricity changes no delivery, so it explains none of P(meet): exactly 0
    # on common random numbers, while whether the H200 is ever approved matters.
    electricity = p_meet["electricity_per_kwh"]
    assert electricity.first_order == electricity.total_order == 0.0
    assert p_meet["h200_never_share"].total_order > electricity.total_order + 0.05
    # It does change the cost.
    cost = {i.name: i for i in flagship_indices.outputs["expected_cost"]}
    assert cost["electricity_per_kwh"].total_order > 0


def test_sobol_indices_are_reproducible_and_executor_free(flagship_indices: SobolIndices) -> None:
    scenario, written = _flagship()
    executor = LocalExecutor(workers=1)
    try:
        again = sobol_indices(scenario, written, base_samples=16, paths=128, seed=0, executor=executor)
    finally:
        executor.close()
    assert again == flagship_indices


def test_sobol_indices_of_an_output_that_never_varies_are_zero() -> None:
    scenario, _ = _flagship()
    nothing = Plan("nothing", np.zeros((12, len(scenario.candidates))))
    result = sobol_indices(scenario, nothing, base_samples=2, paths=16)
    for indices in result.outputs.values():  # never meets the target, never spends
        assert all(i.first_order == i.total_order == i.total_order_conf == 0.0 for i in indices)


def test_sobol_indices_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, written = _flagship()
    with pytest.raises(InputValueError, match="power of two"):
        sobol_indices(scenario, written, base_samples=12)
    with pytest.raises(InputValueError, match="no uncertainties"):
        sobol_indices(scenario.model_copy(update={"uncertainties": ()}), written)
    monkeypatch.setitem(sys.modules, "SALib.sample", None)  # as if the extra were not installed
    with pytest.raises(InputValueError, match=r"suanli\[sensitivity\]") as info:
        sobol_indices(scenario, written)
    assert info.value.field == "--sobol"


@pytest.mark.allow_loopback
def test_robustness_and_sobol_are_the_same_on_dask(flagship_indices: SobolIndices) -> None:
    scenario, written = _flagship()
    plans = [written, Plan("nothing", np.zeros((12, len(scenario.candidates))))]
    local = robustness(scenario, plans, experiments=16, paths=64, seed=0, recommended="as written")
    executor = DaskExecutor()
    try:
        distributed = robustness(
            scenario, plans, experiments=16, paths=64, seed=0, recommended="as written", executor=executor
        )
        sobol = sobol_indices(scenario, written, base_samples=16, paths=128, seed=0, executor=executor)
    finally:
        executor.close()
    assert distributed == local
    assert sobol == flagship_indices
