"""Running a search: tantivy's BM25 hits, the rescore of their window over stored vectors, the hits returned.

Filters (years, journal: :class:`~bmb_es.query.Filters`) are applied to the candidates in rank order, reading each
candidate's stored source: the index has no date or journal fields for tantivy to filter on. Candidates are checked
until enough pass, so a filtered search returns exactly what a cluster's ``bool.filter`` returns (a filter changes
no score). Its total counts the matches that pass among the first :data:`COUNTED_MATCHES` matches checked (all of
them when fewer match), as a cluster counts exactly up to ``track_total_hits`` (10,000) and no further.

Totals follow Elasticsearch's default ``track_total_hits``: exact up to :data:`COUNTED_MATCHES`, beyond it
``COUNTED_MATCHES`` with relation ``"gte"``. Counting every match of a common word cost about 1 ms of a 10 ms
search at a million documents (``bench/bench_scale.py``), so a search whose matches surely exceed the cap is not
counted: a document holding any query term in any searched field matches, so the largest document frequency of
one term in one field is a lower bound on the matches (when no deleted document is counted in it).

A request without sources (``SearchRequest.source`` false: the legs of a fused search) reads each hit's id, and
not its whole source, and returns where the source lies; :func:`._read.fetch_sources` reads it for the hits kept.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._errors import QueryError
from ...query import VECTOR_FIELD, Filters, SearchRequest
from .._base import EngineHit, EngineResponse, TotalRelation
from ._open_index import OpenIndex
from ._query import as_query, field_clauses, top_hits
from ._read import read_sources
from ._records import RecordReader
from ._rescore import rescore
from ._store import LENGTH_FIELD, OFFSET_FIELD, ROW_FIELD

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
    fields = opened.searchable_fields()
    clauses = field_clauses(opened.tantivy_view().index.schema, analyzer, request, fields)
    query = as_query(clauses, request.tie_breaker)
    rerank = request.rerank
    window = rerank.top_k if rerank else 0
    limit = max(request.size, window)
    addresses: list[Any] = []
    first_pass = np.zeros(0, dtype=np.float64)
    total = 0
    relation: TotalRelation = "eq"
    records = opened.record_reader()
    if query is not None and limit > 0:
        if request.filters:
            ranked, total, relation = _filtered(searcher, records, query, limit, request.filters)
        elif surely_past_count(opened, searcher, analyzer, request, fields):
            ranked = top_hits(searcher, query, clauses, request.tie_breaker, limit)
            total, relation = COUNTED_MATCHES, "gte"
        else:
            result = searcher.search(query, limit=limit, count=True)
            ranked = result.hits  # a new list of (score, address) on every access: read once
            total, relation = capped(int(result.count))
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
    final_scores: list[float] = final.tolist()
    bm25_scores: list[float] = first_pass.tolist()
    parts = [(final_scores[position], bm25_scores[position], cosines[position]) for position in order]
    hits = _hits(searcher, records, request, [addresses[position] for position in order], parts)
    return EngineResponse(hits, total, int((time.perf_counter() - started) * 1000), relation)


def capped(matches: int) -> tuple[int, TotalRelation]:
    """A count of matches as Elasticsearch reports it by default: exact up to :data:`COUNTED_MATCHES`."""
    return (matches, "eq") if matches <= COUNTED_MATCHES else (COUNTED_MATCHES, "gte")


def surely_past_count(
    opened: OpenIndex, searcher: Any, analyzer: Any, request: SearchRequest, fields: frozenset[str]
) -> bool:
    """Whether more than :data:`COUNTED_MATCHES` live documents surely match (so the total needs no count).

    ``match_all`` matches every live document. Otherwise one term's document frequency in one searched field is a
    lower bound on the matches, but tantivy counts deleted documents in it: with any deleted (or their number
    unknown), the matches are counted.
    """
    if int(searcher.num_docs) <= COUNTED_MATCHES:
        return False
    if not request.fields:
        return True
    if opened.deleted_documents() != 0:
        return False
    searched = [item.field for item in request.fields if item.field in fields]
    tokens = analyzer.analyze(request.question)
    return any(int(searcher.doc_freq(field, token)) > COUNTED_MATCHES for token in tokens for field in searched)


def _hits(
    searcher: Any,
    records: RecordReader,
    request: SearchRequest,
    addresses: Sequence[Any],
    parts: Sequence[tuple[float, float | None, float | None]],
) -> list[EngineHit]:
    """The hits at ``addresses`` with their ``(score, bm25, cosine)``: with their sources (and vectors, unless
    excluded), or with their ids and where their sources lie when the request asks for none."""
    if not addresses:
        return []
    offsets = searcher.fast_field_values(OFFSET_FIELD, addresses)
    lengths = searcher.fast_field_values(LENGTH_FIELD, addresses)
    if not request.source:  # ids only: the rest of each source is read for the hits a fusion keeps
        ids = records.source_ids(offsets, lengths)
        return [
            EngineHit(doc_id, score, {}, bm25, cosine, (offset, length))
            for doc_id, offset, length, (score, bm25, cosine) in zip(ids, offsets, lengths, parts, strict=True)
        ]
    sources = records.decoded_sources(offsets, lengths)
    if VECTOR_FIELD not in request.source_excludes:
        own = records.vectors(searcher.fast_field_values(ROW_FIELD, addresses))
        for source, vector in zip(sources, own, strict=True):
            source[VECTOR_FIELD] = vector.astype(float).tolist()
    hits = []
    for source, (score, bm25, cosine) in zip(sources, parts, strict=True):
        doc_id = source["id"]  # before excludes, which may name "id"
        for field in request.source_excludes:
            source.pop(field, None)
        hits.append(EngineHit(doc_id, score, source, bm25, cosine))
    return hits


def _filtered(
    searcher: Any, records: Any, query: Any, limit: int, filters: Filters
) -> tuple[list[tuple[float, Any]], int, TotalRelation]:
    """The first ``limit`` BM25 matches, in rank order, that ``filters`` keep; how many of those checked pass, and
    whether that is all that pass (``"eq"``: every match was checked) or a lower bound (``"gte"``).

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
            return kept[:limit], len(kept), "gte" if checked < matched else "eq"
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
    values = [float(cosine[position]) for position in ranked]
    hits = _hits(searcher, records, request, addresses, [((1.0 + value) / 2.0, None, value) for value in values])
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
