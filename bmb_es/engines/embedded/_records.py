"""Vectors and ``_source`` JSON beside the tantivy index, in two append-only files.

A search reads the vectors of its whole re-rank window and the sources of the hits it returns. Tantivy's
stored documents are compressed in blocks, so fetching one meant decompressing a block and converting the
whole document (~9 µs each); these files are memory-mapped and read by position (~0.3 µs per vector).

- ``vectors.f32``: one row of ``dimension`` little-endian float32 per written document.
- ``sources.jsonl``: each document's ``_source`` JSON followed by a newline (readable with any JSON Lines tool).
  Sources are written by the standard library (exact for every value) and read back with orjson, about three
  times faster. orjson would turn an integer beyond 64 bits into a float, so a source holding one is written
  with a leading space (still valid JSON) and read back by the standard library.

Each tantivy document holds its row, offset and length as fast fields. Files only grow: an upsert appends a
new row and the old one becomes unreferenced (``bmb-es merge`` into a new index drops such rows).

Durability: :meth:`RecordWriter.sync` fsyncs both files, and the engine calls it before every tantivy commit. A
committed document therefore never points past what is on disk; rows written after the last commit are
unreferenced after a crash, a torn last row is padded so the next row starts at a whole row, and a torn last
line is ended so the file stays JSON Lines.

Like tantivy's own memory-mapped segment files, these files must not be truncated or overwritten in place
while a process has the index open (that kills the reader with SIGBUS); delete an index with ``bmb-es delete``.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from ..._errors import StorageError

VECTORS_FILE = "vectors.f32"
SOURCES_FILE = "sources.jsonl"
_FLOAT32 = np.dtype("<f4")
_EXACT_ONLY = b" "  # marks a source that only the standard library reads back exactly
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def encode_source(source: dict[str, Any]) -> bytes:
    """``source`` as one line of JSON (see the module docstring for the leading space)."""
    encoded = json.dumps(source, ensure_ascii=False).encode()
    return _EXACT_ONLY + encoded if _has_wide_int(source) else encoded


def decode_source(raw: bytes) -> Any:
    """Inverse of :func:`encode_source`."""
    if raw[:1] == _EXACT_ONLY:
        return json.loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # NaN and Infinity, which json.dumps writes and orjson refuses
        return json.loads(raw)


def _has_wide_int(value: Any) -> bool:
    pending = [value]  # a stack, not recursion: sources may nest deeper than Python's recursion limit
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, int) and not _INT64_MIN <= item <= _UINT64_MAX:
            return True
    return False


def create_record_files(folder: Path) -> None:
    """Create the two empty files of a new index (their presence marks the storage layout), durably."""
    for name in (VECTORS_FILE, SOURCES_FILE):
        (folder / name).touch(exist_ok=True)
    sync_folder(folder)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so the names created in it survive a crash."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def record_files_present(folder: Path) -> tuple[bool, bool]:
    """Whether ``vectors.f32`` and ``sources.jsonl`` exist."""
    return (folder / VECTORS_FILE).is_file(), (folder / SOURCES_FILE).is_file()


class RecordWriter:
    """Appends vectors and sources; one per index, created only while holding tantivy's writer lock.

    Every batch takes its positions from the files' sizes, never from counters, so a batch cut short (an
    interrupt between the two writes, a full disk) leaves only unreferenced bytes and cannot shift later
    documents onto another's row. Files are opened per batch: an engine that is never closed leaks nothing.

    Parameters
    ----------
    folder
        The index folder.
    dimension
        Vector dimension (fixes the row size).
    """

    def __init__(self, folder: Path, dimension: int) -> None:
        self._paths = (folder / VECTORS_FILE, folder / SOURCES_FILE)
        self._dimension = dimension

    def append(self, vectors: npt.NDArray[np.float32], sources: Sequence[bytes]) -> list[tuple[int, int]]:
        """Write a batch: row ``i`` of ``vectors`` with ``sources[i]``; return each one's ``(row, source offset)``."""
        if vectors.shape != (len(sources), self._dimension):
            raise ValueError(f"vectors {vectors.shape} do not match {len(sources)} sources of {self._dimension}-d")
        row_bytes = self._dimension * _FLOAT32.itemsize
        try:
            with open(self._paths[0], "ab") as vector_file, open(self._paths[1], "a+b") as source_file:
                size = vector_file.seek(0, os.SEEK_END)
                if size % row_bytes:  # a torn last row: pad it, so rows stay aligned (nothing refers to it)
                    size += vector_file.write(b"\0" * (row_bytes - size % row_bytes))
                offset = source_file.seek(0, os.SEEK_END)
                if offset:
                    source_file.seek(offset - 1)
                    if source_file.read(1) != b"\n":  # a torn last line: end it, so the file stays JSON Lines
                        offset += source_file.write(b"\n")
                placed = []
                for number, source in enumerate(sources):
                    placed.append((size // row_bytes + number, offset))
                    offset += len(source) + 1
                vector_file.write(vectors.astype(_FLOAT32, copy=False).tobytes())
                source_file.write(b"".join(source + b"\n" for source in sources))
        except OSError as error:
            raise StorageError(f"{self._paths[0].parent}: cannot write the record files ({error})") from error
        return placed

    def sync(self) -> None:
        """Make everything appended durable; called before the commit that publishes it."""
        try:
            for path in self._paths:
                descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.fsync(descriptor)  # syncs the file, whichever descriptor wrote it
                finally:
                    os.close(descriptor)
        except OSError as error:
            raise StorageError(f"{self._paths[0].parent}: cannot sync the record files ({error})") from error


class RecordReader:
    """Reads vectors by row and sources by offset through memory maps, re-mapped when the files have grown."""

    def __init__(self, folder: Path, dimension: int) -> None:
        self._folder = folder
        self._dimension = dimension
        self._vectors: npt.NDArray[np.float32] = np.zeros((0, dimension), dtype=_FLOAT32)
        self._sources: mmap.mmap | bytes = b""

    def _map(self, name: str) -> mmap.mmap | None:
        try:
            with open(self._folder / name, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        except OSError as error:
            raise StorageError(f"{self._folder / name}: cannot read ({error}); rebuild the index") from error

    def vectors(self, rows: Sequence[int]) -> npt.NDArray[np.float32]:
        """The vectors at ``rows`` as a new ``(len(rows), dimension)`` float32 matrix."""
        if not rows:
            return np.zeros((0, self._dimension), dtype=np.float32)
        index = np.asarray(rows, dtype=np.int64)
        last = int(index.max())
        if last >= len(self._vectors):
            mapped = self._map(VECTORS_FILE)
            if mapped is not None:
                whole = len(mapped) // (self._dimension * _FLOAT32.itemsize)
                self._vectors = np.frombuffer(mapped, dtype=_FLOAT32, count=whole * self._dimension).reshape(
                    whole, self._dimension
                )
            if last >= len(self._vectors):
                raise StorageError(
                    f"{self._folder / VECTORS_FILE}: row {last} is referenced but the file holds "
                    f"{len(self._vectors)} rows; the file was truncated or replaced: rebuild the index"
                )
        return np.asarray(self._vectors[index], dtype=np.float32)  # fancy indexing already copied

    def decoded_sources(self, offsets: Sequence[int], lengths: Sequence[int]) -> list[Any]:
        """The ``_source`` written at each offset (with its length), decoded, in order."""
        if not offsets:
            return []
        data = self._sources_through(max(offset + length for offset, length in zip(offsets, lengths, strict=True)))
        decoded = []
        for offset, length in zip(offsets, lengths, strict=True):
            try:
                decoded.append(decode_source(data[offset : offset + length]))
            except ValueError as error:  # json's and orjson's decode errors are ValueErrors
                raise StorageError(
                    f"{self._folder / SOURCES_FILE}: bytes {offset}-{offset + length} are not the JSON of a source "
                    f"({error}); the file was changed outside bmb-es: rebuild the index"
                ) from None
        return decoded

    def _sources_through(self, end: int) -> mmap.mmap | bytes:
        """The sources file's map, re-mapped if it is shorter than ``end`` bytes (the file has grown)."""
        if end > len(self._sources):
            mapped = self._map(SOURCES_FILE)
            if mapped is not None:
                self._sources = mapped
        if end > len(self._sources):
            raise StorageError(
                f"{self._folder / SOURCES_FILE}: bytes up to {end} are referenced but the file holds "
                f"{len(self._sources)}; the file was truncated or replaced: rebuild the index"
            )
        return self._sources
