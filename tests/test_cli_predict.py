"""``suanli predict`` and ``suanli validate`` on the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from suanli.cli import app

runner = CliRunner()


def _json(*args: str) -> dict:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_predict_train_json_fields() -> None:
    out = _json(
        "predict",
        "train",
        "--model",
        "llama3-70b",
        "--accelerator",
        "h100-sxm",
        "--chips",
        "1024",
        "--seq-len",
        "8192",
        "--global-batch-tokens",
        "16777216",  # 2,048 sequences of 8,192: many data-parallel degrees divide it
        "--tokens",
        "15T",
        "--json",
    )
    for field in (
        "step_time_s",
        "tokens_per_s",
        "mfu",
        "days",
        "memory_gb_per_chip",
        "plan",
        "breakdown",
        "interval",
    ):
        assert field in out
    assert 0 < out["mfu"] < 1  # a fraction, not a percentage
    assert out["interval"]["p10"] < out["tokens_per_s"] < out["interval"]["p90"]
    # Days count the fleet's goodput (failures, restarts, checkpoints) on top of the step rate.
    assert out["days"] == pytest.approx(15e12 / (out["tokens_per_s"] * out["goodput"]) / 86400)
    assert 0.5 < out["goodput"] < 1
    assert out["global_batch_tokens"] == 16777216
    assert out["plans_evaluated"] > 100
    assert out["search_plans_per_s"] > 0


def test_predict_train_pinned_plan() -> None:
    out = _json(
        "predict",
        "train",
        "-m",
        "gpt3-175b",
        "-a",
        "a100-sxm-80gb",
        "-n",
        "1024",
        "--seq-len",
        "2048",
        "--global-batch-tokens",
        "3145728",
        "--tp",
        "8",
        "--pp",
        "8",
        "--dp",
        "16",
        "--json",
    )
    assert (out["plan"]["tp"], out["plan"]["pp"], out["plan"]["dp"]) == (8, 8, 16)


def test_predict_infer_json_fields() -> None:
    out = _json(
        "predict",
        "infer",
        "--model",
        "llama3-70b",
        "--accelerator",
        "h200-sxm",
        "--chips",
        "8",
        "--input-tokens",
        "2000",
        "--output-tokens",
        "500",
        "--tpot-ms",
        "50",
        "--weight-precision",
        "fp8",
        "--json",
    )
    for field in (
        "ttft_s",
        "tpot_s",
        "tokens_per_s",
        "tokens_per_s_per_chip",
        "max_batch",
        "kv_cache_gb_per_request",
        "bound",
        "interval",
    ):
        assert field in out
    assert out["tpot_s"] <= 0.05
    assert out["tokens_per_s_per_chip"] == pytest.approx(out["tokens_per_s"] / 8)


def test_predict_infer_fixed_batch() -> None:
    out = _json(
        "predict",
        "infer",
        "-m",
        "llama3-8b",
        "-a",
        "ascend-910b",
        "-n",
        "1",
        "--input-tokens",
        "512",
        "--output-tokens",
        "128",
        "--batch",
        "32",
        "--json",
    )
    assert out["batch"] == 32
    assert out["bound"].endswith("(batch: given)")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["predict", "train", "-m", "llama3.1-405b", "-a", "h100-sxm", "-n", "8"], "does not fit"),
        (
            ["predict", "train", "-m", "llama3-70b", "-a", "h100-sxm", "-n", "7", "--tp", "2"],
            "tp: the pinned degrees' product 2 must divide the 7 chips",
        ),
        (
            ["predict", "train", "-m", "llama3-8b", "-a", "ascend-910b", "-n", "8", "--precision", "fp8"],
            "no fp8",
        ),
        (
            ["predict", "train", "-m", "llama3-8b", "-a", "h100-sxm", "-n", "8", "--tokens", "lots"],
            "--tokens",
        ),
        (["predict", "train", "-m", "llama4", "-a", "h100-sxm", "-n", "8"], "unknown model"),
        (
            [
                "predict",
                "infer",
                "-m",
                "llama3.1-405b",
                "-a",
                "h100-sxm",
                "-n",
                "1",
                "--input-tokens",
                "10",
                "--output-tokens",
                "10",
            ],
            "weights need",
        ),
        (
            [
                "predict",
                "infer",
                "-m",
                "llama3-8b",
                "-a",
                "h100-sxm",
                "-n",
                "1",
                "--input-tokens",
                "10",
                "--output-tokens",
                "10",
                "--batch",
                "4",
                "--tpot-ms",
                "20",
            ],
            "not both",
        ),
        (
            [
                "predict",
                "infer",
                "-m",
                "llama3-8b",
                "-a",
                "h100-sxm",
                "-n",
                "3",
                "--input-tokens",
                "10",
                "--output-tokens",
                "10",
                "--tp",
                "2",
            ],
            "must divide",
        ),
    ],
)
def test_impossible_requests_exit_2(cli, args: list[str], fragment: str) -> None:
    result = cli(*args)
    assert result.code == 2, result.err
    assert fragment in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_validate_command(cli) -> None:
    result = cli("validate")
    assert result.code == 0
    assert "validate split MAPE" in result.out
    out = _json("validate", "--json")
    assert out["overall_validate_mape"] < 0.22
    assert len(out["rows"]) >= 80
    assert {g["group"] for g in out["headline"]} >= {"nvidia-dense", "moe", "chinese-accelerators"}
    assert len(out["worst"]) == 10
    assert "Ten worst validate points" in result.out
