"""The debias filter: overlap measures on hand-computed cases and the pair/question policies."""

from __future__ import annotations

import pytest

from bmb_es.bench.debias import content_coverage, coverage, debias, jaccard, overlap


def test_jaccard_coverage_and_content_coverage() -> None:
    question = "What is the role of BRCA1?"  # words: what is the role of brca1 (6); content: role brca1
    context = "BRCA1 repairs DNA. The role is known."  # brca1 repairs dna the role is known (7)
    # shared: is the role brca1 = 4; union = 6 + 7 - 4 = 9
    assert jaccard(question, context) == pytest.approx(4 / 9)
    assert coverage(question, context) == pytest.approx(4 / 6)
    assert content_coverage(question, context) == pytest.approx(2 / 2)
    assert content_coverage("What is it?", "anything") == 0.0  # no content words
    assert overlap("coverage", question, context) == coverage(question, context)
    with pytest.raises(ValueError, match="overlap measure"):
        overlap("cosine", question, context)  # type: ignore[arg-type]


def test_punctuation_and_case_split_words() -> None:
    assert jaccard("IL-6 levels", "il 6 LEVELS") == 1.0


QUESTIONS = {"q1": "Which gene causes cystic fibrosis?", "q2": "What drug treats malaria?"}
CONTEXTS = {
    "easy": "The CFTR gene causes cystic fibrosis.",  # content words of q1: gene causes cystic fibrosis -> 4/4
    "hard": "CFTR mutations underlie the disease.",  # 0/4
    "m1": "Artemisinin is first-line therapy.",  # q2 content: drug treats malaria -> 0/3
}


def test_pair_policy_keeps_question_with_one_passing_context_and_excludes_the_rest() -> None:
    result = debias(QUESTIONS, {"q1": ["easy", "hard"], "q2": ["m1"]}, CONTEXTS, "content-coverage", 0.3)
    assert result.kept == {"q1", "q2"}
    assert result.excluded == {"q1": frozenset({"easy"})}
    assert (result.questions, result.pairs, result.pairs_dropped, result.dropped) == (2, 3, 1, 0)
    assert result.max_overlap == 1.0
    assert result.to_json()["kept"] == 2


def test_condensed_policy_keeps_the_same_questions() -> None:
    relevant = {"q1": ["easy", "hard"], "q2": ["m1"]}
    pair = debias(QUESTIONS, relevant, CONTEXTS, "content-coverage", 0.3, "pair")
    condensed = debias(QUESTIONS, relevant, CONTEXTS, "content-coverage", 0.3, "condensed")
    assert condensed.kept == pair.kept and condensed.excluded == pair.excluded
    assert condensed.to_json()["policy"] == "condensed"
    with pytest.raises(ValueError, match="debias policy"):
        debias(QUESTIONS, relevant, CONTEXTS, "coverage", 0.3, "any")  # type: ignore[arg-type]


def test_question_policy_needs_every_context_to_pass() -> None:
    result = debias(QUESTIONS, {"q1": ["easy", "hard"], "q2": ["m1"]}, CONTEXTS, "content-coverage", 0.3, "question")
    assert result.kept == {"q2"}
    assert result.dropped == 1


def test_threshold_is_inclusive_and_unknown_contexts_are_ignored() -> None:
    result = debias({"q": "a b"}, {"q": ["c", "missing"]}, {"c": "a x"}, "coverage", 0.5)
    assert result.kept == {"q"} and result.pairs == 1  # coverage exactly 0.5 <= 0.5
    empty = debias({"q": "a b"}, {"q": ["missing"]}, {}, "coverage", 0.5)
    assert empty.questions == 0 and not empty.kept
