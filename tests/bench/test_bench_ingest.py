"""bench/bench_ingest.py end to end on the tiny model: both commit policies, ingest and write-only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bmb_es.embedding import load_embedder


@pytest.fixture
def fresh_loader() -> Iterator[None]:
    load_embedder.cache_clear()
    yield
    load_embedder.cache_clear()


@pytest.mark.slow
def test_the_script_measures_each_commit_policy_and_writes_a_page(
    tiny_model: Path, tmp_path: Path, data_dir: Path, fresh_loader: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.bench_ingest import main

    corpus = tmp_path / "corpus.jsonl"
    records = [{"id": f"d{n}", "title": f"Lung injury {n}", "abstract": "heart " * (n % 7)} for n in range(30)]
    corpus.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    out = tmp_path / "results"
    argv = ["--corpus", str(corpus), "--model", str(tiny_model), "--device", "cpu", "--setting", "torch/fp32"]
    argv += ["--copies", "2", "--commit", "16,default", "--rounds", "1", "--out", str(out)]
    assert main(argv) == 0
    (page,) = out.glob("ingest-*.md")
    text = page.read_text(encoding="utf-8")
    assert "60 documents (2 x the corpus)" in text
    assert "| every 16 documents |" in text and "| default (2,048 docs or 2 s) |" in text
    (results,) = out.glob("ingest-*.json")
    payload = json.loads(results.read_text(encoding="utf-8"))
    assert payload["documents"] == 60 and [row["commit_every"] for row in payload["policies"]] == [16, None]
    assert all(len(row["ingest_docs_per_s"]) == len(row["write_docs_per_s"]) == 1 for row in payload["policies"])
    printed = capsys.readouterr().out
    for policy in ("16", "default"):
        for kind in ("ingest", "write"):
            assert f"round 1, commit {policy}, {kind}: " in printed


def test_bad_commit_policies_are_usage_errors(tmp_path: Path) -> None:
    from bench.bench_ingest import main

    for bad in ("0", "often", ""):
        with pytest.raises(SystemExit) as caught:
            main(["--commit", bad, "--out", str(tmp_path)])
        assert caught.value.code == 2
