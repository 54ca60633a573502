"""The ``bmb-train`` command line: help without TensorFlow, one-line errors, the whole flow at toy scale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bmb_train.cli import app
from typer.testing import CliRunner


def test_help_does_not_import_tensorflow() -> None:
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom bmb_train.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\nassert result.exit_code == 0, result.output\n"
        "assert 'pretrain' in result.output\nassert 'tensorflow' not in sys.modules\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["pretrain", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r"), "--steps", "1"]
    )
    assert result.exit_code == 12
    assert result.output.strip().startswith("error: ") and "manifest.json" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_flow_vocab_data_pretrain_export(corpus: Path, tmp_path: Path) -> None:
    runner = CliRunner()

    def ok(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    ok("vocab", "--corpus", str(corpus), "--size", "1200", "--out", str(tmp_path / "vocab.txt"), "--limit", "60")
    ok(
        "data",
        "--corpus",
        str(corpus),
        "--vocab",
        str(tmp_path / "vocab.txt"),
        "--out",
        str(tmp_path / "shards"),
        "--max-seq",
        "32",
        "--dupe",
        "1",
        "--limit",
        "60",
        "--shards",
        "2",
        "--whole-word",
    )
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    assert manifest["settings"]["whole_word_masking"] is True and manifest["settings"]["max_predictions"] == 5
    output = ok(
        "pretrain",
        "--data",
        str(tmp_path / "shards"),
        "--init",
        "none",
        "--config",
        "tiny",
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--log-every",
        "2",
        "--out",
        str(tmp_path / "run"),
    )
    assert "steps/s" in output and "loss" in output
    output = ok("export", str(tmp_path / "run"), "--tfhub", str(tmp_path / "tfhub"))
    assert "max abs diff" in output and (tmp_path / "tfhub" / "saved_model.pb").is_file()
