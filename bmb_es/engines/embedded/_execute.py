"""Running a search: tantivy's BM25 hits, the rescore of their window over stored vectors, the hits returned.

Filters (years, journal: :class:`~bmb_es.query.Filters`) are applied to the candidates in rank order, reading each
candidate's stored source: the index has no date or journal fields for tantivy to filter on. Candidates are checked
until enough pass, so a filtered search returns exactly what a cluster's ``bool.filter`` returns (a filter changes
no score). Its total counts the matches that pass among the first :data:`COUNTED_MATCHES` matches checked (all of
them when fewer match), as a cluster counts exactly up to ``track_total_hits`` (10,000) and no further.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._errors import QueryError
from ...query import VECTOR_FIELD, Filters, SearchRequest
from .._base import EngineHit, EngineResponse
from ._open_index import OpenIndex
from ._query import text_query
from ._read import read_sources
from ._rescore import rescore
from ._store import ROW_FIELD

COUNTED_MATCHES = 10_000  # a filtered search checks at least this many matches (all, when fewer), for its total
_CHUNK = 512  # sources read and checked at a time


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
    if request.knn is not None and request.vector is not None:
        return _nearest(opened, searcher, request, started)
    query = text_query(opened.tantivy_view().index.schema, analyzer, request, opened.searchable_fields())
    rerank = request.rerank
    window = rerank.top_k if rerank else 0
    limit = max(request.size, window)
    addresses: list[Any] = []
    first_pass = np.zeros(0, dtype=np.float64)
    total = 0
    records = opened.record_reader()
    if query is not None and limit > 0:
        if request.filters:
            ranked, total = _filtered(searcher, records, query, limit, request.filters)
        else:
            result = searcher.search(query, limit=limit, count=True)
            total = int(result.count)
            ranked = result.hits  # a new list of (score, address) on every access: read once
        if ranked:
            scores, found = zip(*ranked, strict=True)
            addresses = list(found)
            first_pass = np.array(scores, dtype=np.float64)
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


def _filtered(
    searcher: Any, records: Any, query: Any, limit: int, filters: Filters
) -> tuple[list[tuple[float, Any]], int]:
    """The first ``limit`` BM25 matches, in rank order, that ``filters`` keep; and how many of those checked pass.

    Checks at least :data:`COUNTED_MATCHES` matches (every match when fewer), and deeper, four times as many each
    round, until ``limit`` pass or the matches run out. tantivy ranks by score, then by document address, so a
    deeper search's first hits are the shallower one's and each round checks only the new ones.
    """
    depth = max(limit, COUNTED_MATCHES)
    kept: list[tuple[float, Any]] = []
    checked = 0
    while True:
        result = searcher.search(query, limit=depth, count=True)
        matched = int(result.count)
        ranked = result.hits
        for start in range(checked, len(ranked), _CHUNK):
            chunk = ranked[start : start + _CHUNK]
            sources = read_sources(searcher, records, [address for _, address in chunk])
            kept.extend(hit for hit, source in zip(chunk, sources, strict=True) if filters.matches(source))
        checked = len(ranked)
        if len(kept) >= limit or checked >= matched:
            return kept[:limit], len(kept)
        depth *= 4


def _nearest(opened: OpenIndex, searcher: Any, request: SearchRequest, started: float) -> EngineResponse:
    """Exact kNN: the cosine of every live vector, the ``knn`` best kept (ties in index order), ``size`` returned.

    Scored ``(1 + cosine) / 2`` as Elasticsearch and OpenSearch score cosine kNN hits.
    """
    live = opened.live_vectors(searcher)
    total = len(live.addresses)
    if request.vector is None or total == 0 or request.size == 0:
        return EngineResponse([], 0, int((time.perf_counter() - started) * 1000))
    query = request.vector.astype(np.float32)
    if live.dimension != query.shape[0]:
        raise QueryError(
            f"request body: the query vector has {query.shape[0]} dimensions, the index stores {live.dimension}"
        )
    records = opened.record_reader()
    cosine = live.cosines(records, query)  # from the memory map, a chunk at a time (see _live)
    keep = min(request.knn or 0, total)
    if request.filters:  # a pre-filter, as on a cluster: the k nearest among the documents the filters keep
        ranked, keep = _nearest_filtered(searcher, opened, live.addresses, cosine, keep, request)
    else:
        if keep < total:  # the k best without sorting every document; then those k in order
            candidates = np.argpartition(-cosine, keep - 1)[:keep]
            candidates.sort()  # index order first, so the stable sort below breaks ties by it
        else:
            candidates = np.arange(total)
        ranked = candidates[np.argsort(-cosine[candidates], kind="stable")][: request.size].tolist()
    addresses = [live.addresses[position] for position in ranked]
    sources = read_sources(searcher, opened.record_reader(), addresses)
    hits = []
    for position, source in zip(ranked, sources, strict=True):
        doc_id = source["id"]
        if VECTOR_FIELD not in request.source_excludes:
            source[VECTOR_FIELD] = live.vector(records, position).astype(float).tolist()
        for field in request.source_excludes:
            source.pop(field, None)
        value = float(cosine[position])
        hits.append(EngineHit(doc_id, (1.0 + value) / 2.0, source, None, value))
    return EngineResponse(hits, keep, int((time.perf_counter() - started) * 1000))


def _nearest_filtered(
    searcher: Any, opened: OpenIndex, addresses: Sequence[Any], cosine: np.ndarray, k: int, request: SearchRequest
) -> tuple[list[int], int]:
    """Positions of the ``request.size`` nearest of the ``k`` nearest documents that the filters keep (ties in
    index order), and how many of those ``k`` there are."""
    order = np.argsort(-cosine, kind="stable").tolist()
    records = opened.record_reader()
    kept: list[int] = []
    for start in range(0, len(order), _CHUNK):
        chunk = order[start : start + _CHUNK]
        sources = read_sources(searcher, records, [addresses[position] for position in chunk])
        passing = zip(chunk, sources, strict=True)
        kept.extend(position for position, source in passing if request.filters.matches(source))
        if len(kept) >= k:
            break
    kept = kept[:k]
    return kept[: request.size], len(kept)
