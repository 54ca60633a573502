"""Elasticsearch's QueryRescorer arithmetic, applied to BM25 scores and the cosines of stored vectors."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..._errors import QueryError
from ...query import Rerank


def rescore(
    first_pass: npt.NDArray[np.float64], vectors: np.ndarray, question: npt.NDArray[np.float64], rerank: Rerank
) -> tuple[npt.NDArray[np.float64], list[float | None]]:
    """Elasticsearch's QueryRescorer: re-score the window, weight the rest.

    ``vectors`` are those of the first ``len(vectors)`` hits (the window). Inside the window:
    ``combine(query_weight * score, rescore_query_weight * (cosine + 1))``. Beyond it:
    ``query_weight * score``, exactly as Elasticsearch treats hits it did not rescore. The cosine is computed in
    float32, as the stored vectors are (and as a cluster computes it).
    """
    query = question.astype(np.float32)
    if vectors.shape[1] != query.shape[0]:
        raise QueryError(
            f"request body: the query vector has {query.shape[0]} dimensions, the index stores {vectors.shape[1]}"
        )
    window = len(vectors)
    # What np.linalg.norm(vectors, axis=1) computes, bit for bit, without its checks (a warm search counts µs).
    norms = np.sqrt(np.add.reduce(vectors * vectors, axis=1)) * float(np.linalg.norm(query))
    dots = vectors @ query
    cosine = np.divide(dots, norms, out=np.zeros(window, dtype=np.float32), where=norms > 0).astype(np.float64)
    final = rerank.query_weight * first_pass
    final[:window] = combine(rerank.score_mode, final[:window], rerank.rescore_query_weight * (cosine + 1.0))
    cosines: list[float | None] = cosine.tolist()
    return final, cosines + [None] * (len(first_pass) - window)


def combine(score_mode: str, primary: Any, secondary: Any) -> Any:
    """Elasticsearch's QueryRescorer combination of the weighted first-pass and rescore scores.

    Works on numbers and, elementwise, on numpy arrays (a whole rescore window at once).
    """
    if score_mode == "total":
        return primary + secondary
    if score_mode == "multiply":
        return primary * secondary
    if score_mode == "avg":
        return (primary + secondary) / 2
    if score_mode == "max":
        return np.maximum(primary, secondary)
    if score_mode == "min":
        return np.minimum(primary, secondary)
    raise QueryError(f"score_mode {score_mode!r}")
