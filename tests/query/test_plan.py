"""Query modes: the legs each mode runs, the bodies --explain prints, and the fusion's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from bmb_es import QueryError
from bmb_es.query import (
    DEFAULT_FIELDS,
    MODES,
    PAPER_FIELDS,
    Feedback,
    Fusion,
    QuerySpec,
    Rerank,
    Scored,
    SearchPlan,
    SearchRequest,
    scored_hit,
)

VEC = [0.6, 0.8, 0.0]
SPEC = QuerySpec(size=5, rerank=Rerank(20))


def test_each_mode_runs_the_legs_it_describes() -> None:
    bm25 = SearchPlan.build("lung injury", None, SPEC, "bm25")
    assert bm25.fusion is None and len(bm25.legs) == 1 and bm25.legs[0].rerank is None and bm25.legs[0].size == 5
    paper = SearchPlan.build("lung injury", VEC, SPEC, "paper")
    assert paper.fusion is None and paper.legs[0].rerank == Rerank(20) and paper.legs[0].size == 5
    dense = SearchPlan.build("lung injury", VEC, SPEC, "dense")
    assert dense.legs[0].knn == 20 and dense.legs[0].size == 5 and not dense.legs[0].fields
    rerank = SearchPlan.build("lung injury", VEC, SPEC, "rerank")
    assert rerank.fusion == Fusion() and [leg.size for leg in rerank.legs] == [20, 20]
    assert rerank.legs[0].rerank == Rerank(20, 0.0, 1.0) and rerank.legs[1].rerank is None
    hybrid = SearchPlan.build("lung injury", VEC, SPEC, "hybrid")
    assert len(hybrid.legs) == 3 and hybrid.legs[2].knn == 20 and hybrid.legs[2].size == 20


def test_feedback_runs_rerank_first_then_hybrid_with_the_moved_vector() -> None:
    plan = SearchPlan.build("lung injury", VEC, SPEC, "feedback", feedback=Feedback(2, 1.0))
    rerank = SearchPlan.build("lung injury", VEC, SPEC, "rerank")
    assert plan.legs == rerank.legs and plan.feedback == Feedback(2, 1.0)
    first = plan.first_pass()
    assert (first.mode, first.size, first.feedback, first.legs) == ("rerank", 2, None, rerank.legs)
    second = plan.second_pass([[0.0, 0.0, 3.0]])
    moved = np.array([0.6, 0.8, 1.0]) / np.linalg.norm([0.6, 0.8, 1.0])  # unit(question) + 1.0 * unit(document)
    assert second.mode == "feedback" and second.feedback is None and second.size == 5 and len(second.legs) == 3
    assert second.legs[2].knn == 20 and second.legs[0].vector == pytest.approx(moved)
    assert second.legs[2].vector == pytest.approx(moved) and second.legs[1].vector is None
    assert plan.second_pass([]).legs[0].vector == pytest.approx(VEC)  # nothing found: the question stays put
    described = plan.describe()["bmb_es_fusion"]["feedback"]
    assert (described["documents"], described["weight"]) == (2, 1.0)
    with pytest.raises(QueryError, match="no feedback pass"):
        rerank.first_pass()


def test_auto_builds_the_plan_of_the_mode_it_names_and_says_why() -> None:
    for question, mode, why in (
        ("lung", "feedback", "1 content word (at most 1: a keyword search): feedback"),
        ("lung injury", "rerank", "2 content words: rerank"),
    ):
        auto = SearchPlan.build(question, VEC, SPEC)  # the default mode
        named = SearchPlan.build(question, VEC, SPEC, mode)
        assert (auto.mode, auto.legs, auto.fusion, auto.feedback) == (mode, named.legs, named.fusion, named.feedback)
        assert auto.describe()["bmb_es_fusion"]["auto"] == why and "auto" not in named.describe()["bmb_es_fusion"]
    keyword = SearchPlan.build("lung", VEC, SPEC, "auto")
    assert keyword.first_pass().chosen_by is None  # the first pass is rerank's, not auto's
    assert keyword.second_pass([[0.0, 0.0, 1.0]]).describe()["bmb_es_fusion"]["auto"] == keyword.chosen_by


def test_feedback_vector_averages_unit_vectors() -> None:
    feedback = Feedback(3, 0.5)
    moved = feedback.vector([2.0, 0.0], [[0.0, 5.0], [0.0, -1.0]])  # the two pulls cancel
    assert moved == pytest.approx([1.0, 0.0])
    assert feedback.vector([0.0, 3.0], [[4.0, 0.0]]) == pytest.approx(np.array([0.5, 1.0]) / np.sqrt(1.25))
    with pytest.raises(QueryError, match="at least 1"):
        Feedback(0)
    with pytest.raises(QueryError, match="at least 0"):
        Feedback(3, -0.1)


def test_describe_gives_one_body_or_the_searches_and_their_fusion() -> None:
    paper = SearchPlan.build("lung", VEC, SPEC, "paper")
    assert paper.describe() == paper.legs[0].to_body()
    hybrid = SearchPlan.build("lung", VEC, SPEC, "hybrid")
    described = hybrid.describe("opensearch")
    assert described["bmb_es_fusion"] == {
        "mode": "hybrid",
        "method": "linear",
        "formula": "bm25_weight * minmax(bm25) + (1 - bm25_weight) * cosine",
        "bm25_weight": Fusion().bm25_weight,
        "size": 5,
    }
    assert described["searches"] == [leg.to_body("opensearch") for leg in hybrid.legs]
    assert "knn" in described["searches"][2]["query"]  # OpenSearch's kNN query; Elasticsearch's is top-level
    assert "knn" in hybrid.describe()["searches"][2]
    for body in described["searches"]:  # every leg is a body the embedded engine runs too
        assert SearchRequest.from_body(body).to_body("opensearch") == body


@pytest.mark.parametrize("mode", MODES)
def test_a_size_above_k_and_a_missing_vector_are_refused(mode: str) -> None:
    if mode != "bm25":
        with pytest.raises(QueryError, match="larger than top-k"):
            SearchPlan.build("lung", VEC, QuerySpec(size=30, rerank=Rerank(20)), mode)  # type: ignore[arg-type]
        with pytest.raises(QueryError, match="needs the question's vector"):
            SearchPlan.build("lung", None, SPEC, mode)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="mode 'best'"):
        SearchPlan.build("lung", VEC, SPEC, "best")  # type: ignore[arg-type]


def test_fusion_is_the_weighted_sum_of_min_max_bm25_and_cosine() -> None:
    candidates = [Scored("a", 10.0, 0.1), Scored("b", 6.0, 0.5), Scored("c", 2.0, 0.9), Scored("d", None, 0.8)]
    fused = dict((item.id, score) for item, score in Fusion(0.4).fuse(candidates))
    assert fused == pytest.approx({"a": 0.4 + 0.6 * 0.1, "b": 0.4 * 0.5 + 0.6 * 0.5, "c": 0.6 * 0.9, "d": 0.6 * 0.8})
    order = [item.id for item, _ in Fusion(0.4).fuse(candidates)]
    assert order == ["c", "b", "d", "a"]
    assert [item.id for item, _ in Fusion(1.0).fuse(candidates)][:3] == ["a", "b", "c"]  # BM25 order
    assert [item.id for item, _ in Fusion(0.0).fuse(candidates)] == ["c", "d", "b", "a"]  # cosine order (paper)


def test_fusion_merges_sightings_keeps_first_order_on_ties_and_needs_every_cosine() -> None:
    fused = Fusion(0.5).fuse([Scored("a", 3.0, None), Scored("b", 3.0, 0.2), Scored("a", None, 0.2)])
    assert [(item.id, item.bm25, item.cosine, score) for item, score in fused] == [
        ("a", 3.0, 0.2, pytest.approx(0.6)),  # BM25 scores all alike: each is BM25's best, lexical part 1
        ("b", 3.0, 0.2, pytest.approx(0.6)),
    ]
    with pytest.raises(QueryError, match="no cosine for document 'x'"):
        Fusion().fuse([Scored("x", 1.0, None)])
    with pytest.raises(QueryError, match="between 0 and 1"):
        Fusion(1.5)


def test_the_only_bm25_hit_keeps_its_lexical_part_against_dense_only_candidates() -> None:
    # A rare word matches one document; kNN brings documents a little closer in cosine. The BM25 hit is BM25's
    # best, so it counts 1 (as the best does when BM25 returns several), not 0 like the candidates it never found.
    fused = Fusion(0.3).fuse([Scored("only", 4.2, 0.30), Scored("near", None, 0.40), Scored("nearer", None, 0.45)])
    assert [(item.id, score) for item, score in fused] == [
        ("only", pytest.approx(0.3 + 0.7 * 0.30)),
        ("nearer", pytest.approx(0.7 * 0.45)),
        ("near", pytest.approx(0.7 * 0.40)),
    ]


def test_a_cluster_hit_tells_its_parts_through_its_score() -> None:
    plan = SearchPlan.build("lung", VEC, SPEC, "hybrid")
    paper_leg, lexical_leg, dense_leg = plan.legs
    assert scored_hit(paper_leg, 1.25, None, None, "a") == Scored("a", None, 0.25)  # rescore: cosine + 1
    assert scored_hit(lexical_leg, 7.5, None, None, "a") == Scored("a", 7.5, None)  # BM25
    assert scored_hit(dense_leg, 0.625, None, None, "a") == Scored("a", None, 0.25)  # kNN: (1 + cosine) / 2
    assert scored_hit(paper_leg, 1.25, 3.0, 0.25, "a") == Scored("a", 3.0, 0.25)  # embedded: the parts as told


def test_default_fields_are_unboosted_and_the_papers_form_is_kept_by_name() -> None:
    assert DEFAULT_FIELDS == ("title", "abstract", "body")
    assert PAPER_FIELDS == ("title^2", "abstract", "body")
    most = SearchRequest.build("lung", None, QuerySpec(rerank=None, tie_breaker=1.0)).to_body()
    assert most["query"]["multi_match"]["type"] == "most_fields"
    assert SearchRequest.from_body(most).tie_breaker == 1.0
