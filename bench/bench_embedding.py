"""Embedding speed and quality, every backend/precision, on the same texts in one run.

    python bench/bench_embedding.py --corpus /work/shared/data/bioasq/pubmed            # CPU (or GPU if present)
    python bench/bench_embedding.py --corpus ... --device cuda                          # on a GPU machine

For each setting (backend x precision this machine can run) it reports:

* encoder alone: docs/s over a fixed random sample of the corpus texts, the settings interleaved round by round
  (a shared machine's load hits them alike), median over rounds and median ratio to fp32 torch; plus the docs/s
  of the one full pass over the corpus that the quality figures come from;
* whole ingest: docs/s of ``bmb_es.index_path`` (read, parse, embed, write, commit) of the first
  ``--ingest-sample`` documents into a fresh embedded index, interleaved likewise;
* quality: dense MRR@10 over the BioASQ golden questions (relevant = their PMIDs in the corpus), with the
  questions embedded by the same setting, and with fp32 question vectors (a mixed-setting index);
* mean/min cosine of the document vectors to fp32 torch;
* warm query latency: question encoding alone, and a full ``search(rerank=True)`` on the built index.

Writes ``bench/results/embedding-<host>-<device>-<UTC stamp>.json`` and ``.md``. Without a GPU, ``--device
cuda`` says so and exits 2 (the GPU figures are then measured later on a GPU machine).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def load_questions(corpus: Path, golden: Path, corpus_ids: set[str]) -> list[tuple[str, str, set[str]]]:
    """(question id, body, relevant PMIDs in the corpus) for every question with at least one."""
    relevant: dict[str, set[str]] = {}
    with open(corpus / "golden_question_documents.tsv", encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            qid, _type, pmid, inside = line.rstrip("\n").split("\t")
            if inside == "1" and pmid in corpus_ids:
                relevant.setdefault(qid, set()).add(pmid)
    bodies: dict[str, str] = {}
    for path in sorted(golden.glob("*.json")):
        for question in json.loads(path.read_text(encoding="utf-8"))["questions"]:
            bodies.setdefault(question["id"], question["body"])
    return [(qid, bodies[qid], pmids) for qid, pmids in sorted(relevant.items()) if qid in bodies]


def mrr_at_10(queries: np.ndarray, docs: np.ndarray, ids: list[str], relevant: list[set[str]]) -> float:
    scores = queries @ docs.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    total = 0.0
    for row, wanted in zip(top, relevant, strict=True):
        for rank, position in enumerate(row, start=1):
            if ids[position] in wanted:
                total += 1.0 / rank
                break
    return total / len(relevant)


def settings_for(device: str, asked: list[str] | None) -> list[tuple[str, str]]:
    from bmb_es.embedding._hardware import cpu_has_fast_bf16
    from bmb_es.embedding._openvino import openvino_available

    if asked:
        return [tuple(item.split("/", 1)) for item in asked]  # type: ignore[misc]
    if device.startswith("cuda"):
        return [("torch", "fp32"), ("torch", "fp16"), ("torch", "bf16"), ("auto", "auto")]
    pairs = [("torch", "fp32"), ("torch", "bf16")]
    if openvino_available():
        pairs += [("openvino", "fp32"), ("openvino", "bf16")]
    if not cpu_has_fast_bf16():
        pairs = [pair for pair in pairs if pair[1] != "bf16"]
    return [*pairs, ("auto", "auto")]


class _Fixed:
    """An embedder that returns a vector computed before: search() minus encoding."""

    def __init__(self, embedder: Any, vector: np.ndarray) -> None:
        self.name, self.dimension, self.max_length = embedder.name, embedder.dimension, embedder.max_length
        self._vector = vector

    def embed(self, texts: Any, batch_size: int = 32) -> np.ndarray:
        return self._vector


def timed(function: Any, repeats: int) -> tuple[float, Any]:
    """Median seconds over ``repeats`` runs, and the last result."""
    times = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/data/bioasq/pubmed"))
    parser.add_argument("--golden", type=Path, default=None, help="BioASQ golden JSON folder (default: ../golden)")
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available, else cpu)")
    parser.add_argument("--limit", type=int, default=0, help="Use only the first N documents (0: all)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--setting", action="append", help="backend/precision, repeatable (default: all available)")
    parser.add_argument("--no-ingest", action="store_true", help="Skip the whole-ingest runs")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved speed rounds (medians are reported)")
    parser.add_argument("--sample", type=int, default=256, help="Texts encoded per setting per speed round")
    parser.add_argument("--ingest-sample", type=int, default=512, help="Documents indexed per setting per round")
    parser.add_argument("--latency-questions", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import torch

    from bmb_es import EmbeddedEngine
    from bmb_es._api import index_path
    from bmb_es._search import search
    from bmb_es.embedding import embed_text, load_embedder
    from bmb_es.embedding._hardware import hardware_id
    from bmb_es.readers import read_corpus

    cuda = torch.cuda.is_available()
    device = args.device or ("cuda" if cuda else "cpu")
    if device.startswith("cuda") and not cuda:
        print("no GPU: torch.cuda.is_available() is False on this machine; GPU figures not measured", file=sys.stderr)
        return 2
    if not cuda:
        print("note: no GPU on this machine; measuring the CPU only (rerun on a GPU machine for GPU figures)")

    golden = args.golden or args.corpus.parent / "golden"
    documents = [record for record in read_corpus(args.corpus) if not hasattr(record, "reason")]
    if args.limit:
        documents = documents[: args.limit]
    ids = [document.id for document in documents]
    texts = [embed_text(document) for document in documents]
    questions = load_questions(args.corpus, golden, set(ids))
    bodies = [body for _, body, _ in questions]
    relevant = [pmids for _, _, pmids in questions]
    print(f"{len(texts)} documents, {len(questions)} questions, device {device}, {hardware_id(device)}")

    home = Path(tempfile.mkdtemp(prefix="bench-emb-home-"))
    os.environ["BMB_ES_HOME"] = str(home)  # fresh verdict cache: auto is checked in this run, as a first use would
    rows: dict[str, dict[str, Any]] = {}
    embedders: dict[str, Any] = {}
    # 1. Load every setting; one full pass over the corpus each for quality (and a first speed figure).
    reference: tuple[np.ndarray, np.ndarray] | None = None
    done: dict[str, str] = {}  # backend/precision actually run -> label whose vectors it produced
    for backend, precision in settings_for(device, args.setting):
        label = f"{backend}/{precision}"
        try:
            load_started = time.perf_counter()
            embedder = load_embedder(args.model, device, precision, backend)
            load_seconds = time.perf_counter() - load_started
        except Exception as error:  # a setting this machine cannot run is reported, not fatal
            print(f"{label}: unavailable ({error})")
            rows[label] = {"setting": label, "error": str(error).splitlines()[0]}
            continue
        actual = f"{getattr(embedder, 'backend', '?')}/{getattr(embedder, 'precision', '?')}"
        batch = args.batch_size or int(getattr(embedder, "default_batch_size", 32))
        row: dict[str, Any] = {
            "setting": label,
            "selected": str(getattr(embedder, "selection", label)),
            "load_s": round(load_seconds, 2),
            "batch_size": batch,
        }
        embedders[label] = embedder
        rows[label] = row
        if actual in done and done[actual] in rows:  # auto picked a setting measured above: same vectors
            for key in ("mrr10", "cos_to_fp32_mean", "cos_to_fp32_min", "mrr10_fp32_queries"):
                if key in rows[done[actual]]:
                    row[key] = rows[done[actual]][key]
            print(json.dumps(row))
            continue
        done[actual] = label
        embedder.embed(texts[:batch], batch_size=batch)  # warm-up (first-call compilation, caches)
        started = time.perf_counter()
        vectors = embedder.embed(texts, batch_size=batch)
        row["full_pass_docs_per_s"] = round(len(texts) / (time.perf_counter() - started), 1)
        query_vectors = embedder.embed(bodies, batch_size=batch)
        if reference is None and actual == "torch/fp32":
            reference = (vectors, query_vectors)
        row["mrr10"] = round(mrr_at_10(query_vectors, vectors, ids, relevant), 4)
        if reference is not None:
            cosines = np.sum(vectors * reference[0], axis=1)
            row["cos_to_fp32_mean"] = round(float(cosines.mean()), 6)
            row["cos_to_fp32_min"] = round(float(cosines.min()), 6)
            row["mrr10_fp32_queries"] = round(mrr_at_10(reference[1], vectors, ids, relevant), 4)
        print(json.dumps(row), flush=True)
        gc.collect()

    # 2. Speed, interleaved: every setting once per round on the same sample, so load changes on a shared
    #    machine hit all settings alike; medians over rounds, ratios to fp32 torch within each round.
    rng = np.random.default_rng(0)
    sample = [texts[position] for position in rng.choice(len(texts), min(args.sample, len(texts)), replace=False)]
    ingest_corpus = Path(tempfile.mkdtemp(prefix="bench-emb-ingest-")) / "sample.jsonl"
    with open(ingest_corpus, "w", encoding="utf-8") as handle:
        for document in documents[: args.ingest_sample]:
            handle.write(json.dumps(document.to_source(), ensure_ascii=False) + "\n")
    speeds: dict[str, list[float]] = {label: [] for label in embedders}
    ingests: dict[str, list[float]] = {label: [] for label in embedders}
    for round_number in range(args.rounds):
        for label, embedder in embedders.items():
            batch = rows[label]["batch_size"]
            seconds, _ = timed(lambda e=embedder, b=batch: e.embed(sample, batch_size=b), 1)
            speeds[label].append(len(sample) / seconds)
            if not args.no_ingest:
                engine = EmbeddedEngine(home / f"{label.replace('/', '-')}-{round_number}")
                started = time.perf_counter()
                summary = index_path(ingest_corpus, engine=engine, index="bench", embedder=embedder)
                ingests[label].append(summary.read / (time.perf_counter() - started))
                engine.close()
        print(
            f"round {round_number + 1}/{args.rounds}: "
            + ", ".join(f"{label} {speeds[label][-1]:.1f}" for label in embedders),
            flush=True,
        )
    base = "torch/fp32" if "torch/fp32" in embedders else None
    for label in embedders:
        row = rows[label]
        row["encoder_docs_per_s"] = round(statistics.median(speeds[label]), 1)
        if ingests[label]:
            row["ingest_docs_per_s"] = round(statistics.median(ingests[label]), 1)
        if base is not None:
            ratios = [mine / theirs for mine, theirs in zip(speeds[label], speeds[base], strict=True)]
            row["encoder_ratio"] = round(statistics.median(ratios), 2)
            if ingests[label]:
                ratios = [mine / theirs for mine, theirs in zip(ingests[label], ingests[base], strict=True)]
                row["ingest_ratio"] = round(statistics.median(ratios), 2)
            if "mrr10" in row and "mrr10" in rows[base]:
                row["mrr10_delta"] = round(row["mrr10"] - rows[base]["mrr10"], 4)

    # 3. Warm query latency: one question encoded, and a whole reranked search of an index built above.
    for label, embedder in embedders.items():
        engine = EmbeddedEngine(home / f"{label.replace('/', '-')}-0")
        if args.no_ingest:
            break
        search(engine, "bench", bodies[0], embedder=embedder)  # warm the searcher and the encoder
        encode_ms, total_ms, overhead_ms, bm25_ms = [], [], [], []
        for body in bodies[: args.latency_questions]:
            seconds, vector = timed(lambda q=body, e=embedder: e.embed([q]), 1)
            encode_ms.append(seconds * 1000)
            fixed = _Fixed(embedder, vector)  # the same question vector, without encoding it again
            overhead_ms.append(timed(lambda b=body, g=engine, f=fixed: search(g, "bench", b, embedder=f), 1)[0] * 1000)
            total_ms.append(timed(lambda b=body, g=engine, e=embedder: search(g, "bench", b, embedder=e), 1)[0] * 1000)
            bm25_ms.append(timed(lambda b=body, g=engine: search(g, "bench", b, rerank=False), 1)[0] * 1000)
        row = rows[label]
        row["query_encode_ms_p50"] = round(statistics.median(encode_ms), 2)
        row["search_rerank_ms_p50"] = round(statistics.median(total_ms), 2)
        row["search_bm25_only_ms_p50"] = round(statistics.median(bm25_ms), 2)
        row["search_overhead_ms_p50"] = round(statistics.median(overhead_ms), 2)
        engine.close()
    write_results(args, device, hardware_id(device), len(texts), len(questions), list(rows.values()))
    return 0


COLUMNS = [
    ("setting", "setting"),
    ("selected", "selected (auto)"),
    ("full_pass_docs_per_s", "full pass docs/s"),
    ("encoder_docs_per_s", "encoder docs/s"),
    ("encoder_ratio", "x fp32"),
    ("ingest_docs_per_s", "ingest docs/s"),
    ("ingest_ratio", "x fp32"),
    ("mrr10", "MRR@10"),
    ("mrr10_delta", "Δ fp32"),
    ("mrr10_fp32_queries", "MRR@10 fp32 queries"),
    ("cos_to_fp32_mean", "cos fp32 mean"),
    ("cos_to_fp32_min", "cos fp32 min"),
    ("query_encode_ms_p50", "query encode ms"),
    ("search_rerank_ms_p50", "search+rerank ms"),
    ("search_overhead_ms_p50", "search minus encode ms"),
    ("search_bm25_only_ms_p50", "BM25-only ms"),
]


def write_results(
    args: argparse.Namespace, device: str, hardware: str, docs: int, questions: int, rows: list[dict[str, Any]]
) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stem = args.out / f"embedding-{socket.gethostname()}-{device.replace(':', '')}-{stamp}"
    payload = {
        "benchmark": "embedding",
        "command": " ".join(sys.argv),
        "utc": stamp,
        "device": device,
        "hardware": hardware,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "corpus": str(args.corpus),
        "documents": docs,
        "questions": questions,
        "rows": rows,
    }
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# Embedding speed and quality ({device})",
        "",
        f"{docs} BioASQ abstracts, {questions} questions; {hardware}; {os.cpu_count()} CPUs; `{payload['command']}`",
        "",
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['setting']} | unavailable: {row['error']} |" + " |" * (len(COLUMNS) - 2))
            continue
        lines.append("| " + " | ".join(str(row.get(key, "")) for key, _ in COLUMNS) + " |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {stem}.json and .md")


if __name__ == "__main__":
    raise SystemExit(main())
