"""Ingest's guards, with a fake embedder (no model): a second writer is refused before any model work, and an
interrupted run's summary counts only what the index holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import bmb_es._api
from bmb_es import Document, EmbeddedEngine, StorageError, index_path
from bmb_es._ingest import ingest
from bmb_es.cli import app
from bmb_es.engines import IndexedDocument
from tests.support import ConstantEmbedder


def _documents(count: int, start: int = 0) -> list[Document]:
    return [Document(id=f"d{n}", title=f"lung injury {n}", abstract="alveoli") for n in range(start, start + count)]


def _corpus(path: Path, documents: list[Document]) -> Path:
    path.write_text("".join(json.dumps(doc.to_source()) + "\n" for doc in documents), encoding="utf-8")
    return path


@pytest.fixture
def locked(tmp_path: Path) -> tuple[Path, EmbeddedEngine]:
    """An index and another engine holding its writer lock, as a running ``bmb-es index`` does."""
    root = tmp_path / "home"
    ingest(_documents(1), EmbeddedEngine(root), "papers", ConstantEmbedder(), optimize=False)
    holder = EmbeddedEngine(root)
    document = Document(id="held", title="held open")
    holder.upsert("papers", [IndexedDocument(document, document.content_hash(), np.ones(4, dtype=np.float32))])
    return root, holder


def _no_model(*args: object, **kwargs: object) -> None:
    raise AssertionError("a model was loaded before the index's writer lock was checked")


def test_a_second_writer_is_refused_before_the_model_loads(
    locked: tuple[Path, EmbeddedEngine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = locked
    monkeypatch.setattr(bmb_es._api, "load_embedder", _no_model)
    corpus = _corpus(tmp_path / "corpus.jsonl", _documents(5, 10))
    with pytest.raises(StorageError, match="another bmb-es process"):
        index_path(corpus, engine=EmbeddedEngine(root), index="papers", reject_log=tmp_path / "rejects.jsonl")


def test_a_second_writer_with_an_embedder_is_refused_before_it_embeds(
    locked: tuple[Path, EmbeddedEngine], tmp_path: Path
) -> None:
    root, _ = locked
    embedder = ConstantEmbedder()
    corpus = _corpus(tmp_path / "corpus.jsonl", _documents(5, 10))
    with pytest.raises(StorageError, match="another bmb-es process"):
        index_path(corpus, engine=EmbeddedEngine(root), index="papers", embedder=embedder)
    assert embedder.calls == 0


def test_the_cli_refuses_a_second_writer_in_one_line(
    locked: tuple[Path, EmbeddedEngine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = locked
    monkeypatch.setattr(bmb_es._api, "load_embedder", _no_model)
    corpus = _corpus(tmp_path / "corpus.jsonl", _documents(5, 10))
    result = CliRunner().invoke(app, ["index", str(corpus), "--data-dir", str(root), "-q"])
    assert result.exit_code == 7, result.output
    assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1
    assert "another bmb-es process" in result.output


def test_a_writer_is_let_through_once_the_other_lets_go(locked: tuple[Path, EmbeddedEngine], tmp_path: Path) -> None:
    root, holder = locked
    holder.close()  # the other run ends: its lock goes back
    corpus = _corpus(tmp_path / "corpus.jsonl", _documents(5, 10))
    summary = index_path(corpus, engine=EmbeddedEngine(root), index="papers", embedder=ConstantEmbedder())
    assert summary.indexed == 5 and EmbeddedEngine(root).count("papers") == 6


@pytest.mark.parametrize(("interrupt_at", "written"), [(1, 0), (2, 10), (3, 20)])
def test_an_interrupted_run_counts_only_what_the_index_holds(tmp_path: Path, interrupt_at: int, written: int) -> None:
    engine = EmbeddedEngine(tmp_path / "home")
    summary = ingest(
        _documents(30),
        engine,
        "papers",
        ConstantEmbedder(interrupt_at=interrupt_at),
        chunk_size=10,
        commit_every=10,
        read_ahead=0,
        optimize=False,
    )
    assert summary.interrupted
    assert EmbeddedEngine(tmp_path / "home").count("papers") == written
    assert (summary.indexed, summary.embedded) == (written, written)
    counted = summary.indexed + summary.updated + summary.unchanged + summary.duplicates + summary.rejected
    assert summary.read == counted + summary.unwritten and summary.unwritten == summary.read - written
    assert summary.to_json()["unwritten"] == summary.unwritten

    again = ingest(_documents(30), engine, "papers", ConstantEmbedder(), chunk_size=10, read_ahead=0, optimize=False)
    assert (again.indexed, again.unchanged, again.unwritten) == (30 - written, written, 0)
    assert not again.interrupted and EmbeddedEngine(tmp_path / "home").count("papers") == 30


def test_an_interrupted_update_is_not_counted_as_updated(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "home")
    ingest(_documents(10), engine, "papers", ConstantEmbedder(), read_ahead=0, optimize=False)
    changed = [Document(id=doc.id, title=doc.title, abstract="fibrosis") for doc in _documents(10)]
    summary = ingest(changed, engine, "papers", ConstantEmbedder(interrupt_at=1), read_ahead=0, optimize=False)
    assert summary.interrupted and (summary.updated, summary.unwritten, summary.read) == (0, 10, 10)
    assert EmbeddedEngine(tmp_path / "home").get("papers", ["d0"])["d0"].document.abstract == "alveoli"


def test_the_cli_summary_of_an_interrupted_run_says_what_was_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bmb_es._api, "load_embedder", lambda *args, **kwargs: ConstantEmbedder(interrupt_at=1))
    corpus = _corpus(tmp_path / "corpus.jsonl", _documents(5))
    result = CliRunner().invoke(app, ["index", str(corpus), "--data-dir", str(tmp_path / "home"), "-q"])
    assert result.exit_code == 130, result.output
    assert "interrupted — re-run the same command to resume: index papers — read 5, new 0, " in result.output
    assert "rejected 0, not written 5 in " in result.output
    assert EmbeddedEngine(tmp_path / "home").count("papers") == 0
