"""Relation extraction as sentence classification with masked entities (``@GENE$``, ``@DISEASE$``).

Input is BioBERT's preprocessed GAD / EU-ADR layout: fold folders ``1`` .. ``10`` each with ``train.tsv``
(``sentence<TAB>label``, no header) and ``test.tsv`` (``index<TAB>sentence<TAB>label`` with a header);
``dev.tsv`` is usually empty, so a seeded share of ``train.tsv`` is held out for early stopping. Scores are
precision/recall/F1 of the positive class (scikit-learn), per fold and averaged.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import DataError
from .._tokenizer import make_tokenizer
from ._common import FinetuneSettings, TaskData, load_task, predict_logits, write_metrics
from .metrics import binary_scores

LABELS = ("0", "1")


def read_re(path: Path) -> list[tuple[str, int]]:
    """``(sentence, label)`` rows of a BioBERT RE file, with or without the ``index sentence label`` header."""
    if not path.is_file():
        raise DataError(f"{path}: no such RE file")
    rows: list[tuple[str, int]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if number == 1 and parts[-1] == "label":
                continue
            if len(parts) < 2 or parts[-1].strip() not in LABELS:
                raise DataError(f"{path}:{number}: expected 'sentence<TAB>0|1', got {line[:60]!r}")
            rows.append((parts[-2], int(parts[-1])))
    return rows


def encode(rows: Sequence[tuple[str, int]], tokenizer: Any, max_seq_length: int) -> TaskData:
    encoded = tokenizer(
        [sentence for sentence, _ in rows],
        truncation=True,
        max_length=max_seq_length,
        padding="max_length",
        return_tensors="np",
    )
    arrays = {name: np.asarray(encoded[name], np.int32) for name in ("input_ids", "attention_mask", "token_type_ids")}
    arrays["labels"] = np.asarray([label for _, label in rows], np.int32)
    return TaskData(arrays)


def sequence_loss(logits: Any, batch: dict[str, Any]) -> Any:
    import tensorflow as tf

    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(batch["labels"], tf.int32), logits=logits)
    )


def evaluate_re(model: Any, data: TaskData) -> dict[str, float]:
    predicted = np.argmax(predict_logits(model, data.arrays), axis=-1)
    return binary_scores(data.arrays["labels"].tolist(), predicted.tolist())


def finetune_re_fold(
    settings: FinetuneSettings,
    fold: Path,
    log: Callable[[str], None] = print,
    limit: int | None = None,
    dev_fraction: float = 0.1,
) -> dict[str, Any]:
    """Train on one fold's ``train.tsv`` (minus a held-out dev share unless ``dev.tsv`` has rows), early-stop on
    dev F1, and score ``test.tsv``. Returns the fold's metrics (also written to ``out/metrics.json``)."""
    from ._common import resolve_encoder, train, write_model_folder

    rows = read_re(fold / "train.tsv")
    dev_file = fold / "dev.tsv"
    dev_rows = read_re(dev_file) if dev_file.is_file() and dev_file.stat().st_size else []
    if not dev_rows:
        order = list(range(len(rows)))
        random.Random(settings.seed).shuffle(order)
        cut = max(1, round(len(rows) * dev_fraction))
        dev_rows = [rows[i] for i in order[:cut]]
        rows = [rows[i] for i in order[cut:]]
    test_rows = read_re(fold / "test.tsv") if (fold / "test.tsv").is_file() else []
    if limit is not None:
        rows, dev_rows, test_rows = rows[:limit], dev_rows[:limit], test_rows[:limit]
    source = resolve_encoder(settings)
    tokenizer = make_tokenizer(source.vocab, source.lowercase)
    train_data = encode(rows, tokenizer, settings.max_seq_length)
    dev_data = encode(dev_rows, tokenizer, settings.max_seq_length)
    log(f"RE fold {fold.name}: {len(rows)} train / {len(dev_rows)} dev / {len(test_rows)} test sentences")
    write_model_folder(
        settings.out,
        source,
        {
            "task": "re",
            "kind": "sequence",
            "num_outputs": 2,
            "labels": list(LABELS),
            "max_seq_length": settings.max_seq_length,
            "data": str(fold),
        },
    )
    result = train(
        settings, source, 2, "sequence", train_data, sequence_loss, lambda m: evaluate_re(m, dev_data), "f1", log
    )
    extra: dict[str, Any] = {"task": "re", "fold": fold.name, "dev": evaluate_re(result.model, dev_data)}
    if test_rows:
        extra["test"] = evaluate_re(result.model, encode(test_rows, tokenizer, settings.max_seq_length))
        log(f"fold {fold.name} test " + ", ".join(f"{k} {v:.4f}" for k, v in extra["test"].items()))
    return write_metrics(settings.out, settings, result, extra)


def cross_validate(
    settings: FinetuneSettings,
    data: Path,
    folds: int = 10,
    log: Callable[[str], None] = print,
    limit: int | None = None,
) -> dict[str, Any]:
    """Run folds ``1..folds`` of ``data`` (each into ``out/fold-N``); write per-fold and averaged test P/R/F1 to
    ``out/metrics.json``."""
    found = [data / str(i) for i in range(1, folds + 1)]
    missing = [str(path) for path in found if not all((path / name).is_file() for name in ("train.tsv", "test.tsv"))]
    if missing:
        raise DataError(f"{data}: fold folder(s) without train.tsv and test.tsv: {', '.join(missing[:3])}")
    settings.out.mkdir(parents=True, exist_ok=True)
    per_fold = []
    for fold in found:
        fold_settings = replace(settings, out=settings.out / f"fold-{fold.name}")
        metrics = finetune_re_fold(fold_settings, fold, log, limit)
        if "test" not in metrics:  # never dev scores in the test average
            raise DataError(f"{fold / 'test.tsv'}: no rows; every fold needs test rows for cross-validation")
        per_fold.append({"fold": fold.name, **metrics["test"]})
    average = {
        key: statistics.fmean(float(item[key]) for item in per_fold)
        for key in ("precision", "recall", "f1", "accuracy")
    }
    summary = {"task": "re", "data": str(data), "folds": per_fold, "average": average}
    (settings.out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(f"{len(per_fold)}-fold average " + ", ".join(f"{k} {v:.4f}" for k, v in average.items()))
    return summary


def predict_re(model_dir: Path, sentences: Sequence[str]) -> list[dict[str, Any]]:
    """``{"sentence", "label", "probability"}`` per sentence (entities already masked as @GENE$/@DISEASE$)."""
    loaded = load_task(model_dir, "re")
    data = encode([(s, 0) for s in sentences], loaded.tokenizer, int(loaded.task["max_seq_length"]))
    logits = predict_logits(loaded.model, data.arrays)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    return [
        {"sentence": s, "label": int(np.argmax(p)), "probability": float(p[1])}
        for s, p in zip(sentences, probs, strict=True)
    ]
