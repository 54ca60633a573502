"""Walk a path, detect each file's format and encoding, and stream Documents (or Rejects) from all of them."""

from __future__ import annotations

import errno
import os
import stat
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .._document import Document
from .._errors import InputError
from ._formats import FORMAT_NAMES, FORMATS, MAPPABLE_FIELDS, Converter, format_by_name, generic_converter
from ._records import RawRecord, Reject, file_kind, first_record_keys, iter_raw, record_suffix, sniff_encoding


@dataclass(frozen=True, slots=True)
class CorpusFile:
    """One file of a corpus, the format it will be read as and its text encoding."""

    path: Path
    format: str
    converter: Converter = field(repr=False, compare=False)
    encoding: str = "utf-8"


@dataclass(frozen=True, slots=True)
class CorpusPlan:
    """What a corpus path holds: the files to read, and the files skipped with the reason why.

    In a folder, files that are not record files (README, PDFs), record files of no recognisable format or with no
    records, and files that cannot be read are skipped and reported with the true reason: ``"permission denied"``,
    ``"broken symlink ..."``, ``"symlink loop"``, ``"symlink to a folder ..."`` (not followed),
    ``"not a regular file (a named pipe)"`` (never opened), ``"not a gzip file ..."``, ``"no records"``,
    ``"unknown format"``. UTF-8 with a byte-order mark, UTF-16 and UTF-32 files are read (see
    :mod:`bmb_es.readers._records`). A single file named directly must be readable or it is an error.
    """

    files: tuple[CorpusFile, ...]
    skipped: tuple[tuple[Path, str], ...]

    @property
    def total_bytes(self) -> int:
        return sum(item.path.stat().st_size for item in self.files)


class _Unplannable(InputError):
    """A file that will not be read: ``reason`` is the short form a summary lists."""

    def __init__(self, path: Path, reason: str, detail: str = "") -> None:
        super().__init__(f"{path}: {reason}{detail}")
        self.reason = reason


def os_reason(error: OSError) -> str:
    """Why a file could not be opened, in the words a summary shows."""
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if error.errno == errno.ELOOP:
        return "symlink loop"
    if error.errno == errno.ENOENT:
        return "no such file (removed while planning?)"
    return (error.strerror or type(error).__name__).lower()


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a record file, without opening it; ``None`` for a regular file."""
    try:
        mode = os.stat(path).st_mode  # follows symlinks
    except OSError as error:
        if error.errno == errno.ENOENT and os.path.islink(path):
            return f"broken symlink (its target {os.readlink(path)} does not exist)"
        return os_reason(error)
    if not stat.S_ISREG(mode):
        return f"not a regular file ({file_kind(mode)}): not opened"
    return None


def _walk(root: Path, skipped: list[tuple[Path, str]]) -> Iterator[Path]:
    """Files under ``root`` in a stable order, hidden files and folders excluded; folders that cannot be listed
    and symlinks to folders (not followed: they may loop or leave the corpus) are added to ``skipped``."""

    def refused(error: OSError) -> None:
        skipped.append((Path(error.filename or root), os_reason(error)))

    for folder, folders, files in os.walk(root, onerror=refused):
        kept: list[str] = []
        for name in sorted(folders):
            if name.startswith("."):
                continue
            if os.path.islink(os.path.join(folder, name)):
                skipped.append((Path(folder) / name, "symlink to a folder (not followed; name the folder itself)"))
            else:
                kept.append(name)
        folders[:] = kept
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
        The path is missing, holds no record files, or a file named directly cannot be read (its format is
        unknown, it holds no records, it is not a regular file, ...).
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
    if not os.path.lexists(root):
        raise InputError(f"{root}: no such file or folder")
    skipped: list[tuple[Path, str]] = []
    folder = root.is_dir()
    if folder:
        candidates = sorted(_walk(root, skipped))
        refused = [reason for item, reason in skipped if item == root]
        if refused:
            raise InputError(f"{root}: {refused[0]}")
    else:
        problem = file_problem(root)
        if problem is not None:
            raise InputError(f"{root}: {problem}")
        candidates = [root]
    record_files = [item for item in candidates if record_suffix(item)]
    skipped += [(item, "not a record file") for item in candidates if not record_suffix(item)]
    if not record_files:
        what = "holds no record files" if folder else "is not a .jsonl/.json/.csv/.tsv file (optionally .gz)"
        raise InputError(f"{root}: {what}; nothing to index")

    files: list[CorpusFile] = []
    first_error: InputError | None = None
    for item in record_files:
        try:
            files.append(_plan_file(item, format, field_map))
        except _Unplannable as error:
            if not folder:
                raise
            first_error = first_error or error
            skipped.append((item, error.reason))
    if not files:
        assert first_error is not None
        raise first_error
    return CorpusPlan(tuple(files), tuple(sorted(skipped)))


def _plan_file(path: Path, forced: str | None, field_map: Mapping[str, str] | None) -> CorpusFile:
    problem = file_problem(path)  # before opening: a FIFO would block the open
    if problem is not None:
        raise _Unplannable(path, problem)
    try:
        encoding = sniff_encoding(path)
    except zlib.error as error:
        raise _Unplannable(path, "not a gzip file", f" ({error})") from error
    except OSError as error:
        raise _Unplannable(path, os_reason(error)) from error
    if field_map and forced in (None, "generic"):
        return CorpusFile(path, "generic", generic_converter(field_map), encoding)
    if forced is not None:
        return CorpusFile(path, forced, format_by_name(forced).converter, encoding)
    keys = first_record_keys(path, encoding)
    if keys is None:
        raise _Unplannable(path, "no records", " (an empty file, or only blank lines or a CSV header)")
    if not keys:
        # Records, but not one readable: read it anyway, so each is rejected with its line and reason.
        return CorpusFile(path, "generic", generic_converter(), encoding)
    suffix = record_suffix(path)
    for fmt in FORMATS:
        if fmt.matches(suffix, keys):
            return CorpusFile(path, fmt.name, fmt.converter, encoding)
    shown = ", ".join(sorted(keys)[:12])
    raise _Unplannable(
        path,
        "unknown format",
        f" (first record has: {shown}); "
        f"force one with --format {{{','.join(FORMAT_NAMES)}}} or map fields with --field abstract=KEY",
    )


def iter_corpus(plan: CorpusPlan) -> Iterator[Document | Reject]:
    """Every record of every planned file, in order: a Document, or a Reject with file, line and reason.

    One record never stops the corpus: a converter that raises rejects its record, and a file that fails part-way
    (a truncated or damaged ``.gz``, a file removed while read) is rejected from the line where it failed.
    """
    for item in plan.files:
        line = 0
        try:
            for raw in iter_raw(item.path, item.encoding):
                line = raw.line
                yield raw if isinstance(raw, Reject) else _convert(item.converter, raw)
        except Exception as error:
            yield Reject(str(item.path), line + 1, f"file unreadable from here on: {type(error).__name__}: {error}")


def _convert(converter: Converter, raw: RawRecord) -> Document | Reject:
    try:
        return converter(raw)
    except Exception as error:  # converters do not raise for bad data; should one, it costs one record, not the run
        return Reject(raw.file, raw.line, f"record could not be converted: {type(error).__name__}: {error}")


def read_corpus(
    path: str | Path,
    format: str | None = None,
    field_map: Mapping[str, str] | None = None,
) -> Iterator[Document | Reject]:
    """Plan and read a corpus in one call (see :func:`plan_corpus`)."""
    return iter_corpus(plan_corpus(path, format, field_map))


__all__ = ["CorpusFile", "CorpusPlan", "RawRecord", "iter_corpus", "plan_corpus", "read_corpus"]
