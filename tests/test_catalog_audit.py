"""The data audit: ``catalog show --sources``, ``catalog check``, reference integrity, provenance."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict
from typer.testing import CliRunner

from suanli.catalog import Accelerator, Catalog, System, builtin_catalog
from suanli.catalog.audit import (
    FINDING_KINDS,
    Finding,
    audit,
    check_references,
    counts,
    machine_local_paths,
    provenance_gaps,
    reference_tokens,
    resolves,
    sourced_figures,
)
from suanli.cli import app
from suanli.economics.costs import cost_defaults

runner = CliRunner()


def _figure(value: float, confidence: str = "vendor", **extra: Any) -> dict[str, Any]:
    return {
        "value": value,
        "source": "Test datasheet rev. 1",
        "date": "2025-03",
        "confidence": confidence,
        **extra,
    }


#: A user record with one of each finding: a secondary (weak) figure, a derived figure without
#: its rule, a range wider than 2x, missing spec fields, and a price dated after 2026-01.
TEST_CHIP: dict[str, Any] = {
    "id": "test-chip",
    "vendor": "Test",
    "name": "Test Chip",
    "country": "CN",
    "year": 2025,
    "software_stack": "cann",
    "chips_per_server": 8,
    "bf16_dense_tflops": _figure(300, low=280, high=320),
    "memory_gb": _figure(64, "secondary"),
    "memory_tb_s": _figure(1.6, "derived", note="2 stacks x 0.8 TB/s"),
    "scaleup_gb_s": _figure(100, "derived"),
    "tdp_w": _figure(400, "primary", low=300, high=700),
    "price": [
        {
            "amount": 20000,
            "currency": "USD",
            "source": "Test press",
            "date": "2025-06",
            "confidence": "primary",
        },
        {
            "amount": 18000,
            "currency": "USD",
            "source": "Test press",
            "date": "2026-06",
            "confidence": "primary",
        },
    ],
}


def _of(findings: list[Finding], record: str) -> set[tuple[str, str]]:
    return {(f.field, f.kind) for f in findings if f.record == record}


def _user_catalog(tmp_path: Path) -> Path:
    path = tmp_path / "user.yaml"
    path.write_text(yaml.safe_dump({"accelerators": [TEST_CHIP]}), encoding="utf-8")
    return path


# -- catalog show --sources --------------------------------------------------------------------


def test_show_sources_json_lists_every_figure_with_full_source(cli) -> None:
    result = cli("catalog", "show", "ascend-910c", "--sources", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    record = builtin_catalog().accelerator("ascend-910c")
    by_field = {row["field"]: row for row in rows}
    assert set(by_field) >= {"dies", "bf16_dense_tflops", "tdp_w", "export_control"}
    assert any(name.startswith("price") for name in by_field)
    tdp = by_field["tdp_w"]
    assert record.tdp_w is not None
    assert tdp["source"] == record.tdp_w.source
    assert tdp["note"] == record.tdp_w.note
    assert (tdp["value"], tdp["low"], tdp["high"], tdp["unit"]) == (700, 600, 850, "W")
    assert (tdp["confidence"], tdp["date"]) == (record.tdp_w.confidence, record.tdp_w.date)
    assert by_field["memory_tb_s"]["unit"] == "TB/s"
    assert by_field["export_control"]["value"].startswith("Domestic")


def _last_cells(table: str) -> str:
    """The text of the last column of a Rich box table, whitespace removed."""
    cells = [line.split("│")[-2] for line in table.splitlines() if line.count("│") >= 3]
    return re.sub(r"\s+", "", "".join(cells))


@pytest.mark.parametrize("record_id", ["ascend-910c", "cloudmatrix-384"])
def test_show_sources_table_keeps_sources_whole(cli, record_id: str) -> None:
    result = cli("catalog", "show", record_id, "--sources")
    assert result.code == 0, result.err
    assert "…" not in result.out
    column = _last_cells(result.out)
    for figure in sourced_figures(_record(record_id)):
        assert figure.source is not None
        assert re.sub(r"\s+", "", figure.source) in column, figure.field


def _record(record_id: str) -> Accelerator | System:
    cat = builtin_catalog()
    return cat.systems[record_id] if record_id in cat.systems else cat.accelerators[record_id]


def test_show_sources_of_a_system_and_a_model() -> None:
    result = runner.invoke(app, ["catalog", "show", "cloudmatrix-384", "--sources", "--json"])
    assert result.exit_code == 0, result.output
    fields = {row["field"] for row in json.loads(result.stdout)}
    assert {"chips", "scaleup_domain", "power_kw"} <= fields
    assert any(f.startswith("published_mfu[") for f in fields)
    result = runner.invoke(app, ["catalog", "show", "llama3-70b", "--sources", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["field"] == "record"
    assert "Llama-3-70B" in row["source"]


def test_show_without_sources_is_unchanged() -> None:
    result = runner.invoke(app, ["catalog", "show", "h200-sxm", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == "h200-sxm"


# -- catalog check -------------------------------------------------------------------------------


def test_check_finds_each_kind_in_a_user_catalog(cli, tmp_path: Path) -> None:
    result = cli("catalog", "check", "--catalog", _user_catalog(tmp_path), "--as-of", "2026-01", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    findings = [Finding(**f) for f in report["findings"]]
    found = _of(findings, "test-chip")
    assert ("memory_gb", "weak") in found
    assert ("scaleup_gb_s", "weak") in found  # derived, no note giving the rule
    assert ("tdp_w", "wide_range") in found  # 300-700 W
    assert ("fp8_dense_tflops", "missing") in found
    assert ("prices[1]", "after_as_of") in found
    # Sound figures stay quiet: vendor with a narrow range, derived with its rule, an older price.
    for quiet in ("bf16_dense_tflops", "memory_tb_s", "prices[0]"):
        assert not {kind for field, kind in found if field == quiet}, quiet
    assert ("tdp_w", "weak") not in found  # primary is not weak
    assert report["as_of"] == "2026-01"
    assert report["counts"] == counts(findings)
    assert set(report["counts"]) == set(FINDING_KINDS)


def test_check_without_as_of_reports_no_dates(cli, tmp_path: Path) -> None:
    result = cli("catalog", "check", "--catalog", _user_catalog(tmp_path), "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["counts"]["after_as_of"] == 0


def test_check_table_and_summary(cli, tmp_path: Path) -> None:
    result = cli("catalog", "check", "--catalog", _user_catalog(tmp_path), "--as-of", "2026-01")
    assert result.code == 0, result.err
    assert "test-chip" in result.out
    summary = next(line for line in result.out.splitlines() if " findings (" in line)
    assert all(kind in summary for kind in FINDING_KINDS)
    assert "as of 2026-01" in summary


def test_catalog_dash_check_is_the_check_subcommand(cli, tmp_path: Path) -> None:
    user = _user_catalog(tmp_path)
    via_option = cli("catalog", "--check", "--catalog", user, "--as-of", "2026-01", "--json")
    via_command = cli("catalog", "check", "--catalog", user, "--as-of", "2026-01", "--json")
    assert via_option.code == via_command.code == 0, via_option.err
    assert json.loads(via_option.out) == json.loads(via_command.out)


def test_catalog_without_command_or_check_is_a_usage_error(cli) -> None:
    assert cli("catalog").code == 2
    assert cli("catalog", "--check", "list").code == 2


@pytest.mark.parametrize("as_of", ["2026-13", "yesterday", "2026-02-30"])
def test_check_bad_as_of_is_one_line_error(cli, as_of: str) -> None:
    result = cli("catalog", "check", "--as-of", as_of)
    assert result.code == 2, result.out
    assert result.err.strip().count("\n") == 0
    assert result.err.startswith("error: --as-of")


def test_check_unreadable_data_is_one_line_error(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nvendor: [\n", encoding="utf-8")
    result = cli("catalog", "check", "--catalog", bad)
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert str(bad) in result.err


# -- audit() on constructed data -----------------------------------------------------------------


class _Costs(BaseModel):
    """A stand-in for the cost defaults: typed leaves as dated lists, untyped variants."""

    model_config = ConfigDict(frozen=True, extra="allow")

    pue: list[dict[str, Any]]


def _constructed() -> tuple[Catalog, _Costs]:
    chip = Accelerator.model_validate({**TEST_CHIP, "default_system": "other-box"})
    other = Accelerator.model_validate({**TEST_CHIP, "id": "other-chip", "price": []})
    box = System.model_validate(
        {
            "id": "other-box",
            "name": "Other box",
            "vendor": "Test",
            "accelerator": "other-chip",
            "kind": "server",
            "chips": {"value": 8, "source": "Test datasheet", "date": "2025", "confidence": "vendor"},
            "scaleup_domain": {
                "value": 8,
                "source": "Test datasheet",
                "date": "2025",
                "confidence": "vendor",
            },
            "notes": (
                "see `other-chip.tdp_w` and other-chip_memory_gb; not `other-chip.tdp_kw` nor gone-chip_tdp_w"
            ),
        }
    )
    orphan = System.model_validate(
        {**box.model_dump(), "id": "orphan-box", "accelerator": "gone", "notes": None}
    )
    costs = _Costs.model_validate(
        {
            "pue": [
                {
                    "value": 1.3,
                    "low": 1.2,
                    "high": 1.5,
                    "source": "Plan",
                    "date": "2025",
                    "confidence": "vendor",
                },
                {"value": 1.25, "source": "Plan", "date": "2026-07", "confidence": "assumption"},
            ],
            "variants": {
                "pue": {
                    "best_site": {"value": 1.1, "source": "Operator", "date": "2024-08"},
                    "worst_site": {"value": 2.0, "source": "x", "date": "2024", "confidence": "vendor"},
                },
                "rack": {"value": 40, "source": "/home/me/notes.txt", "date": "2024", "confidence": "vendor"},
            },
            "note": "see variants.pue.best_site and pue[0].high, not variants.pue.median_site",
        }
    )
    catalog = Catalog(
        accelerators={"test-chip": chip, "other-chip": other},
        systems={"other-box": box, "orphan-box": orphan},
    )
    return catalog, costs


def test_audit_of_constructed_data() -> None:
    catalog, costs = _constructed()
    findings = audit(catalog, costs, as_of="2026-01-20")
    costs_found = _of(findings, "cost_defaults")
    assert ("pue[1]", "weak") in costs_found
    assert ("pue[1]", "after_as_of") in costs_found
    assert ("pue[0]", "after_as_of") not in costs_found
    assert ("variants.pue.best_site", "incomplete") in costs_found  # no confidence
    assert ("variants.pue.worst_site", "incomplete") in costs_found  # source too short
    assert ("variants.rack.source", "local_path") in costs_found
    assert _of(findings, "orphan-box") >= {("accelerator", "dangling_ref")}
    assert ("default_system", "dangling_ref") in _of(findings, "test-chip")  # holds other-chip
    order = [f.section for f in findings]
    assert order == sorted(order, key=["accelerators", "systems", "models", "cost_defaults"].index)


def test_references_in_constructed_notes() -> None:
    catalog, costs = _constructed()
    dangling = {
        (f.record, f.detail.split("'")[1]) for f in check_references(catalog, costs) if "'" in f.detail
    }
    assert ("other-box", "other-chip.tdp_kw") in dangling
    assert ("other-box", "gone-chip_tdp_w") in dangling
    assert ("cost_defaults", "variants.pue.median_site") in dangling
    for fine in ("other-chip.tdp_w", "other-chip_memory_gb", "variants.pue.best_site", "pue.high"):
        assert not any(token == fine for _, token in dangling), fine
        assert resolves(fine, catalog, costs), fine


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Use ascend-910c_system_all_in for facility sizing.", ["ascend-910c_system_all_in"]),
        ("(600-850, see chip_power_w.ascend-910c); includes", ["chip_power_w.ascend-910c"]),
        (
            "prefer variants.server_overhead_share.per_server_cny.",
            ["variants.server_overhead_share.per_server_cny"],
        ),
        ("the `h200-sxm.price` entry", ["h200-sxm.price"]),
        ("github.com/epoch-research/training-cost-trends training_cost_trends/hardware.py", []),
        ("h100_manufacturing_cost.ipynb and catalog_facts.md A2, shared/facts/catalog_facts.md", []),
        ("vllm 0.11.0+dtk fork; CostInputs.power_utilisation covers this", []),
        ("china-briefing.com/news/x (US$0.088/kWh); greenergydaily.com/index.php?id=3999", []),
        ("CLUSTER_INTERCONNECT_COST_FRACTION = 0.19; get_server_lifetime: 5 years; torch_npu", []),
        ("https://example.com/a_b.c/d", []),
    ],
)
def test_reference_tokens(text: str, tokens: list[str]) -> None:
    assert reference_tokens(text) == tokens


# -- the bundled data ----------------------------------------------------------------------------


def test_bundled_references_resolve() -> None:
    findings = check_references(builtin_catalog(), cost_defaults())
    assert findings == [], "\n".join(f"{f.section}/{f.record}/{f.field}: {f.detail}" for f in findings)


def test_bundled_provenance_is_complete() -> None:
    findings = provenance_gaps(builtin_catalog(), cost_defaults())
    assert findings == [], "\n".join(f"{f.section}/{f.record}/{f.field}: {f.detail}" for f in findings)


def _raw_data_files() -> list[tuple[str, str]]:
    scenarios = files("suanli.scenario").joinpath("builtin")
    texts = [
        (f"scenario/builtin/{entry.name}", entry.read_text(encoding="utf-8"))
        for entry in scenarios.iterdir()
        if entry.name.endswith(".yaml")
    ]
    measurements = files("suanli.perf").joinpath("data", "measurements.yaml")
    texts.append(("perf/data/measurements.yaml", measurements.read_text(encoding="utf-8")))
    return texts


def test_no_machine_local_paths_in_scenarios_and_measurements() -> None:
    texts = _raw_data_files()
    assert len(texts) >= 2
    hits = [(name, hit) for name, text in texts for hit in machine_local_paths(text)]
    assert hits == []


@pytest.mark.parametrize(
    ("text", "hits"),
    [
        ("copied from /home/alice/facts.md", ["/home/alice/facts.md"]),
        ("see /tmp/x.yaml and /work/shared/facts", ["/tmp/x.yaml", "/work/shared/facts"]),
        (r"C:\Users\bob\prices.xlsx", [r"C:\Users\bob\prices.xlsx"]),
        ("https://example.com/work/papers and github.com/a/tmp/b", []),
        ("shared/facts/catalog_facts.md C1", []),
    ],
)
def test_machine_local_paths(text: str, hits: list[str]) -> None:
    assert machine_local_paths(text) == hits
