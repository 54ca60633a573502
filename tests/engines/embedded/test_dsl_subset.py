"""The embedded engine runs exactly the builder's subset and refuses the rest, naming the clause."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from bmb_es import QueryError, build_query
from bmb_es.engines.embedded import parse_body
from bmb_es.engines.embedded._dsl import SearchPlan, plan_for
from bmb_es.query import QuerySpec, Rerank, build_body

BODY = build_query("lung injury", [0.1, 0.2, 0.3], size=5, top_k=20, query_weight=0.2, score_mode="avg")


def test_builder_output_parses() -> None:
    plan = parse_body(BODY)
    assert plan.size == 5 and plan.source_excludes == ("embedding",)
    assert [(f.field, f.boost) for f in plan.query.fields] == [("title", 2.0), ("abstract", 1.0), ("body", 1.0)]
    assert plan.rescore is not None
    assert (plan.rescore.window_size, plan.rescore.query_weight, plan.rescore.score_mode) == (20, 0.2, "avg")
    assert plan.rescore.vector.tolist() == pytest.approx([0.1, 0.2, 0.3]) and plan.rescore.vector_field == "embedding"


def test_opensearch_dialect_parses_too() -> None:
    body = build_query("lung", [1.0], dialect="opensearch")
    assert parse_body(body).rescore is not None


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


def _plan_fields(plan: SearchPlan) -> tuple[Any, ...]:
    rescore = plan.rescore
    parts = (plan.query, plan.size, plan.source_excludes)
    if rescore is None:
        return (*parts, None)
    vector = (rescore.vector.dtype, rescore.vector.tobytes(), rescore.vector.flags.writeable, rescore.vector_norm)
    return (
        *parts,
        rescore.window_size,
        rescore.vector_field,
        rescore.query_weight,
        rescore.rescore_query_weight,
        rescore.score_mode,
        vector,
    )


RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("question", "vector", "spec"),
    [
        ("  lung injury ", RNG.standard_normal(384).astype(np.float32), QuerySpec()),
        ("lung", RNG.standard_normal(8), QuerySpec(size=3, rerank=Rerank(7, 0.25, 2.0, "multiply"))),  # float64
        ("lung", [0.1, 0.2, 0.3], QuerySpec(5, ("title^3.5", "abstract^0.5"), Rerank(5, 1, 1, "max"))),
        ("lung", [1, 2, 3], QuerySpec(rerank=Rerank(10, score_mode="avg"), dialect="opensearch")),  # ints
        ("lung", None, QuerySpec(size=40, fields=("body",), rerank=None)),  # BM25 alone
        ("lung", [1 / 3, 1e-8, -2.5e10], QuerySpec(rerank=Rerank(10, score_mode="min"))),  # float32 rounding
    ],
)
def test_the_plan_made_from_the_inputs_is_the_plan_parsed_from_their_body(
    question: str, vector: Any, spec: QuerySpec
) -> None:
    # search() runs plan_for on the embedded engine and reports build_body's body: they must say the same.
    parsed = parse_body(build_body(question, vector, spec))
    assert _plan_fields(plan_for(question, vector, spec)) == _plan_fields(parsed)
