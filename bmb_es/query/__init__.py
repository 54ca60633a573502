"""The query builder: Elasticsearch/OpenSearch request bodies for BM25, BM25 + cosine re-rank, kNN and hybrid."""

from ._builder import (
    COSINE_SCRIPTS,
    DEFAULT_FIELDS,
    QUERY_VECTOR_PARAM,
    SCORE_MODES,
    VECTOR_FIELD,
    Dialect,
    QuerySpec,
    Rerank,
    ScoreMode,
    bm25_clause,
    build_body,
    build_query,
    rescore_clause,
    vector_param,
)
from ._dense import build_hybrid_query, build_knn_query, knn_clause

__all__ = [
    "COSINE_SCRIPTS",
    "DEFAULT_FIELDS",
    "QUERY_VECTOR_PARAM",
    "SCORE_MODES",
    "VECTOR_FIELD",
    "Dialect",
    "QuerySpec",
    "Rerank",
    "ScoreMode",
    "bm25_clause",
    "build_body",
    "build_hybrid_query",
    "build_knn_query",
    "build_query",
    "knn_clause",
    "rescore_clause",
    "vector_param",
]
