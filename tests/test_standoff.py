"""The approval standoff: the war of attrition's closed form, its discrete solver and the command."""

from __future__ import annotations

import json
import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.decide.standoff import (
    StandoffResult,
    buyer_concession_hazards,
    solve_attrition,
    solve_standoff,
    stationary_rates,
)
from suanli.errors import InputValueError
from suanli.scenario import DEFAULT_SCENARIO, Scenario, load_scenario
from suanli.scenario.compile import ScenarioCompiler
from suanli.supply.process import Approval

# (cost_buyer, cost_seller, prize_buyer, prize_seller) per quarter, scenario currency: the
# flagship's first-quarter figures, a patient buyer, a patient seller, costs above the prizes.
CASES = [
    (2.0e9, 4.0625e9, 9.45e9, 7.875e9),
    (0.5e9, 4.0e9, 10.0e9, 8.0e9),
    (3.0e9, 0.2e9, 6.0e9, 12.0e9),
    (5.0e9, 9.0e9, 2.0e9, 3.0e9),
    (1.0, 1.0, 1.0, 1.0),
]

STANDOFF_FIELDS = {
    "hazard_buyer",
    "hazard_seller",
    "hazards_buyer",
    "hazards_seller",
    "hazards_deal",
    "expected_duration_quarters",
    "p_deal_by",
    "payoff_buyer",
    "payoff_seller",
    "regime",
    "explanation",
    "prize_buyer",
    "prize_seller",
    "cost_buyer",
    "cost_seller",
    "domestic_cover",
    "quarters",
}


@pytest.fixture(scope="module")
def flagship() -> Scenario:
    return load_scenario(DEFAULT_SCENARIO)


@pytest.fixture(scope="module")
def compiler() -> ScenarioCompiler:
    # One compiler for the module: the flagship's fleet sizing is computed once.
    return ScenarioCompiler()


@pytest.fixture(scope="module")
def flagship_result(flagship: Scenario, compiler: ScenarioCompiler) -> StandoffResult:
    return solve_standoff(flagship, compiler=compiler)


@pytest.mark.parametrize(("cb", "cs", "vb", "vs"), CASES)
def test_closed_form(flagship: Scenario, cb: float, cs: float, vb: float, vs: float) -> None:
    r = solve_standoff(flagship, prize_buyer=vb, prize_seller=vs, cost_buyer=cb, cost_seller=cs)
    assert r.regime == "stationary"
    # Each side's hazard is the OTHER side's cost over the OTHER side's prize.
    assert r.hazard_buyer == pytest.approx(cs / vs)
    assert r.hazard_seller == pytest.approx(cb / vb)
    total = cs / vs + cb / vb
    assert r.expected_duration_quarters == pytest.approx(1 / total)
    probabilities = list(r.p_deal_by.values())
    assert list(r.p_deal_by) == r.quarters
    assert probabilities == pytest.approx([1 - math.exp(-total * t) for t in range(1, len(r.quarters) + 1)])
    assert all(a < b or a == b == 1 for a, b in pairwise(probabilities))
    assert r.hazards_buyer[0] == pytest.approx(1 - math.exp(-cs / vs))
    # In the mixed equilibrium each side expects what conceding at once gives it.
    assert (r.payoff_buyer, r.payoff_seller) == (0.0, 0.0)
    assert "other side's costs" in r.explanation


@given(
    cb=st.floats(1e6, 1e10),
    cs=st.floats(1e6, 1e10),
    vb=st.floats(1e8, 1e11),
    vs=st.floats(1e8, 1e11),
    factor=st.floats(1.01, 10),
)
def test_own_cost_moves_only_the_other_sides_hazard(
    cb: float, cs: float, vb: float, vs: float, factor: float
) -> None:
    buyer, seller = stationary_rates(cb, cs, vb, vs)
    cheaper_buyer, cheaper_seller = stationary_rates(cb / factor, cs, vb, vs)
    # A more patient buyer does not concede less often; the seller concedes less often.
    assert cheaper_buyer == buyer
    assert cheaper_seller < seller


@pytest.mark.parametrize(("cb", "cs", "vb", "vs"), CASES)
def test_discrete_solver_reproduces_stationary(cb: float, cs: float, vb: float, vs: float) -> None:
    quarters = 12
    rate_b, rate_s = stationary_rates(cb, cs, vb, vs)
    for n in (13, 2000):
        solved = solve_attrition([cb] * quarters, [cs] * quarters, vb, vs, steps_per_quarter=n)
        # Discretisation: 1 - (1 + x/n)^-n against 1 - exp(-x) differs by less than x^2 / 2n.
        for hazards, rate in ((solved.hazards_buyer, rate_b), (solved.hazards_seller, rate_s)):
            assert hazards == pytest.approx(np.full(quarters, -math.expm1(-rate)), abs=rate**2 / (2 * n))
        expected = 1 - np.exp(-(rate_b + rate_s) * np.arange(1, quarters + 1))
        assert solved.p_deal_by == pytest.approx(expected, abs=(rate_b + rate_s) ** 2 / n)
        assert (solved.payoff_buyer, solved.payoff_seller) == (0.0, 0.0)
    assert solved.expected_duration_quarters == pytest.approx(1 / (rate_b + rate_s), rel=2e-3)


def test_discrete_stage_game_per_quarter() -> None:
    # One move a quarter: the seller is indifferent when q_b V_s = (1 - q_b) c_s.
    solved = solve_attrition([2.0] * 4, [3.0] * 4, 10.0, 6.0, steps_per_quarter=1)
    assert solved.hazards_buyer == pytest.approx([3 / 9] * 4)
    assert solved.hazards_seller == pytest.approx([2 / 12] * 4)


def test_corner_buyer_waits_for_free() -> None:
    prize_buyer, prize_seller = 9.0e9, 8.0e9
    costs_buyer = [2.0e9, 1.0e9, *[0.0] * 6]
    solved = solve_attrition(costs_buyer, [4.0e9] * 8, prize_buyer, prize_seller)
    # From the third quarter waiting is free for the buyer: it never concedes, the seller
    # concedes at once; backward induction carries that to the first quarter.
    assert solved.hazards_buyer == pytest.approx(np.zeros(8))
    assert solved.hazards_seller == pytest.approx(np.ones(8))
    assert solved.p_deal_by == pytest.approx(np.ones(8))
    assert solved.expected_duration_quarters == 0
    assert (solved.payoff_buyer, solved.payoff_seller) == (prize_buyer, 0.0)


def test_corner_when_the_wait_is_too_dear_to_reach() -> None:
    # A buyer whose week of waiting costs more than its prize cannot hold out for the free
    # quarters ahead: the first quarter mixes, then the seller concedes at once.
    solved = solve_attrition([300.0, 0.0, 0.0], [4.0] * 3, 10.0, 8.0)
    assert 0 < solved.hazards_seller[0] < 1
    assert 0 < solved.hazards_buyer[0] < 1
    assert solved.hazards_seller[1:] == pytest.approx([1.0, 1.0])
    assert solved.hazards_buyer[1:] == pytest.approx([0.0, 0.0])


@pytest.mark.parametrize(("cb", "cs", "buyer", "seller"), [(0.0, 4e9, 0.0, 1.0), (2e9, 0.0, 1.0, 0.0)])
def test_stationary_corner(flagship: Scenario, cb: float, cs: float, buyer: float, seller: float) -> None:
    r = solve_standoff(flagship, prize_buyer=9e9, prize_seller=8e9, cost_buyer=cb, cost_seller=cs)
    assert r.regime == "stationary"
    assert r.hazards_buyer == pytest.approx([buyer] * len(r.quarters))
    assert r.hazards_seller == pytest.approx([seller] * len(r.quarters))
    assert r.expected_duration_quarters == 0
    assert set(r.p_deal_by.values()) == {1.0}
    assert (r.payoff_buyer, r.payoff_seller) == ((9e9, 0.0) if cb == 0 else (0.0, 8e9))
    assert "never concedes" in r.explanation


def test_flagship_buyer_cost_falls_with_domestic_ramp(
    flagship: Scenario, compiler: ScenarioCompiler, flagship_result: StandoffResult
) -> None:
    r = flagship_result
    assert r.regime == "non-stationary"
    assert r.domestic_cover is not None
    cover = np.array(r.domestic_cover)
    assert np.all(np.diff(cover) > 0)
    delay = flagship.standoff.buyer_delay_cost_per_quarter  # type: ignore[union-attr]
    assert r.cost_buyer == pytest.approx(delay * np.clip(1 - cover, 0, None))
    assert np.all(np.diff(r.cost_buyer) <= 0)
    assert r.cost_buyer[0] > r.cost_buyer[-1]
    # From the supply model, not a constant: halving the domestic chips' useful work halves the cover.
    slower = solve_standoff(flagship.with_values({"domestic_efficiency": 0.5}), compiler=compiler)
    assert slower.domestic_cover == pytest.approx(cover / 2)


def test_flagship_is_consistent(
    flagship: Scenario, compiler: ScenarioCompiler, flagship_result: StandoffResult
) -> None:
    r = flagship_result
    hb, hs = np.array(r.hazards_buyer), np.array(r.hazards_seller)
    assert r.hazards_deal == pytest.approx(1 - (1 - hb) * (1 - hs))
    assert list(r.p_deal_by.values()) == pytest.approx(1 - np.cumprod((1 - hb) * (1 - hs)))
    assert len(r.quarters) == flagship.horizon_quarters
    # The seed order's midpoint: 60,000 chips at CNY 175,000, 10 % security cost; margin CNY 131,250.
    assert r.prize_buyer == pytest.approx(60_000 * 175_000 * 0.9)
    assert r.prize_seller == pytest.approx(60_000 * 131_250)
    assert r.cost_seller == pytest.approx([700_000 * 4375 + 1.0e9] * flagship.horizon_quarters)
    assert buyer_concession_hazards(flagship, compiler=compiler) == r.hazards_buyer


def test_bad_overrides_raise(flagship: Scenario) -> None:
    with pytest.raises(InputValueError, match="prize_buyer"):
        solve_standoff(flagship, prize_buyer=0.0)
    with pytest.raises(InputValueError, match="cost_seller"):
        solve_standoff(flagship, cost_buyer=1.0, cost_seller=-1.0)
    with pytest.raises(InputValueError, match="cost_buyer"):
        solve_standoff(flagship, cost_buyer=math.nan)


def _scenario_file(tmp_path: Path, standoff: bool) -> Path:
    text = "id: bare\ntitle: a scenario without an order\nas_of: 2026-01-20\n"
    if standoff:
        text += (
            "standoff:\n  seller_inventory_units: 1000\n  seller_holding_cost_per_unit_quarter: 10\n"
            "  seller_line_cost_per_quarter: 1.0e6\n  seller_margin_per_unit: 100\n"
            "  buyer_delay_cost_per_quarter: 2.0e6\n  buyer_security_cost_share: 0.1\n"
            "  source: assumption for a test\n"
        )
    path = tmp_path / f"bare-{standoff}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_scenario_without_order_needs_prizes(tmp_path: Path) -> None:
    scenario = load_scenario(_scenario_file(tmp_path, standoff=True))
    with pytest.raises(InputValueError, match="order"):
        solve_standoff(scenario)
    # Without a target the buyer's cost stays constant: the closed form.
    r = solve_standoff(scenario, prize_buyer=4e6, prize_seller=2e6)
    assert r.regime == "stationary"
    assert r.domestic_cover is None
    assert r.hazard_buyer == pytest.approx((1000 * 10 + 1e6) / 2e6)


def test_cli_json_flagship(cli) -> None:
    result = cli("standoff", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert set(data) >= STANDOFF_FIELDS
    assert data["regime"] == "non-stationary"
    assert list(data["p_deal_by"]) == data["quarters"]
    assert data["explanation"]


def test_cli_overrides_are_stationary(cli) -> None:
    result = cli(
        "standoff",
        "--prize-buyer",
        "10e9",
        "--prize-seller",
        "8e9",
        "--cost-buyer",
        "2e9",
        "--cost-seller",
        "4e9",
        "--json",
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["regime"] == "stationary"
    assert data["hazard_buyer"] == pytest.approx(0.5)
    assert data["hazard_seller"] == pytest.approx(0.2)
    assert data["expected_duration_quarters"] == pytest.approx(1 / 0.7)
    assert data["p_deal_by"]["2026Q1"] == pytest.approx(1 - math.exp(-0.7))


def test_cli_table(cli) -> None:
    result = cli("standoff", "--cost-buyer", "2e9")
    assert result.code == 0, result.err
    assert "P(deal by end)" in result.out
    assert "other side's costs" in result.out


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--cost-buyer", "-5"], "--cost-buyer"),
        (["--cost-seller", "-1e9"], "--cost-seller"),
        (["--prize-seller", "0"], "--prize-seller"),
        (["--prize-buyer", "0"], "--prize-buyer"),
    ],
)
def test_cli_bad_input(cli, args: list[str], named: str) -> None:
    result = cli("standoff", *args)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert result.err.startswith("error:")
    assert named in result.err


def test_cli_scenario_without_standoff(cli, tmp_path: Path) -> None:
    result = cli("standoff", _scenario_file(tmp_path, standoff=False))
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "standoff" in result.err


def _gamed(seller_line_cost: float) -> Scenario:
    """The flagship without a target (so the buyer's cost stays constant) and the H200's
    approval taken from the standoff."""
    base = load_scenario(DEFAULT_SCENARIO)
    assert base.standoff is not None
    supply = dict(base.supply)
    gamed = Approval.model_validate(
        {"from": "standoff", "first_quarter": "2026Q1", "never_share": 0.25, "source": "the game"}
    )
    supply["h200-sxm"] = supply["h200-sxm"].model_copy(update={"approval": gamed})
    return base.model_copy(
        update={
            "supply": supply,
            "decision": None,
            "uncertainties": (),
            "standoff": base.standoff.model_copy(update={"seller_line_cost_per_quarter": seller_line_cost}),
        }
    )


def test_approval_from_the_standoff_follows_the_game() -> None:
    compiler = ScenarioCompiler()
    cheap, dear = _gamed(0.5e9), _gamed(4.0e9)
    game = solve_standoff(cheap, compiler=compiler)
    assert game.regime == "stationary"
    rate = game.hazard_buyer + game.hazard_seller
    cdf = compiler.compile(cheap).approval_cdf[0]
    t = np.arange(1, len(cdf) + 1)
    assert cdf == pytest.approx(0.75 * (1 - np.exp(-rate * t)), rel=1e-6)
    # A seller whose wait costs more makes the buyer hold out less long (its hazard is the
    # seller's cost over the seller's prize): approval comes sooner on every quarter.
    sooner = compiler.compile(dear).approval_cdf[0]
    assert np.all(sooner > cdf)
    assert sooner[-1] == pytest.approx(0.75, rel=1e-3)  # never_share still holds


def test_builtin_standoff_scenario_takes_its_approval_from_the_game() -> None:
    scenario = load_scenario("h200-china-2026-standoff")
    assert scenario.supply["h200-sxm"].approval.from_ == "standoff"
    compiler = ScenarioCompiler()
    game = solve_standoff(scenario, compiler=compiler)
    cdf = compiler.compile(scenario).approval_cdf[0]
    # The flagship's figures put the game in its corner (the buyer's wait is free once domestic
    # supply covers the target): the seller gives in at once, so approval comes in the first
    # quarter on every path the game decides.
    assert game.hazards_deal[0] == pytest.approx(1.0)
    assert cdf[0] == pytest.approx(1 - scenario.supply["h200-sxm"].approval.never_share)
