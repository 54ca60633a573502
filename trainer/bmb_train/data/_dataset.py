"""Read shards as a ``tf.data`` pipeline whose position is a pure function of the training step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._shards import Manifest

if TYPE_CHECKING:
    import tensorflow as tf


def pretraining_dataset(manifest: Manifest, global_batch: int, seed: int, start_step: int = 0) -> tf.data.Dataset:
    """Batches of pretraining features, repeated forever, starting at batch ``start_step``.

    The order is fixed by ``seed`` (a seeded shuffle over a fixed file order, repeated), so skipping
    ``start_step`` batches after a restart continues exactly where the interrupted run was.
    """
    import tensorflow as tf

    seq = manifest.settings.max_seq_length
    preds = manifest.settings.max_predictions
    spec = {
        "input_ids": tf.io.FixedLenFeature([seq], tf.int64),
        "input_mask": tf.io.FixedLenFeature([seq], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([seq], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature([preds], tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature([preds], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature([preds], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }

    def parse(record: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_single_example(record, spec)
        return {name: tf.cast(value, tf.int32) if value.dtype == tf.int64 else value for name, value in parsed.items()}

    buffer = min(manifest.instances, 10_000)
    files = [str(path) for path in manifest.files]
    dataset = tf.data.TFRecordDataset(files)
    dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.batch(global_batch, drop_remainder=True)
    if start_step:
        dataset = dataset.skip(start_step)
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
