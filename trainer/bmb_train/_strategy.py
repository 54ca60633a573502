"""Pick the distribution strategy and the mixed-precision policy from the command-line flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._errors import ConfigError


@dataclass(frozen=True, slots=True)
class Placement:
    """Where training runs: the strategy, a label for logs, and the Keras dtype policy to use."""

    strategy: Any  # tf.distribute.Strategy
    kind: str  # "tpu", "gpu" or "cpu"
    policy: str  # "float32", "mixed_float16" or "mixed_bfloat16"
    replicas: int


def make_placement(tpu: str | None = None, gpus: str | None = None, mixed_precision: str = "auto") -> Placement:
    """TPUStrategy for ``tpu`` (a TPU name, ``local`` or a ``grpc://`` address), MirroredStrategy for ``gpus``
    (``all`` or ``0,1,...``), else the default strategy on CPU.

    Parameters
    ----------
    mixed_precision
        ``auto`` (bfloat16 on TPU, float16 on GPU, float32 on CPU), ``on`` or ``off``.
    """
    import tensorflow as tf

    if mixed_precision not in ("auto", "on", "off"):
        raise ConfigError(f"--mixed-precision {mixed_precision}: choose auto, on or off")
    if tpu and gpus:
        raise ConfigError("--tpu and --gpus both given; choose one accelerator")
    if tpu:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=None if tpu == "local" else tpu)
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as error:
            raise ConfigError(f"--tpu {tpu}: cannot connect to the TPU ({error})") from None
        strategy: Any = tf.distribute.TPUStrategy(resolver)
        kind, mixed = "tpu", "mixed_bfloat16"
    elif gpus:
        found = tf.config.list_physical_devices("GPU")
        if not found:
            raise ConfigError(f"--gpus {gpus}: TensorFlow sees no GPU; check the CUDA install or drop --gpus")
        if gpus == "all":
            devices = [f"/gpu:{i}" for i in range(len(found))]
        else:
            try:
                wanted = [int(item) for item in gpus.split(",") if item.strip()]
            except ValueError:
                raise ConfigError(f"--gpus {gpus}: give 'all' or comma-separated GPU indices") from None
            bad = [i for i in wanted if not 0 <= i < len(found)]
            if bad or not wanted:
                raise ConfigError(f"--gpus {gpus}: only GPUs 0..{len(found) - 1} exist")
            devices = [f"/gpu:{i}" for i in wanted]
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        kind, mixed = "gpu", "mixed_float16"
    else:
        strategy = tf.distribute.get_strategy()
        kind, mixed = "cpu", "float32"
    if mixed_precision == "off":
        policy = "float32"
    elif mixed_precision == "on" and kind == "cpu":
        policy = "mixed_bfloat16"
    else:
        policy = mixed
    return Placement(strategy, kind, policy, int(strategy.num_replicas_in_sync))
