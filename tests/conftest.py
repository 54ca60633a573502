"""Shared fixtures: the real data in ../shared/data (skipped when absent) and the offline default model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bmb_es._load_order import load_triton_before_tensorflow

# Test modules import TensorFlow while being collected (importorskip); Triton loaded after it segfaults.
load_triton_before_tensorflow()

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BMB_ES_SHARED_DATA", REPO.parent / "shared" / "data"))
EXAMPLES = REPO / "examples"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} (a fresh checkout has no ../shared/data)")
    return path


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The offline default model, loaded once per test session."""
    from bmb_es.embedding import load_embedder

    return load_embedder()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private bmb-es data dir; BMB_ES_HOME points at it so subprocesses use it too."""
    root = tmp_path / "bmb-home"
    monkeypatch.setenv("BMB_ES_HOME", str(root))
    yield root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised BERT saved as a sentence-transformers folder (32-d), built offline."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-model")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "lung", "injury", "heart", "the", "of"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    hf = folder / "hf"
    BertTokenizerFast(vocab=str(folder / "vocab.txt")).save_pretrained(hf)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(hf)
    encoder = Transformer(str(hf), max_seq_length=64)
    pooling = Pooling(encoder.get_embedding_dimension(), pooling_mode="mean")
    out = folder / "st"
    SentenceTransformer(modules=[encoder, pooling], device="cpu").save(str(out))
    return out
