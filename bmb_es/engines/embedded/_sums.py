"""Checksums of the record files, written at every commit: what ``bmb-es check`` verifies the files against.

``record_sums.json`` holds, for ``vectors.f32`` and ``sources.jsonl``, the size each had at the last commit and
the CRC32 of each chunk of ``chunk_bytes`` bytes up to that size (the last chunk may be shorter), with the row
size the vectors were written with. The record files only grow, so a commit keeps the sums of the whole chunks
before it and reads only the bytes since; the short last chunk is read again and verified against its old sum
before it grows, so damage there is found by the commit instead of being signed.

The file is written atomically and fsynced after the record files and before tantivy's commit (see
:func:`._write.commit`): every document a commit publishes lies in bytes that the sums cover. An index written
before the sums existed has none, and its next commit computes them over the whole files; a missing or
unreadable sums file is likewise written again by the next commit, from the files as they are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._errors import IndexDamagedError
from ._records import SOURCES_FILE, VECTORS_FILE, crc32_of
from ._store import META_FILE, write_json

SUMS_FILE = "record_sums.json"
RECORD_FILES = (VECTORS_FILE, SOURCES_FILE)
CHUNK_BYTES = 1 << 20  # 1 MiB: a commit re-reads at most this much of what it wrote before
_VERSION = 1


@dataclass(frozen=True, slots=True)
class FileSums:
    """One record file's size at the last commit and the CRC32 of each chunk up to it."""

    size: int
    crcs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RecordSums:
    """What ``record_sums.json`` holds (see the module docstring)."""

    chunk_bytes: int
    row_bytes: int
    files: Mapping[str, FileSums]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": _VERSION,
            "chunk_bytes": self.chunk_bytes,
            "row_bytes": self.row_bytes,
            "files": {name: {"size": sums.size, "crc32": list(sums.crcs)} for name, sums in self.files.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordSums:
        """Parse and validate; ``ValueError``, ``KeyError`` or ``TypeError`` when ``data`` is not such sums."""
        chunk_bytes, row_bytes = int(data["chunk_bytes"]), int(data["row_bytes"])
        if data["version"] != _VERSION or chunk_bytes <= 0 or row_bytes <= 0:
            raise ValueError("unknown version, chunk size or row size")
        files = {}
        for name in RECORD_FILES:
            entry = data["files"][name]
            size, crcs = int(entry["size"]), tuple(int(crc) for crc in entry["crc32"])
            if size < 0 or len(crcs) != -(-size // chunk_bytes):
                raise ValueError(f"{name}: {len(crcs)} sums for {size} bytes")
            files[name] = FileSums(size, crcs)
        return cls(chunk_bytes, row_bytes, files)


def read_sums(folder: Path) -> RecordSums | None:
    """The sums of the index in ``folder``; ``None`` when it has none, IndexDamagedError when they do not parse."""
    path = folder / SUMS_FILE
    try:
        return RecordSums.from_json(json.loads(path.read_bytes()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        problem = f"not the checksums of the record files ({type(error).__name__}: {error})"
        raise IndexDamagedError(path, problem, folder.name) from None


def update_sums(folder: Path, row_bytes: int) -> None:
    """Extend the sums to the record files' current sizes; called under the writer lock, before tantivy commits.

    Raises IndexDamagedError when a record file is shorter than at the last commit or its bytes since the last
    whole chunk changed, or when ``row_bytes`` differs from the row size the sums were written with.
    """
    try:
        old = read_sums(folder)
    except IndexDamagedError:
        old = None  # written again from the files as they are (see the module docstring)
    if old is not None and old.row_bytes != row_bytes:
        raise IndexDamagedError(
            folder / META_FILE,
            f"its dimension ({row_bytes // 4}) is not the one the vectors were written with ({old.row_bytes // 4})",
            folder.name,
        )
    chunk_bytes = old.chunk_bytes if old is not None else CHUNK_BYTES
    files = {
        name: _extended(folder, name, old.files[name] if old is not None else FileSums(0, ()), chunk_bytes)
        for name in RECORD_FILES
    }
    write_json(folder / SUMS_FILE, RecordSums(chunk_bytes, row_bytes, files).to_json())


def _extended(folder: Path, name: str, old: FileSums, chunk_bytes: int) -> FileSums:
    """``old`` extended to the file's current size (its short last chunk verified first)."""
    path = folder / name
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size < old.size:
            raise IndexDamagedError(
                path, f"holds {size} bytes but {old.size} were committed (truncated or replaced)", folder.name
            )
        whole = old.size // chunk_bytes
        start = position = whole * chunk_bytes
        crc = 0
        if old.size > start:  # the short last chunk: verified before it grows
            crc = crc32_of(handle, start, old.size - start)
            if crc != old.crcs[whole]:
                raise IndexDamagedError(
                    path, f"bytes {start}-{old.size - 1} changed since they were committed", folder.name
                )
            position = old.size
        crcs = list(old.crcs[:whole])
        while start < size:
            end = min(start + chunk_bytes, size)
            crcs.append(crc32_of(handle, position, end - position, crc))
            start = position = end
            crc = 0
    return FileSums(size, tuple(crcs))


def mismatched_chunks(path: Path, sums: FileSums, chunk_bytes: int) -> list[tuple[int, int]]:
    """The byte ranges ``[start, end)`` of ``path`` that do not match ``sums`` (those past its end included)."""
    found = []
    with open(path, "rb") as handle:
        for number, expected in enumerate(sums.crcs):
            start = number * chunk_bytes
            end = min(start + chunk_bytes, sums.size)
            if crc32_of(handle, start, end - start) != expected:
                found.append((start, end))
    return found
