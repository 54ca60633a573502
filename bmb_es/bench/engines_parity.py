"""Embedded engine vs real nodes: the same corpus, vectors and questions, searched through ``bmb_es.search``.

The corpus is embedded once and the same vectors are written to every engine, so only the engines differ:
BM25 scoring and analysis for the first stage, and where each shard cuts its re-rank window. For each engine
the report gives BM25 top-10 overlap and Kendall tau against the embedded engine, and MRR@10 of BM25 and of
the paper's re-rank (top-k BM25 re-ranked by cosine).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._search import search
from ..embedding import Embedder
from ..embedding._base import embed_text
from ..engines._base import Engine, IndexedDocument, IndexMeta
from .datasets import IRDataset
from .metrics import Ranking

Scores = dict[str, dict[str, float]]


@dataclass(frozen=True, slots=True)
class Target:
    """One engine to compare: ``create`` makes the index on it (shipped mapping, or a variant)."""

    label: str
    engine: Engine
    version: str
    shards: int
    create: Callable[[str, IndexMeta], None]


def embed_corpus(dataset: IRDataset, embedder: Embedder, cache: Path | None = None) -> list[IndexedDocument]:
    """Every document with its vector, embedded once for all engines (and kept in ``cache``, a ``.npy`` file)."""
    if cache is not None and cache.is_file():
        vectors = np.load(cache)
        if vectors.shape != (len(dataset.documents), embedder.dimension):
            raise ValueError(f"{cache}: vectors of shape {vectors.shape}, not for this corpus and model; delete it")
    else:
        vectors = embedder.embed([embed_text(document) for document in dataset.documents])
        if cache is not None:
            np.save(cache, vectors)
    return [
        IndexedDocument(document, document.content_hash(), np.asarray(vector, dtype=np.float32))
        for document, vector in zip(dataset.documents, vectors, strict=True)
    ]


def load(target: Target, index: str, meta: IndexMeta, documents: Sequence[IndexedDocument]) -> float:
    """Create ``index`` on ``target`` and write ``documents``; returns the seconds taken."""
    started = time.perf_counter()
    target.create(index, meta)
    for start in range(0, len(documents), 500):
        target.engine.upsert(index, documents[start : start + 500])
    target.engine.commit(index)
    count = target.engine.count(index)
    if count != len(documents):
        raise RuntimeError(f"{target.label}: {count} documents stored, {len(documents)} written")
    return time.perf_counter() - started


def run_engine(
    target: Target,
    index: str,
    dataset: IRDataset,
    embedder: Embedder,
    top_k: int,
    depth: int,
    rerank: bool = True,
) -> dict[str, Any]:
    """BM25 (top ``depth``, scores kept) and, with ``rerank``, re-rank (top 10) runs of every question."""
    bm25: Ranking = {}
    bm25_scores: Scores = {}
    reranked_run: Ranking = {}
    for qid, question in dataset.queries.items():
        result = search(target.engine, index, question, rerank=False, size=depth)
        bm25[qid] = [hit.id for hit in result.hits]
        bm25_scores[qid] = {hit.id: hit.score for hit in result.hits}
        if rerank:
            reranked = search(target.engine, index, question, rerank=True, size=10, top_k=top_k, embedder=embedder)
            reranked_run[qid] = [hit.id for hit in reranked.hits]
    return {"bm25": bm25, "bm25_scores": bm25_scores, "rerank": reranked_run}


def agreement(ours: Ranking, our_scores: Scores, theirs: Ranking, their_scores: Scores) -> dict[str, Any]:
    """Top-10 overlap, exact top-10 order matches, and Kendall tau of BM25 scores over ``ours``' top 50."""
    from scipy.stats import kendalltau

    overlaps: list[float] = []
    same_order = 0
    taus: list[float] = []
    for qid, ranked in ours.items():
        other = theirs.get(qid, [])
        if ranked:
            overlaps.append(len(set(ranked[:10]) & set(other[:10])) / min(10, len(ranked)))
        same_order += ranked[:10] == other[:10]
        top = ranked[:50]
        if our_scores and len(top) >= 3:
            tau = kendalltau(
                [our_scores[qid][doc] for doc in top], [their_scores.get(qid, {}).get(doc, 0.0) for doc in top]
            ).statistic
            if tau == tau:  # NaN when one side is constant
                taus.append(float(tau))
    return {
        "top10_overlap_mean": float(np.mean(overlaps)) if overlaps else None,
        "top10_identical_fraction": same_order / len(ours) if ours else None,
        "kendall_tau_top50_mean": float(np.mean(taus)) if taus else None,
        "questions": len(ours),
    }


def score_ratio(ours: Scores, theirs: Scores) -> float | None:
    """Median ratio of the node's BM25 score to ours for documents both return first: a scale check."""
    ratios = [
        theirs[qid][doc] / score
        for qid, scores in ours.items()
        for doc, score in list(scores.items())[:1]
        if score > 0 and doc in theirs.get(qid, {})
    ]
    return float(np.median(ratios)) if ratios else None
