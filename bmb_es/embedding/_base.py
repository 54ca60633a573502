"""What every embedder offers, and which text of a Document gets embedded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .._document import Document

Vectors = npt.NDArray[np.float32]

# Title + abstract is what the paper embeds; body text is long and the encoder truncates anyway.
DEFAULT_EMBED_FIELDS: tuple[str, ...] = ("title", "abstract")


@runtime_checkable
class EmbedderLike(Protocol):
    """The least an embedder handed to :func:`~bmb_es.ingest`, :func:`~bmb_es.index_path` or
    :func:`~bmb_es.search` must offer. bmb-es's own embedders offer all of :class:`Embedder`.

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


@runtime_checkable
class Embedder(EmbedderLike, Protocol):
    """Turns text into L2-normalised float32 vectors, and says how: every attribute bmb-es reads of an embedder.

    :func:`~bmb_es.embedding.load_embedder` returns one; :func:`as_embedder` completes an :class:`EmbedderLike`.
    """

    @property
    def backend(self) -> str | None:
        """The runtime computing the vectors (``"torch"``, ``"openvino"``, ``"tensorflow"``); ``None``: not known."""
        ...

    @property
    def precision(self) -> str | None:
        """The precision it computes in (``"fp32"``, ``"bf16"``, ``"fp16"``); ``None``: not known."""
        ...

    @property
    def selection(self) -> str:
        """How this backend and precision were chosen, e.g. ``"openvino bf16 (auto: mean cosine to fp32 0.99998)"``."""
        ...

    @property
    def default_batch_size(self) -> int:
        """Texts per batch when ``embed`` is given none (measured per backend and device)."""
        ...

    @property
    def fast_tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` that tokenises each text once for the whole call, or ``None``."""
        ...


CALLER_BATCH_SIZE = 32  # texts per batch for an embedder that names no default of its own


class CallerEmbedder:
    """An :class:`EmbedderLike` completed into an :class:`Embedder`: its name, dimension and ``embed``, and
    backend and precision not known (``None``, as index metadata records them)."""

    backend = None
    precision = None
    fast_tokenizer = None
    default_batch_size = CALLER_BATCH_SIZE

    def __init__(self, inner: EmbedderLike) -> None:
        self.inner = inner
        self.selection = f"{type(inner).__name__} (backend and precision not known)"

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_length(self) -> int:
        return self.inner.max_length

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> Vectors:
        return self.inner.embed(texts, batch_size=batch_size)


def as_embedder(embedder: EmbedderLike) -> Embedder:
    """``embedder`` itself when it is a complete :class:`Embedder`, else wrapped in a :class:`CallerEmbedder`."""
    return embedder if isinstance(embedder, Embedder) else CallerEmbedder(embedder)


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
