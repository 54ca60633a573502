"""Embedding with sentence-transformers: local folders and Hugging Face ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._base import Vectors, normalise


class SentenceTransformerEmbedder:
    """A sentence-transformers model (loaded lazily by :func:`~bmb_es.embedding.load_embedder`).

    Parameters
    ----------
    model
        A loaded ``SentenceTransformer``.
    name
        How the index records this model.
    """

    def __init__(self, model: Any, name: str) -> None:
        self._model = model
        self._name = name
        dimension = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
        self._dimension = int(dimension or model.get_sentence_embedding_dimension())

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_length(self) -> int:
        return int(self._model.max_seq_length)

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        # encode() sorts by length inside the call, so padding waste stays small within each batch.
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return normalise(vectors)
