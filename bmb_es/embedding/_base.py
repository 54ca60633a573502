"""What every embedder offers, and which text of a Document gets embedded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .._document import Document

Vectors = npt.NDArray[np.float32]

# Title + abstract is what the paper embeds; body text is long and the encoder truncates anyway.
DEFAULT_EMBED_FIELDS: tuple[str, ...] = ("title", "abstract")


@runtime_checkable
class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors.

    ``name`` identifies the model in index metadata: an index built with one model is never queried with another.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_length(self) -> int:
        """Tokens the encoder sees; longer text is truncated for embedding (BM25 still sees all of it)."""
        ...

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> Vectors:
        """Embed ``texts``; returns an array of shape ``(len(texts), dimension)`` with unit-length rows.

        ``batch_size`` ``None`` is the embedder's own default (measured per backend and device).
        """
        ...


def embed_text(document: Document, fields: Sequence[str] = DEFAULT_EMBED_FIELDS) -> str:
    """The text of ``document`` that is embedded: the named fields joined, else the body.

    Title and abstract are joined with ``". "`` unless the title already ends a sentence. A record with
    none of the named fields falls back to its body so every indexed document gets a meaningful vector.
    """
    parts = [str(getattr(document, name)).strip() for name in fields]
    parts = [part for part in parts if part]
    if not parts:
        return document.body.strip()
    joined = parts[0]
    for part in parts[1:]:
        joined += (" " if joined[-1] in ".?!:" else ". ") + part
    return joined


def normalise(vectors: npt.NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero) as contiguous float32."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.where(norms == 0, 1, norms), dtype=np.float32)


def embedder_setting(embedder: Embedder) -> tuple[str | None, str | None]:
    """``(backend, precision)`` an embedder computes with, where it says (``None`` for others)."""
    backend = getattr(embedder, "backend", None)
    precision = getattr(embedder, "precision", None)
    return (str(backend) if backend else None, str(precision) if precision else None)
