"""Shared fixtures for the trainer tests: small slices of real corpora, a tiny vocab, shards and a tiny run."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PUBMED = DATA / "bioasq" / "pubmed" / "pubmed_abstracts.jsonl"
BREATHE = DATA / "breathe-sample"

pytest.importorskip("tensorflow", reason="the trainer needs the [tf] extra")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tensorflow_hub imports pkg_resources; torch.jit tracing and TF SavedModel loading emit notices.
    for item in items:
        if "tests/trainer" in str(item.fspath):
            item.add_marker(pytest.mark.filterwarnings("ignore::UserWarning:tensorflow_hub.*"))
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.*"))
            item.add_marker(pytest.mark.filterwarnings("ignore::FutureWarning:torch.*"))


def need_data() -> None:
    if not PUBMED.is_file():
        pytest.skip(f"shared data not found at {DATA}")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 200 PubMed abstracts of the BioASQ slice, as a JSONL corpus file."""
    need_data()
    out = tmp_path_factory.mktemp("corpus") / "pubmed.jsonl"
    with PUBMED.open(encoding="utf-8") as source:
        out.write_text("".join(itertools.islice(source, 200)), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def vocab(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bmb_train.data import CorpusStats, build_vocab, read_documents

    out = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    stats = CorpusStats()
    build_vocab((s for doc in read_documents(corpus, stats) for s in doc), out, size=1500)
    return out


@pytest.fixture(scope="session")
def shards(corpus: Path, vocab: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bmb_train.data import MaskingSettings, build_pretraining_data

    out = tmp_path_factory.mktemp("shards")
    settings = MaskingSettings(max_seq_length=64, max_predictions=10, dupe_factor=2, seed=7)
    build_pretraining_data(corpus, vocab, out, settings, num_shards=2, log=lambda _: None)
    return out


def tiny_config(vocab_size: int, dropout: float = 0.1):  # type: ignore[no-untyped-def]
    from bmb_train import PRESETS

    return replace(
        PRESETS["tiny"],
        vocab_size=vocab_size,
        max_position_embeddings=64,
        hidden_dropout=dropout,
        attention_dropout=dropout,
    )


@pytest.fixture(scope="session")
def trained_run(shards: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model (2 layers, hidden 64) pretrained for 40 steps on CPU."""
    from bmb_train.data import load_manifest
    from bmb_train.pretrain import PretrainSettings, pretrain

    out = tmp_path_factory.mktemp("run")
    manifest = load_manifest(shards)
    settings = PretrainSettings(
        data=shards,
        out=out,
        config=tiny_config(manifest.vocab_size),
        steps=40,
        batch_size=16,
        learning_rate=2e-3,
        checkpoint_every=20,
        log_every=10,
    )
    pretrain(settings, log=lambda _: None)
    return out
