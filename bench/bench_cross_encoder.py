"""Does a cross-encoder stage pay for its cost? Trained from MiniLM on BioASQ 4B-6B, scored on 7B and NFCorpus.

    python bench/bench_cross_encoder.py [--data ../shared/data/bioasq] [--nfcorpus ../shared/data/nfcorpus]
        [--steps 800] [--batch 16] [--max-length 192] [--rerank-depth 20] [--work DIR] [--out DIR]

The issue's item 4 asks to consider "a cross-encoder stage trained the same way if it pays for its cost; measure
both". No pre-trained cross-encoder can be loaded here, so this trains one the way the shipped ``bioasq``
bi-encoder was trained: from all-MiniLM-L6-v2's weights (a new one-logit head), on BioASQ 4B-6B golden questions
only (abstracts and snippets, as in ``bench_fusion_loyo.py``), 7B kept out.

* Positives: each training question with each of its golden texts. Negatives, two per positive: one text from the
  shipped default's ranks 11-50 that is not golden (ranks 1-10 are skipped: BioASQ leaves relevant texts
  unlabelled, and the bi-encoder's fine-tune showed how much near-top negatives cost), and one random text.
* Loss: binary cross-entropy on the one logit; AdamW, linear warm-up over the first tenth of the steps.
* Scored (nothing chosen on these labels): ``rerank`` (the shipped default when this ran; the default ``auto``
  runs it for every question of two or more content words), its top ``--rerank-depth`` re-ordered by the
  cross-encoder alone, and by ``0.5 * minmax(default score) + 0.5 * minmax(cross-encoder logit)`` (weights
  fixed before the run). 7B abstracts and 7B snippets (MRR@10, nDCG@10), NFCorpus test (nDCG@10).
* Cost: the cross-encoder's milliseconds per question on this machine (``--rerank-depth`` pairs), against the
  default's whole search.

Results: ``<out>/cross-encoder-<time>.json|md``. The trained model is kept in ``--work`` (not in the repository).
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

import bmb_es
from bmb_es import EmbeddedEngine
from bmb_es._ingest import ingest
from bmb_es.bench.datasets import IRDataset, load_nfcorpus
from bmb_es.bench.metrics import Ranking, significance
from bmb_es.bench.report import envelope, machine_line, md_table, write_results
from bmb_es.embedding import load_embedder

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: the sibling bench modules' helpers are shared, not copied
from bench.bench_fusion_loyo import QuestionSet, load_sets  # noqa: E402
from bench.bench_rerank_defaults import minmax, per_query  # noqa: E402

TRAIN_YEARS = ("4B", "5B", "6B")
TEST_YEAR = "7B"
NEGATIVE_SKIP = 10
NEGATIVE_DEPTH = 50
MIX = 0.5  # fixed before the run: the default's and the cross-encoder's min-max scores, equally
SEED = 13
TRAINING_RECORD = "bmb-training.json"  # steps, batch and seconds of the run that trained the model in --work


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "bioasq")
    parser.add_argument("--nfcorpus", type=Path, default=REPO.parent / "shared" / "data" / "nfcorpus")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--rerank-depth", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=4e-5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bmb-cross-encoder"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/bmb-bench-results"))
    parser.add_argument(
        "--reuse-model", action="store_true", help="Score the model a previous run left in --work/model (no training)."
    )
    return parser.parse_args(argv)


def default_runs(
    engine: EmbeddedEngine, index: str, dataset: IRDataset, qids: Sequence[str], embedder: bmb_es.Embedder
) -> tuple[Ranking, dict[str, list[float]], float]:
    """The shipped default's top ``NEGATIVE_DEPTH`` per question, its fused scores, and its seconds per question."""
    texts = [dataset.queries[q] for q in qids]
    started = time.perf_counter()
    results = bmb_es.search_many(engine, index, texts, mode="rerank", size=NEGATIVE_DEPTH, embedder=embedder)
    ranking: Ranking = {}
    scores: dict[str, list[float]] = {}
    for qid, result in zip(qids, results, strict=True):
        ranking[qid] = [hit.id for hit in result.hits]
        scores[qid] = [hit.score for hit in result.hits]
    return ranking, scores, (time.perf_counter() - started) / max(len(qids), 1)


def training_pairs(qset: QuestionSet, first: Ranking, rng: random.Random) -> list[tuple[str, str, float]]:
    """(question, text, label) for the training years: every golden text, two negatives per positive."""
    texts = {doc.id: doc.abstract for doc in qset.dataset.documents}
    every = sorted(texts)
    pairs: list[tuple[str, str, float]] = []
    for qid, year in qset.years.items():
        if year not in TRAIN_YEARS:
            continue
        question, golden = qset.dataset.queries[qid], set(qset.dataset.qrels[qid])
        hard = [doc for doc in first[qid][NEGATIVE_SKIP:NEGATIVE_DEPTH] if doc not in golden]
        for doc in sorted(golden):
            pairs.append((question, texts[doc], 1.0))
            if hard:
                pairs.append((question, texts[rng.choice(hard)], 0.0))
            easy = rng.choice(every)
            if easy not in golden:
                pairs.append((question, texts[easy], 0.0))
    return pairs


def train(pairs: list[tuple[str, str, float]], args: argparse.Namespace, folder: Path) -> tuple[float, int]:
    """Fine-tune MiniLM with a one-logit head on ``pairs``; save to ``folder``. Returns (seconds, pairs seen)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from bmb_es.embedding._load import default_model_path

    torch.manual_seed(SEED)
    source = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.01)
    warm = max(args.steps // 10, 1)  # linear warm-up, then linear decay to 0 at the last step
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: step / warm if step < warm else max(0.0, (args.steps - step) / (args.steps - warm))
    )
    loss_of = torch.nn.BCEWithLogitsLoss()
    rng = random.Random(SEED)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    started, seen = time.perf_counter(), 0
    for step in range(args.steps):
        batch = [pairs[order[(step * args.batch + i) % len(order)]] for i in range(args.batch)]
        encoded = tokenizer(
            [q for q, _, _ in batch],
            [t for _, t, _ in batch],
            truncation="only_second",
            max_length=args.max_length,
            padding=True,
            return_tensors="pt",
        )
        logits = model(**encoded).logits.squeeze(-1)
        loss = loss_of(logits, torch.tensor([label for _, _, label in batch]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        seen += len(batch)
        if step % 25 == 0 or step == args.steps - 1:
            rate = (step + 1) / (time.perf_counter() - started)
            left = (args.steps - step - 1) / rate
            print(
                f"step {step + 1}/{args.steps} loss {loss.item():.4f} {rate:.2f} steps/s ETA {left:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return time.perf_counter() - started, seen


def rescored(
    first: Ranking,
    scores: Mapping[str, list[float]],
    queries: Mapping[str, str],
    texts: Mapping[str, str],
    folder: Path,
    args: argparse.Namespace,
) -> tuple[Ranking, Ranking, float]:
    """The default's top ``--rerank-depth`` re-ordered by the cross-encoder alone and by the fixed mix; seconds
    of cross-encoder scoring per question."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    alone: Ranking = {}
    mixed: Ranking = {}
    spent = 0.0
    depth = args.rerank_depth
    for qid, ranking in first.items():
        top = ranking[:depth]
        started = time.perf_counter()
        logits = np.zeros(0)
        if top:  # a question BM25 matches nowhere has nothing to re-order
            with torch.inference_mode():
                encoded = tokenizer(
                    [queries[qid]] * len(top),
                    [texts[doc] for doc in top],
                    truncation="only_second",
                    max_length=args.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                logits = model(**encoded).logits.squeeze(-1).numpy().astype(np.float64)
        spent += time.perf_counter() - started
        rest = ranking[depth:]
        alone[qid] = [top[i] for i in np.argsort(-logits, kind="stable")] + rest
        mix = MIX * minmax(np.asarray(scores[qid][:depth])) + (1 - MIX) * minmax(logits)
        mixed[qid] = [top[i] for i in np.argsort(-mix, kind="stable")] + rest
    return alone, mixed, spent / max(len(first), 1)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    embedder = load_embedder(None)
    sets = load_sets(args.data)
    nfcorpus = load_nfcorpus(args.nfcorpus) if args.nfcorpus.is_dir() else None
    args.work.mkdir(parents=True, exist_ok=True)
    engine = EmbeddedEngine(args.work / "indices")
    rng = random.Random(SEED)
    firsts: dict[str, tuple[Ranking, dict[str, list[float]], float]] = {}
    pairs: list[tuple[str, str, float]] = []
    for qset in sets:
        if qset.name not in engine.list_indices():
            ingest(qset.documents, engine, qset.name, embedder)
        qids = sorted(qset.dataset.queries)
        firsts[qset.name] = default_runs(engine, qset.name, qset.dataset, qids, embedder)
        pairs += training_pairs(qset, firsts[qset.name][0], rng)
    if nfcorpus is not None:
        if "nfcorpus" not in engine.list_indices():
            ingest(nfcorpus.documents, engine, "nfcorpus", embedder)
        firsts["nfcorpus"] = default_runs(engine, "nfcorpus", nfcorpus, sorted(nfcorpus.queries), embedder)
    engine.close()
    positives = sum(1 for _, _, label in pairs if label > 0)
    print(f"{len(pairs)} training pairs ({positives} positive)", file=sys.stderr)
    folder = args.work / "model"
    if args.reuse_model and (folder / TRAINING_RECORD).is_file():
        record = json.loads((folder / TRAINING_RECORD).read_text(encoding="utf-8"))
        seconds, seen = float(record["seconds"]), int(record["pairs_seen"])
        args.steps, args.batch = int(record["steps"]), int(record["batch"])  # what the model was trained with
    else:
        seconds, seen = train(pairs, args, folder)
        record = {"seconds": seconds, "pairs_seen": seen, "steps": args.steps, "batch": args.batch, "seed": SEED}
        (folder / TRAINING_RECORD).write_text(json.dumps(record), encoding="utf-8")
    # Made after training, so --reuse-model's settings are those the scored model was trained with.
    payload = envelope(
        "cross-encoder",
        "python bench/bench_cross_encoder.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        | {"train_years": TRAIN_YEARS, "test_year": TEST_YEAR, "mix": MIX, "seed": SEED, "training": record},
    )

    rows: list[list[object]] = []
    evaluated: list[tuple[str, IRDataset, set[str]]] = [
        (f"{qset.name} {TEST_YEAR}", qset.dataset, {q for q, y in qset.years.items() if y == TEST_YEAR})
        for qset in sets
    ]
    if nfcorpus is not None:
        evaluated.append(("nfcorpus", nfcorpus, set(nfcorpus.queries)))
    for label, dataset, keep in evaluated:
        name = "nfcorpus" if label == "nfcorpus" else label.split()[0]
        first, scores, default_seconds = firsts[name]
        first = {q: r for q, r in first.items() if q in keep}
        texts = {doc.id: doc.abstract for doc in dataset.documents}
        alone, mixed, ce_seconds = rescored(first, scores, dataset.queries, texts, folder, args)
        qrels = {q: dataset.qrels[q] for q in first}
        tested = "ndcg@10" if label == "nfcorpus" else "mrr@10"  # each set's own target measure
        p_values = significance(qrels, first, {"alone": alone, "mix": mixed}, tested)
        for system, run, key in (
            ("default (rerank)", first, None),
            ("cross-encoder alone", alone, "alone"),
            ("0.5/0.5 mix", mixed, "mix"),
        ):
            mrr = float(np.mean(list(per_query(run, qrels, "mrr@10").values())))
            ndcg = float(np.mean(list(per_query(run, qrels, "ndcg@10").values())))
            cost = default_seconds if key is None else default_seconds + ce_seconds
            p_value = "—" if key is None else f"{p_values[key]:.3f} ({tested})"
            rows.append([label, len(first), system, mrr, ndcg, p_value, 1000 * cost])
        print(f"{label} scored", file=sys.stderr)
    payload["results"] = {
        "pairs": len(pairs),
        "positives": positives,
        "train_seconds": seconds,
        "pairs_seen": seen,
        "rows": rows,
    }
    head = ["set", "questions", "system", "MRR@10", "nDCG@10", "p vs default", "ms / question"]
    markdown = "\n".join(
        [
            "# Cross-encoder stage: trained on BioASQ 4B-6B, scored on 7B and NFCorpus\n",
            f"`{payload['command']}`\n",
            machine_line(payload) + "\n",
            f"Training: {len(pairs)} pairs ({positives} positive), {args.steps} steps of {args.batch} "
            f"({seen} pairs seen), max length {args.max_length}, {seconds:.0f} s on this machine's CPU.\n",
            md_table(head, rows),
            f"\nThe cross-encoder re-orders the default's top {args.rerank_depth}; ms / question adds its cost to "
            "the default's whole search. p: paired t-test (ranx) against the default on each set's target measure.\n",
        ]
    )
    json_path, md_path = write_results(args.out, "cross-encoder", payload, markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
