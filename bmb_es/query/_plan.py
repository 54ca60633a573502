"""Query modes: what a search runs (one or more :class:`SearchRequest` legs) and how their results are fused.

Every mode is made of requests every engine executes, so the embedded engine and a cluster rank alike:

=========  =================================================================================================
``auto``   The default: ``feedback`` for a keyword search (a question of one content word, such as "dha" or
           "What is apelin?"), ``rerank`` for anything longer (:mod:`bmb_es.query._keywords`).
``rerank`` BM25 top ``k``, each scored ``w * minmax(bm25) + (1 - w) * cosine`` (``w`` = 0.3, ``k`` = 100).
``paper``  The BioMedBERT paper: BM25 top ``k`` re-ranked by cosine alone (one request with a ``rescore``).
``bm25``   BM25 alone.
``dense``  The ``k`` nearest documents by cosine (kNN; exact on the embedded engine, HNSW on a cluster).
``hybrid`` BM25 top ``k`` and dense top ``k`` together, scored as ``rerank`` scores (BM25 0 where absent).
``feedback`` ``rerank`` first; then ``hybrid`` with the question's vector moved towards the vectors of its top
           ``m`` documents (dense pseudo-relevance feedback, Rocchio's rule on vectors; ``m`` = 10, weight 0.5).
=========  =================================================================================================

``minmax`` maps the BM25 scores of the top ``k`` onto 0..1, so ``w`` means the same for every question and
every engine. ``rerank``'s weight and depth were chosen by leave-one-year-out over BioASQ 4B-7B golden questions,
over abstracts and over golden snippets together, among the paper's re-rank, fixed-weight mixes and rank fusions
that need no kNN leg (so ``rerank`` costs one BM25 search on any engine size), then frozen
(``bench/bench_fusion_loyo.py``; docs/benchmarks.md has the figures).

Fusion runs in bmb-es, after the legs, from what every engine returns: BM25 scores from the BM25 request, cosines
from the paper's re-rank of the same top ``k`` (score ``cosine + 1``) and from kNN (score ``(1 + cosine) / 2``).
An engine that reports both parts of each hit (the embedded engine) answers the first two in one request.
``--explain`` prints each leg's request and the fusion that joins them.

``feedback`` is for questions with many relevant papers (a review's search): on NFCorpus it lifts nDCG@10 and
recall@100 well above every other mode, while on BioASQ, where a question has few relevant texts, it trails
``rerank`` on questions of several content words. Its ``m`` and weight were picked by the same leave-one-year-out on
BioASQ, among feedback settings only; it costs two BM25 searches, a fetch of ``m`` vectors and one kNN search.
``auto`` gives it to keyword searches only: the same leave-one-year-out, among "feedback at most ``t`` content
words, else ``rerank``" (``t`` 1/2/3 x every feedback ``m`` and weight), picked ``t`` = 1 with the feedback mode's
own ``m`` and weight, which scores as ``rerank`` does on BioASQ (0.9152 both) and lifts NFCorpus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from .._errors import QueryError
from ._builder import Dialect, QuerySpec, Rerank
from ._keywords import KEYWORD_SEARCH_WORDS, content_words, is_keyword_search
from ._request import SearchRequest

Mode = Literal["auto", "rerank", "paper", "bm25", "dense", "hybrid", "feedback"]
MODES: tuple[Mode, ...] = get_args(Mode)
DEFAULT_MODE: Mode = "auto"
NEEDS_VECTOR: frozenset[str] = frozenset({"auto", "rerank", "paper", "dense", "hybrid", "feedback"})
DEFAULT_TOP_K = 100  # candidates per leg, and the weight below: leave-one-year-out (see the module docstring)
DEFAULT_BM25_WEIGHT = 0.3
FEEDBACK_DOCUMENTS = 10  # feedback mode's m and weight: leave-one-year-out among feedback settings
FEEDBACK_WEIGHT = 0.5


def auto_mode(question: str) -> Mode:
    """The mode ``auto`` runs for ``question``: ``feedback`` for a keyword search, else ``rerank``."""
    return "feedback" if is_keyword_search(question) else "rerank"


def parse_mode(text: str) -> Mode:
    """``text`` as a :data:`Mode`, else a :class:`QueryError` naming the choices."""
    for mode in MODES:
        if text == mode:
            return mode
    raise QueryError(f"mode {text!r}: choose one of {', '.join(MODES)}")


@dataclass(frozen=True, slots=True)
class Scored:
    """One hit as fusion sees it: its id and the parts of its score that a leg told."""

    id: str
    bm25: float | None = None
    cosine: float | None = None


@dataclass(frozen=True, slots=True)
class Fusion:
    """``bm25_weight * minmax(bm25) + (1 - bm25_weight) * cosine`` over every candidate of every leg.

    ``minmax`` maps the BM25 scores the candidates have onto 0..1: the best is always 1, so one BM25 hit, or hits
    that all score alike, count 1 (they are BM25's best); a candidate that BM25 did not return counts 0. Ties keep
    the order of first appearance, so fusion is deterministic.
    """

    bm25_weight: float = DEFAULT_BM25_WEIGHT

    def __post_init__(self) -> None:
        if not 0.0 <= self.bm25_weight <= 1.0:
            raise QueryError(f"BM25 weight must be between 0 and 1, got {self.bm25_weight}")

    def fuse(self, candidates: Sequence[Scored]) -> list[tuple[Scored, float]]:
        """Each candidate (first of its id; later sightings fill in missing parts) with its fused score, best first.

        Raises
        ------
        QueryError
            A candidate whose cosine no leg told (the plan's legs always tell it).
        """
        merged: dict[str, Scored] = {}
        for item in candidates:
            seen = merged.get(item.id)
            if seen is None:
                merged[item.id] = item
            else:
                bm25 = seen.bm25 if seen.bm25 is not None else item.bm25
                cosine = seen.cosine if seen.cosine is not None else item.cosine
                merged[item.id] = Scored(item.id, bm25, cosine)
        values = [item.bm25 for item in merged.values() if item.bm25 is not None]
        low, high = (min(values), max(values)) if values else (0.0, 0.0)
        span = high - low
        scored = []
        for item in merged.values():
            if item.cosine is None:
                raise QueryError(f"fusion: no cosine for document {item.id!r}")
            if item.bm25 is None:
                lexical = 0.0
            elif span == 0:  # one score, or all alike: each is BM25's best (at 0, a lone hit fell behind kNN's)
                lexical = 1.0
            else:
                lexical = (item.bm25 - low) / span
            scored.append((item, self.bm25_weight * lexical + (1.0 - self.bm25_weight) * item.cosine))
        # sorted() is stable and dicts keep insertion order: equal scores stay in order of first appearance.
        return sorted(scored, key=lambda pair: -pair[1])

    def to_json(self) -> dict[str, Any]:
        return {
            "method": "linear",
            "formula": "bm25_weight * minmax(bm25) + (1 - bm25_weight) * cosine",
            "bm25_weight": self.bm25_weight,
        }


@dataclass(frozen=True, slots=True)
class Feedback:
    """Dense pseudo-relevance feedback: the question's vector moved towards its first pass's top documents.

    ``unit(question) + weight * mean(unit(d) for d in the top documents)``, scaled to unit length (Rocchio's rule
    with no negative documents). Cosine ignores length, so units keep every document's pull equal.
    """

    documents: int = FEEDBACK_DOCUMENTS
    weight: float = FEEDBACK_WEIGHT

    def __post_init__(self) -> None:
        if self.documents < 1:
            raise QueryError(f"feedback documents must be at least 1, got {self.documents}")
        if self.weight < 0.0:
            raise QueryError(f"feedback weight must be at least 0, got {self.weight}")

    def vector(self, question: npt.ArrayLike, top: Sequence[npt.ArrayLike]) -> npt.NDArray[np.float64]:
        """The moved vector; ``question`` scaled to unit length when ``top`` is empty (nothing to move towards)."""
        moved = _unit(np.asarray(question, dtype=np.float64))
        if top:
            moved = moved + self.weight * np.mean([_unit(np.asarray(item, dtype=np.float64)) for item in top], axis=0)
        return _unit(moved)

    def to_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "weight": self.weight,
            "vector": "unit(unit(question) + weight * mean(unit(vector) of the first pass's top documents))",
        }


def _unit(vector: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def scored_hit(leg: SearchRequest, score: float, bm25: float | None, cosine: float | None, doc_id: str) -> Scored:
    """What a hit of ``leg`` tells: its own parts where the engine reports them, else read off its score."""
    if leg.knn is not None:
        return Scored(doc_id, bm25, cosine if cosine is not None else 2.0 * score - 1.0)
    if leg.rerank is not None:  # the paper's re-rank (weights 0 / 1, total): score = cosine + 1
        return Scored(doc_id, bm25, cosine if cosine is not None else score - 1.0)
    return Scored(doc_id, score if bm25 is None else bm25, cosine)


@dataclass(frozen=True, slots=True, eq=False)
class SearchPlan:
    """What one question runs: its legs and, with more than one, the fusion that joins their rankings.

    Parameters
    ----------
    mode
        The mode the plan was made for (see the module docstring).
    legs
        The requests, in the order their rankings are fused.
    size
        Hits returned after fusion.
    fusion
        ``None`` for single-leg modes (the leg's hits are the answer).
    feedback
        ``feedback`` mode: the legs are its first pass (``rerank``); :meth:`second_pass` makes the rest.
    spec
        ``feedback`` mode: what the second pass is built from.
    chosen_by
        Asked for ``auto``: why it runs ``mode`` (``--explain`` shows it).
    """

    mode: Mode
    legs: tuple[SearchRequest, ...]
    size: int
    fusion: Fusion | None = None
    feedback: Feedback | None = None
    spec: QuerySpec | None = None
    chosen_by: str | None = None

    @classmethod
    def build(
        cls,
        question: str,
        vector: Sequence[float] | npt.ArrayLike | None,
        spec: QuerySpec,
        mode: Mode = DEFAULT_MODE,
        fusion: Fusion | None = None,
        feedback: Feedback | None = None,
        knn: bool = True,
    ) -> SearchPlan:
        """The plan for ``question`` in ``mode``; ``spec.rerank.top_k`` is each leg's depth (``k``).

        ``auto`` builds the plan of :func:`auto_mode`'s choice, which says why in ``chosen_by``; on an index that
        answers no kNN search (``knn`` false: a cluster's ``--rerank-only`` index) it builds ``rerank``.

        ``feedback`` (``feedback`` mode only; default :class:`Feedback`) says how the first pass moves the vector.

        ``spec.rerank``'s weights and score mode shape the ``paper`` re-rank (default: the paper's 0 / 1).

        Raises
        ------
        QueryError
            An unknown mode, a mode that needs the vector without one, or a size larger than ``k``.
        """
        if mode not in MODES:
            raise QueryError(f"mode {mode!r}: choose one of {', '.join(MODES)}")
        if mode == "auto":
            chosen = auto_mode(question) if knn else "rerank"
            plan = cls.build(question, vector, spec, chosen, fusion, feedback)
            count = len(content_words(question))
            said = f"{count} content word{'' if count == 1 else 's'}"
            if is_keyword_search(question):
                said += f" (at most {KEYWORD_SEARCH_WORDS}: a keyword search)"
            why = f"{said}: {chosen}" if knn else f"{said}, but the index has no kNN (rerank-only): {chosen}"
            return replace(plan, chosen_by=why)
        rerank = spec.rerank or Rerank()
        k = rerank.top_k
        if spec.size > k and mode != "bm25":
            raise QueryError(f"size {spec.size} is larger than top-k {k}: raise --top-k or lower --size")
        bm25_spec = QuerySpec(spec.size, spec.fields, None, spec.dialect, spec.tie_breaker, spec.filters)
        if mode == "bm25":
            return cls(mode, (SearchRequest.build(question, None, bm25_spec),), spec.size)
        if vector is None:
            raise QueryError(f"mode {mode} needs the question's vector")
        if mode == "paper":
            paper_spec = QuerySpec(spec.size, spec.fields, rerank, spec.dialect, spec.tie_breaker, spec.filters)
            return cls(mode, (SearchRequest.build(question, vector, paper_spec),), spec.size)
        if mode == "dense":
            return cls(mode, (SearchRequest.nearest(vector, k, spec.size, spec.filters),), spec.size)
        # The paper's re-rank of the top k tells each BM25 candidate's cosine (and, on engines that report score
        # parts, its BM25 score too); the plain BM25 request tells BM25 scores on the others.
        paper_depth = QuerySpec(k, spec.fields, Rerank(k, 0.0, 1.0), spec.dialect, spec.tie_breaker, spec.filters)
        lexical_spec = QuerySpec(k, spec.fields, None, spec.dialect, spec.tie_breaker, spec.filters)
        lexical = SearchRequest.build(question, None, lexical_spec)
        legs: tuple[SearchRequest, ...] = (SearchRequest.build(question, vector, paper_depth), lexical)
        if mode == "hybrid":
            legs += (SearchRequest.nearest(vector, k, k, spec.filters),)
        if mode == "feedback":
            return cls(mode, legs, spec.size, fusion or Fusion(), feedback or Feedback(), spec)
        return cls(mode, legs, spec.size, fusion or Fusion())

    def first_pass(self) -> SearchPlan:
        """``feedback`` mode: the ``rerank`` plan whose top documents move the vector (only they are kept)."""
        if self.feedback is None:
            raise QueryError(f"mode {self.mode} has no feedback pass")
        depth = self.legs[0].size  # k: the feedback documents are among the first pass's candidates
        size = min(self.feedback.documents, depth)
        return replace(self, mode="rerank", size=size, feedback=None, spec=None, chosen_by=None)

    def second_pass(self, top: Sequence[npt.ArrayLike]) -> SearchPlan:
        """``feedback`` mode: ``hybrid`` with the question's vector moved towards ``top`` (the first pass's top
        documents' vectors; none found leaves it where it was)."""
        question = self.legs[0]
        if self.feedback is None or self.spec is None or question.vector is None:
            raise QueryError(f"mode {self.mode} has no feedback pass")
        vector = self.feedback.vector(question.vector, top)
        plan = SearchPlan.build(question.question, vector, self.spec, "hybrid", self.fusion)
        return replace(plan, mode="feedback", chosen_by=self.chosen_by)

    def describe(self, dialect: Dialect = "elasticsearch") -> dict[str, Any]:
        """The request body (single leg), or ``{"bmb_es_fusion": ..., "searches": [bodies]}`` (fused modes).

        A single-leg body can be sent as it is; each of ``searches`` too, and scoring their hits as
        ``bmb_es_fusion`` says gives bmb-es's ranking.
        """
        bodies = [leg.to_body(dialect) for leg in self.legs]
        if self.fusion is None:
            return bodies[0]
        fusion: dict[str, Any] = {"mode": self.mode, **self.fusion.to_json(), "size": self.size}
        if self.chosen_by is not None:
            fusion["auto"] = self.chosen_by
        if self.feedback is not None:  # before it runs: the first pass; the second depends on its hits
            fusion["feedback"] = {**self.feedback.to_json(), "searches": "the first pass's; then mode hybrid"}
        return {"bmb_es_fusion": fusion, "searches": bodies}
