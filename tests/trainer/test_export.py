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
    assert f"Truncate to {run.max_length} tokens" in (out / "assets" / "PREPROCESSING.txt").read_text()
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


SHORT = 48  # a run trained on shorter sequences than its position table (64), as a short MiniLM run is (64 of 512)


@pytest.fixture(scope="module")
def short_exports(run, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """The Hugging Face folder and OpenSearch zip of the tiny run, as if trained on 48-token sequences."""
    from dataclasses import replace

    from bmb_train.export import export_hf, export_opensearch

    short = replace(run, max_seq_length=SHORT)
    assert short.max_length == SHORT < short.config.max_position_embeddings
    root = tmp_path_factory.mktemp("short")
    export_hf(short, root / "hf", log=lambda _: None)
    export_opensearch(root / "hf", root / "os" / "bmb-short.zip", log=lambda _: None)
    return root / "hf", root / "os" / "bmb-short.zip"


@pytest.mark.slow
def test_every_export_states_one_max_length(short_exports: tuple[Path, Path]) -> None:
    """Eland reads tokenizer_config.json, sentence-transformers sentence_bert_config.json, ml-commons the zipped
    tokenizer.json and the register body: all say the run's length, and the loaders take it."""
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    hf, archive = short_exports
    tokenizer = json.loads((hf / "tokenizer.json").read_text())
    with zipfile.ZipFile(archive) as handle:
        zipped = json.loads(handle.read("tokenizer.json"))
    register = json.loads(archive.with_name("bmb-short.model_config.json").read_text())
    stated = {
        "tokenizer.json truncation": tokenizer["truncation"]["max_length"],
        "tokenizer_config.json": json.loads((hf / "tokenizer_config.json").read_text())["model_max_length"],
        "sentence_bert_config.json": json.loads((hf / "sentence_bert_config.json").read_text())["max_seq_length"],
        "zipped tokenizer.json truncation": zipped["truncation"]["max_length"],
        "register model_config": register["model_config"]["model_max_length"],
    }
    assert stated == dict.fromkeys(stated, SHORT)
    assert tokenizer["truncation"]["strategy"] == zipped["truncation"]["strategy"] == "LongestFirst"
    assert SentenceTransformer(str(hf), device="cpu").max_seq_length == SHORT
    assert AutoTokenizer.from_pretrained(str(hf)).model_max_length == SHORT


@pytest.mark.slow
def test_opensearch_zip_truncates_a_1000_token_text(short_exports: tuple[Path, Path]) -> None:
    """ml-commons tokenises with the zipped tokenizer.json alone: it must cut a long text to what the model takes."""
    import io

    import torch
    from tokenizers import Tokenizer

    _, archive = short_exports
    with zipfile.ZipFile(archive) as handle:
        tokenizer = Tokenizer.from_str(handle.read("tokenizer.json").decode("utf-8"))
        traced = torch.jit.load(io.BytesIO(handle.read("bmb-short.pt")), map_location="cpu")
    text = " ".join(["the"] * 1000)
    untruncated = Tokenizer.from_str(tokenizer.to_str())
    untruncated.no_truncation()
    long = untruncated.encode(text)
    assert len(long.ids) == 1002  # 1,000 tokens, [CLS] and [SEP]
    beyond_positions = r"size of the tensor \(1002\) must match the existing size \(64\)"  # the position table
    with torch.no_grad(), pytest.raises(RuntimeError, match=beyond_positions):  # what an untruncated zip met
        traced({"input_ids": torch.tensor([long.ids]), "attention_mask": torch.tensor([long.attention_mask])})
    encoding = tokenizer.encode(text)
    assert len(encoding.ids) == SHORT and encoding.ids[-1] == tokenizer.token_to_id("[SEP]")
    inputs = {"input_ids": torch.tensor([encoding.ids]), "attention_mask": torch.tensor([encoding.attention_mask])}
    with torch.no_grad():
        embedding = traced(inputs)["sentence_embedding"]
    assert tuple(embedding.shape) == (1, 64) and bool(torch.isfinite(embedding).all())
