"""TF-Hub BERT encoder SavedModel: dict inputs ``input_word_ids/input_mask/input_type_ids``, dict outputs."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._errors import ExportError
from ._run import TrainedRun, masked_max_diff, sample_batch, tf_reference

PREPROCESSING_NOTE = """\
Preprocessing for this encoder (TF-Hub BERT convention)
=======================================================
Tokenise with BERT WordPiece using assets/vocab.txt; lower-case and strip accents if assets/do_lower_case
says "true". Build `[CLS] A [SEP]` (or `[CLS] A [SEP] B [SEP]`), pad to one length per batch and pass int32
tensors:
  input_word_ids  token ids                        [batch, seq]
  input_mask      1 for real tokens, 0 for padding [batch, seq]
  input_type_ids  0 for segment A, 1 for segment B [batch, seq]
Truncate to {max_length} tokens, the length the model was trained on (its position table holds
{max_positions}). In Python, `transformers.BertTokenizerFast(vocab=..., do_lower_case=...)` or
`bmb_train.export.sample_batch` produce exactly these ids.
Outputs: pooled_output [batch, hidden], sequence_output [batch, seq, hidden], encoder_outputs (per layer).
"""


def export_tfhub(run: TrainedRun, out: Path, log: Callable[[str], None] = print, tolerance: float = 1e-4) -> float:
    """Save the encoder as a TF-Hub-style SavedModel at ``out``, reload it with ``hub.KerasLayer`` and compare.

    Returns
    -------
    float
        Max absolute difference of ``sequence_output``/``pooled_output`` between reloaded and trained model.

    Raises
    ------
    ExportError
        The folder exists and is not empty, or the reloaded outputs differ by more than ``tolerance``.
    """
    import tensorflow as tf
    import tensorflow_hub as hub
    import tf_keras

    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out}: exists and is not empty; choose a new folder")
    inputs = {
        name: tf_keras.Input(shape=(None,), dtype=tf.int32, name=name)
        for name in ("input_word_ids", "input_mask", "input_type_ids")
    }
    outputs = run.model.encoder(inputs)
    wrapper = tf_keras.Model(inputs=inputs, outputs=outputs, name="bert_encoder")
    staging = out.parent / f".{out.name}.assets"
    staging.mkdir(parents=True, exist_ok=True)
    vocab_copy = staging / "vocab.txt"
    shutil.copyfile(run.vocab, vocab_copy)
    wrapper.vocab_file = tf.saved_model.Asset(str(vocab_copy))
    wrapper.do_lower_case = tf.Variable(run.lowercase, trainable=False, name="do_lower_case")
    try:
        wrapper.save(str(out), include_optimizer=False, save_format="tf")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    (out / "assets" / "do_lower_case").write_text("true\n" if run.lowercase else "false\n")
    (out / "assets" / "PREPROCESSING.txt").write_text(
        PREPROCESSING_NOTE.format(max_length=run.max_length, max_positions=run.config.max_position_embeddings)
    )
    batch = sample_batch(run.vocab, run.lowercase)
    reference = tf_reference(run, batch)
    layer = hub.KerasLayer(str(out), trainable=True)
    reloaded = layer(
        {
            "input_word_ids": tf.constant(batch["input_ids"]),
            "input_mask": tf.constant(batch["attention_mask"]),
            "input_type_ids": tf.constant(batch["token_type_ids"]),
        },
        training=False,
    )
    diff = max(
        masked_max_diff(np.asarray(reloaded["sequence_output"]), reference["sequence_output"], batch["attention_mask"]),
        float(np.max(np.abs(np.asarray(reloaded["pooled_output"]) - reference["pooled_output"]))),
    )
    if not layer.trainable_weights:
        raise ExportError(f"{out}: reloaded hub.KerasLayer has no trainable weights; it cannot be fine-tuned")
    if diff > tolerance:
        raise ExportError(f"{out}: reloaded TF-Hub model differs from the trained model (max abs diff {diff:.2e})")
    log(f"TF-Hub SavedModel written to {out}; hub.KerasLayer reload max abs diff {diff:.2e}")
    return diff
