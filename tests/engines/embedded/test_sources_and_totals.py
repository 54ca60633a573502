"""Fused searches read only the sources they return; totals are exact up to a cap, then a lower bound ("gte")."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bmb_es
from bmb_es import Document, EmbeddedEngine
from bmb_es.engines import EngineHit
from bmb_es.engines.embedded import _execute, _records
from bmb_es.engines.embedded._open_index import deleted_in
from bmb_es.engines.embedded._records import RecordReader, leading_id
from bmb_es.query import Filters, QuerySpec, Rerank, SearchPlan, SearchRequest
from tests.engines.embedded.conftest import META, put
from tests.support import ConstantEmbedder

WORDS = ("lung", "heart", "kidney", "liver", "brain", "blood")


def corpus(count: int) -> list[tuple[Document, list[float]]]:
    """``count`` papers that all say "cells", with a few other words each, and varied 3-d vectors."""
    rng = np.random.default_rng(3)
    docs = []
    for n in range(count):
        words = " ".join(WORDS[(n + step) % len(WORDS)] for step in range(n % 3 + 1))
        doc = Document(id=f"p{n:03d}", title=f"{words} cells", abstract=f"cells of the {words} in study {n}")
        vector = rng.normal(size=3)
        docs.append((doc, (vector / np.linalg.norm(vector)).tolist()))
    return docs


class DecodeCounter:
    """Counts the sources :meth:`RecordReader.decoded_sources` decodes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.decoded = 0
        original = RecordReader.decoded_sources

        def counted(reader: RecordReader, offsets: Sequence[int], lengths: Sequence[int]) -> list[Any]:
            self.decoded += len(offsets)
            return original(reader, offsets, lengths)

        monkeypatch.setattr(RecordReader, "decoded_sources", counted)


def reference(engine: EmbeddedEngine, plan: SearchPlan) -> list[EngineHit]:
    """What a fused plan returned before: every leg with its sources, fused, the top ``size`` kept."""
    assert plan.fusion is not None
    candidates = []
    sources: dict[str, dict[str, Any]] = {}
    for leg in plan.legs:
        for hit in engine.execute("t", leg).hits:
            candidates.append(bmb_es.query.scored_hit(leg, hit.score, hit.bm25, hit.cosine, hit.id))
            sources.setdefault(hit.id, hit.source)
    fused = plan.fusion.fuse(candidates)[: plan.size]
    return [EngineHit(item.id, score, sources[item.id], item.bm25, item.cosine) for item, score in fused]


@pytest.mark.parametrize("mode", ["rerank", "hybrid"])
def test_a_fused_search_decodes_only_the_sources_it_returns(
    engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch, mode: bmb_es.query.Mode
) -> None:
    put(engine, corpus(60))
    vector = [0.6, 0.8, 0.0]
    spec = QuerySpec(size=5, rerank=Rerank(40))
    expected = reference(engine, SearchPlan.build("lung cells", vector, spec, mode))
    counter = DecodeCounter(monkeypatch)
    result = bmb_es.search(
        engine, "t", "lung cells", mode=mode, size=5, top_k=40, embedder=ConstantEmbedder(vector, name=META.model)
    )
    assert counter.decoded == 5  # not the 40 (or 80) candidates of the legs
    got = [(hit.id, hit.score, hit.bm25, hit.cosine, hit.document.to_source()) for hit in result.hits]
    assert got == [(hit.id, hit.score, hit.bm25, hit.cosine, hit.source) for hit in expected]
    assert all(search["_source"] is False for search in result.body["searches"])  # --explain says what ran


def test_a_request_without_sources_returns_ids_and_where_each_source_lies(engine: EmbeddedEngine) -> None:
    put(engine, corpus(8))
    body: dict[str, Any] = {"size": 3, "query": {"multi_match": {"query": "cells", "fields": ["title"]}}}
    full = engine.execute("t", SearchRequest.from_body({**body, "_source": {"excludes": ["embedding"]}})).hits
    bare = engine.execute("t", SearchRequest.from_body({**body, "_source": False})).hits
    assert [(hit.id, hit.score) for hit in bare] == [(hit.id, hit.score) for hit in full]
    assert all(hit.source == {} and hit.location is not None for hit in bare)
    assert engine.fetch_sources("t", bare) == full
    unplaced = [EngineHit(hit.id, hit.score, {}) for hit in bare]  # no location: found by id
    assert [hit.source for hit in engine.fetch_sources("t", unplaced)] == [hit.source for hit in full]
    assert engine.fetch_sources("t", [EngineHit("gone", 1.0, {})])[0].source == {"id": "gone"}
    assert "_source" not in engine.search("t", {**body, "_source": False})["hits"]["hits"][0]


def test_sources_written_another_way_fall_back_to_decoding(
    engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An index whose sources do not open with the id (as another writer could have left them): ids still come right.
    monkeypatch.setattr(_records, "encode_source", lambda source: json.dumps(source, sort_keys=True).encode())
    monkeypatch.setattr("bmb_es.engines.embedded._write.encode_source", _records.encode_source)
    docs = corpus(12)
    put(engine, docs)
    monkeypatch.undo()
    vector = [0.6, 0.8, 0.0]
    spec = QuerySpec(size=4, rerank=Rerank(10))
    expected = reference(engine, SearchPlan.build("heart cells", vector, spec, "rerank"))
    result = bmb_es.search(
        engine, "t", "heart cells", size=4, top_k=10, embedder=ConstantEmbedder(vector, name=META.model)
    )
    assert [(hit.id, hit.document.to_source()) for hit in result.hits] == [(hit.id, hit.source) for hit in expected]


@pytest.mark.parametrize(
    "head, expected",
    [
        (b'{"id": "p001", "title": "x"}', "p001"),
        (b' {"id": "wide", "extra": {"n": 123456789012345678901234}}', "wide"),  # the exact-only marker
        ('{"id": "caf\u00e9 \u03b1", "title": "x"}'.encode(), "caf\u00e9 \u03b1"),
        (b'{"id": "a\\"b", "title": "x"}', None),  # escaped: decoded whole
        (b'{"id": "cut off', None),  # longer than the head read
        (b'{"title": "x", "id": "p001"}', None),  # not first
        (b'{"id": 7}', None),
    ],
)
def test_leading_id_reads_only_plain_ids(head: bytes, expected: str | None) -> None:
    assert leading_id(head) == expected
    # In place, as the sources file is read: the record among others, its length bounding the search.
    data = b'{"id": "before"}\n' + head + b'\n{"id": "after"}'
    assert leading_id(data, 17, len(head)) == expected


def test_ids_longer_than_the_head_or_escaped_are_decoded(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "home")
    long_id, quoted = "x" * 400, 'say "cells"'
    put(engine, [(Document(id=long_id, title="cells"), [1, 0, 0]), (Document(id=quoted, title="cells"), [0, 1, 0])])
    bare = engine.execute("t", SearchRequest.from_body({"query": {"match_all": {}}, "_source": False})).hits
    assert sorted(hit.id for hit in bare) == sorted([long_id, quoted])


# -- totals ------------------------------------------------------------------------------------------------------


def total_of(engine: EmbeddedEngine, question: str, **keywords: Any) -> tuple[int, str]:
    result = bmb_es.search(engine, "t", question, mode="bm25", **keywords)
    return result.total, result.total_relation


@pytest.fixture
def capped_at_4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_execute, "COUNTED_MATCHES", 4)


def test_totals_are_exact_up_to_the_cap_then_a_lower_bound(engine: EmbeddedEngine, capped_at_4: None) -> None:
    put(engine, corpus(12))
    assert total_of(engine, "cells") == (4, "gte")  # 12 match: one word's document frequency tells, no count
    assert total_of(engine, "kidney") == (4, "eq")  # exactly 4 (one term, df 4): counted
    assert total_of(engine, "brain blood") == (4, "gte")  # df 4 each, 6 together: counted, then capped
    assert total_of(engine, "3") == (1, "eq")
    response = engine.search("t", {"query": {"match_all": {}}, "size": 1})
    assert response["hits"]["total"] == {"value": 4, "relation": "gte"}


def test_uncounted_totals_skip_counting(
    engine: EmbeddedEngine, capped_at_4: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(engine, corpus(12))
    counts: list[bool] = []
    searcher_type = type(engine._opened("t").searcher())
    original = searcher_type.search

    def spied(self: Any, query: Any, limit: int = 10, count: bool = True, **rest: Any) -> Any:
        counts.append(count)
        return original(self, query, limit=limit, count=count, **rest)

    monkeypatch.setattr(searcher_type, "search", spied, raising=False)
    if searcher_type.search is not spied:  # a compiled type may refuse new attributes: nothing to check then
        pytest.skip("tantivy's Searcher cannot be patched")
    total_of(engine, "cells")
    uncounted = list(counts)
    counts.clear()
    total_of(engine, "kidney")
    assert uncounted and not any(uncounted)  # one search per searched field, none counting
    assert counts == [True]  # one dis_max search that counts


def test_deleted_documents_make_it_count(engine: EmbeddedEngine, capped_at_4: None) -> None:
    docs = corpus(12)
    put(engine, docs)
    kidney = [doc for doc, _ in docs if "kidney" in (doc.title or "")]
    assert total_of(engine, "kidney") == (4, "eq")
    # A new kidney paper, and one re-indexed without the word (its old version deleted): df 5, live matches 4.
    extra = Document(id="p100", title="kidney cells", abstract="kidney")
    changed = Document(id=kidney[0].id, title="other cells", abstract="nothing")
    put(engine, [(extra, [1, 0, 0]), (changed, [1, 0, 0])])
    assert engine._opened("t").deleted_documents() == 1
    assert total_of(engine, "kidney") == (4, "eq")  # counted: df 5 alone would have said "more than 4"


def test_filtered_totals_say_whether_every_match_was_checked(engine: EmbeddedEngine, capped_at_4: None) -> None:
    docs = [(replace(doc, date="2020") if n % 2 else doc, vector) for n, (doc, vector) in enumerate(corpus(12))]
    put(engine, docs)
    assert total_of(engine, "kidney", filters=Filters.parse("2020", None)) == (2, "eq")  # all 5 matches checked
    total, relation = total_of(engine, "cells", size=1, filters=Filters.parse("2020", None))
    assert relation == "gte" and 1 <= total <= 4  # 4 of the 12 matches checked


def test_knn_totals_are_exact(engine: EmbeddedEngine) -> None:
    put(engine, corpus(12))
    result = bmb_es.search(
        engine, "t", "cells", mode="dense", top_k=7, size=3, embedder=ConstantEmbedder([1, 0, 0], name=META.model)
    )
    assert (result.total, result.total_relation) == (7, "eq")


def test_deleted_documents_are_read_from_the_commit() -> None:
    meta = b'{"segments": [{"max_doc": 4, "deletes": null}, {"max_doc": 9, "deletes": {"num_deleted_docs": 3}}]}'
    assert deleted_in(meta) == 3
    assert deleted_in(b'{"segments": []}') == 0
    assert deleted_in(b"not json") == -1
