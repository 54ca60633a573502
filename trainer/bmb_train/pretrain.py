"""Masked-LM + next-sentence pretraining loop: strategy, checkpoints, resume, TensorBoard, progress."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._config import BertConfig
from ._errors import ConfigError, DataError, TrainerError
from ._strategy import make_placement
from .data._shards import load_manifest

RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"


@dataclass(frozen=True, slots=True)
class PretrainSettings:
    """Everything a pretraining run needs; a resumed run must be started with the same values.

    Parameters
    ----------
    data
        Shards folder from ``bmb-train data``.
    out
        Run folder: ``config.json``, ``run.json``, ``vocab.txt``, ``ckpt/``, ``logs/`` (TensorBoard),
        ``metrics.jsonl``.
    config
        Model shape; ``vocab_size`` must equal the data's vocab.
    steps
        Total optimizer steps (not steps of this invocation).
    batch_size
        Global batch size (split over replicas).
    learning_rate, warmup_steps, weight_decay
        AdamW peak rate, warm-up steps (default 10% of ``steps``) and decoupled weight decay.
    init
        Hugging Face folder or TF checkpoint to start from; ignored when resuming.
    checkpoint_every, keep_checkpoints, log_every
        Save a checkpoint every N steps (and at the end), keep the last K, print/log every N steps.
    seed
        Data order and weight initialisation seed.
    tpu, gpus, mixed_precision
        Placement flags (see :func:`bmb_train._strategy.make_placement`).
    """

    data: Path
    out: Path
    config: BertConfig
    steps: int
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_steps: int | None = None
    weight_decay: float = 0.01
    init: Path | None = None
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    log_every: int = 100
    seed: int = 42
    tpu: str | None = None
    gpus: str | None = None
    mixed_precision: str = "auto"

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1")
        if self.learning_rate <= 0:
            raise ConfigError(f"--lr {self.learning_rate}: must be positive")

    @property
    def warmup(self) -> int:
        return self.warmup_steps if self.warmup_steps is not None else self.steps // 10


@dataclass(slots=True)
class PretrainResult:
    """Summary of one invocation of :func:`pretrain`."""

    start_step: int
    end_step: int
    first_loss: float | None
    last_loss: float | None
    seconds: float
    steps_per_second: float
    checkpoint: str | None
    history: list[dict[str, Any]] = field(default_factory=list)


def _identity(settings: PretrainSettings, vocab_sha: str) -> dict[str, Any]:
    """The settings that must not change between an interrupted run and its resumption."""
    return {
        "data": str(settings.data.resolve()),
        "vocab_sha256": vocab_sha,
        "config": settings.config.to_json(),
        "batch_size": settings.batch_size,
        "seed": settings.seed,
    }


def _prepare_run_folder(settings: PretrainSettings, vocab: Path, vocab_sha: str, lowercase: bool, max_seq: int) -> None:
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    identity = _identity(settings, vocab_sha)
    run_file = out / RUN_FILE
    if run_file.is_file():
        previous = json.loads(run_file.read_text()).get("identity", {})
        changed = sorted(key for key in identity if previous.get(key) != identity[key])
        if changed:
            raise ConfigError(
                f"{out}: holds a run started with different {', '.join(changed)}; "
                "resume with the same settings or choose a new --out"
            )
    payload = {
        "identity": identity,
        "steps": settings.steps,
        "learning_rate": settings.learning_rate,
        "warmup_steps": settings.warmup,
        "weight_decay": settings.weight_decay,
        "init": str(settings.init) if settings.init else None,
        "lowercase": lowercase,
        "max_seq_length": max_seq,
    }
    run_file.write_text(json.dumps(payload, indent=2) + "\n")
    settings.config.save(out / CONFIG_FILE)
    shutil.copyfile(vocab, out / "vocab.txt")


def _check_init_vocab(init: Path, vocab_sha: str) -> None:
    init_vocab = init / "vocab.txt"
    if init.is_dir() and init_vocab.is_file():
        sha = hashlib.sha256(init_vocab.read_bytes()).hexdigest()
        if sha != vocab_sha:
            raise DataError(
                f"--init {init}: its vocab.txt differs from the vocab the data was built with; "
                f"rebuild the data with --vocab {init_vocab}"
            )


def pretrain(
    settings: PretrainSettings,
    log: Callable[[str], None] = print,
    on_step: Callable[[int, float], None] | None = None,
) -> PretrainResult:
    """Train (or resume training) until ``settings.steps``; checkpoints let a crashed run continue exactly.

    Resuming restores weights, optimizer state and the step counter from the latest checkpoint in
    ``out/ckpt``; the data position is derived from the step (``step * batch_size`` examples into the
    seeded stream), so the resumed run sees the same batches the uninterrupted run would have.

    Parameters
    ----------
    settings
        See :class:`PretrainSettings`.
    log
        Receives progress and summary lines.
    on_step
        Called after every step with ``(step, loss)``; an exception it raises stops training like a crash.
    """
    import tensorflow as tf
    import tf_keras

    from ._optim import make_optimizer
    from .data._dataset import pretraining_dataset
    from .model import BertPretrainer, initialise, pretraining_loss

    manifest = load_manifest(settings.data)
    config = settings.config
    if config.vocab_size != manifest.vocab_size:
        raise ConfigError(
            f"config vocab_size {config.vocab_size} differs from the data's vocab ({manifest.vocab_size} tokens)"
        )
    if manifest.settings.max_seq_length > config.max_position_embeddings:
        raise ConfigError(
            f"data max_seq_length {manifest.settings.max_seq_length} exceeds the model's "
            f"max_position_embeddings {config.max_position_embeddings}"
        )
    if settings.init is not None:
        _check_init_vocab(settings.init, manifest.vocab_sha256)
    _prepare_run_folder(
        settings, manifest.vocab_path, manifest.vocab_sha256, manifest.lowercase, manifest.settings.max_seq_length
    )

    placement = make_placement(settings.tpu, settings.gpus, settings.mixed_precision)
    if settings.batch_size % placement.replicas:
        raise ConfigError(f"--batch-size {settings.batch_size} is not divisible by {placement.replicas} replicas")
    tf_keras.mixed_precision.set_global_policy(placement.policy)
    log(f"placement: {placement.kind}, {placement.replicas} replica(s), dtype policy {placement.policy}")
    tf_keras.utils.set_random_seed(settings.seed)  # python, numpy and TF seeds: fresh weights repeat
    strategy = placement.strategy
    try:
        with strategy.scope():
            model = BertPretrainer(config, name="bert_pretrainer")
            model.build_with_dummy()
            optimizer = make_optimizer(
                settings.learning_rate,
                settings.steps,
                settings.warmup,
                settings.weight_decay,
                loss_scale=placement.policy == "mixed_float16",
            )
            step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
            manager = tf.train.CheckpointManager(
                checkpoint, str(settings.out / "ckpt"), max_to_keep=settings.keep_checkpoints, checkpoint_name="ckpt"
            )
            if manager.latest_checkpoint:
                checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
                log(f"resuming from {manager.latest_checkpoint} at step {int(step.numpy())}")
            elif settings.init is not None:
                initialise(model, settings.init, log)
            else:
                log("training from freshly initialised weights")
        return _train_loop(
            settings,
            strategy,
            model,
            optimizer,
            step,
            manager,
            manifest,
            pretraining_dataset,
            pretraining_loss,
            log,
            on_step,
        )
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")


def _train_loop(
    settings: PretrainSettings,
    strategy: Any,
    model: Any,
    optimizer: Any,
    step: Any,
    manager: Any,
    manifest: Any,
    make_dataset: Any,
    loss_fn: Any,
    log: Callable[[str], None],
    on_step: Callable[[int, float], None] | None,
) -> PretrainResult:
    import tensorflow as tf

    start = int(step.numpy())
    result = PretrainResult(start, start, None, None, 0.0, 0.0, manager.latest_checkpoint)
    if start >= settings.steps:
        log(f"already at step {start} of {settings.steps}; nothing to do")
        return result
    dataset = make_dataset(manifest, settings.batch_size, settings.seed, start_step=start)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    replicas = strategy.num_replicas_in_sync
    loss_scaled = hasattr(optimizer, "get_scaled_loss")
    positions = tf.range(1, manifest.settings.max_seq_length + 1, dtype=tf.int64)

    def step_fn(features: dict[str, tf.Tensor]) -> tuple[tf.Tensor, ...]:
        with tf.GradientTape() as tape:
            outputs = model(features, training=True)
            loss, mlm, nsp = loss_fn(outputs, features)
            scaled = loss / replicas
            if loss_scaled:
                scaled = optimizer.get_scaled_loss(scaled)
        grads = tape.gradient(scaled, model.trainable_variables)
        if loss_scaled:
            grads = optimizer.get_unscaled_gradients(grads)
        grads, _ = tf.clip_by_global_norm(grads, 1.0)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        fingerprint = tf.reduce_sum(tf.cast(features["input_ids"], tf.int64) * positions)
        return loss, mlm, nsp, fingerprint

    def train_step_eager(it: Any) -> tuple[tf.Tensor, ...]:
        per_replica = strategy.run(step_fn, args=(next(it),))
        mean = tf.distribute.ReduceOp.MEAN
        loss, mlm, nsp = (strategy.reduce(mean, value, axis=None) for value in per_replica[:3])
        fingerprint = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[3], axis=None)
        return loss, mlm, nsp, fingerprint

    train_step = tf.function(train_step_eager)
    writer = tf.summary.create_file_writer(str(settings.out / "logs"))
    metrics = (settings.out / METRICS_FILE).open("a")
    began = time.perf_counter()
    window_start, window_step = began, start
    current = start
    try:
        while current < settings.steps:
            loss_t, mlm_t, nsp_t, fingerprint_t = train_step(iterator)
            current = int(step.assign_add(1).numpy())
            loss = float(loss_t.numpy())
            record = {
                "step": current,
                "loss": loss,
                "mlm_loss": float(mlm_t.numpy()),
                "nsp_loss": float(nsp_t.numpy()),
                "learning_rate": float(optimizer.learning_rate(current - 1))
                if callable(optimizer.learning_rate)
                else float(optimizer.learning_rate),
                "batch_fingerprint": int(fingerprint_t.numpy()),
            }
            result.history.append(record)
            if result.first_loss is None:
                result.first_loss = loss
            result.last_loss = loss
            metrics.write(json.dumps(record) + "\n")
            if current % settings.log_every == 0 or current == settings.steps:
                now = time.perf_counter()
                rate = (current - window_step) / max(now - window_start, 1e-9)
                window_start, window_step = now, current
                log(
                    f"step {current}/{settings.steps}  loss {loss:.4f} (mlm {record['mlm_loss']:.4f}, "
                    f"nsp {record['nsp_loss']:.4f})  lr {record['learning_rate']:.2e}  {rate:.2f} steps/s"
                )
                metrics.flush()
                with writer.as_default(step=current):
                    for name in ("loss", "mlm_loss", "nsp_loss", "learning_rate"):
                        _scalar_summary(name, record[name], current)
            if current % settings.checkpoint_every == 0 and current < settings.steps:
                result.checkpoint = manager.save(checkpoint_number=current)
            if on_step is not None:
                on_step(current, loss)
        result.checkpoint = manager.save(checkpoint_number=current)
    except KeyboardInterrupt:
        saved = manager.save(checkpoint_number=current)
        raise TrainerError(
            f"interrupted at step {current}; checkpoint saved to {saved}; rerun the same command to resume"
        ) from None
    finally:
        metrics.close()
        writer.flush()
    result.end_step = current
    result.seconds = time.perf_counter() - began
    result.steps_per_second = (current - start) / max(result.seconds, 1e-9)
    log(
        f"trained steps {start + 1}..{current} in {result.seconds:.1f}s ({result.steps_per_second:.2f} steps/s); "
        f"loss {result.first_loss:.4f} -> {result.last_loss:.4f}; checkpoint {result.checkpoint}"
    )
    return result


def _scalar_summary(name: str, value: float, step: int) -> None:
    """A TensorBoard scalar written with TF's own summary op (the ``tensorboard`` package is not required)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    metadata.data_class = summary_pb2.DATA_CLASS_SCALAR
    tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=metadata.SerializeToString())


def run_settings(out: Path) -> dict[str, Any]:
    """The ``run.json`` of a run folder."""
    path = out / RUN_FILE
    if not path.is_file():
        raise DataError(f"{out}: no {RUN_FILE}; is this a `bmb-train pretrain --out` folder?")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


__all__ = ["PretrainResult", "PretrainSettings", "pretrain", "run_settings"]
