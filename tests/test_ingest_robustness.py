"""Ingest loses nothing: per-record failures are rejects, long ids are hashed the same way for every engine, every
coercion is counted, and one run over a corpus of every kind of bad record and file accounts for each of them."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from bmb_es import EmbeddedEngine
from bmb_es._api import index_path
from bmb_es._document import MAX_ID_BYTES, Document
from bmb_es._ingest import IngestSummary, ingest
from bmb_es.cli._output import render_summary
from bmb_es.engines import open_engine
from bmb_es.readers import Reject
from bmb_es.readers._records import MAX_NESTING
from tests.engines.cluster.fake_cluster import start
from tests.test_ingest_parallel import HashEmbedder


def _good(number: int, **extra: object) -> str:
    return json.dumps({"id": f"good-{number}", "title": f"Good {number}", "abstract": "Lung injury.", **extra})


def _check_balance(summary: IngestSummary) -> None:
    counted = summary.indexed + summary.updated + summary.unchanged + summary.duplicates + summary.rejected
    counted += summary.unwritten  # an interrupted run's documents read but not written
    assert summary.read == counted


# -- item 1, defensively: a record that fails in ingest is a reject, not an abort ---------------------------------


def test_a_document_that_cannot_be_encoded_is_rejected_and_the_run_goes_on(data_dir: Path, tmp_path: Path) -> None:
    engine = EmbeddedEngine()
    log = tmp_path / "rejects.jsonl"
    documents = [
        Document(id="a", title="Good"),
        Document(id="b", title="x\ud800y"),  # built by a caller, not a reader: nothing cleaned it
        Document(id="c\udc80", title="Bad id"),
        Document(id="d", title="Also good"),
    ]
    summary = ingest(documents, engine, "t", HashEmbedder(), reject_log=log)
    assert (summary.read, summary.indexed, summary.rejected) == (4, 2, 2)
    reasons = [json.loads(line)["reason"] for line in log.read_text().splitlines()]
    assert len(reasons) == 2 and all("UnicodeEncodeError" in reason for reason in reasons)
    assert "'b'" in reasons[0]
    assert engine.count("t") == 2


# -- item 2: long ids --------------------------------------------------------------------------------------------


def test_a_70000_byte_id_indexed_three_times_is_one_document(data_dir: Path, tmp_path: Path) -> None:
    long_id = "PMC-" + "x" * 69_996
    corpus = tmp_path / "corpus"  # not tmp_path itself: it holds the data dir
    corpus.mkdir()
    (corpus / "c.jsonl").write_text(
        json.dumps({"id": long_id, "title": "Long id", "abstract": "Sepsis."}) + "\n" + _good(1) + "\n"
    )
    engine = EmbeddedEngine()
    runs = [index_path(corpus, engine=engine, index="t", embedder=HashEmbedder()) for _ in range(3)]
    assert engine.count("t") == 2
    assert [(run.indexed, run.unchanged) for run in runs] == [(2, 0), (0, 2), (0, 2)]
    assert all(run.coerced == {f"id: over {MAX_ID_BYTES} bytes → sha256 id": 1} for run in runs)
    stored = [item.document for item in engine.get("t", [Document(id=long_id).bounded().id]).values()]
    assert len(stored) == 1 and stored[0].id.startswith("sha256:") and stored[0].extra["original_id"] == long_id


@pytest.mark.parametrize("flavor", ["es8", "os2"])
def test_clusters_get_the_same_hashed_id_as_the_embedded_engine(data_dir: Path, flavor: str) -> None:
    long_id = "PMC-" + "x" * 69_996
    documents = [Document(id=long_id, title="Long id", abstract="Sepsis.")]
    embedded = EmbeddedEngine()
    ingest(documents, embedded, "papers", HashEmbedder())
    fake, server = start(flavor)
    try:
        prefix = "BMB_ES_" if fake.is_es else "BMB_OS_"
        cluster = open_engine(environ={f"{prefix}URL": fake.url})
        runs = [ingest(documents, cluster, "papers", HashEmbedder()) for _ in range(3)]
    finally:
        server.shutdown()
        server.server_close()
    assert [(run.indexed, run.unchanged) for run in runs] == [(1, 0), (0, 1), (0, 1)]
    (stored_id,) = fake.indices["papers"]["docs"]
    assert len(stored_id.encode()) <= MAX_ID_BYTES  # Elasticsearch refuses a longer _id
    assert [stored_id] == list(embedded.get("papers", [stored_id]))
    assert fake.indices["papers"]["docs"][stored_id]["extra"] == {"original_id": long_id}


def test_ids_are_limited_in_utf8_bytes_not_characters(data_dir: Path) -> None:
    engine = EmbeddedEngine()
    fits = "é" * (MAX_ID_BYTES // 2)  # 512 bytes
    too_long = "é" * (MAX_ID_BYTES // 2) + "x"  # 513 bytes, 257 characters
    summary = ingest(
        [Document(id=fits, title="A"), Document(id=too_long, title="B", extra={"original_id": "theirs"})],
        engine,
        "t",
        HashEmbedder(),
    )
    assert summary.coerced == {f"id: over {MAX_ID_BYTES} bytes → sha256 id": 1}
    ids = sorted(engine.get("t", [fits]).keys())
    assert ids == [fits]
    hashed = Document(id=too_long).bounded()
    assert hashed.id.startswith("sha256:") and len(hashed.id.encode()) <= MAX_ID_BYTES
    (stored,) = engine.get("t", [hashed.id]).values()
    # A source field already named original_id is kept: the long id goes beside it.
    assert stored.document.extra == {"original_id": "theirs", "_original_id": too_long}


# -- item 5: coercions are counted and shown ----------------------------------------------------------------------


def test_coercions_are_counted_in_the_summary_json_and_cli(data_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_bytes(
        b'{"id": 1, "title": 2, "abstract": "caf\xe9"}\n{"id": "b", "title": ["T", "U"], "abstract": "A"}\n'
    )
    summary = index_path(corpus, engine=EmbeddedEngine(), index="t", embedder=HashEmbedder())
    assert summary.coerced == {
        "id: number → text": 1,
        "title: number → text": 1,
        "title: list → joined text": 1,
        "invalid UTF-8 → U+FFFD": 1,
    }
    assert summary.to_json()["coerced"] == summary.coerced
    out = io.StringIO()
    render_summary(Console(file=out, width=200), summary)
    assert "coerced 4 values in 2 records:" in out.getvalue() and "title: list → joined text 1" in out.getvalue()


# -- the generator test: every kind of bad record and file in one run ---------------------------------------------


def _bad_corpus(root: Path) -> dict[str, str]:
    """Write good and bad records and files under ``root``; return the expected skip reason per skipped file."""
    root.mkdir()
    lines = [
        _good(1),
        "{not json",  # invalid JSON
        "[1, 2]",  # not an object
        json.dumps({"id": "empty", "title": "  ", "abstract": ""}),  # empty text
        '{"id": "deep", "title": "x", "n": ' + "[" * 5000 + "]" * 5000 + "}",  # RecursionError in json
        '{"id": "deep2", "title": "x", "n": ' + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1) + "}",
        '{"id": "surrogate", "title": "x\\ud800", "abstract": "a"}',  # lone surrogate
        json.dumps({"id": "types", "title": 12, "abstract": ["a", "b"], "journal": {"j": 1}, "authors": 5}),
        json.dumps({"id": "nul", "title": "a\u0000b", "abstract": "NUL inside"}),  # NUL character
        '{"id": "rawnul", "title": "a\x00b"}',  # a raw NUL byte: invalid JSON
        json.dumps({"id": "nan", "title": "NaN", "abstract": "x", "score": float("nan")}),
        json.dumps({"id": "L" * 70_000, "title": "Long id", "abstract": "x"}),  # long id
        _good(2),
        _good(2),  # duplicate in the run
        json.dumps({"id": "good-2", "title": "Changed", "abstract": "y"}),  # same id, new content: an update
        json.dumps({"title": "No id at all", "abstract": "content id"}),
        json.dumps({"id": "huge", "title": "Huge", "abstract": "word " * 400_000}),  # 2 MB record
        json.dumps({"id": None, "title": None, "abstract": None}),  # nothing
    ]
    (root / "mixed.jsonl").write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "badutf8", "title": "caf\xe9"}\n')
    (root / "bom.jsonl").write_bytes(codecs.BOM_UTF8 + (_good(3) + "\n").encode())
    (root / "utf16.jsonl").write_bytes((_good(4) + "\n" + _good(5) + "\n").encode("utf-16"))
    (root / "utf16.csv").write_bytes("id,title,abstract\nc16,Ünï,A\n".encode("utf-16-le"))
    with open(root / "bad.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "abstract"])
        writer.writerow(["c1", "CSV title", "CSV abstract"])
        writer.writerow(["c2", "only two"])  # wrong column count
        writer.writerow(["c3", "", ""])  # empty
    (root / "array.json").write_text(json.dumps([{"id": "j1", "title": "T", "abstract": "A"}, 5, "x"]))
    (root / "broken.json").write_text('[{"id": "j2", "title": "T"')  # truncated JSON
    with gzip.open(root / "part.jsonl.gz", "wt") as handle:
        handle.write(_good(6) + "\n")
    (root / "truncated.jsonl.gz").write_bytes(
        gzip.compress("".join(_good(n) + "\n" for n in range(100, 600)).encode())[:900]
    )
    (root / "notgzip.jsonl.gz").write_text(_good(8) + "\n")
    (root / "empty.jsonl").write_text("")
    (root / "readme.md").write_text("not records")
    os.mkfifo(root / "pipe.jsonl")
    (root / "broken-link.jsonl").symlink_to(root / "nowhere.jsonl")
    (root / "loop.jsonl").symlink_to(root / "loop.jsonl")
    (root / "questions.csv").write_text("question,answer\nq,a\n")  # no text columns: unknown format
    (root / os.fsdecode(b"name-\xff.jsonl")).write_text(_good(9) + "\n")  # a file name that is not UTF-8
    (root / os.fsdecode(b"notes-\xff.md")).write_text("skipped, and its name printed")
    expected = {
        "readme.md": "not a record file",
        os.fsdecode(b"notes-\xff.md"): "not a record file",
        "pipe.jsonl": "not a regular file",
        "broken-link.jsonl": "broken symlink",
        "loop.jsonl": "symlink loop",
        "questions.csv": "unknown format",
        "notgzip.jsonl.gz": "not a gzip file",
        "empty.jsonl": "no records",
    }
    if os.geteuid() != 0:  # root reads files whatever their mode
        (root / "locked.jsonl").write_text(_good(10) + "\n")
        (root / "locked.jsonl").chmod(0)
        expected["locked.jsonl"] = "permission denied"
    return expected


def test_one_run_over_every_kind_of_bad_record_and_file(data_dir: Path, tmp_path: Path) -> None:
    expected_skips = _bad_corpus(tmp_path / "corpus")
    log = tmp_path / "rejects.jsonl"
    engine = EmbeddedEngine()
    summary = index_path(tmp_path / "corpus", engine=engine, index="t", embedder=HashEmbedder(), reject_log=log)
    _check_balance(summary)
    assert not summary.interrupted
    skipped = {Path(name).name: reason for name, reason in summary.skipped_files}
    assert set(skipped) == set(expected_skips)
    for name, reason in expected_skips.items():
        assert skipped[name].startswith(reason), (name, skipped[name])
    rejects = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rejects) == summary.rejected
    by_line = {(Path(r["file"]).name, r["line"]): r["reason"] for r in rejects}
    assert by_line[("mixed.jsonl", 2)].startswith("invalid JSON")
    assert "nested" in by_line[("mixed.jsonl", 5)] and "nested" in by_line[("mixed.jsonl", 6)]
    assert by_line[("bad.csv", 3)].startswith("CSV row has 2 columns")
    assert by_line[("broken.json", 1)].startswith("invalid JSON")
    (truncated,) = [reason for (name, _), reason in by_line.items() if name == "truncated.jsonl.gz"]
    assert "unreadable" in truncated
    stored = engine.get("t", ["good-1", "surrogate", "types", "nul", "badutf8", "good-3", "good-4", "c16", "huge"])
    assert set(stored) == {"good-1", "surrogate", "types", "nul", "badutf8", "good-3", "good-4", "c16", "huge"}
    assert engine.get("t", ["good-2"])["good-2"].document.title == "Changed"
    assert summary.duplicates == 1 and summary.updated == 1
    assert summary.coerced["lone surrogate → U+FFFD"] == 1 and summary.coerced["invalid UTF-8 → U+FFFD"] == 1
    assert summary.coerced[f"id: over {MAX_ID_BYTES} bytes → sha256 id"] == 1
    terminal = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # strict, as a terminal is
    render_summary(Console(file=terminal, width=200), summary)  # prints every odd name without raising
    terminal.flush()
    json.dumps(summary.to_json())
    # A second run reads and rejects the same, and adds nothing.
    again = index_path(tmp_path / "corpus", engine=engine, index="t", embedder=HashEmbedder(), reject_log=log)
    _check_balance(again)
    assert (again.read, again.rejected, again.indexed) == (summary.read, summary.rejected, 0)


def test_reject_log_and_summary_survive_file_names_that_are_not_utf8(data_dir: Path, tmp_path: Path) -> None:
    name = b"bad-\xff.jsonl".decode("utf-8", "surrogateescape")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / name).write_text("{oops\n" + json.dumps({"id": "x", "title": "ok"}) + "\n")
    log = tmp_path / "rejects.jsonl"
    summary = index_path(tmp_path / "c", engine=EmbeddedEngine(), index="t", embedder=HashEmbedder(), reject_log=log)
    assert (summary.read, summary.indexed, summary.rejected) == (2, 1, 1)
    (reject,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert os.fsencode(reject["file"]).endswith(b"bad-\xff.jsonl")  # the exact name, escaped
    assert isinstance(Reject(**reject), Reject)
