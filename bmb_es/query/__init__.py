"""The query builder: Elasticsearch request bodies for BM25 and BM25 + cosine re-rank."""

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
)

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
    "build_query",
    "rescore_clause",
]
