"""Embedding with sentence-transformers: local folders and Hugging Face ids, in fp32, bf16 or fp16."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._base import NamedModel, Vectors, cut_for_model, normalise
from ._bucket import bucketed
from ._setting import RunPrecision, run_precision
from ._tokens import TokenInputs, pad_batch, sorted_batches, token_inputs

CPU_BATCH_SIZE = 32  # measured on 2 AMX cores: 16/32/64 within noise; bigger batches only add padding
# Measured on an H200 with bench/bench_batch_size.py (fp16, BioASQ abstracts): 512 gives 99 % of 1024's docs/s
# with half its memory (1.6 GiB); 256 gives 93 %. Length bucketing keeps the padding of big batches small.
GPU_BATCH_SIZE = 512
GPU_PAD_MULTIPLE = 8  # tensor cores want widths in multiples of 8; fewer shapes, fewer first-use kernel picks
# Texts tokenised together (and length-sorted together): at least this many, and at least 8 batches.
MIN_TOKENIZE_SLICE = 1024


def token_lengths(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[int]:
    """Tokens per text as the encoder sees them (special tokens included, truncated at ``max_length``)."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)
    return [len(ids) for ids in encoded["input_ids"]]


class SentenceTransformerEmbedder(NamedModel):
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

    def __init__(self, model: Any, name: str, precision: RunPrecision = "fp32") -> None:
        self._model = model
        self._name = name
        self._precision: RunPrecision = run_precision(precision)
        dimension = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
        self._dimension = int(dimension or model.get_sentence_embedding_dimension())
        self.selection = f"torch {precision}"  # load_embedder() replaces this with why it was chosen
        # Tokenise once in Rust and feed the modules directly, when that provably builds the model's own inputs.
        self._route: TokenInputs | None = token_inputs(model)

    @property
    def model(self) -> Any:
        """The underlying ``SentenceTransformer``."""
        return self._model

    @property
    def max_length(self) -> int:
        return int(self._model.max_seq_length)

    @property
    def device(self) -> str:
        return str(self._model.device)

    @property
    def precision(self) -> RunPrecision:
        return self._precision

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

    @property
    def fast_tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` that tokenises each text once, or ``None``: sentence-transformers
        tokenises per batch (the model's own preprocessing builds inputs the fast tokenizer cannot match)."""
        return None if self._route is None else self._route.tokenizer

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

    def _embed_routed(self, route: TokenInputs, texts: Sequence[str], size: int) -> Vectors:
        """Every module of the model on pre-tokenised batches; vectors stay on the device until the end, so a GPU
        is handed the next batch while it runs this one (no synchronisation per batch)."""
        import torch

        device = self._model.device
        on_gpu = device.type == "cuda"
        rows: list[list[int]] = []
        vectors: list[Any] = []  # per batch, on the device: nothing waits for the GPU until the one copy at the end
        slice_size = max(MIN_TOKENIZE_SLICE, 8 * size)
        with torch.inference_mode(), self._autocast():
            for positions, encodings in sorted_batches(route.tokenizer, texts, size, slice_size):
                features: dict[str, Any] = {}
                arrays = pad_batch(encodings, route.inputs, route.pad_id, GPU_PAD_MULTIPLE if on_gpu else 1)
                for name, array in zip(route.inputs, arrays, strict=True):
                    tensor = torch.from_numpy(array)
                    # Pinned memory: a pageable copy would first wait for every batch already queued on the GPU.
                    features[name] = tensor.pin_memory().to(device, non_blocking=True) if on_gpu else tensor
                for module in self._model:
                    features = module(features)
                rows.append(positions)
                vectors.append(features["sentence_embedding"].float())
            stacked = torch.cat(vectors).cpu().numpy()
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        out[np.concatenate([np.asarray(batch, dtype=np.int64) for batch in rows])] = stacked
        return out

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> Vectors:
        size = batch_size or self.default_batch_size
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        texts = [cut_for_model(text, self.max_length) for text in texts]  # tokenising a huge text costs GBs
        if self._route is not None:
            return normalise(self._embed_routed(self._route, texts, size))
        # sentence-transformers' own tokenising: our length bucketing over the whole call, then order restored.
        lengths = token_lengths(self._model.tokenizer, texts, self.max_length)
        with self._autocast():
            vectors = bucketed(list(texts), size, lengths, self._encode, self._dimension)
        return normalise(vectors)
