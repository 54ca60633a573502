"""The on-disk layout of one embedded index: a tantivy index, the record files and ``meta.json``.

Each tantivy document holds the searchable text, the id and content hash (stored), and where its vector and
``_source`` JSON lie in the record files (fast fields, see :mod:`._records`). The record files are fsynced
before every tantivy commit, so a commit never publishes a document whose vector or source is not on disk.

Indices written before the record files existed ("legacy" layout) kept the source and vector bytes inside
tantivy's stored documents; :func:`open_legacy_tantivy` reads them so ``bmb-es merge`` can convert them
without re-embedding.

A damaged file raises :class:`IndexDamagedError` naming it: ``meta.json`` that does not parse, a record file
missing, or a tantivy file that tantivy cannot open (named by :func:`._tantivy_files.damaged_files`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..._analysis import ANALYZER_NAME, tantivy_analyzer
from ..._errors import IndexDamagedError, StorageError
from .._base import IndexMeta
from ._records import SOURCES_FILE, VECTORS_FILE, create_record_files, record_files_present, sync_folder
from ._tantivy_files import META_JSON as TANTIVY_META_FILE
from ._tantivy_files import damaged_files

TEXT_FIELDS: tuple[str, ...] = ("title", "abstract", "body")
ID_FIELD = "id"
HASH_FIELD = "content_hash"
ROW_FIELD = "vector_row"
OFFSET_FIELD = "source_offset"
LENGTH_FIELD = "source_length"
META_FILE = "meta.json"
# The text fields that committed documents may have: a field no document has is left out of queries.
FIELDS_FILE = "text_fields.json"
TANTIVY_DIR = "tantivy"
# The legacy layout's stored fields.
LEGACY_SOURCE_FIELD = "source_json"
LEGACY_VECTOR_FIELD = "embedding"


def _text_fields(builder: Any) -> None:
    builder.add_text_field(ID_FIELD, stored=True, tokenizer_name="raw")
    builder.add_text_field(HASH_FIELD, stored=True, tokenizer_name="raw", index_option="basic")
    for name in TEXT_FIELDS:
        # BM25 needs term frequencies and field lengths, not positions.
        builder.add_text_field(name, stored=False, tokenizer_name=ANALYZER_NAME, index_option="freq")


def build_schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    _text_fields(builder)
    for name in (ROW_FIELD, OFFSET_FIELD, LENGTH_FIELD):
        builder.add_unsigned_field(name, stored=False, indexed=False, fast=True)
    return builder.build()


def build_legacy_schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    _text_fields(builder)
    builder.add_bytes_field(LEGACY_SOURCE_FIELD, stored=True)
    builder.add_bytes_field(LEGACY_VECTOR_FIELD, stored=True)
    return builder.build()


def is_legacy(folder: Path) -> bool:
    """An index (``meta.json`` present) written before the record files existed: it has neither of them."""
    return (folder / META_FILE).is_file() and not any(record_files_present(folder))


def open_tantivy(folder: Path) -> Any:
    """Open (or create) the tantivy index in ``folder`` with the shared analyzer registered.

    Creates one only for an index being created (no ``meta.json`` yet): tantivy would replace a lost commit of an
    existing index with an empty one.
    """
    present = record_files_present(folder)
    tantivy_meta = folder / TANTIVY_DIR / TANTIVY_META_FILE
    if (folder / META_FILE).is_file() and not tantivy_meta.is_file():
        raise IndexDamagedError(tantivy_meta, "missing", folder.name)
    if (folder / META_FILE).is_file() and not all(present):
        if any(present):
            missing = SOURCES_FILE if present[0] else VECTORS_FILE
            raise IndexDamagedError(folder / missing, "missing", folder.name)
        raise StorageError(  # the legacy layout (see is_legacy)
            f"{folder}: this index was written by an earlier bmb-es that kept vectors inside tantivy's stored "
            f"documents; convert it without re-embedding: bmb-es merge {folder} --into {folder.name}-2 "
            f"--data-dir {folder.parent.parent} (then delete the old folder)"
        )
    return _open(folder, build_schema())


def open_legacy_tantivy(folder: Path) -> Any:
    """Open an index written in the legacy layout, for reading (see the module docstring)."""
    return _open(folder, build_legacy_schema())


def _open(folder: Path, schema: Any) -> Any:
    import tantivy

    target = folder / TANTIVY_DIR
    target.mkdir(parents=True, exist_ok=True)
    try:
        index = tantivy.Index(schema, path=str(target), reuse=True)
    except BaseException as error:  # a Rust panic is a BaseException (pyo3's PanicException)
        if not isinstance(error, OSError | ValueError) and not is_panic(error):
            raise
        # An index (its metadata written) that tantivy cannot open: name the damaged file if there is one.
        damage = damaged_files(target) if (folder / META_FILE).is_file() else []
        if damage:
            path, problem = damage[0]
            raise IndexDamagedError(path, problem, folder.name) from None
        raise StorageError(f"{target}: cannot open the index ({' '.join(str(error).split())})") from None
    index.register_tokenizer(ANALYZER_NAME, tantivy_analyzer())
    return index


def is_panic(error: BaseException) -> bool:
    """Whether ``error`` is a Rust panic that pyo3 raised (``pyo3_runtime.PanicException``, not importable)."""
    return type(error).__name__ == "PanicException" and type(error).__module__ == "pyo3_runtime"


def read_meta(folder: Path) -> IndexMeta:
    """The index's metadata; IndexDamagedError when ``meta.json`` is missing or is not such metadata."""
    path = folder / META_FILE
    try:
        meta = IndexMeta.from_json(json.loads(path.read_bytes()))
    except FileNotFoundError:
        raise IndexDamagedError(path, "missing", folder.name) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        problem = f"not the metadata of an index ({type(error).__name__}: {error})"
        raise IndexDamagedError(path, problem, folder.name) from None
    if meta.dimension <= 0 or not meta.model:
        raise IndexDamagedError(
            path, f"not the metadata of an index (model {meta.model!r}, dimension {meta.dimension})", folder.name
        )
    return meta


def create_folder(folder: Path, meta: IndexMeta) -> None:
    """A new, empty index in ``folder``: tantivy's index, the record files, the text fields, then ``meta.json``
    (last: an index exists only once its metadata does)."""
    try:
        open_tantivy(folder)
        create_record_files(folder)
        write_text_fields(folder, frozenset())
        write_meta(folder, meta)
    except OSError as error:
        raise StorageError(f"{folder}: cannot create the index ({error.strerror or error})") from error


def write_meta(folder: Path, meta: IndexMeta) -> None:
    """Write ``meta.json`` atomically, so a crash never leaves half a file."""
    write_json(folder / META_FILE, meta.to_json())


def read_text_fields(folder: Path) -> frozenset[str]:
    """The text fields that some committed document may have (a superset: the file only grows).

    Every field when the file is missing (an index written before it) or unreadable: that is always correct,
    only slower (a field with no terms still costs a search about 5 µs per query word).
    """
    try:
        listed = json.loads((folder / FIELDS_FILE).read_text(encoding="utf-8")).get("fields")
    except (OSError, ValueError, AttributeError):
        return frozenset(TEXT_FIELDS)
    if not isinstance(listed, list):
        return frozenset(TEXT_FIELDS)
    return frozenset(name for name in listed if name in TEXT_FIELDS)


def write_text_fields(folder: Path, fields: frozenset[str]) -> None:
    """Record ``fields`` (see :func:`read_text_fields`); called before the commit that publishes them."""
    write_json(folder / FIELDS_FILE, {"fields": [name for name in TEXT_FIELDS if name in fields]})


def write_json(path: Path, data: Any) -> None:
    """Temp file + fsync + rename + folder fsync: the file is the old one or the new one, even after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)
    sync_folder(path.parent)  # the rename itself must survive a crash
