"""``extends``: how a scenario names its base, and how the base's data is laid under its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.errors import InputFileError, InputValueError, UnknownIdError
from suanli.scenario import load_scenario
from suanli.scenario.load import REPLACED_WHOLE, deep_merge

HEAD = "title: a child scenario\nas_of: 2026-11-29\n"


def _child(path: Path, extends: str, body: str = "", scenario_id: str = "child") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"id: {scenario_id}\n{HEAD}extends: {extends}\n{body}", encoding="utf-8")
    return path


def test_relative_file_base_loads_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = tmp_path / "sub"
    base = _child(sub / "base.yaml", "h200-china-2026", "decision:\n  budget: 3.0e10\n", "my-base")
    _child(sub / "update.yaml", "base.yaml", "notes: the child\n", "my-update")
    monkeypatch.chdir(tmp_path)
    update = load_scenario("sub/update.yaml")
    assert update.id == "my-update"
    assert update.decision is not None
    assert update.decision.budget == 3.0e10  # from the file base, not the built-in under it
    assert update.extends is not None
    assert Path(update.extends).is_absolute()
    assert Path(update.extends).samefile(base)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded_base = load_scenario(update.extends)
    assert loaded_base.id == "my-base"
    assert loaded_base.extends == "h200-china-2026"
    # The child loads the same from inside its own directory and from elsewhere by absolute path.
    monkeypatch.chdir(sub)
    assert load_scenario("update.yaml") == update
    monkeypatch.chdir(elsewhere)
    assert load_scenario(sub / "update.yaml") == update


def test_chain_of_relative_files_keeps_each_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _child(tmp_path / "a" / "base.yaml", "h200-china-2026", scenario_id="base")
    _child(tmp_path / "a" / "b" / "mid.yaml", "../base.yaml", scenario_id="mid")
    _child(tmp_path / "c" / "top.yaml", "../a/b/mid.yaml", scenario_id="top")
    monkeypatch.chdir(tmp_path / "c")
    top = load_scenario("top.yaml")
    assert top.extends is not None
    monkeypatch.chdir(tmp_path)
    mid = load_scenario(top.extends)
    assert mid.id == "mid"
    assert mid.extends is not None
    assert load_scenario(mid.extends).id == "base"


def test_builtin_base_keeps_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    child = _child(tmp_path / "child.yaml", "h200-china-2026")
    monkeypatch.chdir(tmp_path)
    assert load_scenario("child.yaml").extends == "h200-china-2026"
    assert load_scenario(child).extends == "h200-china-2026"
    assert load_scenario("h200-china-2026-update").extends == "h200-china-2026"


def test_flagship_update_still_inherits_the_plan() -> None:
    base = load_scenario("h200-china-2026")
    update = load_scenario("h200-china-2026-update")
    assert update.plan == base.plan
    # The update adds the policies learnt since; everything else of the decision is inherited.
    assert update.decision.model_copy(update={"policy": (), "placed": None}) == base.decision
    assert "h200-sxm" not in (update.decision.placed or {})  # Beijing's pause: no H200 ordered
    assert [p.name for p in update.decision.policy] == ["h200-pause", "h200-per-buyer-cap"]
    assert len(update.observations) == 3


def test_child_plan_replaces_the_whole_plan(tmp_path: Path) -> None:
    parent = load_scenario("h200-china-2026")
    assert {"ascend-910c", "mlu590"} <= set(parent.plan)
    no_orders = load_scenario(_child(tmp_path / "none.yaml", "h200-china-2026", "plan:\n  h200-sxm: {}\n"))
    assert no_orders.plan == {"h200-sxm": {}}
    one = load_scenario(
        _child(tmp_path / "one.yaml", "h200-china-2026", "plan:\n  ascend-910c: {2026Q1: 40000}\n")
    )
    assert one.plan == {"ascend-910c": {"2026Q1": 40000}}
    empty = load_scenario(_child(tmp_path / "empty.yaml", "h200-china-2026", "plan: {}\n"))
    assert empty.plan == {}
    # Everything else still comes from the parent.
    assert one.supply == parent.supply
    assert one.candidates == parent.candidates


def test_other_mappings_still_merge_deeply(tmp_path: Path) -> None:
    parent = load_scenario("h200-china-2026")
    assert parent.decision is not None
    child = load_scenario(
        _child(
            tmp_path / "budget.yaml",
            "h200-china-2026",
            "decision:\n  budget: 2.0e10\nsupply:\n  h200-sxm:\n    approval:\n      never_share: 0.5\n",
        )
    )
    assert child.decision is not None
    assert child.decision.budget == 2.0e10
    assert child.decision.target == parent.decision.target
    assert child.decision.risk == parent.decision.risk
    approval = child.supply["h200-sxm"].approval
    assert approval.never_share == 0.5
    assert approval.hazard_per_quarter == parent.supply["h200-sxm"].approval.hazard_per_quarter
    assert child.supply["ascend-910c"] == parent.supply["ascend-910c"]


def test_deep_merge_replaces_only_the_named_paths() -> None:
    base = {"plan": {"a": {"q1": 1}, "b": {"q1": 2}}, "decision": {"budget": 1, "policy": {"x": 1, "y": 2}}}
    over = {"plan": {"a": {}}, "decision": {"policy": {"y": 3}}}
    assert deep_merge(base, over, REPLACED_WHOLE) == {
        "plan": {"a": {}},
        "decision": {"budget": 1, "policy": {"y": 3}},
    }
    # Without the rule, mappings merge all the way down; the inputs stay as they were.
    assert deep_merge(base, over)["plan"] == {"a": {"q1": 1}, "b": {"q1": 2}}
    assert base["plan"] == {"a": {"q1": 1}, "b": {"q1": 2}}
    assert {("plan",), ("decision", "policy"), ("uncertainties",)} <= REPLACED_WHOLE


def test_bad_plan_in_child_points_at_the_child(tmp_path: Path) -> None:
    child = _child(tmp_path / "late.yaml", "h200-china-2026", "plan:\n  h200-sxm: {2026Q1: -5}\n")
    with pytest.raises(InputValueError) as info:
        load_scenario(child)
    # The whole-scenario check names no field, so the error names the child's file, not a line.
    assert info.value.file == str(child)


def test_unknown_base_points_at_the_extends_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    child = _child(tmp_path / "sub" / "child.yaml", "h200-china-2025")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnknownIdError) as info:
        load_scenario("sub/child.yaml")
    assert info.value.file == str(Path("sub/child.yaml"))
    assert info.value.line == 4
    assert info.value.field == "extends"
    assert "h200-china-2026" in str(info.value)
    assert str(info.value).startswith("sub/child.yaml:4: extends: unknown scenario 'h200-china-2025'")
    # A base file that is not there is reported at the same place.
    _child(child, "missing.yaml")
    with pytest.raises(InputFileError) as missing:
        load_scenario(child)
    assert missing.value.file == str(child)
    assert missing.value.line == 4
    assert "missing.yaml" in str(missing.value)


def test_cycle_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _child(tmp_path / "a.yaml", "sub/b.yaml", scenario_id="a")
    _child(tmp_path / "sub" / "b.yaml", "../a.yaml", scenario_id="b")
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(InputValueError, match="cycle"):
        load_scenario("../a.yaml")
