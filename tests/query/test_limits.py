"""Sizes, windows and k are capped at MAX_SIZE, and questions must be UTF-8 text: a QueryError, never an abort.

Before the cap, ``size=2_000_000_000`` made tantivy allocate 32 GB for hits and abort the process (SIGABRT), and
a question holding lone surrogates (argv bytes that are not UTF-8) raised a UnicodeEncodeError deep in tantivy.
Every way in is checked: the query objects, a pasted body (``SearchRequest.from_body`` and the embedded engine's
``search(body)``), and :func:`bmb_es.search`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bmb_es
from bmb_es import Document, EmbeddedEngine, QueryError
from bmb_es._ingest import ingest
from bmb_es.query import MAX_SIZE, FieldBoost, QuerySpec, Rerank, SearchRequest
from tests.support import ConstantEmbedder

TOO_BIG = [MAX_SIZE + 1, 2_000_000_000, 2**63, 2**64 + 1]
TOO_SMALL = [0, -1, -2_000_000_000]
VECTOR = np.asarray([1.0, 0.0, 0.0, 0.0])
FIELDS = (FieldBoost("title"),)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedEngine:
    root = tmp_path_factory.mktemp("limits")
    documents = [Document(id=f"d{n}", title=f"lung injury {n}", abstract="alveoli") for n in range(3)]
    ingest(documents, EmbeddedEngine(root), "papers", ConstantEmbedder(), optimize=False)
    return EmbeddedEngine(root)


def _rescore_body(size: int, window: int) -> dict[str, Any]:
    body = SearchRequest("lung", FIELDS, 1, Rerank(1), VECTOR).to_body()
    body["size"] = size
    body["rescore"]["window_size"] = window
    return body


@pytest.mark.parametrize("value", TOO_BIG + TOO_SMALL)
def test_query_objects_refuse_sizes_out_of_range(value: int) -> None:
    with pytest.raises(QueryError, match=f"between 1 and {MAX_SIZE:,}"):
        Rerank(top_k=value)
    with pytest.raises(QueryError, match=f"between 1 and {MAX_SIZE:,}"):
        QuerySpec(size=value, rerank=None)
    if value != 0:  # a body may ask for no hits (size 0), as Elasticsearch allows
        with pytest.raises(QueryError, match=f"between 0 and {MAX_SIZE:,}"):
            SearchRequest("lung", FIELDS, value)
    with pytest.raises(QueryError, match=f"between 1 and {MAX_SIZE:,}"):
        SearchRequest.nearest(VECTOR, value, 1)


@pytest.mark.parametrize("value", [MAX_SIZE, MAX_SIZE - 1, 1])
def test_query_objects_take_sizes_up_to_the_limit(value: int) -> None:
    assert Rerank(top_k=value).top_k == value
    assert QuerySpec(size=value, rerank=None).size == value
    assert SearchRequest("lung", FIELDS, value, Rerank(value), VECTOR).size == value


@pytest.mark.parametrize("value", TOO_BIG)
def test_a_pasted_body_with_a_huge_size_window_or_k_is_refused(engine: EmbeddedEngine, value: int) -> None:
    bodies = [
        {"size": value, "query": {"multi_match": {"query": "lung", "fields": ["title"]}}},
        _rescore_body(1, value),
        {"size": 1, "knn": {"field": "embedding", "query_vector": VECTOR.tolist(), "k": value}},
    ]
    for body in bodies:
        with pytest.raises(QueryError):
            SearchRequest.from_body(body)
        with pytest.raises(QueryError):
            engine.search("papers", body)


def test_a_pasted_body_at_the_limit_runs(engine: EmbeddedEngine) -> None:
    response = engine.search("papers", _rescore_body(MAX_SIZE, MAX_SIZE))
    assert len(response["hits"]["hits"]) == 3


@pytest.mark.parametrize("value", TOO_BIG + TOO_SMALL)
def test_search_refuses_sizes_out_of_range_before_encoding(engine: EmbeddedEngine, value: int) -> None:
    embedder = ConstantEmbedder()
    with pytest.raises(QueryError, match=f"between 1 and {MAX_SIZE:,}"):
        bmb_es.search(engine, "papers", "lung", size=value, top_k=MAX_SIZE, embedder=embedder)
    with pytest.raises(QueryError, match=f"between 1 and {MAX_SIZE:,}"):
        bmb_es.search(engine, "papers", "lung", size=1, top_k=value, embedder=embedder)
    with pytest.raises(QueryError, match=f"between 1 and {MAX_SIZE:,}"):
        bmb_es.search(engine, "papers", "lung", rerank=False, size=value)
    assert embedder.calls == 0


def test_search_at_the_limits_runs(engine: EmbeddedEngine) -> None:
    result = bmb_es.search(engine, "papers", "lung", size=MAX_SIZE, top_k=MAX_SIZE, embedder=ConstantEmbedder())
    assert len(result.hits) == 3


@pytest.mark.parametrize("question", ["\udcff\udcfe", "lung \udcff", "\ud800 lung"])
def test_a_question_that_is_not_utf8_is_a_query_error(engine: EmbeddedEngine, question: str) -> None:
    embedder = ConstantEmbedder()
    with pytest.raises(QueryError, match="not UTF-8 text"):
        bmb_es.search(engine, "papers", question, embedder=embedder)
    assert embedder.calls == 0  # refused before the question is encoded
    with pytest.raises(QueryError, match="not UTF-8 text"):
        SearchRequest(question, FIELDS)
    body = {"query": {"multi_match": {"query": question, "fields": ["title"]}}}
    with pytest.raises(QueryError, match="not UTF-8 text"):
        engine.search("papers", body)


def test_the_limit_is_documented_where_it_is_defined() -> None:
    source = Path(bmb_es.query._builder.__file__).read_text(encoding="utf-8")
    assert "MAX_SIZE = 10_000" in source and "max_result_window" in source
