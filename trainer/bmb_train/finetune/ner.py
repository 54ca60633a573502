"""Named-entity recognition: BIO token classification over WordPiece (first sub-token of a word labelled).

Input is BioBERT's preprocessed format (``token<TAB>tag`` lines, blank line between sentences;
``train.tsv``, ``devel.tsv``, ``test.tsv``). Scores are entity-level exact-match P/R/F1 from seqeval.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import DataError
from .._tokenizer import make_tokenizer
from ._common import FinetuneSettings, TaskData, load_task, predict_logits, write_metrics
from .metrics import ner_scores

IGNORE = -100


@dataclass(frozen=True, slots=True)
class Sentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]


def read_conll(path: Path, limit: int | None = None) -> list[Sentence]:
    """Sentences of a ``token<TAB>tag`` file (blank lines separate sentences)."""
    if not path.is_file():
        raise DataError(f"{path}: no such NER file")
    out: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.rstrip("\n")
            if not line.strip():
                if words:
                    out.append(Sentence(tuple(words), tuple(tags)))
                    words, tags = [], []
                    if limit is not None and len(out) >= limit:
                        return out
                continue
            parts = line.split("\t")
            if len(parts) < 2 or not parts[0] or not re.fullmatch(r"[BIO](-.+)?", parts[-1].strip()):
                raise DataError(f"{path}:{number}: expected 'token<TAB>BIO-tag', got {line[:60]!r}")
            words.append(parts[0])
            tags.append(parts[-1].strip())
    if words:
        out.append(Sentence(tuple(words), tuple(tags)))
    return out


def typed(tags: Sequence[str]) -> list[str]:
    """Untyped ``B``/``I`` tags (BioBERT's single-type sets) as ``B-ENT``/``I-ENT`` for seqeval."""
    return [f"{tag}-ENT" if tag in ("B", "I") else tag for tag in tags]


@dataclass(slots=True)
class Encoded:
    data: TaskData
    # per feature: (sentence index, first word index, word index of each position or -1)
    origin: list[tuple[int, int, list[int]]]


def encode(sentences: Sequence[Sentence], tokenizer: Any, labels: Sequence[str], max_seq_length: int) -> Encoded:
    """Features with the label on each word's first sub-token (others ``-100``); long sentences are split at
    word boundaries so that every word is labelled exactly once."""
    label_id = {label: i for i, label in enumerate(labels)}
    budget = max_seq_length - 2
    ids, masks, types, targets = [], [], [], []
    origin: list[tuple[int, int, list[int]]] = []
    for s_index, sentence in enumerate(sentences):
        pieces = [tokenizer.tokenize(word) or [tokenizer.unk_token] for word in sentence.words]
        start = 0
        while start < len(pieces):
            end, used = start, 0
            while end < len(pieces) and (used + min(len(pieces[end]), budget) <= budget):
                used += min(len(pieces[end]), budget)
                end += 1
            tokens = [tokenizer.cls_token]
            label_row = [IGNORE]
            word_at = [-1]
            for w in range(start, end):
                piece = pieces[w][:budget]
                tokens.extend(piece)
                tag = sentence.tags[w]
                label_row.extend([label_id.get(tag, label_id["O"])] + [IGNORE] * (len(piece) - 1))
                word_at.extend([w] + [-1] * (len(piece) - 1))
            tokens.append(tokenizer.sep_token)
            label_row.append(IGNORE)
            word_at.append(-1)
            pad = max_seq_length - len(tokens)
            ids.append(tokenizer.convert_tokens_to_ids(tokens) + [0] * pad)
            masks.append([1] * len(tokens) + [0] * pad)
            types.append([0] * max_seq_length)
            targets.append(label_row + [IGNORE] * pad)
            origin.append((s_index, start, word_at + [-1] * pad))
            start = end
    arrays = {
        "input_ids": np.asarray(ids, np.int32).reshape(-1, max_seq_length),
        "attention_mask": np.asarray(masks, np.int32).reshape(-1, max_seq_length),
        "token_type_ids": np.asarray(types, np.int32).reshape(-1, max_seq_length),
        "labels": np.asarray(targets, np.int32).reshape(-1, max_seq_length),
    }
    return Encoded(TaskData(arrays), origin)


def decode(
    encoded: Encoded, logits: np.ndarray, sentences: Sequence[Sentence], labels: Sequence[str]
) -> list[list[str]]:
    """Predicted tag per word (from each word's first sub-token)."""
    out = [["O"] * len(sentence.words) for sentence in sentences]
    best = np.argmax(logits, axis=-1)
    for row, (s_index, _, word_at) in enumerate(encoded.origin):
        for position, word in enumerate(word_at):
            if word >= 0:
                out[s_index][word] = labels[int(best[row, position])]
    return out


def token_loss(logits: Any, batch: dict[str, Any]) -> Any:
    """Mean cross-entropy over labelled positions (``labels != -100``)."""
    import tensorflow as tf

    labels = tf.cast(batch["labels"], tf.int32)
    weights = tf.cast(labels != IGNORE, tf.float32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(labels, 0), logits=logits)
    return tf.reduce_sum(ce * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


def evaluate_ner(
    model: Any, sentences: Sequence[Sentence], tokenizer: Any, labels: Sequence[str], max_seq: int
) -> dict[str, float]:
    encoded = encode(sentences, tokenizer, labels, max_seq)
    predicted = decode(encoded, predict_logits(model, encoded.data.arrays), sentences, labels)
    return ner_scores([typed(s.tags) for s in sentences], [typed(p) for p in predicted])


def finetune_ner(
    settings: FinetuneSettings,
    data: Path,
    log: Callable[[str], None] = print,
    limit: int | None = None,
) -> dict[str, Any]:
    """Fine-tune on ``data/train.tsv``, early-stop on ``devel.tsv`` entity F1, score ``test.tsv``.

    ``limit`` reads only the first N sentences of each file (smoke runs). Returns the metrics written to
    ``metrics.json``.
    """
    from ._common import resolve_encoder, train, write_model_folder

    train_s = read_conll(data / "train.tsv", limit)
    dev_path = data / "devel.tsv" if (data / "devel.tsv").is_file() else data / "dev.tsv"
    dev_s = read_conll(dev_path, limit)
    test_s = read_conll(data / "test.tsv", limit) if (data / "test.tsv").is_file() else []
    tags = sorted({tag for sentence in train_s for tag in sentence.tags} | {"O"})
    labels = ["O", *[tag for tag in tags if tag != "O"]]
    source = resolve_encoder(settings)
    tokenizer = make_tokenizer(source.vocab, source.lowercase)
    encoded = encode(train_s, tokenizer, labels, settings.max_seq_length)
    log(f"NER {data.name}: {len(train_s)} train / {len(dev_s)} dev / {len(test_s)} test sentences; labels {labels}")
    write_model_folder(
        settings.out,
        source,
        {
            "task": "ner",
            "kind": "token",
            "num_outputs": len(labels),
            "labels": labels,
            "max_seq_length": settings.max_seq_length,
            "data": str(data),
        },
    )
    result = train(
        settings,
        source,
        len(labels),
        "token",
        encoded.data,
        token_loss,
        lambda model: evaluate_ner(model, dev_s, tokenizer, labels, settings.max_seq_length),
        "f1",
        log,
    )
    extra: dict[str, Any] = {"task": "ner", "data": str(data), "labels": labels}
    extra["dev"] = evaluate_ner(result.model, dev_s, tokenizer, labels, settings.max_seq_length)
    if test_s:
        extra["test"] = evaluate_ner(result.model, test_s, tokenizer, labels, settings.max_seq_length)
        log("test entity-level " + ", ".join(f"{k} {v:.4f}" for k, v in extra["test"].items()))
    return write_metrics(settings.out, settings, result, extra)


_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def predict_ner(model_dir: Path, text: str) -> list[dict[str, Any]]:
    """Entities in ``text`` (split into words and punctuation): ``{"text", "type", "start", "end"}`` with
    character offsets."""
    loaded = load_task(model_dir, "ner")
    matches = list(_WORD.finditer(text))
    if not matches:
        return []
    sentence = Sentence(tuple(m.group() for m in matches), tuple("O" for _ in matches))
    labels = list(loaded.task["labels"])
    encoded = encode([sentence], loaded.tokenizer, labels, int(loaded.task["max_seq_length"]))
    tags = decode(encoded, predict_logits(loaded.model, encoded.data.arrays), [sentence], labels)[0]
    return entity_spans(text, tags)


def entity_spans(text: str, tags: Sequence[str]) -> list[dict[str, Any]]:
    """The entities that ``tags`` (one per word or punctuation mark of ``text``, IOB2) mark in ``text``."""
    from seqeval.metrics.sequence_labeling import get_entities

    matches = list(_WORD.finditer(text))
    if len(matches) != len(tags):
        raise ValueError(f"{len(tags)} tags for the {len(matches)} words of {text!r}")
    entities = []
    for kind, first, last in get_entities(typed(tags)):
        start, end = matches[first].start(), matches[last].end()
        entities.append({"text": text[start:end], "type": kind, "start": start, "end": end})
    return entities


def dumps(entities: list[dict[str, Any]]) -> str:
    return json.dumps(entities, ensure_ascii=False)
