"""How many records a planned corpus holds, counted cheaply (no conversion), for a progress bar's total.

JSON Lines: non-blank lines. CSV/TSV: rows with a non-blank cell, after the header. JSON: the items, parsed as the
reader parses them. Every record counts, readable or not, as the ingest summary's ``read`` does; a file that fails
part-way counts what was read of it. The count is an estimate for showing progress, never used for anything else.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from pathlib import Path

from ._corpus import CorpusPlan
from ._records import iter_raw, open_text, record_suffix

_CHECK_EVERY = 65_536  # records between looks at the stop flag


class _Stopped(Exception):
    pass


def count_records(plan: CorpusPlan, stop: threading.Event | None = None) -> int | None:
    """The number of records in ``plan``'s files, or ``None`` when ``stop`` was set before the count finished."""
    total = 0
    try:
        for item in plan.files:
            if stop is not None and stop.is_set():
                return None
            total += _count_file(item.path, item.encoding, stop)
    except _Stopped:
        return None
    return total


def _count_file(path: Path, encoding: str, stop: threading.Event | None) -> int:
    count = 0
    try:
        for count, _ in enumerate(_records(path, encoding), start=1):
            if stop is not None and count % _CHECK_EVERY == 0 and stop.is_set():
                raise _Stopped
    except _Stopped:
        raise
    except Exception:  # the reader rejects what follows as one record; the count is an estimate anyway
        return count + 1
    return count


def _records(path: Path, encoding: str) -> Iterator[None]:
    suffix = record_suffix(path)
    if suffix in (".jsonl", ".ndjson"):
        with open_text(path, encoding) as handle:
            for line in handle:
                if line.strip():
                    yield None
    elif suffix in (".csv", ".tsv"):
        with open_text(path, encoding) as handle:
            reader = csv.reader(handle, delimiter="\t" if suffix == ".tsv" else ",")
            if next(reader, None) is None:
                return
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error:
                    yield None  # the reader rejects a malformed row and goes on
                    continue
                if any(cell.strip() for cell in row):
                    yield None
    else:
        for _ in iter_raw(path, encoding):
            yield None
