"""Embedding with a TF-Hub SavedModel folder.

Two kinds are understood:

* text in, vectors out (``model(["text", ...])`` returns ``[batch, dim]``), like the Universal Sentence Encoder;
* a BERT encoder in the TF-Hub convention (inputs ``input_word_ids``, ``input_mask``, ``input_type_ids``;
  output ``sequence_output``) with ``assets/vocab.txt``: text is WordPiece-tokenised with that vocabulary
  and the sequence output is mean-pooled over real tokens, as sentence-transformers does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ModelLoadError
from .._load_order import load_triton_before_tensorflow
from ._base import NamedModel, Vectors, cut_for_model, normalise

TFHUB_BATCH_SIZE = 32


def is_tfhub_folder(path: Path) -> bool:
    return (path / "saved_model.pb").is_file()


class TfHubEmbedder(NamedModel):
    """A TF-Hub SavedModel used as an embedder (requires the ``tf`` extra)."""

    backend = "tensorflow"
    precision = "fp32"
    selection = "tensorflow fp32"
    default_batch_size = TFHUB_BATCH_SIZE
    fast_tokenizer = None  # WordPiece runs per batch inside embed; nothing tokenises the whole call once

    def __init__(self, path: Path, name: str, max_length: int = 256) -> None:
        load_triton_before_tensorflow()  # a torch embedder loaded later in this process would crash otherwise
        try:
            import tensorflow as tf
            import tensorflow_hub as hub
        except ImportError as error:
            raise ModelLoadError(
                f"{path} is a TF-Hub SavedModel; install TensorFlow to use it: pip install 'bmb-es[tf]' ({error})"
            ) from error
        self._tf = tf
        self._name = name
        self._max_length = max_length
        self._model: Any = hub.load(str(path))
        vocab = path / "assets" / "vocab.txt"
        self._tokenizer: Any = None
        if vocab.is_file():
            from tokenizers import BertWordPieceTokenizer

            lower_flag = path / "assets" / "do_lower_case"
            lower = not lower_flag.is_file() or lower_flag.read_text().strip().lower() != "false"
            self._tokenizer = BertWordPieceTokenizer(str(vocab), lowercase=lower)
            self._tokenizer.enable_truncation(max_length)
            self._tokenizer.enable_padding()
        self._dimension = int(self._run(["dimension probe"]).shape[1])

    @property
    def max_length(self) -> int:
        return self._max_length

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        tf = self._tf
        if self._tokenizer is None:
            output = self._model(tf.constant(list(texts)))
            if isinstance(output, dict):
                output = output.get("default", output.get("outputs", next(iter(output.values()))))
            return np.asarray(output, dtype=np.float32)
        # Cut first: tokenising a huge text costs GBs (a model reading raw text may use all of it: not cut).
        encoded = self._tokenizer.encode_batch([cut_for_model(text, self._max_length) for text in texts])
        mask = np.asarray([item.attention_mask for item in encoded], dtype=np.int32)
        inputs = {
            "input_word_ids": tf.constant(np.asarray([item.ids for item in encoded], dtype=np.int32)),
            "input_mask": tf.constant(mask),
            "input_type_ids": tf.constant(np.asarray([item.type_ids for item in encoded], dtype=np.int32)),
        }
        outputs = self._model(inputs)
        sequence = np.asarray(outputs["sequence_output"], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        return np.asarray((sequence * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0), dtype=np.float32)

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        batch_size = batch_size or self.default_batch_size
        chunks = [self._run(texts[start : start + batch_size]) for start in range(0, len(texts), batch_size)]
        return normalise(np.concatenate(chunks))
