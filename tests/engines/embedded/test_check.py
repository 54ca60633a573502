"""The record checksums written at each commit, and what EmbeddedEngine.check (``bmb-es check``) makes of an index."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from bmb_es import Document, EmbeddedEngine, IndexDamagedError, IndexNotFoundError, StorageError
from bmb_es.engines import IndexedDocument
from bmb_es.engines.embedded import _sums
from bmb_es.engines.embedded._records import SOURCES_FILE, VECTORS_FILE
from bmb_es.engines.embedded._sums import SUMS_FILE, read_sums
from tests.conftest import REPO
from tests.engines.embedded.conftest import META, put
from tests.engines.embedded.test_records import _legacy_index

DOCS = [
    (Document(id="a", title="lung injury"), [1.0, 0.0, 0.0]),
    (Document(id="b", title="lung fibrosis"), [0.0, 1.0, 0.0]),
    (Document(id="c", title="kidney injury"), [0.0, 0.6, 0.8]),
]


def _item(doc: Document, vector: list[float]) -> IndexedDocument:
    return IndexedDocument(doc, doc.content_hash(), np.asarray(vector, dtype=np.float32))


def _chunk_sums(path: Path, chunk: int) -> list[int]:
    data = path.read_bytes()
    return [zlib.crc32(data[start : start + chunk]) for start in range(0, len(data), chunk)]


def test_a_healthy_index_checks_healthy_and_its_sums_cover_every_committed_byte(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    report = engine.check("t")
    assert report.healthy and report.documents == 3
    assert report.problems == () and report.warnings == ()
    sums = read_sums(engine.root / "t")
    assert sums is not None and sums.row_bytes == 12
    for name in (VECTORS_FILE, SOURCES_FILE):
        path = engine.root / "t" / name
        assert sums.files[name].size == path.stat().st_size
        assert list(sums.files[name].crcs) == _chunk_sums(path, sums.chunk_bytes)
    assert report.to_json()["healthy"] is True


def test_each_commit_extends_the_sums_and_keeps_those_of_whole_chunks(
    engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sums, "CHUNK_BYTES", 20)  # rows of 12 bytes straddle chunks; sources span several
    engine.create_index("t", META)
    for number in range(7):  # one document per commit: the short last chunk grows, then whole ones are kept
        engine.upsert("t", [_item(Document(id=f"d{number}", title=f"lung {number}"), [1.0, 0.0, 0.0])])
        engine.commit("t")
        sums = read_sums(engine.root / "t")
        assert sums is not None and sums.chunk_bytes == 20
        for name in (VECTORS_FILE, SOURCES_FILE):
            assert list(sums.files[name].crcs) == _chunk_sums(engine.root / "t" / name, 20)
    assert engine.check("t").healthy


def test_a_commit_refuses_to_sign_bytes_changed_since_the_last_commit(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    path = engine.root / "t" / VECTORS_FILE
    data = bytearray(path.read_bytes())
    data[4] ^= 0x01  # inside the short last chunk, which the next commit extends
    path.write_bytes(bytes(data))
    engine.upsert("t", [_item(Document(id="d", title="heart"), [1.0, 0.0, 0.0])])
    with pytest.raises(IndexDamagedError, match=r"vectors\.f32: bytes 0-35 changed since they were committed") as got:
        engine.commit("t")
    assert got.value.path == path
    engine.close()
    assert EmbeddedEngine(engine.root.parent).count("t") == 3  # tantivy did not commit the new document


def test_an_index_without_sums_is_checked_by_value_and_gets_them_at_its_next_commit(engine: EmbeddedEngine) -> None:
    put(engine, [*DOCS, (Document(id="long", title="lung"), [3.0, 0.0, 0.0])])
    (engine.root / "t" / SUMS_FILE).unlink()  # as an index last written by an earlier bmb-es
    report = engine.check("t")
    assert [finding.path.name for finding in report.warnings] == [SUMS_FILE]
    # Without a checksum a vector of norm 3 may be damage: the embedders write unit vectors.
    assert [str(finding) for finding in report.problems] == [
        f"{engine.root / 't' / VECTORS_FILE}: 1 referenced row(s) are not unit vectors and no checksum vouches for "
        "them: row 3 (norm 3)"
    ]
    engine.upsert("t", [_item(Document(id="d", title="heart"), [0.0, 0.0, 1.0])])
    engine.commit("t")
    report = engine.check("t")
    assert report.healthy and report.documents == 5
    assert ["row 3 (norm 3)" in finding.message for finding in report.warnings] == [True]


def test_vectors_written_as_they_are_through_the_api_are_a_warning_and_zero_vectors_are_fine(
    engine: EmbeddedEngine,
) -> None:
    put(engine, [(Document(id="a", title="lung"), [2.0, 0.0, 0.0]), (Document(id="z", title="none"), [0.0] * 3)])
    report = engine.check("t")
    assert report.healthy
    assert len(report.warnings) == 1 and "1 referenced row(s) are not unit vectors; their checksums match" in str(
        report.warnings[0]
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e30])
def test_a_vector_a_search_could_not_score_is_refused_when_written(engine: EmbeddedEngine, value: float) -> None:
    put(engine, DOCS)
    before = (engine.root / "t" / VECTORS_FILE).stat().st_size
    with pytest.raises(StorageError, match=r"document 'x': vector holds NaN, an infinity or a value beyond"):
        engine.upsert("t", [_item(Document(id="y", title="ok"), [1.0, 0, 0]), _item(Document(id="x"), [value, 0, 0])])
    assert (engine.root / "t" / VECTORS_FILE).stat().st_size == before


def test_a_dimension_changed_in_meta_json_is_found(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    path = engine.root / "t" / "meta.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "dimension": 4}))
    problems = [str(finding) for finding in EmbeddedEngine(engine.root.parent).check("t").problems]
    assert f"{path}: dimension 4 is not the one the vectors were written with (3)" in problems


def test_a_legacy_index_is_a_warning_not_damage(engine: EmbeddedEngine) -> None:
    _legacy_index(engine.root / "old")
    report = engine.check("old")
    assert report.healthy and "convert it with bmb-es merge" in report.warnings[0].message


def test_a_missing_index_is_not_found_by_check(engine: EmbeddedEngine) -> None:
    with pytest.raises(IndexNotFoundError, match="index 'absent' not found"):
        engine.check("absent")


def test_an_index_that_lost_its_metadata_is_damaged_then_deleted_and_created_again(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    (engine.root / "t" / "meta.json").unlink()
    assert engine.list_indices() == ["t"]  # still listed: its records are there
    engine.close()
    with pytest.raises(IndexDamagedError, match=r"t/meta\.json: missing \(the folder holds records\)"):
        engine.create_index("t", META)  # would pass the old records off as the new index's
    engine.delete_index("t")
    put(engine, DOCS[:1])
    assert engine.count("t") == 1 and engine.check("t").healthy


def test_the_damage_error_is_one_line_and_survives_pickling(tmp_path: Path) -> None:
    error = IndexDamagedError(tmp_path / "t" / VECTORS_FILE, "row 3 holds NaN\n(from a\ttest)", "t")
    assert "\n" not in str(error) and "row 3 holds NaN (from a test); index 't' is damaged" in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.path, again.index) == (IndexDamagedError, str(error), error.path, "t")
    assert isinstance(error, StorageError) and error.exit_code == 7


@pytest.mark.slow
def test_an_ingest_killed_mid_commit_and_resumed_checks_healthy(tmp_path: Path) -> None:
    """SIGKILL leaves torn rows and lines, sums written for a commit tantivy never made: none of it is damage."""
    corpus, home = tmp_path / "corpus.jsonl", tmp_path / "home"
    corpus.write_text("".join(json.dumps({"id": f"d{n}", "title": f"lung {n}"}) + "\n" for n in range(4000)))
    script = (
        "from tests.test_ingest_parallel import HashEmbedder\n"
        "from bmb_es import EmbeddedEngine, index_path\n"
        f"index_path({str(corpus)!r}, engine=EmbeddedEngine({str(home)!r}), index='k', embedder=HashEmbedder(),"
        " commit_every=16, optimize=False)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline and _committed(home) < 400:
        time.sleep(0.02)
    assert process.poll() is None, "the ingest finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True)
    report = EmbeddedEngine(home).check("k")
    assert (report.healthy, report.documents, report.warnings) == (True, 4000, ())


def _committed(home: Path) -> int:
    try:
        return EmbeddedEngine(home).count("k")
    except (IndexNotFoundError, StorageError):  # not created yet, or caught between its first files
        return 0
