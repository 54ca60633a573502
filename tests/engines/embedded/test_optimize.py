"""EmbeddedEngine.optimize: one segment, the same answers, atomic, and run by ingest and merge when it pays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bmb_es import Document, EmbeddedEngine, build_query
from bmb_es._api import merge_indices
from bmb_es._ingest import ingest
from bmb_es.engines import IndexedDocument
from bmb_es.engines.embedded._open_index import OPTIMIZE_HEAP, WRITER_HEAP, OpenIndex
from bmb_es.engines.embedded._records import RecordReader
from bmb_es.readers import read_corpus
from tests.engines.embedded.conftest import META, put
from tests.support import run_body
from tests.test_ingest_parallel import HashEmbedder, _write_corpus

WORDS = ["lung", "injury", "fibrosis", "kidney", "heart", "sepsis", "asthma", "stroke", "liver", "virus"]


def _doc(number: int, revision: int = 0) -> tuple[Document, list[float]]:
    rng = np.random.default_rng(number * 7 + revision)
    title = " ".join(WORDS[(number + step) % len(WORDS)] for step in range(number % 4 + 1))
    abstract = " ".join(rng.choice(WORDS, size=number % 9 + 2).tolist()) + (f" revised {revision}" if revision else "")
    body = "full text about the lung" if number % 5 == 0 else ""
    return Document(id=f"d{number:03d}", title=title, abstract=abstract, body=body), rng.standard_normal(3).tolist()


def _bodies() -> list[dict[str, Any]]:
    return [
        build_query(text, vector, top_k=top_k, size=size)
        for text, vector, top_k, size in [
            ("lung injury", [1.0, 0.2, -0.3], 20, 10),
            ("kidney heart", [0.0, 1.0, 0.0], 50, 50),
            ("virus", [-1.0, 0.5, 0.5], 5, 5),
            ("sepsis stroke asthma", [0.3, 0.3, 0.3], 30, 7),
        ]
    ] + [build_query("lung fibrosis", size=40), {"query": {"match_all": {}}, "size": 100}]


def _answers(engine: EmbeddedEngine, index: str = "t") -> list[list[tuple[str, float, Any, Any]]]:
    """Every body's hits: id, score, both parts, and the source (ties included, in order)."""
    return [
        [(hit.id, hit.score, (hit.bm25, hit.cosine), hit.source) for hit in run_body(engine, index, body)]
        for body in _bodies()
    ]


def _build(engine: EmbeddedEngine, commits: int = 4, per_commit: int = 15, replace: bool = True) -> None:
    """An index with one segment per commit; ``replace``: some documents replaced (deleted rows in old segments)."""
    for commit in range(commits):
        put(engine, [_doc(commit * per_commit + number) for number in range(per_commit)])
    if replace:
        put(engine, [_doc(number, revision=1) for number in range(0, commits * per_commit, 6)])


def _live_in_order(engine: EmbeddedEngine, index: str = "t") -> list[tuple[Document, list[float]]]:
    """The live documents with their vectors, in address order (segment, then document)."""
    import tantivy

    searcher = engine._opened(index).searcher()
    hits = searcher.search(tantivy.Query.all_query(), limit=1000, count=False).hits
    addresses = sorted((address for _, address in hits), key=lambda item: (item.segment_ord, item.doc))
    ids = [searcher.doc(address)["id"][0] for address in addresses]
    items = engine.get(index, ids)
    return [(items[doc_id].document, items[doc_id].vector.tolist()) for doc_id in ids]


def test_optimize_leaves_one_segment_and_every_answer_as_it_was(engine: EmbeddedEngine) -> None:
    _build(engine, replace=False)
    assert engine.segments("t") == 4
    answers = _answers(engine)
    items = engine.get("t", [f"d{number:03d}" for number in range(60)])

    assert engine.optimize("t") == (4, 1)

    assert engine.segments("t") == 1 and engine.count("t") == 60
    assert _answers(engine) == answers  # scores, order (ties too) and sources
    again = engine.get("t", list(items))
    for doc_id, item in items.items():
        assert again[doc_id].document == item.document and again[doc_id].content_hash == item.content_hash
        np.testing.assert_array_equal(again[doc_id].vector, item.vector)
    assert engine.optimize("t") == (1, 1)  # nothing left to do


def test_optimize_purges_replaced_documents_as_a_fresh_build_of_the_live_ones(
    engine: EmbeddedEngine, tmp_path: Path
) -> None:
    _build(engine)  # BM25 statistics still count the 10 replaced rows, as Lucene's do until a merge
    live = _live_in_order(engine)
    assert len(live) == 60 and engine.get("t", ["d006"])["d006"].document.abstract.endswith("revised 1")

    assert engine.optimize("t") == (5, 1)

    fresh = EmbeddedEngine(tmp_path / "fresh")
    put(fresh, live)
    assert _answers(engine) == _answers(fresh)  # exactly what a build of the live documents alone answers


def test_optimize_copies_no_record_and_the_index_keeps_working(engine: EmbeddedEngine) -> None:
    _build(engine, commits=2)
    folder = engine.root / "t"
    sizes = {name: (folder / name).stat().st_size for name in ("vectors.f32", "sources.jsonl")}
    engine.optimize("t")
    assert {name: (folder / name).stat().st_size for name in sizes} == sizes
    put(engine, [_doc(200), _doc(3, revision=2)])  # writes after an optimize: the writer was given back
    assert engine.count("t") == 31 and engine.segments("t") == 2
    assert engine.get("t", ["d003"])["d003"].document.abstract.endswith("revised 2")


def test_optimize_commits_writes_pending_in_the_engine(engine: EmbeddedEngine) -> None:
    _build(engine, commits=2)
    doc, vector = _doc(500)
    engine.upsert("t", [IndexedDocument(doc, doc.content_hash(), np.asarray(vector, dtype=np.float32))])
    engine.optimize("t")
    assert engine.count("t") == 31 and "d500" in engine.get("t", ["d500"])


def test_a_failed_optimize_changes_nothing_now_or_at_a_later_commit(
    engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(engine, commits=3, per_commit=10, replace=False)
    answers = _answers(engine)
    calls = {"n": 0}
    real = RecordReader.decoded_sources

    def fail_on_second_batch(self: RecordReader, offsets: Any, lengths: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk gone")
        return real(self, offsets, lengths)

    monkeypatch.setattr(RecordReader, "decoded_sources", fail_on_second_batch)
    with pytest.raises(OSError, match="disk gone"):
        engine.optimize("t", batch=8)
    monkeypatch.undo()
    assert engine.segments("t") == 3 and _answers(engine) == answers
    put(engine, [_doc(300)])  # the rolled-back delete of every document must not ride on this commit
    assert engine.count("t") == 31


def test_a_reader_in_another_engine_follows_the_rewrite(tmp_path: Path) -> None:
    writer, reader = EmbeddedEngine(tmp_path / "home"), EmbeddedEngine(tmp_path / "home")
    _build(writer, commits=3, replace=False)
    answers = _answers(reader)  # maps the record files and loads the 3 segments
    writer.optimize("t")
    assert reader.segments("t") == 1 and _answers(reader) == answers


def test_ingest_optimizes_after_a_run_that_wrote_a_good_part_of_the_index(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "home")
    corpus = tmp_path / "c.jsonl"
    _write_corpus(corpus, 300)
    first = ingest(read_corpus(corpus), engine, "t", HashEmbedder(), chunk_size=64, commit_every=64)
    assert first.segments == (5, 1) and engine.segments("t") == 1
    assert first.to_json()["segments"] == [5, 1] and first.optimize_seconds > 0

    small = tmp_path / "small.jsonl"  # 50 changed documents of 300: less than a quarter, left as written
    small.write_text("".join(json.dumps({"id": f"doc-{n:04d}", "title": f"changed {n}"}) + "\n" for n in range(50)))
    second = ingest(read_corpus(small), engine, "t", HashEmbedder(), chunk_size=16, commit_every=16)
    assert second.updated == 50 and second.segments is None and engine.segments("t") > 1

    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps({"id": f"doc-{n:04d}", "title": f"again {n}"}) + "\n" for n in range(100)))
    third = ingest(read_corpus(big), engine, "t", HashEmbedder(), commit_every=32, optimize=False)
    assert third.updated == 100 and third.segments is None  # asked not to
    fourth = ingest(read_corpus(big), engine, "t", HashEmbedder())
    assert fourth.unchanged == 100 and fourth.segments is None  # nothing written: nothing to optimize


def test_merge_optimizes_the_index_it_writes(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "home")
    for shard in range(2):
        put(engine, [_doc(shard * 20 + number) for number in range(20)], index=f"s{shard}")
    summary = merge_indices(["s0", "s1"], "all", engine=engine, commit_every=8)
    assert summary.segments is not None and summary.segments[1] == 1
    assert engine.count("all") == 40 and engine.segments("all") == 1


def test_an_empty_index_has_nothing_to_optimize(engine: EmbeddedEngine) -> None:
    engine.create_index("t", META)
    assert engine.optimize("t") == (0, 0)


def test_documents_committed_by_another_process_just_before_the_lock_survive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    optimizer, other = EmbeddedEngine(tmp_path / "home"), EmbeddedEngine(tmp_path / "home")
    _build(optimizer, commits=3, replace=False)
    optimizer.close()  # gives tantivy's writer lock back
    real_writer = OpenIndex.open_writer

    def other_commits_first(self: OpenIndex, *args: Any) -> Any:
        if self is optimizer._indices.get("t"):
            put(other, [_doc(900)])  # lands after optimize's first look, before it holds the lock
            other.close()
        return real_writer(self, *args)

    monkeypatch.setattr(OpenIndex, "open_writer", other_commits_first)
    assert optimizer.count("t") == 45
    optimizer.optimize("t")
    assert optimizer.count("t") == 46 and "d900" in optimizer.get("t", ["d900"])


def test_the_rewrite_gets_the_large_heap_even_after_writes_in_this_engine_and_gives_the_lock_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    optimizer, other = EmbeddedEngine(tmp_path / "home"), EmbeddedEngine(tmp_path / "home")
    heaps: list[int] = []
    real_writer = OpenIndex.open_writer

    def recording(self: OpenIndex, heap_size: int = WRITER_HEAP) -> Any:
        heaps.append(heap_size)
        return real_writer(self, heap_size)

    monkeypatch.setattr(OpenIndex, "open_writer", recording)
    _build(optimizer, commits=3)  # its writes keep a writer session with ingest's heap
    assert set(heaps) == {WRITER_HEAP}
    assert optimizer.optimize("t") == (4, 1)
    assert heaps[-1] == OPTIMIZE_HEAP and optimizer.segments("t") == 1
    put(other, [_doc(900)])  # the optimizer's session ended: another engine takes the lock
    assert optimizer.count("t") == 46
