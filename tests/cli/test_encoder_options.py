"""``bmb-es index --device`` and the encoder options, in process: what a user types becomes one EncoderSetting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bmb_es.cli import app
from bmb_es.embedding import EncoderSetting, SentenceTransformerEmbedder, load_embedder
from bmb_es.engines import EmbeddedEngine


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    records = [{"id": f"d{n}", "title": f"Lung injury {n}", "abstract": "the heart of the lung"} for n in range(5)]
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.fixture
def fresh_loader() -> Iterator[None]:
    load_embedder.cache_clear()
    yield
    load_embedder.cache_clear()


def _index(corpus: Path, home: Path, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["index", str(corpus), "--data-dir", str(home), "-q", *options])
    return result.exit_code, result.output


def test_index_help_offers_device_and_the_choices_bmb_es_runs() -> None:
    result = CliRunner().invoke(app, ["index", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--device" in result.output and "cuda:N" in result.output
    assert "auto, torch, openvino" in result.output and "auto, fp32, bf16, fp16" in result.output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--device", "gpu"], "error: device 'gpu': give cpu, cuda, cuda:N, mps or xpu"),
        (["--backend", "onnx"], "error: backend 'onnx': choose one of auto, torch, openvino"),
        (["--precision", "int8"], "error: precision 'int8': choose one of auto, fp32, bf16, fp16"),
        (["--backend", "openvino", "--device", "cuda"], "error: backend openvino runs on the CPU"),
    ],
)
def test_a_bad_setting_is_one_line_and_nothing_is_indexed(
    corpus: Path, tmp_path: Path, options: list[str], message: str
) -> None:
    code, output = _index(corpus, tmp_path / "home", *options)
    assert code == 8 and output.startswith(message) and len(output.strip().splitlines()) == 1
    assert not (tmp_path / "home").exists()  # refused before the data dir, the engine or a model were touched


@pytest.mark.slow
def test_index_encodes_on_the_device_it_is_given(
    corpus: Path, tmp_path: Path, tiny_model: Path, fresh_loader: None
) -> None:
    home = tmp_path / "home"
    options = ["--model", str(tiny_model), "--backend", "torch", "--precision", "fp32", "--batch-size", "2"]
    code, output = _index(corpus, home, *options, "--device", "CPU", "--json")
    assert code == 0, output
    summary = json.loads(output[output.index("{") :])
    assert summary["indexed"] == 5 and summary["rejected"] == 0
    engine = EmbeddedEngine(home)
    meta = engine.index_meta("papers")
    assert (meta.model, meta.backend, meta.precision) == (str(tiny_model.resolve()), "torch", "fp32")
    engine.close()
    # The embedder the command loaded, from the cache it filled: on the CPU as asked, loaded once for the run.
    before = load_embedder.cache_info()
    embedder = load_embedder(str(tiny_model), setting=EncoderSetting("torch", "fp32", "cpu"))
    assert load_embedder.cache_info().hits == before.hits + 1 and before.currsize == 1
    assert isinstance(embedder, SentenceTransformerEmbedder) and embedder.device == "cpu"


@pytest.mark.slow
def test_index_on_a_gpu_torch_cannot_use_says_so(corpus: Path, tmp_path: Path, tiny_model: Path) -> None:
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    code, output = _index(corpus, tmp_path / "home", "--model", str(tiny_model), "--device", f"cuda:{count}")
    assert code == 8 and output.startswith(f"error: device 'cuda:{count}': torch sees ")
    assert "use --device cpu or auto" in output and "Traceback" not in output
