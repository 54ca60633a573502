"""SearchRequest: the body it writes, and back; the subset the embedded engine runs, the rest refused by path."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from bmb_es import QueryError, build_query
from bmb_es.query import FieldBoost, QuerySpec, Rerank, SearchRequest, build_body

parse_body = SearchRequest.from_body

BODY = build_query("lung injury", [0.1, 0.2, 0.3], size=5, top_k=20, query_weight=0.2, score_mode="avg")


def test_builder_output_parses() -> None:
    request = parse_body(BODY)
    assert request.size == 5 and request.source_excludes == ("embedding",)
    assert [(f.field, f.boost) for f in request.fields] == [("title", 1.0), ("abstract", 1.0), ("body", 1.0)]
    assert request.rerank == Rerank(20, 0.2, 1.0, "avg")
    assert request.vector is not None and request.vector.tolist() == [0.1, 0.2, 0.3]
    assert not request.vector.flags.writeable


def test_opensearch_dialect_parses_too() -> None:
    body = build_query("lung", [1.0], dialect="opensearch")
    assert parse_body(body) == parse_body(build_query("lung", [1.0]))


def _mutated(path: list[Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(BODY)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["aggs"], {"x": {}}, "aggs"),
        (["query"], {"bool": {"must": []}}, "query.bool"),
        (["query", "multi_match", "type"], "phrase", "multi_match.type"),
        (["query", "multi_match", "operator"], "and", "operator"),
        (["rescore", "query", "rescore_query", "script_score", "script", "source"], "doc['x'].value", "script.source"),
        (["rescore", "query", "rescore_query", "script_score", "query"], {"term": {"a": 1}}, "match_all"),
        (["rescore", "query", "score_mode"], "median", "score_mode"),
        (["rescore", "window_size"], 0, "window_size"),
        (["size"], -1, "size"),
        (
            ["rescore", "query", "rescore_query", "script_score", "script", "source"],
            "cosineSimilarity(params.query_vector, 'other') + 1.0",
            "other than 'embedding'",
        ),
        (["query", "multi_match", "fields"], ["title^x"], "bad boost"),
    ],
)
def test_unsupported_clauses_are_refused(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_body(_mutated(path, value))


def test_two_rescorers_are_refused() -> None:
    body = copy.deepcopy(BODY)
    body["rescore"] = [body["rescore"], body["rescore"]]
    with pytest.raises(QueryError, match="more than one rescorer"):
        parse_body(body)


RNG = np.random.default_rng(7)


@pytest.mark.parametrize("dialect", ["elasticsearch", "opensearch"])
@pytest.mark.parametrize(
    ("question", "vector", "spec"),
    [
        ("  lung injury ", RNG.standard_normal(384).astype(np.float32), QuerySpec()),
        ("lung", RNG.standard_normal(8), QuerySpec(size=3, rerank=Rerank(7, 0.25, 2.0, "multiply"))),  # float64
        ("lung", [0.1, 0.2, 0.3], QuerySpec(5, ("title^3.5", "abstract^0.5"), Rerank(5, 1, 1, "max"))),
        ("lung", [1, 2, 3], QuerySpec(rerank=Rerank(10, score_mode="avg"))),  # ints
        ("lung", None, QuerySpec(size=40, fields=("body",), rerank=None)),  # BM25 alone
        ("lung", [1 / 3, 1e-8, -2.5e10], QuerySpec(rerank=Rerank(10, score_mode="min"))),
    ],
)
def test_a_request_is_the_request_its_body_describes(question: str, vector: Any, spec: QuerySpec, dialect: str) -> None:
    # Engines run the request; --explain shows its body; a pasted body runs as the same request.
    request = SearchRequest.build(question, vector, spec)
    body = request.to_body(dialect)  # type: ignore[arg-type]
    assert SearchRequest.from_body(body) == request
    assert SearchRequest.from_body(body).to_body(dialect) == body  # type: ignore[arg-type]


def test_match_all_and_tie_breaker_round_trip() -> None:
    match_all = SearchRequest("", (), size=3)
    assert match_all.to_body() == {"size": 3, "query": {"match_all": {}}, "_source": {"excludes": ["embedding"]}}
    tied = SearchRequest("lung", (FieldBoost("title", 2.0), FieldBoost("body")), tie_breaker=0.3, source_excludes=())
    assert tied.to_body()["query"]["multi_match"] == {
        "query": "lung",
        "fields": ["title^2", "body"],
        "type": "best_fields",
        "tie_breaker": 0.3,
    }
    assert SearchRequest.from_body(tied.to_body()) == tied and SearchRequest.from_body(match_all.to_body()) == match_all


def test_build_body_is_the_requests_body() -> None:
    spec = QuerySpec(size=4, rerank=Rerank(8))
    assert build_body("lung", [1.0, 0.0], spec) == SearchRequest.build("lung", [1.0, 0.0], spec).to_body()


@pytest.mark.parametrize("dialect", ["elasticsearch", "opensearch"])
def test_a_request_without_sources_says_source_false_and_round_trips(dialect: str) -> None:
    spec = QuerySpec(size=5, rerank=Rerank(20))
    for request in (
        SearchRequest.build("lung injury", [0.1, 0.2, 0.3], spec),
        SearchRequest.nearest([0.1, 0.2, 0.3], 20, 5),
    ):
        bare = replace(request, source=False)
        body = bare.to_body(dialect)  # type: ignore[arg-type]
        assert body["_source"] is False
        assert {key: value for key, value in body.items() if key != "_source"} == {
            key: value
            for key, value in request.to_body(dialect).items()  # type: ignore[arg-type]
            if key != "_source"
        }
        assert SearchRequest.from_body(body) == bare != request
    assert SearchRequest.from_body({"query": {"match_all": {}}, "_source": True}).source_excludes == ()
