"""Each export of a tiny trained run reloads and matches the trained model."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from bmb_train import ExportError


@pytest.fixture(scope="module")
def run(trained_run: Path):  # type: ignore[no-untyped-def]
    from bmb_train.export import load_run

    return load_run(trained_run)


@pytest.mark.slow
def test_tfhub_export_reloads_matches_and_fine_tunes(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import tensorflow as tf
    import tensorflow_hub as hub
    import tf_keras
    from bmb_train.export import export_tfhub, sample_batch

    out = tmp_path / "tfhub"
    assert export_tfhub(run, out, log=lambda _: None) < 1e-4
    assert (out / "assets" / "vocab.txt").read_bytes() == run.vocab.read_bytes()
    assert (out / "assets" / "do_lower_case").read_text().strip() == "true"
    loaded = tf.saved_model.load(str(out))
    assert bool(loaded.do_lower_case.numpy()) is True
    assert Path(loaded.vocab_file.asset_path.numpy().decode()).name == "vocab.txt"

    layer = hub.KerasLayer(str(out), trainable=True)
    inputs = {
        name: tf_keras.Input(shape=(None,), dtype=tf.int32, name=name)
        for name in ("input_word_ids", "input_mask", "input_type_ids")
    }
    logits = tf_keras.layers.Dense(2)(layer(inputs)["pooled_output"])
    classifier = tf_keras.Model(inputs, logits)
    classifier.compile(
        optimizer=tf_keras.optimizers.Adam(1e-3), loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    batch = sample_batch(run.vocab, run.lowercase)
    features = {
        "input_word_ids": batch["input_ids"],
        "input_mask": batch["attention_mask"],
        "input_type_ids": batch["token_type_ids"],
    }
    before = [w.numpy().copy() for w in layer.trainable_weights]
    classifier.fit(features, np.array([0, 1, 0]), epochs=1, verbose=0)
    after = [w.numpy() for w in layer.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.slow
def test_hf_and_opensearch_exports_reload_and_match(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from bmb_train.export import export_hf, export_opensearch
    from sentence_transformers import SentenceTransformer

    hf = tmp_path / "hf"
    assert export_hf(run, hf, log=lambda _: None) < 1e-4
    for name in (
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "tokenizer.json",
        "modules.json",
        "sentence_bert_config.json",
    ):
        assert (hf / name).is_file(), name
    pooling = json.loads((hf / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] is True and pooling["pooling_mode_cls_token"] is False
    model = SentenceTransformer(str(hf), device="cpu")
    assert model.get_embedding_dimension() == run.config.hidden_size
    # The saved tokenizer carries the whole vocabulary: real words are not all [UNK].
    vocab_size = len((hf / "vocab.txt").read_text(encoding="utf-8").splitlines())
    assert len(model.tokenizer) == vocab_size
    ids = model.tokenizer("the lung")["input_ids"]
    assert model.tokenizer.unk_token_id not in ids[1:-1]

    archive = tmp_path / "os" / "bmb-tiny.zip"
    assert export_opensearch(hf, archive, log=lambda _: None) < 1e-4
    with zipfile.ZipFile(archive) as handle:
        assert sorted(handle.namelist()) == ["bmb-tiny.pt", "tokenizer.json"]
    register = json.loads((archive.parent / "bmb-tiny.model_config.json").read_text())
    assert register["model_format"] == "TORCH_SCRIPT"
    config = register["model_config"]
    assert config["model_type"] == "bert" and config["embedding_dimension"] == run.config.hidden_size
    assert config["framework_type"] == "sentence_transformers" and config["pooling_mode"] == "mean"
    assert config["normalize_result"] is True
    with pytest.raises(ExportError, match="not empty"):
        export_hf(run, hf, log=lambda _: None)
