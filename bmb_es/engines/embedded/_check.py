"""``bmb-es check``: every file of an embedded index verified, each damage reported (not raised) with its file.

What is verified, in this order:

- ``meta.json`` parses (its dimension sizes the vector rows); ``text_fields.json`` too, but without it searches
  only use every field, so that is a warning;
- tantivy's files: its ``meta.json`` and ``.managed.json`` parse, and every file of every segment is there and
  matches the CRC32 in its footer (:mod:`._tantivy_files`);
- tantivy opens the index, finds every live document (an all-documents query) and each of them again by its id
  (term queries), and reads their record addresses (fast fields) and stored ids;
- the record files against ``record_sums.json`` (:mod:`._sums`): neither shorter than at the last commit, every
  chunk matching its CRC32;
- every referenced vector: inside the file, with no NaN, infinity or huge value (:func:`._records.bad_rows`),
  and of norm 1 or 0 (the embedders L2-normalise; a row of another norm that its checksum vouches for was
  written so through the Python API, which is only a warning);
- every referenced source: inside the file, parses, and is its own document's (same id).

It reads every file once, so it takes about as long as reading the index folder from disk.
"""

from __future__ import annotations

import json
import mmap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..._errors import IndexDamagedError
from ._records import BAD_VALUES, SOURCES_FILE, VECTORS_FILE, bad_rows, decode_source
from ._store import (
    FIELDS_FILE,
    ID_FIELD,
    LENGTH_FIELD,
    OFFSET_FIELD,
    ROW_FIELD,
    TANTIVY_DIR,
    is_legacy,
    is_panic,
    open_tantivy,
    read_meta,
)
from ._sums import SUMS_FILE, RecordSums, mismatched_chunks, read_sums
from ._tantivy_files import damaged_files

NORM_TOLERANCE = 1e-3  # float32 normalisation is exact to about 1e-7
_EXAMPLES = 3  # rows or documents named per finding


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong (or doubtful) with one file of an index."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class IndexCheck:
    """The result of checking one index.

    Parameters
    ----------
    index
        The index's name.
    documents
        Live documents found by tantivy; ``None`` when tantivy could not read the index.
    problems
        Damage: the index gives errors or wrong results until it is rebuilt.
    warnings
        What could not be verified or looks unusual, but is not damage.
    seconds
        How long the check took.
    """

    index: str
    documents: int | None
    problems: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    seconds: float

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "healthy": self.healthy,
            "documents": self.documents,
            "problems": [{"file": str(item.path), "message": item.message} for item in self.problems],
            "warnings": [{"file": str(item.path), "message": item.message} for item in self.warnings],
            "seconds": round(self.seconds, 3),
        }


@dataclass(slots=True)
class _Findings:
    problems: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    def problem(self, path: Path, message: str) -> None:
        if Finding(path, message) not in self.problems:  # two steps may meet the same damage
            self.problems.append(Finding(path, message))

    def warn(self, path: Path, message: str) -> None:
        self.warnings.append(Finding(path, message))


@dataclass(frozen=True, slots=True)
class _Live:
    """The live documents as tantivy holds them: stored id and record addresses, in address order."""

    ids: list[str]
    rows: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]


def check_folder(folder: Path, batch: int = 4096) -> IndexCheck:
    """Verify the index in ``folder`` (see the module docstring); damage is reported, never raised."""
    started = time.perf_counter()
    found = _Findings()
    dimension = _check_meta(folder, found)
    tantivy_damage = damaged_files(folder / TANTIVY_DIR)
    for path, problem in tantivy_damage:
        found.problem(path, problem)
    if is_legacy(folder):
        found.warn(folder, "written by an earlier bmb-es (no record files): convert it with bmb-es merge")
        return _result(folder, None, found, started)
    live = _live_documents(folder, found, batch, report_failure=not tantivy_damage)
    sums = _check_sums(folder, dimension, found)  # after tantivy: they cover at least what its commit references
    damaged_bytes = _damaged_chunks(folder, sums, found)
    if live is not None:
        if dimension is not None:
            _check_vectors(folder, dimension, live.rows, sums, damaged_bytes, found, batch)
        _check_sources(folder, live, found)
    return _result(folder, None if live is None else len(live.ids), found, started)


def _result(folder: Path, documents: int | None, found: _Findings, started: float) -> IndexCheck:
    seconds = time.perf_counter() - started
    return IndexCheck(folder.name, documents, tuple(found.problems), tuple(found.warnings), seconds)


def _check_meta(folder: Path, found: _Findings) -> int | None:
    """The dimension from ``meta.json`` (``None`` if it is damaged); ``text_fields.json`` looked at too."""
    dimension = None
    try:
        dimension = read_meta(folder).dimension
    except IndexDamagedError as error:
        found.problem(error.path, error.problem)
    fields_path = folder / FIELDS_FILE
    try:
        if not isinstance(json.loads(fields_path.read_bytes())["fields"], list):
            raise TypeError("fields is not a list")
    except FileNotFoundError:
        pass  # an index written before the file existed: every field is searched
    except (OSError, ValueError, KeyError, TypeError) as error:
        found.warn(fields_path, f"does not parse ({error}): searches use every text field (same hits, slower)")
    return dimension


def _live_documents(folder: Path, found: _Findings, batch: int, report_failure: bool) -> _Live | None:
    """The live documents, found twice (all of them, then by id); ``None`` when tantivy cannot read them."""
    import tantivy

    try:
        index = open_tantivy(folder)
        searcher = index.searcher()
        total = int(searcher.num_docs)
        hits = searcher.search(tantivy.Query.all_query(), limit=max(total, 1), count=False).hits if total else []
        addresses = sorted((address for _, address in hits), key=lambda item: (item.segment_ord, item.doc))
        ids: list[str] = []
        rows: list[int] = []
        offsets: list[int] = []
        lengths: list[int] = []
        for start in range(0, len(addresses), batch):
            chunk = addresses[start : start + batch]
            chunk_ids = [searcher.doc(address)[ID_FIELD][0] for address in chunk]
            query = tantivy.Query.term_set_query(index.schema, ID_FIELD, chunk_ids)
            again = len(searcher.search(query, limit=len(chunk), count=False).hits)
            if again != len(chunk):
                found.problem(folder / TANTIVY_DIR, f"{again} of {len(chunk)} documents are found again by their id")
            ids.extend(chunk_ids)
            rows.extend(searcher.fast_field_values(ROW_FIELD, chunk))
            offsets.extend(searcher.fast_field_values(OFFSET_FIELD, chunk))
            lengths.extend(searcher.fast_field_values(LENGTH_FIELD, chunk))
    except IndexDamagedError as error:
        found.problem(error.path, error.problem)
        return None
    except BaseException as error:  # a Rust panic is a BaseException (pyo3's PanicException)
        if not is_panic(error) and not isinstance(error, OSError | ValueError | KeyError | IndexError):
            raise
        if report_failure:  # else a damaged file, already reported, is the cause
            found.problem(folder / TANTIVY_DIR, f"tantivy cannot read the index ({' '.join(str(error).split())})")
        return None
    if len(ids) != total:
        found.problem(folder / TANTIVY_DIR, f"{len(ids)} documents found of the {total} tantivy counts")
    return _Live(ids, np.asarray(rows, np.int64), np.asarray(offsets, np.int64), np.asarray(lengths, np.int64))


def _check_sums(folder: Path, dimension: int | None, found: _Findings) -> RecordSums | None:
    """The checksums of the record files, ``None`` when there are none or they are damaged (both reported)."""
    try:
        sums = read_sums(folder)
    except IndexDamagedError as error:
        found.problem(error.path, error.problem)
        return None
    if sums is None:
        found.warn(
            folder / SUMS_FILE,
            "missing (an index last written before bmb-es kept checksums, or the file was deleted): vectors are "
            "checked by value only; the next commit writes it",
        )
    elif dimension is not None and sums.row_bytes != dimension * 4:
        found.problem(
            folder / "meta.json",
            f"dimension {dimension} is not the one the vectors were written with ({sums.row_bytes // 4})",
        )
    return sums


def _damaged_chunks(folder: Path, sums: RecordSums | None, found: _Findings) -> dict[str, list[tuple[int, int]]]:
    """Per record file, the byte ranges that do not match their checksums (each file's problems reported)."""
    damaged: dict[str, list[tuple[int, int]]] = {}
    if sums is None:
        return damaged
    for name, file_sums in sums.files.items():
        path = folder / name
        try:
            size = path.stat().st_size
            ranges = mismatched_chunks(path, file_sums, sums.chunk_bytes)
        except OSError as error:
            found.problem(path, _unreadable(error))
            continue
        if size < file_sums.size:
            found.problem(path, f"holds {size} bytes but {file_sums.size} were committed (truncated or replaced)")
        damaged[name] = ranges
        if ranges:
            listed = ", ".join(_byte_range(start, end, name, sums.row_bytes) for start, end in ranges[:_EXAMPLES])
            more = f" and {len(ranges) - _EXAMPLES} more" if len(ranges) > _EXAMPLES else ""
            found.problem(path, f"bytes changed since they were committed (checksums differ): {listed}{more}")
    return damaged


def _byte_range(start: int, end: int, name: str, row_bytes: int) -> str:
    if name != VECTORS_FILE:
        return f"bytes {start}-{end - 1}"
    return f"bytes {start}-{end - 1} (rows {start // row_bytes}-{(end - 1) // row_bytes})"


def _check_vectors(
    folder: Path,
    dimension: int,
    rows: npt.NDArray[np.int64],
    sums: RecordSums | None,
    damaged_bytes: dict[str, list[tuple[int, int]]],
    found: _Findings,
    batch: int,
) -> None:
    """Every referenced row: inside the file, finite and not huge, of norm 1 or 0."""
    path = folder / VECTORS_FILE
    row_bytes = dimension * 4
    try:
        whole_rows = path.stat().st_size // row_bytes
    except OSError as error:
        found.problem(path, _unreadable(error))
        return
    past = rows[rows >= whole_rows]
    if len(past):
        found.problem(
            path, f"{len(past)} referenced row(s) lie past its {whole_rows} rows (truncated): rows {_few(past)}"
        )
    inside = rows[rows < whole_rows]
    if not len(inside):
        return
    matrix = np.memmap(path, dtype="<f4", mode="r", shape=(whole_rows, dimension))
    bad: list[int] = []
    off: list[tuple[int, float]] = []
    for start in range(0, len(inside), batch):
        chunk = inside[start : start + batch]
        block = np.asarray(matrix[chunk], dtype=np.float32)
        bad_here = bad_rows(block)
        bad.extend(int(chunk[number]) for number in bad_here)
        fine = np.ones(len(chunk), dtype=bool)
        fine[bad_here] = False
        norms = np.sqrt(np.einsum("ij,ij->i", block[fine].astype(np.float64), block[fine].astype(np.float64)))
        unusual = (np.abs(norms - 1.0) > NORM_TOLERANCE) & (norms != 0.0)
        off.extend(zip(chunk[fine][unusual].tolist(), norms[unusual].tolist(), strict=True))
    del matrix  # the map closes with its last reference
    if bad:
        found.problem(path, f"{len(bad)} referenced row(s) hold {BAD_VALUES}: rows {_few(bad)}")
    vouched: list[str] = []
    doubtful: list[str] = []
    for row, norm in off:
        vouches = _vouched(row * row_bytes, row_bytes, sums, damaged_bytes)
        (vouched if vouches else doubtful).append(f"row {row} (norm {norm:.4g})")
    if doubtful:
        found.problem(
            path,
            f"{len(doubtful)} referenced row(s) are not unit vectors and no checksum vouches for them: "
            f"{_few(doubtful)}",
        )
    if vouched:
        found.warn(
            path,
            f"{len(vouched)} referenced row(s) are not unit vectors; their checksums match, so they were "
            f"written so (not by a bmb-es embedder): {_few(vouched)}",
        )


def _vouched(start: int, length: int, sums: RecordSums | None, damaged_bytes: dict[str, list[tuple[int, int]]]) -> bool:
    """Whether bytes ``[start, start + length)`` of ``vectors.f32`` are covered by checksums that match."""
    if sums is None or start + length > sums.files[VECTORS_FILE].size:
        return False
    return not any(begin < start + length and start < end for begin, end in damaged_bytes.get(VECTORS_FILE, []))


def _check_sources(folder: Path, live: _Live, found: _Findings) -> None:
    """Every referenced source: inside the file, parses, and holds its document's id."""
    path = folder / SOURCES_FILE
    try:
        with open(path, "rb") as handle:
            data: mmap.mmap | bytes = b""
            if path.stat().st_size:
                data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as error:
        found.problem(path, _unreadable(error))
        return
    past: list[str] = []
    unparsed: list[str] = []
    foreign: list[str] = []
    for doc_id, offset, length in zip(live.ids, live.offsets.tolist(), live.lengths.tolist(), strict=True):
        if offset + length > len(data):
            past.append(doc_id)
            continue
        try:
            source = decode_source(data[offset : offset + length])
        except (ValueError, RecursionError):  # RecursionError: garbage of many nested brackets
            unparsed.append(doc_id)
            continue
        if not isinstance(source, dict) or source.get("id") != doc_id:
            foreign.append(doc_id)
    if past:
        found.problem(path, f"the sources of {len(past)} document(s) lie past its {len(data)} bytes: {_few(past)}")
    if unparsed:
        found.problem(path, f"the sources of {len(unparsed)} document(s) do not parse: {_few(unparsed)}")
    if foreign:
        found.problem(path, f"{len(foreign)} document(s) point at another document's source: {_few(foreign)}")


def _unreadable(error: OSError) -> str:
    return "missing" if isinstance(error, FileNotFoundError) else f"cannot be read ({error.strerror or error})"


def _few(items: Sequence[object] | npt.NDArray[np.int64]) -> str:
    """The first few ``items``, comma-separated, with an ellipsis when there are more."""
    listed = [str(item) for item in list(items)[:_EXAMPLES]]
    return ", ".join(listed) + (", …" if len(items) > _EXAMPLES else "")
