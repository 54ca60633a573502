"""Walk a path, detect each file's format and stream Documents (or Rejects) from all of them."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .._document import Document
from .._errors import InputError
from ._formats import FORMAT_NAMES, FORMATS, MAPPABLE_FIELDS, Converter, format_by_name, generic_converter
from ._records import RawRecord, Reject, first_record_keys, iter_raw, record_suffix


@dataclass(frozen=True, slots=True)
class CorpusFile:
    """One file of a corpus and the format it will be read as."""

    path: Path
    format: str
    converter: Converter = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class CorpusPlan:
    """What a corpus path holds: the files to read, and the files skipped with the reason why.

    In a folder, files that are not record files (README, PDFs) and record files of no recognisable
    format are skipped and reported; a single file named directly must be readable or it is an error.
    """

    files: tuple[CorpusFile, ...]
    skipped: tuple[tuple[Path, str], ...]

    @property
    def total_bytes(self) -> int:
        return sum(item.path.stat().st_size for item in self.files)


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root`` in a stable order, hidden files and folders excluded."""
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def plan_corpus(
    path: str | Path,
    format: str | None = None,
    field_map: Mapping[str, str] | None = None,
) -> CorpusPlan:
    """Decide how every file under ``path`` will be read, before reading any record.

    Parameters
    ----------
    path
        A file, or a folder walked recursively. ``.gz`` files are decompressed on the fly.
    format
        Force one format (see :data:`FORMAT_NAMES`) for every file instead of detecting it per file.
    field_map
        ``{document_field: source_key}`` for generic records, e.g. ``{"abstract": "summary"}``.

    Raises
    ------
    InputError
        The path is missing, holds no record files, or a file's format cannot be recognised.
    """
    root = Path(path).expanduser()
    if format is not None and format not in FORMAT_NAMES:
        raise InputError(f"unknown format {format!r}: choose one of {', '.join(FORMAT_NAMES)}")
    if field_map:
        unknown = sorted(set(field_map) - set(MAPPABLE_FIELDS))
        if unknown:
            raise InputError(
                f"--field {unknown[0]}=...: not a document field; mappable fields: {', '.join(MAPPABLE_FIELDS)}"
            )
    if not root.exists():
        raise InputError(f"{root}: no such file or folder")
    candidates = [root] if root.is_file() else sorted(_walk(root))
    record_files = [item for item in candidates if record_suffix(item)]
    skipped = [(item, "not a record file") for item in candidates if not record_suffix(item)]
    if not record_files:
        what = "is not a .jsonl/.json/.csv/.tsv file (optionally .gz)" if root.is_file() else "holds no record files"
        raise InputError(f"{root}: {what}; nothing to index")

    files: list[CorpusFile] = []
    first_error: InputError | None = None
    for item in record_files:
        try:
            files.append(_plan_file(item, format, field_map))
        except InputError as error:
            if root.is_file():
                raise
            first_error = first_error or error
            skipped.append((item, "unknown format"))
    if not files:
        assert first_error is not None
        raise first_error
    return CorpusPlan(tuple(files), tuple(skipped))


def _plan_file(path: Path, forced: str | None, field_map: Mapping[str, str] | None) -> CorpusFile:
    if field_map and forced in (None, "generic"):
        return CorpusFile(path, "generic", generic_converter(field_map))
    if forced is not None:
        return CorpusFile(path, forced, format_by_name(forced).converter)
    keys = first_record_keys(path)
    suffix = record_suffix(path)
    for fmt in FORMATS:
        if fmt.matches(suffix, keys):
            return CorpusFile(path, fmt.name, fmt.converter)
    shown = ", ".join(sorted(keys)[:12]) or "no readable record"
    raise InputError(
        f"{path}: unknown format (first record has: {shown}); "
        f"force one with --format {{{','.join(FORMAT_NAMES)}}} or map fields with --field abstract=KEY"
    )


def iter_corpus(plan: CorpusPlan) -> Iterator[Document | Reject]:
    """Every record of every planned file, in order: a Document, or a Reject with file, line and reason."""
    for item in plan.files:
        try:
            for raw in iter_raw(item.path):
                yield raw if isinstance(raw, Reject) else item.converter(raw)
        except (OSError, EOFError) as error:
            # A truncated .gz or unreadable file loses only itself; what was read before stays counted.
            yield Reject(str(item.path), 0, f"file unreadable: {error}")


def read_corpus(
    path: str | Path,
    format: str | None = None,
    field_map: Mapping[str, str] | None = None,
) -> Iterator[Document | Reject]:
    """Plan and read a corpus in one call (see :func:`plan_corpus`)."""
    return iter_corpus(plan_corpus(path, format, field_map))


__all__ = ["CorpusFile", "CorpusPlan", "RawRecord", "iter_corpus", "plan_corpus", "read_corpus"]
