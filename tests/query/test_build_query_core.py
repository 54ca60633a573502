"""The canonical request body: BM25 multi_match, and the rescore block with script_score cosine."""

from __future__ import annotations

import json

import pytest

from bmb_es import QueryError, build_query


def test_bm25_only_body() -> None:
    assert build_query("how does coronavirus damage the lungs", size=7) == {
        "size": 7,
        "query": {
            "multi_match": {
                "query": "how does coronavirus damage the lungs",
                "fields": ["title", "abstract", "body"],
                "type": "best_fields",
            }
        },
        "_source": {"excludes": ["embedding"]},
    }


def test_rerank_body_is_the_paper_by_default() -> None:
    body = build_query("q", [0.5, -0.5], top_k=40)
    assert body["rescore"] == {
        "window_size": 40,
        "query": {
            "rescore_query": {
                "script_score": {
                    "query": {"match_all": {}},
                    "script": {
                        "source": "cosineSimilarity(params.query_vector, 'embedding') + 1.0",
                        "params": {"query_vector": [0.5, -0.5]},
                    },
                }
            },
            "query_weight": 0.0,
            "rescore_query_weight": 1.0,
            "score_mode": "total",
        },
    }


def test_user_text_never_reaches_script_source_or_dsl_keys() -> None:
    hostile = 'x\') + 1; System.exit(0); //" } , "aggs": {'
    body = build_query(hostile, [1.0, 0.0])
    assert body["query"]["multi_match"]["query"] == hostile
    script = body["rescore"]["query"]["rescore_query"]["script_score"]["script"]
    assert hostile not in script["source"]
    assert set(body) == {"size", "query", "_source", "rescore"}
    assert json.loads(json.dumps(body)) == body


def test_opensearch_dialect_uses_doc_accessor() -> None:
    body = build_query("q", [1.0], dialect="opensearch")
    source = body["rescore"]["query"]["rescore_query"]["script_score"]["script"]["source"]
    assert source == "cosineSimilarity(params.query_vector, doc['embedding']) + 1.0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"question": "   "}, "empty"),
        ({"question": "q", "vector": [0.0, 0.0]}, "all zeros"),
        ({"question": "q", "vector": [float("nan")]}, "NaN"),
        ({"question": "q", "vector": [1.0], "size": 20, "top_k": 10}, "larger than top-k"),
        ({"question": "q", "vector": [1.0], "top_k": 0}, "top-k"),
        ({"question": "q", "vector": [1.0], "score_mode": "median"}, "score mode"),
        ({"question": "q", "vector": [1.0], "query_weight": float("inf")}, "finite"),
        ({"question": "q", "size": 0}, "size"),
    ],
)
def test_invalid_requests_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        build_query(**kwargs)  # type: ignore[arg-type]
