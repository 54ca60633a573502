"""Embedders: the offline default, a local sentence-transformers folder, and TF-Hub SavedModel folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bmb_es import ModelLoadError, load_embedder
from bmb_es.embedding import DEFAULT_MODEL, Embedder, TfHubEmbedder, model_name

pytestmark = pytest.mark.slow


def test_default_model_is_offline_normalised_and_truncates(embedder: Embedder) -> None:
    assert (embedder.name, embedder.dimension, embedder.max_length) == (DEFAULT_MODEL, 384, 256)
    long_text = "alveolar damage " * 2000  # far past 256 tokens: truncated, not an error
    vectors = embedder.embed(["lung injury", "kidney failure", long_text], batch_size=2)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, different = embedder.embed(["damage to the lungs", "renal failure"]) @ vectors[0]
    assert similar > different


def test_local_sentence_transformers_folder(tiny_model: Path) -> None:
    tiny = load_embedder(str(tiny_model))
    assert tiny.dimension == 32 and tiny.name == str(tiny_model.resolve())
    assert np.allclose(np.linalg.norm(tiny.embed(["lung injury"]), axis=1), 1.0, atol=1e-5)


def test_default_package_path_is_recorded_as_the_canonical_name() -> None:
    from bmb_es.embedding import default_model_path

    assert model_name(str(default_model_path())) == model_name("default") == DEFAULT_MODEL


def test_missing_or_invalid_model_folders(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such folder"):
        load_embedder(str(tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="holds no loadable model"):
        load_embedder(str(tmp_path / "empty"))


tf = pytest.importorskip("tensorflow", reason="TF-Hub models need the 'tf' extra")


def _save_text_model(path: Path) -> None:
    """A SavedModel mapping strings to 8-d vectors via hashed word embeddings (the USE-style calling convention)."""
    table = tf.constant(np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32))

    class TextModel(tf.Module):  # type: ignore[misc]
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])  # type: ignore[untyped-decorator]
        def __call__(self, texts: tf.Tensor) -> tf.Tensor:
            words = tf.strings.split(tf.strings.lower(texts))
            ids = tf.strings.to_hash_bucket_fast(words, 64)
            return tf.reduce_mean(tf.gather(table, ids), axis=1)

    tf.saved_model.save(TextModel(), str(path))


def _save_bert_convention_model(path: Path) -> np.ndarray:
    """A SavedModel in the TF-Hub BERT encoder convention whose sequence output is a word-embedding lookup."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "lung", "injury", "heart"]
    weights = np.random.default_rng(1).normal(size=(len(vocab), 6)).astype(np.float32)

    class Encoder(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            self.table = tf.Variable(weights)

        @tf.function(  # type: ignore[untyped-decorator]
            input_signature=[
                {
                    "input_word_ids": tf.TensorSpec([None, None], tf.int32),
                    "input_mask": tf.TensorSpec([None, None], tf.int32),
                    "input_type_ids": tf.TensorSpec([None, None], tf.int32),
                }
            ]
        )
        def __call__(self, inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            sequence = tf.gather(self.table, inputs["input_word_ids"])
            return {"sequence_output": sequence, "pooled_output": sequence[:, 0, :]}

    tf.saved_model.save(Encoder(), str(path))
    (path / "assets").mkdir(exist_ok=True)
    (path / "assets" / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return weights


def test_tfhub_text_in_saved_model(tmp_path: Path) -> None:
    _save_text_model(tmp_path / "use")
    hub_embedder = load_embedder(str(tmp_path / "use"))
    assert isinstance(hub_embedder, TfHubEmbedder) and isinstance(hub_embedder, Embedder)  # the whole protocol
    assert (hub_embedder.backend, hub_embedder.precision, hub_embedder.selection) == (
        "tensorflow", "fp32", "tensorflow fp32"
    )  # fmt: skip
    assert hub_embedder.default_batch_size == 32 and hub_embedder.fast_tokenizer is None
    vectors = hub_embedder.embed(["Lung injury", "lung injury", "heart"], batch_size=2)
    assert hub_embedder.dimension == 8 and vectors.shape == (3, 8)
    assert np.allclose(vectors[0], vectors[1]) and not np.allclose(vectors[0], vectors[2])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_tfhub_bert_encoder_convention_is_mean_pooled_over_the_mask(tmp_path: Path) -> None:
    weights = _save_bert_convention_model(tmp_path / "bert")
    hub_embedder = load_embedder(str(tmp_path / "bert"))
    vectors = hub_embedder.embed(["lung injury", "heart"])
    # [CLS] lung injury [SEP] -> ids 2 4 5 3; [CLS] heart [SEP] [PAD] -> 2 6 3 (padding excluded)
    expected = np.stack([weights[[2, 4, 5, 3]].mean(axis=0), weights[[2, 6, 3]].mean(axis=0)])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected, atol=1e-5)


def test_the_shipped_biomedical_model_loads_offline_by_its_short_name(tmp_path: Path) -> None:
    from bmb_es import Document, EmbeddedEngine, ingest, search
    from bmb_es.embedding import BIOASQ_MODEL, load_embedder, shipped_model_path

    assert model_name("bioasq") == model_name(BIOASQ_MODEL) == BIOASQ_MODEL
    folder = shipped_model_path(BIOASQ_MODEL)
    assert (folder / "model.safetensors").stat().st_size < 50_000_000  # fp16 weights, as shipped in the repository
    embedder = load_embedder("bioasq", precision="fp32", backend="torch")
    assert (embedder.name, embedder.dimension, embedder.max_length) == (BIOASQ_MODEL, 384, 256)
    vectors = embedder.embed(
        ["sleep apnea and cardiac arrhythmias", "obstructive sleep apnoea and atrial fibrillation"]
    )
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5) and float(vectors[0] @ vectors[1]) > 0.5
    engine = EmbeddedEngine(tmp_path)
    docs = [Document(id="a", title="Sleep apnea and arrhythmia"), Document(id="b", title="Kidney stones in children")]
    ingest(docs, engine, "t", embedder)
    assert engine.index_meta("t").model == BIOASQ_MODEL  # an id, not a path: the index works on any machine
    hits = search(engine, "t", "does sleep apnea cause arrhythmias", size=2, top_k=2).hits
    assert hits[0].id == "a"  # the question was encoded with the index's model, found by its recorded id
