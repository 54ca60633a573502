"""The on-disk layout of one embedded index: a tantivy index plus ``meta.json``.

Each tantivy document holds the searchable text, the JSON ``_source``, the content hash and the vector
(float32 bytes). Keeping the vector inside the same document as its text means a commit publishes both
together: after a crash there is never a document without its vector or a vector for another text.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..._analysis import ANALYZER_NAME, tantivy_analyzer
from ..._errors import StorageError
from .._base import IndexMeta

TEXT_FIELDS: tuple[str, ...] = ("title", "abstract", "body")
ID_FIELD = "id"
HASH_FIELD = "content_hash"
SOURCE_FIELD = "source_json"
VECTOR_FIELD = "embedding"
META_FILE = "meta.json"
TANTIVY_DIR = "tantivy"


def build_schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field(ID_FIELD, stored=True, tokenizer_name="raw")
    builder.add_text_field(HASH_FIELD, stored=True, tokenizer_name="raw", index_option="basic")
    for name in TEXT_FIELDS:
        # BM25 needs term frequencies and field lengths, not positions.
        builder.add_text_field(name, stored=False, tokenizer_name=ANALYZER_NAME, index_option="freq")
    builder.add_bytes_field(SOURCE_FIELD, stored=True)
    builder.add_bytes_field(VECTOR_FIELD, stored=True)
    return builder.build()


def open_tantivy(folder: Path) -> Any:
    """Open (or create) the tantivy index in ``folder`` with the shared analyzer registered."""
    import tantivy

    target = folder / TANTIVY_DIR
    target.mkdir(parents=True, exist_ok=True)
    try:
        index = tantivy.Index(build_schema(), path=str(target), reuse=True)
    except (OSError, ValueError) as error:
        raise StorageError(f"{target}: cannot open the index ({error})") from error
    index.register_tokenizer(ANALYZER_NAME, tantivy_analyzer())
    return index


def read_meta(folder: Path) -> IndexMeta:
    with open(folder / META_FILE, encoding="utf-8") as handle:
        return IndexMeta.from_json(json.load(handle))


def write_meta(folder: Path, meta: IndexMeta) -> None:
    """Write ``meta.json`` atomically (temp file + rename), so a crash never leaves half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False, encoding="utf-8") as handle:
        json.dump(meta.to_json(), handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, folder / META_FILE)
