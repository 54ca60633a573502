"""BM25 scores checked against Elasticsearch's formula computed by hand (k1 = 1.2, b = 0.75).

Elasticsearch and OpenSearch keep the ``(k1 + 1)`` numerator factor that Lucene 8 dropped (their default
similarity adds it back), so their scores are Lucene's times 2.2; the live suite compares with OpenSearch's.
"""

from __future__ import annotations

import math

import pytest

from bmb_es import Document, EmbeddedEngine, build_query
from tests.engines.embedded.conftest import put

K1, B = 1.2, 0.75


def lucene_term(tf: int, dl: int, avgdl: float, n: int, docs: int, boost: float = 1.0) -> float:
    idf = math.log(1 + (docs - n + 0.5) / (n + 0.5))
    return boost * idf * (K1 + 1) * tf / (tf + K1 * (1 - B + B * dl / avgdl))


# Analysed lengths (stop words removed, stems): see the token lists in the comments.
CORPUS = [
    Document(id="d1", title="Lung damage in coronavirus infection", abstract="The lungs of patients show damage."),
    # title: lung damag coronavirus infect (4)   abstract: lung patient show damag (4)
    Document(id="d2", title="Heart disease", abstract="Coronavirus and the heart: coronavirus affects the heart."),
    # title: heart diseas (2)                   abstract: coronavirus heart coronavirus affect heart (5)
    Document(id="d3", title="Kidney injury", abstract="Acute kidney injury after surgery."),
    # title: kidney injuri (2)                  abstract: acut kidney injuri after surgeri (5)
]


def _scores(engine: EmbeddedEngine, question: str, fields: list[str]) -> dict[str, float]:
    response = engine.search("t", build_query(question, size=10, fields=fields))
    return {hit["_id"]: hit["_score"] for hit in response["hits"]["hits"]}


def test_single_field_matches_lucene_formula(engine: EmbeddedEngine) -> None:
    put(engine, [(doc, [1, 0, 0]) for doc in CORPUS])
    scores = _scores(engine, "coronavirus", ["abstract"])
    avgdl = (4 + 5 + 5) / 3
    assert set(scores) == {"d2"}
    assert scores["d2"] == pytest.approx(lucene_term(2, 5, avgdl, 1, 3), rel=1e-5)


def test_multi_term_sums_and_best_fields_takes_the_max_with_boost(engine: EmbeddedEngine) -> None:
    put(engine, [(doc, [1, 0, 0]) for doc in CORPUS])
    scores = _scores(engine, "Coronavirus lung damage", ["title^2", "abstract"])
    t_avg, a_avg = (4 + 2 + 2) / 3, (4 + 5 + 5) / 3
    d1_title = sum(lucene_term(1, 4, t_avg, 1, 3, boost=2.0) for _ in ("coronavirus", "lung", "damag"))
    d1_abstract = lucene_term(1, 4, a_avg, 1, 3) * 2  # lung, damag; coronavirus is not in d1's abstract
    d2_abstract = lucene_term(2, 5, a_avg, 1, 3)
    assert scores["d1"] == pytest.approx(max(d1_title, d1_abstract), rel=1e-5)
    assert scores["d2"] == pytest.approx(d2_abstract, rel=1e-5)
    assert "d3" not in scores


def test_stop_word_only_query_matches_nothing(engine: EmbeddedEngine) -> None:
    put(engine, [(doc, [1, 0, 0]) for doc in CORPUS])
    response = engine.search("t", build_query("the of and", fields=["title", "abstract"]))
    assert response["hits"]["hits"] == [] and response["hits"]["total"]["value"] == 0


def test_total_counts_all_matches_not_just_size(engine: EmbeddedEngine) -> None:
    put(engine, [(doc, [1, 0, 0]) for doc in CORPUS])
    response = engine.search("t", build_query("coronavirus kidney", size=1, fields=["title", "abstract"]))
    assert len(response["hits"]["hits"]) == 1 and response["hits"]["total"]["value"] == 3
