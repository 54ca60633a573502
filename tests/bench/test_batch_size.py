"""The batch-size sweep: warm-up and rotated rounds with a fake embedder on a fake clock, medians, GPU memory, the
Markdown page, and ``bench/bench_batch_size.py`` end to end with the tiny model."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bmb_es.bench import batch_size as batch_size_module
from bmb_es.bench.batch_size import render_batch_sizes, sweep_batch_sizes, tokenize_docs_per_s
from bmb_es.embedding import as_embedder, load_embedder
from bmb_es.embedding._base import CALLER_BATCH_SIZE

TEXTS = [f"text {position}" for position in range(10)]
SIZES = [2, 8, 4]
# Seconds each timed run of a size takes, round by round (a warm-up takes 100 s and must not count).
SECONDS = {2: [1.0, 2.0, 0.5], 8: [0.25, 0.5, 0.2], 4: [0.5, 0.4, 1.0]}  # docs/s medians 10, 40, 20
TOKENIZE_SECONDS = [0.1, 0.2, 0.05]  # docs/s 100, 50, 200: median 100


class Clock:
    """``time.perf_counter`` that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


class FakeTokenizer:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[int] = []

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        self.clock.now += TOKENIZE_SECONDS[len(self.calls)]
        self.calls.append(len(texts))
        return [[1] * len(text) for text in texts]


class FakeEmbedder:
    """Records each ``embed`` call, takes :data:`SECONDS` on the clock, returns zeros."""

    dimension = 3
    default_batch_size = 16

    def __init__(self, clock: Clock, tokenizer: bool = True) -> None:
        self.clock = clock
        self.calls: list[tuple[int | None, int]] = []
        self.fast_tokenizer = FakeTokenizer(clock) if tokenizer else None
        self.gpu_mib = 0.0

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        assert batch_size is not None
        runs = [size for size, _ in self.calls if size == batch_size]  # earlier calls of this size; first: warm-up
        self.clock.now += 100.0 if not runs else SECONDS[batch_size][len(runs) - 1]
        self.gpu_mib = batch_size * 10.0 + (50.0 if len(runs) == 2 else 0.0)  # round 2 peaks higher
        self.calls.append((batch_size, len(texts)))
        return np.zeros((len(texts), self.dimension), dtype=np.float32)


class Bare:
    """Only what :class:`~bmb_es.embedding.EmbedderLike` asks for."""

    name = "bare"
    dimension = 2
    max_length = 8

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        self.clock.now += 1.0
        return np.zeros((len(texts), self.dimension), dtype=np.float32)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(batch_size_module, "time", types.SimpleNamespace(perf_counter=fake.perf_counter))
    return fake


def test_each_size_is_warmed_once_then_runs_once_per_round_in_rotated_order(clock: Clock) -> None:
    embedder = FakeEmbedder(clock)
    seen: list[tuple[str, int, int]] = []
    result = sweep_batch_sizes(embedder, TEXTS, SIZES, 3, "cpu", lambda *step: seen.append(step))
    warm = [(2, 4), (8, 10), (4, 8)]  # twice the size in texts, at most all of them
    rounds = [(size, len(TEXTS)) for size in [2, 8, 4, 8, 4, 2, 4, 2, 8]]
    assert embedder.calls == warm + rounds
    assert seen == [("batch sizes", done, 9) for done in range(10)]
    assert [row["batch_size"] for row in result["rows"]] == SIZES
    by_size = {row["batch_size"]: row for row in result["rows"]}
    assert by_size[2]["rounds_docs_per_s"] == [10.0, 5.0, 20.0]
    assert by_size[8]["rounds_docs_per_s"] == [40.0, 20.0, 50.0]
    assert by_size[4]["rounds_docs_per_s"] == [20.0, 25.0, 10.0]
    assert [by_size[size]["docs_per_s"] for size in SIZES] == [10.0, 40.0, 20.0]  # medians, warm-ups left out
    assert [by_size[size]["ratio_to_best"] for size in SIZES] == [0.25, 1.0, 0.5]
    assert result["best_batch_size"] == 8 and result["best_batch_size"] in SIZES
    assert all(row["peak_gpu_mib"] is None for row in result["rows"])  # on a CPU
    assert result["texts"] == 10 and result["rounds"] == 3 and result["default_batch_size"] == 16
    assert embedder.fast_tokenizer is not None and embedder.fast_tokenizer.calls == [10, 10, 10]
    assert result["tokenize_docs_per_s"] == 100.0


def test_one_round_and_one_size(clock: Clock) -> None:
    embedder = FakeEmbedder(clock)
    result = sweep_batch_sizes(embedder, TEXTS, [4], 1, "cpu")
    assert embedder.calls == [(4, 8), (4, 10)]
    (row,) = result["rows"]
    assert row["docs_per_s"] == 20.0 and row["ratio_to_best"] == 1.0 and result["best_batch_size"] == 4


def test_no_fast_tokenizer_means_no_tokenize_rate(clock: Clock) -> None:
    embedder = FakeEmbedder(clock, tokenizer=False)
    assert sweep_batch_sizes(embedder, TEXTS, SIZES, 1, "cpu")["tokenize_docs_per_s"] is None

    # An embedder that wraps one of the caller's (no fast tokenizer, the fallback batch size).
    bare = as_embedder(Bare(clock))
    result = sweep_batch_sizes(bare, TEXTS, [2], 1, "cpu")
    assert result["tokenize_docs_per_s"] is None and result["default_batch_size"] == CALLER_BATCH_SIZE
    assert tokenize_docs_per_s(bare, TEXTS, 3) is None


def test_on_a_gpu_each_size_reports_its_highest_peak_memory(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    embedder = FakeEmbedder(clock)
    resets: list[float] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda: resets.append(embedder.gpu_mib))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: int(embedder.gpu_mib * 2**20))
    result = sweep_batch_sizes(embedder, TEXTS, SIZES, 3, "cuda:0")
    assert len(resets) == len(embedder.calls) == 12  # reset before every call, warm-ups included
    # The warm-up and the first round use size*10 MiB, the second timed round 50 MiB more: the maximum is kept.
    assert {row["batch_size"]: row["peak_gpu_mib"] for row in result["rows"]} == {2: 70.0, 8: 130.0, 4: 90.0}


def test_nothing_to_measure_is_an_error(clock: Clock) -> None:
    embedder = FakeEmbedder(clock)
    for texts, sizes, rounds in [([], SIZES, 1), (TEXTS, [], 1), (TEXTS, SIZES, 0)]:
        with pytest.raises(ValueError, match="sweep_batch_sizes"):
            sweep_batch_sizes(embedder, texts, sizes, rounds, "cpu")
    assert embedder.calls == []


def _payload(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "command": "python bench/bench_batch_size.py --sizes 2,8,4",
        "embedder": "tiny, torch fp32",
        "hardware": "test cpu",
        "batch_sizes": result,
    }


def test_the_page_shows_every_size_the_command_and_the_fastest(clock: Clock) -> None:
    page = render_batch_sizes(_payload(sweep_batch_sizes(FakeEmbedder(clock), TEXTS, SIZES, 3, "cpu")))
    assert "`python bench/bench_batch_size.py --sizes 2,8,4`" in page
    assert "Embedder: tiny, torch fp32; device: test cpu. 10 texts, 3 rounds" in page
    rows = [line for line in page.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + len(SIZES)  # header, rule, one row per size
    for size, docs, ratio in [(2, "10.0", "0.25"), (8, "40.0", "1.0"), (4, "20.0", "0.5")]:
        (row,) = [line for line in rows if line.split("|")[1].strip() == str(size)]
        assert docs in row and ratio in row
    assert "10.0, 5.0, 20.0" in page
    assert "Fastest: batch 8; the embedder's default is 16." in page
    assert "Tokenising alone (the model's fast tokenizer, one call): 100.0 docs/s." in page
    bare = render_batch_sizes(_payload(sweep_batch_sizes(FakeEmbedder(clock, False), TEXTS, SIZES, 1, "cpu")))
    assert "Tokenising alone" not in bare


# -- bench/bench_batch_size.py end to end ------------------------------------------------------------------------


@pytest.fixture
def fresh_loader() -> Iterator[None]:
    load_embedder.cache_clear()
    yield
    load_embedder.cache_clear()


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    records = [
        {"id": "d1", "title": "Lung injury", "abstract": "The lung of the heart."},
        {"id": "d2", "title": "Heart", "abstract": "Injury of the heart " * 30},
        {"id": "d3", "title": "Of the lung", "abstract": "Lung."},
        {"id": "d4", "title": "Injury", "abstract": ""},
        {"id": "d5", "title": "", "abstract": "heart lung injury"},
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.mark.slow
def test_the_script_measures_the_tiny_model_and_writes_its_results(
    tiny_model: Path, tmp_path: Path, fresh_loader: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.bench_batch_size import main

    out = tmp_path / "results"
    argv = ["--corpus", str(_corpus(tmp_path)), "--model", str(tiny_model), "--device", "cpu"]
    argv += ["--setting", "torch/fp32", "--sizes", "2,4", "--limit", "0", "--rounds", "1", "--out", str(out)]
    assert main(argv) == 0
    (json_path,) = out.glob("batch-size-*.json")
    (md_path,) = out.glob("batch-size-*.md")
    payload = json.loads(json_path.read_text(encoding="utf-8"))
    result = payload["batch_sizes"]
    assert payload["suite"] == "batch-size" and payload["command"].startswith("python bench/bench_batch_size.py")
    assert result["texts"] == 5 and result["rounds"] == 1  # --limit 0: every document
    assert [row["batch_size"] for row in result["rows"]] == [2, 4]
    assert all(row["docs_per_s"] > 0 and len(row["rounds_docs_per_s"]) == 1 for row in result["rows"])
    assert result["best_batch_size"] in (2, 4)
    assert max(row["ratio_to_best"] for row in result["rows"]) == 1.0
    assert all(row["peak_gpu_mib"] is None for row in result["rows"])
    assert result["tokenize_docs_per_s"] > 0  # the torch embedder tokenises with the model's fast tokenizer
    assert "torch fp32" in payload["embedder"]
    page = md_path.read_text(encoding="utf-8")
    assert payload["command"] in page and "Fastest: batch" in page
    assert f"wrote {json_path}" in capsys.readouterr().out


def test_the_script_without_a_gpu_refuses_cuda_and_bad_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_loader: None
) -> None:
    import torch

    from bench.bench_batch_size import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "results"
    corpus = str(_corpus(tmp_path))
    assert main(["--corpus", corpus, "--device", "cuda", "--out", str(out)]) == 2
    assert not out.exists()
    with pytest.raises(SystemExit) as caught:
        main(["--corpus", corpus, "--sizes", "0,4", "--out", str(out)])
    assert caught.value.code == 2
    assert not out.exists()
