"""bench/bench_fusion_loyo.py's simulated settings agree with each other on synthetic vectors (no model)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pytest

from bench.bench_fusion_loyo import (
    ADAPTIVE_COVERAGES,
    ADAPTIVE_WEIGHTS,
    AUTO_WORDS,
    FEEDBACK_DOCS,
    FEEDBACK_WEIGHTS,
    SHIPPED,
    Corpus,
    keyword_row,
    question_settings,
)
from bench.bench_rerank_defaults import minmax
from bmb_es.query import DEFAULT_BM25_WEIGHT, DEFAULT_TOP_K, Feedback


@dataclass
class Question:
    """A corpus of unit vectors, a question's vector and a BM25 run over part of the corpus."""

    ids: list[str]
    unit: np.ndarray
    vector: np.ndarray
    bm25: list[str]
    scores: np.ndarray

    @property
    def position(self) -> dict[str, int]:
        return {doc: i for i, doc in enumerate(self.ids)}

    @property
    def asked(self) -> np.ndarray:
        return self.unit @ self.vector.astype(np.float32)

    def settings(self, coverage: float, content_count: int = 5) -> dict[str, list[str]]:
        """Every simulated setting's ranking, the explored ones with BM25's top hit at ``coverage``, the ``auto``
        family's for a question of ``content_count`` content words."""
        corpus = Corpus(self.ids, self.unit, self.position)
        return question_settings(corpus, self.bm25, self.scores, self.vector, self.asked, coverage, content_count)


def make_question(seed: int, size: int = 240, dim: int = 8) -> Question:
    rng = np.random.default_rng(seed)
    unit = rng.normal(size=(size, dim)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    vector = rng.normal(size=dim)
    vector /= np.linalg.norm(vector)
    ids = [f"d{n}" for n in range(size)]
    bm25 = [ids[i] for i in rng.permutation(size)[:150]]
    scores = np.sort(rng.uniform(1.0, 20.0, size=len(bm25)))[::-1]
    return Question(ids, unit, vector, bm25, scores)


@pytest.mark.parametrize("kind", ["rerank", "hybrid"])
def test_adaptive_is_the_shipped_fusion_when_bm25_matches_the_question_well(kind: str) -> None:
    settings = make_question(0).settings(coverage=1.0)
    shipped = settings[f"{kind} w={DEFAULT_BM25_WEIGHT} @{DEFAULT_TOP_K}"]
    for t in ADAPTIVE_COVERAGES:
        for low in ADAPTIVE_WEIGHTS:
            assert settings[f"adaptive {kind} t={t} wl={low}"] == shipped


def test_adaptive_rerank_below_the_coverage_takes_the_lower_weight() -> None:
    question = make_question(1)
    settings = question.settings(coverage=0.0)
    t, low = ADAPTIVE_COVERAGES[0], ADAPTIVE_WEIGHTS[1]
    assert settings[f"adaptive rerank t={t} wl={low}"] == settings[f"rerank w={low} @{DEFAULT_TOP_K}"]
    # With no BM25 weight, BM25's top k is ordered by the question's cosine alone.
    asked, position = question.asked, question.position
    by_cosine = sorted(question.bm25[:DEFAULT_TOP_K], key=lambda doc: -asked[position[doc]])
    assert settings[f"adaptive rerank t={t} wl=0.0"][:DEFAULT_TOP_K] == by_cosine


def test_mixed_feedback_ranks_bm25_and_moved_candidates_by_the_mean_cosine() -> None:
    question = make_question(2)
    settings = question.settings(coverage=0.5)
    ranking = settings["mixed feedback m=5 b=1.0"]
    assert len(ranking) == len(set(ranking)) == 100
    # Candidates outside BM25's top k can only come from the moved vector's kNN leg.
    assert set(ranking) - set(question.bm25[:DEFAULT_TOP_K])
    unit, position = question.unit, question.position
    top = [unit[position[doc]] for doc in settings[SHIPPED["rerank"]][:5]]
    moved = unit @ Feedback(5, 1.0).vector(question.vector, top).astype(np.float32)
    asked = question.asked
    normed = dict(zip(question.bm25[:DEFAULT_TOP_K], minmax(question.scores[:DEFAULT_TOP_K]), strict=True))
    w = DEFAULT_BM25_WEIGHT
    fused = [w * normed.get(d, 0.0) + (1 - w) * (asked[position[d]] + moved[position[d]]) / 2 for d in ranking]
    assert all(a >= b - 1e-6 for a, b in pairwise(fused))


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4])
def test_auto_is_feedback_up_to_t_content_words_and_the_shipped_rerank_above(count: int) -> None:
    settings = make_question(3).settings(coverage=1.0, content_count=count)
    assert SHIPPED["auto"] in settings
    for t in AUTO_WORDS:
        for m in FEEDBACK_DOCS:
            for b in FEEDBACK_WEIGHTS:
                expected = settings[f"feedback m={m} b={b}"] if count <= t else settings[SHIPPED["rerank"]]
                assert settings[f"auto t={t} m={m} b={b}"] == expected
    # The feedback ranking differs from rerank's on this question, so the test tells the two branches apart.
    assert settings[SHIPPED["feedback"]] != settings[SHIPPED["rerank"]]


def test_keyword_row_splits_a_set_by_autos_rule() -> None:
    queries = {"a": "dha", "b": "What is apelin?", "c": "statins and breast cancer"}
    scores = {
        SHIPPED["rerank"]: {"a": 0.2, "b": 0.4, "c": 0.9},
        SHIPPED["feedback"]: {"a": 0.6, "b": 0.8, "c": 0.5},
    }
    assert keyword_row("set", queries, scores) == ["set", 3, 2, pytest.approx(0.3), pytest.approx(0.7), 0.9, 0.5]
