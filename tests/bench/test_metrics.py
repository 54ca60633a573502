"""Metric code against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from bmb_es.bench.metrics import evaluate, fuse_rrf, mean_mrr, mean_paper_mrr, paper_mrr, significance


def test_paper_mrr_sums_every_relevant_document_in_the_cutoff() -> None:
    relevant = {"a": 1, "c": 1, "z": 1}
    # a at rank 1, c at rank 3, z beyond the cut-off: 1 + 1/3
    assert paper_mrr(["a", "b", "c", "d", "z"], relevant, 4) == pytest.approx(1 + 1 / 3)
    assert paper_mrr(["a", "b", "c", "d", "z"], relevant, 5) == pytest.approx(1 + 1 / 3 + 1 / 5)
    assert paper_mrr(["b", "d"], relevant, 10) == 0.0
    assert paper_mrr([], relevant, 10) == 0.0


def test_paper_mrr_ignores_zero_grades() -> None:
    assert paper_mrr(["x", "y"], {"x": 0, "y": 2}, 10) == pytest.approx(0.5)


def test_mean_paper_mrr_counts_queries_without_hits_as_zero() -> None:
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}}
    mean, per_query = mean_paper_mrr({"q1": ["b", "x", "a"]}, qrels, 10)
    assert per_query == pytest.approx([1 + 1 / 3, 0.0])
    assert mean == pytest.approx((1 + 1 / 3) / 2)


def test_standard_metrics_match_hand_computation() -> None:
    qrels = {"q1": {"d1": 1, "d3": 1}, "q2": {"x": 2, "y": 1}, "q3": {"r": 1}}
    run = {"q1": ["d2", "d1", "d3"], "q2": ["y", "x"], "q3": ["a", "b", "c", "d", "e", "r"]}
    values = evaluate(run, qrels, ["mrr@5", "mrr@10", "ndcg@10", "recall@2"])
    assert values["mrr@10"] == pytest.approx([0.5, 1.0, 1 / 6])
    assert values["mrr@5"] == pytest.approx([0.5, 1.0, 0.0])  # rank 6 is beyond @5
    # q1: DCG = 1/log2(3) + 1/log2(4); IDCG = 1 + 1/log2(3)
    q1 = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    # q2 (graded, ranx's default gain = grade): DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3)
    q2 = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    q3 = (1 / math.log2(7)) / 1.0
    assert values["ndcg@10"] == pytest.approx([q1, q2, q3])
    assert values["recall@2"] == pytest.approx([0.5, 1.0, 0.0])


def test_missing_run_counts_as_zero() -> None:
    values = evaluate({}, {"q1": {"a": 1}}, ["mrr@10"])
    assert values["mrr@10"] == [0.0]


def test_significance_p_values() -> None:
    qrels = {f"q{i}": {"rel": 1} for i in range(12)}
    baseline = {qid: ["x", "y", "rel"] for qid in qrels}
    better = {qid: ["rel"] for qid in qrels}
    same = dict(baseline)
    p = significance(qrels, baseline, {"better": better, "same": same}, "mrr@10")
    assert p["better"] < 0.001
    assert math.isnan(p["same"]) or p["same"] > 0.5


def test_rrf_fusion_rewards_agreement() -> None:
    qrels = {"q": {"a": 1}}
    fused = fuse_rrf([{"q": ["a", "b", "c"]}, {"q": ["c", "a", "d"]}], qrels)
    # a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62, d: 1/63
    assert fused["q"] == ["a", "c", "b", "d"]


def test_mean_mrr_is_first_relevant_rank_with_cutoff_missing_runs_and_empty_input() -> None:
    run: dict[str, list[str]] = {"q1": ["a", "b", "c"], "q2": ["x", "y"], "q3": []}
    relevant = {"q1": {"c", "b"}, "q2": {"z"}, "q3": {"p"}, "q4": {"a"}}  # q4 has no run at all
    assert mean_mrr(run, relevant) == pytest.approx((1 / 2 + 0 + 0 + 0) / 4)
    assert mean_mrr(run, {"q1": ["c"]}, k=2) == 0.0  # rank 3 is past the cutoff
    assert mean_mrr(run, {"q1": ["c"]}, k=3) == pytest.approx(1 / 3)
    assert mean_mrr(run, {}) == 0.0
