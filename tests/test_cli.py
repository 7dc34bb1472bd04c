"""The command line: JSON outputs, tables, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from suanli.cli import app
from suanli.errors import UnknownIdError

runner = CliRunner()


def _json(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_catalog_list_json() -> None:
    records = _json("catalog", "list", "--json")
    assert isinstance(records, list)
    h200 = next(r for r in records if r["id"] == "h200-sxm")
    assert h200["bf16_dense_tflops"]["value"] == 989
    assert h200["bf16_dense_tflops"]["confidence"] == "vendor"
    assert h200["derived"]["ridge_point_flop_per_byte"] == pytest.approx(989 / 4.8)


def test_catalog_show_json() -> None:
    record = _json("catalog", "show", "h200-sxm", "--json")
    assert isinstance(record, dict)
    assert record["memory_gb"]["value"] == 141
    assert record["export_control"]["status"]


def test_models_list_json() -> None:
    models = _json("models", "list", "--json")
    assert isinstance(models, list)
    v3 = next(m for m in models if m["id"] == "deepseek-v3")
    assert v3["params_total"] / 1e9 == pytest.approx(671, rel=0.02)


def test_order_json_matches_issue_example() -> None:
    result = _json(
        "order",
        "--modules",
        "10000",
        "--chips-per-module",
        "8",
        "--price-per-module",
        "1400000",
        "--currency",
        "CNY",
        "--json",
    )
    assert isinstance(result, dict)
    assert result["chips"] == {"low": 80000, "high": 80000}
    assert result["total_value"]["high"] == 14.0e9
    assert any("7,143 modules" in w for w in result["warnings"])


def test_tables_render(cli) -> None:
    for args in (["catalog", "list"], ["catalog", "show", "ascend-910c"], ["models", "list"], ["order"]):
        result = cli(*args)
        assert result.code == 0, result.err
        assert result.out.strip()
    assert "7,143 modules" in cli("order").err


def test_version(cli) -> None:
    result = cli("--version")
    assert result.code == 0
    assert result.out.startswith("suanli ")


def _one_line_error(result, *fragments: str) -> None:
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_unknown_accelerator_suggests(cli) -> None:
    _one_line_error(cli("catalog", "show", "h200"), "unknown accelerator 'h200'", "h200-sxm")


def test_unknown_scenario_suggests(cli) -> None:
    _one_line_error(cli("order", "--scenario", "h200-china"), "unknown scenario", "h200-china-2026")


def test_missing_catalog_file(cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    _one_line_error(cli("catalog", "list", "--catalog", missing), str(missing), "file not found")


def test_directory_as_catalog_file(cli, tmp_path: Path) -> None:
    _one_line_error(cli("catalog", "list", "--catalog", tmp_path), "not a regular file")


def test_unreadable_catalog_file(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "locked.yaml"
    file.write_text("id: x\n")

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    # Root ignores file modes, so simulate the refusal the OS would give an ordinary user.
    monkeypatch.setattr(Path, "read_text", refuse)
    _one_line_error(cli("catalog", "list", "--catalog", file), "cannot read file (Permission denied)")


def test_binary_catalog_file(cli, tmp_path: Path) -> None:
    file = tmp_path / "bin.yaml"
    file.write_bytes(b"\xff\xfe\x00garbage")
    _one_line_error(cli("catalog", "list", "--catalog", file), "not UTF-8 text")


def test_yaml_syntax_error_names_line(cli, tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("accelerators:\n  - id: x\n    name: [unclosed\n")
    _one_line_error(cli("catalog", "list", "--catalog", file), f"{file}:", "invalid YAML")


OVERRIDE = """\
accelerators:
  - base: h200-sxm
    id: h200-mine
    name: H200 (our quote)
    memory_gb:
      value: {value}
      source: our supplier quote
      date: 2026-11-01
      confidence: derived
"""


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("-5", "memory_gb.value: Input should be greater than or equal to 0 (got -5)"),
        ("lots", "memory_gb.value: Input should be a valid number"),
        ("141000", "memory_gb.value must be > 0 and <= 5000 (got 141000)"),
    ],
)
def test_bad_values_name_file_line_field(cli, tmp_path: Path, value: str, fragment: str) -> None:
    file = tmp_path / "mine.yaml"
    file.write_text(OVERRIDE.format(value=value))
    result = cli("catalog", "list", "--catalog", file)
    # Line 6 holds memory_gb.value; the absurd-value rule is checked on the record (line 2).
    line = 2 if value == "141000" else 6
    _one_line_error(result, f"{file}:{line}:", fragment)


def test_missing_field_and_unknown_field(cli, tmp_path: Path) -> None:
    file = tmp_path / "new.yaml"
    file.write_text("accelerators:\n  - id: newchip\n    vendor: X\n    colour: red\n")
    _one_line_error(cli("catalog", "list", "--catalog", file), f"{file}:", "accelerators.0.")


def test_unknown_base_suggests(cli, tmp_path: Path) -> None:
    file = tmp_path / "base.yaml"
    file.write_text("accelerators:\n  - base: ascend-910x\n    id: mine\n")
    _one_line_error(cli("catalog", "list", "--catalog", file), f"{file}:2:", "ascend-910b")


def test_user_catalog_adds_and_overrides(cli, tmp_path: Path) -> None:
    file = tmp_path / "mine.yaml"
    file.write_text(OVERRIDE.format(value="150"))
    result = cli("catalog", "show", "h200-mine", "--catalog", file, "--json")
    assert result.code == 0, result.err
    record = json.loads(result.out)
    assert record["memory_gb"]["value"] == 150
    assert record["memory_gb"]["source"] == "our supplier quote"
    assert record["bf16_dense_tflops"]["value"] == 989  # kept from the base record


def test_single_record_file_replaces_builtin(cli, tmp_path: Path) -> None:
    text = files("suanli.catalog").joinpath("accelerators", "h20.yaml").read_text(encoding="utf-8")
    file = tmp_path / "h20.yaml"
    file.write_text(text.replace("name: ", "name: Replaced ", 1))
    result = cli("catalog", "show", "h20", "--catalog", file, "--json")
    assert json.loads(result.out)["name"].startswith("Replaced ")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["order", "--modules", "ten"], "--modules: expected a number or a range"),
        (["order", "--modules", "10000-5000"], "--modules"),
        (["order", "--price-per-module", "-3"], "--price-per-module"),
        (["order", "--currency", "GBP"], "--currency"),
        (["order", "--surcharge", "2"], "--surcharge"),
    ],
)
def test_bad_order_options(cli, args: list[str], fragment: str) -> None:
    _one_line_error(cli(*args), fragment)


def test_debug_shows_traceback(cli) -> None:
    with pytest.raises(UnknownIdError):
        cli("--debug", "catalog", "show", "nope")


@pytest.mark.slow
def test_installed_command_runs() -> None:
    exe = shutil.which("suanli", path=str(Path(sys.executable).parent))
    assert exe is not None
    ok = subprocess.run(
        [exe, "catalog", "show", "h200-sxm", "--json"], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["id"] == "h200-sxm"
    bad = subprocess.run([exe, "catalog", "show", "h2000"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr


FIELDS = [
    "bf16_dense_tflops",
    "memory_gb",
    "memory_tb_s",
    "tdp_w",
    "scaleup_domain",
    "price",
    "year",
    "chips_per_server",
    "country",
    "software_stack",
    "id",
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["value", "source", "x"]), st.integers(), max_size=3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=VALUES)
def test_any_bad_catalog_value_is_one_line_or_accepted(
    cli, tmp_path: Path, field: str, value: object
) -> None:
    file = tmp_path / "fuzz.yaml"
    record = {"accelerators": [{"base": "h200-sxm", "id": "fuzz-chip", field: value}]}
    file.write_text(yaml.safe_dump(record, allow_unicode=True))
    result = cli("catalog", "show", "fuzz-chip", "--catalog", file, "--json")
    assert result.code in {0, 2}, result.err
    if result.code == 2:
        lines = result.err.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith(f"error: {file}")
        assert "Traceback" not in result.err
