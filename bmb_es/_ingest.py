"""Ingest: stream records, embed them in batches, upsert them with their vectors, commit as we go.

Guarantees (see DESIGN.md):

* every record read is indexed or written to the reject log with file, line and reason;
* ids are stable, so re-running is an upsert, never a duplicate;
* commits happen every ``commit_every`` documents; a killed run loses at most the uncommitted tail, and
  re-running skips documents already stored with the same content (no re-embedding) and writes the rest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ._document import Document
from .embedding import DEFAULT_EMBED_FIELDS, Embedder, embed_text
from .engines import Engine, IndexedDocument, IndexMeta
from .readers import Reject

ProgressCallback = Callable[["IngestSummary"], None]


@dataclass(slots=True)
class IngestSummary:
    """What an ingest run did. ``read`` = ``indexed + updated + unchanged + duplicates + rejected``."""

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

    @property
    def docs_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "read": self.read,
            "indexed": self.indexed,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "docs_per_second": round(self.docs_per_second, 2),
            "reject_log": self.reject_log,
            "skipped_files": [{"file": name, "reason": why} for name, why in self.skipped_files],
            "interrupted": self.interrupted,
        }


class RejectLog:
    """JSON Lines of rejected records, created on the first reject only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def write(self, reject: Reject) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115  # held open across writes
        self._handle.write(json.dumps(reject.to_json(), ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _chunks(records: Iterable[Document | Reject], size: int) -> Iterator[list[Document | Reject]]:
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
    embedder: Embedder,
    *,
    embed_fields: Sequence[str] = DEFAULT_EMBED_FIELDS,
    batch_size: int = 32,
    chunk_size: int = 256,
    commit_every: int = 2048,
    reject_log: Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> IngestSummary:
    """Embed and write ``records`` into ``index`` (created if missing) and return the counts.

    Parameters
    ----------
    records
        Documents and rejects, e.g. from :func:`bmb_es.readers.read_corpus`.
    engine, index
        Where to write. The index is created for ``embedder``; an existing one must have been built with it.
    embedder
        The model that embeds ``embed_fields`` of each document.
    batch_size
        Texts per encoder batch.
    chunk_size
        Records looked up, embedded and written together.
    commit_every
        Documents between commits (durable resume points).
    reject_log
        JSON Lines file for rejects; ``None`` drops them after counting (the CLI always gives one).
    on_progress
        Called with the running summary after each chunk.
    """
    meta = IndexMeta(embedder.name, embedder.dimension, tuple(embed_fields))
    engine.create_index(index, meta)
    engine.index_meta(index).check_compatible(index, embedder.name, embedder.dimension)
    summary = IngestSummary(index=index, reject_log=str(reject_log) if reject_log else None)
    log = RejectLog(reject_log) if reject_log else None
    seen: dict[str, str] = {}  # id -> content hash written in this run (not yet visible to stored_hashes)
    since_commit = 0
    started = time.perf_counter()
    try:
        for chunk in _chunks(records, min(chunk_size, commit_every)):
            pending = _classify(chunk, engine, index, seen, summary, log)
            if pending:
                texts = [embed_text(document, embed_fields) for document, _ in pending]
                vectors = embedder.embed(texts, batch_size=batch_size)
                engine.upsert(
                    index,
                    [
                        IndexedDocument(doc, digest, vector)
                        for (doc, digest), vector in zip(pending, vectors, strict=True)
                    ],
                )
                summary.embedded += len(pending)
                since_commit += len(pending)
                if since_commit >= commit_every:
                    engine.commit(index)
                    since_commit = 0
            summary.seconds = time.perf_counter() - started
            if on_progress is not None:
                on_progress(summary)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        # Whatever was written is committed, on success and on Ctrl-C alike; a hard kill loses only this tail.
        engine.commit(index)
        if log is not None:
            log.close()
        summary.seconds = time.perf_counter() - started
        if summary.rejected == 0:
            summary.reject_log = None
    return summary


def _classify(
    chunk: Sequence[Document | Reject],
    engine: Engine,
    index: str,
    seen: dict[str, str],
    summary: IngestSummary,
    log: RejectLog | None,
) -> list[tuple[Document, str]]:
    """Count the chunk's records and return the documents that need embedding, with their hashes."""
    documents = [record for record in chunk if isinstance(record, Document)]
    stored = engine.stored_hashes(index, [doc.id for doc in documents if doc.id not in seen])
    pending: dict[str, tuple[Document, str]] = {}
    for record in chunk:
        summary.read += 1
        if isinstance(record, Reject):
            summary.rejected += 1
            if log is not None:
                log.write(record)
            continue
        digest = record.content_hash()
        previous = seen.get(record.id, stored.get(record.id))
        if record.id in seen and previous == digest:
            summary.duplicates += 1
            continue
        if record.id not in seen and previous == digest:
            summary.unchanged += 1
            seen[record.id] = digest
            continue
        if previous is None:
            summary.indexed += 1
        else:
            summary.updated += 1
        seen[record.id] = digest
        pending[record.id] = (record, digest)  # a later copy in the same chunk replaces an earlier one
    return list(pending.values())


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
