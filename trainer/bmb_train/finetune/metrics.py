"""Task metrics: BioASQ factoid (strict/lenient accuracy, MRR), SQuAD EM/F1, seqeval NER, scikit-learn RE.

No TensorFlow here; every function takes plain Python values so they can be checked against hand-computed cases.
"""

from __future__ import annotations

import collections
import re
import string
import warnings
from collections.abc import Mapping, Sequence
from typing import Any


def _bioasq_norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def bioasq_factoid(
    predictions: Mapping[str, Sequence[str]], golden: Mapping[str, Sequence[Sequence[str]]], top: int = 5
) -> dict[str, float]:
    """BioASQ Task B factoid measures as BioBERT reports them (official evaluator semantics).

    ``predictions``: question id -> ranked answers (only the first ``top`` count). ``golden``: question id ->
    the golden exact answer as a list of answers, each a list of synonyms (a factoid has one answer; any
    synonym matches, case-insensitively, whitespace-normalised).

    * strict accuracy: share of questions whose first answer matches;
    * lenient accuracy: share with a match among the first ``top``;
    * MRR: mean of 1/rank of the first match within the first ``top`` (0 when none).

    Every golden question counts; a question without predictions scores 0.
    """
    n = len(golden)
    if n == 0:
        return {"strict_accuracy": 0.0, "lenient_accuracy": 0.0, "mrr": 0.0, "questions": 0}
    strict = lenient = mrr = 0.0
    for qid, answers in golden.items():
        synonyms = {_bioasq_norm(s) for answer in answers for s in answer if s.strip()}
        ranked = [_bioasq_norm(p) for p in predictions.get(qid, [])][:top]
        for rank, answer in enumerate(ranked, 1):
            if answer in synonyms:
                strict += 1.0 if rank == 1 else 0.0
                lenient += 1.0
                mrr += 1.0 / rank
                break
    return {"strict_accuracy": strict / n, "lenient_accuracy": lenient / n, "mrr": mrr / n, "questions": n}


def micro_average(per_batch: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Question-weighted average of per-batch BioASQ measures (the batches' ``questions`` are the weights)."""
    total = sum(float(item["questions"]) for item in per_batch)
    if not total:
        return {"strict_accuracy": 0.0, "lenient_accuracy": 0.0, "mrr": 0.0, "questions": 0}
    out: dict[str, float] = {"questions": total}
    for key in ("strict_accuracy", "lenient_accuracy", "mrr"):
        out[key] = sum(float(item[key]) * float(item["questions"]) for item in per_batch) / total
    return out


def squad_normalize(text: str) -> str:
    """The official SQuAD answer normalisation: lowercase, drop punctuation and articles, collapse spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _f1(prediction: str, truth: str) -> float:
    pred_tokens, gold_tokens = squad_normalize(prediction).split(), squad_normalize(truth).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_em_f1(predictions: Mapping[str, str], answers: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """SQuAD v1.1/v2.0 exact match and F1 (in %), max over gold answers; no gold answers means "no answer"
    (the prediction must be empty)."""
    if not answers:
        return {"exact": 0.0, "f1": 0.0, "total": 0}
    exact = f1 = 0.0
    for qid, golds in answers.items():
        prediction = predictions.get(qid, "")
        golds = [g for g in golds if squad_normalize(g)] or [""]
        exact += max(float(squad_normalize(prediction) == squad_normalize(g)) for g in golds)
        f1 += max(_f1(prediction, g) for g in golds)
    n = len(answers)
    return {"exact": 100.0 * exact / n, "f1": 100.0 * f1 / n, "total": n}


def ner_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level exact-match precision/recall/F1 (seqeval, conlleval semantics: an entity counts only when
    its type and both boundaries match)."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning when nothing is predicted: the score is 0
        return {
            "precision": float(precision_score(list(map(list, gold)), list(map(list, predicted)))),
            "recall": float(recall_score(list(map(list, gold)), list(map(list, predicted)))),
            "f1": float(f1_score(list(map(list, gold)), list(map(list, predicted)))),
        }


def binary_scores(gold: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    """Precision/recall/F1 of the positive class (1) and accuracy (scikit-learn; 0 where undefined)."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(
        list(gold), list(predicted), average="binary", pos_label=1, zero_division=0
    )
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "accuracy": float(accuracy_score(list(gold), list(predicted))),
    }
