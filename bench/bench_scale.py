"""How the embedded engine grows from 10k to 1M documents, against raw tantivy and bm25s (the "scale" issue).

    nice -n 10 python bench/bench_scale.py --sizes 10000,100000
    nice -n 10 python bench/bench_scale.py --sizes 1000000 --steps corpus,ingest,size,optimize,cold,queries
    nice -n 10 python bench/bench_scale.py --sizes 10000,100000,1000000 --steps merge-setup,merge,tantivy,bm25s

Every invocation keeps each step's result in ``--work`` (``steps/<size>-<step>.json``) and then reports every size
of ``--sizes`` from what is kept there, so a size too long for one run is measured in two (each run stays short)
and still reported as one. ``--code DIR`` runs the steps with the ``bmb_es`` package found in ``DIR`` (e.g. a
``git archive`` of an earlier commit), which is how before/after figures of a fix are taken on the same corpus.

Corpus
    Real sentences, recombined with one fixed seed (:data:`SEED`). The pools: the 2,753 BioASQ PubMed abstracts
    (``bioasq/pubmed/pubmed_abstracts.jsonl``; first sentence = a title, the rest split at sentence ends), the
    1,000 BREATHE records of ``breathe-sample`` (title; abstract split at sentence ends) and the 6,353 NFCorpus
    dev+test documents (lower-cased and stop-worded at the source, without punctuation: the first 10 words are a
    title, the rest cut into pieces of 20 words). Document ``n`` (id ``scale-NNNNNNN``) draws one of these 10,106
    real documents, keeps its source and its sentence count ``k``, and becomes a random title of that source
    with ``k`` random sentences of that source as its abstract. The draws come from one
    ``numpy.random.default_rng(SEED)`` stream in blocks of 8,192 documents, so every size is a prefix of the larger
    ones. Lengths follow the real documents, and a common word's document frequency grows linearly with the size
    as in real text; the vocabulary does not grow (it stays that of the ~10k sources, where a real million
    abstracts holds several times more distinct terms), so the term dictionaries are smaller than real ones.
Vectors
    A fast stand-in for the model (:class:`HashVectors`): 384-d float32 unit vectors, each value a splitmix64 hash
    of the BLAKE2b hash of the embedded text and the dimension (random unit vectors keyed by text). It costs a few
    µs per document (``embed_s`` in the ingest row), so ingest docs/s measure the engine without embedding.
Questions
    ``--questions`` (200) drawn with the seed from the BioASQ 4B-7B golden question bodies and the NFCorpus test
    title queries. Their vectors are computed before any timing and handed to ``bmb_es.search`` by an embedder
    that returns them (:class:`GivenVectors`), so ``rerank``/``hybrid``/``dense`` figures exclude encoding.
Steps (per size, each in its own child process, niceness inherited)
    ``corpus`` writes ``corpus-<size>.jsonl``; ``ingest``: ``bmb_es.ingest`` of it into a fresh embedded index
    (default commit pacing, ``optimize=False`` so that the next step measures the optimize ``bmb-es index`` would
    run); ``size``: the folder split into tantivy / vectors / sources / other, against the raw text (UTF-8 title
    + abstract) plus raw vectors; ``optimize``; ``cold``: a fresh process importing bmb_es, opening the index and
    answering its first BM25, re-ranked and dense search (the page cache holds what the earlier steps left of the
    files; on a busy machine the kernel may have evicted part of them, which the first searches then read back);
    ``queries``: warm p50/p95 of ``bmb_es.search`` per mode (``bm25``, ``rerank`` = the default, ``hybrid`` and
    ``dense`` with exact kNN over every vector), the BM25 leg of ``rerank`` inside tantivy alone with and without
    counting the matches, and the ``bm25`` and ``rerank`` modes timed in turn with the ``bm25`` leg in tantivy
    alone (see :func:`paired_bm25`: what the engine adds over tantivy, and the re-rank over BM25, under the same
    load; the re-rank target is read from these); ``knn-copy`` / ``knn-mmap``: the exact kNN's scoring alone,
    from a copy of every live vector in memory (what the engine did) against chunks of the memory map of
    ``vectors.f32`` (what it does now);
    ``merge-setup`` ingests the two halves of the corpus into two indices, and ``merge`` times ``bmb-es merge`` of
    them into one; ``compact``: a tenth of the documents re-indexed unchanged, then ``bmb-es optimize --compact``
    (time, peak RSS, record files before and after);
    ``tantivy``: the same texts in a raw tantivy index with a default schema (title and abstract
    with the ``default`` tokenizer: no stemming, no stop words; one writer thread and the engine's 128 MB heap)
    and its BM25 latency (``parse_query_lenient`` over both fields, top 10 ids); ``bm25s``: index build and
    single-question latency of ``bm25s`` (its own tokenizer, English stop words, no stemmer: PyStemmer is not
    installed).
Memory
    Peak RSS per step is the child's ``ru_maxrss`` from ``os.wait4``: it counts the pages of memory-mapped files
    the step touched (record files, tantivy's segments), which the kernel can drop under pressure. The child also
    samples ``RssAnon`` (heap and other private memory) from ``/proc/self/status`` every 10 ms (100 ms while
    timing queries) and reports its peak. Children run under ``RLIMIT_DATA`` = ``--memory-cap-gib``, so a peer
    that needs too much fails with MemoryError instead of waking the OOM killer on a shared machine.
Threads
    Children run numpy's BLAS with ``--blas-threads`` (1) threads. On this project's 2-core VM, shared with other
    jobs, OpenBLAS's two threads made one 10k x 384 matrix-vector product take 8 ms instead of 0.5 ms (a thread
    waits for the other to be scheduled), which buried the kNN figures in noise.

Writes ``bench/results/scale-<UTC time>.json``, ``.md`` and ``.png`` (growth against size) and prints the Markdown.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from bmb_es.query import Mode

REPO = Path(__file__).resolve().parents[1]
INDEX = "scale"
DIMENSION = 384
SEED = 20261205
MODEL_NAME = "bench-scale/hash-384"
BLOCK = 8192  # documents drawn per block of the corpus stream (see the module docstring)
STEPS: tuple[str, ...] = (
    "corpus",
    "ingest",
    "size",
    "optimize",
    "cold",
    "queries",
    "knn-copy",
    "knn-mmap",
    "merge-setup",
    "merge",
    "compact",
    "tantivy",
    "bm25s",
    "cluster",
)
MODES: tuple[Mode, ...] = ("bm25", "rerank", "hybrid", "dense")
KNN_CHUNK = 65_536  # rows scored at a time by the memory-mapped variant (the engine's _live.CHUNK)
WARM_UP = 20  # questions searched before each mode is timed
KNN_QUESTIONS = 60  # questions timed by the knn-copy and knn-mmap steps (a scan of every vector each)
MIB = 1 << 20
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# -- the vector stand-in ------------------------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def unit_vectors(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """One 384-d unit vector per text, a pure function of the text (splitmix64 of its BLAKE2b hash per dimension)."""
    keys = np.array(
        [int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") for text in texts],
        dtype=np.uint64,
    ).reshape(len(texts), 1)
    lanes = (np.arange(1, DIMENSION + 1, dtype=np.uint64) * _GOLDEN).reshape(1, DIMENSION)
    mixed = keys + lanes  # uint64 arrays wrap around, as splitmix64 wants
    mixed = (mixed ^ (mixed >> np.uint64(30))) * _MIX1
    mixed = (mixed ^ (mixed >> np.uint64(27))) * _MIX2
    mixed = mixed ^ (mixed >> np.uint64(31))
    values = (mixed >> np.uint64(40)).astype(np.float32) / np.float32(1 << 23) - np.float32(1.0)
    norms = np.sqrt(np.add.reduce(values * values, axis=1, keepdims=True))
    return np.asarray(values / norms, dtype=np.float32)


class HashVectors:
    """The model's stand-in at ingest: :func:`unit_vectors` of each text; ``seconds`` adds up the time it took."""

    name = MODEL_NAME
    dimension = DIMENSION
    max_length = 256
    backend = "bench"
    precision = "fp32"
    selection = "bench stand-in (hashed unit vectors)"
    default_batch_size = 1024
    fast_tokenizer = None

    def __init__(self) -> None:
        self.seconds = 0.0

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> npt.NDArray[np.float32]:
        started = time.perf_counter()
        vectors = unit_vectors(texts)
        self.seconds += time.perf_counter() - started
        return vectors


class GivenVectors:
    """The question encoder at search time: returns vectors computed before any timing (encoding excluded)."""

    name = MODEL_NAME
    dimension = DIMENSION
    max_length = 256

    def __init__(self, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
        self.vectors = vectors

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> npt.NDArray[np.float32]:
        return np.stack([self.vectors[text] for text in texts])


# -- corpus and questions -----------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


@dataclass(slots=True)
class Source:
    """One real collection's pools: titles, sentences, and the sentence count of each of its documents."""

    name: str
    titles: list[str]
    sentences: list[str]
    counts: list[int]


def load_sources(data: Path) -> list[Source]:
    """The three sentence pools of the module docstring, read from ``data`` (``../shared/data``)."""
    pubmed = Source("bioasq-pubmed", [], [], [])
    with open(data / "bioasq" / "pubmed" / "pubmed_abstracts.jsonl", encoding="utf-8") as handle:
        for line in handle:
            parts = _SENTENCE_END.split(str(json.loads(line)["text"]).strip())
            if len(parts) >= 2:
                pubmed.titles.append(parts[0])
                pubmed.sentences.extend(parts[1:])
                pubmed.counts.append(len(parts) - 1)
    breathe = Source("breathe-sample", [], [], [])
    for path in sorted((data / "breathe-sample").rglob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                parts = _SENTENCE_END.split(str(record.get("abstract") or "").strip())
                if str(record.get("title") or "").strip() and parts and parts[0]:
                    breathe.titles.append(str(record["title"]).strip())
                    breathe.sentences.extend(parts)
                    breathe.counts.append(len(parts))
    nfcorpus = Source("nfcorpus", [], [], [])
    for name in ("dev.docs", "test.docs"):
        with open(data / "nfcorpus" / name, encoding="utf-8") as handle:
            for line in handle:
                words = line.split("\t", 1)[-1].split()
                pieces = [" ".join(words[start : start + 20]) for start in range(10, len(words), 20)]
                if pieces:
                    nfcorpus.titles.append(" ".join(words[:10]))
                    nfcorpus.sentences.extend(pieces)
                    nfcorpus.counts.append(len(pieces))
    return [pubmed, breathe, nfcorpus]


def write_corpus(path: Path, size: int, sources: Sequence[Source]) -> dict[str, Any]:
    """Write ``size`` recombined documents as JSON Lines (``id``, ``title``, ``abstract``); return what was written."""
    owners = np.array([number for number, source in enumerate(sources) for _ in source.counts])
    counts = np.array([count for source in sources for count in source.counts])
    rng = np.random.default_rng(SEED)
    text_bytes = 0
    partial = path.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        for start in range(0, size, BLOCK):
            picks = rng.integers(len(counts), size=BLOCK)  # whole blocks: each size is a prefix of larger ones
            lines = []
            for number, pick in enumerate(picks[: min(BLOCK, size - start)].tolist()):
                source = sources[int(owners[pick])]
                title = source.titles[int(rng.integers(len(source.titles)))]
                chosen = rng.integers(len(source.sentences), size=int(counts[pick])).tolist()
                abstract = " ".join(source.sentences[index] for index in chosen)
                text_bytes += len(title.encode()) + len(abstract.encode())
                record = {"id": f"scale-{start + number:07d}", "title": title, "abstract": abstract}
                lines.append(json.dumps(record, ensure_ascii=False))
            handle.write("\n".join(lines) + "\n")
    partial.replace(path)
    return {"documents": size, "text_bytes": text_bytes, "file_bytes": path.stat().st_size, "seed": SEED}


def load_questions(data: Path, count: int) -> list[str]:
    """``count`` questions drawn with the seed from BioASQ golden bodies and NFCorpus test titles."""
    pool: set[str] = set()
    for path in sorted((data / "bioasq" / "golden").glob("*_golden.json")):
        for question in json.loads(path.read_text(encoding="utf-8"))["questions"]:
            pool.add(str(question["body"]).strip())
    with open(data / "nfcorpus" / "test.titles.queries", encoding="utf-8") as handle:
        pool.update(line.split("\t", 1)[-1].strip() for line in handle)
    ordered = sorted(text for text in pool if text)
    picks = np.random.default_rng(SEED).choice(len(ordered), size=min(count, len(ordered)), replace=False)
    return [ordered[int(index)] for index in picks]


def corpus_path(work: Path, size: int) -> Path:
    return work / f"corpus-{size}.jsonl"


def iter_records(path: Path) -> Iterator[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


# -- measuring ---------------------------------------------------------------------------------------------------


class MemorySampler:
    """Samples this process's ``RssAnon`` and ``RssFile`` (``/proc/self/status``) in a thread; keeps the peaks."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.anon_kib = 0
        self.file_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            with open("/proc/self/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("RssAnon:"):
                        self.anon_kib = max(self.anon_kib, int(line.split()[1]))
                    elif line.startswith("RssFile:"):
                        self.file_kib = max(self.file_kib, int(line.split()[1]))
        except OSError:
            pass

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95 and mean of ``samples`` (seconds) in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": statistics.median(ordered) * 1e3,
        "p95_ms": p95 * 1e3,
        "mean_ms": statistics.fmean(ordered) * 1e3,
    }


def timed(calls: Sequence[Callable[[], object]]) -> list[float]:
    """Seconds each call took."""
    samples = []
    for call in calls:
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


# -- steps (each runs in a child process) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepContext:
    size: int
    work: Path
    data: Path
    questions: int
    cluster_url: str = ""

    @property
    def home(self) -> Path:
        return self.work / f"home-{self.size}"

    @property
    def folder(self) -> Path:
        return self.home / "indices" / INDEX

    @property
    def corpus(self) -> Path:
        return corpus_path(self.work, self.size)


def step_corpus(ctx: StepContext) -> dict[str, Any]:
    meta_path = ctx.corpus.with_suffix(".json")
    if ctx.corpus.is_file() and meta_path.is_file():
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        if meta.get("seed") == SEED and meta.get("documents") == ctx.size:
            return {**meta, "reused": True}
    started = time.perf_counter()
    sources = load_sources(ctx.data)
    meta = write_corpus(ctx.corpus, ctx.size, sources)
    meta["seconds"] = time.perf_counter() - started
    meta["sources"] = {source.name: len(source.counts) for source in sources}
    meta_path.write_text(json.dumps(meta))
    return meta


def step_ingest(ctx: StepContext) -> dict[str, Any]:
    from bmb_es import EmbeddedEngine, ingest
    from bmb_es.readers import read_corpus

    shutil.rmtree(ctx.home, ignore_errors=True)
    engine = EmbeddedEngine(ctx.home)
    embedder = HashVectors()
    started = time.perf_counter()
    summary = ingest(read_corpus(ctx.corpus), engine, INDEX, embedder, optimize=False)
    wall = time.perf_counter() - started
    segments = engine.segments(INDEX)
    engine.close()
    return {
        "documents": summary.read,
        "indexed": summary.indexed,
        "seconds": summary.seconds,
        "wall_s": wall,
        "docs_per_s": summary.read / wall,
        "embed_s": embedder.seconds,
        "segments": segments,
    }


def step_optimize(ctx: StepContext) -> dict[str, Any]:
    from bmb_es import EmbeddedEngine

    engine = EmbeddedEngine(ctx.home)
    started = time.perf_counter()
    before, after = engine.optimize(INDEX)
    seconds = time.perf_counter() - started
    engine.close()
    return {"seconds": seconds, "segments_before": before, "segments_after": after, "documents": ctx.size}


def step_cold(ctx: StepContext) -> dict[str, Any]:
    started = time.perf_counter()
    import bmb_es

    imported = time.perf_counter()
    questions = load_questions(ctx.data, 3)
    embedder = GivenVectors(dict(zip(questions, unit_vectors(questions), strict=True)))
    engine = bmb_es.EmbeddedEngine(ctx.home)
    firsts: dict[str, float] = {}
    firsts_of: tuple[Mode, ...] = ("bm25", "rerank", "dense")
    for mode, question in zip(firsts_of, questions, strict=True):
        begun = time.perf_counter()
        bmb_es.search(engine, INDEX, question, mode=mode, embedder=embedder)
        firsts[f"first_{mode}_ms"] = (time.perf_counter() - begun) * 1e3
    begun = time.perf_counter()
    bmb_es.search(engine, INDEX, questions[0], mode="dense", embedder=embedder)
    firsts["second_dense_ms"] = (time.perf_counter() - begun) * 1e3
    return {"import_s": imported - started, **firsts}


def step_queries(ctx: StepContext) -> dict[str, Any]:
    import bmb_es
    from bmb_es._analysis import tantivy_analyzer
    from bmb_es.engines.embedded._query import text_query
    from bmb_es.query import QuerySpec, SearchPlan

    questions = load_questions(ctx.data, ctx.questions)
    vectors = dict(zip(questions, unit_vectors(questions), strict=True))
    embedder = GivenVectors(vectors)
    engine = bmb_es.EmbeddedEngine(ctx.home)
    result: dict[str, Any] = {"questions": len(questions)}
    begun = time.perf_counter()
    bmb_es.search(engine, INDEX, questions[0], mode="dense", embedder=embedder)
    result["first_dense_s"] = time.perf_counter() - begun  # reads every live vector's address (the kNN cache)
    for mode in MODES:

        def run(question: str, mode: Mode = mode) -> Callable[[], object]:
            return lambda: bmb_es.search(engine, INDEX, question, mode=mode, embedder=embedder)

        timed([run(question) for question in questions[:WARM_UP]])
        result[mode] = percentiles(timed([run(question) for question in questions]))
    # The BM25 leg of the default mode (top 100) inside tantivy alone: what the postings cost, and what counting
    # every match adds (the engine counts them for the response's total).
    opened = engine._opened(INDEX)
    searcher = opened.searcher()
    schema = opened.tantivy_view().index.schema
    analyzer = tantivy_analyzer()
    fields = opened.searchable_fields()
    queries = []
    postings = []
    for question in questions:
        plan = SearchPlan.build(question, vectors[question], QuerySpec(), "rerank")
        query = text_query(schema, analyzer, plan.legs[0], fields)
        if query is None:
            continue
        queries.append(query)
        tokens = list(analyzer.analyze(question))
        postings.append(sum(int(searcher.doc_freq(field, token)) for field in fields for token in tokens))
    for label, count in (("tantivy_count", True), ("tantivy_no_count", False)):

        def bare(query: Any, count: bool = count) -> Callable[[], object]:
            return lambda: searcher.search(query, limit=100, count=count).hits

        timed([bare(query) for query in queries[:WARM_UP]])
        result[label] = percentiles(timed([bare(query) for query in queries]))
    result["postings_mean"] = statistics.fmean(postings) if postings else 0.0
    result.update(paired_bm25(engine, questions, schema, analyzer, fields, searcher, embedder))
    return result


def paired_bm25(
    engine: Any,
    questions: Sequence[str],
    schema: Any,
    analyzer: Any,
    fields: frozenset[str],
    searcher: Any,
    embedder: GivenVectors,
) -> dict[str, Any]:
    """The ``bm25`` mode, the ``rerank`` mode, and the ``bm25`` mode's own leg (top 10) in tantivy alone: its
    dis_max counting every match and not, and each field's top 10 merged (what the engine runs when it need not
    count, ``_query.top_hits``; absent for code from before it, ``--code``).

    Timed question by question in turn, so that a busy machine slows them alike: the differences are what the
    engine adds over tantivy and what the re-rank adds over BM25, and the not-counted figures what tantivy itself
    needs on this machine.
    """
    import bmb_es
    from bmb_es.engines.embedded import _query
    from bmb_es.query import QuerySpec, SearchPlan

    per_field = getattr(_query, "top_hits", None)
    labels = ["bm25_paired", "rerank_paired", "tantivy_bm25_count", "tantivy_bm25_no_count"]
    if per_field is not None:
        labels.append("tantivy_fields_no_count")
    samples: dict[str, list[float]] = {label: [] for label in labels}
    for round_number in range(2):  # the first round warms up
        for question in questions:
            leg = SearchPlan.build(question, None, QuerySpec(), "bm25").legs[0]
            query = _query.text_query(schema, analyzer, leg, fields)
            if query is None:
                continue
            clauses = _query.field_clauses(schema, analyzer, leg, fields) if per_field is not None else None
            for label in samples:
                started = time.perf_counter()
                if label == "bm25_paired":
                    bmb_es.search(engine, INDEX, question, mode="bm25")
                elif label == "rerank_paired":
                    bmb_es.search(engine, INDEX, question, mode="rerank", embedder=embedder)
                elif label == "tantivy_fields_no_count" and per_field is not None:
                    per_field(searcher, query, clauses, leg.tie_breaker, leg.size)
                else:
                    _ = searcher.search(query, limit=leg.size, count=label == "tantivy_bm25_count").hits
                if round_number:
                    samples[label].append(time.perf_counter() - started)
    result: dict[str, Any] = {label: percentiles(values) for label, values in samples.items() if values}
    result["uncounted_share"] = uncounted_share(engine, questions, analyzer, fields, searcher)
    return result


def uncounted_share(
    engine: Any, questions: Sequence[str], analyzer: Any, fields: frozenset[str], searcher: Any
) -> float | None:
    """The share of ``questions`` whose ``bm25`` search the engine answers without counting its matches (total
    10,000, relation "gte"); ``None`` for code from before it stopped counting (``--code``)."""
    try:
        from bmb_es.engines.embedded._execute import surely_past_count
    except ImportError:
        return None
    from bmb_es.query import QuerySpec, SearchPlan

    opened = engine._opened(INDEX)
    skipped = [
        surely_past_count(
            opened, searcher, analyzer, SearchPlan.build(question, None, QuerySpec(), "bm25").legs[0], fields
        )
        for question in questions
    ]
    return sum(skipped) / len(skipped) if skipped else None


def _live_rows(ctx: StepContext) -> tuple[npt.NDArray[np.int64], Any]:
    """Every live document's vector row, in address order, and the index's record reader."""
    import tantivy

    from bmb_es.engines.embedded._open_index import OpenIndex
    from bmb_es.engines.embedded._store import ROW_FIELD

    opened = OpenIndex(ctx.folder)
    searcher = opened.searcher()
    total = int(searcher.num_docs)
    rows: list[int] = []
    for offset in range(0, total, 65_536):
        page = searcher.search(tantivy.Query.all_query(), limit=65_536, count=False, offset=offset).hits
        rows.extend(searcher.fast_field_values(ROW_FIELD, [address for _, address in page]))
    return np.asarray(rows, dtype=np.int64), opened.record_reader()


def step_knn_copy(ctx: StepContext) -> dict[str, Any]:
    """Exact kNN scoring from a copy of every live vector (the engine's ``live_vectors`` before the fix)."""
    questions = load_questions(ctx.data, min(ctx.questions, KNN_QUESTIONS))
    targets = unit_vectors(questions)
    started = time.perf_counter()
    rows, records = _live_rows(ctx)
    matrix = records.vectors(rows.tolist())
    norms = np.sqrt(np.add.reduce(matrix * matrix, axis=1))
    built = time.perf_counter() - started

    def score(target: npt.NDArray[np.float32]) -> Callable[[], object]:
        return lambda: (matrix @ target) / (norms * float(np.linalg.norm(target)))

    timed([score(target) for target in targets[:WARM_UP]])
    return {"build_s": built, **percentiles(timed([score(target) for target in targets])), "rows": len(rows)}


def step_knn_mmap(ctx: StepContext) -> dict[str, Any]:
    """Exact kNN scoring over the memory map of ``vectors.f32``, in chunks of :data:`KNN_CHUNK` rows."""
    questions = load_questions(ctx.data, min(ctx.questions, KNN_QUESTIONS))
    targets = unit_vectors(questions)
    started = time.perf_counter()
    rows, _ = _live_rows(ctx)
    mapped = np.memmap(ctx.folder / "vectors.f32", dtype="<f4", mode="r")
    table = mapped.reshape(-1, DIMENSION)
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    spans: list[tuple[int, int, bool]] = []  # (start, end) in ordered, and whether its rows are contiguous
    for start in range(0, len(ordered), KNN_CHUNK):
        end = min(start + KNN_CHUNK, len(ordered))
        spans.append((start, end, int(ordered[end - 1] - ordered[start]) == end - start - 1))
    norms = np.empty(len(ordered), dtype=np.float32)
    for start, end, _ in spans:
        block = np.asarray(table[ordered[start:end]])
        norms[start:end] = np.sqrt(np.add.reduce(block * block, axis=1))
    built = time.perf_counter() - started

    def score(target: npt.NDArray[np.float32], gather: bool) -> Callable[[], object]:
        def run() -> object:
            out = np.empty(len(ordered), dtype=np.float32)
            for start, end, contiguous in spans:
                if contiguous and not gather:
                    block = table[int(ordered[start]) : int(ordered[end - 1]) + 1]
                else:
                    block = table[ordered[start:end]]
                out[start:end] = block @ target
            return out / (norms * float(np.linalg.norm(target)))

        return run

    result: dict[str, Any] = {"build_s": built, "rows": len(rows)}
    result["contiguous_chunks"] = sum(1 for *_, contiguous in spans if contiguous) / max(len(spans), 1)
    for label, gather in (("slices", False), ("gather", True)):
        timed([score(target, gather) for target in targets[:WARM_UP]])
        result[label] = percentiles(timed([score(target, gather) for target in targets]))
    return result


def step_merge_setup(ctx: StepContext) -> dict[str, Any]:
    from bmb_es import EmbeddedEngine, ingest
    from bmb_es.readers import read_corpus

    home = ctx.work / f"merge-{ctx.size}"
    shutil.rmtree(home, ignore_errors=True)
    engine = EmbeddedEngine(home)
    started = time.perf_counter()
    records = read_corpus(ctx.corpus)
    first = ingest(islice(records, ctx.size // 2), engine, "half-a", HashVectors())
    second = ingest(records, engine, "half-b", HashVectors())
    engine.close()
    return {"seconds": time.perf_counter() - started, "halves": [first.read, second.read]}


def step_merge(ctx: StepContext) -> dict[str, Any]:
    from bmb_es import EmbeddedEngine
    from bmb_es._api import merge_indices

    class TimedEngine(EmbeddedEngine):
        optimize_seconds = 0.0

        def optimize(self, name: str, batch: int = 1024) -> tuple[int, int]:
            started = time.perf_counter()
            try:
                return super().optimize(name, batch)
            finally:
                self.optimize_seconds += time.perf_counter() - started

    engine = TimedEngine(ctx.work / f"merge-{ctx.size}")
    started = time.perf_counter()
    summary = merge_indices(["half-a", "half-b"], "merged", engine=engine)
    seconds = time.perf_counter() - started
    count = engine.count("merged")
    engine.close()
    return {
        "seconds": seconds,
        "optimize_s": engine.optimize_seconds,
        "written": summary.written,
        "count": count,
        "segments": list(summary.segments) if summary.segments else None,
    }


def step_compact(ctx: StepContext) -> dict[str, Any]:
    """A tenth of the documents re-indexed unchanged (their old rows become dead), then ``optimize --compact``.

    The index keeps its contents; the re-indexed documents move to the end of tantivy's address order, which only
    changes the order of equal scores. Peak RSS covers both parts (the re-index holds one batch at a time).
    """
    from bmb_es import EmbeddedEngine

    engine = EmbeddedEngine(ctx.home)
    ids = [record["id"] for record in islice(iter_records(ctx.corpus), ctx.size // 10)]
    started = time.perf_counter()
    for start in range(0, len(ids), BLOCK):
        engine.upsert(INDEX, list(engine.get(INDEX, ids[start : start + BLOCK]).values()))
        engine.commit(INDEX)
    reindexed = time.perf_counter() - started
    engine.close()
    rows, live = engine.record_rows(INDEX)
    started = time.perf_counter()
    summary = engine.compact(INDEX)
    seconds = time.perf_counter() - started
    after = engine.record_rows(INDEX)
    engine.close()
    return {
        "seconds": seconds,
        "reindex_s": reindexed,
        "reindexed": len(ids),
        "rows_before": rows,
        "rows_after": after[0],
        "documents": summary.documents,
        "live_before": live,
        "bytes_before": summary.bytes_before,
        "bytes_after": summary.bytes_after,
    }


def step_tantivy(ctx: StepContext) -> dict[str, Any]:
    import tantivy

    folder = ctx.work / f"tantivy-{ctx.size}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title")
    builder.add_text_field("abstract")
    index = tantivy.Index(builder.build(), path=str(folder))
    writer = index.writer(heap_size=128_000_000, num_threads=1)
    started = time.perf_counter()
    for record in iter_records(ctx.corpus):
        writer.add_document(tantivy.Document(id=record["id"], title=record["title"], abstract=record["abstract"]))
    writer.commit()
    writer.wait_merging_threads()
    built = time.perf_counter() - started
    index.reload()
    searcher = index.searcher()
    questions = load_questions(ctx.data, ctx.questions)

    def search(question: str) -> Callable[[], object]:
        def run() -> object:
            query, _ = index.parse_query_lenient(question, ["title", "abstract"])
            hits = searcher.search(query, 10).hits
            return [searcher.doc(address)["id"][0] for _, address in hits]

        return run

    timed([search(question) for question in questions[:WARM_UP]])
    result = percentiles(timed([search(question) for question in questions]))
    return {
        "build_s": built,
        "docs_per_s": ctx.size / built,
        "segments": int(searcher.num_segments),
        "index_bytes": folder_bytes(folder),
        **result,
    }


def step_bm25s(ctx: StepContext) -> dict[str, Any]:
    import bm25s

    texts = [f"{record['title']} {record['abstract']}" for record in iter_records(ctx.corpus)]
    started = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords="en", show_progress=False)
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    built = time.perf_counter() - started
    del tokens
    questions = load_questions(ctx.data, ctx.questions)

    def search(question: str) -> Callable[[], object]:
        def run() -> object:
            query = bm25s.tokenize([question], stopwords="en", return_ids=False, show_progress=False)
            known = [[token for token in query[0] if token in model.vocab_dict]] if query else [[]]
            if not known[0]:
                return None
            return model.retrieve(known, k=10, show_progress=False)

        return run

    timed([search(question) for question in questions[:WARM_UP]])
    result = percentiles(timed([search(question) for question in questions]))
    return {"build_s": built, "docs_per_s": ctx.size / built, **result}


CLUSTER_RUNS: tuple[tuple[int, str, bool, int], ...] = (
    # (documents per bulk request, refresh_interval while writing, ingest commits (refreshes) as by default, writers)
    (500, "default", True, 1),
    (500, "-1", True, 1),
    (2000, "default", True, 1),
    (2000, "-1", True, 1),
    (2000, "-1", False, 1),
    (2000, "-1", False, 2),
)


def step_cluster(ctx: StepContext) -> dict[str, Any]:
    """``bmb_es.ingest`` of the corpus into a real OpenSearch node, per :data:`CLUSTER_RUNS` setting."""
    from opensearchpy.helpers import streaming_bulk

    from bmb_es import IndexMeta
    from bmb_es._ingest import Shard
    from bmb_es.engines import ClusterConfig
    from bmb_es.engines._opensearch import OpenSearchEngine

    class SizedBulk(OpenSearchEngine):
        """The engine with the documents per bulk request set (the client's helper sends 500 by default)."""

        bulk_documents = 500

        def _streaming_bulk(self, actions: Sequence[dict[str, Any]], **kwargs: Any) -> Iterator[tuple[bool, Any]]:
            found: Iterator[tuple[bool, Any]] = streaming_bulk(
                self.client, actions, chunk_size=self.bulk_documents, max_chunk_bytes=1 << 30, **kwargs
            )
            return found

    config = ClusterConfig.from_env({"BMB_OS_URL": ctx.cluster_url})
    if config is None:
        raise SystemExit("--cluster-url is needed for the cluster step")
    runs = []
    for bulk, refresh, commits, writers in CLUSTER_RUNS:
        engines = [SizedBulk.connect(config) for _ in range(writers)]
        for engine in engines:
            assert isinstance(engine, SizedBulk)
            engine.bulk_documents = bulk
        main = engines[0]
        name = f"bmb-scale-{bulk}-{'norefresh' if refresh == '-1' else 'refresh'}-{writers}"
        if main.exists(name):
            main.delete_index(name)
        main.create_index(name, IndexMeta(MODEL_NAME, DIMENSION))
        client = main.client
        if refresh == "-1":
            client.indices.put_settings(index=name, body={"index": {"refresh_interval": "-1"}})
        every = None if commits else 10**9  # 10**9: ingest commits (refreshes) only at its end
        started = time.perf_counter()
        threads = [
            threading.Thread(
                target=_cluster_write,
                args=(ctx.corpus, engine, name, bulk, every, Shard(number, writers) if writers > 1 else None),
            )
            for number, engine in enumerate(engines)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if refresh == "-1":
            client.indices.put_settings(index=name, body={"index": {"refresh_interval": None}})
        main.commit(name)
        seconds = time.perf_counter() - started
        stats = client.indices.stats(index=name, metric="store,docs,segments")["indices"][name]["primaries"]
        run: dict[str, Any] = {
            "bulk_documents": bulk,
            "refresh_interval": refresh,
            "ingest_commits": "default" if commits else "at the end",
            "writers": writers,
            "documents": int(stats["docs"]["count"]),
            "seconds": seconds,
            "docs_per_s": ctx.size / seconds,
            "store_bytes": int(stats["store"]["size_in_bytes"]),
            "segments": int(stats["segments"]["count"]),
        }
        # Segments left small are merged later, in the background: a force merge to one segment puts that work
        # (HNSW graphs rebuilt) in the figures, so settings that defer it do not look faster than they are.
        begun = time.perf_counter()
        client.indices.forcemerge(index=name, max_num_segments=1, request_timeout=1800)
        main.commit(name)
        run["forcemerge_s"] = time.perf_counter() - begun
        run["docs_per_s_merged"] = ctx.size / (seconds + run["forcemerge_s"])
        after = client.indices.stats(index=name, metric="store")["indices"][name]["primaries"]
        run["store_bytes_merged"] = int(after["store"]["size_in_bytes"])
        main.delete_index(name)
        for engine in engines:
            engine.close()
        runs.append(run)
        print(f"    cluster: {run}", file=sys.stderr, flush=True)
    return {"url": ctx.cluster_url, "runs": runs, "node": _node_line(config)}


def _cluster_write(corpus: Path, engine: Any, name: str, bulk: int, every: int | None, shard: Any) -> None:
    """One writer of the cluster step: ``bmb_es.ingest`` of its shard of the corpus, a bulk request per chunk."""
    from bmb_es import ingest
    from bmb_es.readers import read_corpus

    ingest(read_corpus(corpus), engine, name, HashVectors(), chunk_size=bulk, commit_every=every, shard=shard)


def _node_line(config: Any) -> str:
    """The OpenSearch node's version and heap, for the report."""
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[config.url])
    try:
        version = client.info()["version"]["number"]
        nodes = client.nodes.stats(metric="jvm")["nodes"]
        heap = max(node["jvm"]["mem"]["heap_max_in_bytes"] for node in nodes.values())
        return f"OpenSearch {version}, {len(nodes)} node(s), heap {heap / (1 << 30):.1f} GiB"
    finally:
        client.close()


CHILD_STEPS: dict[str, Callable[[StepContext], dict[str, Any]]] = {
    "corpus": step_corpus,
    "ingest": step_ingest,
    "optimize": step_optimize,
    "cold": step_cold,
    "queries": step_queries,
    "knn-copy": step_knn_copy,
    "knn-mmap": step_knn_mmap,
    "merge-setup": step_merge_setup,
    "merge": step_merge,
    "compact": step_compact,
    "tantivy": step_tantivy,
    "bm25s": step_bm25s,
    "cluster": step_cluster,
}
QUIET_STEPS = frozenset({"cold", "queries", "knn-copy", "knn-mmap", "tantivy", "bm25s"})  # sampled every 100 ms


def child_main(step: str, ctx: StepContext, out: Path) -> None:
    """Run one step in this (child) process and write its result to ``out``."""
    with MemorySampler(0.1 if step in QUIET_STEPS else 0.01) as sampler:
        result = CHILD_STEPS[step](ctx)
    result["peak_anon_mib"] = sampler.anon_kib / 1024
    result["peak_file_mib"] = sampler.file_kib / 1024
    try:
        import bmb_es

        result["code"] = str(Path(bmb_es.__file__).resolve().parent.parent)
    except ImportError:
        result["code"] = None
    out.write_text(json.dumps(result))


# -- the parent: running steps, the size step, the report ---------------------------------------------------------


def step_file(work: Path, size: int, step: str) -> Path:
    return work / "steps" / f"{size}-{step}.json"


def run_step(step: str, ctx: StepContext, code: Path | None, cap_gib: int, blas_threads: int) -> dict[str, Any]:
    """Run ``step`` in a child process; its result with wall time and peak RSS (``ru_maxrss``) added."""
    out = step_file(ctx.work, ctx.size, step)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    if step == "size":
        result = size_step(ctx)
        out.write_text(json.dumps(result))
        return result
    command = [sys.executable, str(Path(__file__).resolve()), "--child", step, "--sizes", str(ctx.size)]
    command += ["--work", str(ctx.work), "--data", str(ctx.data), "--questions", str(ctx.questions)]
    command += ["--cluster-url", ctx.cluster_url]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(item for item in (str(code or REPO), env.get("PYTHONPATH")) if item)
    for name in BLAS_THREAD_VARIABLES:
        env[name] = str(blas_threads)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (cap_gib << 30, cap_gib << 30))

    print(f"[{time.strftime('%H:%M:%S')}] {ctx.size:,}: {step} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, preexec_fn=limit_memory)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0 or not out.is_file():
        result = {"error": f"exit {process.returncode}", "process_wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024}
    else:
        result = json.loads(out.read_text())
        result.update(process_wall_s=wall, peak_rss_mib=usage.ru_maxrss / 1024)
    result["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.write_text(json.dumps(result))
    print(f"    {json.dumps(result)[:400]}", file=sys.stderr, flush=True)
    return result


def size_step(ctx: StepContext) -> dict[str, Any]:
    """The index folder on disk, by part, against the raw text and the raw vectors."""
    folder = ctx.folder
    tantivy_bytes = folder_bytes(folder / "tantivy")
    vectors = (folder / "vectors.f32").stat().st_size
    sources = (folder / "sources.jsonl").stat().st_size
    total = folder_bytes(folder)
    corpus = json.loads(ctx.corpus.with_suffix(".json").read_text())
    raw = int(corpus["text_bytes"]) + ctx.size * DIMENSION * 4
    return {
        "tantivy_bytes": tantivy_bytes,
        "vectors_bytes": vectors,
        "sources_bytes": sources,
        "other_bytes": total - tantivy_bytes - vectors - sources,
        "total_bytes": total,
        "text_bytes": corpus["text_bytes"],
        "raw_bytes": raw,
        "ratio_to_raw": total / raw,
    }


def load_steps(work: Path, sizes: Sequence[int]) -> dict[int, dict[str, dict[str, Any]]]:
    found: dict[int, dict[str, dict[str, Any]]] = {}
    for size in sizes:
        found[size] = {}
        for step in STEPS:
            path = step_file(work, size, step)
            if path.is_file():
                found[size][step] = json.loads(path.read_text())
    return found


def _get(steps: dict[str, dict[str, Any]], step: str, *keys: str) -> Any:
    value: Any = steps.get(step)
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if isinstance(numerator, int | float) and isinstance(denominator, int | float) and denominator:
        return float(numerator) / float(denominator)
    return None


def _mib(value: Any) -> float | None:
    return float(value) / MIB if isinstance(value, int | float) else None


def growth_rows(results: dict[int, dict[str, dict[str, Any]]]) -> list[list[Any]]:
    rows = []
    for size, steps in sorted(results.items()):
        rows.append(
            [
                f"{size:,}",
                _get(steps, "ingest", "docs_per_s"),
                _get(steps, "ingest", "peak_rss_mib"),
                _mib(_get(steps, "size", "total_bytes")),
                _get(steps, "size", "ratio_to_raw"),
                _get(steps, "queries", "bm25", "p50_ms"),
                _get(steps, "queries", "bm25", "p95_ms"),
                _get(steps, "queries", "rerank", "p50_ms"),
                _get(steps, "queries", "rerank", "p95_ms"),
                _get(steps, "queries", "hybrid", "p50_ms"),
                _get(steps, "queries", "hybrid", "p95_ms"),
                _get(steps, "optimize", "seconds"),
                _get(steps, "optimize", "peak_rss_mib"),
                _get(steps, "merge", "seconds"),
                _get(steps, "merge", "peak_rss_mib"),
                _get(steps, "cold", "process_wall_s"),
            ]
        )
    return rows


GROWTH_HEADERS = [
    "documents",
    "ingest docs/s",
    "ingest peak RSS MiB",
    "index MiB",
    "index / (text + vectors)",
    "BM25 p50 ms",
    "BM25 p95",
    "rerank p50 ms",
    "rerank p95",
    "hybrid p50 ms",
    "hybrid p95",
    "optimize s",
    "optimize peak RSS MiB",
    "merge s",
    "merge peak RSS MiB",
    "cold process s",
]


def detail_tables(results: dict[int, dict[str, dict[str, Any]]]) -> str:
    from bmb_es.bench.report import md_table

    memory_rows = []
    for size, steps in sorted(results.items()):
        for step in (
            "ingest",
            "optimize",
            "merge",
            "compact",
            "queries",
            "cold",
            "knn-copy",
            "knn-mmap",
            "tantivy",
            "bm25s",
        ):
            if step in steps and "error" not in steps[step]:
                found = steps[step]
                memory_rows.append(
                    [
                        f"{size:,}",
                        step,
                        found.get("peak_rss_mib"),
                        found.get("peak_anon_mib"),
                        found.get("peak_file_mib"),
                    ]
                )
            elif step in steps:
                memory_rows.append([f"{size:,}", step, steps[step].get("peak_rss_mib"), steps[step]["error"], None])
    size_rows = [
        [
            f"{size:,}",
            _mib(_get(steps, "size", "tantivy_bytes")),
            _mib(_get(steps, "size", "vectors_bytes")),
            _mib(_get(steps, "size", "sources_bytes")),
            _mib(_get(steps, "size", "other_bytes")),
            _mib(_get(steps, "size", "total_bytes")),
            _mib(_get(steps, "size", "text_bytes")),
            _mib(_get(steps, "size", "raw_bytes")),
            _get(steps, "size", "ratio_to_raw"),
        ]
        for size, steps in sorted(results.items())
    ]
    query_rows = []
    for size, steps in sorted(results.items()):
        queries = steps.get("queries", {})
        postings = queries.get("postings_mean")
        count_p50 = _get(steps, "queries", "tantivy_count", "p50_ms")
        query_rows.append(
            [
                f"{size:,}",
                *(_get(steps, "queries", mode, "p50_ms") for mode in MODES),
                _get(steps, "queries", "dense", "p95_ms"),
                count_p50,
                _get(steps, "queries", "tantivy_no_count", "p50_ms"),
                postings,
                _ratio(count_p50 * 1e3 if count_p50 is not None else None, (postings or 0) / 1e3),
                _get(steps, "queries", "first_dense_s"),
            ]
        )
    cold_rows = [
        [
            f"{size:,}",
            _get(steps, "cold", "process_wall_s"),
            _get(steps, "cold", "import_s"),
            _get(steps, "cold", "first_bm25_ms"),
            _get(steps, "cold", "first_rerank_ms"),
            _get(steps, "cold", "first_dense_ms"),
            _get(steps, "cold", "second_dense_ms"),
        ]
        for size, steps in sorted(results.items())
    ]
    work_rows = [
        [
            f"{size:,}",
            _get(steps, "ingest", "wall_s"),
            _get(steps, "ingest", "embed_s"),
            _get(steps, "ingest", "segments"),
            _get(steps, "optimize", "seconds"),
            _get(steps, "optimize", "segments_before"),
            _get(steps, "merge", "seconds"),
            _get(steps, "merge", "optimize_s"),
            _get(steps, "merge-setup", "seconds"),
            _get(steps, "compact", "seconds"),
            _get(steps, "compact", "peak_rss_mib"),
            _mib(_get(steps, "compact", "bytes_before")),
            _mib(_get(steps, "compact", "bytes_after")),
        ]
        for size, steps in sorted(results.items())
    ]
    knn_rows = [
        [
            f"{size:,}",
            _get(steps, "knn-copy", "p50_ms"),
            _get(steps, "knn-copy", "peak_rss_mib"),
            _get(steps, "knn-copy", "peak_anon_mib"),
            _get(steps, "knn-mmap", "slices", "p50_ms"),
            _get(steps, "knn-mmap", "gather", "p50_ms"),
            _get(steps, "knn-mmap", "peak_rss_mib"),
            _get(steps, "knn-mmap", "peak_anon_mib"),
            _get(steps, "knn-mmap", "contiguous_chunks"),
        ]
        for size, steps in sorted(results.items())
    ]
    peer_rows = []
    for size, steps in sorted(results.items()):
        ours = _get(steps, "queries", "bm25", "p50_ms")
        raw = _get(steps, "tantivy", "p50_ms")
        other = _get(steps, "bm25s", "p50_ms")
        peer_rows.append(
            [
                f"{size:,}",
                ours,
                raw,
                _get(steps, "tantivy", "p95_ms"),
                _ratio(ours, raw),
                _get(steps, "tantivy", "docs_per_s"),
                _get(steps, "tantivy", "segments"),
                _mib(_get(steps, "tantivy", "index_bytes")),
                other,
                _get(steps, "bm25s", "p95_ms"),
                _ratio(ours, other),
                _get(steps, "bm25s", "build_s"),
                _get(steps, "bm25s", "docs_per_s"),
                _get(steps, "bm25s", "peak_rss_mib") if "error" not in steps.get("bm25s", {}) else "failed",
            ]
        )
    cluster_rows = []
    nodes = set()
    for size, steps in sorted(results.items()):
        found = steps.get("cluster", {})
        if found.get("node"):
            nodes.add(str(found["node"]))
        for run in found.get("runs", []):
            merged = run.get("store_bytes_merged")
            cluster_rows.append(
                [
                    f"{size:,}",
                    run["bulk_documents"],
                    run["refresh_interval"],
                    run["ingest_commits"],
                    run["writers"],
                    run["docs_per_s"],
                    run.get("forcemerge_s"),
                    run.get("docs_per_s_merged"),
                    run["segments"],
                    _mib(run["store_bytes"]),
                    run["store_bytes"] / max(run["documents"], 1),
                    merged / max(run["documents"], 1) if merged else None,
                ]
            )
    cluster = (
        [
            f"### Cluster ingest (`bmb_es.ingest` into {', '.join(sorted(nodes)) or 'OpenSearch'})\n",
            "Vectors given (the stand-in), one bulk request per ingest chunk; `ingest commits` = ingest's own "
            "refresh every 2,048 documents or 2 s (default) or only at its end.\n",
            md_table(
                [
                    "documents",
                    "docs per bulk",
                    "refresh_interval",
                    "ingest commits",
                    "writers",
                    "docs/s to searchable",
                    "force merge s",
                    "docs/s with the merge",
                    "segments before it",
                    "store MiB",
                    "store bytes/doc",
                    "bytes/doc after force merge",
                ],
                cluster_rows,
            ),
        ]
        if cluster_rows
        else []
    )
    return "\n".join(
        [
            "### Peak memory per step (MiB)\n",
            "RSS = the child's `ru_maxrss` (counts touched pages of memory-mapped files); anon = peak sampled "
            "`RssAnon` (private memory); file = peak sampled `RssFile` (mapped files, reclaimable).\n",
            md_table(["documents", "step", "peak RSS", "peak anon", "peak file"], memory_rows),
            "### Index on disk (MiB)\n",
            md_table(
                ["documents", "tantivy", "vectors", "sources", "other", "total", "raw text", "text + vectors", "ratio"],
                size_rows,
            ),
            "### Warm queries (ms; vectors given, encoding excluded)\n",
            "`tantivy` columns: the BM25 leg of the default mode (top 100) inside tantivy alone, counting every match "
            "(as the engine did for the total until it stopped counting past 10,000 matches) or not; postings = mean "
            "document frequencies summed over the "
            "question's terms and the searched fields; µs/1k postings = counted tantivy p50 per thousand postings.\n",
            md_table(
                [
                    "documents",
                    *(f"{mode} p50" for mode in MODES),
                    "dense p95",
                    "tantivy, counted p50",
                    "tantivy, not counted p50",
                    "postings",
                    "µs / 1k postings",
                    "first dense s",
                ],
                query_rows,
            ),
            "### Cold start (a fresh process; page cache as the earlier steps left it)\n",
            md_table(
                [
                    "documents",
                    "process wall s",
                    "import bmb_es s",
                    "first BM25 ms",
                    "first rerank ms",
                    "first dense ms",
                    "second dense ms",
                ],
                cold_rows,
            ),
            "### Writing\n",
            md_table(
                [
                    "documents",
                    "ingest wall s",
                    "stand-in embed s",
                    "segments after ingest",
                    "optimize s",
                    "segments before optimize",
                    "merge s",
                    "of which optimize s",
                    "halves ingest s",
                    "compact s (a tenth re-indexed first)",
                    "compact peak RSS MiB",
                    "record MiB before compact",
                    "after",
                ],
                work_rows,
            ),
            "### Exact kNN scoring alone: a copy of every vector vs the memory map (ms per question)\n",
            md_table(
                [
                    "documents",
                    "copy p50",
                    "copy peak RSS",
                    "copy peak anon",
                    "mmap slices p50",
                    "mmap gather p50",
                    "mmap peak RSS",
                    "mmap peak anon",
                    "contiguous chunks",
                ],
                knn_rows,
            ),
            "### Peers (same texts)\n",
            md_table(
                [
                    "documents",
                    "ours BM25 p50",
                    "raw tantivy p50",
                    "raw tantivy p95",
                    "ours / tantivy",
                    "tantivy build docs/s",
                    "tantivy segments",
                    "tantivy MiB",
                    "bm25s p50",
                    "bm25s p95",
                    "ours / bm25s",
                    "bm25s build s",
                    "bm25s build docs/s",
                    "bm25s peak RSS MiB",
                ],
                peer_rows,
            ),
            *cluster,
        ]
    )


TARGETS: tuple[tuple[str, str, float], ...] = (
    ("BM25 p50 ≤ 5 ms", "bm25_p50", 5.0),
    ("re-rank adds ≤ 1 ms (rerank p50 - BM25 p50, timed in turn, vectors given)", "rerank_added", 1.0),
    ("ingest peak RSS ≤ 1.5 GB", "ingest_rss_gb", 1.5),
    ("optimize peak RSS ≤ 1.5 GB", "optimize_rss_gb", 1.5),
    ("merge peak RSS ≤ 1.5 GB", "merge_rss_gb", 1.5),
    ("index ≤ 2 x (raw text + vectors)", "size_ratio", 2.0),
)


PAIRED = ("bm25_paired", "tantivy_bm25_count", "tantivy_bm25_no_count")  # see paired_bm25


def target_values(steps: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    bm25 = _get(steps, "queries", "bm25", "p50_ms")
    rerank = _get(steps, "queries", "rerank", "p50_ms")
    if _get(steps, "queries", "rerank_paired", "p50_ms") is not None:  # timed in turn: the load slows both alike
        bm25 = _get(steps, "queries", "bm25_paired", "p50_ms")
        rerank = _get(steps, "queries", "rerank_paired", "p50_ms")

    def gigabytes(step: str) -> float | None:
        value = _get(steps, step, "peak_rss_mib")
        return float(value) * MIB / 1e9 if isinstance(value, int | float) else None

    return {
        "bm25_p50": _get(steps, "queries", "bm25", "p50_ms"),
        "rerank_added": rerank - bm25 if rerank is not None and bm25 is not None else None,
        "ingest_rss_gb": gigabytes("ingest"),
        "optimize_rss_gb": gigabytes("optimize"),
        "merge_rss_gb": gigabytes("merge"),
        "size_ratio": _get(steps, "size", "ratio_to_raw"),
    }


def targets_table(results: dict[int, dict[str, dict[str, Any]]]) -> tuple[str, list[dict[str, Any]]]:
    from bmb_es.bench.report import md_table

    largest = max(results)
    values = target_values(results[largest])
    rows = []
    verdicts = []
    for label, key, limit in TARGETS:
        value = values[key]
        met = None if value is None else value <= limit
        rows.append([label, value, "not measured" if met is None else ("met" if met else "NOT met")])
        verdicts.append({"target": label, "value": value, "limit": limit, "met": met, "documents": largest})
    paired = [_get(results[largest], "queries", key, "p50_ms") for key in PAIRED]
    context = ""
    if all(isinstance(value, int | float) for value in paired):
        ours, counted, bare = paired
        share = _get(results[largest], "queries", "uncounted_share")
        skipped = (
            f"the engine left the matches of {share:.0%} of the questions uncounted (one of their words alone "
            "matches more than 10,000 documents: total 10,000, relation gte, as Elasticsearch reports it) and "
            "counted the others"
            if isinstance(share, int | float)
            else "the engine counted every match (code from before it stopped counting past 10,000)"
        )
        context = (
            f"\nThe BM25 mode and its own leg (top 10) in tantivy alone, question by question in turn (p50 ms): "
            f"ours {ours:.3f}, tantivy's dis_max not counting the matches {bare:.3f}, counting every match "
            f"{counted:.3f}; {skipped}."
        )
        fields_p50 = _get(results[largest], "queries", "tantivy_fields_no_count", "p50_ms")
        if isinstance(fields_p50, int | float):  # the engine's own searches when it need not count
            context += (
                f" Uncounted, the engine searches each field alone and merges their top 10 (the best field's top 10 "
                f"holds every hit of the dis_max's): {fields_p50:.3f} ms in tantivy alone, so the engine adds "
                f"{ours - fields_p50:.3f} ms over the tantivy searches it runs."
            )
        else:
            context += (
                f" The engine adds {ours - bare:.3f} ms over tantivy not counting ({ours - counted:+.3f} ms against "
                "tantivy counting)."
            )
        rerank = _get(results[largest], "queries", "rerank_paired", "p50_ms")
        if isinstance(rerank, int | float):
            context += (
                f" The `rerank` mode, timed in the same turns: {rerank:.3f} ms, {rerank - ours:.3f} ms over BM25."
            )
        context += "\n"
    table = md_table(["target", "measured", "verdict"], rows)
    return f"### Targets at {largest:,} documents\n\n" + table + context, verdicts


def plot(results: dict[int, dict[str, dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    figure, axes = plt.subplots(2, 2, figsize=(12, 9))

    def line(axis: Any, label: str, values: list[Any]) -> None:
        points = [(size, value) for size, value in zip(sizes, values, strict=True) if isinstance(value, int | float)]
        if points:
            axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)

    latency = axes[0][0]
    for mode in MODES:
        line(latency, f"{mode} p50", [_get(results[size], "queries", mode, "p50_ms") for size in sizes])
    line(latency, "raw tantivy p50", [_get(results[size], "tantivy", "p50_ms") for size in sizes])
    line(latency, "bm25s p50", [_get(results[size], "bm25s", "p50_ms") for size in sizes])
    latency.set_title("warm query latency (ms, vectors given)")
    memory = axes[0][1]
    for step in ("ingest", "optimize", "merge", "queries", "bm25s"):
        line(memory, f"{step} peak RSS", [_get(results[size], step, "peak_rss_mib") for size in sizes])
        line(memory, f"{step} peak anon", [_get(results[size], step, "peak_anon_mib") for size in sizes])
    memory.set_title("peak memory per step (MiB)")
    disk = axes[1][0]
    for part in ("tantivy", "vectors", "sources", "total"):
        line(disk, part, [_mib(_get(results[size], "size", f"{part}_bytes")) for size in sizes])
    line(disk, "raw text + vectors", [_mib(_get(results[size], "size", "raw_bytes")) for size in sizes])
    disk.set_title("index on disk (MiB)")
    work = axes[1][1]
    line(work, "ingest", [_get(results[size], "ingest", "wall_s") for size in sizes])
    line(work, "optimize", [_get(results[size], "optimize", "seconds") for size in sizes])
    line(work, "merge", [_get(results[size], "merge", "seconds") for size in sizes])
    line(work, "cold process", [_get(results[size], "cold", "process_wall_s") for size in sizes])
    line(work, "bm25s build", [_get(results[size], "bm25s", "build_s") for size in sizes])
    work.set_title("seconds")
    for axis in (latency, memory, disk, work):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("documents")
        axis.grid(True, which="both", alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def report(args: argparse.Namespace, sizes: list[int], argv: list[str] | None) -> None:
    from bmb_es.bench.report import envelope, machine_line, md_table, write_results
    from bmb_es.bench.scripts import command_line

    results = {size: steps for size, steps in load_steps(args.work, sizes).items() if steps}
    if not results:
        print("nothing measured yet", file=sys.stderr)
        return
    settings = {
        "sizes": sizes,
        "work": str(args.work),
        "questions": args.questions,
        "seed": SEED,
        "dimension": DIMENSION,
        "code": str(args.code or REPO),
        "steps_run": args.steps,
        "blas_threads": args.blas_threads,
    }
    payload = envelope("scale", command_line("bench_scale.py", argv), settings)
    payload["results"] = {str(size): steps for size, steps in results.items()}
    targets, verdicts = targets_table(results)
    payload["targets"] = verdicts
    created = payload["created"]
    png = args.out / f"scale-{created.replace(':', '')}.png"
    markdown = "\n".join(
        [
            f"## Scale (`bench/bench_scale.py`), {created}\n",
            f"Command: `{payload['command']}` (step results from {args.work}; each step's time is in the JSON)\n",
            machine_line(payload) + "\n",
            "Recombined real sentences, 384-d stand-in vectors, questions' vectors given (encoding excluded); "
            "each step in its own process. See the script's docstring for the corpus recipe and what each "
            "figure is.\n",
            "### Growth\n",
            md_table(GROWTH_HEADERS, growth_rows(results)),
            targets,
            detail_tables(results),
            f"![growth against size]({png.name})\n",
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, png)
    json_path, md_path = write_results(args.out, "scale", payload, markdown)
    print(markdown)
    print(f"wrote {json_path}, {md_path} and {png}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="Document counts, comma-separated")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"Steps to run (default all): {', '.join(STEPS)}")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bmb-scale"), help="Corpora, indices, step results")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--code", type=Path, default=None, help="Run the steps with the bmb_es package in this folder")
    parser.add_argument("--memory-cap-gib", type=int, default=12, help="RLIMIT_DATA of each step's process")
    parser.add_argument(
        "--blas-threads", type=int, default=1, help="OpenBLAS/OpenMP threads of each step's process (see docstring)"
    )
    parser.add_argument("--cluster-url", default="", help="An OpenSearch node for the cluster step (else skipped)")
    parser.add_argument("--keep", action="store_true", help="Keep the merge and raw tantivy indices")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(item) for item in args.sizes.split(",") if item]
    if args.child is not None:
        ctx = StepContext(sizes[0], args.work, args.data, args.questions, args.cluster_url)
        child_main(args.child, ctx, step_file(args.work, sizes[0], args.child))
        return 0
    steps = [step for step in args.steps.split(",") if step]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps: {', '.join(unknown)}")
    if not (args.data / "bioasq" / "pubmed").is_dir():
        parser.error(f"{args.data}: the shared data folder is needed (bioasq, breathe-sample, nfcorpus)")
    for size in sizes:
        ctx = StepContext(size, args.work, args.data, args.questions, args.cluster_url)
        for step in STEPS:
            if step in steps and (step != "cluster" or args.cluster_url):
                run_step(step, ctx, args.code, args.memory_cap_gib, args.blas_threads)
        if not args.keep:  # the big leftovers, once the step that reads them has run
            for step, leftover in (("merge", f"merge-{size}"), ("tantivy", f"tantivy-{size}")):
                if step in steps:
                    shutil.rmtree(args.work / leftover, ignore_errors=True)
    report(args, sizes, argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
