"""Fast embedding: precision/backend selection, its check against fp32 and fallback, length bucketing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bmb_es import ModelLoadError
from bmb_es.embedding import _load as load_module
from bmb_es.embedding import _verify as verify_module
from bmb_es.embedding import length_order, load_embedder
from bmb_es.embedding._bucket import bucketed
from bmb_es.embedding._openvino import openvino_available
from bmb_es.engines import IndexMeta


@pytest.fixture(autouse=True)
def fresh_loader() -> Iterator[None]:
    """load_embedder is cached per process; these tests need each load to run its selection again."""
    load_embedder.cache_clear()
    yield
    load_embedder.cache_clear()


# -- length bucketing (no model) --------------------------------------------------------------------------


def test_length_order_is_longest_first_and_stable() -> None:
    assert length_order([3, 9, 3, 1, 9]) == [1, 4, 0, 2, 3]
    assert length_order([]) == []


def test_bucketed_batches_by_length_and_restores_input_order() -> None:
    texts = [f"t{position}" for position in range(23)]
    lengths = [(position * 7) % 11 for position in range(23)]
    seen: list[list[str]] = []

    def run(batch: list[str]) -> np.ndarray:
        seen.append(batch)
        return np.asarray([[float(text[1:]), 1.0] for text in batch], dtype=np.float32)

    out = bucketed(texts, 5, lengths, run, 2)
    assert out[:, 0].tolist() == list(range(23))  # row i is text i, whatever the batches were
    assert [len(batch) for batch in seen] == [5, 5, 5, 5, 3]
    flat = [int(text[1:]) for batch in seen for text in batch]
    assert [lengths[position] for position in flat] == sorted(lengths, reverse=True)


# -- metadata -----------------------------------------------------------------------------------------------


def test_index_meta_records_backend_and_precision_and_reads_old_metadata() -> None:
    meta = IndexMeta("m", 8, backend="openvino", precision="bf16")
    assert IndexMeta.from_json(meta.to_json()) == meta
    old = {"model": "m", "dimension": 8, "embed_fields": ["title"], "similarity": "cosine", "meta_version": 1}
    assert IndexMeta.from_json(old).backend is None
    assert IndexMeta.from_json(old).to_json() == old  # keys of old indices stay exactly as they were


# -- selection with a tiny model ------------------------------------------------------------------------------

TEXTS = ["lung injury", "heart", "the lung of the heart injury " * 5, "injury " * 40, "of"]


def _verdicts(home: Path) -> dict[str, dict[str, object]]:
    return dict(json.loads((home / verify_module.VERDICTS_FILE).read_text()))


@pytest.mark.slow
def test_auto_checks_the_fast_path_once_and_caches_the_verdict(
    tiny_model: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load_module, "cpu_has_fast_bf16", lambda: True)  # the bf16 path on any CPU
    embedder = load_embedder(str(tiny_model))
    assert embedder.precision == "bf16"
    assert "auto: mean cosine to fp32" in embedder.selection
    verdicts = _verdicts(data_dir)
    (key, verdict), *_ = verdicts.items()
    model, backend, precision, hardware = key.split("|")
    assert (model, precision) == (str(tiny_model.resolve()), "bf16") and hardware.startswith("cpu:")
    assert backend == ("openvino" if openvino_available() else "torch")
    assert verdict["ok"] is True and float(verdict["mean_cosine"]) >= verify_module.MIN_COSINE  # type: ignore[arg-type]

    def no_second_check(*_: object) -> None:
        raise AssertionError("the cached verdict should have been used")

    monkeypatch.setattr(load_module, "verify", no_second_check)
    load_embedder.cache_clear()
    again = load_embedder(str(tiny_model))
    assert again.precision == "bf16"
    fp32 = load_embedder(str(tiny_model), precision="fp32", backend="torch")
    assert float(np.min(np.sum(again.embed(TEXTS) * fp32.embed(TEXTS), axis=1))) > 0.999


@pytest.mark.slow
def test_auto_falls_back_to_fp32_when_the_check_fails_and_says_why(
    tiny_model: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load_module, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr(verify_module, "MIN_COSINE", 1.5)  # no real vector can pass: forced failure
    embedder = load_embedder(str(tiny_model))
    assert (embedder.backend, embedder.precision) == ("torch", "fp32")
    selection = embedder.selection
    assert "auto fallback" in selection and "failed its check" in selection and "< 1.5" in selection
    assert all(verdict["ok"] is False for verdict in _verdicts(data_dir).values())
    # The failed verdict is remembered: the next load falls back without checking again.
    monkeypatch.setattr(verify_module, "MIN_COSINE", 0.0)
    load_embedder.cache_clear()
    again = load_embedder(str(tiny_model))
    assert again.precision == "fp32" and "failed its check earlier" in again.selection


@pytest.mark.slow
def test_no_fast_path_on_a_cpu_without_bf16(tiny_model: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_module, "cpu_has_fast_bf16", lambda: False)
    embedder = load_embedder(str(tiny_model))
    assert embedder.precision == "fp32"
    assert "no faster path" in embedder.selection


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend",
    ["torch", pytest.param("openvino", marks=pytest.mark.skipif(not openvino_available(), reason="no openvino"))],
)
def test_explicit_settings_embed_in_input_order(tiny_model: Path, data_dir: Path, backend: str) -> None:
    fast = load_embedder(str(tiny_model), precision="bf16", backend=backend)
    assert (fast.backend, fast.precision) == (backend, "bf16")
    batched = fast.embed(TEXTS, batch_size=2)  # length-sorted batches of 2
    one_by_one = np.stack([fast.embed([text])[0] for text in TEXTS])
    assert batched.dtype == np.float32 and np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(batched * one_by_one, axis=1))) > 0.999


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ModelLoadError, match="precision 'int3'"):
        load_embedder(None, None, "int3")
    with pytest.raises(ModelLoadError, match="backend 'tpu'"):
        load_embedder(None, None, "auto", "tpu")


def test_onnx_is_refused_before_the_model_is_looked_for_and_says_what_to_use(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"backend 'onnx': choose one of auto, torch, openvino .*not offered"):
        load_embedder(str(tmp_path / "absent"), backend="onnx", precision="fp32")
