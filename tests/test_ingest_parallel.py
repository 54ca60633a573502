"""Parallel ingest: reader thread, deterministic shards that partition a corpus, and merging shard indices."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bmb_es import EmbeddedEngine, InputError
from bmb_es._api import index_path, merge_indices
from bmb_es._document import Document
from bmb_es._errors import IndexNotFoundError
from bmb_es._ingest import Shard, ingest, prefetch, shard_of
from bmb_es.embedding import Embedder, embed_text
from bmb_es.readers import Reject, read_corpus
from tests.support import HashEmbedder, write_corpus

# Re-exported: other test modules import them from here.
_write_corpus = write_corpus
__all__ = ["HashEmbedder", "_write_corpus"]


# -- shards ---------------------------------------------------------------------------------------------------


def test_shards_partition_any_set_of_ids() -> None:
    ids = [f"doc-{number}" for number in range(2000)] + ["", "ünïcode", "PMC123/1"]
    for count in (1, 2, 3, 7, 16):
        owners = [[shard for shard in range(count) if Shard(shard, count).holds(Document(id=i))] for i in ids]
        assert all(len(found) == 1 for found in owners)  # every id in exactly one shard
        if count > 1:
            sizes = [sum(1 for found in owners if found == [shard]) for shard in range(count)]
            assert min(sizes) > 0.7 * len(ids) / count  # and they are balanced


def test_shard_assignment_is_stable_across_processes() -> None:
    # Fixed values: a change of hash would silently re-shard corpora already split across machines.
    assert [shard_of(f"doc-{n}", 4) for n in range(6)] == [
        int.from_bytes(hashlib.sha1(f"doc-{n}".encode()).digest()[:8], "big") % 4 for n in range(6)
    ]
    code = "from bmb_es._ingest import shard_of; print([shard_of(f'doc-{n}', 5) for n in range(50)])"
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == str([shard_of(f"doc-{n}", 5) for n in range(50)])


def test_rejects_belong_to_one_shard_each() -> None:
    rejects = [Reject("a.jsonl", line, "bad") for line in range(1, 200)]
    assert sum(Shard(i, 3).holds(reject) for i in range(3) for reject in rejects) == len(rejects)


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0"])
def test_bad_shard_specs_are_refused(text: str) -> None:
    with pytest.raises(InputError):
        Shard.parse(text)
    assert str(Shard.parse("2/5")) == "2/5"


# -- reader thread ----------------------------------------------------------------------------------------------


def test_prefetch_keeps_order_and_raises_reader_errors() -> None:
    chunks: list[list[Document | Reject]] = [[Document(id=str(n))] for n in range(5)]
    assert list(prefetch(iter(chunks), depth=1)) == chunks

    def failing() -> Iterator[list[Document | Reject]]:
        yield [Document(id="1")]
        raise OSError("disk gone")

    stream = prefetch(failing())
    assert next(stream)[0].id == "1"  # type: ignore[union-attr]
    with pytest.raises(OSError, match="disk gone"):
        next(stream)


def test_closing_prefetch_stops_the_reader() -> None:
    produced = threading.Event()

    def endless() -> Iterator[list[Document | Reject]]:
        while True:
            produced.set()
            yield [Document(id="x")]

    stream = prefetch(endless(), depth=1)
    next(stream)
    stream.close()
    before = threading.active_count()
    for thread in threading.enumerate():
        if thread.name == "bmb-es-reader":
            thread.join(timeout=5)
            assert not thread.is_alive()
    assert threading.active_count() <= before


# -- ingest with bucketing, shards and merge -----------------------------------------------------------------------


def test_ingest_keeps_ids_and_vectors_together_and_records_the_setting(data_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    _write_corpus(corpus, 150)
    embedder = HashEmbedder()
    engine = EmbeddedEngine()
    summary = ingest(read_corpus(corpus), engine, "t", embedder, chunk_size=64, commit_every=100)
    assert summary.indexed == 150 and engine.count("t") == 150
    meta = engine.index_meta("t")
    assert (meta.model, meta.backend, meta.precision) == ("hash-model", "test", "fp32")
    documents = [doc for doc in read_corpus(corpus) if isinstance(doc, Document)]
    stored = engine.get("t", [doc.id for doc in documents])
    expected = embedder.embed([embed_text(doc) for doc in documents])
    for doc, vector in zip(documents, expected, strict=True):
        assert stored[doc.id].document == doc and np.array_equal(stored[doc.id].vector, vector)


def _index_shards(corpus: Path, count: int, embedder: Embedder) -> tuple[EmbeddedEngine, list[int]]:
    engine = EmbeddedEngine()
    read = []
    for shard in range(count):
        summary = index_path(corpus, engine=engine, index=f"s{shard}", embedder=embedder, shard=f"{shard}/{count}")
        read.append(summary.read)
    return engine, read


def test_shard_indices_merge_into_every_document_exactly_once(data_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    _write_corpus(corpus, 300, bad_every=50)
    embedder = HashEmbedder()
    engine, read = _index_shards(corpus, 3, embedder)
    assert sum(read) == 300 and all(count > 0 for count in read)  # rejects included, each counted once
    shard_counts = [engine.count(f"s{shard}") for shard in range(3)]
    assert sum(shard_counts) == 294

    summary = merge_indices(["s0", "s1", "s2"], "all", engine=engine)
    assert (summary.read, summary.written, summary.duplicates) == (294, 294, 0)
    whole = EmbeddedEngine(tmp_path / "whole")
    index_path(corpus, engine=whole, index="all", embedder=embedder)
    ids = [doc.id for doc in read_corpus(corpus) if isinstance(doc, Document)]
    merged, single = engine.get("all", ids), whole.get("all", ids)
    assert engine.count("all") == len(merged) == len(single) == 294
    for doc_id in ids:
        assert merged[doc_id].document == single[doc_id].document
        assert merged[doc_id].vector.tobytes() == single[doc_id].vector.tobytes()  # copied exactly
    assert engine.index_meta("all").model == "hash-model"

    again = merge_indices(["s0", "s1", "s2"], "all", engine=engine)  # an interrupted merge re-runs safely
    assert (again.written, again.unchanged) == (0, 294) and engine.count("all") == 294


def test_merge_takes_folders_from_elsewhere_and_counts_overlap(data_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    _write_corpus(corpus, 40)
    other = EmbeddedEngine(tmp_path / "machine-b")
    index_path(corpus, engine=other, index="b", embedder=HashEmbedder())
    engine = EmbeddedEngine()
    index_path(corpus, engine=engine, index="a", embedder=HashEmbedder(), shard="0/2")
    summary = merge_indices(["a", other.root / "b"], "ab", engine=engine)
    assert engine.count("ab") == 40 and summary.duplicates == engine.count("a")
    with pytest.raises(IndexNotFoundError):
        merge_indices(["absent"], "x", engine=engine)
    with pytest.raises(InputError, match="also a source"):
        merge_indices(["a"], "a", engine=engine)


# -- real model: mixed precision, CLI ---------------------------------------------------------------------------


@pytest.mark.slow
def test_bf16_index_queried_with_fp32_and_fp32_index_with_bf16(data_dir: Path, tmp_path: Path) -> None:
    from bmb_es._search import search
    from bmb_es.embedding import load_embedder

    corpus = tmp_path / "c.jsonl"
    _write_corpus(corpus, 28)
    fp32 = load_embedder(None, "cpu", "fp32", "torch")
    bf16 = load_embedder(None, "cpu", "bf16", "torch")
    engine = EmbeddedEngine()
    index_path(corpus, engine=engine, index="bf16", embedder=bf16)
    index_path(corpus, engine=engine, index="fp32", embedder=fp32)
    assert engine.index_meta("bf16").precision == "bf16" and engine.index_meta("fp32").precision == "fp32"
    question = "acute lung injury study"
    rankings = {}
    for index, encoder in [("bf16", fp32), ("fp32", bf16), ("bf16", bf16), ("fp32", fp32)]:
        result = search(engine, index, question, embedder=encoder, top_k=28, size=5)
        rankings[(index, encoder.precision)] = [hit.id for hit in result.hits]
        assert len(result.hits) == 5 and all(hit.cosine is not None for hit in result.hits)
        assert "lung injury" in result.hits[0].document.abstract  # the question's topic, not any five documents
    assert len({tuple(ranking) for ranking in rankings.values()}) == 1  # every combination ranks alike


@pytest.mark.slow
def test_cli_shards_and_merge(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    _write_corpus(corpus, 30)
    env = {**os.environ, "BMB_ES_HOME": str(tmp_path / "home")}

    def bmb(*args: str) -> dict[str, object]:
        result = subprocess.run(
            [sys.executable, "-m", "bmb_es", *args, "--json"], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        return dict(json.loads(result.stdout))

    first = bmb("index", str(corpus), "-i", "s0", "--shard", "0/2", "--precision", "fp32", "--backend", "torch", "-q")
    second = bmb("index", str(corpus), "-i", "s1", "--shard", "1/2", "--precision", "bf16", "--backend", "torch", "-q")
    assert int(first["read"]) + int(second["read"]) == 30  # type: ignore[call-overload]
    merged = bmb("merge", "s0", "s1", "--into", "all")
    assert merged["written"] == 30 and merged["duplicates"] == 0
    answer = bmb("query", "--rerank", "lung injury", "-i", "all", "--precision", "bf16", "--size", "3")
    hits = answer["hits"]
    assert isinstance(hits, list) and len(hits) == 3
    assert all("lung injury" in hit["abstract"] for hit in hits)  # 30 docs cycle 7 topics: 5 are about lung injury


class CommitCounter(EmbeddedEngine):
    """Records how many documents are visible after each commit."""

    def __init__(self) -> None:
        super().__init__()
        self.visible_after_commits: list[int] = []

    def commit(self, name: str) -> None:
        super().commit(name)
        self.visible_after_commits.append(self.count(name))


@pytest.mark.parametrize(
    ("commit_every", "pace", "expected"),
    [
        (100, None, [128, 250, 250]),  # as asked: after the chunk reaching 100 uncommitted documents, and at the end
        (None, (100, 0.0), [128, 250, 250]),  # default, fast encoder: enough documents and enough time both hold
        (None, (100, 3600.0), [250]),  # default, documents come faster than the time floor: only the final commit
    ],
)
def test_commits_follow_the_count_asked_or_the_default_documents_and_seconds(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    commit_every: int | None,
    pace: tuple[int, float] | None,
    expected: list[int],
) -> None:
    import bmb_es._ingest as ingest_module

    if pace is not None:
        monkeypatch.setattr(ingest_module, "COMMIT_DOCUMENTS", pace[0])
        monkeypatch.setattr(ingest_module, "COMMIT_SECONDS", pace[1])
    corpus = tmp_path / "c.jsonl"
    _write_corpus(corpus, 250)
    engine = CommitCounter()
    summary = ingest(
        read_corpus(corpus), engine, "t", HashEmbedder(), chunk_size=64, commit_every=commit_every, optimize=False
    )  # the optimize step's own commits are tested in tests/engines/embedded/test_optimize.py
    assert summary.indexed == 250
    assert engine.visible_after_commits == expected
