"""Raw records with their file position, and the rejects readers emit instead of raising.

Nothing is lost: every record of a file becomes a :class:`RawRecord` or a :class:`Reject` (file, line, reason),
and every value a reader had to change is noted on its record (``RawRecord.notes``, counted by ingest):

* Encoding: UTF-8, unless a byte-order mark says UTF-8 (the mark is dropped), UTF-16 or UTF-32, or the NUL bytes
  of the first 4 KiB show UTF-16 without a mark. Bytes that do not decode become U+FFFD, noted once per value as
  ``"invalid UTF-8 → U+FFFD"`` (or the file's encoding).
* Lone surrogates written as JSON escapes (``"\\ud800"``), which no UTF-8 writer accepts, become U+FFFD, noted
  ``"lone surrogate → U+FFFD"``.
* ``NaN``, ``Infinity`` and ``-Infinity``, which Python's JSON parser accepts but JSON (and clusters) do not,
  become the text ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, noted ``"NaN/Infinity → text"``.
* A record nested more than :data:`MAX_NESTING` levels deep is rejected: Python's JSON parser and writer recurse
  once per level and fail near 1,000, wherever the record is next written.
* Files are opened only when they are regular files: a FIFO would block ``open`` itself.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import gzip
import io
import json
import math
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# BREATHE full bodies run to megabytes in one CSV cell; the csv module's default limit is 128 KiB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

RECORD_SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")
# Deeper records are rejected: real ones nest a few levels; Python's JSON code fails near 1,000 levels (less in a
# deep call stack), and a failure there would stop the run at every rerun.
MAX_NESTING = 100
SNIFF_BYTES = 4096  # read to recognise a file's encoding

LONE_SURROGATE = "lone surrogate → U+FFFD"
NON_FINITE = "NaN/Infinity → text"

# Undecodable bytes become lone surrogates U+DC00 + byte (like "surrogateescape", which cannot escape bytes below
# 0x80 that UTF-16 may leave undecoded), so each record can tell whether its own text held invalid bytes.
UNDECODABLE = "bmb-es-undecodable"


def _escape_undecodable(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(chr(0xDC00 + byte) for byte in error.object[error.start : error.end]), error.end


codecs.register_error(UNDECODABLE, _escape_undecodable)

_SURROGATE = re.compile("[\ud800-\udfff]")
# Worth a walk through the parsed record: raw surrogates (invalid bytes), escaped surrogates, non-finite numbers.
_SUSPECT = re.compile("[\ud800-\udfff]|\\\\u[dD][89a-fA-F]|NaN|Infinity")
_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}


@dataclass(frozen=True, slots=True)
class Reject:
    """A record that could not become a Document: where it is and why."""

    file: str
    line: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One source record as a flat mapping, with the 1-based line it starts on and what reading changed in it."""

    file: str
    line: int
    fields: dict[str, Any]
    notes: tuple[str, ...] = ()


class _TooDeep(Exception):
    """A record nests more than :data:`MAX_NESTING` levels."""


def record_suffix(path: Path) -> str:
    """The record suffix of ``path``, looking through a trailing ``.gz``; ``""`` if it has none."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes and suffixes[-1] in RECORD_SUFFIXES else ""


def _is_gzip(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


@contextlib.contextmanager
def open_regular(path: Path) -> Iterator[IO[bytes]]:
    """``path`` opened for binary reading, refused (``OSError``) unless it is a regular file.

    Opened non-blocking first: a FIFO blocks ``open`` itself until a writer comes, and here it never is read.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({file_kind(mode)})", str(path))
        os.set_blocking(descriptor, True)
        handle = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with handle:
        yield handle


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    kinds = (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def sniff_encoding(path: Path) -> str:
    """The encoding to read ``path`` with, from its first bytes (decompressed for ``.gz``).

    Raises
    ------
    OSError
        The file cannot be opened or read (permission denied, not a regular file).
    zlib.error
        A ``.gz`` file that is not gzip data.
    """
    with open_regular(path) as handle:
        head = handle.read(64 * 1024 if _is_gzip(path) else SNIFF_BYTES)
    if _is_gzip(path):
        if not head.startswith(GZIP_MAGIC):
            raise zlib.error("no gzip header")
        head = _gunzip_start(head)
    return encoding_of(head)


GZIP_MAGIC = b"\x1f\x8b"


def _gunzip_start(data: bytes) -> bytes:
    """What the start of gzip ``data`` decompresses to, up to :data:`SNIFF_BYTES`, as far as it is not damaged or
    truncated: reading the file then takes its records up to the damage and rejects the rest."""
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = b""
    for start in range(0, len(data), 1024):
        try:
            out += inflate.decompress(data[start : start + 1024], SNIFF_BYTES - len(out))
        except zlib.error:
            break
        if len(out) >= SNIFF_BYTES or inflate.eof:
            break
    return out


def encoding_of(head: bytes) -> str:
    """The encoding of text starting with ``head``: a byte-order mark decides, else NUL bytes show UTF-16."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE starts both
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    even, odd = head[0 : len(head) // 2 * 2 : 2], head[1 : len(head) // 2 * 2 : 2]
    # Records start with ASCII ("{", "[", a CSV header), which UTF-16 writes as the byte and a NUL.
    if even and odd.count(0) >= len(odd) / 2 and even.count(0) == 0:
        return "utf-16-le"
    if even and even.count(0) >= len(even) / 2 and odd.count(0) == 0:
        return "utf-16-be"
    return "utf-8"


@contextlib.contextmanager
def open_text(path: Path, encoding: str = "utf-8") -> Iterator[IO[str]]:
    """A regular file as text, decompressing ``.gz``; undecodable bytes become lone surrogates (see the module)."""
    with open_regular(path) as raw:
        binary: gzip.GzipFile | IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if _is_gzip(path) else raw
        with io.TextIOWrapper(binary, encoding=encoding, errors=UNDECODABLE, newline="") as text:
            yield text


def iter_raw(path: Path, encoding: str = "utf-8") -> Iterator[RawRecord | Reject]:
    """Yield every record of a JSON Lines, JSON or CSV/TSV file, or a Reject for each unreadable one."""
    suffix = record_suffix(path)
    if suffix in (".jsonl", ".ndjson"):
        yield from _iter_jsonl(path, encoding)
    elif suffix == ".json":
        yield from _iter_json(path, encoding)
    elif suffix in (".csv", ".tsv"):
        yield from _iter_csv(path, encoding, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        raise ValueError(f"not a record file: {path}")


def _invalid_note(encoding: str) -> str:
    return f"invalid {_LABELS.get(encoding, encoding.upper())} → U+FFFD"


def _replacement(text: str, encoding: str) -> str | None:
    """How surrogates in records parsed from ``text`` are noted, or ``None`` when they need no walk at all (the
    usual record: no surrogate, no non-finite number, too few brackets to nest too deeply)."""
    if text.count("[") + text.count("{") <= MAX_NESTING and _SUSPECT.search(text) is None:
        return None
    # Surrogates in the raw text can only be undecodable bytes; after parsing they may also be escapes.
    return _invalid_note(encoding) if _SURROGATE.search(text) else LONE_SURROGATE


def _checked(name: str, number: int, value: dict[str, Any], replaced: str | None) -> RawRecord | Reject:
    """``value`` as a RawRecord, its surrogates and non-finite numbers replaced and noted (see
    :func:`_replacement`), or a Reject when it nests too deeply."""
    if replaced is None:
        return RawRecord(name, number, value)
    notes: list[str] = []
    try:
        fields = _clean(value, 1, replaced, notes)
    except _TooDeep:
        return Reject(name, number, f"record nested more than {MAX_NESTING} levels deep")
    return RawRecord(name, number, fields, tuple(notes))


def _clean(value: Any, depth: int, replaced: str, notes: list[str]) -> Any:
    """``value`` with surrogates as U+FFFD and non-finite floats as text, each noted; raises :class:`_TooDeep`."""
    if isinstance(value, str):
        if _SURROGATE.search(value) is None:
            return value
        notes.append(replaced)
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        notes.append(NON_FINITE)
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if depth > MAX_NESTING:
        if isinstance(value, dict | list):
            raise _TooDeep
        return value
    if isinstance(value, dict):
        return {
            _clean(key, depth, replaced, notes): _clean(item, depth + 1, replaced, notes) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_clean(item, depth + 1, replaced, notes) for item in value]
    return value


def _iter_jsonl(path: Path, encoding: str) -> Iterator[RawRecord | Reject]:
    name = str(path)
    with open_text(path, encoding) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                yield Reject(name, number, f"invalid JSON: {error.msg} at column {error.colno}")
                continue
            except RecursionError:
                yield Reject(name, number, f"record nested more than {MAX_NESTING} levels deep")
                continue
            if not isinstance(value, dict):
                yield Reject(name, number, f"expected a JSON object, got {type(value).__name__}")
                continue
            yield _checked(name, number, value, _replacement(line, encoding))


def _iter_json(path: Path, encoding: str) -> Iterator[RawRecord | Reject]:
    """A JSON file holding one object or an array of objects (line numbers are not known: 1-based index)."""
    name = str(path)
    with open_text(path, encoding) as handle:
        text = handle.read()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        yield Reject(name, error.lineno, f"invalid JSON: {error.msg} at column {error.colno}")
        return
    except RecursionError:
        yield Reject(name, 1, f"file nested more than {MAX_NESTING} levels deep")
        return
    items = value if isinstance(value, list) else [value]
    replaced = _replacement(text, encoding)  # where each item's text is, is not known: the whole file decides
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield _checked(name, number, item, replaced)
        else:
            yield Reject(name, number, f"array item {number}: expected a JSON object, got {type(item).__name__}")


def _iter_csv(path: Path, encoding: str, delimiter: str) -> Iterator[RawRecord | Reject]:
    name = str(path)
    replaced = _invalid_note(encoding)  # CSV has no escapes: every surrogate is an undecodable byte
    with open_text(path, encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Reject(name, 1, f"unreadable CSV header: {error}")
            return
        header = [_SURROGATE.sub("\ufffd", column.strip().lstrip("\ufeff")) for column in header]
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield Reject(name, start, f"malformed CSV row: {error}")
                start = reader.line_num + 1
                continue
            if row and any(cell.strip() for cell in row):
                if len(row) != len(header):
                    yield Reject(name, start, f"CSV row has {len(row)} columns, header has {len(header)}")
                else:
                    notes = [replaced for cell in row if _SURROGATE.search(cell)]
                    cells = [_SURROGATE.sub("\ufffd", cell) for cell in row] if notes else row
                    yield RawRecord(name, start, dict(zip(header, cells, strict=True)), tuple(notes))
            start = reader.line_num + 1


def first_record_keys(path: Path, encoding: str = "utf-8") -> set[str] | None:
    """The keys of the first readable record of a file (for format detection).

    Empty when the file holds records but none is readable (each will be rejected with its reason, or the file
    as a whole when it cannot be read to its end); ``None`` when it holds no record at all.
    """
    rejected = False
    try:
        for item in iter_raw(path, encoding):
            if isinstance(item, RawRecord):
                return set(item.fields)
            rejected = True
    except (OSError, EOFError, zlib.error):
        return set()
    return set() if rejected else None
