"""The per-setting comparison of ``bench speed``: arithmetic by hand, a run with fake encoders, rendering."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from bmb_es._errors import ModelLoadError, SettingError
from bmb_es.bench import embedding_speed
from bmb_es.bench.embedding_quality import GoldenQuestions, cosine_to_reference, golden_questions, mrr_at_10
from bmb_es.bench.embedding_speed import (
    EmbeddingSpeedSettings,
    NoGpuError,
    available_settings,
    median_ratio,
    resolve_device,
    settings_to_run,
)
from bmb_es.bench.render import plot_speed, render_speed
from bmb_es.bench.report import envelope, write_results
from bmb_es.bench.speed import SpeedSettings, run_speed
from bmb_es.cli import app
from bmb_es.embedding import EncoderSetting

# -- a tiny BioASQ layout: <root>/pubmed (abstracts + golden TSV), <root>/golden (question JSON) -----------------

DOCS = {"1": "lung lung injury", "2": "heart disease heart", "3": "liver and lung", "4": "kidney failure"}
# question id -> (text, relevant PMIDs): with bag-of-words vectors the relevant document ranks 1, 2 and 3.
QUESTIONS = {"q1": ("lung lung", {"1"}), "q2": ("lung", {"3"}), "q3": ("kidney", {"2"})}
EXPECTED_MRR = (1 + 1 / 2 + 1 / 3) / 3


def make_bioasq(root: Path, extra_question: bool = True) -> Path:
    """The layout ``bench speed`` recognises; returns the ``pubmed`` corpus folder."""
    pubmed = root / "pubmed"
    pubmed.mkdir(parents=True)
    (pubmed / "pubmed_abstracts.jsonl").write_text(
        "".join(json.dumps({"pmid": pmid, "text": text}) + "\n" for pmid, text in DOCS.items()), encoding="utf-8"
    )
    lines = ["question_id\ttype\tpmid\tin_derived_corpus"]
    lines += [f"{qid}\tfactoid\t{pmid}\t1" for qid, (_, pmids) in QUESTIONS.items() for pmid in sorted(pmids)]
    lines.append("q1\tfactoid\t999\t0")  # outside the corpus: ignored
    if extra_question:
        lines.append("q4\tyesno\t999\t1")  # its document is not in the corpus: the question is dropped
    (pubmed / "golden_question_documents.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    golden = root / "golden"
    golden.mkdir()
    questions = [{"id": qid, "body": text, "type": "factoid"} for qid, (text, _) in QUESTIONS.items()]
    questions.append({"id": "q4", "body": "unused", "type": "yesno"})
    (golden / "1B_golden.json").write_text(json.dumps({"questions": questions}), encoding="utf-8")
    return pubmed


VOCAB = ("lung", "heart", "liver", "kidney", "brain")


class FakeEmbedder:
    """Bag-of-words unit vectors over ``VOCAB``; "bf16" weighs "lung" 1% more (moves mixed texts, no ranking)."""

    name = "fake-bow"
    dimension = len(VOCAB)
    max_length = 64
    default_batch_size = 2
    fast_tokenizer = None

    def __init__(self, backend: str, precision: str, selection: str) -> None:
        self.backend, self.precision, self.selection = backend, precision, selection
        self.home = os.environ.get("BMB_ES_HOME")

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                if word in VOCAB:
                    rows[i, VOCAB.index(word)] += 1.01 if word == "lung" and self.precision == "bf16" else 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return (rows / np.where(norms == 0, 1, norms)).astype(np.float32)


class BrokenEmbedder(FakeEmbedder):
    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        raise RuntimeError("out of memory")


def fake_loader(calls: list[tuple[str, str, str | None]]) -> Any:
    def load(model: str | None, setting: EncoderSetting) -> FakeEmbedder:
        backend, precision = setting.backend, setting.precision
        assert setting.device == "cpu" and setting.batch_size is None  # the run's device and batch size
        calls.append((backend, precision, os.environ.get("BMB_ES_HOME")))
        if backend == "openvino":
            raise ModelLoadError("the openvino package is missing: pip install openvino\nsecond line")
        if precision == "fp16":
            return BrokenEmbedder(backend, precision, "loads, then fails")
        if backend == "auto":
            return FakeEmbedder("torch", "bf16", "torch bf16 (auto: mean cosine to fp32 0.99995)")
        return FakeEmbedder(backend, precision, f"{backend} {precision} (as asked, unchecked)")

    return load


# -- arithmetic ------------------------------------------------------------------------------------------------


def test_median_ratio_is_the_median_of_per_round_ratios() -> None:
    # rounds: 10/5 = 2, 30/10 = 3, 20/10 = 2 -> median 2
    assert median_ratio([10.0, 30.0, 20.0], [5.0, 10.0, 10.0]) == 2.0
    # ratios 4, 1, 1.5 -> 1.5; ratio of medians would be 20/10 = 2.0
    assert median_ratio([20.0, 10.0, 30.0], [5.0, 10.0, 20.0]) == 1.5
    assert median_ratio([7.0], [7.0]) == 1.0
    with pytest.raises(ValueError):
        median_ratio([1.0, 2.0], [1.0])


def test_mrr_at_10_by_hand() -> None:
    docs = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    ids = ["a", "b", "c"]
    queries = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # q1: a, b, c -> b at 2; q2: c, b, a -> a at 3; q3: relevant absent -> 0
    assert mrr_at_10(queries, docs, ids, [{"b"}, {"a"}, {"zzz"}]) == pytest.approx((1 / 2 + 1 / 3 + 0) / 3)
    # Only the first relevant hit counts; ties keep document order; rank 11 is outside the top 10.
    same = np.ones((12, 2)) / np.sqrt(2)
    names = [f"d{i}" for i in range(12)]
    assert mrr_at_10(same[:1], same, names, [{"d3", "d5"}]) == pytest.approx(1 / 4)
    assert mrr_at_10(same[:1], same, names, [{"d10"}]) == 0.0
    with pytest.raises(ValueError):
        mrr_at_10(same[:0], same, names, [])


def test_cosine_to_reference() -> None:
    reference = np.array([[1.0, 0.0], [0.0, 1.0]])
    vectors = np.array([[1.0, 0.0], [0.6, 0.8]])
    mean, low = cosine_to_reference(vectors, reference)
    assert (mean, low) == pytest.approx((0.9, 0.8))


# -- choosing settings and devices -----------------------------------------------------------------------------


def test_settings_are_read_from_backend_slash_precision() -> None:
    assert EncoderSetting.from_label("torch/bf16") == EncoderSetting("torch", "bf16")
    assert EncoderSetting.from_label(" OpenVINO/FP32 ").label == "openvino/fp32"
    for bad in ("torch", "torch/fp8", "tensorrt/fp16", "/fp32", "onnx/fp32"):
        with pytest.raises(SettingError, match="BACKEND/PRECISION"):
            EncoderSetting.from_label(bad)


def test_available_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bmb_es.embedding._hardware.cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr("bmb_es.embedding._openvino.openvino_available", lambda: True)
    assert [setting.label for setting in available_settings("cpu")] == [
        "torch/fp32", "torch/bf16", "openvino/fp32", "openvino/bf16", "auto/auto"
    ]  # fmt: skip
    assert [setting.label for setting in available_settings("cuda:0")] == [
        "torch/fp32", "torch/fp16", "torch/bf16", "auto/auto"
    ]  # fmt: skip
    monkeypatch.setattr("bmb_es.embedding._hardware.cpu_has_fast_bf16", lambda: False)
    monkeypatch.setattr("bmb_es.embedding._openvino.openvino_available", lambda: False)
    assert available_settings("cpu") == [EncoderSetting("torch", "fp32"), EncoderSetting()]
    # The reference is always measured, first, and nothing twice.
    auto, reference = EncoderSetting(), EncoderSetting("torch", "fp32")
    assert settings_to_run("cpu", [auto, reference, auto]) == [reference, auto]


def test_cuda_without_a_gpu_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(None) == "cpu"
    with pytest.raises(NoGpuError, match="no GPU") as caught:
        resolve_device("cuda")
    assert caught.value.exit_code == 2
    result = CliRunner().invoke(app, ["bench", "speed", "--corpus", str(tmp_path), "--device", "cuda", "-q"])
    assert result.exit_code == 2
    assert "error: --device cuda: no GPU on this machine" in result.output
    assert "Traceback" not in result.output
    from bench.bench_embedding import main

    assert main(["--corpus", str(tmp_path), "--device", "cuda", "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bad", ["torch/fp8", "onnx/fp32"])
def test_a_bad_setting_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    result = CliRunner().invoke(app, ["bench", "speed", "--corpus", str(tmp_path), "--setting", bad])
    assert result.exit_code == 2
    assert "BACKEND/PRECISION" in result.output


# -- golden questions ------------------------------------------------------------------------------------------


def test_golden_questions_only_for_the_bioasq_pubmed_folder(tmp_path: Path) -> None:
    pubmed = make_bioasq(tmp_path / "bioasq")
    found = golden_questions(pubmed, list(DOCS))
    assert isinstance(found, GoldenQuestions)
    assert found.bodies == ["lung lung", "lung", "kidney"]  # q4's document is not in the corpus
    assert found.relevant == [{"1"}, {"3"}, {"2"}]
    subset = golden_questions(pubmed, ["1", "2"])  # q2's only relevant document is not measured
    assert isinstance(subset, GoldenQuestions) and subset.relevant == [{"1"}, {"2"}]
    assert "no golden question" in str(golden_questions(pubmed, ["4"]))
    other = tmp_path / "other"
    other.mkdir()
    assert "not the BioASQ pubmed folder" in str(golden_questions(other, list(DOCS)))
    renamed = tmp_path / "bioasq" / "copy"
    renamed.mkdir()
    (renamed / "golden_question_documents.tsv").write_text("question_id\ttype\tpmid\tin_derived_corpus\n")
    assert "BioASQ layout" in str(golden_questions(renamed, list(DOCS)))


# -- the whole comparison with fake encoders -------------------------------------------------------------------


def run_fake(corpus: Path, monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, str, str | None]]) -> Any:
    real = embedding_speed.run_embedding_speed

    def with_fake_loader(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return real(*args, **kwargs, loader=fake_loader(calls))

    monkeypatch.setattr("bmb_es.bench.speed.run_embedding_speed", with_fake_loader)
    settings = SpeedSettings(
        corpus=corpus,
        sizes=[],
        queries=3,
        repeats=2,
        device="cpu",
        embedding=EmbeddingSpeedSettings(
            settings=[
                EncoderSetting.from_label(label) for label in ("torch/bf16", "openvino/fp32", "torch/fp16", "auto/auto")
            ],
            encode_sample=3,
            ingest_sample=3,
            rounds=2,
        ),
    )
    payload = envelope("speed", "bmb-es bench speed (test)", settings.to_json())
    payload.update(run_speed(settings))
    return payload


def test_every_setting_measured_on_the_same_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    corpus = make_bioasq(tmp_path / "bioasq")
    calls: list[tuple[str, str, str | None]] = []
    payload = run_fake(corpus, monkeypatch, calls)
    block = payload["embedding_settings"]
    assert os.environ["BMB_ES_HOME"] == str(data_dir)  # restored
    assert [call[:2] for call in calls] == [
        ("torch", "fp32"), ("torch", "bf16"), ("openvino", "fp32"), ("torch", "fp16"), ("auto", "auto")
    ]  # fmt: skip
    homes = {call[2] for call in calls}
    assert len(homes) == 1 and str(data_dir) not in homes  # a fresh data dir: auto is checked as a first use would be
    assert not Path(homes.pop() or "").exists()  # and removed afterwards
    assert block["device"] == "cpu" and block["documents"] == 4 and block["questions"] == 3
    assert block["quality_unavailable"] is None
    rows = {row["setting"]: row for row in block["rows"]}
    assert list(rows) == ["torch/fp32", "torch/bf16", "openvino/fp32", "torch/fp16", "auto/auto"]
    fp32, bf16, openvino, fp16, auto = rows.values()
    assert openvino == {"setting": "openvino/fp32", "error": "the openvino package is missing: pip install openvino"}
    assert fp16 == {"setting": "torch/fp16", "error": "failed while encoding: out of memory"}
    assert fp32["mrr10"] == round(EXPECTED_MRR, 4) and fp32["mrr10_delta"] == 0.0
    assert fp32["cos_to_fp32_mean"] == 1.0 and fp32["encoder_ratio"] == 1.0 and fp32["ingest_ratio"] == 1.0
    assert bf16["mrr10"] == round(EXPECTED_MRR, 4) and bf16["mrr10_fp32_queries"] == round(EXPECTED_MRR, 4)
    assert 0.99 < bf16["cos_to_fp32_min"] <= bf16["cos_to_fp32_mean"] < 1.0
    for row in (fp32, bf16, auto):
        assert len(row["encoder_rounds_docs_per_s"]) == 2 and len(row["ingest_rounds_docs_per_s"]) == 2
        assert row["encoder_docs_per_s"] > 0 and row["ingest_docs_per_s"] > 0 and row["query_encode_ms_p50"] >= 0
        assert row["batch_size"] == 2
    ratios = [a / b for a, b in zip(bf16["encoder_rounds_docs_per_s"], fp32["encoder_rounds_docs_per_s"], strict=True)]
    assert bf16["encoder_ratio"] == pytest.approx(sum(ratios) / 2, abs=0.01)  # the median of two rounds
    # auto ran as torch bf16, measured above: the same vectors, so the same quality, and its own speed figures.
    assert auto["runs_as"] == "torch/bf16" and auto["same_vectors_as"] == "torch/bf16"
    assert auto["selected"].startswith("torch bf16 (auto")
    assert auto["mrr10"] == bf16["mrr10"] and auto["cos_to_fp32_mean"] == bf16["cos_to_fp32_mean"]
    assert "full_pass_docs_per_s" not in auto and "encoder_ratio" in auto


def test_rendered_and_re_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    corpus = make_bioasq(tmp_path / "bioasq")
    payload = run_fake(corpus, monkeypatch, [])
    markdown = render_speed(payload)
    assert "### Encoder settings on the same texts (cpu)" in markdown
    header = "| setting | selected | full pass docs/s | encoder docs/s | encoder x fp32 | ingest docs/s "
    header += "| ingest x fp32 |"
    assert header in markdown
    assert "| openvino/fp32 | unavailable: the openvino package is missing" in markdown
    assert f"| {EXPECTED_MRR:.4f} | +0.0000 |" in markdown
    assert "3 BioASQ golden questions" in markdown
    assert "| docs | repeated |" not in markdown  # no per-size runs were asked for
    out = tmp_path / "results"
    json_path, md_path = write_results(out, "speed", payload, markdown)
    plot_speed(payload, json_path.with_suffix(".png"))
    md_path.unlink()
    result = CliRunner().invoke(app, ["bench", "render", str(json_path)])
    assert result.exit_code == 0, result.output
    assert md_path.read_text(encoding="utf-8") == markdown
    assert json_path.with_suffix(".png").stat().st_size > 0


def test_quality_not_available_outside_bioasq(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    corpus = tmp_path / "plain"
    corpus.mkdir()
    (corpus / "docs.jsonl").write_text(
        "".join(json.dumps({"pmid": pmid, "text": text}) + "\n" for pmid, text in DOCS.items()), encoding="utf-8"
    )
    payload = run_fake(corpus, monkeypatch, [])
    block = payload["embedding_settings"]
    assert block["questions"] == 0 and "not the BioASQ pubmed folder" in block["quality_unavailable"]
    assert all("mrr10" not in row for row in block["rows"])
    assert block["rows"][1]["cos_to_fp32_mean"] < 1.0  # cosines need no questions
    markdown = render_speed(payload)
    assert "**MRR@10 not available**: " in markdown and "not the BioASQ pubmed folder" in markdown


def test_render_rejects_a_file_it_did_not_write(tmp_path: Path) -> None:
    old = tmp_path / "embedding-old.json"
    old.write_text(json.dumps({"benchmark": "embedding", "rows": []}))
    result = CliRunner().invoke(app, ["bench", "render", str(old)])
    assert result.exit_code == 3
    assert "not a results file" in result.output


# -- the real model, through the CLI ---------------------------------------------------------------------------


@pytest.mark.slow
def test_bench_speed_compares_settings_end_to_end(tmp_path: Path, data_dir: Path) -> None:
    corpus = make_bioasq(tmp_path / "bioasq")
    out = tmp_path / "results"
    result = CliRunner().invoke(
        app,
        ["bench", "speed", "--corpus", str(corpus), "--sizes", "4", "--queries", "2", "--repeats", "1",
         "--setting", "torch/fp32", "--setting", "torch/bf16",
         "--encode-sample", "3", "--ingest-sample", "3", "--device", "cpu", "--out", str(out), "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [json_path] = out.glob("speed-*.json")
    payload = json.loads(json_path.read_text())
    assert payload["runs"][0]["size"] == 4  # the per-size table still comes with it
    assert payload["settings"]["embedding"]["settings"] == ["torch/fp32", "torch/bf16"]
    rows = {row["setting"]: row for row in payload["embedding_settings"]["rows"]}
    assert 0.0 < rows["torch/fp32"]["mrr10"] <= 1.0 and rows["torch/fp32"]["encoder_ratio"] == 1.0
    assert rows["torch/bf16"]["cos_to_fp32_mean"] > 0.99 and "mrr10_delta" in rows["torch/bf16"]
    assert "### Encoder settings on the same texts (cpu)" in result.output
    assert "| docs | repeated |" in result.output
