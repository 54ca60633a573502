"""Metrics: ranx for the standard ones, significance tests and fusion; the paper's MRR variant by hand.

Runs are ``{query id: [doc ids, best first]}``: the order the product returned, never re-sorted by score
(ties keep the engine's order). For ranx they become descending pseudo-scores.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

Ranking = dict[str, list[str]]
QrelsMap = Mapping[str, Mapping[str, int]]

STANDARD_METRICS: tuple[str, ...] = ("mrr@5", "mrr@10", "ndcg@10")


@contextmanager
def quiet_numba() -> Iterator[None]:
    """ranx's numba kernels warn about an int cast on every call; the values are unaffected. Wrap ranx calls in it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unsafe cast.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="numba.*")
        yield


def paper_mrr(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """The BioMedBERT paper's MRR variant for one query: ``sum(1 / rank)`` over *every* relevant doc in the top ``k``.

    Standard MRR counts only the first relevant document; with several relevant contexts per question this
    variant can exceed 1. It is reported separately and never mixed with standard MRR.
    """
    return sum((1.0 / rank for rank, doc in enumerate(ranked[:k], start=1) if relevant.get(doc, 0) > 0), 0.0)


def mean_paper_mrr(run: Ranking, qrels: QrelsMap, k: int) -> tuple[float, list[float]]:
    per_query = [paper_mrr(run.get(qid, []), qrels[qid], k) for qid in sorted(qrels)]
    return (float(np.mean(per_query)) if per_query else 0.0), per_query


def _ranx_qrels(qrels: QrelsMap) -> Any:
    from ranx import Qrels

    return Qrels({qid: {doc: int(grade) for doc, grade in docs.items() if grade > 0} for qid, docs in qrels.items()})


def _ranx_run(run: Ranking, qrels: QrelsMap, name: str) -> Any:
    from ranx import Run

    data: dict[str, dict[str, float]] = {}
    for qid in qrels:
        ranked = run.get(qid, [])
        # A query with no hits still counts (as zero); ranx needs a non-empty entry.
        data[qid] = {doc: float(len(ranked) - position) for position, doc in enumerate(ranked)} or {"__none__": 0.0}
    return Run(data, name=name)


def evaluate(run: Ranking, qrels: QrelsMap, metrics: Sequence[str]) -> dict[str, list[float]]:
    """Per-query values of ranx ``metrics`` (query order: sorted ids)."""
    from ranx import evaluate as ranx_evaluate

    ordered = {qid: qrels[qid] for qid in sorted(qrels)}
    if not ordered:
        return {metric: [] for metric in metrics}
    with quiet_numba():
        scores = ranx_evaluate(_ranx_qrels(ordered), _ranx_run(run, ordered, "run"), list(metrics), return_mean=False)
    if len(metrics) == 1:
        scores = {metrics[0]: scores}
    return {metric: [float(value) for value in scores[metric]] for metric in metrics}


def mean_mrr(run: Ranking, relevant: Mapping[str, Iterable[str]], k: int = 10) -> float:
    """Standard MRR@``k`` (ranx): the mean over the queries of ``relevant`` of 1/rank of the first relevant doc.

    The one MRR of the project: the IR bench, the encoder-quality check, the engines parity bench and the
    trainer's dev metric all call this. A query without hits, or without a relevant doc in the top ``k``,
    counts 0.
    """
    if not relevant:
        return 0.0
    qrels = {qid: dict.fromkeys(docs, 1) for qid, docs in relevant.items()}
    return float(np.mean(evaluate(run, qrels, [f"mrr@{k}"])[f"mrr@{k}"]))


def significance(
    qrels: QrelsMap, baseline: Ranking, systems: Mapping[str, Ranking], metric: str, test: str = "student"
) -> dict[str, float]:
    """Two-sided p-values of ``metric`` differences between ``baseline`` and each system (ranx ``compare``).

    ``test``: ``student`` (paired t-test), ``fisher`` (randomization) or ``wilcoxon``.
    """
    from ranx import compare

    if not systems:
        return {}
    runs = [_ranx_run(baseline, qrels, "__baseline__")] + [_ranx_run(run, qrels, name) for name, run in systems.items()]
    with quiet_numba(), warnings.catch_warnings():
        # Identical per-query scores make the test statistic undefined: scipy warns and the p-value is NaN ("—").
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        report = compare(_ranx_qrels(qrels), runs, [metric], stat_test=test, max_p=0.05)
    table = report.to_dict()
    return {name: float(table["__baseline__"]["comparisons"][name][metric]) for name in systems}


def fuse_rrf(runs: Sequence[Ranking], qrels: QrelsMap, depth: int = 100) -> Ranking:
    """Reciprocal-rank fusion of ``runs`` (ranx ``fuse``), truncated to ``depth``."""
    from ranx import fuse

    with quiet_numba():
        fused = fuse([_ranx_run(run, qrels, f"r{i}") for i, run in enumerate(runs)], method="rrf")
    out: Ranking = {}
    for qid, scores in fused.to_dict().items():
        ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        out[qid] = [doc for doc, _ in ordered if doc != "__none__"][:depth]
    return out
