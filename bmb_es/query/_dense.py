"""Dense-first request bodies: kNN alone, and hybrid (BM25 + kNN fused), in both dialects.

The canonical bmb-es query stays BM25 top-k re-ranked by cosine (:func:`bmb_es.query.build_query`): that is
the paper's method and every engine runs it. These bodies are for clusters whose vector field is indexed
(HNSW); the embedded engine and ``--rerank-only`` indexes refuse them.

* Elasticsearch kNN: the top-level ``knn`` search option (approximate HNSW search, ``k`` per shard merged to
  ``k``, ``num_candidates`` per shard).
* OpenSearch kNN: the k-NN plugin's ``knn`` query (``{"knn": {field: {"vector", "k"}}}``).
* Elasticsearch hybrid: the ``rrf`` retriever over a ``standard`` (BM25) and a ``knn`` retriever.
* OpenSearch hybrid: the neural-search ``hybrid`` query; scores are combined by a search pipeline with the
  ``normalization-processor`` (``bmb-es setup`` creates ``bmb-es-hybrid``), passed as ``search_pipeline``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._errors import QueryError
from ._builder import DEFAULT_FIELDS, VECTOR_FIELD, Dialect, bm25_clause, vector_param

DEFAULT_NUM_CANDIDATES_FACTOR = 10


def _check(size: int, k: int, dialect: str) -> None:
    if size < 1:
        raise QueryError(f"size must be at least 1, got {size}")
    if k < size:
        raise QueryError(f"k {k} is smaller than size {size}: raise --top-k or lower --size")
    if dialect not in ("elasticsearch", "opensearch"):
        raise QueryError(f"dialect {dialect!r}: choose elasticsearch or opensearch")


def knn_clause(
    vector: Sequence[float], *, k: int, num_candidates: int | None = None, dialect: Dialect = "elasticsearch"
) -> dict[str, Any]:
    """The kNN search part: Elasticsearch's ``knn`` option object or OpenSearch's ``knn`` query."""
    values = vector_param(vector)
    if dialect == "opensearch":
        return {"knn": {VECTOR_FIELD: {"vector": values, "k": k}}}
    candidates = (
        num_candidates if num_candidates is not None else max(k, min(10_000, k * DEFAULT_NUM_CANDIDATES_FACTOR))
    )
    if candidates < k:
        raise QueryError(f"num_candidates {candidates} is smaller than k {k}")
    return {"field": VECTOR_FIELD, "query_vector": values, "k": k, "num_candidates": candidates}


def build_knn_query(
    vector: Sequence[float],
    *,
    size: int = 10,
    k: int = 50,
    num_candidates: int | None = None,
    dialect: Dialect = "elasticsearch",
) -> dict[str, Any]:
    """A pure dense-retrieval body: the ``k`` nearest documents by cosine, ``size`` of them returned."""
    _check(size, k, dialect)
    body: dict[str, Any] = {"size": size, "_source": {"excludes": [VECTOR_FIELD]}}
    if dialect == "opensearch":
        body["query"] = knn_clause(vector, k=k, dialect=dialect)
    else:
        body["knn"] = knn_clause(vector, k=k, num_candidates=num_candidates, dialect=dialect)
    return body


def build_hybrid_query(
    question: str,
    vector: Sequence[float],
    *,
    size: int = 10,
    k: int = 50,
    fields: Sequence[str] = DEFAULT_FIELDS,
    num_candidates: int | None = None,
    rank_constant: int = 60,
    dialect: Dialect = "elasticsearch",
) -> dict[str, Any]:
    """BM25 and kNN retrieved independently and fused.

    Elasticsearch: reciprocal rank fusion (``retriever.rrf``) over the top ``k`` of each
    (``rank_window_size``). OpenSearch: ``query.hybrid``; run it with the ``bmb-es-hybrid`` search pipeline
    (min-max normalisation, weighted mean), which :class:`~bmb_es.engines.OpenSearchEngine` adds for you.
    """
    _check(size, k, dialect)
    text = bm25_clause(question, fields)
    if dialect == "opensearch":
        return {
            "size": size,
            "_source": {"excludes": [VECTOR_FIELD]},
            "query": {"hybrid": {"queries": [text, knn_clause(vector, k=k, dialect=dialect)]}},
        }
    if rank_constant < 1:
        raise QueryError(f"rank_constant must be at least 1, got {rank_constant}")
    return {
        "size": size,
        "_source": {"excludes": [VECTOR_FIELD]},
        "retriever": {
            "rrf": {
                "retrievers": [
                    {"standard": {"query": text}},
                    {"knn": knn_clause(vector, k=k, num_candidates=num_candidates, dialect=dialect)},
                ],
                "rank_window_size": k,
                "rank_constant": rank_constant,
            }
        },
    }
