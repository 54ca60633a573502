"""Raw records with their file position, and the rejects readers emit instead of raising."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# BREATHE full bodies run to megabytes in one CSV cell; the csv module's default limit is 128 KiB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

RECORD_SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")


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
    """One source record as a flat mapping, with the 1-based line it starts on."""

    file: str
    line: int
    fields: dict[str, Any]


def record_suffix(path: Path) -> str:
    """The record suffix of ``path``, looking through a trailing ``.gz``; ``""`` if it has none."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes and suffixes[-1] in RECORD_SUFFIXES else ""


def open_text(path: Path) -> IO[str]:
    """Open a text file, decompressing ``.gz`` transparently; undecodable bytes become U+FFFD."""
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def iter_raw(path: Path) -> Iterator[RawRecord | Reject]:
    """Yield every record of a JSON Lines, JSON or CSV/TSV file, or a Reject for each unreadable one."""
    suffix = record_suffix(path)
    if suffix in (".jsonl", ".ndjson"):
        yield from _iter_jsonl(path)
    elif suffix == ".json":
        yield from _iter_json(path)
    elif suffix in (".csv", ".tsv"):
        yield from _iter_csv(path, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        raise ValueError(f"not a record file: {path}")


def _iter_jsonl(path: Path) -> Iterator[RawRecord | Reject]:
    name = str(path)
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                yield Reject(name, number, f"invalid JSON: {error.msg} at column {error.colno}")
                continue
            if not isinstance(value, dict):
                yield Reject(name, number, f"expected a JSON object, got {type(value).__name__}")
                continue
            yield RawRecord(name, number, value)


def _iter_json(path: Path) -> Iterator[RawRecord | Reject]:
    """A JSON file holding one object or an array of objects (line numbers are not known: 1-based index)."""
    name = str(path)
    with open_text(path) as handle:
        try:
            value = json.load(handle)
        except json.JSONDecodeError as error:
            yield Reject(name, error.lineno, f"invalid JSON: {error.msg} at column {error.colno}")
            return
    items = value if isinstance(value, list) else [value]
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield RawRecord(name, number, item)
        else:
            yield Reject(name, number, f"array item {number}: expected a JSON object, got {type(item).__name__}")


def _iter_csv(path: Path, delimiter: str) -> Iterator[RawRecord | Reject]:
    name = str(path)
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Reject(name, 1, f"unreadable CSV header: {error}")
            return
        header = [column.strip().lstrip("\ufeff") for column in header]
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
                    yield RawRecord(name, start, dict(zip(header, row, strict=True)))
            start = reader.line_num + 1


def first_record_keys(path: Path) -> set[str]:
    """The keys of the first readable record of a file (for format detection); empty if there is none."""
    try:
        for item in iter_raw(path):
            if isinstance(item, RawRecord):
                return set(item.fields)
    except (OSError, EOFError, gzip.BadGzipFile):
        return set()
    return set()
