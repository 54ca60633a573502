"""What every embedder offers, and which text of a Document gets embedded."""

from __future__ import annotations

import re
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


class NamedModel:
    """The ``name`` and ``dimension`` an embedder reports: read-only, set once when its model is loaded."""

    _name: str
    _dimension: int

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension


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


# Long texts are cut before they are tokenised. The model sees only its first max_length tokens, but a tokenizer
# first builds every token of the whole text, with offsets and alignments (~100 bytes per character): a 50 MB
# abstract took 5.6 GB. The cut keeps the first CUT_WORDS_PER_TOKEN * max_length whitespace-separated words. Every
# tokenizer these models use splits at whitespace and makes at least one token of each word (a word it cannot
# split is one [UNK]), so the kept words make at least max_length tokens, each the same token as in the whole
# text: the model sees exactly what it saw before and vectors do not change (tests/embedding/test_cut.py checks
# tokens and vectors). The one exception is a word made only of characters the tokenizer drops (control or
# zero-width characters); the factor 2 leaves room for half the words to be such.
# Memory needs a bound in characters too: at most CUT_CHARS_PER_TOKEN per token of max_length (CUT_MIN_CHARS at
# least). Words of real text, English, chemistry, gene names or URLs alike, average well under 64 characters, so
# the bound only cuts a text whose start is mostly whitespace runs or strings of thousands of characters without a
# space (a sequence, a base64 blob); its vector may then differ from one of the whole text.
CUT_WORDS_PER_TOKEN = 2
CUT_CHARS_PER_TOKEN = 64
CUT_MIN_CHARS = 16_384  # texts up to this long are never cut
CUT_BACK_CHARS = 256  # at the character bound, how far back the cut looks for whitespace, so no word is split
_WORD = re.compile(r"\S+")


def cut_for_model(text: str, max_length: int) -> str:
    """``text``, or its start when it is longer than a model of ``max_length`` tokens can see.

    Texts of up to :data:`CUT_MIN_CHARS` characters are returned as they are; longer ones end after their first
    ``CUT_WORDS_PER_TOKEN * max_length`` words, and after ``max(CUT_MIN_CHARS, max_length * CUT_CHARS_PER_TOKEN)``
    characters at the most. See the note above :data:`CUT_WORDS_PER_TOKEN` for why the model sees the same tokens.
    """
    if len(text) <= CUT_MIN_CHARS:
        return text
    limit = max(CUT_MIN_CHARS, max_length * CUT_CHARS_PER_TOKEN)
    for words, match in enumerate(_WORD.finditer(text, 0, limit), start=1):
        if words >= CUT_WORDS_PER_TOKEN * max_length:
            return text[: match.end()]
    if len(text) <= limit:
        return text
    # The character bound: at the last whitespace before it, if there is one near it.
    window = text[limit - CUT_BACK_CHARS : limit + 1]
    spaces = [position for position, char in enumerate(window) if char.isspace()]
    return text[: limit - CUT_BACK_CHARS + spaces[-1]] if spaces else text[:limit]


def normalise(vectors: npt.NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero) as contiguous float32."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.where(norms == 0, 1, norms), dtype=np.float32)
