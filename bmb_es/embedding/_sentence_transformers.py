"""Embedding with sentence-transformers: local folders and Hugging Face ids, in fp32, bf16 or fp16."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._base import Vectors, normalise
from ._bucket import bucketed

PRECISIONS = ("fp32", "bf16", "fp16")
CPU_BATCH_SIZE = 32  # measured on 2 AMX cores: 16/32/64 within noise; bigger batches only add padding
GPU_BATCH_SIZE = 256  # large batches keep a GPU busy; length bucketing keeps their padding small


def token_lengths(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[int]:
    """Tokens per text as the encoder sees them (special tokens included, truncated at ``max_length``)."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)
    return [len(ids) for ids in encoded["input_ids"]]


class SentenceTransformerEmbedder:
    """A sentence-transformers model (loaded lazily by :func:`~bmb_es.embedding.load_embedder`).

    Parameters
    ----------
    model
        A loaded ``SentenceTransformer`` (its weights stay fp32; lower precisions run under autocast).
    name
        How the index records this model.
    precision
        ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast on the model's device).
    """

    backend = "torch"

    def __init__(self, model: Any, name: str, precision: str = "fp32") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self._model = model
        self._name = name
        self._precision = precision
        dimension = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
        self._dimension = int(dimension or model.get_sentence_embedding_dimension())
        self.selection = f"torch {precision}"  # load_embedder() replaces this with why it was chosen

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_length(self) -> int:
        return int(self._model.max_seq_length)

    @property
    def precision(self) -> str:
        return self._precision

    @property
    def device(self) -> str:
        return str(self._model.device)

    @property
    def model(self) -> Any:
        """The underlying ``SentenceTransformer``."""
        return self._model

    @property
    def default_batch_size(self) -> int:
        return GPU_BATCH_SIZE if self.device.startswith("cuda") else CPU_BATCH_SIZE

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if self._precision == "fp32":
            yield
            return
        import torch

        dtype = torch.bfloat16 if self._precision == "bf16" else torch.float16
        device_type = "cuda" if self.device.startswith("cuda") else "cpu"
        with torch.inference_mode(), torch.autocast(device_type=device_type, dtype=dtype):
            yield

    def _encode(self, batch: list[str]) -> Vectors:
        vectors = self._model.encode(
            batch,
            batch_size=len(batch),
            normalize_embeddings=True,
            convert_to_numpy=False,
            convert_to_tensor=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors.float().cpu().numpy(), dtype=np.float32)

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> Vectors:
        # Our own length bucketing over the whole call (encode() sorts only by characters), then order restored.
        size = batch_size or self.default_batch_size
        lengths = token_lengths(self._model.tokenizer, texts, self.max_length)
        with self._autocast():
            vectors = bucketed(list(texts), size, lengths, self._encode, self._dimension)
        return normalise(vectors)
