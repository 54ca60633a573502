"""End-to-end: ``bmb-es bench ir`` and ``bench speed`` on tiny slices of real data, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bmb_es._document import Document
from bmb_es.bench.ir import Candidates, rescore
from bmb_es.bench.speed import scaled
from bmb_es.cli import app
from tests.bench.test_datasets import make_beir
from tests.conftest import shared_path


def test_rescore_matches_the_engine_rule() -> None:
    candidates = Candidates(["a", "b", "c"], [9.0, 5.0, 1.0], [0.1, 0.9, 0.5])
    assert rescore(candidates, 3, 0.0, 1.0) == ["b", "c", "a"]  # pure cosine
    assert rescore(candidates, 2, 0.0, 1.0) == ["b", "a"]  # only the top-2 BM25 window
    assert rescore(candidates, 3, 1.0, 1.0) == ["a", "b", "c"]  # 10.1, 6.9, 2.5
    tied = Candidates(["x", "y"], [2.0, 1.0], [0.5, 0.5])
    assert rescore(tied, 2, 0.0, 1.0) == ["x", "y"]  # ties keep BM25 order


def test_scaled_repeats_documents_with_new_ids() -> None:
    docs = [Document(id=str(i), abstract=f"text {i}") for i in range(3)]
    out = scaled(docs, 7)
    assert [doc.id for doc in out] == ["0", "1", "2", "0~r1", "1~r1", "2~r1", "0~r2"]
    assert scaled(docs, 2) == docs[:2]


@pytest.mark.slow
def test_bench_ir_cli_end_to_end(tmp_path: Path, data_dir: Path) -> None:
    folder = make_beir(tmp_path / "tiny", n_docs=40, n_queries=8)
    out = tmp_path / "results"
    docs = tmp_path / "docs" / "benchmarks.md"
    result = CliRunner().invoke(
        app,
        ["bench", "ir", "--dataset", f"beir:{folder}", "--top-k", "5,10", "--verify", "2", "--out", str(out),
         "--docs", str(docs), "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [json_path] = out.glob("ir-*.json")
    assert json_path.with_suffix(".md").is_file() and json_path.with_suffix(".png").is_file()
    payload = json.loads(json_path.read_text())
    assert payload["machine"]["cores"] and payload["versions"]["bmb-es"]
    [res] = payload["results"]
    systems = res["sets"]["unfiltered"]["systems"]
    for name in ("BM25", "BM25 peer (bm25s, lucene)", "BM25@5 + all-MiniLM-L6-v2 (pure)",
                 "BM25@10 + all-MiniLM-L6-v2 (weighted)", "dense all-MiniLM-L6-v2 (exact cosine)"):  # fmt: skip
        assert name in systems
        assert 0.0 <= systems[name]["mrr@10"] <= 1.0
    assert systems["BM25"]["mrr@10"] > 0.5  # the tiny set is lexically easy
    assert len(res["sets"]["unfiltered"]["per_query"]["BM25"]["mrr@10"]) == 8
    assert {"unfiltered", "jaccard<=0.3", "content-coverage<=0.3", "content-coverage<=0.3 [condensed]"} <= set(
        res["sets"]
    )
    check = res["verification"]["all-MiniLM-L6-v2"]
    assert check["identical"] == check["checks"] > 0
    assert "| BM25 |" in result.output and "BM25" in docs.read_text()
    json_path.with_suffix(".md").unlink()
    rendered = CliRunner().invoke(app, ["bench", "render", str(json_path)])
    assert rendered.exit_code == 0, rendered.output
    assert "| BM25 |" in json_path.with_suffix(".md").read_text()


@pytest.mark.slow
def test_bench_ir_reuses_a_kept_index_and_takes_the_first_stage_fields(tmp_path: Path, data_dir: Path) -> None:
    folder = make_beir(tmp_path / "tiny", n_docs=30, n_queries=6)
    kept = tmp_path / "indices"

    def run(*extra: str) -> dict[str, object]:
        out = tmp_path / f"results-{len(list(tmp_path.glob('results-*')))}"
        args = ["bench", "ir", "-d", f"beir:{folder}", "--top-k", "5", "--verify", "1", "--no-peers", "--out", str(out)]
        result = CliRunner().invoke(app, [*args, "--index-dir", str(kept), "-q", *extra])
        assert result.exit_code == 0, result.output
        [json_path] = out.glob("ir-*.json")
        payload: dict[str, object] = json.loads(json_path.read_text())
        return payload

    first = run()
    [res] = first["results"]  # type: ignore[misc]
    assert res["ingest"]["all-MiniLM-L6-v2"]["indexed"] == 30
    second = run()
    [again] = second["results"]  # type: ignore[misc]
    assert again["ingest"]["all-MiniLM-L6-v2"]["indexed"] == 0
    assert again["ingest"]["all-MiniLM-L6-v2"]["unchanged"] == 30  # found again by name: nothing re-embedded
    assert again["sets"]["unfiltered"]["systems"] == res["sets"]["unfiltered"]["systems"]
    paper = run("--fields", "title^2,abstract")
    assert paper["settings"]["fields"] == ["title^2", "abstract"]  # type: ignore[index]


def test_bench_ir_refuses_a_bad_fields_spec(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "ir", "-d", f"beir:{tmp_path}", "--fields", "title^x"])
    assert result.exit_code == 2
    assert "--fields" in result.output and "bad boost" in result.output
    assert "request body" not in result.output  # a CLI option, not a pasted body


@pytest.mark.slow
def test_bench_speed_cli_tiny(tmp_path: Path, data_dir: Path) -> None:
    source = shared_path("bioasq", "pubmed", "pubmed_abstracts.jsonl")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = source.read_text(encoding="utf-8").splitlines()[:8]
    (corpus / "abstracts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "results"
    result = CliRunner().invoke(
        app,
        ["bench", "speed", "--corpus", str(corpus), "--sizes", "5,12", "--queries", "3", "--repeats", "1",
         "--batch-size", "4", "--no-compare", "--out", str(out), "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [json_path] = out.glob("speed-*.json")
    payload = json.loads(json_path.read_text())
    small, large = payload["runs"]
    assert not small["repeated_documents"] and large["repeated_documents"]
    assert large["ingest_docs_per_s"] > 0 and large["rerank"]["p50_ms"] > 0
    assert "repeat its documents" in result.output
    assert "embedding_settings" not in payload and payload["settings"]["embedding"] is None
    assert payload["settings"]["batch_size"] == 4
    # The re-ranked search with the question's vector given: what a search costs beyond encoding.
    assert large["rerank_given_vector"]["p50_ms"] > 0 and large["rerank_given_vector"]["passes"] == 1
    assert "re-rank search, vector given, p50 ms" in result.output
    assert "BM25+re-rank minus encode, p50 ms" in result.output


def test_bench_progress_off_a_terminal_prints_counts_percent_and_eta(capsys: pytest.CaptureFixture[str]) -> None:
    from bmb_es.cli._bench import _Bars

    bars = _Bars(quiet=False)
    for done in range(0, 41, 4):
        bars("nfcorpus: BM25", done, 40)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("nfcorpus: BM25: 4 of 40 items (10 %)")
    assert any(", ETA " in line for line in lines) and lines[-1].startswith("nfcorpus: BM25: 40 of 40 items (100 %)")
    _Bars(quiet=True)("x", 1, 2)
    assert capsys.readouterr().err == ""
