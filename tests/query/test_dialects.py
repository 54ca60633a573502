"""ES and OpenSearch variants of the same query; kNN and hybrid bodies; the embedded engine refuses the latter."""

from __future__ import annotations

import pytest

from bmb_es import QueryError
from bmb_es.query import COSINE_SCRIPTS, SearchRequest, build_hybrid_query, build_knn_query, build_query

parse_body = SearchRequest.from_body

VEC = [0.5, 0.5, 0.0]


def test_dialects_differ_only_in_the_painless_vector_access() -> None:
    es = build_query("lung damage", VEC, top_k=20)
    os_ = build_query("lung damage", VEC, top_k=20, dialect="opensearch")
    es_script = es["rescore"]["query"]["rescore_query"]["script_score"]["script"]
    os_script = os_["rescore"]["query"]["rescore_query"]["script_score"]["script"]
    assert es_script["source"] == COSINE_SCRIPTS["elasticsearch"] and "'embedding'" in es_script["source"]
    assert os_script["source"] == COSINE_SCRIPTS["opensearch"] and "doc['embedding']" in os_script["source"]
    es_script["source"] = os_script["source"]
    assert es == os_
    assert es["rescore"]["window_size"] == 20  # per shard on a cluster: see docs/clusters.md


def test_knn_bodies() -> None:
    es = build_knn_query(VEC, size=5, k=10)
    assert es["knn"] == {"field": "embedding", "query_vector": VEC, "k": 10, "num_candidates": 100}
    assert es["size"] == 5 and "query" not in es
    os_ = build_knn_query(VEC, size=5, k=10, dialect="opensearch")
    assert os_["query"] == {"knn": {"embedding": {"vector": VEC, "k": 10}}}
    with pytest.raises(QueryError, match="smaller than size"):
        build_knn_query(VEC, size=20, k=10)
    with pytest.raises(QueryError, match="all zeros"):
        build_knn_query([0.0, 0.0], k=10)


def test_hybrid_bodies() -> None:
    es = build_hybrid_query("statins and breast cancer", VEC, size=10, k=50)
    rrf = es["retriever"]["rrf"]
    assert rrf["rank_window_size"] == 50
    assert rrf["retrievers"][0]["standard"]["query"]["multi_match"]["query"] == "statins and breast cancer"
    assert rrf["retrievers"][1]["knn"]["query_vector"] == VEC
    os_ = build_hybrid_query("statins and breast cancer", VEC, size=10, k=50, dialect="opensearch")
    first, second = os_["query"]["hybrid"]["queries"]
    assert "multi_match" in first and second == {"knn": {"embedding": {"vector": VEC, "k": 50}}}


def test_user_text_stays_query_text() -> None:
    nasty = "'); doc['x'] = 1; //"
    body = build_hybrid_query(nasty, VEC, dialect="opensearch")
    assert body["query"]["hybrid"]["queries"][0]["multi_match"]["query"] == nasty.strip()


def test_the_embedded_engine_runs_knn_bodies_of_both_dialects_and_refuses_server_side_fusion() -> None:
    for dialect in ("elasticsearch", "opensearch"):
        request = parse_body(build_knn_query(VEC, size=5, k=10, dialect=dialect))  # type: ignore[arg-type]
        assert request.knn == 10 and request.size == 5 and not request.fields
        assert request.vector is not None and request.vector.tolist() == list(VEC)
        assert request.to_body(dialect) == build_knn_query(VEC, size=5, k=10, dialect=dialect)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="retriever"):
        parse_body(build_hybrid_query("q", VEC))
    with pytest.raises(QueryError, match="hybrid"):
        parse_body(build_hybrid_query("q", VEC, dialect="opensearch"))
    parse_body(build_query("q", VEC, dialect="opensearch"))  # the canonical body runs everywhere
