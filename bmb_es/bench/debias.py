"""The paper's debiasing: drop questions whose relevant context shares too many words with the question.

The BioMedBERT paper removes question/context pairs with "Jaccard <= 30%" word overlap kept. Measured
literally (Jaccard of word sets, question vs. a full abstract) no pair exceeds about 0.24, so the filter
removes nothing. The paper's BM25 drop matches filtering on *coverage* instead: the share of the question's
words (or content words) found in the context. All three measures are offered; the default for the Table 9
reproduction is content-word coverage <= 0.30.

The paper filters (question, context) *pairs*. With ``policy="pair"`` (default, the paper's literal pairs) a
question is kept when at least one of its relevant contexts passes (overlap <= threshold); only the passing
contexts are relevant, and its failing contexts (listed in :attr:`DebiasResult.excluded`) stay in the corpus as
non-relevant documents. ``policy="condensed"`` keeps the same questions but drops the failing contexts from
that question's rankings (a condensed list: neither hit nor miss). ``policy="question"`` keeps a question only
when every relevant context passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._json import fields_json
from ..query._keywords import content_words, words  # the measure the auto mode uses too

OverlapMeasure = Literal["jaccard", "coverage", "content-coverage"]
DebiasPolicy = Literal["pair", "condensed", "question"]
OVERLAP_MEASURES: tuple[OverlapMeasure, ...] = ("jaccard", "coverage", "content-coverage")
DEFAULT_MEASURE: OverlapMeasure = "content-coverage"
DEFAULT_THRESHOLD = 0.30


def jaccard(question: str, context: str) -> float:
    """Shared words over all words of question and context (word sets); 0 when both are empty."""
    q, c = words(question), words(context)
    union = q | c
    return len(q & c) / len(union) if union else 0.0


def coverage(question: str, context: str) -> float:
    """Share of the question's (distinct) words found in the context."""
    q = words(question)
    return len(q & words(context)) / len(q) if q else 0.0


def content_coverage(question: str, context: str) -> float:
    """:func:`coverage` over content words (stop words and question words removed)."""
    q = content_words(question)
    return len(q & content_words(context)) / len(q) if q else 0.0


MEASURES = {"jaccard": jaccard, "coverage": coverage, "content-coverage": content_coverage}


def overlap(measure: OverlapMeasure, question: str, context: str) -> float:
    try:
        function = MEASURES[measure]
    except KeyError:
        raise ValueError(f"overlap measure {measure!r}: choose one of {', '.join(OVERLAP_MEASURES)}") from None
    return function(question, context)


@dataclass(frozen=True, slots=True)
class DebiasResult:
    """Which questions a filter kept, with the counts the report shows."""

    measure: OverlapMeasure
    threshold: float
    kept: frozenset[str]
    questions: int
    pairs: int
    pairs_dropped: int
    max_overlap: float
    policy: DebiasPolicy = "pair"
    excluded: Mapping[str, frozenset[str]] = field(default_factory=dict)
    overlaps: Mapping[tuple[str, str], float] = field(default_factory=dict, repr=False)

    @property
    def dropped(self) -> int:
        return self.questions - len(self.kept)

    @property
    def label(self) -> str:
        return f"{self.measure}<={self.threshold:g}"

    def to_json(self) -> dict[str, Any]:
        return fields_json(
            self,
            omit=("excluded", "overlaps"),
            kept=len(self.kept),
            max_overlap=round(self.max_overlap, 4),
            dropped=self.dropped,
        )


def debias(
    questions: Mapping[str, str],
    relevant: Mapping[str, Iterable[str]],
    contexts: Mapping[str, str],
    measure: OverlapMeasure = DEFAULT_MEASURE,
    threshold: float = DEFAULT_THRESHOLD,
    policy: DebiasPolicy = "pair",
) -> DebiasResult:
    """Filter question/context pairs with ``overlap > threshold`` (see the module docstring for ``policy``).

    Parameters
    ----------
    questions
        ``{question id: text}``.
    relevant
        ``{question id: ids of its relevant contexts}`` (the positive qrels).
    contexts
        ``{context id: text}``; relevant ids missing here are ignored.
    """
    if policy not in ("pair", "condensed", "question"):
        raise ValueError(f"debias policy {policy!r}: choose pair, condensed or question")
    kept: set[str] = set()
    excluded: dict[str, frozenset[str]] = {}
    overlaps: dict[tuple[str, str], float] = {}
    pairs = dropped_pairs = 0
    highest = 0.0
    for qid, text in questions.items():
        ids = [doc for doc in relevant.get(qid, ()) if doc in contexts]
        if not ids:
            continue
        failing: set[str] = set()
        for doc in ids:
            value = overlap(measure, text, contexts[doc])
            overlaps[(qid, doc)] = value
            highest = max(highest, value)
            pairs += 1
            if value > threshold:
                dropped_pairs += 1
                failing.add(doc)
        if not failing or (policy != "question" and len(failing) < len(ids)):
            kept.add(qid)
            if failing:
                excluded[qid] = frozenset(failing)
    total = len({qid for qid, _ in overlaps})
    return DebiasResult(
        measure, threshold, frozenset(kept), total, pairs, dropped_pairs, highest, policy, excluded, overlaps
    )
