"""Tests of PRIM scenario discovery (suanli.decide.prim)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from suanli.decide.prim import PrimBox, prim_boxes
from suanli.errors import InputValueError

NAMES5 = [f"x{i}" for i in range(5)]


def _noisy(inside: NDArray[np.bool_], rng: np.random.Generator, share: float = 0.05) -> NDArray[np.bool_]:
    """Labels ``inside`` with a ``share`` of them flipped at random."""
    flipped: NDArray[np.bool_] = inside ^ (rng.uniform(size=inside.size) < share)
    return flipped


def _one_box(seed: int = 7) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    # The planted box holds 30 % of the points: with 5 % symmetric label noise the exact box then
    # has density 0.95 and coverage 0.89. A smaller box (x0 < 0.3 and x3 > 0.6, 12 %) would cap
    # coverage near 0.72, since the 5 % of the other 88 % that are flipped to True count too.
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(2000, 5))
    return x, _noisy((x[:, 0] < 0.5) & (x[:, 3] > 0.4), rng)


def _two_boxes(seed: int = 0) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(2000, 5))
    first = (x[:, 0] < 0.5) & (x[:, 3] > 0.4)
    second = (x[:, 0] > 0.7) & (x[:, 2] < 0.35)
    return x, _noisy(first | second, rng)


def _inside(x: NDArray[np.float64], box: PrimBox, names: list[str]) -> NDArray[np.bool_]:
    inside = np.ones(x.shape[0], dtype=bool)
    for name, (low, high) in box.limits.items():
        column = x[:, names.index(name)]
        inside &= (column >= low) & (column <= high)
    return inside


def test_recovers_a_planted_box() -> None:
    x, y = _one_box()
    boxes = prim_boxes(x, y, NAMES5, threshold=0.9)
    first = boxes[0]
    assert set(first.limits) == {"x0", "x3"}
    assert first.limits["x0"][1] == pytest.approx(0.5, abs=0.07)
    assert first.limits["x3"][0] == pytest.approx(0.4, abs=0.07)
    # The open sides are reported at the data's extremes.
    assert first.limits["x0"][0] == x[:, 0].min()
    assert first.limits["x3"][1] == x[:, 3].max()
    assert first.density >= 0.85
    assert first.coverage >= 0.8


def test_default_threshold_still_finds_the_planted_dimensions() -> None:
    x, y = _one_box()
    first = prim_boxes(x, y, NAMES5)[0]
    assert set(first.limits) == {"x0", "x3"}
    assert first.density >= 0.8


@pytest.mark.parametrize("make", [_one_box, _two_boxes])
def test_measures_agree_with_a_recount_on_the_full_data(make: Any) -> None:
    x, y = make()
    boxes = prim_boxes(x, y, NAMES5, threshold=0.9)
    assert boxes
    for box in boxes:
        inside = _inside(x, box, NAMES5)
        assert box.cases == int(inside.sum())
        assert box.mass == pytest.approx(inside.mean())
        assert box.density == pytest.approx(y[inside].mean())
        assert box.coverage == pytest.approx(y[inside].sum() / y.sum())
        for low, high in box.limits.values():
            assert low <= high


def test_covering_finds_a_second_disjoint_box() -> None:
    x, y = _two_boxes()
    boxes = prim_boxes(x, y, NAMES5, threshold=0.9)
    assert len(boxes) >= 2
    first, second = boxes[0], boxes[1]
    assert set(first.limits) == {"x0", "x3"}
    assert {"x0", "x2"} <= set(second.limits)
    assert second.limits["x0"][0] == pytest.approx(0.7, abs=0.07)
    assert second.limits["x2"][1] == pytest.approx(0.35, abs=0.07)
    assert second.density >= 0.85
    # Disjoint: the second box starts on x0 where the first one ends.
    assert second.limits["x0"][0] > first.limits["x0"][1]
    planted = (x[:, 0] > 0.7) & (x[:, 2] < 0.35)
    inside = _inside(x, second, NAMES5)
    assert planted[inside].mean() >= 0.9
    assert inside[planted].mean() >= 0.8


def test_covering_stops_when_nothing_more_stands_out() -> None:
    x, y = _one_box()
    boxes = prim_boxes(x, y, NAMES5, threshold=0.9, max_boxes=5)
    # Only the planted box; the 5 % noise left outside it reaches no box of density 0.9.
    assert len(boxes) == 1


def test_pure_noise_gives_one_box_only() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(1000, 4))
    y = rng.uniform(size=1000) < 0.2
    boxes = prim_boxes(x, y, ["a", "b", "c", "d"])
    assert len(boxes) == 1
    assert boxes[0].density < 0.8


def test_max_boxes_is_respected() -> None:
    x, y = _two_boxes()
    assert len(prim_boxes(x, y, NAMES5, threshold=0.9, max_boxes=1)) == 1


def test_no_cases_of_interest_gives_no_box() -> None:
    x, _ = _one_box()
    assert prim_boxes(x, np.zeros(x.shape[0], dtype=bool), NAMES5) == []


def test_empty_data_gives_no_box() -> None:
    assert prim_boxes(np.empty((0, 2)), np.empty(0, dtype=bool), ["a", "b"]) == []


def test_all_cases_of_interest_give_an_unrestricted_box() -> None:
    x, _ = _one_box()
    boxes = prim_boxes(x, np.ones(x.shape[0], dtype=bool), NAMES5)
    assert boxes == [PrimBox(limits={}, coverage=1.0, density=1.0, mass=1.0, cases=x.shape[0])]


def test_discrete_inputs_with_ties() -> None:
    # Inputs on a grid of 5 values: the alpha quantile often equals the column's extreme, and
    # peels must then take the whole tied group rather than get stuck.
    rng = np.random.default_rng(11)
    x = rng.integers(0, 5, size=(1500, 3)).astype(np.float64)
    y = (x[:, 1] >= 3) & (x[:, 2] <= 1)
    boxes = prim_boxes(x, y, ["a", "b", "c"])
    first = boxes[0]
    assert first.limits == {"b": (3.0, 4.0), "c": (0.0, 1.0)}
    assert first.density == 1.0
    assert first.coverage == 1.0


def test_deterministic_and_leaves_inputs_alone() -> None:
    x, y = _two_boxes()
    x_before, y_before = x.copy(), y.copy()
    first = prim_boxes(x, y, NAMES5, threshold=0.9)
    second = prim_boxes(x, y, NAMES5, threshold=0.9)
    assert first == second
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)


def test_boxes_are_frozen() -> None:
    x, y = _one_box()
    box = prim_boxes(x, y, NAMES5)[0]
    with pytest.raises(ValueError, match="frozen"):
        box.density = 0.0  # type: ignore[misc]


_X = np.zeros((4, 2))
_Y = np.array([True, False, True, False])


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((_X, _Y[:3], ["a", "b"]), {}, "y"),
        ((_X, _Y, ["a"]), {}, "names"),
        ((_X, _Y, ["a", "a"]), {}, "names"),
        ((_X, _Y, "ab"), {}, "names"),
        ((_X[:, 0], _Y, ["a"]), {}, "x"),
        ((_X, _Y.astype(int), ["a", "b"]), {}, "y"),
        ((np.array([[0.0, np.nan]] * 4), _Y, ["a", "b"]), {}, "x"),
        ((_X, _Y, ["a", "b"]), {"peel_alpha": 0.0}, "peel_alpha"),
        ((_X, _Y, ["a", "b"]), {"peel_alpha": 0.5}, "peel_alpha"),
        ((_X, _Y, ["a", "b"]), {"paste_alpha": -0.1}, "paste_alpha"),
        ((_X, _Y, ["a", "b"]), {"paste_alpha": 0.7}, "paste_alpha"),
        ((_X, _Y, ["a", "b"]), {"mass_min": 0.0}, "mass_min"),
        ((_X, _Y, ["a", "b"]), {"mass_min": 1.0}, "mass_min"),
        ((_X, _Y, ["a", "b"]), {"threshold": 1.5}, "threshold"),
        ((_X, _Y, ["a", "b"]), {"max_boxes": 0}, "max_boxes"),
    ],
)
def test_bad_input_is_refused(args: tuple[Any, ...], kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputValueError) as caught:
        prim_boxes(*args, **kwargs)
    assert caught.value.field == field


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n=st.integers(min_value=1, max_value=300),
    d=st.integers(min_value=1, max_value=4),
    levels=st.sampled_from([2, 4, 0]),
    share=st.floats(min_value=0.01, max_value=1.0),
    max_boxes=st.integers(min_value=1, max_value=4),
)
def test_measures_always_match_the_limits(
    *, seed: int, n: int, d: int, levels: int, share: float, max_boxes: int
) -> None:
    rng = np.random.default_rng(seed)
    # levels 0: continuous inputs; otherwise heavily tied ones.
    x = rng.uniform(size=(n, d)) if levels == 0 else rng.integers(0, levels, size=(n, d)).astype(np.float64)
    y = rng.uniform(size=n) < share
    names = [f"v{j}" for j in range(d)]
    boxes = prim_boxes(x, y, names, max_boxes=max_boxes)
    assert len(boxes) <= max_boxes
    assert (boxes == []) == (not y.any())
    for box in boxes:
        inside = _inside(x, box, names)
        assert box.cases == int(inside.sum()) > 0
        assert box.density == pytest.approx(y[inside].mean())
        assert box.coverage == pytest.approx(y[inside].sum() / y.sum())
        assert box.mass == pytest.approx(inside.mean())
        for name, (low, high) in box.limits.items():
            column = x[:, names.index(name)]
            assert column.min() <= low <= high <= column.max()
            assert low > column.min() or high < column.max()
