"""Compacting: an index rewritten into record files that hold only what its live documents reference.

An upsert of a changed document appends its vector and source; the old ones stay in the record files,
unreferenced, and ``optimize`` rewrites tantivy only. :func:`compact` copies every live document (in address
order, so equal scores keep their order; vectors byte for byte, sources as stored) into a new folder beside the
index, swaps the two folders in one atomic rename (Linux ``renameat2`` with ``RENAME_EXCHANGE``) and deletes the
old one.

- Writers: the copy runs under tantivy's writer lock. A writer session must not span the swap (tantivy's writer
  finds its files by path), so the swap runs under the same lock file held directly (tantivy locks it with
  ``flock``), once the index is seen to be still at the commit that was copied; otherwise nothing changes.
- Readers: another process sees the new commit on its next search (``meta.json``'s path now holds it) and maps
  the new record files; its maps of the old ones stay valid until then (a deleted file lives on while mapped).
- Interrupted: before the swap the index is unchanged, after it the index is compacted. A folder left beside
  it (``.compact-NAME``) is deleted by the next compaction.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._errors import InputError, StorageError
from ._commits import read_commit
from ._open_index import OPTIMIZE_HEAP, OpenIndex
from ._read import iter_folder
from ._records import SOURCES_FILE, VECTORS_FILE, sync_folder
from ._store import TANTIVY_DIR, create_folder, is_legacy
from ._write import commit, upsert

WRITER_LOCK = ".tantivy-writer.lock"  # tantivy's writer lock file, inside the tantivy folder
_AT_FDCWD = -100  # paths relative to the working directory (absolute here)
_RENAME_EXCHANGE = 2  # renameat2: swap the two names atomically


@dataclass(frozen=True, slots=True)
class CompactSummary:
    """What :func:`compact` did: the documents copied and the record files' bytes before and after."""

    index: str
    documents: int
    bytes_before: int
    bytes_after: int
    seconds: float

    @property
    def reclaimed(self) -> int:
        return self.bytes_before - self.bytes_after

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "documents": self.documents,
            "record_bytes_before": self.bytes_before,
            "record_bytes_after": self.bytes_after,
            "reclaimed_bytes": self.reclaimed,
            "seconds": round(self.seconds, 3),
        }


def record_bytes(folder: Path) -> int:
    """The size of ``folder``'s record files (vectors and sources)."""
    return sum((folder / name).stat().st_size for name in (VECTORS_FILE, SOURCES_FILE) if (folder / name).is_file())


def record_rows(opened: OpenIndex) -> tuple[int, int]:
    """The rows of ``vectors.f32`` and the live documents: the difference is the rows no document references."""
    row = opened.index_meta().dimension * 4
    size = (opened.folder / VECTORS_FILE).stat().st_size if (opened.folder / VECTORS_FILE).is_file() else 0
    return size // row, int(opened.searcher().num_docs)


def exchange(first: Path, second: Path) -> None:
    """Swap two paths in one atomic rename (Linux ``renameat2(RENAME_EXCHANGE)``); OSError where it cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except (OSError, TypeError):  # no C library to load this way (Windows)
        raise OSError(38, "renameat2 is not available on this system") from None
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(38, "renameat2 is not available on this system")  # ENOSYS
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if done != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


def _check_exchange(root: Path) -> None:
    """Refuse early, before the copy, where folders cannot be swapped atomically (another OS or filesystem)."""
    first, second = root / f".exchange-probe-{os.getpid()}-a", root / f".exchange-probe-{os.getpid()}-b"
    try:
        first.mkdir()
        second.mkdir()
        exchange(first, second)
    except OSError as error:
        raise StorageError(
            f"{root}: folders cannot be swapped atomically here ({error.strerror or error}), so an index cannot "
            "be compacted in place; copy it with: bmb-es merge NAME --into NEW_NAME"
        ) from None
    finally:
        for probe in (first, second):
            shutil.rmtree(probe, ignore_errors=True)


def _check_room(folder: Path, live_share: float) -> None:
    """Refuse before the copy when the disk cannot hold it: about the index's size times its live rows' share."""
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    needed = int(size * live_share)
    free = shutil.disk_usage(folder.parent).free
    if needed > free:
        raise StorageError(
            f"index {folder.name!r}: compacting needs about {needed / 2**20:,.1f} MiB free beside it for the copy, "
            f"{free / 2**20:,.1f} MiB are; free some space first"
        )


def compact(opened: OpenIndex, batch: int, progress: Callable[[int], None] | None = None) -> CompactSummary:
    """Rewrite ``opened`` into new record files holding only its live documents' rows (see the module docstring).

    Parameters
    ----------
    opened
        The index; writes pending in it are committed first. Drop it afterwards: its folder is another one now.
    batch
        Documents read and written at a time.
    progress
        Called with the number of documents copied so far, after each batch.

    Raises
    ------
    StorageError
        Another process holds the writer lock, or wrote meanwhile (nothing changed), or folders cannot be swapped
        atomically on this system.
    """
    started = time.perf_counter()
    folder = opened.folder
    if is_legacy(folder):
        raise InputError(
            f"index {folder.name!r} has the layout from before record files; convert it with: "
            f"bmb-es merge {folder.name} --into NEW_NAME"
        )
    _check_exchange(folder.parent)
    commit(opened)
    opened.close_writer()
    opened.open_writer()  # tantivy's lock: no other process writes while the documents are copied
    copy = folder.parent / f".compact-{folder.name}"
    shutil.rmtree(copy, ignore_errors=True)  # what an interrupted compaction left
    try:
        copied_commit = read_commit(folder)  # under the lock: the newest commit
        rows, live = record_rows(opened)
        _check_room(folder, live / rows if rows else 1.0)
        before = record_bytes(folder)
        copied = _copy(folder, copy, opened, batch, progress)
        if copied != live:
            raise StorageError(f"index {folder.name!r}: {copied} documents copied of {live} live; nothing changed")
    except BaseException:
        opened.rollback()
        shutil.rmtree(copy, ignore_errors=True)
        raise
    opened.close_writer()  # a writer session must not span the swap (see the module docstring)
    try:
        _swap_if_unchanged(folder, copy, copied_commit.content)
    except BaseException:
        shutil.rmtree(copy, ignore_errors=True)
        raise
    shutil.rmtree(copy)  # the old index, swapped out
    return CompactSummary(folder.name, copied, before, record_bytes(folder), time.perf_counter() - started)


def _copy(folder: Path, copy: Path, opened: OpenIndex, batch: int, progress: Callable[[int], None] | None) -> int:
    """Every live document of ``folder`` written to a new index in ``copy``, in one commit; how many."""
    create_folder(copy, opened.index_meta())
    target = OpenIndex(copy)
    target.open_writer(OPTIMIZE_HEAP)  # one segment for a million abstracts, as optimize writes
    copied = 0
    try:
        for items in iter_folder(folder, batch):
            upsert(target, items, replace=False)  # a new index: no id to replace (and no deletes held)
            copied += len(items)
            if progress is not None:
                progress(copied)
        commit(target)
    except BaseException:
        target.rollback()
        raise
    target.close_writer()  # after tantivy's merges, if the copy outgrew the heap
    return copied


def _swap_if_unchanged(folder: Path, copy: Path, copied: bytes) -> None:
    """Swap ``copy`` into ``folder``'s place, holding tantivy's writer lock file, if no commit came since ``copied``."""
    import fcntl  # POSIX only; _check_exchange refused other systems before the copy

    lock = os.open(folder / TANTIVY_DIR / WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StorageError(
                f"index {folder.name!r}: another process began writing to it during the compaction; nothing "
                "changed, compact it again once that is done"
            ) from None
        if read_commit(folder).content != copied:
            raise StorageError(
                f"index {folder.name!r}: another process committed to it during the compaction; nothing changed, "
                "compact it again"
            )
        exchange(copy, folder)
        sync_folder(folder.parent)  # the swap must survive a crash
    finally:
        os.close(lock)  # releases the flock (of the old index's lock file, which lies in the copy's place now)
