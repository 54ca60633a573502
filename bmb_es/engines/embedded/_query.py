"""The BM25 half of a request as a tantivy query.

tantivy's BM25 keeps the (k1 + 1) factor that Lucene dropped in 8.0, and so do Elasticsearch and OpenSearch
(their default similarity adds it back): tantivy's scores are the clusters' as they are. A live test compares
them with OpenSearch's; an earlier division by (k1 + 1) made every embedded score 2.2 times too small.
"""

from __future__ import annotations

from typing import Any

from ..._errors import QueryError
from ...query import SearchRequest
from ._store import TEXT_FIELDS


def text_query(schema: Any, analyzer: Any, request: SearchRequest, present: frozenset[str]) -> Any | None:
    """``multi_match`` best_fields as tantivy's dis_max over per-field term disjunctions.

    Fields that no document has (``present``, e.g. ``body`` in an index of abstracts) are left out: they
    would add nothing to any score, and each of their terms costs the search. ``None``: nothing can match.
    """
    import tantivy

    if not request.fields:
        return tantivy.Query.all_query()
    tokens = analyzer.analyze(request.question)
    per_field = []
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
        per_field.append(clause if item.boost == 1.0 else tantivy.Query.boost_query(clause, item.boost))
    if not per_field:
        return None  # no words (all stop words), or no document has an asked field: nothing matches
    return tantivy.Query.disjunction_max_query(per_field, request.tie_breaker)
