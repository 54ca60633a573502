"""Ingest: idempotent upserts, updates, duplicates, the reject log and model-mismatch refusal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bmb_es import Document, EmbeddedEngine, ModelMismatchError, index_path, search
from bmb_es._ingest import ingest
from bmb_es.embedding import Embedder, embed_text
from bmb_es.readers import Reject
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow


def test_reindex_is_idempotent_and_skips_unchanged(data_dir: Path, embedder: Embedder) -> None:
    engine = EmbeddedEngine()
    first = index_path(EXAMPLES / "breathe", engine=engine, embedder=embedder)
    assert (first.read, first.indexed, first.rejected, first.embedded) == (18, 18, 0, 18)
    second = index_path(EXAMPLES / "breathe", engine=engine, embedder=embedder)
    assert (second.read, second.indexed, second.unchanged, second.embedded) == (18, 0, 18, 0)
    assert engine.count("papers") == 18


def test_changed_content_is_an_update_and_duplicates_are_counted(data_dir: Path, embedder: Embedder) -> None:
    engine = EmbeddedEngine()
    base = Document(id="p1", title="Lung injury", abstract="Alveolar damage.")
    ingest([base, Document(id="p2", title="Kidney", abstract="Renal.")], engine, "t", embedder)
    changed = Document(id="p1", title="Lung injury", abstract="Alveolar damage and fibrosis.")
    summary = ingest(
        [changed, changed, base.__class__(id="p2", title="Kidney", abstract="Renal.")], engine, "t", embedder
    )
    assert (summary.updated, summary.duplicates, summary.unchanged, summary.indexed) == (1, 1, 1, 0)
    assert engine.count("t") == 2
    stored = engine.get("t", ["p1"])["p1"]
    assert stored.document.abstract == "Alveolar damage and fibrosis."
    expected = embedder.embed([embed_text(changed)])[0]
    assert np.allclose(stored.vector, expected, atol=1e-5)


def test_duplicates_are_told_from_unchanged_across_commits(data_dir: Path, embedder: Embedder) -> None:
    # Once committed, the run keeps only a hash of each id it met: a copy met after the commit is still a
    # duplicate of this run, and a document stored by an earlier run is still unchanged.
    engine = EmbeddedEngine()
    old = Document(id="old", title="Stored before", abstract="Earlier run.")
    ingest([old], engine, "t", embedder)
    documents = [Document(id=f"p{n}", title=f"Paper {n}", abstract=f"Abstract {n}.") for n in range(6)]
    changed = Document(id="p0", title="Paper 0", abstract="Changed after its commit.")
    records = [*documents, old, documents[1], changed, old]
    summary = ingest(records, engine, "t", embedder, commit_every=2, chunk_size=2)
    assert (summary.indexed, summary.updated, summary.duplicates, summary.unchanged) == (6, 1, 2, 1)
    assert engine.count("t") == 7
    assert engine.get("t", ["p0"])["p0"].document.abstract == "Changed after its commit."


def test_rejects_are_logged_with_file_line_reason(data_dir: Path, tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"pmid": "1", "text": "Fine abstract."}\n{broken\n{"pmid": "2", "text": ""}\n')
    log = tmp_path / "rejects.jsonl"
    summary = index_path(corpus, engine=EmbeddedEngine(), index="t", embedder=embedder, reject_log=log)
    assert (summary.read, summary.indexed, summary.rejected) == (3, 1, 2)
    assert summary.reject_log == str(log)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["file"], e["line"]) for e in entries] == [(str(corpus), 2), (str(corpus), 3)]
    assert entries[0]["reason"].startswith("invalid JSON") and entries[1]["reason"].startswith("empty record")


def test_no_reject_log_when_nothing_is_rejected(data_dir: Path, tmp_path: Path, embedder: Embedder) -> None:
    log = tmp_path / "r.jsonl"
    summary = index_path(EXAMPLES / "breathe", engine=EmbeddedEngine(), embedder=embedder, reject_log=log)
    assert summary.reject_log is None and not log.exists()


def test_model_mismatch_is_refused_for_indexing_and_querying(
    data_dir: Path, embedder: Embedder, tiny_model: Path
) -> None:
    engine = EmbeddedEngine()
    ingest([Document(id="1", title="Lung")], engine, "t", embedder)
    with pytest.raises(ModelMismatchError, match="was built with sentence-transformers/all-MiniLM-L6-v2"):
        index_path(EXAMPLES / "breathe", engine=engine, index="t", model=str(tiny_model))
    with pytest.raises(ModelMismatchError, match="--model sentence-transformers/all-MiniLM-L6-v2"):
        search(engine, "t", "lung", model=str(tiny_model))
    assert search(engine, "t", "lung").hits[0].id == "1"  # the index's own model is the default


def test_reject_only_stream_creates_an_empty_index(data_dir: Path, embedder: Embedder) -> None:
    engine = EmbeddedEngine()
    summary = ingest([Reject("f", 1, "bad")], engine, "t", embedder)
    assert (summary.read, summary.rejected) == (1, 1) and engine.count("t") == 0
