"""The embedded engine: tantivy BM25 plus stored vectors, executing the builder's DSL subset in-process."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._analysis import tantivy_analyzer
from ..._config import data_dir
from ..._document import Document
from ..._errors import IndexNotFoundError, QueryError, StorageError
from .._base import IndexedDocument, IndexMeta, check_index_name
from ._dsl import CosineRescore, TextQuery, combine, parse_body
from ._store import (
    HASH_FIELD,
    ID_FIELD,
    META_FILE,
    SOURCE_FIELD,
    TEXT_FIELDS,
    VECTOR_FIELD,
    open_tantivy,
    read_meta,
    write_meta,
)

# tantivy's BM25 keeps the (k1 + 1) factor that Lucene dropped in 8.0; dividing it out gives Lucene's scores.
BM25_K1 = 1.2
TANTIVY_TO_LUCENE = 1.0 / (1.0 + BM25_K1)
_WRITER_HEAP = 128_000_000


class EmbeddedEngine:
    """An engine with no server: one folder per index under ``<data dir>/indices``.

    Parameters
    ----------
    root
        The data folder (see :func:`bmb_es.data_dir`); ``None`` uses the default.
    """

    kind = "embedded"

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = data_dir(root) / "indices"
        self._indices: dict[str, Any] = {}
        self._writers: dict[str, Any] = {}
        self._metas: dict[str, IndexMeta] = {}
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
            self._indices[name] = open_tantivy(self._require(name))
        return self._indices[name]

    def _writer(self, name: str) -> Any:
        if name not in self._writers:
            try:
                self._writers[name] = self._index(name).writer(heap_size=_WRITER_HEAP, num_threads=1)
            except ValueError as error:
                raise StorageError(
                    f"index {name!r}: cannot open a writer ({error}); is another bmb-es process indexing it?"
                ) from error
        return self._writers[name]

    # -- index lifecycle ---------------------------------------------------------------------------

    def create_index(self, name: str, meta: IndexMeta) -> None:
        folder = self._folder(name)
        if (folder / META_FILE).is_file():
            existing = read_meta(folder)
            existing.check_compatible(name, meta.model, meta.dimension)
            return
        try:
            open_tantivy(folder)
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
        self._indices.pop(name, None)
        self._metas.pop(name, None)
        shutil.rmtree(folder)

    def count(self, name: str) -> int:
        return int(self._index(name).searcher().num_docs)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.rollback()
        self._writers.clear()
        self._indices.clear()

    # -- writing -----------------------------------------------------------------------------------

    def upsert(self, name: str, items: Sequence[IndexedDocument]) -> None:
        import tantivy

        meta = self.index_meta(name)
        writer = self._writer(name)
        for item in items:
            vector = np.asarray(item.vector, dtype="<f4")
            if vector.shape != (meta.dimension,):
                raise StorageError(
                    f"document {item.document.id!r}: vector has shape {vector.shape}, index expects ({meta.dimension},)"
                )
            doc = tantivy.Document()
            doc.add_text(ID_FIELD, item.document.id)
            doc.add_text(HASH_FIELD, item.content_hash)
            for field in TEXT_FIELDS:
                text = getattr(item.document, field)
                if text:
                    doc.add_text(field, text)
            doc.add_bytes(SOURCE_FIELD, json.dumps(item.document.to_source(), ensure_ascii=False).encode())
            doc.add_bytes(VECTOR_FIELD, vector.tobytes())
            # Delete-then-add in one writer session is an upsert: the delete only hits earlier documents.
            writer.delete_documents_by_term(ID_FIELD, item.document.id)
            writer.add_document(doc)

    def commit(self, name: str) -> None:
        writer = self._writers.get(name)
        if writer is not None:
            writer.commit()
            self._index(name).reload()

    # -- reading -----------------------------------------------------------------------------------

    def _lookup(self, name: str, ids: Sequence[str]) -> list[Any]:
        import tantivy

        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        index = self._index(name)
        searcher = index.searcher()
        query = tantivy.Query.term_set_query(index.schema, ID_FIELD, unique)
        result = searcher.search(query, limit=len(unique), count=False)
        return [searcher.doc(address) for _, address in result.hits]

    def stored_hashes(self, name: str, ids: Sequence[str]) -> dict[str, str]:
        return {doc[ID_FIELD][0]: doc[HASH_FIELD][0] for doc in self._lookup(name, ids)}

    def get(self, name: str, ids: Sequence[str]) -> dict[str, IndexedDocument]:
        out: dict[str, IndexedDocument] = {}
        for doc in self._lookup(name, ids):
            document = Document.from_source(json.loads(doc[SOURCE_FIELD][0]))
            vector = np.frombuffer(doc[VECTOR_FIELD][0], dtype="<f4").astype(np.float32)
            out[document.id] = IndexedDocument(document, doc[HASH_FIELD][0], vector)
        return out

    # -- searching ---------------------------------------------------------------------------------

    def _text_query(self, index: Any, query: TextQuery) -> Any | None:
        """``multi_match`` best_fields as tantivy's dis_max over per-field term disjunctions."""
        import tantivy

        if not query.fields:
            return tantivy.Query.all_query()
        tokens = self._analyzer.analyze(query.text)
        per_field = []
        for item in query.fields:
            if item.field not in TEXT_FIELDS:
                raise QueryError(
                    f"request body: query.multi_match.fields: {item.field!r} is not searchable in the embedded "
                    f"engine (fields: {', '.join(TEXT_FIELDS)})"
                )
            if not tokens:
                continue
            terms = [(tantivy.Occur.Should, tantivy.Query.term_query(index.schema, item.field, t)) for t in tokens]
            clause = tantivy.Query.boolean_query(terms)
            per_field.append(clause if item.boost == 1.0 else tantivy.Query.boost_query(clause, item.boost))
        if not per_field:
            return None  # every word was a stop word: like Elasticsearch, nothing matches
        return tantivy.Query.disjunction_max_query(per_field, query.tie_breaker)

    def search(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        plan = parse_body(body)
        index = self._index(name)
        searcher = index.searcher()
        query = self._text_query(index, plan.query)
        window = plan.rescore.window_size if plan.rescore else 0
        limit = max(plan.size, window)
        scored: list[tuple[float, Any]] = []
        total = 0
        if query is not None and limit > 0:
            result = searcher.search(query, limit=limit, count=True)
            total = int(result.count)
            scale = TANTIVY_TO_LUCENE if plan.query.fields else 1.0
            scored = [(float(score) * scale, address) for score, address in result.hits]
        docs = [searcher.doc(address) for _, address in scored]
        first_pass = np.asarray([score for score, _ in scored], dtype=np.float64)
        vectors = _stack_vectors(docs)
        cosines: list[float | None] = [None] * len(docs)
        final = first_pass
        if plan.rescore is not None and docs:
            final, cosines = _rescore(first_pass, vectors, plan.rescore)
        # Stable: equal scores keep BM25 order, as Lucene breaks ties by document order.
        order = sorted(range(len(docs)), key=lambda position: (-final[position], position))[: plan.size]
        hits = [
            _hit(name, docs[position], float(final[position]), float(first_pass[position]), cosines[position])
            for position in order
        ]
        for position, hit in zip(order, hits, strict=True):
            if VECTOR_FIELD not in plan.source_excludes:
                hit["_source"][VECTOR_FIELD] = vectors[position].astype(float).tolist()
            for field in plan.source_excludes:
                hit["_source"].pop(field, None)
        return {
            "took": int((time.perf_counter() - started) * 1000),
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": total, "relation": "eq"},
                "max_score": max((hit["_score"] for hit in hits), default=None),
                "hits": hits,
            },
        }


def _hit(name: str, doc: Any, score: float, bm25: float, cosine: float | None) -> dict[str, Any]:
    return {
        "_index": name,
        "_id": doc[ID_FIELD][0],
        "_score": score,
        "_source": json.loads(doc[SOURCE_FIELD][0]),  # decoded only for the hits returned
        # Embedded-only extension: the first-pass score and the cosine, which clusters do not report.
        "_bmb_scores": {"bm25": bm25, "cosine": cosine},
    }


def _stack_vectors(docs: Sequence[Any]) -> np.ndarray:
    """The stored vectors of ``docs`` as one ``(n, dim)`` float32 matrix."""
    if not docs:
        return np.zeros((0, 0), dtype=np.float32)
    raw = b"".join(doc[VECTOR_FIELD][0] for doc in docs)
    return np.frombuffer(raw, dtype="<f4").reshape(len(docs), -1).astype(np.float32)


def _rescore(
    first_pass: np.ndarray, vectors: np.ndarray, rescore: CosineRescore
) -> tuple[np.ndarray, list[float | None]]:
    """Elasticsearch's QueryRescorer: re-score the window, weight the rest.

    Inside the window: ``combine(query_weight * score, rescore_query_weight * (cosine + 1))``.
    Beyond it: ``query_weight * score``, exactly as Elasticsearch treats hits it did not rescore.
    """
    query = np.asarray(rescore.vector, dtype=np.float32)
    if vectors.shape[1] != query.shape[0]:
        raise QueryError(
            f"request body: the query vector has {query.shape[0]} dimensions, the index stores {vectors.shape[1]}"
        )
    window = min(rescore.window_size, len(first_pass))
    norms = np.linalg.norm(vectors[:window], axis=1) * float(np.linalg.norm(query))
    dots = vectors[:window] @ query
    cosine = np.divide(dots, norms, out=np.zeros(window, dtype=np.float32), where=norms > 0).astype(np.float64)
    final = rescore.query_weight * first_pass
    final[:window] = combine(
        rescore.score_mode,
        rescore.query_weight * first_pass[:window],
        rescore.rescore_query_weight * (cosine + 1.0),
    )
    cosines: list[float | None] = [float(value) for value in cosine] + [None] * (len(first_pass) - window)
    return final, cosines
