"""The licence and sovereignty register: provenance, dating, the scoring rule, and the command."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from suanli.catalog.provenance import known_by
from suanli.errors import InputValueError, UnknownIdError
from suanli.scenario import load_scenario
from suanli.sovereignty import (
    CRITERIA,
    MODES,
    PENALTY,
    Register,
    RegisterItem,
    builtin_register,
    derived_scores,
    load_register,
    register_as_of,
    scores_for,
)
from suanli.sovereignty.register import score_of

FLAGSHIP = load_scenario("h200-china-2026")
UPDATE = load_scenario("h200-china-2026-update")
CANDIDATES = ("h200-sxm", "ascend-910c", "ascend-910b", "mlu590", "kunlunxin-p800")

ITEM = """\
items:
  - id: test-item
    criterion: supply_security
    applies_to: [ascend-910c]
    modes: any
    severity: major
    finding: a finding long enough to pass
    evidence: evidence long enough to pass
    source: a public document
    date: "2025-01-01"
    confidence: primary
"""


def _item(**changes: Any) -> RegisterItem:
    data: dict[str, Any] = {
        "id": "extra-penalty",
        "criterion": "supply_security",
        "applies_to": ("ascend-910c",),
        "modes": "any",
        "severity": "major",
        "finding": "a test finding about supply",
        "evidence": "a test source says so",
        "source": "test",
        "date": "2025-01-01",
        "confidence": "assumption",
    }
    return RegisterItem.model_validate({**data, **changes})


def test_every_item_carries_evidence_source_date_and_confidence() -> None:
    register = builtin_register()
    assert len(register.items) >= 40
    for item in register.items:
        assert len(item.source) >= 3, item.id
        assert item.date, item.id
        assert item.confidence in ("vendor", "primary", "secondary", "derived", "assumption"), item.id
        assert item.finding, item.id
        assert item.evidence, item.id
        # The catalog's house rule: cite the public document, never a machine-local path.
        assert "/work/" not in item.source, item.id
        assert "/home/" not in item.source, item.id


def test_every_criterion_has_sourced_items() -> None:
    counts = {c: sum(i.criterion == c for i in builtin_register().items) for c in CRITERIA}
    assert all(n >= 5 for n in counts.values()), counts


@pytest.mark.parametrize("field", ["source", "date", "confidence"])
def test_an_item_without_provenance_fails_loading(tmp_path: Path, field: str) -> None:
    text = "\n".join(line for line in ITEM.splitlines() if not line.strip().startswith(f"{field}:"))
    path = tmp_path / "register.yaml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(InputValueError, match=f"items.0.{field}: required field is missing"):
        load_register(path)


def test_a_complete_user_register_loads(tmp_path: Path) -> None:
    path = tmp_path / "register.yaml"
    path.write_text(ITEM, encoding="utf-8")
    assert [i.id for i in load_register(path).items] == ["test-item"]


def test_unknown_accelerator_and_bad_supersession_fail(tmp_path: Path) -> None:
    path = tmp_path / "register.yaml"
    path.write_text(ITEM.replace("[ascend-910c]", "[ascend-910x]"), encoding="utf-8")
    with pytest.raises(UnknownIdError, match="ascend-910x"):
        load_register(path)
    path.write_text(ITEM + "    supersedes: [nothing-like-it]\n", encoding="utf-8")
    with pytest.raises(InputValueError, match="supersedes 'nothing-like-it'"):
        load_register(path)
    with pytest.raises(ValueError, match="exactly one of"):
        _item(vendor="Huawei")


def test_a_replacement_must_not_predate_what_it_replaces() -> None:
    old = _item(id="old", date="2025-06")
    with pytest.raises(ValueError, match="supersedes the later item"):
        Register(items=(old, _item(id="new", date="2025-01", supersedes=("old",))))


def test_items_dated_after_as_of_are_not_seen() -> None:
    # The Chip Security Act cleared committee on 2026-03-26, after the flagship's as_of.
    flagship = scores_for(FLAGSHIP)["h200-sxm"]["firmware_control"]
    ids = {i.id for i in flagship.items}
    assert "chip-security-act-introduced" in ids
    assert "chip-security-act-committee" not in ids
    seen = [i for view in scores_for(FLAGSHIP).values() for v in view.values() for i in v.items]
    assert all(known_by(i.date, FLAGSHIP.as_of) for i in seen)
    assert "chip-security-act-committee" not in {i.id for i in register_as_of(FLAGSHIP.as_of).items}
    # Seen on the update's as_of, where it replaces the introduced bill.
    update = scores_for(UPDATE)["h200-sxm"]["firmware_control"]
    assert "chip-security-act-committee" in {i.id for i in update.items}
    assert "chip-security-act-introduced" in update.superseded


def test_supersession_holds_only_for_the_parts_both_items_name() -> None:
    scores = derived_scores(builtin_register(), ["ascend-910c", "mlu590"], "own_dc", "2026-01-20")
    assert "hbm-export-control" in scores["ascend-910c"]["supply_security"].superseded
    assert "hbm-export-control" in {i.id for i in scores["mlu590"]["supply_security"].items}


@pytest.mark.parametrize("mode", MODES)
def test_flagship_candidates_get_every_score_in_every_mode(mode: str) -> None:
    for as_of in (FLAGSHIP.as_of, UPDATE.as_of):
        scores = derived_scores(builtin_register(), [*CANDIDATES, "h20"], mode, as_of)
        for accelerator, by_criterion in scores.items():
            for criterion, derived in by_criterion.items():
                assert derived.score is not None, (accelerator, criterion)
                assert 0.0 <= derived.score <= 1.0
                assert derived.score == pytest.approx(score_of(derived.items))


def test_a_criterion_no_item_speaks_to_has_no_score() -> None:
    # Nothing in the register is about Hygon's firmware: no score, not a silent 1.
    scores = derived_scores(builtin_register(), ["hygon-k100"], "own_dc", None)
    assert scores["hygon-k100"]["firmware_control"].score is None


@pytest.mark.parametrize("severity", list(PENALTY))
def test_adding_an_item_lowers_the_score_by_its_penalty(severity: str) -> None:
    base = builtin_register()
    more = Register(items=(*base.items, _item(severity=severity)))
    before = derived_scores(base, ["ascend-910c"], "own_dc", "2026-01-20")["ascend-910c"]["supply_security"]
    after = derived_scores(more, ["ascend-910c"], "own_dc", "2026-01-20")["ascend-910c"]["supply_security"]
    assert before.score is not None
    assert after.score == pytest.approx(before.score * (1 - PENALTY[severity]))
    if PENALTY[severity] > 0:
        assert after.score < before.score
    # An item dated after as_of changes nothing.
    later = Register(items=(*base.items, _item(severity=severity, date="2027")))
    unchanged = derived_scores(later, ["ascend-910c"], "own_dc", "2026-01-20")["ascend-910c"][
        "supply_security"
    ]
    assert unchanged.score == before.score


def test_h200_scores_below_the_910c_on_control_and_supply_in_own_dc() -> None:
    # On the evidence: the CAC summons, US lab testing of every shipment and the proposed
    # location mandate (firmware); a revocable, capped, two-government licence and China's own
    # January block (supply), against Huawei's HBM bottleneck and die bank.
    scores = derived_scores(builtin_register(), ["h200-sxm", "ascend-910c"], "own_dc", FLAGSHIP.as_of)
    for criterion in ("firmware_control", "supply_security"):
        h200, ascend = scores["h200-sxm"][criterion].score, scores["ascend-910c"][criterion].score
        assert h200 is not None
        assert ascend is not None
        assert h200 < ascend, criterion


def test_overrides_replace_the_register_in_their_modes_only_and_keep_it_visible() -> None:
    # The flagship overrides the H200's data sovereignty in own_dc and domestic_cloud, with why.
    own = scores_for(FLAGSHIP, "own_dc")["h200-sxm"]["data_sovereignty"]
    assert own.basis == "override"
    assert own.score == pytest.approx(0.5)
    assert own.reason is not None
    assert "CAC" in own.reason
    assert own.derived is not None
    assert own.derived != own.score
    assert own.items
    abroad = scores_for(FLAGSHIP, "foreign_cloud")["h200-sxm"]["data_sovereignty"]
    assert abroad.basis == "register"
    assert abroad.score == abroad.derived
    # Everything else comes from the register.
    assert scores_for(FLAGSHIP, "own_dc")["h200-sxm"]["supply_security"].basis == "register"
    plain = FLAGSHIP.model_copy(update={"sovereignty": None})
    assert all(v.basis == "register" for view in scores_for(plain).values() for v in view.values())


def test_hand_set_scores_are_read_as_own_dc_overrides() -> None:
    assert FLAGSHIP.sovereignty is not None
    section = FLAGSHIP.sovereignty.model_copy(update={"scores": {"h200-sxm": {"supply_security": 0.2}}})
    scenario = FLAGSHIP.model_copy(update={"sovereignty": section})
    own = scores_for(scenario, "own_dc")["h200-sxm"]["supply_security"]
    assert own.basis == "override"
    assert own.score == pytest.approx(0.2)
    assert own.reason is not None
    assert "hand-set" in own.reason
    assert scores_for(scenario, "domestic_cloud")["h200-sxm"]["supply_security"].basis == "register"


CliRun = Callable[..., Any]


def test_cli_json_shows_scores_beside_price_and_work(cli: CliRun) -> None:
    result = cli("sovereignty", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["as_of"] == "2026-01-20"
    assert [c["accelerator"] for c in report["candidates"]] == list(CANDIDATES)
    weights = report["weights"]
    for c in report["candidates"]:
        assert c["price_per_chip"] > 0
        assert c["work_per_chip"] > 0
        views = {v["criterion"]: v for v in c["criteria"]}
        expected = sum(w * views[k]["score"] for k, w in weights.items()) / sum(weights.values())
        assert c["weighted_score"] == pytest.approx(expected)
        for v in views.values():
            assert all(known_by(i["date"], report["as_of"]) for i in v["items"])
    assert report["later_items"] > 0


def test_cli_all_modes_and_as_of(cli: CliRun) -> None:
    result = cli("sovereignty", "--mode", "all", "--as-of", "2026-11-29", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["as_of"] == "2026-11-29"
    assert len(report["candidates"]) == len(CANDIDATES) * len(MODES)
    table = cli("sovereignty", "--mode", "foreign_cloud")
    assert table.code == 0, table.err
    assert "foreign-cloud-pipl-cross-border" in table.out


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("--mode", "orbit"), "--mode"),
        (("--as-of", "2026-13-01"), "--as-of"),
        (("--as-of", "soon"), "--as-of"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(cli: CliRun, args: tuple[str, ...], field: str) -> None:
    result = cli("sovereignty", *args)
    assert result.code == 2
    assert field in result.err
    assert len(result.err.strip().splitlines()) == 1
