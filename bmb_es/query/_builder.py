"""The parts of the canonical request body: BM25 ``multi_match`` and, for re-ranking, a cosine ``rescore``.

:class:`~bmb_es.query.SearchRequest` (``_request.py``) puts them together. The body is plain Elasticsearch
query DSL. ``bmb-es query --explain`` prints it, a user can paste it into
Kibana Dev Tools, and every engine (embedded, Elasticsearch, OpenSearch) executes it. User text only ever
enters as ``multi_match`` query text and the vector only as a script parameter: neither becomes DSL or
script source.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .._errors import QueryError
from ._filters import NO_FILTERS, Filters

Dialect = Literal["elasticsearch", "opensearch"]
ScoreMode = Literal["total", "multiply", "avg", "max", "min"]
SCORE_MODES: tuple[ScoreMode, ...] = ("total", "multiply", "avg", "max", "min")


def parse_score_mode(text: str) -> ScoreMode:
    """``text`` as a :data:`ScoreMode`, else a :class:`QueryError` naming the choices."""
    for mode in SCORE_MODES:
        if text == mode:
            return mode
    raise QueryError(f"score mode {text!r}: choose one of {', '.join(SCORE_MODES)}")


VECTOR_FIELD = "embedding"
QUERY_VECTOR_PARAM = "query_vector"
# The paper's first stage: a document scores by its best field, the title counting double.
PAPER_FIELDS: tuple[str, ...] = ("title^2", "abstract", "body")
# The default: unboosted best_fields (leave-one-year-out over BioASQ, bench/bench_rerank_defaults.py).
DEFAULT_FIELDS: tuple[str, ...] = ("title", "abstract", "body")
# Hits and re-rank windows are capped as Elasticsearch caps them (index.max_result_window): a larger request
# would only allocate memory for hits that a reader never pages through.
MAX_SIZE = 10_000

# Painless: Elasticsearch names the vector field as a string; OpenSearch's k-NN extension takes doc[field].
# `+ 1.0` keeps scores non-negative, which script_score requires.
COSINE_SCRIPTS: dict[str, str] = {
    "elasticsearch": f"cosineSimilarity(params.{QUERY_VECTOR_PARAM}, '{VECTOR_FIELD}') + 1.0",
    "opensearch": f"cosineSimilarity(params.{QUERY_VECTOR_PARAM}, doc['{VECTOR_FIELD}']) + 1.0",
}


@dataclass(frozen=True, slots=True)
class Rerank:
    """How BM25 candidates are re-ranked by cosine similarity (Elasticsearch ``rescore`` semantics).

    Parameters
    ----------
    top_k
        ``window_size``: how many BM25 hits (per shard on a cluster) are re-scored.
    query_weight, rescore_query_weight
        Final score = ``query_weight * bm25  (score_mode)  rescore_query_weight * (cosine + 1)``.
        The paper's pure re-rank is ``0`` / ``1``; other weights blend BM25 back in.
    score_mode
        How the two weighted scores combine: ``total`` (sum), ``multiply``, ``avg``, ``max``, ``min``.
    """

    top_k: int = 50
    query_weight: float = 0.0
    rescore_query_weight: float = 1.0
    score_mode: ScoreMode = "total"

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= MAX_SIZE:
            raise QueryError(f"top-k must be between 1 and {MAX_SIZE:,}, got {self.top_k}")
        for label, value in (("query weight", self.query_weight), ("rescore weight", self.rescore_query_weight)):
            if not math.isfinite(value):
                raise QueryError(f"{label} must be a finite number, got {value}")
        if self.score_mode not in SCORE_MODES:
            raise QueryError(f"score mode {self.score_mode!r}: choose one of {', '.join(SCORE_MODES)}")


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """Everything that shapes the request body apart from the question and its vector.

    ``filters``: which documents may match (years, journal); every leg of a plan gets them.
    """

    size: int = 10
    fields: tuple[str, ...] = DEFAULT_FIELDS
    rerank: Rerank | None = field(default_factory=Rerank)
    dialect: Dialect = "elasticsearch"
    tie_breaker: float = 0.0
    filters: Filters = NO_FILTERS

    def __post_init__(self) -> None:
        if not 1 <= self.size <= MAX_SIZE:
            raise QueryError(f"size must be between 1 and {MAX_SIZE:,}, got {self.size}")
        if not 0.0 <= self.tie_breaker <= 1.0:
            raise QueryError(f"tie breaker must be between 0 and 1, got {self.tie_breaker}")
        if self.rerank is not None and self.size > self.rerank.top_k:
            raise QueryError(
                f"size {self.size} is larger than top-k {self.rerank.top_k}: only the top-k BM25 hits are "
                f"re-ranked; raise --top-k or lower --size"
            )
        if self.dialect not in COSINE_SCRIPTS:
            raise QueryError(f"dialect {self.dialect!r}: choose elasticsearch or opensearch")
        if not self.fields:
            raise QueryError("at least one field must be searched")


def bm25_clause(question: str, fields: Sequence[str] = DEFAULT_FIELDS) -> dict[str, Any]:
    """The BM25 ``multi_match`` (best_fields: a document scores by its best-matching field)."""
    text = question.strip()
    if not text:
        raise QueryError("the query is empty: give a question or keywords")
    return {"multi_match": {"query": text, "fields": list(fields), "type": "best_fields"}}


def vector_param(vector: Sequence[float] | npt.ArrayLike) -> list[float]:
    """The query vector as a JSON list of finite floats, checked."""
    try:
        array = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError):
        raise QueryError("the query vector must hold only numbers") from None
    if array.ndim != 1 or array.size == 0:
        raise QueryError("the query vector is empty" if array.size == 0 else "the query vector must be flat")
    if not np.isfinite(array).all():
        raise QueryError("the query vector holds NaN or infinite values")
    if not array.any():
        raise QueryError("the query vector is all zeros: cosine similarity is undefined")
    return array.tolist()  # type: ignore[no-any-return]


def rescore_clause(vector: Sequence[float], rerank: Rerank, dialect: Dialect = "elasticsearch") -> dict[str, Any]:
    """The ``rescore`` block: ``script_score`` cosine over the top-k BM25 hits."""
    return {
        "window_size": rerank.top_k,
        "query": {
            "rescore_query": {
                "script_score": {
                    "query": {"match_all": {}},
                    "script": {
                        "source": COSINE_SCRIPTS[dialect],
                        "params": {QUERY_VECTOR_PARAM: vector_param(vector)},
                    },
                }
            },
            "query_weight": rerank.query_weight,
            "rescore_query_weight": rerank.rescore_query_weight,
            "score_mode": rerank.score_mode,
        },
    }
