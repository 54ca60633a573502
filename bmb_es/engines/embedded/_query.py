"""The BM25 half of a request as a tantivy query.

tantivy's BM25 keeps the (k1 + 1) factor that Lucene dropped in 8.0, and so do Elasticsearch and OpenSearch
(their default similarity adds it back): tantivy's scores are the clusters' as they are. A live test compares
them with OpenSearch's; an earlier division by (k1 + 1) made every embedded score 2.2 times too small.

``multi_match`` best_fields is a dis_max over the fields' term disjunctions. tantivy walks every posting of a
dis_max (it has no block-max WAND for it), but it skips blocks of one field's disjunction that cannot reach the
top k. With ``tie_breaker`` 0 (the default) a document scores by its best field alone, so the top k of the dis_max
are found among each field's own top k (:func:`top_hits`): about half the time at a million documents
(``bench/bench_scale.py``), the same hits in the same order.
"""

from __future__ import annotations

from typing import Any

from ..._errors import QueryError
from ...query import SearchRequest
from ._store import TEXT_FIELDS


def field_clauses(schema: Any, analyzer: Any, request: SearchRequest, present: frozenset[str]) -> list[Any] | None:
    """Each searched field's disjunction of the question's terms (boosted as asked); ``None`` for ``match_all``.

    Fields that no document has (``present``, e.g. ``body`` in an index of abstracts) are left out: they
    would add nothing to any score, and each of their terms costs the search. Empty: nothing can match.
    """
    import tantivy

    if not request.fields:
        return None
    tokens = analyzer.analyze(request.question)
    clauses = []
    for item in request.fields:
        if item.field not in TEXT_FIELDS:
            raise QueryError(
                f"request body: query.multi_match.fields: {item.field!r} is not searchable in the embedded "
                f"engine (fields: {', '.join(TEXT_FIELDS)})"
            )
        if not tokens or item.field not in present:
            continue
        terms = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, item.field, t)) for t in tokens]
        clause = tantivy.Query.boolean_query(terms)
        clauses.append(clause if item.boost == 1.0 else tantivy.Query.boost_query(clause, item.boost))
    return clauses


def as_query(clauses: list[Any] | None, tie_breaker: float) -> Any | None:
    """The fields' clauses as one query: ``match_all`` for ``None``, ``None`` when nothing can match."""
    import tantivy

    if clauses is None:
        return tantivy.Query.all_query()
    if not clauses:
        return None  # no words (all stop words), or no document has an asked field: nothing matches
    return tantivy.Query.disjunction_max_query(clauses, tie_breaker)


def text_query(schema: Any, analyzer: Any, request: SearchRequest, present: frozenset[str]) -> Any | None:
    """``multi_match`` best_fields as tantivy's dis_max over per-field term disjunctions (``None``: no match)."""
    return as_query(field_clauses(schema, analyzer, request, present), request.tie_breaker)


def top_hits(
    searcher: Any, query: Any, clauses: list[Any] | None, tie_breaker: float, limit: int
) -> list[tuple[float, Any]]:
    """The first ``limit`` ``(score, address)`` of ``query`` (the dis_max of ``clauses``), without counting.

    With ``tie_breaker`` 0 a document's score is its best field's, so each hit of the dis_max's top ``limit`` is in
    its best field's own top ``limit``: were ``limit`` documents ahead of it there, each would be ahead of it in
    the dis_max too. Each field is searched alone (where tantivy prunes), a document keeps the best of its
    fields' scores, and the union is ranked as tantivy ranks: by score, then by address.
    """
    if clauses is None or len(clauses) < 2 or tie_breaker != 0.0:
        hits: list[tuple[float, Any]] = searcher.search(query, limit=limit, count=False).hits
        return hits
    best: dict[tuple[int, int], float] = {}
    at: dict[tuple[int, int], Any] = {}
    for clause in clauses:
        for score, address in searcher.search(clause, limit=limit, count=False).hits:
            key = (address.segment_ord, address.doc)
            if score > best.get(key, -1.0):  # BM25 scores are never negative
                best[key] = score
                at[key] = address
    ranked = sorted((-score, key) for key, score in best.items())[:limit]
    return [(-negative, at[key]) for negative, key in ranked]
