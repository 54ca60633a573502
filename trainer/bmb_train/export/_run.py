"""Load a trained run (config, latest checkpoint, vocab) and make a fixed batch to compare exports on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._config import BertConfig
from .._errors import ExportError
from .._tokenizer import make_tokenizer

SAMPLE_TEXTS = (
    "Asthma is a chronic inflammatory disease of the airways.",
    "Which genes are associated with cystic fibrosis?",
    "Short text.",
)


@dataclass(slots=True)
class TrainedRun:
    """A run folder's model with its restored weights, vocab and tokenisation settings."""

    folder: Path
    config: BertConfig
    model: Any  # BertPretrainer
    vocab: Path
    lowercase: bool
    max_seq_length: int
    checkpoint: str

    @property
    def max_length(self) -> int:
        """The one input length every export states: the run's sequence length, within the position table.

        Texts longer than this are cut to it (``tokenizer.json`` truncation, ``tokenizer_config.json``
        ``model_max_length``, sentence-transformers' ``max_seq_length``, ml-commons' ``model_max_length``): the
        model never saw positions beyond the sequences it was trained on.
        """
        return min(self.max_seq_length, self.config.max_position_embeddings)


def load_run(folder: Path) -> TrainedRun:
    """Restore the latest checkpoint of a ``bmb-train pretrain --out`` folder (optimizer state is skipped)."""
    import tensorflow as tf

    from ..model import BertPretrainer

    config_path, run_path, vocab = folder / "config.json", folder / "run.json", folder / "vocab.txt"
    for path in (config_path, run_path, vocab):
        if not path.is_file():
            raise ExportError(f"{folder}: {path.name} missing; is this a `bmb-train pretrain --out` folder?")
    config = BertConfig.from_json(json.loads(config_path.read_text()), str(config_path))
    run = json.loads(run_path.read_text())
    prefix = tf.train.latest_checkpoint(str(folder / "ckpt"))
    if prefix is None:
        raise ExportError(f"{folder}/ckpt: no checkpoint; train with `bmb-train pretrain` first")
    model = BertPretrainer(config, name="bert_pretrainer")
    model.build_with_dummy()
    status = tf.train.Checkpoint(model=model).restore(prefix)
    status.assert_existing_objects_matched().expect_partial()
    return TrainedRun(
        folder, config, model, vocab, bool(run.get("lowercase", True)), int(run.get("max_seq_length", 128)), prefix
    )


def sample_batch(vocab: Path, lowercase: bool, max_length: int = 32) -> dict[str, np.ndarray]:
    """Fixed sentences tokenised with the run's vocab: ``input_ids``, ``attention_mask``, ``token_type_ids`` (int32)."""
    tokenizer = make_tokenizer(vocab, lowercase)
    encoded = tokenizer(list(SAMPLE_TEXTS), padding=True, truncation=True, max_length=max_length, return_tensors="np")
    return {
        name: np.asarray(encoded[name], dtype=np.int32) for name in ("input_ids", "attention_mask", "token_type_ids")
    }


def tf_reference(run: TrainedRun, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The trained encoder's outputs on ``batch`` (inference mode)."""
    out = run.model.encoder(
        {
            "input_word_ids": batch["input_ids"],
            "input_mask": batch["attention_mask"],
            "input_type_ids": batch["token_type_ids"],
        },
        training=False,
    )
    return {"sequence_output": out["sequence_output"].numpy(), "pooled_output": out["pooled_output"].numpy()}


def masked_max_diff(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Largest absolute difference over real (non-padding) token positions."""
    return float(np.max(np.abs(a - b) * mask[..., None]))


def mean_pool(sequence: np.ndarray, mask: np.ndarray, normalize: bool = True) -> np.ndarray:
    """Mean over real tokens, then (optionally) L2-normalised: the sentence-transformers embedding."""
    weights = mask[..., None].astype(np.float32)
    pooled = (sequence * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    if normalize:
        pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return np.asarray(pooled, dtype=np.float32)


def set_truncation(tokenizer_json: Path, max_length: int) -> None:
    """Rewrite ``tokenizer_json`` so that it truncates every input to ``max_length`` tokens, longest first.

    Loaders that take the tokenizer file alone (OpenSearch ml-commons, the ``tokenizers`` library) otherwise
    pass texts of any length to a model whose position table ends at ``max_position_embeddings``.
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
    tokenizer.save(str(tokenizer_json))
