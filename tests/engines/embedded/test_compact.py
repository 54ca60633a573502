"""``compact``: record files rewritten without the rows that re-indexed documents left, the index otherwise the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import bmb_es
from bmb_es import Document, EmbeddedEngine, StorageError, build_query
from bmb_es.engines import IndexedDocument
from bmb_es.engines.embedded import _compact
from bmb_es.engines.embedded._compact import record_bytes
from tests.engines.embedded.conftest import META, put
from tests.support import ConstantEmbedder

WORDS = ["lung", "heart", "kidney", "virus", "infection", "damage", "injury", "acute", "chronic", "cell"]


def _doc(number: int, version: int) -> tuple[Document, list[float]]:
    title = f"{WORDS[number % 10]} {WORDS[(number * 3 + version) % 10]} study {number}"
    abstract = " ".join(WORDS[(number + version + k) % 10] for k in range(6)) + f" version {version}"
    angle = 0.1 * number + version
    return Document(id=f"d{number}", title=title, abstract=abstract), [np.cos(angle), np.sin(angle), 0.5]


def _grown(tmp_path: Path) -> EmbeddedEngine:
    """An index of 40 documents, each re-indexed twice with changed text and vector (two dead rows per document)."""
    engine = EmbeddedEngine(tmp_path / "home")
    for version in range(3):
        put(engine, [_doc(number, version) for number in range(40)])
    engine.close()  # its writer's lock goes back, as when an ingest process ends
    return engine


def _state(engine: EmbeddedEngine) -> dict[str, Any]:
    """Everything a user can read of the index: documents with vectors, and ranked hits of a few searches."""
    stored = engine.get("t", [f"d{number}" for number in range(40)])
    searches = []
    for question in ("lung damage", "virus infection heart", "version 2 chronic"):
        body = build_query(question, size=20, fields=["title", "abstract"])
        searches.append([(hit["_id"], hit["_score"]) for hit in engine.search("t", body)["hits"]["hits"]])
        result = bmb_es.search(engine, "t", question, size=20, embedder=ConstantEmbedder([0.6, 0.8, 0.0], META.model))
        searches.append([(hit.id, hit.score) for hit in result.hits])
    return {
        "count": engine.count("t"),
        "documents": {key: (item.document, item.content_hash, item.vector.tolist()) for key, item in stored.items()},
        "searches": searches,
    }


def test_compaction_keeps_every_document_and_ranking_and_drops_the_dead_rows(tmp_path: Path) -> None:
    engine = _grown(tmp_path)
    folder = engine.root / "t"
    before = _state(engine)
    grown = record_bytes(folder)
    seen: list[int] = []
    summary = engine.compact("t", batch=16, progress=seen.append)
    assert summary.documents == 40 and seen == [16, 32, 40]
    assert summary.bytes_before == grown and summary.bytes_after == record_bytes(folder)
    assert (folder / "vectors.f32").stat().st_size == 40 * 3 * 4  # one row per live document
    assert summary.bytes_after < grown / 2.5  # three versions written, one kept
    assert _state(engine) == before
    assert _state(EmbeddedEngine(tmp_path / "home")) == before  # read from disk afresh
    assert engine.segments("t") == 1 and engine.check("t").healthy
    assert engine.list_indices() == ["t"] and sorted(os.listdir(engine.root)) == ["t"]


def test_pending_writes_are_committed_and_kept(tmp_path: Path) -> None:
    engine = _grown(tmp_path)
    document, vector = _doc(99, 0)
    engine.upsert("t", [IndexedDocument(document, document.content_hash(), np.asarray(vector, dtype=np.float32))])
    assert engine.compact("t").documents == 41
    assert engine.get("t", ["d99"])["d99"].document == document


def test_a_reader_that_opened_the_index_before_reads_the_compacted_one(tmp_path: Path) -> None:
    engine = _grown(tmp_path)
    other = EmbeddedEngine(tmp_path / "home")  # as another process: its own maps and tantivy reader
    before = _state(other)
    engine.compact("t")
    assert _state(other) == before


def test_another_writer_holding_the_lock_stops_it_and_nothing_changes(tmp_path: Path) -> None:
    engine = _grown(tmp_path)
    other = EmbeddedEngine(tmp_path / "home")
    other.ensure_writable("t")  # holds tantivy's writer lock
    grown = record_bytes(engine.root / "t")
    with pytest.raises(StorageError, match="another bmb-es process"):
        engine.compact("t")
    assert record_bytes(engine.root / "t") == grown and sorted(os.listdir(engine.root)) == ["t"]


def _before_the_swap(monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], None]) -> None:
    """Run ``meanwhile`` once the copy is done and its writer lock released, just before the swap."""
    swap = _compact._swap_if_unchanged

    def late(folder: Path, copy: Path, copied: bytes) -> None:
        meanwhile()
        swap(folder, copy, copied)

    monkeypatch.setattr(_compact, "_swap_if_unchanged", late)


def test_a_commit_landing_between_copy_and_swap_leaves_the_index_as_that_commit_made_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _grown(tmp_path)
    other = EmbeddedEngine(tmp_path / "home")
    late, vector = _doc(7, 5)

    def commit_and_end() -> None:  # as another process: it commits, then ends (its lock goes back)
        put(other, [(late, vector)])
        other.close()

    _before_the_swap(monkeypatch, commit_and_end)
    with pytest.raises(StorageError, match="committed to it during the compaction; nothing changed"):
        engine.compact("t")
    assert EmbeddedEngine(tmp_path / "home").get("t", ["d7"])["d7"].document == late
    assert sorted(os.listdir(engine.root)) == ["t"]


def test_a_writer_opening_between_copy_and_swap_stops_the_swap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _grown(tmp_path)
    other = EmbeddedEngine(tmp_path / "home")
    _before_the_swap(monkeypatch, lambda: other.ensure_writable("t"))
    grown = record_bytes(engine.root / "t")
    with pytest.raises(StorageError, match="began writing to it during the compaction"):
        engine.compact("t")
    assert record_bytes(engine.root / "t") == grown and sorted(os.listdir(engine.root)) == ["t"]


def test_where_folders_cannot_be_swapped_it_says_so_before_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _grown(tmp_path)

    def refused(first: Path, second: Path) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(_compact, "exchange", refused)
    copied: list[int] = []
    with pytest.raises(StorageError, match=r"cannot be swapped atomically.*bmb-es merge"):
        engine.compact("t", progress=copied.append)
    assert copied == [] and sorted(os.listdir(engine.root)) == ["t"]


def test_a_copy_left_by_an_interrupted_compaction_is_not_an_index_and_goes(tmp_path: Path) -> None:
    engine = _grown(tmp_path)
    left = EmbeddedEngine(tmp_path / "home")
    put(left, [_doc(1, 0)], index="left")
    left.close()
    os.rename(engine.root / "left", engine.root / ".compact-t")  # as a crash after the swap leaves the old index
    assert engine.list_indices() == ["t"]
    engine.compact("t")
    assert sorted(os.listdir(engine.root)) == ["t"]


def test_cli_optimize_compact_says_what_it_reclaimed(tmp_path: Path) -> None:
    _grown(tmp_path)
    env = {**os.environ, "BMB_ES_HOME": str(tmp_path / "home")}
    run = [sys.executable, "-m", "bmb_es", "optimize", "t", "--compact"]
    line = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert line.stdout.startswith("compacted t: 40 documents in ") and "MiB reclaimed)" in line.stdout
    assert "Traceback" not in line.stderr
    again = json.loads(subprocess.run([*run, "--json"], env=env, capture_output=True, text=True, check=True).stdout)
    assert again["documents"] == 40 and again["reclaimed_bytes"] == 0


def test_optimize_tells_when_most_rows_are_dead_and_compact_leaves_none(tmp_path: Path) -> None:
    engine = _grown(tmp_path)
    assert engine.record_rows("t") == (120, 40)
    env = {**os.environ, "BMB_ES_HOME": str(tmp_path / "home")}
    optimize = [sys.executable, "-m", "bmb_es", "optimize", "t"]
    told = subprocess.run(optimize, env=env, capture_output=True, text=True, check=True).stdout
    assert "80 of the record files' 120 rows (67%) belong to no live document" in told
    assert "bmb-es optimize t --compact drops them" in told
    engine.compact("t")
    assert engine.record_rows("t") == (40, 40)
    quiet = subprocess.run(optimize, env=env, capture_output=True, text=True, check=True).stdout
    assert quiet.strip() == "t: nothing to do (1 segment)"
    counts = json.loads(subprocess.run([*optimize, "--json"], env=env, capture_output=True, text=True).stdout)
    assert (counts["record_rows"], counts["live_documents"]) == (40, 40)


def test_a_disk_too_full_for_the_copy_is_told_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _grown(tmp_path)
    full = SimpleNamespace(total=10**9, used=10**9, free=1000)
    monkeypatch.setattr(_compact.shutil, "disk_usage", lambda path: full)
    copied: list[int] = []
    with pytest.raises(StorageError, match=r"needs about [0-9.]+ MiB free beside it for the copy, 0\.0 MiB are"):
        engine.compact("t", progress=copied.append)
    assert copied == [] and sorted(os.listdir(engine.root)) == ["t"]
