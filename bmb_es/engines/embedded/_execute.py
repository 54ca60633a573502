"""Running a search: tantivy's BM25 hits, the rescore of their window over stored vectors, the hits returned."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ...query import VECTOR_FIELD, SearchRequest
from .._base import EngineHit, EngineResponse
from ._open_index import OpenIndex
from ._query import text_query
from ._read import read_sources
from ._rescore import rescore
from ._store import ROW_FIELD


def execute(opened: OpenIndex, analyzer: Any, request: SearchRequest) -> EngineResponse:
    """BM25 with tantivy (Lucene's scores), then Elasticsearch's rescore arithmetic over stored vectors.

    Parameters
    ----------
    opened
        The index searched.
    analyzer
        The shared analyzer (:func:`bmb_es._analysis.tantivy_analyzer`), which turns the question into terms.
    request
        What to run.
    """
    started = time.perf_counter()
    searcher = opened.searcher()  # first: a newer commit drops the cached text fields read next
    query = text_query(opened.tantivy_view().index.schema, analyzer, request, opened.searchable_fields())
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
    records = opened.record_reader()
    cosines: list[float | None] = [None] * len(addresses)
    final = first_pass
    if rerank is not None and request.vector is not None and addresses:
        in_window = addresses[:window]
        vectors = records.vectors(searcher.fast_field_values(ROW_FIELD, in_window))
        final, cosines = rescore(first_pass, vectors, request.vector, rerank)
    # Stable: equal scores keep BM25 order, as Lucene breaks ties by document order.
    order = np.argsort(-final, kind="stable")[: request.size].tolist()
    returned = [addresses[position] for position in order]
    sources = read_sources(searcher, records, returned)  # read only for the hits returned
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
