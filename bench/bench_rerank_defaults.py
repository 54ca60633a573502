"""Choose the first-stage query form and the default re-rank by leave-one-year-out over BioASQ 4B-7B.

    python bench/bench_rerank_defaults.py [--data ../shared/data/bioasq] [--model default]

The 2,753 BioASQ PubMed abstracts are indexed once in an embedded engine with their title split off (the text's
first sentence, the way PubMed writes "Title. Abstract"), so that title boosts matter as they do on a titled
corpus. Every golden question 4B-7B with a relevant abstract in the corpus is a query; its year is the first golden
file that holds it.

First-stage forms: the paper's ``best_fields`` over ``title^2, abstract``; ``best_fields`` unboosted; ``most_fields``
(dis_max with tie_breaker 1: the fields' scores summed); one field holding title + abstract (what standard BM25,
bm25s and ``combined_fields`` score).

Re-rank candidates, each on the chosen first stage's top ``k``: the paper's pure cosine re-rank; a fixed linear
mix ``w * minmax(bm25) + (1 - w) * cosine`` within the top k; RRF of the BM25 and cosine ranks within the top k;
and RRF of BM25 top 100 with dense (exact cosine over the whole corpus) top 100.

For each held-out year the setting with the best mean MRR@10 on the other three years is picked and scored on
the held-out year (honest estimate); the frozen default is the setting picked on all four years. Only forms the
product can send are picked from (the one-field form needs a combined field that indices do not have; it is
reported for reference). Results:
``bench/results/rerank-defaults-<time>.json|md``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bmb_es import Document, EmbeddedEngine
from bmb_es._ingest import ingest
from bmb_es.bench.datasets import load_bioasq_golden_docs
from bmb_es.bench.debias import content_coverage
from bmb_es.bench.metrics import Ranking, evaluate
from bmb_es.bench.report import envelope, machine_line, md_table, write_results
from bmb_es.embedding import load_embedder
from bmb_es.query import FieldBoost, SearchRequest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "bioasq"
DEPTH = 100
TOP_KS = (20, 50, 100)
WEIGHTS = tuple(round(0.1 * step, 1) for step in range(1, 10))
RRF_C = 60
METRICS = ("mrr@10", "ndcg@10", "recall@100")
LOW_COVERAGE = 0.30  # the paper's debiased subset: questions sharing <= 30 % of content words with every answer


@dataclass(frozen=True)
class Form:
    """A first-stage query form: the index it runs on, its fields and tie breaker."""

    name: str
    index: str
    fields: tuple[FieldBoost, ...]
    tie_breaker: float = 0.0
    # A form the product can send (multi_match over its own fields); the joined field is a reference only.
    shippable: bool = True


FORMS = (
    Form("best_fields title^2,abstract (paper)", "split", (FieldBoost("title", 2.0), FieldBoost("abstract"))),
    Form("best_fields title,abstract", "split", (FieldBoost("title"), FieldBoost("abstract"))),
    Form("most_fields title,abstract", "split", (FieldBoost("title"), FieldBoost("abstract")), 1.0),
    Form("one field title+abstract (standard BM25)", "joined", (FieldBoost("abstract"),), shippable=False),
)


def split_title(text: str) -> tuple[str, str]:
    """``("Title.", "Abstract ...")`` when the text opens with a short first sentence, else ``("", text)``."""
    head, sep, rest = text.partition(". ")
    if sep and 10 <= len(head) <= 300 and rest.strip():
        return head + ".", rest.strip()
    return "", text


def question_years(root: Path) -> dict[str, str]:
    years: dict[str, str] = {}
    for path in sorted((root / "golden").glob("*_golden.json")):
        for question in json.loads(path.read_text(encoding="utf-8"))["questions"]:
            years.setdefault(str(question["id"]), path.name.split("_", 1)[0])
    return years


def minmax(values: np.ndarray) -> np.ndarray:
    """``values`` mapped onto 0..1 as the product's fusion maps BM25 scores: all alike (or one) map to 1."""
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    return np.ones_like(values) if high == low else (values - low) / (high - low)


def rrf(*rankings: Sequence[str]) -> list[str]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (RRF_C + rank)
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))]


def settings_for(
    bm25: Sequence[str], scores: np.ndarray, cos: Callable[[Sequence[str]], np.ndarray], dense: Sequence[str]
) -> dict[str, list[str]]:
    """Every re-rank setting's ranking of one question (``bm25``: ids best first, ``scores`` their BM25)."""
    out: dict[str, list[str]] = {"BM25": list(bm25), "dense": list(dense)[:DEPTH]}
    out["RRF(BM25 top100, dense top100)"] = rrf(bm25[:DEPTH], dense[:DEPTH])[:DEPTH]
    for k in TOP_KS:
        top, rest = list(bm25[:k]), list(bm25[k:])
        cosines = cos(top)
        order = np.argsort(-cosines, kind="stable")
        out[f"paper: cosine re-rank @{k}"] = [top[i] for i in order] + rest
        out[f"RRF(BM25, cosine) @{k}"] = rrf(top, [top[i] for i in order]) + rest
        normed = minmax(scores[:k])
        for w in WEIGHTS:
            mixed = w * normed + (1 - w) * cosines
            out[f"linear w={w} @{k}"] = [top[i] for i in np.argsort(-mixed, kind="stable")] + rest
        # Hybrid candidates: BM25 top k and dense top k, fused (rank lists only: every engine can give them).
        near = list(dense[:k])
        paper = [top[i] for i in order]
        out[f"hybrid RRF(BM25, dense) @{k}"] = rrf(top, near)[:DEPTH]
        out[f"hybrid RRF(BM25, paper, dense) @{k}"] = rrf(top, paper, near)[:DEPTH]
        pool = list(dict.fromkeys(top + near))
        bm25_of = dict(zip(top, normed, strict=True))
        pool_bm25 = np.asarray([bm25_of.get(doc, 0.0) for doc in pool])
        pool_cos = cos(pool)
        for w in WEIGHTS:
            mixed = w * pool_bm25 + (1 - w) * pool_cos
            out[f"hybrid linear w={w} @{k}"] = [pool[i] for i in np.argsort(-mixed, kind="stable")][:DEPTH]
    return out


def per_query(run: Ranking, qrels: Mapping[str, Mapping[str, int]], metric: str) -> dict[str, float]:
    return dict(zip(sorted(qrels), evaluate(run, qrels, [metric])[metric], strict=True))


def bioasq_arguments(
    description: str | None, argv: list[str] | None, nfcorpus: bool = False
) -> argparse.Namespace | None:
    """``--data`` (a BioASQ folder with golden/), ``--model``, ``--out`` and, with ``nfcorpus``, ``--nfcorpus``
    (a scored-only NFCorpus folder); None after saying what is missing."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0] if description else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    if nfcorpus:
        parser.add_argument("--nfcorpus", type=Path, default=DEFAULT_DATA.parent / "nfcorpus")
    args = parser.parse_args(argv)
    if not (args.data / "golden").is_dir():
        print(f"error: {args.data}: no golden/ folder (BioASQ 4B-7B golden sets)", file=sys.stderr)
        return None
    return args


def main(argv: list[str] | None = None) -> int:
    args = bioasq_arguments(__doc__, argv)
    if args is None:
        return 2
    dataset = load_bioasq_golden_docs(args.data)
    years = question_years(args.data)
    qrels = dataset.qrels
    qids = sorted(qrels)
    split_docs, joined_docs = [], []
    for doc in dataset.documents:
        title, abstract = split_title(doc.abstract)
        split_docs.append(Document(id=doc.id, title=title, abstract=abstract, pmid=doc.pmid, source="pubmed"))
        joined_docs.append(Document(id=doc.id, abstract=doc.abstract, pmid=doc.pmid, source="pubmed"))
    titled = sum(1 for doc in split_docs if doc.title)
    embedder = load_embedder(None if args.model == "default" else args.model)
    payload = envelope(
        "rerank-defaults",
        "python bench/bench_rerank_defaults.py " + shlex.join(argv or sys.argv[1:]),
        {"model": args.model, "depth": DEPTH, "top_k": TOP_KS, "weights": WEIGHTS, "rrf_c": RRF_C},
    )
    with tempfile.TemporaryDirectory(prefix="bmb-defaults-") as tmp:
        engine = EmbeddedEngine(tmp)
        print(f"indexing {len(split_docs)} abstracts ({titled} with a title split off), twice …", file=sys.stderr)
        ingest(split_docs, engine, "split", embedder)
        ingest(joined_docs, engine, "joined", embedder)
        stored = engine.get("split", [doc.id for doc in split_docs])
        ids = [doc.id for doc in split_docs]
        matrix = np.stack([np.asarray(stored[doc].vector, dtype=np.float64) for doc in ids])
        position = {doc: i for i, doc in enumerate(ids)}
        questions = embedder.embed([dataset.queries[qid] for qid in qids]).astype(np.float64)
        runs: dict[str, dict[str, Ranking]] = {}
        for form in FORMS:
            print(f"  {form.name} …", file=sys.stderr)
            form_runs: dict[str, Ranking] = {}
            for row, qid in enumerate(qids):
                request = SearchRequest(dataset.queries[qid], form.fields, DEPTH, tie_breaker=form.tie_breaker)
                hits = engine.execute(form.index, request).hits
                bm25 = [hit.id for hit in hits]
                scores = np.asarray([hit.score for hit in hits], dtype=np.float64)
                all_cos = matrix @ questions[row]
                dense = [ids[i] for i in np.argsort(-all_cos, kind="stable")[:DEPTH]]

                def cos(top: Sequence[str], row_cos: np.ndarray = all_cos) -> np.ndarray:
                    return np.asarray([row_cos[position[doc]] for doc in top])

                for name, ranking in settings_for(bm25, scores, cos, dense).items():
                    form_runs.setdefault(name, {})[qid] = ranking
            runs[form.name] = form_runs
        engine.close()
    texts = {doc.id: doc.abstract for doc in dataset.documents}
    low = [
        qid
        for qid in qids
        if max(content_coverage(dataset.queries[qid], texts[doc]) for doc in qrels[qid]) <= LOW_COVERAGE
    ]
    per_year = sorted(set(years[qid] for qid in qids))
    by_year = {year: [qid for qid in qids if years[qid] == year] for year in per_year}
    values: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for form_name, form_runs in runs.items():
        values[form_name] = {name: {m: per_query(run, qrels, m) for m in METRICS} for name, run in form_runs.items()}

    def mean(form: str, setting: str, metric: str, subset: Sequence[str]) -> float:
        column = values[form][setting][metric]
        return float(np.mean([column[qid] for qid in subset])) if subset else 0.0

    first_stage_rows = [
        [form.name]
        + [mean(form.name, "BM25", m, qids) for m in METRICS]
        + [mean(form.name, "BM25", "mrr@10", by_year[y]) for y in per_year]
        for form in FORMS
    ]
    # Leave one year out: pick (form, setting) on three years, score on the fourth.
    shippable = {form.name for form in FORMS if form.shippable}
    candidates = [
        (form, setting) for form in values if form in shippable for setting in values[form] if setting != "dense"
    ]
    low_set = set(low)
    folds = []
    for held in per_year:
        train = [qid for y in per_year if y != held for qid in by_year[y]]
        picked_form, setting = max(candidates, key=lambda item: mean(item[0], item[1], "mrr@10", train))
        test = by_year[held]
        folds.append(
            {
                "held_out": held,
                "picked": f"{setting} on {picked_form}",
                "questions": len(test),
                "mrr10": mean(picked_form, setting, "mrr@10", test),
                "bm25_mrr10": mean(FORMS[0].name, "BM25", "mrr@10", test),
                "dense_mrr10": mean(picked_form, "dense", "mrr@10", test),
                "low_questions": len([q for q in test if q in low_set]),
                "low_mrr10": mean(picked_form, setting, "mrr@10", [q for q in test if q in low_set]),
                "low_bm25_mrr10": mean(FORMS[0].name, "BM25", "mrr@10", [q for q in test if q in low_set]),
                "low_dense_mrr10": mean(picked_form, "dense", "mrr@10", [q for q in test if q in low_set]),
            }
        )
    # Re-rank settings alone (first stage fixed): which generalise across years.
    frozen_form, frozen_setting = max(candidates, key=lambda item: mean(item[0], item[1], "mrr@10", qids))
    rerank_rows = []
    best_form = max(shippable, key=lambda f: mean(f, "BM25", "mrr@10", qids))
    for setting in values[best_form]:
        if "linear" in setting and not any(f"linear w={w} " in setting for w in (0.3, 0.5, 0.7)):
            continue
        rerank_rows.append(
            [setting]
            + [mean(best_form, setting, m, qids) for m in METRICS]
            + [mean(best_form, setting, "mrr@10", low)]
            + [mean(best_form, setting, "mrr@10", by_year[y]) for y in per_year]
        )
    payload["results"] = {
        "questions": len(qids),
        "documents": len(ids),
        "titled": titled,
        "years": {y: len(by_year[y]) for y in per_year},
        "low_coverage_questions": len(low),
        "first_stage": first_stage_rows,
        "folds": folds,
        "frozen": {"form": frozen_form, "setting": frozen_setting},
        "rerank_on": best_form,
        "rerank": rerank_rows,
        "all": {form: {s: {m: mean(form, s, m, qids) for m in METRICS} for s in values[form]} for form in values},
    }
    lines = [
        "# First stage and default re-rank, chosen by leave-one-year-out (BioASQ 4B-7B)\n",
        f"`{payload['command']}`\n",
        machine_line(payload) + "\n",
        f"{len(qids)} golden questions over {len(ids)} PubMed abstracts ({titled} with their first sentence as the "
        f"title); questions per year: " + ", ".join(f"{y} {len(by_year[y])}" for y in per_year) + ".\n",
        "## First stage (BM25 alone)\n",
        md_table(["form", *METRICS, *(f"MRR@10 {y}" for y in per_year)], first_stage_rows),
        f"## Re-rank settings on `{best_form}`\n",
        md_table(["setting", *METRICS, f"MRR@10 low ({len(low)})", *(f"MRR@10 {y}" for y in per_year)], rerank_rows),
        "## Leave one year out (picked on three years, scored on the fourth)\n",
        md_table(
            [
                "held out",
                "picked",
                "questions",
                "MRR@10",
                "BM25 (paper form)",
                "dense",
                "low: n",
                "low",
                "low BM25",
                "low dense",
            ],
            [
                [
                    f["held_out"],
                    f["picked"],
                    f["questions"],
                    f["mrr10"],
                    f["bm25_mrr10"],
                    f["dense_mrr10"],
                    f["low_questions"],
                    f["low_mrr10"],
                    f["low_bm25_mrr10"],
                    f["low_dense_mrr10"],
                ]
                for f in folds
            ],
        ),
        f"\nFrozen default (picked on all four years): **{frozen_setting}** on **{frozen_form}**.\n",
    ]
    markdown = "\n".join(lines)
    json_path, md_path = write_results(args.out, "rerank-defaults", payload, markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
