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
    rescore_clause,
    vector_param,
)
from ._dense import build_hybrid_query, build_knn_query, knn_clause
from ._request import SUBSET_HELP, FieldBoost, SearchRequest, build_body, build_query

__all__ = [
    "COSINE_SCRIPTS",
    "DEFAULT_FIELDS",
    "QUERY_VECTOR_PARAM",
    "SCORE_MODES",
    "SUBSET_HELP",
    "VECTOR_FIELD",
    "Dialect",
    "FieldBoost",
    "QuerySpec",
    "Rerank",
    "ScoreMode",
    "SearchRequest",
    "bm25_clause",
    "build_body",
    "build_hybrid_query",
    "build_knn_query",
    "build_query",
    "knn_clause",
    "rescore_clause",
    "vector_param",
]
