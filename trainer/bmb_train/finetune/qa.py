"""Extractive question answering (start/end span over WordPiece), SQuAD v1.1/v2.0 in and out, BioASQ factoid.

* Input: SQuAD JSON (nested ``data/paragraphs/qas`` or the flattened Hugging Face ``data/[{id, question,
  context, answers: {text, answer_start}}]`` layout) and BioASQ golden files, whose factoid exact answers are
  located (case-insensitively) in the golden snippets to make ``(question, snippet, span)`` examples.
* Long contexts are split into windows that overlap by ``doc_stride`` tokens (the Hugging Face ``run_qa``
  convention); questions are cut to ``max_query_length`` tokens.
* Output: SQuAD ``predictions.json`` (id -> text; ``""`` for "no answer" under v2) and
  ``nbest_predictions.json`` (id -> ranked ``{text, probability, start_logit, end_logit}``).
* Scores: SQuAD EM/F1; BioASQ strict/lenient accuracy and MRR over the top-5 answers per question (the
  n-best lists of a question's contexts merged by probability, as BioBERT's ``transform_n2b_factoid`` does),
  per test batch and micro-averaged.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError, DataError
from .._tokenizer import make_tokenizer
from ._common import FinetuneSettings, TaskData, load_task, predict_logits, write_metrics
from .bioasq import GoldenQuestion, read_golden
from .metrics import bioasq_factoid, micro_average, squad_em_f1


@dataclass(frozen=True, slots=True)
class QAExample:
    id: str
    question: str
    context: str
    answers: tuple[str, ...] = ()
    starts: tuple[int, ...] = ()
    impossible: bool = False


def read_squad(path: Path) -> list[QAExample]:
    """Examples of a SQuAD v1.1/v2.0 file (nested or flattened layout); yes/no answers are skipped."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable SQuAD JSON file ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError(f"{path}: expected a SQuAD JSON object with a 'data' list")
    out: list[QAExample] = []
    where = "data"
    try:
        for number, article in enumerate(data["data"]):
            where = f"data[{number}]"
            if "paragraphs" in article:
                for p_number, paragraph in enumerate(article["paragraphs"]):
                    where = f"data[{number}].paragraphs[{p_number}]"
                    context = str(paragraph["context"])
                    for q_number, qa in enumerate(paragraph.get("qas", [])):
                        where = f"data[{number}].paragraphs[{p_number}].qas[{q_number}]"
                        answers = qa.get("answers", [])
                        if isinstance(answers, str):  # BioASQ yes/no questions: not extractive
                            continue
                        texts = tuple(str(a["text"]) for a in answers)
                        starts = tuple(int(a["answer_start"]) for a in answers)
                        impossible = bool(qa.get("is_impossible", False))
                        out.append(QAExample(str(qa["id"]), str(qa["question"]), context, texts, starts, impossible))
            elif {"id", "question", "context"} <= set(article):
                answers = article.get("answers") or {"text": [], "answer_start": []}
                texts = tuple(str(t) for t in answers.get("text", []))
                starts = tuple(int(s) for s in answers.get("answer_start", []))
                out.append(
                    QAExample(
                        str(article["id"]), str(article["question"]), str(article["context"]), texts, starts, not texts
                    )
                )
            else:
                raise DataError(f"{path}: {where}: entry without 'paragraphs' or 'id/question/context'")
    except KeyError as error:
        raise DataError(f"{path}: {where}: missing field {error}; expected the SQuAD v1.1/v2.0 layout") from None
    except (AttributeError, TypeError, ValueError) as error:
        raise DataError(f"{path}: {where}: malformed entry ({error}); expected the SQuAD v1.1/v2.0 layout") from None
    return out


def bioasq_examples(questions: Sequence[GoldenQuestion]) -> list[QAExample]:
    """SQuAD examples from golden factoid questions: each snippet containing a synonym of the exact answer
    (case-insensitive) becomes ``(question, snippet, first occurrence)``; id ``<question id>_<nnn>``."""
    out: list[QAExample] = []
    for question in questions:
        if question.type != "factoid" or not question.exact:
            continue
        synonyms = sorted({s.strip() for answer in question.exact for s in answer if s.strip()}, key=len, reverse=True)
        number = 0
        seen: set[str] = set()
        for snippet in question.snippets:
            if snippet.text in seen:
                continue
            seen.add(snippet.text)
            lowered = snippet.text.lower()
            for synonym in synonyms:
                at = lowered.find(synonym.lower())
                if at >= 0:
                    text = snippet.text[at : at + len(synonym)]
                    out.append(QAExample(f"{question.id}_{number:03d}", question.body, snippet.text, (text,), (at,)))
                    number += 1
                    break
    return out


def read_examples(path: Path) -> list[QAExample]:
    """A BioASQ golden file (``{"questions": ...}``) or a SQuAD file, by content."""
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not readable JSON ({error})") from None
    if isinstance(head, dict) and "questions" in head:
        return bioasq_examples(read_golden(path))
    return read_squad(path)


@dataclass(slots=True)
class Features:
    data: TaskData
    example_index: list[int]
    offsets: list[list[tuple[int, int] | None]]


def featurize(
    examples: Sequence[QAExample],
    tokenizer: Any,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
) -> Features:
    """Windowed features; ``start_positions``/``end_positions`` point at the answer's tokens, or at ``[CLS]`` (0)
    when the window does not contain it or the question has no answer."""
    questions = []
    for example in examples:
        q = tokenizer(example.question, add_special_tokens=False, return_offsets_mapping=True)
        text = example.question
        if len(q["input_ids"]) > max_query_length:
            text = example.question[: q["offset_mapping"][max_query_length - 1][1]]
        questions.append(text)
    if doc_stride >= max_seq_length - max_query_length - 3:
        raise ConfigError(f"--doc-stride {doc_stride} must be smaller than the context window")
    encoded = tokenizer(
        questions,
        [example.context for example in examples],
        truncation="only_second",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    starts, ends, offsets, owners = [], [], [], []
    for i in range(len(encoded["input_ids"])):
        owner = int(encoded["overflow_to_sample_mapping"][i])
        sequence_ids = encoded.sequence_ids(i)
        spans = encoded["offset_mapping"][i]
        offsets.append([tuple(span) if sequence_ids[k] == 1 else None for k, span in enumerate(spans)])
        owners.append(owner)
        example = examples[owner]
        start_token = end_token = 0
        if example.answers and not example.impossible:
            char_start = example.starts[0]
            char_end = char_start + len(example.answers[0])
            context_tokens = [k for k, s in enumerate(sequence_ids) if s == 1]
            if (
                context_tokens
                and spans[context_tokens[0]][0] <= char_start
                and spans[context_tokens[-1]][1] >= char_end
            ):
                start_token = next(k for k in context_tokens if spans[k][1] > char_start)
                end_token = next(k for k in reversed(context_tokens) if spans[k][0] < char_end)
                if end_token < start_token:
                    start_token = end_token = 0
        starts.append(start_token)
        ends.append(end_token)
    arrays = {
        name: np.asarray(encoded[name], np.int32).reshape(-1, max_seq_length)
        for name in ("input_ids", "attention_mask", "token_type_ids")
    }
    arrays["start_positions"] = np.asarray(starts, np.int32)
    arrays["end_positions"] = np.asarray(ends, np.int32)
    return Features(TaskData(arrays), owners, offsets)


def span_loss(logits: Any, batch: dict[str, Any]) -> Any:
    """Mean of start and end cross-entropy; padding positions are masked out."""
    import tensorflow as tf

    mask = tf.cast(batch["attention_mask"], tf.float32)
    start = logits[..., 0] + (1.0 - mask) * -10000.0
    end = logits[..., 1] + (1.0 - mask) * -10000.0
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits
    return 0.5 * (
        tf.reduce_mean(ce(labels=tf.cast(batch["start_positions"], tf.int32), logits=start))
        + tf.reduce_mean(ce(labels=tf.cast(batch["end_positions"], tf.int32), logits=end))
    )


def postprocess(
    examples: Sequence[QAExample],
    features: Features,
    logits: np.ndarray,
    n_best: int = 20,
    max_answer_length: int = 30,
    version_2: bool = False,
    null_threshold: float = 0.0,
) -> tuple[dict[str, str], dict[str, list[dict[str, Any]]]]:
    """SQuAD ``predictions`` (id -> text) and ``nbest`` (id -> ranked candidates with softmax probabilities)."""
    by_example: dict[int, list[int]] = {}
    for feature, owner in enumerate(features.example_index):
        by_example.setdefault(owner, []).append(feature)
    predictions: dict[str, str] = {}
    nbest: dict[str, list[dict[str, Any]]] = {}
    for index, example in enumerate(examples):
        candidates: dict[str, tuple[float, float, float]] = {}
        null_score = float("inf")
        for feature in by_example.get(index, []):
            start_logits, end_logits = logits[feature, :, 0], logits[feature, :, 1]
            offsets = features.offsets[feature]
            null_score = min(null_score, float(start_logits[0] + end_logits[0]))
            top_starts = np.argsort(-start_logits)[:n_best]
            top_ends = np.argsort(-end_logits)[:n_best]
            for s in top_starts:
                for e in top_ends:
                    s_span, e_span = offsets[int(s)], offsets[int(e)]
                    if s_span is None or e_span is None or e < s or e - s + 1 > max_answer_length:
                        continue
                    text = example.context[s_span[0] : e_span[1]]
                    score = float(start_logits[s] + end_logits[e])
                    if text.strip() and (text not in candidates or candidates[text][0] < score):
                        candidates[text] = (score, float(start_logits[s]), float(end_logits[e]))
        ranked = sorted(candidates.items(), key=lambda item: -item[1][0])[:n_best]
        if version_2 and null_score != float("inf"):
            ranked.append(("", (null_score, null_score / 2, null_score / 2)))
            ranked.sort(key=lambda item: -item[1][0])
        scores = np.asarray([item[1][0] for item in ranked], np.float64)
        probs = np.exp(scores - scores.max()) if len(scores) else scores
        probs = probs / probs.sum() if len(scores) else probs
        nbest[example.id] = [
            {"text": text, "probability": float(p), "start_logit": s, "end_logit": e}
            for (text, (_, s, e)), p in zip(ranked, probs, strict=True)
        ]
        best_text = next((text for text, _ in ranked if text), "")
        if version_2:
            best_score = max((score for text, (score, _, _) in ranked if text), default=-float("inf"))
            predictions[example.id] = "" if null_score - best_score > null_threshold else best_text
        else:
            predictions[example.id] = best_text
    return predictions, nbest


def bioasq_answers(nbest: dict[str, list[dict[str, Any]]], top: int = 5) -> dict[str, list[str]]:
    """Top answers per BioASQ question: the n-best lists of its contexts (ids ``<qid>_<nnn>``) merged by
    probability, case-insensitive duplicates dropped."""
    pooled: dict[str, list[tuple[float, str]]] = {}
    for example_id, items in nbest.items():
        qid = example_id.rsplit("_", 1)[0] if "_" in example_id else example_id
        pooled.setdefault(qid, []).extend((float(item["probability"]), str(item["text"])) for item in items)
    out: dict[str, list[str]] = {}
    for qid, scored in pooled.items():
        seen: set[str] = set()
        ranked: list[str] = []
        for _, text in sorted(scored, key=lambda pair: -pair[0]):
            key = text.strip().lower()
            if key and key not in seen:
                seen.add(key)
                ranked.append(text.strip())
            if len(ranked) >= top:
                break
        out[qid] = ranked
    return out


@dataclass(frozen=True, slots=True)
class QASettings:
    """QA-specific settings (see the module docstring)."""

    doc_stride: int = 128
    max_query_length: int = 64
    max_answer_length: int = 30
    n_best: int = 20
    version_2: bool = False
    dev_fraction: float = 0.1


def run_inference(
    model: Any, examples: Sequence[QAExample], tokenizer: Any, max_seq: int, qa: QASettings
) -> tuple[dict[str, str], dict[str, list[dict[str, Any]]]]:
    features = featurize(examples, tokenizer, max_seq, qa.doc_stride, qa.max_query_length)
    logits = predict_logits(model, features.data.arrays)
    return postprocess(examples, features, logits, qa.n_best, qa.max_answer_length, qa.version_2)


def squad_scores(predictions: dict[str, str], examples: Sequence[QAExample]) -> dict[str, float]:
    return squad_em_f1(predictions, {e.id: list(e.answers) if not e.impossible else [] for e in examples})


def evaluate_bioasq_batches(
    model: Any,
    tokenizer: Any,
    max_seq: int,
    qa: QASettings,
    pairs: Sequence[tuple[Path, Path]],
    out: Path | None = None,
) -> dict[str, Any]:
    """Per test batch (SQuAD-format test file, golden file) the BioASQ measures, plus the micro-average."""
    per_batch: list[dict[str, Any]] = []
    for test_file, golden_file in pairs:
        examples = read_squad(test_file)
        _, nbest = run_inference(model, examples, tokenizer, max_seq, qa)
        answers = bioasq_answers(nbest)
        golden = {q.id: [list(a) for a in q.exact] for q in read_golden(golden_file) if q.type == "factoid"}
        scores = bioasq_factoid({qid: answers.get(qid, []) for qid in golden}, golden)
        per_batch.append({"batch": test_file.name, "golden": golden_file.name, **scores})
        if out is not None:
            (out / f"bioasq_answers_{test_file.stem}.json").write_text(json.dumps(answers, indent=1) + "\n")
    return {"batches": per_batch, "micro_average": micro_average(per_batch)}


def finetune_qa(
    settings: FinetuneSettings,
    train_files: Sequence[Path],
    qa: QASettings | None = None,
    eval_files: Sequence[Path] = (),
    golden_files: Sequence[Path] = (),
    dev_file: Path | None = None,
    log: Callable[[str], None] = print,
    limit: int | None = None,
) -> dict[str, Any]:
    """Fine-tune on SQuAD and/or BioASQ golden files; early-stop on dev SQuAD F1 (``dev_file`` or a held-out
    share of the training questions). Then, with ``golden_files`` paired to ``eval_files``, BioASQ
    strict/lenient/MRR per batch and micro-averaged; ``eval_files`` without golden files get SQuAD EM/F1."""
    from ._common import resolve_encoder, train, write_model_folder

    qa = qa or QASettings()
    if golden_files and len(golden_files) != len(eval_files):
        raise ConfigError("give one --golden file per --eval file (in the same order)")
    examples = [example for path in train_files for example in read_examples(path)]
    if not examples:
        raise DataError("no training examples (for golden files: no factoid answer found in a snippet)")
    trained = {e.id.rsplit("_", 1)[0] for e in examples}
    for golden_file in golden_files:
        leaked = trained & {q.id for q in read_golden(golden_file)}
        if leaked:
            raise ConfigError(
                f"{golden_file}: {len(leaked)} of its questions are also in the training files (e.g. "
                f"{sorted(leaked)[0]}); evaluate on questions the model was not trained on"
            )
    if dev_file is not None:
        dev = read_examples(dev_file)
        train_examples = examples
    else:
        qids = sorted({e.id.rsplit("_", 1)[0] for e in examples})
        random.Random(settings.seed).shuffle(qids)
        held = set(qids[: max(1, round(len(qids) * qa.dev_fraction))])
        dev = [e for e in examples if e.id.rsplit("_", 1)[0] in held]
        train_examples = [e for e in examples if e.id.rsplit("_", 1)[0] not in held]
    if limit is not None:
        train_examples, dev = train_examples[:limit], dev[:limit]
    source = resolve_encoder(settings)
    tokenizer = make_tokenizer(source.vocab, source.lowercase)
    features = featurize(train_examples, tokenizer, settings.max_seq_length, qa.doc_stride, qa.max_query_length)
    log(f"QA: {len(train_examples)} train examples ({len(features.data)} windows), {len(dev)} dev examples")
    write_model_folder(
        settings.out,
        source,
        {
            "task": "qa",
            "kind": "token",
            "num_outputs": 2,
            "max_seq_length": settings.max_seq_length,
            "qa": {k: getattr(qa, k) for k in qa.__slots__},
        },
    )

    def evaluate(model: Any) -> dict[str, float]:
        predictions, _ = run_inference(model, dev, tokenizer, settings.max_seq_length, qa)
        return squad_scores(predictions, dev)

    result = train(settings, source, 2, "token", features.data, span_loss, evaluate, "f1", log)
    extra: dict[str, Any] = {"task": "qa", "train_files": [str(p) for p in train_files]}
    extra["dev"] = evaluate(result.model)
    if golden_files:
        extra["bioasq"] = evaluate_bioasq_batches(
            result.model,
            tokenizer,
            settings.max_seq_length,
            qa,
            list(zip(eval_files, golden_files, strict=True)),
            settings.out,
        )
        avg = extra["bioasq"]["micro_average"]
        log(
            f"BioASQ micro-average: SAcc {avg['strict_accuracy']:.4f} LAcc {avg['lenient_accuracy']:.4f} "
            f"MRR {avg['mrr']:.4f} over {int(avg['questions'])} questions"
        )
    elif eval_files:
        extra["squad"] = {}
        for path in eval_files:
            eval_examples = read_examples(path)
            predictions, nbest = run_inference(result.model, eval_examples, tokenizer, settings.max_seq_length, qa)
            (settings.out / f"predictions_{path.stem}.json").write_text(json.dumps(predictions, indent=1) + "\n")
            (settings.out / f"nbest_predictions_{path.stem}.json").write_text(json.dumps(nbest, indent=1) + "\n")
            extra["squad"][path.name] = squad_scores(predictions, eval_examples)
    return write_metrics(settings.out, settings, result, extra)


def predict_qa(model_dir: Path, question: str, context: str, n_best: int = 5) -> list[dict[str, Any]]:
    """Ranked answers to ``question`` in ``context``: ``{"text", "probability", "start", "end"}``."""
    loaded = load_task(model_dir, "qa")
    saved = dict(loaded.task.get("qa", {}))
    qa = QASettings(**{k: v for k, v in saved.items() if k in QASettings.__slots__})
    example = QAExample("q", question, context)
    _, nbest = run_inference(loaded.model, [example], loaded.tokenizer, int(loaded.task["max_seq_length"]), qa)
    out = []
    for item in nbest["q"][:n_best]:
        start = context.find(item["text"]) if item["text"] else -1
        out.append(
            {
                "text": item["text"],
                "probability": item["probability"],
                "start": start,
                "end": start + len(item["text"]) if start >= 0 else -1,
            }
        )
    return out
