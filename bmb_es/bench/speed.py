"""``bmb-es bench speed``: ingest throughput, warm query latency, index size and memory, through the product.

Per size: a full :func:`bmb_es.ingest` (read + embed + write) into a fresh embedded engine; the embedding
alone (``embedder.embed`` over the same texts); the BM25 index + vector write alone (``engine.upsert`` +
``commit`` with precomputed vectors); then warm latency of :func:`bmb_es.search` with BM25 only and with
re-ranking (which includes encoding the question, also timed on its own). Sizes beyond the corpus repeat
its documents under new ids (``<id>~r<n>``), and the results say so.

With :attr:`SpeedSettings.embedding` set, the same run also compares every encoder setting (backend/precision)
on the same texts: speed of the encoder alone and of the whole ingest, ratios to torch/fp32, and the retrieval
quality each costs (:mod:`bmb_es.bench.embedding_speed`), under the result's ``embedding_settings`` key.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._document import Document
from .._errors import InputError
from .._ingest import ingest
from .._search import search
from ..embedding import Embedder, EncoderSetting, embed_text, load_embedder
from ..engines import EmbeddedEngine, IndexedDocument, IndexMeta
from ..readers import iter_corpus, plan_corpus
from .embedding_speed import EmbeddingSpeedSettings, resolve_device, run_embedding_speed
from .report import peak_rss_mib

Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class SpeedSettings:
    """What ``bench speed`` measures.

    Parameters
    ----------
    corpus
        A corpus file or folder the product can read.
    sizes
        Document counts of the per-size runs (empty: none, only the per-setting comparison).
    model, device
        The embedding model and torch device (``None``: a GPU when torch sees one).
    queries, repeats, ingest_repeats, top_k, batch_size
        Questions timed, repetitions, full-ingest repetitions, re-ranked candidates, encoder batch (per-size runs).
    embedding
        The per-setting comparison (:mod:`bmb_es.bench.embedding_speed`), or ``None`` to skip it.
    """

    corpus: Path
    sizes: list[int] = field(default_factory=lambda: [1000, 10000, 100000])
    model: str = "default"
    queries: int = 100
    repeats: int = 3
    ingest_repeats: int = 1
    top_k: int = 20
    batch_size: int | None = None  # None: the embedder's default, as bmb-es index uses
    device: str | None = None
    embedding: EmbeddingSpeedSettings | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "corpus": str(self.corpus),
            "sizes": self.sizes,
            "model": self.model,
            "device": self.device,
            "queries": self.queries,
            "repeats": self.repeats,
            "ingest_repeats": self.ingest_repeats,
            "top_k": self.top_k,
            "batch_size": self.batch_size,
            "embedding": self.embedding.to_json() if self.embedding is not None else None,
            "description": (
                f"model {self.model}, batch {self.batch_size or 'embedder default'}, {self.queries} questions "
                f"x {self.repeats} warm passes "
                f"(after one warm-up pass), re-rank top-{self.top_k} -> 10 hits; full ingest and embedding-only runs "
                f"x {self.ingest_repeats}, BM25 index+write-only runs x {self.repeats}; medians reported; "
                "peak RSS is the whole benchmark process so far (model included)"
            ),
        }


def read_documents(corpus: Path) -> tuple[list[Document], float]:
    """The corpus as the product reads it, and the seconds reading took."""
    started = time.perf_counter()
    documents = [record for record in iter_corpus(plan_corpus(corpus, None, None)) if isinstance(record, Document)]
    return documents, time.perf_counter() - started


def scaled(documents: Sequence[Document], size: int) -> list[Document]:
    """``size`` documents: the corpus prefix, or the corpus repeated with new ids ``<id>~r<n>``."""
    if size <= len(documents):
        return list(documents[:size])
    out = list(documents)
    copy = 1
    while len(out) < size:
        out += [replace(doc, id=f"{doc.id}~r{copy}") for doc in documents[: size - len(out)]]
        copy += 1
    return out


def folder_mib(path: Path) -> float:
    return round(sum(item.stat().st_size for item in path.rglob("*") if item.is_file()) / 2**20, 2)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else 0.0


class Precomputed:
    """Vectors computed beforehand, looked up by text: an embedder that costs nothing, to time what is left.

    Parameters
    ----------
    embedder
        The embedder the vectors came from (its name, dimension and setting are reported as its own).
    texts, vectors
        The texts and their vectors, row by row (texts are matched with surrounding whitespace stripped, as
        :func:`bmb_es.search` strips the question).
    """

    def __init__(self, embedder: Embedder, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.name = embedder.name
        self.dimension = embedder.dimension
        self.max_length = embedder.max_length
        self.backend = embedder.backend
        self.precision = embedder.precision
        self.selection = embedder.selection
        self.default_batch_size = embedder.default_batch_size
        self.fast_tokenizer = None  # nothing is tokenised: the vectors are looked up
        self._vectors = dict(zip((text.strip() for text in texts), np.asarray(vectors), strict=True))

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return np.stack([self._vectors[text.strip()] for text in texts])


def _latency(samples: Sequence[Sequence[float]]) -> dict[str, float]:
    """Per pass p50/p95 in ms, then the median over passes."""
    return {
        "p50_ms": round(statistics.median(percentile(s, 50) for s in samples) * 1000, 3),
        "p95_ms": round(statistics.median(percentile(s, 95) for s in samples) * 1000, 3),
        "passes": len(samples),
        "per_pass": len(samples[0]) if samples else 0,
    }


def default_questions(corpus: Path, documents: Sequence[Document], count: int) -> tuple[list[str], str]:
    """BioASQ golden question texts when the corpus sits in the bioasq folder, else document openings."""
    golden = corpus.parent / "golden" if corpus.is_dir() else corpus.parent.parent / "golden"
    if golden.is_dir():
        import json

        texts: list[str] = []
        for path in sorted(golden.glob("*_golden.json")):
            texts += [str(q["body"]) for q in json.loads(path.read_text(encoding="utf-8"))["questions"]]
        if texts:
            return texts[:count], f"the first {min(count, len(texts))} BioASQ golden questions"
    step = max(1, len(documents) // max(1, count))
    openings = [" ".join(embed_text(doc).split()[:12]) for doc in documents[::step][:count]]
    return openings, f"{len(openings)} document openings (first 12 words)"


def _write_only(
    documents: Sequence[Document], vectors: np.ndarray, embedder: Embedder, commit_every: int = 2048
) -> tuple[float, float]:
    """Seconds to upsert + commit precomputed vectors into a fresh index, and its size on disk (MiB)."""
    with tempfile.TemporaryDirectory(prefix="bmb-speed-") as tmp:
        engine = EmbeddedEngine(tmp)
        engine.create_index("speed", IndexMeta(embedder.name, embedder.dimension))
        started = time.perf_counter()
        pending = 0
        for start in range(0, len(documents), 256):
            chunk = documents[start : start + 256]
            engine.upsert(
                "speed",
                [IndexedDocument(doc, doc.content_hash(), vectors[start + i]) for i, doc in enumerate(chunk)],
            )
            pending += len(chunk)
            if pending >= commit_every:
                engine.commit("speed")
                pending = 0
        engine.commit("speed")
        seconds = time.perf_counter() - started
        size = folder_mib(engine.root / "speed")
        engine.close()
    return seconds, size


def golden_top10(engine: EmbeddedEngine, index: str, root: Path, embedder: Embedder, top_k: int) -> dict[str, Any]:
    """Share of golden questions (documents in the corpus) with one of their own abstracts in the top 10."""
    from .datasets import load_bioasq_golden_docs

    dataset = load_bioasq_golden_docs(root)
    found = {"bm25": 0, "rerank": 0}
    for qid, question in dataset.queries.items():
        relevant = set(dataset.qrels[qid])
        for key, rerank in (("bm25", False), ("rerank", True)):
            hits = search(engine, index, question, rerank=rerank, size=10, top_k=top_k, embedder=embedder).hits
            found[key] += any(hit.id in relevant for hit in hits)
    total = len(dataset.queries)
    return {
        "questions": total,
        "corpus_docs": len(dataset.documents),
        "top_k": top_k,
        "bm25": found["bm25"] / total if total else 0.0,
        "rerank": found["rerank"] / total if total else 0.0,
        "bm25_found": found["bm25"],
        "rerank_found": found["rerank"],
    }


def run_speed(settings: SpeedSettings, progress: Progress | None = None) -> dict[str, Any]:
    """Every figure of one ``bench speed`` run: the per-size runs and, when asked, the per-setting comparison.

    Raises
    ------
    NoGpuError
        ``settings.device`` is CUDA and torch sees no GPU (checked before anything is read or loaded).
    """
    report = progress or (lambda label, done, total: None)
    if settings.device is not None:
        resolve_device(settings.device)
    documents, read_seconds = read_documents(settings.corpus)
    if not documents:
        raise InputError(f"{settings.corpus}: no documents read; give a corpus bmb-es index can read")
    questions, question_source = default_questions(settings.corpus, documents, settings.queries)
    notes = [
        f"Corpus: {settings.corpus} ({len(documents)} documents, read in {read_seconds:.2f} s = "
        f"{len(documents) / read_seconds:.0f} docs/s by the product's readers; the read share of ingest docs/s is "
        "scaled from that)."
    ]
    result: dict[str, Any] = {"runs": [], "golden_top10": None, "encoder": None}
    if settings.sizes:
        result.update(_run_sizes(settings, documents, read_seconds, questions, report))
        notes += result.pop("notes")
    notes.append(f"Latency questions: {question_source}.")
    result.update({"notes": notes, "corpus_documents": len(documents)})
    if settings.embedding is not None:
        result["embedding_settings"] = run_embedding_speed(
            documents, settings.corpus, settings.model, settings.device, questions, settings.embedding, report
        )
    return result


def _run_sizes(
    settings: SpeedSettings, documents: Sequence[Document], read_seconds: float, questions: list[str], report: Progress
) -> dict[str, Any]:
    """The per-size runs with the default (``auto``) encoder: ingest, embed only, write only, latency, size."""
    started = time.perf_counter()
    embedder = load_embedder(settings.model, setting=EncoderSetting.parse(device=settings.device))
    load_seconds = time.perf_counter() - started
    read_per_doc = read_seconds / len(documents)
    runs: list[dict[str, Any]] = []
    golden: dict[str, Any] | None = None
    encoder: str | None = None
    for size in settings.sizes:
        docs = scaled(documents, size)
        texts = [embed_text(doc) for doc in docs]
        ingest_times: list[float] = []
        embed_times: list[float] = []
        vectors: np.ndarray | None = None
        with tempfile.TemporaryDirectory(prefix="bmb-speed-") as tmp:
            engine = EmbeddedEngine(tmp)
            for repeat in range(settings.ingest_repeats):
                name = f"speed-{repeat}"
                label = f"{size} docs: ingest {repeat + 1}/{settings.ingest_repeats}"

                def on_progress(summary: Any, label: str = label, size: int = size) -> None:
                    report(label, summary.read, size)

                summary = ingest(docs, engine, name, embedder, batch_size=settings.batch_size, on_progress=on_progress)
                ingest_times.append(summary.seconds)
                encoder = getattr(summary, "encoder", None) or encoder
                report(f"{size} docs: embed only {repeat + 1}/{settings.ingest_repeats}", 0, 1)
                t0 = time.perf_counter()
                vectors = embedder.embed(texts, batch_size=settings.batch_size)
                embed_times.append(time.perf_counter() - t0)
                report(f"{size} docs: embed only {repeat + 1}/{settings.ingest_repeats}", 1, 1)
            assert vectors is not None
            index = f"speed-{settings.ingest_repeats - 1}"
            index_mib = folder_mib(engine.root / index)
            write_times, write_sizes = [], []
            for repeat in range(settings.repeats):
                report(f"{size} docs: BM25 index+write only", repeat, settings.repeats)
                seconds, mib = _write_only(docs, vectors, embedder)
                write_times.append(seconds)
                write_sizes.append(mib)
            report(f"{size} docs: BM25 index+write only", settings.repeats, settings.repeats)
            # What a search costs beyond encoding: the same re-ranked search with the question's vector given.
            given: Embedder = Precomputed(
                embedder, questions, np.asarray(embedder.embed([q.strip() for q in questions]))
            )
            timings: dict[str, list[list[float]]] = {"bm25": [], "rerank": [], "encode": [], "rerank_given": []}
            for warm in range(settings.repeats + 1):
                report(f"{size} docs: query latency", warm, settings.repeats + 1)
                passes: dict[str, list[float]] = {key: [] for key in timings}
                for position, question in enumerate(questions):
                    # An encoder re-run on the input it just saw is faster (OpenVINO keeps the last input's
                    # shape; docs/benchmarks.md has the figures), so the encode timed alone is of
                    # another question, two ahead: no two consecutive encodes are of the same text.
                    other = questions[(position + 2) % len(questions)]
                    t0 = time.perf_counter()
                    search(engine, index, question, rerank=False, size=10, embedder=embedder)
                    t1 = time.perf_counter()
                    search(engine, index, question, rerank=True, size=10, top_k=settings.top_k, embedder=embedder)
                    t2 = time.perf_counter()
                    embedder.embed([other])
                    t3 = time.perf_counter()
                    search(engine, index, question, rerank=True, size=10, top_k=settings.top_k, embedder=given)
                    t4 = time.perf_counter()
                    passes["bm25"].append(t1 - t0)
                    passes["rerank"].append(t2 - t1)
                    passes["encode"].append(t3 - t2)
                    passes["rerank_given"].append(t4 - t3)
                if warm > 0:  # pass 0 warms caches and is not counted
                    for key, values in passes.items():
                        timings[key].append(values)
            report(f"{size} docs: query latency", settings.repeats + 1, settings.repeats + 1)
            is_whole_corpus = size == len(documents)
            if is_whole_corpus and golden is None and (settings.corpus / "golden_question_documents.tsv").is_file():
                report("golden questions top-10", 0, 1)
                golden = golden_top10(engine, index, settings.corpus.parent, embedder, settings.top_k)
                report("golden questions top-10", 1, 1)
            engine.close()
        ingest_s = statistics.median(ingest_times)
        embed_s = statistics.median(embed_times)
        write_s = statistics.median(write_times)
        runs.append(
            {
                "size": size,
                "repeated_documents": size > len(documents),
                "ingest_seconds": [round(t, 3) for t in ingest_times],
                "read_seconds_estimate": round(read_per_doc * size, 3),
                "ingest_docs_per_s": round(size / (ingest_s + read_per_doc * size), 2),
                "embed_seconds": [round(t, 3) for t in embed_times],
                "embed_only_docs_per_s": round(size / embed_s, 2),
                "write_seconds": [round(t, 3) for t in write_times],
                "write_only_docs_per_s": round(size / write_s, 2),
                "index_size_mib": index_mib,
                "write_only_index_size_mib": statistics.median(write_sizes),
                "bm25": _latency(timings["bm25"]),
                "rerank": _latency(timings["rerank"]),
                "encode": _latency(timings["encode"]),
                "rerank_given_vector": _latency(timings["rerank_given"]),
                "peak_rss_mib": peak_rss_mib(),
            }
        )
    notes = [
        f"Model {embedder.name} ({embedder.dimension}-d) loaded in {load_seconds:.1f} s (not in any figure)"
        + (f"; encoder: {encoder}." if encoder else "."),
    ]
    if any(run["repeated_documents"] for run in runs):
        notes.append(
            "Sizes above the corpus size repeat its documents under new ids (<id>~r<n>): same text, so BM25 term "
            "statistics and embeddings repeat too."
        )
    if golden is None and (settings.corpus / "golden_question_documents.tsv").is_file():
        notes.append(f"Golden top-10 fractions need a size equal to the corpus ({len(documents)}).")
    return {"runs": runs, "golden_top10": golden, "notes": notes, "encoder": encoder}
