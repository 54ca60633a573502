"""BERT encoder in tf-keras, laid out so every weight has one obvious Hugging Face counterpart.

tf-keras (Keras 2) is used rather than Keras 3 because ``tensorflow_hub.KerasLayer`` is a tf-keras layer:
a SavedModel exported from this encoder loads and fine-tunes inside tf-keras models.
"""

from __future__ import annotations

import math
from typing import Any

import tensorflow as tf
import tf_keras

from .._config import BertConfig

ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def _init(config: BertConfig) -> tf_keras.initializers.Initializer:
    return tf_keras.initializers.TruncatedNormal(stddev=config.initializer_range)


def _gelu(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.gelu(x, approximate=False)


class Embeddings(tf_keras.layers.Layer):  # type: ignore[misc]
    """Word + position + token-type embeddings, layer norm, dropout."""

    def __init__(self, config: BertConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.layer_norm = tf_keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="layer_norm")
        self.dropout = tf_keras.layers.Dropout(config.hidden_dropout)

    def build(self, input_shape: Any) -> None:
        c = self.config
        self.word_embeddings = self.add_weight("word_embeddings", [c.vocab_size, c.hidden_size], initializer=_init(c))
        self.position_embeddings = self.add_weight(
            "position_embeddings", [c.max_position_embeddings, c.hidden_size], initializer=_init(c)
        )
        self.token_type_embeddings = self.add_weight(
            "token_type_embeddings", [c.type_vocab_size, c.hidden_size], initializer=_init(c)
        )
        super().build(input_shape)

    def call(self, word_ids: tf.Tensor, type_ids: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        seq_len = tf.shape(word_ids)[1]
        x = tf.gather(self.word_embeddings, word_ids)
        x += tf.gather(self.token_type_embeddings, type_ids)
        x += tf.expand_dims(self.position_embeddings[:seq_len], 0)
        return self.dropout(self.layer_norm(x), training=training)


class TransformerBlock(tf_keras.layers.Layer):  # type: ignore[misc]
    """Post-layer-norm transformer block: self-attention, add & norm, GELU feed-forward, add & norm."""

    def __init__(self, config: BertConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        c = self.config = config
        self.head_size = c.hidden_size // c.num_heads

        def dense(units: int, name: str, activation: Any = None) -> tf_keras.layers.Dense:
            return tf_keras.layers.Dense(units, activation=activation, kernel_initializer=_init(c), name=name)

        self.query = dense(c.hidden_size, "query")
        self.key = dense(c.hidden_size, "key")
        self.value = dense(c.hidden_size, "value")
        self.attention_output = dense(c.hidden_size, "attention_output")
        self.attention_layer_norm = tf_keras.layers.LayerNormalization(
            epsilon=c.layer_norm_eps, name="attention_layer_norm"
        )
        self.intermediate = dense(c.intermediate_size, "intermediate", activation=_gelu)
        self.output_dense = dense(c.hidden_size, "output")
        self.output_layer_norm = tf_keras.layers.LayerNormalization(epsilon=c.layer_norm_eps, name="output_layer_norm")
        self.attention_dropout = tf_keras.layers.Dropout(c.attention_dropout)
        self.hidden_dropout = tf_keras.layers.Dropout(c.hidden_dropout)

    def _heads(self, x: tf.Tensor) -> tf.Tensor:
        batch, seq = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, [batch, seq, self.config.num_heads, self.head_size])
        return tf.transpose(x, [0, 2, 1, 3])

    def call(self, x: tf.Tensor, attention_bias: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(self.head_size))
        scores += tf.cast(attention_bias, scores.dtype)
        probs = self.attention_dropout(tf.nn.softmax(scores, axis=-1), training=training)
        context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])
        context = tf.reshape(context, [tf.shape(x)[0], tf.shape(x)[1], self.config.hidden_size])
        attended = self.attention_layer_norm(x + self.hidden_dropout(self.attention_output(context), training=training))
        hidden = self.output_dense(self.intermediate(attended))
        return self.output_layer_norm(attended + self.hidden_dropout(hidden, training=training))


class BertEncoder(tf_keras.Model):  # type: ignore[misc]
    """The encoder with the TF-Hub BERT calling convention.

    Call with ``{"input_word_ids", "input_mask", "input_type_ids"}`` (int32 ``[batch, seq]``); returns
    ``{"sequence_output": [batch, seq, hidden], "pooled_output": [batch, hidden],
    "encoder_outputs": [per-layer sequence outputs]}``.
    """

    def __init__(self, config: BertConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.embeddings = Embeddings(config, name="embeddings")
        self.blocks = [TransformerBlock(config, name=f"layer_{i}") for i in range(config.num_layers)]
        self.pooler = tf_keras.layers.Dense(
            config.hidden_size, activation="tanh", kernel_initializer=_init(config), name="pooler"
        )

    def call(self, inputs: dict[str, tf.Tensor], training: bool | None = None) -> dict[str, Any]:
        word_ids = tf.cast(inputs["input_word_ids"], tf.int32)
        mask = tf.cast(inputs["input_mask"], tf.float32)
        type_ids = tf.cast(inputs["input_type_ids"], tf.int32)
        attention_bias = (1.0 - mask[:, tf.newaxis, tf.newaxis, :]) * -10000.0
        x = self.embeddings(word_ids, type_ids, training=training)
        outputs = []
        for block in self.blocks:
            x = block(x, attention_bias, training=training)
            outputs.append(x)
        pooled = self.pooler(x[:, 0])
        return {
            "sequence_output": tf.cast(x, tf.float32),
            "pooled_output": tf.cast(pooled, tf.float32),
            "encoder_outputs": [tf.cast(item, tf.float32) for item in outputs],
        }

    def build_with_dummy(self) -> None:
        """Create every weight by calling the encoder once on a tiny batch."""
        ids = tf.zeros([1, 2], tf.int32)
        self({"input_word_ids": ids, "input_mask": tf.ones([1, 2], tf.int32), "input_type_ids": ids})


class BertPretrainer(tf_keras.Model):  # type: ignore[misc]
    """Encoder plus the masked-LM head (output tied to the word embeddings) and the next-sentence head."""

    def __init__(self, config: BertConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.encoder = BertEncoder(config, name="encoder")
        self.mlm_transform = tf_keras.layers.Dense(
            config.hidden_size, activation=_gelu, kernel_initializer=_init(config), name="mlm_transform"
        )
        self.mlm_layer_norm = tf_keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="mlm_layer_norm")
        self.nsp = tf_keras.layers.Dense(2, kernel_initializer=_init(config), name="nsp")

    def build(self, input_shape: Any) -> None:
        self.mlm_bias = self.add_weight("mlm_bias", [self.config.vocab_size], initializer="zeros")
        super().build(input_shape)

    def call(self, features: dict[str, tf.Tensor], training: bool | None = None) -> dict[str, tf.Tensor]:
        """MLM logits at ``masked_lm_positions`` ``[batch, preds, vocab]`` and NSP logits ``[batch, 2]``."""
        out = self.encoder(
            {
                "input_word_ids": features["input_ids"],
                "input_mask": features["input_mask"],
                "input_type_ids": features["segment_ids"],
            },
            training=training,
        )
        hidden = tf.gather(out["sequence_output"], tf.cast(features["masked_lm_positions"], tf.int32), batch_dims=1)
        hidden = self.mlm_layer_norm(self.mlm_transform(hidden))
        embeddings = tf.cast(self.encoder.embeddings.word_embeddings, hidden.dtype)
        mlm_logits = tf.matmul(hidden, embeddings, transpose_b=True) + tf.cast(self.mlm_bias, hidden.dtype)
        nsp_logits = self.nsp(out["pooled_output"])
        return {"mlm_logits": tf.cast(mlm_logits, tf.float32), "nsp_logits": tf.cast(nsp_logits, tf.float32)}

    def build_with_dummy(self) -> None:
        ids = tf.zeros([1, 4], tf.int32)
        self(
            {
                "input_ids": ids,
                "input_mask": tf.ones([1, 4], tf.int32),
                "segment_ids": ids,
                "masked_lm_positions": tf.zeros([1, 1], tf.int32),
            }
        )


def pretraining_loss(
    outputs: dict[str, tf.Tensor], features: dict[str, tf.Tensor]
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Per-replica ``(total, mlm, nsp)``: weighted-mean MLM cross-entropy plus mean NSP cross-entropy."""
    weights = tf.cast(features["masked_lm_weights"], tf.float32)
    mlm_ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(features["masked_lm_ids"], tf.int32), logits=outputs["mlm_logits"]
    )
    mlm = tf.reduce_sum(mlm_ce * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
    nsp = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.reshape(tf.cast(features["next_sentence_labels"], tf.int32), [-1]),
            logits=outputs["nsp_logits"],
        )
    )
    return mlm + nsp, mlm, nsp
