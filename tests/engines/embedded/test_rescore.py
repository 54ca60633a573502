"""The rescore arithmetic: Elasticsearch's QueryRescorer semantics applied to BM25 scores and cosines."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from bmb_es import Document, EmbeddedEngine, QueryError, build_query
from bmb_es.engines import EngineHit
from bmb_es.engines.embedded._rescore import combine
from tests.engines.embedded.conftest import put
from tests.support import run_body

QUERY_VECTOR = [1.0, 0.0, 0.0]
DOCS = [
    (Document(id="a", title="lung lung lung", abstract="x"), [0.0, 1.0, 0.0]),  # best BM25, cosine 0
    (Document(id="b", title="lung injury", abstract="y"), [1.0, 1.0, 0.0]),  # cosine 1/sqrt(2)
    (Document(id="c", title="lung injury after surgery", abstract="z"), [2.0, 0.0, 0.0]),  # cosine 1 (unnormalised)
    (Document(id="d", title="lung", abstract="w"), [-1.0, 0.0, 0.0]),  # cosine -1
]
COSINE = {"a": 0.0, "b": 1 / math.sqrt(2), "c": 1.0, "d": -1.0}


def _run(engine: EmbeddedEngine, **kwargs: Any) -> list[EngineHit]:
    return run_body(engine, "t", build_query("lung", QUERY_VECTOR, fields=["title"], **kwargs))


def _bm25(engine: EmbeddedEngine) -> dict[str, float]:
    hits = engine.search("t", build_query("lung", fields=["title"], size=10))["hits"]["hits"]
    return {hit["_id"]: hit["_score"] for hit in hits}


def test_pure_rerank_orders_by_cosine_and_scores_cosine_plus_one(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    hits = _run(engine, size=4, top_k=4)
    assert [hit.id for hit in hits] == ["c", "b", "a", "d"]
    for hit in hits:
        assert hit.score == pytest.approx(COSINE[hit.id] + 1.0, abs=1e-6)
        assert hit.cosine == pytest.approx(COSINE[hit.id], abs=1e-6)
        assert "embedding" not in hit.source


@pytest.mark.parametrize("mode", ["total", "multiply", "avg", "max", "min"])
def test_weighted_score_modes(engine: EmbeddedEngine, mode: str) -> None:
    put(engine, DOCS)
    bm25 = _bm25(engine)
    hits = _run(engine, size=4, top_k=4, query_weight=0.7, rescore_query_weight=1.3, score_mode=mode)
    expected = {key: combine(mode, 0.7 * bm25[key], 1.3 * (COSINE[key] + 1.0)) for key in bm25}
    assert {hit.id: hit.score for hit in hits} == pytest.approx(expected, rel=1e-5)
    assert [hit.id for hit in hits] == sorted(expected, key=lambda key: -expected[key])


def test_hits_beyond_the_window_keep_query_weight_times_bm25(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    bm25 = _bm25(engine)
    order = sorted(bm25, key=lambda key: -bm25[key])
    body = build_query("lung", QUERY_VECTOR, fields=["title"], size=2, top_k=2, query_weight=0.5)
    body["size"] = 4  # a hand-written body may ask for more than the window, as Elasticsearch allows
    hits = run_body(engine, "t", body)
    scores = {hit.id: hit.score for hit in hits}
    for key in order[:2]:
        assert scores[key] == pytest.approx(0.5 * bm25[key] + COSINE[key] + 1.0, rel=1e-5)
    for key in order[2:]:
        assert scores[key] == pytest.approx(0.5 * bm25[key], rel=1e-5)
        assert hits[[hit.id for hit in hits].index(key)].cosine is None


def test_source_keeps_embedding_unless_excluded(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    body = build_query("lung", fields=["title"], size=1)
    del body["_source"]
    hit = engine.search("t", body)["hits"]["hits"][0]
    assert np.allclose(hit["_source"]["embedding"], dict((d.id, v) for d, v in DOCS)[hit["_id"]])


def test_vector_dimension_mismatch_is_a_query_error(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    with pytest.raises(QueryError, match="2 dimensions, the index stores 3"):
        engine.search("t", build_query("lung", [1.0, 0.0], fields=["title"], size=1, top_k=2))
