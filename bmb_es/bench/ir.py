"""``bmb-es bench ir``: retrieval quality through the real product path.

Every system runs on an :class:`~bmb_es.engines.EmbeddedEngine` in a temporary data folder, filled with
:func:`bmb_es.ingest` and queried with :class:`~bmb_es.query.SearchRequest` (what :func:`bmb_es.search`
sends). Each corpus is embedded once per model; each question is sent twice per model
(BM25 alone, and BM25 top-K re-ranked with K the largest ``--top-k``). Smaller k are prefixes of the BM25
candidates re-scored with the cosines the engine returned, exactly as the engine's rescorer does; a sample
of questions is re-run through :func:`bmb_es.search` for every k and weight to check the two agree.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._ingest import ingest
from .._search import search
from ..embedding import Embedder, load_embedder, model_name
from ..engines import EmbeddedEngine
from ..query import DEFAULT_FIELDS, DEFAULT_TOP_K, Mode, QuerySpec, Rerank, SearchRequest
from .datasets import IRDataset
from .debias import OVERLAP_MEASURES, DebiasPolicy, DebiasResult, OverlapMeasure, debias
from .metrics import Ranking, evaluate, fuse_rrf, mean_paper_mrr, significance

Progress = Callable[[str, int, int], None]  # (label, done, total)
WEIGHT_GRID: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
REPORTED: tuple[str, ...] = ("mrr@5", "mrr@10", "ndcg@10")
BASELINE = "BM25"
SHIPPED_MODES: tuple[Mode, ...] = ("auto", "rerank", "hybrid", "feedback")
PARITY_WARNING = 0.9  # top-10 overlap with bm25s below this means our BM25 is not standard BM25: say so loudly
ALL = "unfiltered"


@dataclass(slots=True)
class IRSettings:
    """What ``bench ir`` runs (every field is recorded in the results file)."""

    top_k: list[int] = field(default_factory=lambda: [20, 30, 40, 50])
    models: list[str] = field(default_factory=lambda: ["default"])
    measure: OverlapMeasure = "content-coverage"
    threshold: float = 0.30
    policy: DebiasPolicy = "pair"
    depth: int = 100
    folds: int = 2
    weight_grid: tuple[float, ...] = WEIGHT_GRID
    stat_test: str = "student"
    verify_sample: int = 5
    peers: bool = True
    max_queries: int | None = None
    max_docs: int | None = None
    batch_size: int | None = None  # None: the embedder's default, as bmb-es index uses
    fields: tuple[str, ...] | None = None  # None: each mode's own default (DEFAULT_FIELDS; PAPER_FIELDS for paper)
    index_dir: Path | None = None  # keep the indices here and reuse them (unchanged documents are not re-embedded)

    def to_json(self) -> dict[str, Any]:
        return {
            "top_k": self.top_k,
            "models": self.models,
            "debias": {"measure": self.measure, "threshold": self.threshold, "policy": self.policy},
            "bm25_depth": self.depth,
            "weighted_rerank": {
                "query_weight": 1.0,
                "rescore_weight_grid": list(self.weight_grid),
                "tuning": f"{self.folds}-fold cross-fitting on MRR@10: each question's weight is chosen on the other "
                "folds' questions of the same question set, never on itself",
            },
            "stat_test": self.stat_test,
            "verify_sample": self.verify_sample,
            "peers": self.peers,
            "max_queries": self.max_queries,
            "max_docs": self.max_docs,
            "batch_size": self.batch_size,
            "fields": list(self.fields) if self.fields else "each mode's default",
            "index_dir": str(self.index_dir) if self.index_dir else None,
        }


def model_label(model: str) -> str:
    name = model_name(model)
    return name.rstrip("/").rsplit("/", 1)[-1]


def index_name(dataset: str, model: str) -> str:
    """The kept index of ``dataset`` embedded by ``model`` (``--index-dir``): one per pair, found again by name."""
    digest = hashlib.sha1(f"{dataset}\0{model_name(model)}".encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() else "-" for c in dataset.lower())
    return f"bench-{safe}-{digest}"


def fold_of(qid: str, folds: int) -> int:
    return int(hashlib.sha1(qid.encode()).hexdigest(), 16) % folds


@dataclass(slots=True)
class Candidates:
    """BM25 top-K of one question with the engine's cosine for each (from the re-rank response)."""

    ids: list[str]
    bm25: list[float]
    cosine: list[float]


def rescore(candidates: Candidates, k: int, query_weight: float, rescore_weight: float) -> list[str]:
    """The engine's rescorer on the BM25 top-``k`` prefix (window = size = k, score_mode total)."""
    scored = [
        (query_weight * candidates.bm25[i] + rescore_weight * (candidates.cosine[i] + 1.0), i)
        for i in range(min(k, len(candidates.ids)))
    ]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [candidates.ids[i] for _, i in scored]


class _Index:
    """One dataset indexed with one model in a throwaway embedded engine."""

    def __init__(
        self, engine: EmbeddedEngine, name: str, embedder: Embedder, fields: tuple[str, ...] | None = None
    ) -> None:
        self.engine, self.name, self.embedder = engine, name, embedder
        self.requested_fields = fields  # None: every mode searches its own default fields
        self.fields = fields or DEFAULT_FIELDS

    def bm25(self, question: str, depth: int) -> tuple[list[str], list[float]]:
        request = SearchRequest.build(question, None, QuerySpec(size=depth, fields=self.fields, rerank=None))
        hits = self.engine.execute(self.name, request).hits
        return [hit.id for hit in hits], [hit.score for hit in hits]

    def rerank_candidates(
        self, question: str, vector: Sequence[float], k: int, bm25_order: Sequence[str]
    ) -> Candidates:
        """Cosines of the BM25 top-``k`` from the engine's re-rank response, in BM25 order (``bm25_order``).

        BM25 order comes from the BM25-only response: re-sorting the re-ranked hits by their BM25 score would
        scramble documents with equal BM25 scores, and the prefix for a smaller k would differ from the engine's.
        """
        spec = QuerySpec(size=k, fields=self.fields, rerank=Rerank(k, 0.0, 1.0))
        request = SearchRequest.build(question, vector, spec)
        hits = {hit.id: hit for hit in self.engine.execute(self.name, request).hits}
        ids = [doc for doc in bm25_order[:k] if doc in hits]
        if len(ids) != len(hits):
            raise RuntimeError(f"re-rank candidates differ from the BM25 top-{k} for {question!r}")
        return Candidates(
            ids,
            [float(hits[doc].bm25 or 0.0) for doc in ids],
            [_cosine_of(hits[doc].cosine) for doc in ids],
        )


def _cosine_of(value: float | None) -> float:
    return -1.0 if value is None else float(value)


def _tokenize(texts: Sequence[str]) -> list[list[str]]:
    from .._analysis import tantivy_analyzer

    analyzer = tantivy_analyzer()
    return [list(analyzer.analyze(text)) for text in texts]


def _peer_bm25(dataset: IRDataset, depth: int) -> tuple[Ranking, dict[str, dict[str, float]]]:
    """``bm25s`` (method lucene, k1 1.2, b 0.75) over the same analyzed tokens as the engine."""
    import bm25s

    texts = dataset.doc_text()
    ids = list(texts)
    model = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    model.index(_tokenize([texts[doc] for doc in ids]), show_progress=False)
    run: Ranking = {}
    scores: dict[str, dict[str, float]] = {}
    qids = list(dataset.queries)
    for qid, tokens in zip(qids, _tokenize([dataset.queries[q] for q in qids]), strict=True):
        known = [token for token in tokens if token in model.vocab_dict]
        values = model.get_scores(known) if known else np.zeros(len(ids))
        order = np.argsort(-values, kind="stable")[:depth]
        run[qid] = [ids[i] for i in order if values[i] > 0]
        scores[qid] = {ids[i]: float(values[i]) for i in range(len(ids)) if values[i] > 0}
    return run, scores


def _shipped(
    index: _Index, dataset: IRDataset, qids: Sequence[str], mode: Mode, depth: int, report: Progress
) -> Ranking:
    """``mode`` with every default as :func:`bmb_es.search` has it (one call per question, the product's path)."""
    size = min(depth, DEFAULT_TOP_K)
    run: Ranking = {}
    for i, qid in enumerate(qids):
        question = dataset.queries[qid]
        result = search(
            index.engine,
            index.name,
            question,
            mode=mode,
            size=size,
            embedder=index.embedder,
            fields=index.requested_fields,
        )
        run[qid] = [hit.id for hit in result.hits]
        if i % 25 == 0 or i == len(qids) - 1:
            report(f"{dataset.name}: {mode} as shipped", i + 1, len(qids))
    return run


def _verify(
    index: _Index,
    dataset: IRDataset,
    vectors: Mapping[str, np.ndarray],
    bm25_run: Ranking,
    candidates: Mapping[str, Candidates],
    settings: IRSettings,
    weights: Sequence[float],
) -> dict[str, Any]:
    """Re-run a sample through :func:`bmb_es.search` for every k and weight; count identical rankings."""
    sample = sorted(dataset.queries)[: settings.verify_sample]
    checks = identical = 0
    mismatches: list[str] = []
    for qid in sample:
        question = dataset.queries[qid]
        result = search(index.engine, index.name, question, rerank=False, size=10, embedder=index.embedder)
        checks += 1
        if [hit.id for hit in result.hits] == bm25_run[qid][:10]:
            identical += 1
        else:
            mismatches.append(f"{qid} BM25")
        for k in settings.top_k:
            for qw, rw in [(0.0, 1.0), *((1.0, w) for w in weights)]:
                result = search(
                    index.engine,
                    index.name,
                    question,
                    mode="paper",
                    fields=DEFAULT_FIELDS,  # the candidates of index.bm25 (the paper mode's own are boosted)
                    size=k,
                    top_k=k,
                    query_weight=qw,
                    rescore_query_weight=rw,
                    embedder=index.embedder,
                )
                checks += 1
                if [hit.id for hit in result.hits] == rescore(candidates[qid], k, qw, rw):
                    identical += 1
                else:
                    mismatches.append(f"{qid} k={k} qw={qw} rw={rw}")
    return {"checks": checks, "identical": identical, "mismatches": mismatches[:20]}


def _tune(
    qids: Sequence[str],
    qrels: Mapping[str, Mapping[str, int]],  # the question set's qrels
    candidates: Mapping[str, Candidates],
    k: int,
    settings: IRSettings,
    excluded: Mapping[str, frozenset[str]],
) -> tuple[Ranking, dict[int, float]]:
    """Cross-fitted weighted re-rank: fold f uses the weight that maximises MRR@10 on the other folds."""
    subset = {qid: qrels[qid] for qid in qids}
    per_weight: dict[float, dict[str, float]] = {}
    runs: dict[float, Ranking] = {}
    for weight in settings.weight_grid:
        runs[weight] = _condense({qid: rescore(candidates[qid], k, 1.0, weight) for qid in qids}, excluded)
        values = evaluate(runs[weight], subset, ["mrr@10"])["mrr@10"]
        per_weight[weight] = dict(zip(sorted(subset), values, strict=True))
    chosen: dict[int, float] = {}
    run: Ranking = {}
    for fold in range(settings.folds):
        train = [qid for qid in qids if fold_of(qid, settings.folds) != fold]
        best = max(
            settings.weight_grid,
            key=lambda w: (float(np.mean([per_weight[w][q] for q in train])) if train else 0.0, -abs(np.log(w))),
        )
        chosen[fold] = best
        for qid in qids:
            if fold_of(qid, settings.folds) == fold:
                run[qid] = runs[best][qid]
    return run, chosen


def _condense(run: Ranking, excluded: Mapping[str, frozenset[str]]) -> Ranking:
    return {qid: [doc for doc in ranked if doc not in excluded.get(qid, frozenset())] for qid, ranked in run.items()}


def _score_set(
    label: str,
    qids: Sequence[str],
    set_qrels: Mapping[str, Mapping[str, int]],
    systems: Mapping[str, Ranking],
    excluded: Mapping[str, frozenset[str]],
    settings: IRSettings,
    recall_systems: Sequence[str],
) -> dict[str, Any]:
    qrels = {qid: set_qrels[qid] for qid in sorted(qids)}
    rows: dict[str, Any] = {}
    per_query: dict[str, dict[str, list[float]]] = {}
    condensed = {name: _condense({qid: run.get(qid, []) for qid in qrels}, excluded) for name, run in systems.items()}
    # Every system's recall at 10, 100 and each k: the ceiling a re-rank of its top k can reach.
    recall_metrics = [f"recall@{k}" for k in sorted({10, 100, *settings.top_k})]
    for name, run in condensed.items():
        metrics = list(REPORTED) + recall_metrics
        values = evaluate(run, qrels, metrics) if qrels else {metric: [] for metric in metrics}
        paper_mean, paper_values = mean_paper_mrr(run, qrels, 10)
        values["paper_mrr@10"] = paper_values
        per_query[name] = values
        rows[name] = {metric: float(np.mean(v)) if v else 0.0 for metric, v in values.items()}
        rows[name]["paper_mrr@10"] = paper_mean
    others = {name: run for name, run in condensed.items() if name != BASELINE}
    if BASELINE in condensed and len(qrels) > 1:
        p_values = significance(qrels, condensed[BASELINE], others, "mrr@10", settings.stat_test)
        for name, p in p_values.items():
            rows[name]["p_mrr@10_vs_bm25"] = p
    return {"label": label, "queries": len(qrels), "qids": list(qrels), "systems": rows, "per_query": per_query}


def run_dataset(dataset: IRDataset, settings: IRSettings, progress: Progress | None = None) -> dict[str, Any]:
    """Index ``dataset`` once per model, run every system, score every question set."""
    report = progress or (lambda label, done, total: None)
    max_k = max(settings.top_k)
    depth = max(settings.depth, max_k)
    qids = sorted(dataset.queries)
    relevant, texts = dataset.relevant(), dataset.doc_text()
    filters: list[DebiasResult] = [
        debias(dataset.queries, relevant, texts, measure, settings.threshold, settings.policy)
        for measure in OVERLAP_MEASURES
    ]
    systems: dict[str, Ranking] = {}
    all_candidates: dict[str, dict[str, Candidates]] = {}
    recall_systems: list[str] = [BASELINE]
    out: dict[str, Any] = {
        "dataset": dataset.summary(),
        "debias": [item.to_json() for item in filters],
        "ingest": {},
        "verification": {},
        "weights": {},
        "timings_s": {},
    }
    keep = settings.index_dir
    with nullcontext(str(keep)) if keep else tempfile.TemporaryDirectory(prefix="bmb-bench-") as tmp:
        engine = EmbeddedEngine(tmp)
        bm25_run: Ranking = {}
        bm25_scores: dict[str, dict[str, float]] = {}
        labels: set[str] = set()
        for m, model in enumerate(settings.models):
            label = model_label(model)
            if label in labels:  # two folders with the same last name: keep both systems apart
                label = f"{label}#{m + 1}"
            labels.add(label)
            embedder = load_embedder(model)
            name = index_name(dataset.name, model) if keep else f"bench-{m}"
            started = time.perf_counter()
            total = len(dataset.documents)

            def on_progress(summary: Any, label: str = label, total: int = total) -> None:
                report(f"{dataset.name}: embed+index ({label})", summary.read, total)

            summary = ingest(
                dataset.documents, engine, name, embedder, batch_size=settings.batch_size, on_progress=on_progress
            )
            out["ingest"][label] = summary.to_json()
            index = _Index(engine, name, embedder, settings.fields)
            if m == 0:
                started = time.perf_counter()
                for i, qid in enumerate(qids):
                    ids, scores = index.bm25(dataset.queries[qid], depth)
                    bm25_run[qid] = ids
                    bm25_scores[qid] = dict(zip(ids, scores, strict=True))
                    if i % 25 == 0 or i == len(qids) - 1:
                        report(f"{dataset.name}: BM25", i + 1, len(qids))
                out["timings_s"]["bm25_queries"] = round(time.perf_counter() - started, 3)
                systems[BASELINE] = bm25_run
            started = time.perf_counter()
            matrix = embedder.embed([dataset.queries[qid] for qid in qids], batch_size=settings.batch_size)
            vectors = dict(zip(qids, matrix, strict=True))
            candidates: dict[str, Candidates] = {}
            for i, qid in enumerate(qids):
                candidates[qid] = index.rerank_candidates(
                    dataset.queries[qid], vectors[qid].tolist(), max_k, bm25_run[qid]
                )
                if i % 25 == 0 or i == len(qids) - 1:
                    report(f"{dataset.name}: re-rank ({label})", i + 1, len(qids))
            out["timings_s"][f"rerank_queries[{label}]"] = round(time.perf_counter() - started, 3)
            started = time.perf_counter()
            for mode in SHIPPED_MODES:  # the product as shipped: fixed weight and depth, nothing tuned here
                systems[f"{label}: {mode} (as shipped)"] = _shipped(index, dataset, qids, mode, depth, report)
            out["timings_s"][f"shipped_modes[{label}]"] = round(time.perf_counter() - started, 3)
            for k in settings.top_k:
                systems[f"BM25@{k} + {label} (pure)"] = {qid: rescore(candidates[qid], k, 0.0, 1.0) for qid in qids}
            if settings.peers:
                stored = engine.get(name, [doc.id for doc in dataset.documents])
                doc_ids = list(stored)
                doc_matrix = np.stack([stored[doc].vector for doc in doc_ids])
                dense: Ranking = {}
                for start in range(0, len(qids), 256):
                    block = matrix[start : start + 256] @ doc_matrix.T
                    for row, qid in zip(block, qids[start : start + 256], strict=True):
                        order = np.argsort(-row, kind="stable")[:depth]
                        dense[qid] = [doc_ids[i] for i in order]
                systems[f"dense {label} (exact cosine)"] = dense
                systems[f"RRF(BM25, dense {label})"] = fuse_rrf([bm25_run, dense], dataset.qrels, depth)
                recall_systems.append(f"dense {label} (exact cosine)")
            all_candidates[label] = candidates
            out["verification"][label] = _verify(index, dataset, vectors, bm25_run, candidates, settings, (1.0, 8.0))
        if settings.peers:
            report(f"{dataset.name}: bm25s peer", 0, 1)
            peer_run, peer_scores = _peer_bm25(dataset, depth)
            systems["BM25 peer (bm25s, lucene)"] = peer_run
            recall_systems.append("BM25 peer (bm25s, lucene)")
            out["parity"] = _parity(bm25_run, bm25_scores, peer_run, peer_scores)
        engine.close()
    question_sets: list[tuple[str, list[str], Mapping[str, frozenset[str]], bool]] = [(ALL, qids, {}, False)]
    for item in filters:
        question_sets.append((item.label, sorted(item.kept), item.excluded, settings.policy == "condensed"))
    for policy in ("pair", "condensed", "question"):
        if policy != settings.policy:  # the primary measure under the other policies, for comparison
            other = debias(dataset.queries, relevant, texts, settings.measure, settings.threshold, policy)
            out["debias_other_policies"] = [*out.get("debias_other_policies", []), other.to_json()]
            question_sets.append(
                (f"{other.label} [{policy}]", sorted(other.kept), other.excluded, policy == "condensed")
            )
    out["sets"] = {}
    for label, kept, excluded, condense in question_sets:
        # Relevant = the pairs that passed the filter; the question's other contexts count as non-relevant
        # (policy pair, the paper's literal pairs) or are dropped from its rankings (policy condensed).
        set_qrels = {
            qid: {doc: g for doc, g in dataset.qrels[qid].items() if doc not in excluded.get(qid, frozenset())}
            for qid in kept
        }
        dropped = excluded if condense else {}
        set_systems = {name: {qid: run[qid] for qid in kept if qid in run} for name, run in systems.items()}
        for model_key, candidates in all_candidates.items():
            for k in settings.top_k:
                run, chosen = _tune(kept, set_qrels, candidates, k, settings, dropped)
                set_systems[f"BM25@{k} + {model_key} (weighted)"] = run
                out["weights"].setdefault(label, {})[f"{model_key}@{k}"] = {str(f): w for f, w in chosen.items()}
        out["sets"][label] = _score_set(
            label, kept, set_qrels, _ordered(set_systems), dropped, settings, recall_systems
        )
    out["primary_set"] = f"{settings.measure}<={settings.threshold:g}"
    return out


def _ordered(systems: Mapping[str, Ranking]) -> dict[str, Ranking]:
    """Table order: BM25, peers, then per model re-rank pure and weighted by k, dense, fusion."""

    def key(name: str) -> tuple[int, str, int]:
        rank = 0 if name == BASELINE else 1 if name.startswith("BM25 peer") else 4 if name.startswith("dense") else 5
        if name.startswith("BM25@"):
            head, _, rest = name.partition(" + ")
            return (2 if "(pure)" in rest else 3, rest, int(head[5:]))
        return (rank, name, 0)

    return {name: systems[name] for name in sorted(systems, key=key)}


def _parity(
    ours: Ranking,
    our_scores: Mapping[str, Mapping[str, float]],
    peer: Ranking,
    peer_scores: Mapping[str, Mapping[str, float]],
) -> dict[str, Any]:
    """How close the engine's BM25 is to bm25s: top-10 overlap and Kendall tau of scores over our top-50."""
    from scipy.stats import kendalltau

    taus: list[float] = []
    overlaps: list[float] = []
    for qid, ranked in ours.items():
        top = ranked[:50]
        if len(top) >= 3:
            ours_values = [our_scores[qid][doc] for doc in top]
            peer_values = [peer_scores.get(qid, {}).get(doc, 0.0) for doc in top]
            tau = kendalltau(ours_values, peer_values).statistic
            if tau == tau:  # NaN when one side is constant
                taus.append(float(tau))
        if ranked:
            overlaps.append(len(set(ranked[:10]) & set(peer.get(qid, [])[:10])) / min(10, len(ranked)))
    overlap = float(np.mean(overlaps)) if overlaps else None
    warning = None
    if overlap is not None and overlap < PARITY_WARNING:
        warning = (
            f"BM25 PARITY DROP: top-10 overlap with bm25s is {overlap:.2f} (< {PARITY_WARNING}); the first stage is "
            "not standard BM25 here (field boosts, best_fields over split fields): read the BM25 figures with care"
        )
    return {
        "warning": warning,
        "kendall_tau_scores_top50_mean": float(np.mean(taus)) if taus else None,
        "kendall_tau_queries": len(taus),
        "top10_overlap_mean": overlap,
        "peer": "bm25s (method=lucene, k1=1.2, b=0.75) over the engine's own analyzer tokens (bmb_english)",
    }


def run_ir(
    datasets: Sequence[IRDataset], settings: IRSettings, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Run every dataset (optionally sub-sampled per ``settings``)."""
    results = []
    for dataset in datasets:
        if settings.max_queries is not None or settings.max_docs is not None:
            dataset = dataset.subsample(settings.max_queries, settings.max_docs)
        results.append(run_dataset(dataset, settings, progress))
    return results
