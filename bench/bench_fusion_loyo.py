"""Choose the default fusion by leave-one-year-out over BioASQ 4B-7B on two corpora: abstracts and snippets.

    python bench/bench_fusion_loyo.py [--data ../shared/data/bioasq] [--model default] [--out DIR]

Two question sets, each indexed once in an embedded engine through the product (``bmb_es._ingest.ingest``):

* **docs**: golden questions (every type) -> their PubMed abstracts among the 2,753 of bioasq/pubmed, each
  abstract's first sentence split off as its title (as in ``bench_rerank_defaults.py``);
* **snippets**: golden questions (every type) -> their golden snippets, every unique snippet a passage.

For every question the BM25 leg (the product's ``best_fields`` over title, abstract, body) and exact cosines over
the whole corpus give every candidate setting's ranking: BM25, dense, the paper's re-rank, ``rerank`` (BM25 top
``k`` scored ``w * minmax(bm25) + (1 - w) * cosine``), ``hybrid`` (the same over BM25 top ``k`` and dense top
``k``), RRF, ``feedback`` (``rerank`` first, then ``hybrid`` with the question's vector moved towards its top
``m`` documents by weight ``b``; at the shipped ``w`` and ``k``) and ``rerank+feedback`` (the same moved vector,
but only the BM25 top ``k`` re-scored with it: feedback with no kNN leg). For each held-out year the setting with
the best mean MRR@10 over the other three years (the two sets weighted equally) is scored on the held-out year of
each set, with its low-coverage subset (questions sharing <= 30 % of content words with every relevant text). The frozen
choice is the setting picked on all four years, in four families: every setting; no kNN leg (the ``rerank`` mode's
family, ``rerank+feedback`` included); feedback settings (the ``feedback`` mode's ``m`` and ``b``); ``auto`` (the
default mode's: ``feedback`` at ``m`` and ``b`` for a question of at most ``t`` content words, the shipped
``rerank`` for any other).

Two more families are explored, picked within themselves and never among the others, to show where the trade-off
between few and many relevant texts lies: ``mixed feedback`` (``feedback``'s candidates scored with the mean of
the question's and the moved vector's cosines, so the moved vector drifts less) and ``adaptive`` (``rerank`` or
``hybrid`` whose BM25 weight drops from the shipped ``w`` to ``wl`` when BM25's top hit holds under ``t`` of the
question's content words, so dense leads where BM25 barely matches).

With ``--nfcorpus DIR`` (default: ``../shared/data/nfcorpus`` when present) every setting is also scored on
NFCorpus test and dev (nDCG@10), columns that are reported and never used to pick.

The product's own ``bmb_es.search`` is run for the shipped ``auto``, ``rerank``, ``hybrid`` and ``feedback`` modes
on every question to check that the simulated settings are what the product does (rankings compared, not assumed).
Results: ``<out>/fusion-loyo-<time>.json|md``.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import bmb_es
from bmb_es import Document, EmbeddedEngine
from bmb_es._ingest import ingest
from bmb_es.bench.datasets import IRDataset, load_bioasq_golden_docs, load_bioasq_snippets, load_nfcorpus
from bmb_es.bench.debias import content_coverage
from bmb_es.bench.metrics import Ranking
from bmb_es.bench.report import envelope, machine_line, md_table, write_results
from bmb_es.embedding import load_embedder
from bmb_es.query import (
    DEFAULT_BM25_WEIGHT,
    DEFAULT_FIELDS,
    DEFAULT_TOP_K,
    FEEDBACK_DOCUMENTS,
    FEEDBACK_WEIGHT,
    KEYWORD_SEARCH_WORDS,
    Feedback,
    FieldBoost,
    Mode,
    SearchRequest,
    content_words,
    is_keyword_search,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: the sibling bench module's helpers are shared, not copied
from bench.bench_rerank_defaults import (  # noqa: E402
    LOW_COVERAGE,
    bioasq_arguments,
    minmax,
    per_query,
    question_years,
    rrf,
    split_title,
)

DEPTH = 100
TOP_KS = (20, 50, 100)
WEIGHTS = tuple(round(0.1 * step, 1) for step in range(0, 11))
FEEDBACK_DOCS = (3, 5, 10)
FEEDBACK_WEIGHTS = (0.5, 1.0, 2.0)
ADAPTIVE_COVERAGES = (0.4, 0.6, 0.8)  # t: the BM25 top hit's share of the question's content words
ADAPTIVE_WEIGHTS = (0.0, 0.1, 0.2)  # wl: the BM25 weight below t
AUTO_WORDS = (1, 2, 3)  # t: a question of at most t content words gets feedback, any other rerank (auto family)
EXPLORED = ("mixed feedback", "adaptive")  # setting-name prefixes of the explored families: never a default
KNN_LEGGED = ("hybrid", "RRF(BM25, dense)", "feedback", "auto ")  # setting-name prefixes of settings with kNN
TYPES = ("factoid", "list", "yesno", "summary")
SHIPPED: dict[Mode, str] = {
    "auto": f"auto t={KEYWORD_SEARCH_WORDS} m={FEEDBACK_DOCUMENTS} b={FEEDBACK_WEIGHT}",
    "rerank": f"rerank w={DEFAULT_BM25_WEIGHT} @{DEFAULT_TOP_K}",
    "hybrid": f"hybrid w={DEFAULT_BM25_WEIGHT} @{DEFAULT_TOP_K}",
    "feedback": f"feedback m={FEEDBACK_DOCUMENTS} b={FEEDBACK_WEIGHT}",
}


@dataclass
class QuestionSet:
    """One corpus with its questions, each question's year and the low-coverage subset."""

    name: str
    dataset: IRDataset
    documents: list[Document]
    years: dict[str, str]
    low: set[str]


def settings_of(
    bm25: Sequence[str], scores: np.ndarray, cosine: Mapping[str, float], dense: Sequence[str]
) -> dict[str, list[str]]:
    """Every candidate setting's ranking of one question (ids best first)."""
    out: dict[str, list[str]] = {"BM25": list(bm25[:DEPTH]), "dense": list(dense[:DEPTH])}
    out["RRF(BM25, dense) @100"] = rrf(bm25[:DEPTH], dense[:DEPTH])[:DEPTH]
    for k in TOP_KS:
        top = list(bm25[:k])
        normed = minmax(scores[:k])
        top_cos = np.asarray([cosine[doc] for doc in top])
        out[f"paper @{k}"] = [top[i] for i in np.argsort(-top_cos, kind="stable")] + list(bm25[k:DEPTH])
        pool = list(dict.fromkeys(top + list(dense[:k])))
        bm25_of = dict(zip(top, normed, strict=True))
        pool_bm25 = np.asarray([bm25_of.get(doc, 0.0) for doc in pool])
        pool_cos = np.asarray([cosine[doc] for doc in pool])
        for w in WEIGHTS:
            mixed = w * normed + (1 - w) * top_cos
            out[f"rerank w={w} @{k}"] = [top[i] for i in np.argsort(-mixed, kind="stable")] + list(bm25[k:DEPTH])
            fused = w * pool_bm25 + (1 - w) * pool_cos
            out[f"hybrid w={w} @{k}"] = [pool[i] for i in np.argsort(-fused, kind="stable")][:DEPTH]
    return out


@dataclass(frozen=True)
class Corpus:
    """The indexed texts' ids, their unit-length stored vectors (rows in id order) and each id's row."""

    ids: list[str]
    unit: np.ndarray
    position: dict[str, int]

    def nearest(self, cosines: np.ndarray, k: int) -> list[str]:
        """The ids of the ``k`` largest ``cosines`` (exact kNN; row order), best first."""
        return [self.ids[i] for i in np.argsort(-cosines, kind="stable")[:k]]

    def moved(self, run: FirstPass, m: int, b: float) -> np.ndarray:
        """Every text's cosine with the question's vector moved towards its first pass's top ``m`` texts (weight
        ``b``), in row order."""
        moved = Feedback(m, b).vector(run.vector, [self.unit[self.position[doc]] for doc in run.first[:m]])
        return self.unit @ moved.astype(np.float32)


@dataclass(frozen=True)
class FirstPass:
    """One question's BM25 run (ids and scores, best first), the shipped ``rerank`` ranking, the question's vector
    and its cosine with every text (row order)."""

    bm25: list[str]
    scores: np.ndarray
    first: list[str]
    vector: np.ndarray
    cosines: np.ndarray

    @property
    def top(self) -> list[str]:
        """BM25's top ``k`` at the shipped ``k``."""
        return self.bm25[:DEFAULT_TOP_K]

    @property
    def normed(self) -> dict[str, float]:
        """The BM25 part of the fusion for each of ``top`` (min-max over the top ``k``)."""
        return dict(zip(self.top, minmax(self.scores[:DEFAULT_TOP_K]), strict=True))


def ranked(pool: Sequence[str], scores: Sequence[float]) -> list[str]:
    """``pool`` ordered by ``scores``, best first (ties keep the pool's order)."""
    return [pool[i] for i in np.argsort(-np.asarray(scores), kind="stable")]


def feedback_settings(run: FirstPass, corpus: Corpus) -> dict[str, list[str]]:
    """For every ``m`` and ``b`` at the shipped ``w`` and ``k``: the ``feedback`` mode's ranking, ``rerank+feedback``
    (the moved vector re-scores only BM25's top ``k``) and the explored ``mixed feedback``."""
    w, top, normed, at, asked = DEFAULT_BM25_WEIGHT, run.top, run.normed, corpus.position, run.cosines
    out: dict[str, list[str]] = {}
    for m in FEEDBACK_DOCS:
        for b in FEEDBACK_WEIGHTS:
            moved = corpus.moved(run, m, b)
            pool = list(dict.fromkeys(top + corpus.nearest(moved, DEFAULT_TOP_K)))
            fused = [w * normed.get(doc, 0.0) + (1 - w) * moved[at[doc]] for doc in pool]
            out[f"feedback m={m} b={b}"] = ranked(pool, fused)[:DEPTH]
            rescored = [w * normed[doc] + (1 - w) * moved[at[doc]] for doc in top]
            out[f"rerank+feedback m={m} b={b}"] = ranked(top, rescored)
            mixed = [w * normed.get(doc, 0.0) + (1 - w) * (asked[at[doc]] + moved[at[doc]]) / 2 for doc in pool]
            out[f"mixed feedback m={m} b={b}"] = ranked(pool, mixed)[:DEPTH]
    return out


def adaptive_settings(run: FirstPass, corpus: Corpus, top_coverage: float) -> dict[str, list[str]]:
    """The explored ``adaptive`` family (module docstring), at the shipped ``w`` and ``k``.

    ``top_coverage`` is the share of the question's content words found in BM25's top hit.
    """
    top, normed, at, asked = run.top, run.normed, corpus.position, run.cosines
    out: dict[str, list[str]] = {}
    hybrid = list(dict.fromkeys(top + corpus.nearest(asked, DEFAULT_TOP_K)))
    for kind, pool in (("rerank", top), ("hybrid", hybrid)):
        for t in ADAPTIVE_COVERAGES:
            for low in ADAPTIVE_WEIGHTS:
                w = low if top_coverage < t else DEFAULT_BM25_WEIGHT
                fused = [w * normed.get(doc, 0.0) + (1 - w) * asked[at[doc]] for doc in pool]
                out[f"adaptive {kind} t={t} wl={low}"] = (ranked(pool, fused) + run.bm25[DEFAULT_TOP_K:])[:DEPTH]
    return out


def auto_settings(rankings: Mapping[str, list[str]], content_count: int) -> dict[str, list[str]]:
    """The ``auto`` family: a question of at most ``t`` content words (``content_count``) is ranked by ``feedback``
    (every ``m`` and ``b``), any other by the shipped ``rerank``."""
    out: dict[str, list[str]] = {}
    for t in AUTO_WORDS:
        for m in FEEDBACK_DOCS:
            for b in FEEDBACK_WEIGHTS:
                chosen = f"feedback m={m} b={b}" if content_count <= t else SHIPPED["rerank"]
                out[f"auto t={t} m={m} b={b}"] = rankings[chosen]
    return out


def question_settings(
    corpus: Corpus,
    bm25: list[str],
    scores: np.ndarray,
    vector: np.ndarray,
    cosines: np.ndarray,
    top_coverage: float,
    content_count: int,
) -> dict[str, list[str]]:
    """Every setting's ranking of one question: its BM25 run, its vector and that vector's cosine with every text."""
    dense = corpus.nearest(cosines, DEPTH)
    cosine = {doc: float(cosines[corpus.position[doc]]) for doc in (*bm25, *dense)}
    rankings = settings_of(bm25, scores, cosine, dense)
    run = FirstPass(bm25, scores, rankings[SHIPPED["rerank"]], vector, cosines)
    rankings.update(feedback_settings(run, corpus))
    rankings.update(adaptive_settings(run, corpus, top_coverage))
    rankings.update(auto_settings(rankings, content_count))
    return rankings


KEYWORD_HEAD = [
    "set",
    "questions",
    "keyword searches",
    "their rerank",
    "their feedback",
    "others' rerank",
    "others' feedback",
]


def keyword_row(name: str, queries: Mapping[str, str], scores: Mapping[str, Mapping[str, float]]) -> list[object]:
    """One set's split by ``auto``'s rule: its questions, how many are keyword searches, and the shipped ``rerank``
    and ``feedback`` on those and on the others (``scores``: setting -> qid -> the set's measure)."""
    keyword = {qid for qid, text in queries.items() if is_keyword_search(text)}
    row: list[object] = [name, len(queries), len(keyword)]
    for part in (keyword, set(queries) - keyword):
        for mode in ("rerank", "feedback"):
            column = scores[SHIPPED[mode]]
            row.append(float(np.mean([column[q] for q in part])) if part else float("nan"))
    return row


def product_check(runs: Mapping[str, Ranking], product: Mapping[str, Ranking], seconds: float) -> dict[str, float]:
    """Per shipped mode, the share of questions whose ``bmb_es.search`` top 10 is the simulated setting's; and the
    product's seconds."""
    out = {
        mode: float(np.mean([product[mode][q] == runs[SHIPPED[mode]][q][:10] for q in product[mode]]))
        for mode in SHIPPED
    }
    return out | {"seconds": seconds}


def load_sets(root: Path) -> list[QuestionSet]:
    years = question_years(root)
    docs = load_bioasq_golden_docs(root)
    titled = []
    for doc in docs.documents:
        title, abstract = split_title(doc.abstract)
        titled.append(Document(id=doc.id, title=title, abstract=abstract, pmid=doc.pmid, source="pubmed"))
    snippets = load_bioasq_snippets(root, TYPES)
    out = []
    for name, dataset, documents in (("docs", docs, titled), ("snippets", snippets, snippets.documents)):
        texts = {doc.id: doc.abstract for doc in dataset.documents}
        low = {
            qid
            for qid, relevant in dataset.qrels.items()
            if max(content_coverage(dataset.queries[qid], texts[doc]) for doc in relevant) <= LOW_COVERAGE
        }
        out.append(QuestionSet(name, dataset, documents, {q: years[q] for q in dataset.queries}, low))
    return out


def rank_set(
    engine: EmbeddedEngine, qset: QuestionSet, embedder: bmb_es.Embedder
) -> tuple[dict[str, Ranking], dict[str, Ranking], float]:
    """Simulated settings' runs and the product's own runs of the shipped modes for one question set."""
    return rank_texts(engine, qset.name, qset.documents, qset.dataset.queries, embedder)


def rank_texts(
    engine: EmbeddedEngine,
    index: str,
    documents: Sequence[Document],
    queries: Mapping[str, str],
    embedder: bmb_es.Embedder,
) -> tuple[dict[str, Ranking], dict[str, Ranking], float]:
    """Every setting's run over ``documents`` (indexed as ``index``) and the product's runs of the shipped modes."""
    ingest(documents, engine, index, embedder)
    ids = [doc.id for doc in documents]
    joined = {doc.id: " ".join(part for part in (doc.title, doc.abstract, doc.body) if part) for doc in documents}
    position = {doc: i for i, doc in enumerate(ids)}
    stored = engine.get(index, ids)
    matrix = np.stack([np.asarray(stored[doc].vector, dtype=np.float32) for doc in ids])
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    corpus = Corpus(ids, unit, position)
    qids = sorted(queries)
    texts = [queries[qid] for qid in qids]
    vectors = embedder.embed(texts).astype(np.float32)
    fields = tuple(FieldBoost(name) for name in DEFAULT_FIELDS)
    runs: dict[str, Ranking] = {}
    for row, qid in enumerate(qids):
        hits = engine.execute(index, SearchRequest(texts[row], fields, DEPTH)).hits
        bm25 = [hit.id for hit in hits]
        scores = np.asarray([hit.score for hit in hits], dtype=np.float64)
        coverage = content_coverage(texts[row], joined[bm25[0]]) if bm25 else 0.0
        # The question's cosines from the stored vectors as they are, as the engine scores them.
        count = len(content_words(texts[row]))
        rankings = question_settings(corpus, bm25, scores, vectors[row], matrix @ vectors[row], coverage, count)
        for name, ranking in rankings.items():
            runs.setdefault(name, {})[qid] = ranking
    product: dict[str, Ranking] = {}
    started = time.perf_counter()
    for mode in SHIPPED:
        results = bmb_es.search_many(engine, index, texts, mode=mode, size=10, embedder=embedder)
        product[mode] = {qid: [hit.id for hit in result.hits] for qid, result in zip(qids, results, strict=True)}
    return runs, product, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = bioasq_arguments(__doc__, argv, nfcorpus=True)
    if args is None:
        return 2
    sets = load_sets(args.data)
    embedder = load_embedder(None if args.model == "default" else args.model)
    payload = envelope(
        "fusion-loyo",
        "python bench/bench_fusion_loyo.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        {
            "model": args.model,
            "depth": DEPTH,
            "top_k": TOP_KS,
            "weights": WEIGHTS,
            "feedback_documents": FEEDBACK_DOCS,
            "feedback_weights": FEEDBACK_WEIGHTS,
            "adaptive_coverages": ADAPTIVE_COVERAGES,
            "adaptive_weights": ADAPTIVE_WEIGHTS,
            "types": TYPES,
        },
    )
    values: dict[str, dict[str, dict[str, float]]] = {}  # set -> setting -> qid -> MRR@10
    checks: dict[str, dict[str, float]] = {}
    keywords: list[list[object]] = []  # each set split by auto's rule (keyword_row)
    with tempfile.TemporaryDirectory(prefix="bmb-fusion-") as tmp:
        engine = EmbeddedEngine(tmp)
        for qset in sets:
            print(f"{qset.name}: {len(qset.documents)} texts, {len(qset.dataset.queries)} questions …", file=sys.stderr)
            runs, product, seconds = rank_set(engine, qset, embedder)
            qrels = qset.dataset.qrels
            values[qset.name] = {name: per_query(run, qrels, "mrr@10") for name, run in runs.items()}
            checks[qset.name] = product_check(runs, product, seconds)
            keywords.append(keyword_row(qset.name, qset.dataset.queries, values[qset.name]))
        # setting -> NFCorpus nDCG@10 on test and on dev: reported, never used to pick
        nfcorpus: dict[str, float] = {}
        nfcorpus_dev: dict[str, float] = {}
        if args.nfcorpus.is_dir():
            for split, scores in (("test", nfcorpus), ("dev", nfcorpus_dev)):
                scored_only = load_nfcorpus(args.nfcorpus, split)
                about = f"{len(scored_only.documents)} texts, {len(scored_only.queries)} questions"
                print(f"nfcorpus {split}: {about} …", file=sys.stderr)
                runs, product, seconds = rank_texts(
                    engine, f"nfcorpus-{split}", scored_only.documents, scored_only.queries, embedder
                )
                each = {name: per_query(run, scored_only.qrels, "ndcg@10") for name, run in runs.items()}
                scores.update({name: float(np.mean(list(column.values()))) for name, column in each.items()})
                checks[f"nfcorpus {split}"] = product_check(runs, product, seconds)
                keywords.append(keyword_row(f"nfcorpus {split} (nDCG@10)", scored_only.queries, each))
        engine.close()
    year_names = sorted({y for qset in sets for y in qset.years.values()})

    def mean(qset: QuestionSet, setting: str, keep: Sequence[str] | set[str] | None = None) -> float:
        column = values[qset.name][setting]
        chosen = [q for q in column if keep is None or q in keep]
        return float(np.mean([column[q] for q in chosen])) if chosen else float("nan")

    def in_years(qset: QuestionSet, years: Sequence[str]) -> set[str]:
        return {q for q, y in qset.years.items() if y in years}

    every = [name for name in values[sets[0].name] if name != "dense" and not name.startswith(EXPLORED)]
    families = {
        "every setting": every,
        # The cheap family: no kNN leg, so rerank costs one BM25 search plus cosines on any engine size.
        "no kNN leg": [name for name in every if not name.startswith(KNN_LEGGED)],
        # The feedback mode's own m and b (not a candidate default: it needs a kNN leg and a second pass).
        "feedback": [name for name in every if name.startswith("feedback")],
        # The default mode's: feedback for keyword searches, rerank for the rest.
        "auto": [name for name in every if name.startswith("auto ")],
        # Explored: picked within themselves only, to show the trade-off (module docstring); never a default.
        **{f"{prefix} (explored)": [n for n in values[sets[0].name] if n.startswith(prefix)] for prefix in EXPLORED},
    }

    def objective(setting: str, years: Sequence[str]) -> float:
        return float(np.mean([mean(qset, setting, in_years(qset, years)) for qset in sets]))

    scored_by = ("BM25", "dense", SHIPPED["rerank"])
    folds: dict[str, list[list[object]]] = {}
    pooled: dict[str, list[list[object]]] = {}
    frozen_by: dict[str, str] = {}
    for family, candidates in families.items():
        held_out: dict[str, dict[str, float]] = {qset.name: {} for qset in sets}  # qid -> MRR@10 of its fold's pick
        rows: list[list[object]] = []
        for held in year_names:
            train = [y for y in year_names if y != held]
            picked = max(candidates, key=lambda s: objective(s, train))
            for qset in sets:
                test = in_years(qset, [held])
                low = test & qset.low
                held_out[qset.name].update({q: values[qset.name][picked][q] for q in test})
                on_test = [mean(qset, s, test) for s in (picked, *scored_by)]
                on_low = [mean(qset, s, low) for s in (picked, *scored_by)]
                rows.append([held, qset.name, picked, len(test), *on_test, len(low), *on_low])
        folds[family] = rows
        pooled[family] = []
        for qset in sets:
            picks = held_out[qset.name]
            low_picks = [picks[q] for q in qset.low]
            row: list[object] = [qset.name, float(np.mean(list(picks.values())))]
            row += [mean(qset, s) for s in scored_by]
            row += [float(np.mean(low_picks)) if low_picks else float("nan")]
            row += [mean(qset, s, qset.low) for s in scored_by]
            pooled[family].append(row)
        frozen_by[family] = max(candidates, key=lambda s: objective(s, year_names))
    shown = ["BM25", "dense", "RRF(BM25, dense) @100", "paper @20", *SHIPPED.values()]
    shown += [*frozen_by.values()] + [f"{kind} w={w} @100" for kind in ("rerank", "hybrid") for w in (0.2, 0.3, 0.5)]
    shown += [f"rerank+feedback m={FEEDBACK_DOCUMENTS} b={FEEDBACK_WEIGHT}"]
    shown = list(dict.fromkeys(shown))
    overall = [
        [name]
        + [value for qset in sets for value in (mean(qset, name), mean(qset, name, qset.low))]
        + [objective(name, year_names)]
        + ([nfcorpus[name], nfcorpus_dev[name]] if nfcorpus else [])
        for name in shown
    ]
    nfcorpus_best = {
        family: max(candidates, key=lambda s: nfcorpus[s]) for family, candidates in families.items() if nfcorpus
    }
    payload["results"] = {
        "sets": {
            q.name: {"questions": len(q.dataset.queries), "texts": len(q.documents), "low": len(q.low)} for q in sets
        },
        "folds": folds,
        "held_out_pooled": pooled,
        "frozen": frozen_by,
        "product_check": checks,
        "all": {q.name: {s: mean(q, s) for s in values[q.name]} for q in sets},
        "all_low": {q.name: {s: mean(q, s, q.low) for s in values[q.name]} for q in sets},
        "nfcorpus_ndcg10": nfcorpus,
        "nfcorpus_dev_ndcg10": nfcorpus_dev,
        "keyword_searches": keywords,
    }
    fold_head = ["held out", "set", "picked", "questions", "MRR@10", "BM25", "dense", "shipped rerank", "low: n"]
    fold_head += ["low", "low BM25", "low dense", "low shipped rerank"]  # the same four settings on the subset
    pooled_head = ["set", "held-out picks", "BM25", "dense", "shipped rerank", "low: picks", "low BM25"]
    pooled_head += ["low dense", "low shipped rerank"]
    lines = [
        "# Default fusion by leave-one-year-out on abstracts and snippets (BioASQ 4B-7B)\n",
        f"`{payload['command']}`\n",
        machine_line(payload) + "\n",
        "; ".join(
            f"{q.name}: {len(q.dataset.queries)} questions over {len(q.documents)} texts, {len(q.low)} low-coverage"
            for q in sets
        )
        + ". MRR@10 throughout; low = questions sharing <= 30 % of content words with every relevant text.\n",
        *(
            part
            for family in families
            for part in (
                f"## Leave one year out, {family} (picked on three years of both sets, scored on the fourth)\n",
                md_table(fold_head, folds[family]),
                "\nEvery question scored by the setting picked without its year (the four folds pooled):\n",
                md_table(pooled_head, pooled[family]),
                f"\nFrozen choice ({family}, picked on all four years): **{frozen_by[family]}**.\n",
            )
        ),
        "Shipped when this ran: " + "; ".join(f"`{mode}` = {name}" for mode, name in SHIPPED.items()) + ".\n",
        f"## Keyword searches (at most {KEYWORD_SEARCH_WORDS} content word: auto runs feedback)\n",
        md_table(
            KEYWORD_HEAD,
            keywords,
        ),
        "\nMRR@10 on the BioASQ sets, nDCG@10 on NFCorpus; the shipped `rerank` and `feedback` on each part.\n",
        "## Settings over all years\n",
        md_table(
            ["setting", *(f"{q.name}{part}" for q in sets for part in ("", f" low ({len(q.low)})")), "objective"]
            + (["NFCorpus test nDCG@10", "NFCorpus dev nDCG@10"] if nfcorpus else []),
            overall,
        ),
        *(
            [
                "\nNFCorpus test nDCG@10, the best setting of each family (scored only, never used to pick): "
                + "; ".join(f"{family}: {name} {nfcorpus[name]:.3f}" for family, name in nfcorpus_best.items())
                + ". NFCorpus is never used to pick; its dev split (questions of their own, over a corpus that "
                + "mostly overlaps test's) is shown beside test as a check that uses no test label.\n"
            ]
            if nfcorpus
            else []
        ),
        "\nProduct check (share of questions whose `bmb_es.search` top 10 equals the simulated setting's): "
        + "; ".join(
            f"{name}: " + ", ".join(f"{m} {v:.3f}" for m, v in c.items() if m != "seconds")
            for name, c in checks.items()
        )
        + ".\n",
    ]
    markdown = "\n".join(lines)
    json_path, md_path = write_results(args.out, "fusion-loyo", payload, markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
