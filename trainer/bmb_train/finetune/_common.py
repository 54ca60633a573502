"""Shared pieces of the TF fine-tuning tasks: encoder source, task model, training loop with early stopping,
the model folder (config, vocab, task.json, best checkpoint, metrics.json) and loading it for prediction."""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._config import BertConfig, load_config
from .._errors import ConfigError, DataError
from .._tokenizer import count_lines, make_tokenizer

TASK_FILE = "task.json"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True, slots=True)
class FinetuneSettings:
    """Settings every TF fine-tuning task shares.

    Parameters
    ----------
    init
        A ``bmb-train pretrain`` run folder, a Hugging Face BERT folder, a Google BERT TF checkpoint, or
        ``None`` for fresh weights (then ``config`` and ``vocab`` are required).
    out
        New folder for the fine-tuned model: ``config.json``, ``vocab.txt``, ``task.json``, ``ckpt/`` (the best
        dev checkpoint), ``metrics.json``, ``train_log.jsonl``.
    config, vocab
        Model shape (preset or JSON) and WordPiece vocab; by default the ``--init`` folder's.
    epochs, max_steps
        Passes over the training data; ``max_steps`` caps the total (for smoke runs).
    batch_size, learning_rate, warmup_fraction, weight_decay
        Global batch, AdamW peak rate, warm-up share of the steps, decoupled weight decay.
    max_seq_length
        Tokens per example (padded).
    eval_every, patience
        Evaluate on dev every N steps (default: once per epoch); stop after ``patience`` evaluations without a
        better dev score. The best checkpoint is kept.
    tpu, gpus, mixed_precision
        The same placement flags as ``bmb-train pretrain``.
    """

    out: Path
    init: Path | None = None
    config: str | None = None
    vocab: Path | None = None
    lowercase: bool | None = None
    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    max_seq_length: int = 128
    eval_every: int | None = None
    patience: int = 3
    log_every: int = 50
    seed: int = 42
    tpu: str | None = None
    gpus: str | None = None
    mixed_precision: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs <= 0:
            raise ConfigError(f"--epochs {self.epochs}: must be positive")
        for name in ("batch_size", "max_seq_length", "patience", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1")
        for name in ("max_steps", "eval_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} {value}: must be at least 1")
        if self.learning_rate <= 0:
            raise ConfigError(f"--lr {self.learning_rate}: must be positive")


@dataclass(frozen=True, slots=True)
class EncoderSource:
    """Where the encoder comes from: its config, vocab, casing and the weights to load (None: fresh)."""

    config: BertConfig
    vocab: Path
    lowercase: bool
    weights: Path | None


def resolve_encoder(settings: FinetuneSettings) -> EncoderSource:
    """Config, vocab and weights for ``settings.init`` (run folder, HF folder, TF checkpoint or none)."""
    init = settings.init
    vocab = settings.vocab
    lowercase = True
    config: BertConfig | None = None
    weights: Path | None = None
    if init is not None:
        if init.is_dir() and (init / "run.json").is_file():  # a bmb-train pretrain run
            config = BertConfig.from_json(json.loads((init / "config.json").read_text()), str(init / "config.json"))
            lowercase = bool(json.loads((init / "run.json").read_text()).get("lowercase", True))
            weights = init / "ckpt"
        elif init.is_dir() and (init / "config.json").is_file():  # Hugging Face folder
            from ..model import hf_folder_config

            config = hf_folder_config(init)
            tok = init / "tokenizer_config.json"
            if tok.is_file():
                lowercase = bool(json.loads(tok.read_text()).get("do_lower_case", True))
            weights = init
        elif init.is_dir() and (init / "bert_config.json").is_file():  # Google BERT folder
            config = load_config(str(init / "bert_config.json"))
            weights = init
        elif init.exists() or Path(f"{init}.index").exists():
            weights = init
        else:
            raise ConfigError(f"--init {init}: no such folder or checkpoint")
        if vocab is None and init.is_dir() and (init / "vocab.txt").is_file():
            vocab = init / "vocab.txt"
    if vocab is None or not vocab.is_file():
        raise ConfigError("no vocab: give --vocab or an --init folder that has vocab.txt")
    vocab_size = count_lines(vocab)
    if settings.config is not None:
        config = load_config(settings.config, vocab_size=vocab_size)
    if config is None:
        raise ConfigError("no model config: give --config or an --init folder with config.json")
    if config.vocab_size != vocab_size:
        raise ConfigError(f"config vocab_size {config.vocab_size} differs from {vocab} ({vocab_size} tokens)")
    if settings.max_seq_length > config.max_position_embeddings:
        raise ConfigError(
            f"--max-seq-length {settings.max_seq_length} exceeds max_position_embeddings "
            f"{config.max_position_embeddings}"
        )
    if settings.lowercase is not None:
        lowercase = settings.lowercase
    return EncoderSource(config, vocab, lowercase, weights)


def build_task_model(config: BertConfig, num_outputs: int, kind: str) -> Any:
    """Encoder + dropout + dense head over ``sequence_output`` (``kind="token"``) or ``pooled_output``."""
    import tensorflow as tf
    import tf_keras

    from ..model import BertEncoder

    class TaskModel(tf_keras.Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(name=f"{kind}_model")
            self.encoder = BertEncoder(config, name="encoder")
            self.dropout = tf_keras.layers.Dropout(config.hidden_dropout)
            self.head = tf_keras.layers.Dense(
                num_outputs,
                kernel_initializer=tf_keras.initializers.TruncatedNormal(stddev=config.initializer_range),
                name="head",
            )

        def call(self, inputs: dict[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
            out = self.encoder(
                {
                    "input_word_ids": inputs["input_ids"],
                    "input_mask": inputs["attention_mask"],
                    "input_type_ids": inputs["token_type_ids"],
                },
                training=training,
            )
            hidden = out["sequence_output"] if kind == "token" else out["pooled_output"]
            return tf.cast(self.head(self.dropout(hidden, training=training)), tf.float32)

    model = TaskModel()
    ids = tf.zeros([1, 2], tf.int32)
    model({"input_ids": ids, "attention_mask": tf.ones([1, 2], tf.int32), "token_type_ids": ids})
    return model


def load_encoder_weights(model: Any, source: EncoderSource, log: Callable[[str], None]) -> None:
    """Fill ``model.encoder`` from ``source.weights`` through the pretrainer's checked weight mapping."""
    if source.weights is None:
        log("encoder: freshly initialised weights")
        return
    from ..model import BertPretrainer, initialise

    donor = BertPretrainer(source.config, name="bert_pretrainer")
    donor.build_with_dummy()
    initialise(donor, source.weights, log)
    for target, value in zip(model.encoder.weights, donor.encoder.weights, strict=True):
        target.assign(value)


@dataclass(slots=True)
class TaskData:
    """Padded int32 feature arrays (``input_ids``, ``attention_mask``, ``token_type_ids`` plus labels)."""

    arrays: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(next(iter(self.arrays.values())).shape[0])


ENCODER_KEYS = ("input_ids", "attention_mask", "token_type_ids")


def predict_logits(model: Any, data: Mapping[str, np.ndarray], batch_size: int = 64) -> np.ndarray:
    """Inference-mode logits for every row of ``data`` (only the encoder inputs are used)."""
    n = int(data["input_ids"].shape[0])
    parts = []
    for start in range(0, n, batch_size):
        batch = {key: data[key][start : start + batch_size] for key in ENCODER_KEYS}
        parts.append(np.asarray(model(batch, training=False)))
    if not parts:
        return np.zeros((0,), np.float32)
    return np.concatenate(parts, axis=0)


@dataclass(slots=True)
class TrainResult:
    steps: int
    best_step: int
    best_score: float
    first_loss: float | None
    last_loss: float | None
    seconds: float
    model: Any
    history: list[dict[str, Any]] = field(default_factory=list)


def write_model_folder(out: Path, source: EncoderSource, task: dict[str, Any]) -> None:
    """Create the model folder (refusing a non-empty one) with config, vocab and ``task.json``."""
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out}: exists and is not empty; choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    source.config.save(out / "config.json")
    shutil.copyfile(source.vocab, out / "vocab.txt")
    (out / TASK_FILE).write_text(json.dumps({**task, "lowercase": source.lowercase}, indent=2) + "\n")


def train(
    settings: FinetuneSettings,
    source: EncoderSource,
    num_outputs: int,
    kind: str,
    train_data: TaskData,
    loss_fn: Callable[[Any, dict[str, Any]], Any],
    evaluate: Callable[[Any], dict[str, float]],
    metric: str,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train with early stopping on ``evaluate(model)[metric]`` (higher is better); keep the best checkpoint.

    ``loss_fn(logits, batch)`` returns the per-replica mean loss. ``evaluate`` runs inference on the dev set.
    On return the model holds the best checkpoint's weights.
    """
    import tensorflow as tf
    import tf_keras

    from .._optim import make_optimizer
    from .._strategy import make_placement

    if len(train_data) == 0:
        raise DataError("no training examples")
    placement = make_placement(settings.tpu, settings.gpus, settings.mixed_precision)
    if settings.batch_size % placement.replicas:
        raise ConfigError(f"--batch-size {settings.batch_size} is not divisible by {placement.replicas} replicas")
    log(f"placement: {placement.kind}, {placement.replicas} replica(s), dtype policy {placement.policy}")
    steps_per_epoch = max(1, math.ceil(len(train_data) / settings.batch_size))
    total = max(1, round(settings.epochs * steps_per_epoch))
    if settings.max_steps is not None:
        total = min(total, settings.max_steps)
    eval_every = settings.eval_every or steps_per_epoch
    tf_keras.mixed_precision.set_global_policy(placement.policy)
    tf_keras.utils.set_random_seed(settings.seed)
    strategy = placement.strategy
    out = settings.out
    try:
        with strategy.scope():
            model = build_task_model(source.config, num_outputs, kind)
            load_encoder_weights(model, source, log)
            optimizer = make_optimizer(
                settings.learning_rate,
                total,
                round(total * settings.warmup_fraction),
                settings.weight_decay,
                loss_scale=placement.policy == "mixed_float16",
            )
            checkpoint = tf.train.Checkpoint(model=model)
            manager = tf.train.CheckpointManager(checkpoint, str(out / "ckpt"), max_to_keep=1, checkpoint_name="best")
        dataset = (
            tf.data.Dataset.from_tensor_slices(train_data.arrays)
            .shuffle(len(train_data), seed=settings.seed, reshuffle_each_iteration=True)
            .repeat()
            .batch(settings.batch_size, drop_remainder=placement.replicas > 1)
        )
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
        replicas = placement.replicas
        loss_scaled = hasattr(optimizer, "get_scaled_loss")

        def step_fn(batch: dict[str, tf.Tensor]) -> tf.Tensor:
            with tf.GradientTape() as tape:
                logits = model(batch, training=True)
                loss = loss_fn(logits, batch)
                scaled = loss / replicas
                if loss_scaled:
                    scaled = optimizer.get_scaled_loss(scaled)
            grads = tape.gradient(scaled, model.trainable_variables)
            if loss_scaled:
                grads = optimizer.get_unscaled_gradients(grads)
            # Heads the task does not use (the pooler of a token model) get no gradient: leave them out.
            pairs = [(g, v) for g, v in zip(grads, model.trainable_variables, strict=True) if g is not None]
            clipped, _ = tf.clip_by_global_norm([g for g, _ in pairs], 1.0)
            optimizer.apply_gradients(zip(clipped, [v for _, v in pairs], strict=True))
            return loss

        def train_step_eager(it: Any) -> tf.Tensor:
            per_replica = strategy.run(step_fn, args=(next(it),))
            return strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)

        train_step = tf.function(train_step_eager)

        began = time.perf_counter()
        result = TrainResult(0, 0, -math.inf, None, None, 0.0, model)
        best, bad, window = -math.inf, 0, []
        log_file = (out / "train_log.jsonl").open("a")
        try:
            for step in range(1, total + 1):
                loss = float(train_step(iterator).numpy())
                if not math.isfinite(loss):
                    raise DataError(f"step {step}: loss is {loss}; lower --lr")
                window.append(loss)
                result.first_loss = loss if result.first_loss is None else result.first_loss
                result.last_loss, result.steps = loss, step
                log_file.write(json.dumps({"step": step, "loss": loss}) + "\n")
                if step % settings.log_every == 0:
                    log(f"step {step}/{total}  loss {loss:.4f}  {time.perf_counter() - began:.0f}s")
                if step % eval_every == 0 or step == total:
                    scores = evaluate(model)
                    score = float(scores[metric])
                    record = {"step": step, "loss": sum(window) / len(window), **scores}
                    window = []
                    result.history.append(record)
                    log_file.write(json.dumps({"eval": record}) + "\n")
                    log_file.flush()
                    improved = score > best
                    log(
                        f"step {step}/{total}  loss {record['loss']:.4f}  dev {metric} {score:.4f}"
                        + ("  (best, saved)" if improved else "")
                    )
                    if improved:
                        best, bad = score, 0
                        result.best_step, result.best_score = step, score
                        manager.save(checkpoint_number=step)
                    else:
                        bad += 1
                        if bad >= settings.patience:
                            log(f"early stop: no dev improvement in {bad} evaluations")
                            break
        finally:
            log_file.close()
        result.seconds = time.perf_counter() - began
        if manager.latest_checkpoint:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log(
            f"trained {result.steps} steps in {result.seconds:.1f}s; loss {result.first_loss:.4f} -> "
            f"{result.last_loss:.4f}; best dev {metric} {result.best_score:.4f} at step {result.best_step}"
        )
        return result
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")


def write_metrics(out: Path, settings: FinetuneSettings, result: TrainResult, extra: dict[str, Any]) -> dict[str, Any]:
    """``metrics.json`` next to the model: settings, loss, dev history, best step and ``extra`` (test scores)."""
    payload: dict[str, Any] = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
        "steps_run": result.steps,
        "best_step": result.best_step,
        "best_dev_score": result.best_score,
        "first_loss": result.first_loss,
        "last_loss": result.last_loss,
        "seconds": result.seconds,
        "history": result.history,
        **extra,
    }
    (out / METRICS_FILE).write_text(json.dumps(payload, indent=2) + "\n")
    return payload


@dataclass(slots=True)
class LoadedTask:
    """A fine-tuned model folder ready for prediction."""

    folder: Path
    task: dict[str, Any]
    config: BertConfig
    model: Any
    tokenizer: Any


def load_task(folder: Path, expect: str) -> LoadedTask:
    """Load a ``bmb-train finetune`` output folder (best checkpoint) for prediction."""
    import tensorflow as tf

    task_path = folder / TASK_FILE
    if not task_path.is_file():
        raise DataError(f"{folder}: no {TASK_FILE}; is this a `bmb-train finetune` output folder?")
    task = json.loads(task_path.read_text())
    if task.get("task") != expect:
        raise ConfigError(f"{folder}: holds a {task.get('task')!r} model, not {expect!r}")
    config = BertConfig.from_json(json.loads((folder / "config.json").read_text()), str(folder / "config.json"))
    prefix = tf.train.latest_checkpoint(str(folder / "ckpt"))
    if prefix is None:
        raise DataError(f"{folder}/ckpt: no checkpoint")
    model = build_task_model(config, int(task["num_outputs"]), str(task["kind"]))
    tf.train.Checkpoint(model=model).restore(prefix).assert_existing_objects_matched().expect_partial()
    return LoadedTask(folder, task, config, model, make_tokenizer(folder / "vocab.txt", bool(task["lowercase"])))
