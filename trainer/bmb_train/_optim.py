"""AdamW with linear warm-up then linear decay to zero, the BERT pretraining schedule."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras


class WarmupLinearDecay(tf_keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """``peak * step / warmup`` for the first ``warmup`` steps, then linear decay to 0 at ``total`` steps."""

    def __init__(self, peak: float, total: int, warmup: int) -> None:
        super().__init__()
        self.peak = peak
        self.total = max(1, total)
        self.warmup = max(0, warmup)

    def __call__(self, step: Any) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        warm = self.peak * (step + 1.0) / float(max(1, self.warmup))
        decay = self.peak * tf.maximum(0.0, (self.total - step) / float(max(1, self.total - self.warmup)))
        return tf.where(step < self.warmup, warm, decay)

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "total": self.total, "warmup": self.warmup}


def make_optimizer(
    learning_rate: float, total_steps: int, warmup_steps: int, weight_decay: float, loss_scale: bool = False
) -> tf_keras.optimizers.Optimizer:
    """AdamW (no decay on biases and layer-norm weights), wrapped in a loss-scale optimizer for float16."""
    optimizer = tf_keras.optimizers.AdamW(
        learning_rate=WarmupLinearDecay(learning_rate, total_steps, warmup_steps),
        weight_decay=weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        jit_compile=False,
    )
    optimizer.exclude_from_weight_decay(var_names=["layer_norm", "bias"])
    if loss_scale:
        optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer
