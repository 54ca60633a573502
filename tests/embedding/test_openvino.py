"""The OpenVINO backend: prepared folders, the warm path without torch, and tokenisation equal to Hugging Face's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bmb_es.embedding import EncoderSetting, default_model_path, load_embedder
from bmb_es.embedding import _load as load_module
from bmb_es.embedding._openvino import OpenVinoEmbedder, PreparedMeta, folder_fingerprint, openvino_available
from bmb_es.embedding._tokens import pad_batch
from bmb_es.embedding._verify import VERDICTS_FILE

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not openvino_available(), reason="openvino is not installed")]

TEXTS = [
    "lung injury",
    "the heart of the lung injury " * 30,  # longer than the tiny model's 64 tokens: truncated
    "Ünïcödé naïve café — ß, 😷 COVID-19; SARS-CoV-2 (2020) in ACE2+ cells",
    "of",
    "",
]


@pytest.fixture(autouse=True)
def fresh_loader() -> Iterator[None]:
    load_embedder.cache_clear()
    yield
    load_embedder.cache_clear()


def _prepared_folders(data_dir: Path) -> list[Path]:
    root = data_dir / "cache" / "openvino"
    return sorted(path for path in root.iterdir() if not path.name.startswith(".")) if root.is_dir() else []


def test_prepared_folder_holds_graph_tokenizer_and_meta(tiny_model: Path, data_dir: Path) -> None:
    embedder = load_embedder(str(tiny_model), precision="fp32", backend="openvino")
    assert isinstance(embedder, OpenVinoEmbedder)
    (folder,) = _prepared_folders(data_dir)
    meta = PreparedMeta.read(folder)
    assert meta is not None and meta.name == str(tiny_model.resolve()) and meta.dimension == 32
    assert meta.max_length == 64 and meta.inputs == ("input_ids", "attention_mask", "token_type_ids")
    reference = load_embedder(str(tiny_model), precision="fp32", backend="torch")
    cosines = np.sum(embedder.embed(TEXTS) * reference.embed(TEXTS), axis=1)
    assert float(cosines.min()) > 0.99999  # the whole pipeline (pooling too) runs in the graph
    assert np.allclose(np.linalg.norm(embedder.embed(TEXTS[:-1]), axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("which", ["tiny", "default"])
def test_prepared_tokenizer_gives_the_ids_the_model_was_trained_with(
    tiny_model: Path, data_dir: Path, which: str
) -> None:
    from sentence_transformers import SentenceTransformer

    path = tiny_model if which == "tiny" else default_model_path()
    embedder = load_embedder(str(path), precision="fp32", backend="openvino")
    assert isinstance(embedder, OpenVinoEmbedder)
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    expected = model[0].preprocess(TEXTS)
    ours = pad_batch(embedder._tokenizer.encode_batch(TEXTS), embedder._meta.inputs, embedder._meta.pad_id)
    for name, array in zip(PreparedMeta.read(embedder.folder).inputs, ours, strict=True):  # type: ignore[union-attr]
        assert np.array_equal(array, expected[name].numpy()), name


def test_a_warm_load_imports_neither_torch_nor_transformers(tiny_model: Path, data_dir: Path) -> None:
    first = load_embedder(str(tiny_model), precision="fp32", backend="openvino")  # prepares the model
    vectors = first.embed(TEXTS)
    script = (
        "import json, sys; from bmb_es.embedding import load_embedder; "
        f"e = load_embedder({str(tiny_model)!r}, precision='fp32', backend='openvino'); "
        f"v = e.embed({TEXTS!r}); "
        "print(json.dumps({'heavy': sorted(m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules), 'selection': e.selection, 'vectors': v.tolist()}))"
    )
    env = {**os.environ, "BMB_ES_HOME": str(data_dir)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["selection"] == "openvino fp32 (as asked, unchecked)"
    assert np.allclose(np.asarray(report["vectors"], dtype=np.float32), vectors, atol=1e-6)


def test_auto_takes_the_warm_path_only_after_a_passing_check(
    tiny_model: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load_module, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr(load_module, "gpu_present", lambda: False)
    name = str(tiny_model.resolve())
    assert load_module._warm_openvino(tiny_model, name, EncoderSetting()) is None  # unchecked
    checked = load_embedder(str(tiny_model))  # checks openvino bf16 against fp32 and prepares it
    assert "openvino bf16 (auto: mean cosine" in checked.selection
    warm = load_module._warm_openvino(tiny_model, name, EncoderSetting())
    assert warm is not None and warm.selection == checked.selection
    # A failed check is never bypassed: the slow way falls back and says why.
    verdicts = json.loads((data_dir / VERDICTS_FILE).read_text())
    for verdict in verdicts.values():
        verdict["ok"] = False
    (data_dir / VERDICTS_FILE).write_text(json.dumps(verdicts))
    assert load_module._warm_openvino(tiny_model, name, EncoderSetting()) is None
    # Another device, or a GPU torch might pick, always goes the slow way.
    assert load_module._warm_openvino(tiny_model, name, EncoderSetting(device="cuda")) is None
    monkeypatch.setattr(load_module, "gpu_present", lambda: True)
    assert load_module._warm_openvino(tiny_model, name, EncoderSetting("openvino", "bf16")) is None


def test_a_rewritten_model_is_prepared_again_outdated_copies_go_and_a_damaged_copy_is_replaced(
    tiny_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    before = folder_fingerprint(model)
    load_embedder(str(model), precision="fp32", backend="openvino").embed(TEXTS)
    (folder,) = _prepared_folders(data_dir)
    config = model / "config_sentence_transformers.json"
    config.write_text(config.read_text())  # same bytes, new modification time: treated as a new model
    assert folder_fingerprint(model) != before
    load_embedder.cache_clear()
    (legacy := data_dir / "cache" / "openvino" / "0123456789abcdef01234567").mkdir()
    (legacy / "inputs.txt").write_text("input_ids attention_mask")  # a copy in the layout before prepared.json
    load_embedder(str(model), precision="fp32", backend="openvino")
    (newest,) = _prepared_folders(data_dir)  # the outdated copy and the legacy one were removed
    assert newest != folder and PreparedMeta.read(newest) is not None
    # Damage the newest copy: the next load prepares it again instead of failing.
    (newest / "model.xml").write_text("<net>broken")
    load_embedder.cache_clear()
    again = load_embedder(str(model), precision="fp32", backend="openvino")
    assert again.embed(TEXTS).shape == (len(TEXTS), 32)
    assert PreparedMeta.read(newest) is not None and "broken" not in (newest / "model.xml").read_text()


def test_concurrent_calls_give_the_vectors_of_sequential_ones(tiny_model: Path, data_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    embedder = load_embedder(str(tiny_model), precision="fp32", backend="openvino")
    # Batched (several tokenising slices) and single-request paths at once, from four threads: calls take turns.
    calls = [TEXTS * 120, TEXTS[:2], TEXTS[::-1] * 7, TEXTS[1:3]]
    expected = [embedder.embed(texts, batch_size=4) for texts in calls]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            got = list(pool.map(lambda texts: embedder.embed(texts, batch_size=4), calls))
            for mine, theirs in zip(got, expected, strict=True):
                assert np.allclose(mine, theirs, atol=1e-6)


def test_questions_take_the_warm_path_on_a_gpu_machine(
    tiny_model: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bmb_es._search import QUESTION_DEVICE

    monkeypatch.setattr(load_module, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr(load_module, "gpu_present", lambda: True)  # torch could pick a GPU: not for questions
    name = str(tiny_model.resolve())
    assert QUESTION_DEVICE == "cpu"
    checked = load_embedder(str(tiny_model), QUESTION_DEVICE)  # the first question checks and prepares
    assert "openvino bf16 (auto: mean cosine" in checked.selection
    warm = load_module._warm_openvino(tiny_model, name, EncoderSetting(device=QUESTION_DEVICE))
    assert warm is not None and warm.selection == checked.selection
