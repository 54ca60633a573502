"""Reading stored documents back: by id, by address, and every live one of a folder (for ``bmb-es merge``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._document import Document
from ..._errors import IndexDamagedError
from .._base import EngineHit, IndexedDocument
from ._addresses import live_batches
from ._damage import reading
from ._open_index import OpenIndex
from ._records import SOURCES_FILE, RecordReader
from ._store import (
    HASH_FIELD,
    ID_FIELD,
    LEGACY_SOURCE_FIELD,
    LEGACY_VECTOR_FIELD,
    LENGTH_FIELD,
    OFFSET_FIELD,
    ROW_FIELD,
    is_legacy,
    open_legacy_tantivy,
    open_tantivy,
    read_meta,
)


def _lookup(opened: OpenIndex, ids: Sequence[str]) -> tuple[Any, list[Any]]:
    """A searcher and the addresses of the live documents with these ids."""
    import tantivy

    searcher = opened.searcher()
    unique = list(dict.fromkeys(ids))
    if not unique:
        return searcher, []
    query = tantivy.Query.term_set_query(opened.tantivy_view().index.schema, ID_FIELD, unique)
    result = searcher.search(query, limit=len(unique), count=False)
    return searcher, [address for _, address in result.hits]


def stored_hashes(opened: OpenIndex, ids: Sequence[str]) -> dict[str, str]:
    """``{id: content_hash}`` for those of ``ids`` that are live."""
    searcher, addresses = _lookup(opened, ids)
    docs = [searcher.doc(address) for address in addresses]
    return {doc[ID_FIELD][0]: doc[HASH_FIELD][0] for doc in docs}


def get(opened: OpenIndex, ids: Sequence[str]) -> dict[str, IndexedDocument]:
    """The live documents with these ids, with their vectors."""
    searcher, addresses = _lookup(opened, ids)
    records = opened.record_reader()
    vectors = records.vectors(searcher.fast_field_values(ROW_FIELD, addresses))
    sources = read_sources(searcher, records, addresses)
    docs = [searcher.doc(address) for address in addresses]
    items = _indexed(opened.folder, docs, sources, vectors)
    return {item.document.id: item for item in items}


def fetch_sources(opened: OpenIndex, hits: Sequence[EngineHit]) -> list[EngineHit]:
    """``hits`` with their sources: read at each hit's ``location`` (the record offset and length its search
    returned), else found by id; a source that is not the hit's (its record files were rewritten meanwhile) is
    found by id too. A document gone by then keeps a source of its id alone."""
    records = opened.record_reader()
    located = [(hit.id, hit.location) for hit in hits if hit.location is not None]
    read = records.decoded_sources([where[0] for _, where in located], [where[1] for _, where in located])
    sources: dict[str, dict[str, Any]] = {
        doc_id: source for (doc_id, _), source in zip(located, read, strict=True) if source.get("id") == doc_id
    }
    missing = [hit.id for hit in hits if hit.id not in sources]
    if missing:
        searcher, addresses = _lookup(opened, missing)
        sources.update((source["id"], source) for source in read_sources(searcher, records, addresses))
    return [
        EngineHit(hit.id, hit.score, sources.get(hit.id) or {"id": hit.id}, hit.bm25, hit.cosine, hit.location)
        for hit in hits
    ]


def iter_folder(folder: Path, batch: int = 1024) -> Iterator[list[IndexedDocument]]:
    """Every live (committed, not deleted) document of an index folder, with its exact vector.

    Reads both layouts (see :mod:`._store`), so ``bmb-es merge`` converts a legacy index without re-embedding.
    Yields lists of ``batch`` documents in address order; addresses are read a page at a time
    (:func:`._addresses.live_batches`), so memory does not grow with the index.
    """
    with reading(folder):
        yield from _iter_folder(folder, batch)


def _iter_folder(folder: Path, batch: int) -> Iterator[list[IndexedDocument]]:
    legacy = is_legacy(folder)
    searcher = (open_legacy_tantivy(folder) if legacy else open_tantivy(folder)).searcher()
    records = RecordReader(folder, read_meta(folder).dimension)
    # Addresses come a page at a time, in address order (see _addresses): memory stays bounded by the page.
    for chunk in live_batches(searcher, batch):
        docs = [searcher.doc(address) for address in chunk]
        if legacy:
            sources = [json.loads(doc[LEGACY_SOURCE_FIELD][0]) for doc in docs]
            raw = b"".join(doc[LEGACY_VECTOR_FIELD][0] for doc in docs)
            vectors = np.frombuffer(raw, dtype="<f4").reshape(len(docs), -1).astype(np.float32)
        else:
            sources = read_sources(searcher, records, chunk)
            vectors = records.vectors(searcher.fast_field_values(ROW_FIELD, chunk))
            records.release()  # what was read of the record files leaves the resident set
        yield _indexed(folder, docs, sources, vectors)


def _indexed(
    folder: Path, docs: Sequence[Any], sources: Sequence[dict[str, Any]], vectors: np.ndarray
) -> list[IndexedDocument]:
    """Stored documents with their sources and vectors, each source checked to be its document's."""
    items = []
    for doc, source, vector in zip(docs, sources, vectors, strict=True):
        check_source(folder, doc[ID_FIELD][0], source)
        items.append(IndexedDocument(Document.from_source(source), doc[HASH_FIELD][0], vector))
    return items


def check_source(folder: Path, doc_id: str, source: Mapping[str, Any]) -> None:
    """Refuse a source that is not the document's own (record files changed outside bmb-es)."""
    if source.get("id") != doc_id:
        raise IndexDamagedError(
            folder / SOURCES_FILE, f"document {doc_id!r} points at the source of {source.get('id')!r}", folder.name
        )


def read_sources(searcher: Any, records: RecordReader, addresses: Sequence[Any]) -> list[dict[str, Any]]:
    """The decoded ``_source`` of each address, in order."""
    if not addresses:
        return []
    offsets = searcher.fast_field_values(OFFSET_FIELD, addresses)
    lengths = searcher.fast_field_values(LENGTH_FIELD, addresses)
    return records.decoded_sources(offsets, lengths)


class FolderIds:
    """Which ids an index folder's live documents hold, by lookup (``bmb-es merge`` counts ids that several sources
    hold without keeping every id it has seen). Reads both layouts.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        with reading(folder):
            index = open_legacy_tantivy(folder) if is_legacy(folder) else open_tantivy(folder)
            self._schema = index.schema
            self._searcher = index.searcher()

    def held(self, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` that a live document of the folder has."""
        import tantivy

        unique = list(dict.fromkeys(ids))
        if not unique:
            return set()
        with reading(self._folder):
            query = tantivy.Query.term_set_query(self._schema, ID_FIELD, unique)
            hits = self._searcher.search(query, limit=len(unique), count=False).hits
            return {self._searcher.doc(address)[ID_FIELD][0] for _, address in hits}
