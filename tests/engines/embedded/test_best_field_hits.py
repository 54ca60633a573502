"""The dis_max top k read from each field's own top k (``_query.top_hits``) is the dis_max's own, hit for hit."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bmb_es import Document, EmbeddedEngine, build_query
from bmb_es._analysis import tantivy_analyzer
from bmb_es.engines.embedded import _execute
from bmb_es.engines.embedded._query import as_query, field_clauses, top_hits
from bmb_es.query import SearchRequest
from tests.engines.embedded.conftest import put

WORDS = [
    "lung",
    "heart",
    "kidney",
    "virus",
    "infection",
    "damage",
    "injury",
    "acute",
    "chronic",
    "cell",
    "immune",
    "fever",
]


def _corpus(count: int, seed: int) -> list[Document]:
    """Short texts from a few words, so that many documents tie and most share a term with any question."""
    chooser = random.Random(seed)
    docs = []
    for number in range(count):
        title = " ".join(chooser.choices(WORDS, k=chooser.randint(1, 3)))
        abstract = " ".join(chooser.choices(WORDS, k=chooser.randint(0, 8)))
        docs.append(Document(id=f"d{number}", title=title, abstract=abstract))
    return docs


def _engine(tmp_path: Path) -> EmbeddedEngine:
    engine = EmbeddedEngine(tmp_path / "home")
    docs = _corpus(600, seed=7)
    for start in range(0, len(docs), 200):  # three commits: hits come from several segments
        put(engine, [(doc, [1.0, 0.0, 0.0]) for doc in docs[start : start + 200]])
    return engine


@pytest.mark.parametrize("fields", [["title", "abstract"], ["title^2", "abstract"], ["title", "abstract^0.5"]])
def test_each_fields_top_k_gives_the_dis_max_top_k(tmp_path: Path, fields: list[str]) -> None:
    engine = _engine(tmp_path)
    opened = engine._opened("t")
    searcher = opened.searcher()
    schema = opened.tantivy_view().index.schema
    analyzer = tantivy_analyzer()
    chooser = random.Random(11)
    compared = 0
    for _ in range(40):
        question = " ".join(chooser.sample(WORDS, k=chooser.randint(1, 4)))
        request = SearchRequest.from_body(build_query(question, size=10, fields=fields))
        clauses = field_clauses(schema, analyzer, request, opened.searchable_fields())
        query = as_query(clauses, 0.0)
        for limit in (1, 3, 10, 50, 700):
            expected = searcher.search(query, limit=limit, count=False).hits
            found = top_hits(searcher, query, clauses, 0.0, limit)
            assert [(a.segment_ord, a.doc) for _, a in found] == [(a.segment_ord, a.doc) for _, a in expected]
            assert [score for score, _ in found] == pytest.approx([score for score, _ in expected], rel=1e-6)
            compared += len(expected)
    assert compared > 10_000  # ties among the compared hits are common: few words, short texts


def test_an_uncounted_search_returns_the_counted_ones_hits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tmp_path)
    body = build_query("lung virus damage", size=20, fields=["title", "abstract"])
    counted = engine.search("t", body)["hits"]
    monkeypatch.setattr(_execute, "COUNTED_MATCHES", 5)  # past the cap: the hits come from each field's top k
    uncounted = engine.search("t", body)["hits"]
    assert uncounted["total"] == {"value": 5, "relation": "gte"} and counted["total"]["relation"] == "eq"
    assert [hit["_id"] for hit in uncounted["hits"]] == [hit["_id"] for hit in counted["hits"]]
    scores = [hit["_score"] for hit in counted["hits"]]
    assert [hit["_score"] for hit in uncounted["hits"]] == pytest.approx(scores, rel=1e-6)
