"""What the engine holds of one open index: one :class:`OpenIndex`, its parts read or opened on first use.

Everything an index holds lives in its object, so :meth:`EmbeddedEngine.close` and ``delete_index`` release
an index by dropping one object, and nothing read before survives them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._errors import IndexDamagedError, IndexNotFoundError, StorageError
from .._base import IndexMeta
from ._commits import Commit, newer_commit, read_commit
from ._live import LiveVectors, read_live
from ._records import RecordReader, RecordWriter, holds_records
from ._store import META_FILE, open_tantivy, read_meta, read_text_fields

WRITER_HEAP = 128_000_000
# optimize's rewrite: tantivy flushes a segment whenever its heap fills, so 128 MB left 1M abstracts in 6 segments.
# With this cap they stay one (the heap grows as used: ~0.5 GB of it, 0.8 GB peak RSS, bench/bench_scale.py).
OPTIMIZE_HEAP = 1_000_000_000


def index_names(root: Path) -> list[str]:
    """The indices under ``root``: folders with a ``meta.json`` (an index exists once its metadata does), and
    damaged ones that lost it but hold records (see :func:`is_index`). A name starting with a dot is no index's
    (names cannot): a compaction's copy in progress, or one it left (see :mod:`._compact`)."""
    if not root.is_dir():
        return []
    return sorted(path.name for path in root.iterdir() if not path.name.startswith(".") and is_index(path))


def is_index(folder: Path) -> bool:
    """Whether ``folder`` holds an index: its ``meta.json``, or records written to it (its ``meta.json`` lost)."""
    return (folder / META_FILE).is_file() or holds_records(folder)


def require(folder: Path) -> Path:
    """``folder`` if it holds an index; IndexDamagedError if it lost its ``meta.json``, else IndexNotFoundError."""
    if not (folder / META_FILE).is_file():
        if holds_records(folder):  # an interrupted create writes no records: this index had documents
            raise IndexDamagedError(folder / META_FILE, "missing (the folder holds records)", folder.name)
        known = ", ".join(index_names(folder.parent)) or "none yet"
        raise IndexNotFoundError(
            f"index {folder.name!r} not found in {folder.parent} (indices: {known}); "
            f"create it with: bmb-es index PATH --index {folder.name}"
        )
    return folder


@dataclass(slots=True)
class TantivyView:
    """tantivy's index and the commit its reader was last loaded at (set together: see :meth:`OpenIndex.searcher`).

    ``deleted``: how many deleted documents that commit's segments still hold, read from it on first use.
    """

    index: Any
    seen: Commit
    deleted: int | None = None

    def settle(self, folder: Path) -> None:
        """Make ``seen`` the commit tantivy's reader holds: reload until the commit on disk is the same after a
        load as it was before it (a commit landing meanwhile is loaded too; opstamps only grow, so the same
        bytes are the same commit)."""
        while True:
            now = read_commit(folder)
            if now.content == self.seen.content:
                return
            self.index.reload()
            self.seen = now
            self.deleted = None

    def deleted_documents(self) -> int | None:
        """Deleted documents still in the segments the reader holds; ``None`` when tantivy's ``meta.json`` does
        not tell (then a caller must not rely on document frequencies being counts of live documents)."""
        if self.deleted is None:
            self.deleted = deleted_in(self.seen.content)
        return self.deleted if self.deleted >= 0 else None


def deleted_in(content: bytes) -> int:
    """The deleted documents that tantivy's ``meta.json`` lists (``segments[].deletes.num_deleted_docs``); -1 when
    it cannot be read so."""
    try:
        segments = json.loads(content)["segments"]
        return sum(int((segment.get("deletes") or {}).get("num_deleted_docs", 0)) for segment in segments)
    except (ValueError, KeyError, TypeError, AttributeError):
        return -1


@dataclass(slots=True)
class Writing:
    """A writer session: tantivy's writer (it holds tantivy's lock) and what it wrote since its last commit.

    Parameters
    ----------
    tantivy
        tantivy's ``IndexWriter``.
    records
        The appender of the record files, opened under tantivy's lock so no other process appends to them.
    pending
        Whether writes are not yet committed.
    fields
        The text fields that those writes have (see :func:`._store.read_text_fields`).
    """

    tantivy: Any
    records: RecordWriter
    pending: bool = False
    fields: frozenset[str] = frozenset()


@dataclass(slots=True)
class OpenIndex:
    """One index as the engine holds it between calls.

    Parameters
    ----------
    folder
        The index folder (it held ``meta.json`` when the object was made).
    meta, text_fields, records
        Read on first use and cached; dropped when another process commits (see :meth:`searcher`).
    view
        tantivy's index, opened on first use.
    writing
        The writer session, opened by the first write.
    """

    folder: Path
    meta: IndexMeta | None = None
    view: TantivyView | None = None
    records: RecordReader | None = None
    text_fields: frozenset[str] | None = None
    writing: Writing | None = None
    live: LiveVectors | None = None

    def index_meta(self) -> IndexMeta:
        # Metadata never changes after creation; cached so a warm query does not re-read it.
        if self.meta is None:
            self.meta = read_meta(require(self.folder))
        return self.meta

    def tantivy_view(self) -> TantivyView:
        if self.view is None:
            folder = require(self.folder)
            seen = read_commit(folder)  # before the reader loads: a commit landing in between is seen later
            index = open_tantivy(folder)
            # Reloads are ours (see searcher), so tantivy's view and the record files' never drift apart.
            index.config_reader("Manual")
            self.view = TantivyView(index, seen)
            self.view.settle(folder)
        return self.view

    def searcher(self) -> Any:
        """A searcher on the newest commit, from this process or another.

        A commit rewrites tantivy's ``meta.json``; when it has changed, the index is reloaded and the record
        files re-mapped together. Re-mapping matters when the index was deleted and created again by another
        process: the old maps would still hold the old vectors, and the cached metadata another dimension.
        """
        view = self.tantivy_view()
        newer = newer_commit(view.seen)
        if newer is not None:
            view.index.reload()
            self.records = self.meta = self.text_fields = self.live = None
            view.seen, view.deleted = newer, None
            view.settle(self.folder)
        return view.index.searcher()

    def reload_own_commit(self) -> None:
        """Move tantivy's reader to the commit this engine just made (its own rows are mapped when first read)."""
        view = self.tantivy_view()
        view.index.reload()
        view.seen, view.deleted = read_commit(self.folder), None
        self.live = None

    def deleted_documents(self) -> int | None:
        """Deleted documents that the segments searched still hold (:meth:`TantivyView.deleted_documents`)."""
        return self.tantivy_view().deleted_documents()

    def searchable_fields(self) -> frozenset[str]:
        """The text fields that documents have (queries leave the others out)."""
        if self.text_fields is None:
            self.text_fields = read_text_fields(require(self.folder))
        return self.text_fields

    def live_vectors(self, searcher: Any) -> LiveVectors:
        """What an exact kNN search scans (see :mod:`._live`), read once per commit."""
        if self.live is None:
            self.live = read_live(searcher, self.record_reader(), self.index_meta().dimension)
        return self.live

    def record_reader(self) -> RecordReader:
        if self.records is None:
            self.records = RecordReader(require(self.folder), self.index_meta().dimension)
        return self.records

    def open_writer(self, heap_size: int = WRITER_HEAP) -> Writing:
        """The writer session, opened (taking tantivy's writer lock, with ``heap_size`` bytes) if there is none."""
        if self.writing is None:
            try:
                writer = self.tantivy_view().index.writer(heap_size=heap_size, num_threads=1)
            except ValueError as error:
                raise StorageError(
                    f"index {self.folder.name!r}: cannot open a writer ({error}); "
                    f"is another bmb-es process indexing it?"
                ) from error
            self.writing = Writing(writer, RecordWriter(self.folder, self.index_meta().dimension))
        return self.writing

    def close_writer(self) -> None:
        """End the writer session (nothing may be pending): tantivy's lock goes back once its merges are done."""
        if self.writing is not None:
            writing, self.writing = self.writing, None
            writing.tantivy.wait_merging_threads()  # consumes the writer, which releases the lock

    def rollback(self) -> None:
        """Drop the writes not committed and the writer session (which gives tantivy's lock back).

        Records appended since the last commit stay in the files, unreferenced.
        """
        if self.writing is not None:
            self.writing.tantivy.rollback()
            self.writing = None
