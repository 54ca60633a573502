"""Ingest: stream records, embed them in batches, upsert them with their vectors, commit as we go.

Guarantees (see DESIGN.md):

* every record read is indexed or written to the reject log with file, line and reason; a document that fails
  here (an id or text no engine can store) is a reject too, never the end of the run;
* ids are stable, so re-running is an upsert, never a duplicate; ids over 512 UTF-8 bytes are replaced by a hash
  of themselves for every engine alike (see :meth:`Document.bounded`);
* every value a reader coerced (wrong type, invalid UTF-8, lone surrogate) and every hashed id is counted in
  ``IngestSummary.coerced``;
* commits happen every ``commit_every`` documents (by default every 2,048 documents or 2 seconds, whichever
  comes later); a killed run loses at most the uncommitted tail, and re-running skips documents already stored
  with the same content (no re-embedding) and writes the rest.

Speed: a reader thread parses the corpus into a bounded queue of chunks while the encoder works (torch and
OpenVINO release the GIL), each chunk is embedded in length-sorted batches (see :mod:`bmb_es.embedding`) in a
worker thread while the previous chunk is written, and
``shard=Shard(i, n)`` lets ``n`` processes or machines each take a deterministic, disjoint part of a corpus.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ._document import Document
from ._errors import InputError
from ._json import fields_json
from ._run_ids import RunIds
from .embedding import DEFAULT_EMBED_FIELDS, EmbedderLike, Vectors, as_embedder, embed_text
from .engines import EmbeddedEngine, Engine, IndexedDocument, IndexMeta
from .readers import Reject

ProgressCallback = Callable[["IngestSummary"], None]


@dataclass(slots=True)
class IngestSummary:
    """What an ingest run did. ``read`` = ``indexed + updated + unchanged + duplicates + rejected + unwritten``.

    ``indexed`` and ``updated`` count documents written and committed; ``unwritten`` those of an interrupted run
    that were read but not written (a re-run writes them). A chunk cut short while being written may be partly
    committed: it counts as unwritten, and a re-run finds those documents unchanged.

    ``coerced`` counts the values changed to make records indexable, per note (see ``Document.coerced``), in
    ``coerced_records`` records; those records are counted in ``read`` like any other.
    """

    index: str
    read: int = 0
    indexed: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: int = 0
    embedded: int = 0
    seconds: float = 0.0
    reject_log: str | None = None
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    encoder: str | None = None  # how vectors were computed, e.g. "openvino bf16 (auto: mean cosine ...)"
    segments: tuple[int, int] | None = None  # embedded engine: (before, after) when the run optimized the index
    optimize_seconds: float = 0.0
    retries: int = 0  # documents a cluster refused with back-pressure and that were sent again
    unwritten: int = 0  # interrupted: documents read and due to be written, but not written
    coerced: dict[str, int] = field(default_factory=dict)
    coerced_records: int = 0

    @property
    def docs_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return fields_json(
            self,
            seconds=round(self.seconds, 3),
            skipped_files=[{"file": name, "reason": why} for name, why in self.skipped_files],
            segments=list(self.segments) if self.segments else None,
            optimize_seconds=round(self.optimize_seconds, 3),
            coerced=dict(sorted(self.coerced.items())),
            docs_per_second=round(self.docs_per_second, 2),
        )


class RejectLog:
    """JSON Lines of rejected records, created on the first reject only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def write(self, reject: Reject) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Held open across writes. A file name that is not UTF-8 holds lone surrogates: written as \udcXX
            # escapes, they read back as the same name (os.fsencode) instead of failing the run.
            self._handle = open(self.path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        self._handle.write(json.dumps(reject.to_json(), ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


@dataclass(frozen=True, slots=True)
class Shard:
    """Part ``index`` of ``count`` (0-based): the records whose stable id hashes to ``index`` modulo ``count``.

    The shards of one ``count`` partition any corpus: every record falls in exactly one, on every machine and
    in every run (SHA-1 of the id, not Python's salted ``hash``). Rejects are assigned by file and line, so
    each is logged by exactly one shard.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise InputError(f"shard {self.index}/{self.count}: need 0 <= i < n, e.g. --shard 0/4")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"i/n"`` as a Shard."""
        index, sep, count = text.partition("/")
        try:
            if not sep:
                raise ValueError(text)
            return cls(int(index), int(count))
        except ValueError:
            raise InputError(f"--shard {text!r}: expected i/n with integers, e.g. --shard 0/4") from None

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, record: Document | Reject) -> bool:
        key = record.id if isinstance(record, Document) else f"{record.file}\0{record.line}"
        return shard_of(key, self.count) == self.index


def shard_of(key: str, count: int) -> int:
    """The shard of ``key`` among ``count``: stable across processes, machines and Python versions."""
    # surrogatepass: a file name or id that is not valid UTF-8 must not stop the run (valid keys are unchanged).
    return int.from_bytes(hashlib.sha1(key.encode("utf-8", "surrogatepass")).digest()[:8], "big") % count


_DONE = object()


@dataclass(slots=True)
class _Job:
    """A chunk's documents due to be written, their vectors being computed, and how many are new or updates.

    The counts reach the summary only once the chunk is written, so an interrupted run never counts a document
    the index does not hold.
    """

    pending: list[tuple[Document, str]]
    vectors: Future[Vectors]
    new: int
    updated: int


def prefetch(
    chunks: Iterable[list[Document | Reject]], depth: int = 2
) -> Generator[list[Document | Reject], None, None]:
    """Iterate ``chunks`` produced by a reader thread up to ``depth`` ahead, so parsing overlaps encoding.

    Errors in the reader are raised here, in order; closing this iterator (e.g. Ctrl-C) stops the reader.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
        except BaseException as error:  # handed to the consumer, which re-raises it
            put(error)
            return
        put(_DONE)

    reader = threading.Thread(target=read, name="bmb-es-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


# Default commit pacing: a commit costs about as much as writing a couple of thousand documents, so a fast encoder
# (a GPU) commits by time rather than many times a second, and a CPU encoder by count. The measurements behind
# both numbers: docs/benchmarks.md, "Where the defaults come from".
COMMIT_DOCUMENTS = 2048
COMMIT_SECONDS = 2.0


def _chunks(records: Iterable[Document | Reject], size: int) -> Generator[list[Document | Reject], None, None]:
    chunk: list[Document | Reject] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def ingest(
    records: Iterable[Document | Reject],
    engine: Engine,
    index: str,
    embedder: EmbedderLike,
    *,
    embed_fields: Sequence[str] = DEFAULT_EMBED_FIELDS,
    batch_size: int | None = None,
    chunk_size: int = 1024,
    commit_every: int | None = None,
    reject_log: Path | None = None,
    on_progress: ProgressCallback | None = None,
    shard: Shard | None = None,
    read_ahead: int = 2,
    optimize: bool = True,
) -> IngestSummary:
    """Embed and write ``records`` into ``index`` (created if missing) and return the counts.

    Parameters
    ----------
    records
        Documents and rejects, e.g. from :func:`bmb_es.readers.read_corpus`.
    engine, index
        Where to write. The index is created for ``embedder``; an existing one must have been built with it.
    embedder
        The model that embeds ``embed_fields`` of each document: an :class:`~bmb_es.embedding.Embedder`, or any
        :class:`~bmb_es.embedding.EmbedderLike` (its backend and precision are then recorded as not known).
    batch_size
        Texts per encoder batch; ``None``: the embedder's ``default_batch_size`` (16 OpenVINO, 32 torch CPU, 512 GPU).
    chunk_size
        Records looked up, embedded and written together; texts of a chunk are sorted by token count into
        batches (length bucketing), so bigger chunks waste less padding. Order and ids are kept.
    commit_every
        Documents between commits (durable resume points); ``None``: every :data:`COMMIT_DOCUMENTS` documents or
        :data:`COMMIT_SECONDS` seconds, whichever comes later.
    reject_log
        JSON Lines file for rejects; ``None`` drops them after counting (the CLI always gives one).
    on_progress
        Called with the running summary after each chunk.
    shard
        Index only this shard's records (see :class:`Shard`); the summary counts only them.
    read_ahead
        Chunks a reader thread parses ahead of the encoder; ``0`` reads in this thread.
    optimize
        Embedded engine: when the run wrote at least a quarter of the index and left more than one segment,
        rewrite it into one (see :meth:`~bmb_es.EmbeddedEngine.optimize`: faster searches, for about the time
        BM25 indexing of the whole index takes). Counted in the run's time.
    """
    complete = as_embedder(embedder)
    meta = IndexMeta(
        complete.name, complete.dimension, tuple(embed_fields), backend=complete.backend, precision=complete.precision
    )
    size = batch_size if batch_size is not None else complete.default_batch_size
    if shard is not None:
        records = (record for record in records if shard.holds(record))
    engine.create_index(index, meta)
    engine.index_meta(index).check_compatible(index, embedder.name, embedder.dimension)
    summary = IngestSummary(index=index, reject_log=str(reject_log) if reject_log else None)
    summary.encoder = complete.selection
    log = RejectLog(reject_log) if reject_log else None
    seen = RunIds()  # what this run met: the index's stored hashes cannot tell a duplicate from unchanged
    since_commit = 0
    retries_before = engine.write_retries
    started = last_commit = time.perf_counter()
    chunks = _chunks(records, max(1, min(chunk_size, commit_every or chunk_size)))
    stream = prefetch(chunks, read_ahead) if read_ahead > 0 else chunks
    # Each chunk is embedded in a worker thread while the previous one is written, so the encoder does not wait
    # for writes (torch, OpenVINO and the tokenizers release the GIL while they compute). One worker: two
    # embed() calls at once would only compete for the same cores (and OpenVINO deadlocks on it).
    encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bmb-es-embed")
    jobs: deque[_Job] = deque()

    def write() -> None:
        """Write the oldest job, then count it (it leaves ``jobs`` once written, whatever happens next)."""
        nonlocal since_commit, last_commit
        job = jobs[0]
        engine.upsert(
            index,
            [
                IndexedDocument(doc, digest, vector)
                for (doc, digest), vector in zip(job.pending, job.vectors.result(), strict=True)
            ],
        )
        jobs.popleft()
        summary.indexed += job.new
        summary.updated += job.updated
        summary.embedded += len(job.pending)
        summary.retries = engine.write_retries - retries_before
        since_commit += len(job.pending)
        if commit_every is not None:
            due = since_commit >= commit_every
        else:
            due = since_commit >= COMMIT_DOCUMENTS and time.perf_counter() - last_commit >= COMMIT_SECONDS
        if due:
            engine.commit(index)
            seen.settle(keep={document.id for queued in jobs for document, _ in queued.pending})
            since_commit = 0
            last_commit = time.perf_counter()

    try:
        for chunk in stream:
            pending, new, updated = _classify(chunk, engine, index, seen, summary, log)
            if pending:
                texts = [embed_text(document, embed_fields) for document, _ in pending]
                jobs.append(_Job(pending, encoder.submit(embedder.embed, texts, batch_size=size), new, updated))
            while len(jobs) > 1:  # the previous chunk is written while this one is embedded
                write()
            summary.seconds = time.perf_counter() - started
            if on_progress is not None:
                on_progress(summary)
        while jobs:
            write()
    except KeyboardInterrupt:
        summary.interrupted = True
        summary.unwritten = sum(job.new + job.updated for job in jobs)  # read, but not in the index
    finally:
        stream.close()  # stops the reader thread
        encoder.shutdown(wait=False, cancel_futures=True)  # an interrupted chunk's vectors are not needed
        # Whatever was written is committed, on success and on Ctrl-C alike; a hard kill loses only this tail.
        engine.commit(index)
        if log is not None:
            log.close()
    if optimize and not summary.interrupted:
        try:
            optimize_index(engine, index, summary)
        except KeyboardInterrupt:  # every document is committed; the rewrite was rolled back
            summary.interrupted = True
    summary.seconds = time.perf_counter() - started
    if summary.rejected == 0:
        summary.reject_log = None
    return summary


# A run that wrote less than this share of the index leaves it as it is: the rewrite costs about as much as
# BM25 indexing the whole index (about 12k docs/s on 2 cores), too much to pay after every small update.
OPTIMIZE_SHARE = 0.25


def optimize_index(engine: Engine, index: str, summary: IngestSummary) -> None:
    """Rewrite an embedded index into one segment after a run that wrote a good part of it (see :func:`ingest`)."""
    if not isinstance(engine, EmbeddedEngine) or summary.embedded == 0:
        return
    if summary.embedded < OPTIMIZE_SHARE * engine.count(index) or engine.segments(index) <= 1:
        return
    started = time.perf_counter()
    summary.segments = engine.optimize(index)
    summary.optimize_seconds = time.perf_counter() - started


def _checked(record: Document | Reject) -> Document | Reject:
    """The document as every engine stores it (its id bounded, see :meth:`Document.bounded`), or a Reject when no
    engine can store it (an id or text that does not encode): one bad document must not stop the run."""
    if isinstance(record, Reject):
        return record
    try:
        document = record.bounded()
        document.id.encode("utf-8")  # strictly, as every engine's id must be
        document.content_hash()  # encodes every other stored field
    except Exception as error:
        file, line = record.origin or ("(a document given to ingest)", 0)
        return Reject(file, line, f"document {record.id[:80]!r} cannot be indexed: {type(error).__name__}: {error}")
    return document


def _classify(
    chunk: Sequence[Document | Reject],
    engine: Engine,
    index: str,
    seen: RunIds,
    summary: IngestSummary,
    log: RejectLog | None,
) -> tuple[list[tuple[Document, str]], int, int]:
    """Count the chunk's records; return the documents that need embedding, with their hashes, and how many
    records are new and how many updates (counted in the summary once written)."""
    checked = [_checked(record) for record in chunk]
    ids = [record.id for record in checked if isinstance(record, Document)]
    recent = seen.recent  # met in this run, hash not yet visible in the index
    settled = seen.settled_among(ids)  # met in this run, hash visible in the index
    stored = engine.stored_hashes(index, [id for id in ids if id not in recent])
    pending: dict[str, tuple[Document, str]] = {}
    unchanged: list[str] = []
    new = updated = 0
    for record in checked:
        summary.read += 1
        if isinstance(record, Reject):
            summary.rejected += 1
            if log is not None:
                log.write(record)
            continue
        if record.coerced:
            summary.coerced_records += 1
            for note in record.coerced:
                summary.coerced[note] = summary.coerced.get(note, 0) + 1
        digest = record.content_hash()
        met = record.id in recent or record.id in settled
        previous = recent.get(record.id, stored.get(record.id))
        if met and previous == digest:
            summary.duplicates += 1
            continue
        if not met and previous == digest:
            summary.unchanged += 1
            unchanged.append(record.id)
            settled.add(record.id)
            continue
        if previous is None:
            new += 1
        else:
            updated += 1
        recent[record.id] = digest
        pending[record.id] = (record, digest)  # a later copy in the same chunk replaces an earlier one
    seen.settle_ids(unchanged)
    return list(pending.values()), new, updated


def default_reject_log(root: Path, index: str) -> Path:
    """``<data dir>/rejects/<index>-<UTC timestamp>.jsonl``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return root / "rejects" / f"{index}-{stamp}.jsonl"


def parse_field_map(pairs: Sequence[str]) -> Mapping[str, str]:
    """``["abstract=summary", ...]`` as ``{"abstract": "summary"}``."""
    from ._errors import InputError

    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, key = pair.partition("=")
        if not sep or not name.strip() or not key.strip():
            raise InputError(f"--field {pair!r}: expected DOCUMENT_FIELD=SOURCE_KEY, e.g. --field abstract=summary")
        mapping[name.strip()] = key.strip()
    return mapping
