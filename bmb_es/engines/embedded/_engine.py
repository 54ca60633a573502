"""The embedded engine: tantivy BM25 plus stored vectors, executing the builder's DSL subset in-process."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..._analysis import tantivy_analyzer
from ..._config import data_dir
from ..._document import Document
from ..._errors import IndexNotFoundError, QueryError, StorageError
from ...query import VECTOR_FIELD, Rerank, SearchRequest
from .._base import EngineHit, EngineResponse, IndexedDocument, IndexMeta, check_index_name
from ._records import RecordReader, RecordWriter, create_record_files, encode_source
from ._store import (
    HASH_FIELD,
    ID_FIELD,
    LEGACY_SOURCE_FIELD,
    LEGACY_VECTOR_FIELD,
    LENGTH_FIELD,
    META_FILE,
    OFFSET_FIELD,
    ROW_FIELD,
    TANTIVY_DIR,
    TEXT_FIELDS,
    is_legacy,
    open_legacy_tantivy,
    open_tantivy,
    read_meta,
    read_text_fields,
    write_meta,
    write_text_fields,
)

# tantivy's BM25 keeps the (k1 + 1) factor that Lucene dropped in 8.0, and so do Elasticsearch and OpenSearch
# (their default similarity adds it back): tantivy's scores are the clusters' as they are. A live test compares
# them with OpenSearch's; an earlier division by (k1 + 1) made every embedded score 2.2 times too small.
_WRITER_HEAP = 128_000_000


class EmbeddedEngine:
    """An engine with no server: one folder per index under ``<data dir>/indices``.

    Parameters
    ----------
    root
        The data folder (see :func:`bmb_es.data_dir`); ``None`` uses the default.
    """

    kind = "embedded"
    write_retries = 0  # writes go to local files: there is no back-pressure to retry

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = data_dir(root) / "indices"
        self._indices: dict[str, Any] = {}
        self._writers: dict[str, Any] = {}
        self._appenders: dict[str, RecordWriter] = {}
        self._readers: dict[str, RecordReader] = {}
        self._commits: dict[str, _Commit] = {}
        self._metas: dict[str, IndexMeta] = {}
        self._pending: set[str] = set()  # indices with writes not yet committed
        self._fields: dict[str, frozenset[str]] = {}  # text fields that documents have (see read_text_fields)
        self._written_fields: dict[str, frozenset[str]] = {}  # ... and those that pending writes have
        self._analyzer = tantivy_analyzer()

    @property
    def root(self) -> Path:
        return self._root

    def _folder(self, name: str) -> Path:
        return self._root / check_index_name(name)

    def _require(self, name: str) -> Path:
        folder = self._folder(name)
        if not (folder / META_FILE).is_file():
            known = ", ".join(self.list_indices()) or "none yet"
            raise IndexNotFoundError(
                f"index {name!r} not found in {self._root} (indices: {known}); "
                f"create it with: bmb-es index PATH --index {name}"
            )
        return folder

    def _index(self, name: str) -> Any:
        if name not in self._indices:
            folder = self._require(name)
            seen = _read_commit(folder)  # before the reader loads: a commit landing in between is seen later
            index = open_tantivy(folder)
            # Reloads are ours (see _searcher), so tantivy's view and the record files' never drift apart.
            index.config_reader("Manual")
            self._indices[name] = index
            self._commits[name] = seen
        return self._indices[name]

    def _searcher(self, name: str) -> Any:
        """A searcher on the newest commit, from this process or another.

        A commit rewrites tantivy's ``meta.json``; when it has changed, the index is reloaded and the record
        files re-mapped together. Re-mapping matters when the index was deleted and created again by another
        process: the old maps would still hold the old vectors, and the cached metadata another dimension.
        """
        index = self._index(name)
        newer = _newer_commit(self._commits[name])
        if newer is not None:
            index.reload()
            self._readers.pop(name, None)
            self._metas.pop(name, None)
            self._fields.pop(name, None)
            self._commits[name] = newer
        return index.searcher()

    def _writer(self, name: str) -> tuple[Any, RecordWriter]:
        if name not in self._writers:
            try:
                writer = self._index(name).writer(heap_size=_WRITER_HEAP, num_threads=1)
            except ValueError as error:
                raise StorageError(
                    f"index {name!r}: cannot open a writer ({error}); is another bmb-es process indexing it?"
                ) from error
            # Opened under tantivy's writer lock, so no other process appends to the record files.
            self._appenders[name] = RecordWriter(self._folder(name), self.index_meta(name).dimension)
            self._writers[name] = writer
        return self._writers[name], self._appenders[name]

    def _text_fields(self, name: str) -> frozenset[str]:
        if name not in self._fields:
            self._fields[name] = read_text_fields(self._require(name))
        return self._fields[name]

    def _records(self, name: str) -> RecordReader:
        if name not in self._readers:
            self._readers[name] = RecordReader(self._require(name), self.index_meta(name).dimension)
        return self._readers[name]

    # -- index lifecycle ---------------------------------------------------------------------------

    def create_index(self, name: str, meta: IndexMeta) -> None:
        folder = self._folder(name)
        if (folder / META_FILE).is_file():
            existing = read_meta(folder)
            existing.check_compatible(name, meta.model, meta.dimension)
            return
        try:
            open_tantivy(folder)
            create_record_files(folder)
            write_text_fields(folder, frozenset())
            write_meta(folder, meta)  # last: an index exists only once its metadata does
        except OSError as error:
            raise StorageError(f"{folder}: cannot create the index ({error.strerror or error})") from error

    def index_meta(self, name: str) -> IndexMeta:
        # Metadata never changes after creation; cached so a warm query does not re-read it.
        if name not in self._metas:
            self._metas[name] = read_meta(self._require(name))
        return self._metas[name]

    def list_indices(self) -> list[str]:
        if not self._root.is_dir():
            return []
        return sorted(path.name for path in self._root.iterdir() if (path / META_FILE).is_file())

    def delete_index(self, name: str) -> None:
        folder = self._require(name)
        self._writers.pop(name, None)
        self._appenders.pop(name, None)
        self._pending.discard(name)
        self._fields.pop(name, None)
        self._written_fields.pop(name, None)
        self._readers.pop(name, None)
        self._indices.pop(name, None)
        self._commits.pop(name, None)
        self._metas.pop(name, None)
        shutil.rmtree(folder)

    def count(self, name: str) -> int:
        return int(self._searcher(name).num_docs)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.rollback()
        # Records appended since the last commit stay in the files, unreferenced.
        self._writers.clear()
        self._appenders.clear()
        self._pending.clear()
        self._fields.clear()
        self._written_fields.clear()
        self._readers.clear()
        self._indices.clear()
        self._commits.clear()

    # -- writing -----------------------------------------------------------------------------------

    def upsert(self, name: str, items: Sequence[IndexedDocument]) -> None:
        meta = self.index_meta(name)
        writer, appender = self._writer(name)
        vectors = np.zeros((len(items), meta.dimension), dtype=np.float32)
        for number, item in enumerate(items):
            vector = np.asarray(item.vector, dtype=np.float32)
            if vector.shape != (meta.dimension,):
                raise StorageError(
                    f"document {item.document.id!r}: vector has shape {vector.shape}, index expects ({meta.dimension},)"
                )
            vectors[number] = vector
        sources = [encode_source(item.document.to_source()) for item in items]
        placed = appender.append(vectors, sources)
        self._pending.add(name)
        written = {field for item in items for field in TEXT_FIELDS if getattr(item.document, field)}
        self._written_fields[name] = self._written_fields.get(name, frozenset()) | written
        for item, source, (row, offset) in zip(items, sources, placed, strict=True):
            # Delete-then-add in one writer session is an upsert: the delete only hits earlier documents.
            writer.delete_documents_by_term(ID_FIELD, item.document.id)
            writer.add_document(_tantivy_document(item.document, item.content_hash, row, offset, len(source)))

    def commit(self, name: str) -> None:
        # Nothing written, nothing committed: a commit reloads every reader and may reorder tantivy's segments,
        # which decides the order of hits with equal scores.
        writer = self._writers.get(name)
        if writer is not None and name in self._pending:
            self._pending.discard(name)
            self._appenders[name].sync()  # first: a commit must never publish rows that are not on disk
            # Nor a document with a text field that queries would leave out. The file is read again, not the
            # cache: under the writer lock it is current, and another process may have changed it since.
            written = self._written_fields.pop(name, frozenset())
            if written:
                folder = self._folder(name)
                recorded = read_text_fields(folder)
                if not written <= recorded:
                    write_text_fields(folder, recorded | written)
                self._fields[name] = recorded | written
            writer.commit()
            self._index(name).reload()
            self._commits[name] = _read_commit(self._folder(name))  # our own rows: mapped when first read

    def segments(self, name: str) -> int:
        """How many tantivy segments the newest commit has (each costs a search time, see :meth:`optimize`)."""
        return int(self._searcher(name).num_segments)

    def optimize(self, name: str, batch: int = 1024) -> tuple[int, int]:
        """Rewrite the BM25 part of ``name`` into as few segments as tantivy writes in one pass.

        What Elasticsearch's force merge does, for the same reason: a search visits every segment (on 2,753
        abstracts a BM25 search took 102 µs on one segment and 174 on eight, see ``bench/bench_segments.py``),
        ingest leaves one per commit, and tantivy merges only once 8 are of a size.
        Writes pending in this engine are committed first.

        Each live document is added again, in address order (tantivy's order for equal scores), with the same
        record addresses: vectors and sources are not copied. The adds and a delete of every older document form
        one commit, so readers see the old index or the new one, never a mix, and a run stopped midway changes
        nothing. Deleted documents are purged, as by a merge, and the text fields on record become exactly
        those that live documents have. Returns the segment counts before and after.
        """
        import tantivy

        self.commit(name)
        before = self.segments(name)
        if before <= 1:
            return before, before
        writer, _ = self._writer(name)  # tantivy's lock: from here on no other process commits
        # Taken under the lock, so it is the newest commit: documents that another process committed before the
        # lock was ours would otherwise be lost to the delete below.
        searcher = self._searcher(name)
        before = int(searcher.num_segments)
        if before <= 1:  # another process optimized it meanwhile
            return before, before
        folder = self._folder(name)
        records = self._records(name)
        total = int(searcher.num_docs)
        found = searcher.search(tantivy.Query.all_query(), limit=max(total, 1), count=False).hits
        addresses = sorted((address for _, address in found), key=lambda item: (item.segment_ord, item.doc))
        present: set[str] = set()
        try:
            writer.delete_documents_by_query(tantivy.Query.all_query())  # before the adds: only older documents
            self._pending.add(name)
            for start in range(0, len(addresses), batch):
                chunk = addresses[start : start + batch]
                rows = searcher.fast_field_values(ROW_FIELD, chunk)
                offsets = searcher.fast_field_values(OFFSET_FIELD, chunk)
                lengths = searcher.fast_field_values(LENGTH_FIELD, chunk)
                sources = records.decoded_sources(offsets, lengths)
                stored = [searcher.doc(address) for address in chunk]
                for doc, source, row, offset, length in zip(stored, sources, rows, offsets, lengths, strict=True):
                    _check_source(folder, doc[ID_FIELD][0], source)
                    document = Document.from_source(source)
                    present.update(field for field in TEXT_FIELDS if getattr(document, field))
                    writer.add_document(_tantivy_document(document, doc[HASH_FIELD][0], row, offset, length))
            # Exactly the fields that live documents have: the same documents before and after this commit.
            write_text_fields(folder, frozenset(present))
            self._fields[name] = frozenset(present)
        except BaseException:
            writer.rollback()  # the delete must never reach a later commit
            self._pending.discard(name)
            raise
        self.commit(name)
        # A rewrite larger than the writer's heap is several segments; tantivy may merge them now: wait for it.
        self._writers.pop(name).wait_merging_threads()
        self._appenders.pop(name)
        return before, self.segments(name)

    # -- reading -----------------------------------------------------------------------------------

    def _lookup(self, name: str, ids: Sequence[str]) -> tuple[Any, list[Any]]:
        """A searcher and the addresses of the live documents with these ids."""
        import tantivy

        searcher = self._searcher(name)
        unique = list(dict.fromkeys(ids))
        if not unique:
            return searcher, []
        query = tantivy.Query.term_set_query(self._index(name).schema, ID_FIELD, unique)
        result = searcher.search(query, limit=len(unique), count=False)
        return searcher, [address for _, address in result.hits]

    def stored_hashes(self, name: str, ids: Sequence[str]) -> dict[str, str]:
        searcher, addresses = self._lookup(name, ids)
        docs = [searcher.doc(address) for address in addresses]
        return {doc[ID_FIELD][0]: doc[HASH_FIELD][0] for doc in docs}

    def get(self, name: str, ids: Sequence[str]) -> dict[str, IndexedDocument]:
        searcher, addresses = self._lookup(name, ids)
        records = self._records(name)
        vectors = records.vectors(searcher.fast_field_values(ROW_FIELD, addresses))
        sources = _sources(searcher, records, addresses)
        docs = [searcher.doc(address) for address in addresses]
        items = _indexed(self._folder(name), docs, sources, vectors)
        return {item.document.id: item for item in items}

    # -- searching ---------------------------------------------------------------------------------

    def _text_query(self, index: Any, request: SearchRequest, present: frozenset[str]) -> Any | None:
        """``multi_match`` best_fields as tantivy's dis_max over per-field term disjunctions.

        Fields that no document has (``present``, e.g. ``body`` in an index of abstracts) are left out: they
        would add nothing to any score, and each of their terms costs the search.
        """
        import tantivy

        if not request.fields:
            return tantivy.Query.all_query()
        tokens = self._analyzer.analyze(request.question)
        per_field = []
        for item in request.fields:
            if item.field not in TEXT_FIELDS:
                raise QueryError(
                    f"request body: query.multi_match.fields: {item.field!r} is not searchable in the embedded "
                    f"engine (fields: {', '.join(TEXT_FIELDS)})"
                )
            if not tokens or item.field not in present:
                continue
            terms = [(tantivy.Occur.Should, tantivy.Query.term_query(index.schema, item.field, t)) for t in tokens]
            clause = tantivy.Query.boolean_query(terms)
            per_field.append(clause if item.boost == 1.0 else tantivy.Query.boost_query(clause, item.boost))
        if not per_field:
            return None  # no words (all stop words), or no document has an asked field: nothing matches
        return tantivy.Query.disjunction_max_query(per_field, request.tie_breaker)

    def search(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Run a body of the bmb-es subset (anything else is refused, naming the clause)."""
        return self.execute(name, SearchRequest.from_body(body)).to_search_response(name)

    def execute(self, name: str, request: SearchRequest) -> EngineResponse:
        """BM25 with tantivy (Lucene's scores), then Elasticsearch's rescore arithmetic over stored vectors."""
        started = time.perf_counter()
        searcher = self._searcher(name)
        index = self._index(name)
        query = self._text_query(index, request, self._text_fields(name))
        rerank = request.rerank
        window = rerank.top_k if rerank else 0
        limit = max(request.size, window)
        addresses: list[Any] = []
        first_pass = np.zeros(0, dtype=np.float64)
        total = 0
        if query is not None and limit > 0:
            result = searcher.search(query, limit=limit, count=True)
            total = int(result.count)
            ranked = result.hits  # a new list of (score, address) on every access: read once
            if ranked:
                scores, found = zip(*ranked, strict=True)
                addresses = list(found)
                first_pass = np.array(scores, dtype=np.float64)
        records = self._records(name)
        cosines: list[float | None] = [None] * len(addresses)
        final = first_pass
        if rerank is not None and request.vector is not None and addresses:
            in_window = addresses[:window]
            vectors = records.vectors(searcher.fast_field_values(ROW_FIELD, in_window))
            final, cosines = rescore(first_pass, vectors, request.vector, rerank)
        # Stable: equal scores keep BM25 order, as Lucene breaks ties by document order.
        order = np.argsort(-final, kind="stable")[: request.size].tolist()
        returned = [addresses[position] for position in order]
        sources = _sources(searcher, records, returned)  # read only for the hits returned
        if VECTOR_FIELD not in request.source_excludes and returned:
            own = records.vectors(searcher.fast_field_values(ROW_FIELD, returned))
            for source, vector in zip(sources, own, strict=True):
                source[VECTOR_FIELD] = vector.astype(float).tolist()
        final_scores: list[float] = final.tolist()
        bm25_scores: list[float] = first_pass.tolist()
        hits = []
        for position, source in zip(order, sources, strict=True):
            doc_id = source["id"]  # before excludes, which may name "id"
            for field in request.source_excludes:
                source.pop(field, None)
            hits.append(EngineHit(doc_id, final_scores[position], source, bm25_scores[position], cosines[position]))
        return EngineResponse(hits, total, int((time.perf_counter() - started) * 1000))


# File times move in coarse steps (4 ms here) and freed inodes are reused, so two commits can leave meta.json with
# the same inode, size and time. Within this long of a file's time, its contents are compared too.
_RECENT_NS = 2_000_000_000


@dataclass(slots=True)
class _Commit:
    """What the engine last saw of tantivy's ``meta.json``, which every commit rewrites (new file, then rename)."""

    path: str
    stat: tuple[int, int, int]
    content: bytes


def _meta_stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise IndexNotFoundError(f"{path} is gone (the index was deleted by another process?)") from None


def _read_commit(folder: Path) -> _Commit:
    path = str(folder / TANTIVY_DIR / "meta.json")
    stat = _meta_stat(path)
    with open(path, "rb") as handle:
        return _Commit(path, (stat.st_ino, stat.st_mtime_ns, stat.st_size), handle.read())


def _newer_commit(seen: _Commit) -> _Commit | None:
    """The commit now on disk when it differs from ``seen``, else ``None`` (one stat for an index at rest)."""
    stat = _meta_stat(seen.path)
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    if key == seen.stat and time.time_ns() - stat.st_mtime_ns > _RECENT_NS:
        return None
    with open(seen.path, "rb") as handle:
        content = handle.read()
    if content == seen.content:
        seen.stat = key
        return None
    return _Commit(seen.path, key, content)


def iter_folder(folder: Path, batch: int = 1024) -> Iterator[list[IndexedDocument]]:
    """Every live (committed, not deleted) document of an index folder, with its exact vector.

    Reads both layouts (see :mod:`._store`), so ``bmb-es merge`` converts a legacy index without re-embedding.
    """
    import tantivy

    legacy = is_legacy(folder)
    searcher = (open_legacy_tantivy(folder) if legacy else open_tantivy(folder)).searcher()
    records = RecordReader(folder, read_meta(folder).dimension)
    total = int(searcher.num_docs)
    if total == 0:
        return
    addresses = [address for _, address in searcher.search(tantivy.Query.all_query(), limit=total, count=False).hits]
    for start in range(0, len(addresses), batch):
        chunk = addresses[start : start + batch]
        docs = [searcher.doc(address) for address in chunk]
        if legacy:
            sources = [json.loads(doc[LEGACY_SOURCE_FIELD][0]) for doc in docs]
            raw = b"".join(doc[LEGACY_VECTOR_FIELD][0] for doc in docs)
            vectors = np.frombuffer(raw, dtype="<f4").reshape(len(docs), -1).astype(np.float32)
        else:
            sources = _sources(searcher, records, chunk)
            vectors = records.vectors(searcher.fast_field_values(ROW_FIELD, chunk))
        yield _indexed(folder, docs, sources, vectors)


def _indexed(
    folder: Path, docs: Sequence[Any], sources: Sequence[dict[str, Any]], vectors: np.ndarray
) -> list[IndexedDocument]:
    """Stored documents with their sources and vectors, each source checked to be its document's."""
    items = []
    for doc, source, vector in zip(docs, sources, vectors, strict=True):
        _check_source(folder, doc[ID_FIELD][0], source)
        items.append(IndexedDocument(Document.from_source(source), doc[HASH_FIELD][0], vector))
    return items


def _check_source(folder: Path, doc_id: str, source: Mapping[str, Any]) -> None:
    if source.get("id") != doc_id:
        raise StorageError(
            f"{folder}: document {doc_id!r} points at the source of {source.get('id')!r}; the record "
            f"files were changed outside bmb-es: rebuild the index"
        )


def _tantivy_document(document: Document, content_hash: str, row: int, offset: int, length: int) -> Any:
    """What tantivy holds of a document: id and hash (stored), its text (indexed), its record addresses."""
    import tantivy

    doc = tantivy.Document()
    doc.add_text(ID_FIELD, document.id)
    doc.add_text(HASH_FIELD, content_hash)
    for field in TEXT_FIELDS:
        text = getattr(document, field)
        if text:
            doc.add_text(field, text)
    doc.add_unsigned(ROW_FIELD, row)
    doc.add_unsigned(OFFSET_FIELD, offset)
    doc.add_unsigned(LENGTH_FIELD, length)
    return doc


def _sources(searcher: Any, records: RecordReader, addresses: Sequence[Any]) -> list[dict[str, Any]]:
    """The decoded ``_source`` of each address, in order."""
    if not addresses:
        return []
    offsets = searcher.fast_field_values(OFFSET_FIELD, addresses)
    lengths = searcher.fast_field_values(LENGTH_FIELD, addresses)
    return records.decoded_sources(offsets, lengths)


def rescore(
    first_pass: npt.NDArray[np.float64], vectors: np.ndarray, question: npt.NDArray[np.float64], rerank: Rerank
) -> tuple[npt.NDArray[np.float64], list[float | None]]:
    """Elasticsearch's QueryRescorer: re-score the window, weight the rest.

    ``vectors`` are those of the first ``len(vectors)`` hits (the window). Inside the window:
    ``combine(query_weight * score, rescore_query_weight * (cosine + 1))``. Beyond it:
    ``query_weight * score``, exactly as Elasticsearch treats hits it did not rescore. The cosine is computed in
    float32, as the stored vectors are (and as a cluster computes it).
    """
    query = question.astype(np.float32)
    if vectors.shape[1] != query.shape[0]:
        raise QueryError(
            f"request body: the query vector has {query.shape[0]} dimensions, the index stores {vectors.shape[1]}"
        )
    window = len(vectors)
    # What np.linalg.norm(vectors, axis=1) computes, bit for bit, without its checks (a warm search counts µs).
    norms = np.sqrt(np.add.reduce(vectors * vectors, axis=1)) * float(np.linalg.norm(query))
    dots = vectors @ query
    cosine = np.divide(dots, norms, out=np.zeros(window, dtype=np.float32), where=norms > 0).astype(np.float64)
    final = rerank.query_weight * first_pass
    final[:window] = combine(rerank.score_mode, final[:window], rerank.rescore_query_weight * (cosine + 1.0))
    cosines: list[float | None] = cosine.tolist()
    return final, cosines + [None] * (len(first_pass) - window)


def combine(score_mode: str, primary: Any, secondary: Any) -> Any:
    """Elasticsearch's QueryRescorer combination of the weighted first-pass and rescore scores.

    Works on numbers and, elementwise, on numpy arrays (a whole rescore window at once).
    """
    if score_mode == "total":
        return primary + secondary
    if score_mode == "multiply":
        return primary * secondary
    if score_mode == "avg":
        return (primary + secondary) / 2
    if score_mode == "max":
        return np.maximum(primary, secondary)
    if score_mode == "min":
        return np.minimum(primary, secondary)
    raise QueryError(f"score_mode {score_mode!r}")
