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

Damage: a reference past the end of a file, a source that does not parse, and a vector holding NaN, an infinity or
a value beyond ±1e15 (:func:`bad_rows`) raise :class:`IndexDamagedError` naming the file. Every vector read is
checked (two reductions over the rows read), so a damaged row can never turn into a NaN score.
Finite bytes changed in place are only found by the checksums that ``bmb-es check`` verifies (:mod:`._sums`).
"""

from __future__ import annotations

import json
import mmap
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import orjson

from ..._errors import IndexDamagedError, StorageError

VECTORS_FILE = "vectors.f32"
SOURCES_FILE = "sources.jsonl"
_FLOAT32 = np.dtype("<f4")
_EXACT_ONLY = b" "  # marks a source that only the standard library reads back exactly
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1
# Beyond this, squares summed over a row overflow float32 (an embedding's values lie within ±1).
VALUE_LIMIT = 1e15
BAD_VALUES = f"NaN, an infinity or a value beyond ±{VALUE_LIMIT:.0e}"
_READ_BYTES = 1 << 22
_ID_OPENING = b'{"id": "'  # how every source written by encode_source opens (Document.to_source puts id first)
_ID_HEAD_BYTES = 256  # bytes read for the id; a longer id is read by decoding its whole source


def encode_source(source: dict[str, Any]) -> bytes:
    """``source`` as one line of JSON (see the module docstring for the leading space)."""
    encoded = json.dumps(source, ensure_ascii=False).encode()
    return _EXACT_ONLY + encoded if _has_wide_int(source) else encoded


def leading_id(data: bytes | mmap.mmap, offset: int = 0, length: int | None = None) -> str | None:
    """The id that opens the encoded source at ``offset`` of ``data`` (``length`` bytes long, else to the end), or
    ``None`` when its first :data:`_ID_HEAD_BYTES` bytes do not hold it plainly.

    Plainly: the source opens ``{"id": "`` (after :data:`_EXACT_ONLY`, if marked) and the id's closing quote
    follows with no backslash before it, so the bytes between are the id itself in UTF-8. Read in place (a
    re-rank reads a hundred ids per search): only the id is copied.
    """
    stop = offset + min(len(data) - offset if length is None else length, _ID_HEAD_BYTES)
    start = offset + (1 if data[offset : offset + 1] == _EXACT_ONLY else 0)
    if data[start : start + len(_ID_OPENING)] != _ID_OPENING:
        return None
    start += len(_ID_OPENING)
    end = data.find(b'"', start, stop)
    if end < 0 or data.find(b"\\", start, end) >= 0:
        return None  # cut off by the head, or escaped: decode the whole source instead
    try:
        return data[start:end].decode("utf-8")
    except UnicodeDecodeError:
        return None


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


def holds_records(folder: Path) -> bool:
    """Whether either record file holds bytes: documents were written to the index in ``folder``."""
    for name in (VECTORS_FILE, SOURCES_FILE):
        try:
            if (folder / name).stat().st_size:
                return True
        except OSError:
            continue
    return False


def bad_rows(vectors: npt.NDArray[np.float32]) -> list[int]:
    """The rows of ``vectors`` holding NaN, an infinity or a value beyond ±:data:`VALUE_LIMIT` (fast when none)."""
    # Two reductions, no temporary array; NaN propagates through max and min and fails both comparisons.
    if not len(vectors) or (vectors.max() <= VALUE_LIMIT and vectors.min() >= -VALUE_LIMIT):
        return []
    with np.errstate(invalid="ignore"):
        fine = np.all(np.abs(vectors) <= VALUE_LIMIT, axis=1)
    return np.flatnonzero(~fine).tolist()


def crc32_of(handle: BinaryIO, start: int, length: int, crc: int = 0) -> int:
    """The CRC32 of ``length`` bytes of ``handle`` from ``start`` (fewer at the end of the file), continuing ``crc``."""
    handle.seek(start)
    while length > 0:
        piece = handle.read(min(length, _READ_BYTES))
        if not piece:
            break
        crc = zlib.crc32(piece, crc)
        length -= len(piece)
    return crc


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
        except FileNotFoundError:
            raise IndexDamagedError(self._folder / name, "missing", self._folder.name) from None
        except OSError as error:
            raise StorageError(f"{self._folder / name}: cannot read ({error}); rebuild the index") from error

    def mapped_vectors(self, last_row: int) -> npt.NDArray[np.float32]:
        """Every row of ``vectors.f32``, as a read-only ``(rows, dimension)`` array over its memory map (no copy).

        Re-mapped when the map holds no row ``last_row`` (the file has grown); IndexDamagedError when the file does
        not reach it. Values are not checked here: :meth:`vectors` checks what it copies.
        """
        if last_row >= len(self._vectors):
            mapped = self._map(VECTORS_FILE)
            if mapped is not None:
                whole = len(mapped) // (self._dimension * _FLOAT32.itemsize)
                self._vectors = np.frombuffer(mapped, dtype=_FLOAT32, count=whole * self._dimension).reshape(
                    whole, self._dimension
                )
            if last_row >= len(self._vectors):
                raise IndexDamagedError(
                    self._folder / VECTORS_FILE,
                    f"row {last_row} is referenced but the file holds {len(self._vectors)} rows "
                    "(truncated or replaced)",
                    self._folder.name,
                )
        return self._vectors

    def release(self) -> None:
        """Drop both memory maps; the next read maps the files again.

        Pages of a mapped file that were read stay in the process's resident set until the map goes (or the kernel
        needs the memory), so a pass over a whole index (``optimize``, ``bmb-es merge``) releases the maps batch by
        batch: its resident set then stays bounded instead of growing to the size of both files.
        """
        self._vectors = np.zeros((0, self._dimension), dtype=_FLOAT32)
        self._sources = b""

    def vectors(self, rows: Sequence[int] | npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The vectors at ``rows`` as a new ``(len(rows), dimension)`` float32 matrix."""
        if not len(rows):
            return np.zeros((0, self._dimension), dtype=np.float32)
        index = np.asarray(rows, dtype=np.int64)
        table = self.mapped_vectors(int(index.max()))
        block = np.asarray(table[index], dtype=np.float32)  # fancy indexing already copied
        bad = bad_rows(block)
        if bad:
            raise IndexDamagedError(
                self._folder / VECTORS_FILE,
                f"row {rows[bad[0]]} holds {BAD_VALUES} (an embedding's values lie within ±1)",
                self._folder.name,
            )
        return block

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
                raise IndexDamagedError(
                    self._folder / SOURCES_FILE,
                    f"bytes {offset}-{offset + length} are not the JSON of a source ({error})",
                    self._folder.name,
                ) from None
        return decoded

    def source_ids(self, offsets: Sequence[int], lengths: Sequence[int]) -> list[str]:
        """The ``id`` of the ``_source`` at each offset, without decoding the rest of it.

        :func:`encode_source` writes ``id`` first (``Document.to_source``), so the id is the JSON string that
        opens the line; only that string is read. A source that does not open so (or whose id holds escapes) is
        decoded whole, so the answer is the same for every source.
        """
        if not offsets:
            return []
        data = self._sources_through(max(offset + length for offset, length in zip(offsets, lengths, strict=True)))
        ids = []
        for offset, length in zip(offsets, lengths, strict=True):
            doc_id = leading_id(data, offset, length)
            if doc_id is None:
                doc_id = str(self.decoded_sources([offset], [length])[0]["id"])
            ids.append(doc_id)
        return ids

    def _sources_through(self, end: int) -> mmap.mmap | bytes:
        """The sources file's map, re-mapped if it is shorter than ``end`` bytes (the file has grown)."""
        if end > len(self._sources):
            mapped = self._map(SOURCES_FILE)
            if mapped is not None:
                self._sources = mapped
        if end > len(self._sources):
            raise IndexDamagedError(
                self._folder / SOURCES_FILE,
                f"bytes up to {end} are referenced but the file holds {len(self._sources)} (truncated or replaced)",
                self._folder.name,
            )
        return self._sources
