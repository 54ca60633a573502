"""Readers never lose a record silently: bad records become Rejects, coercions are noted, and every file that is
not read is skipped with its true reason (never "unknown format" for a file that could not even be opened)."""

from __future__ import annotations

import codecs
import errno
import gzip
import json
import os
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from bmb_es import Document, InputError
from bmb_es.readers import CorpusFile, CorpusPlan, Reject, iter_corpus, plan_corpus, read_corpus
from bmb_es.readers._records import MAX_NESTING, RawRecord


def _items(path: Path, **kwargs: object) -> list[Document | Reject]:
    return list(read_corpus(path, **kwargs))  # type: ignore[arg-type]


def _good(number: int) -> str:
    return json.dumps({"id": f"good-{number}", "title": f"Good {number}", "abstract": "Lung injury."})


def _reasons(plan: CorpusPlan) -> dict[str, str]:
    return {path.name: reason for path, reason in plan.skipped}


# -- item 1: one record must not block the corpus --------------------------------------------------------------


def test_deeply_nested_records_are_rejected_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    too_deep_for_json = '{"id": "d1", "title": "x", "nest": ' + "[" * 5000 + "]" * 5000 + "}"
    too_deep_to_keep = '{"id": "d2", "title": "x", "nest": ' + "[" * (MAX_NESTING + 5) + "]" * (MAX_NESTING + 5) + "}"
    path.write_text("\n".join([_good(1), too_deep_for_json, too_deep_to_keep, _good(2)]) + "\n")
    items = _items(path)
    assert [type(item).__name__ for item in items] == ["Document", "Reject", "Reject", "Document"]
    rejects = [item for item in items if isinstance(item, Reject)]
    assert [(r.file, r.line) for r in rejects] == [(str(path), 2), (str(path), 3)]
    assert all("nested" in r.reason for r in rejects)


def test_deeply_nested_json_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 5000 + "]" * 5000)
    (tmp_path / "ok.jsonl").write_text(_good(1) + "\n")
    items = _items(tmp_path, format="generic")
    assert [type(item).__name__ for item in items] == ["Reject", "Document"]
    assert isinstance(items[0], Reject) and "nested" in items[0].reason


def test_lone_surrogates_are_replaced_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": "s", "title": "x\\ud800y", "abstract": "a", "k\\udc00": ["\\udfff"]}\n' + _good(1) + "\n")
    doc, good = _items(path)
    assert isinstance(doc, Document) and isinstance(good, Document)
    assert doc.title == "x\ufffdy"
    assert doc.extra == {"k\ufffd": ["\ufffd"]}
    assert doc.coerced.count("lone surrogate → U+FFFD") == 3
    doc.content_hash()  # encodable now: the run does not stop at it later
    assert good.coerced == ()


def test_a_converter_that_raises_rejects_only_its_record(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(_good(1) + "\n" + _good(2) + "\n")

    def converter(record: RawRecord) -> Document | Reject:
        if record.line == 1:
            raise ValueError("boom")
        return Document(id="ok", title="fine")

    items = list(iter_corpus(CorpusPlan((CorpusFile(path, "generic", converter),), ())))
    assert isinstance(items[0], Reject) and items[0].line == 1 and "ValueError: boom" in items[0].reason
    assert isinstance(items[1], Document)


def test_a_corrupt_gzip_stream_rejects_the_rest_of_its_file_only(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(("".join(_good(n) + "\n" for n in range(2000))).encode()))
    shuffle = random.Random(1)
    for _ in range(20):  # damaged deflate data: zlib.error, which is not an OSError
        data[shuffle.randrange(20, len(data) - 20)] = shuffle.randrange(256)
    (tmp_path / "a.jsonl.gz").write_bytes(bytes(data))
    (tmp_path / "b.jsonl").write_text(_good(9) + "\n")
    items = _items(tmp_path)
    rejects = [item for item in items if isinstance(item, Reject)]
    assert len(rejects) == 1 and "unreadable" in rejects[0].reason
    assert "good-9" in {item.id for item in items if isinstance(item, Document)}


# -- item 4: files counted nowhere -------------------------------------------------------------------------------


def test_utf8_bom_is_read_in_jsonl_json_and_csv(tmp_path: Path) -> None:
    bom = codecs.BOM_UTF8
    (tmp_path / "a.jsonl").write_bytes(bom + (_good(1) + "\n" + _good(2) + "\n").encode())
    (tmp_path / "b.json").write_bytes(bom + json.dumps([{"id": "j", "title": "T", "abstract": "A"}]).encode())
    (tmp_path / "c.csv").write_bytes(bom + b"id,title,abstract\nc,T,A\n")
    plan = plan_corpus(tmp_path)
    assert plan.skipped == ()
    items = _items(tmp_path)
    assert sorted(item.id for item in items if isinstance(item, Document)) == ["c", "good-1", "good-2", "j"]
    assert all(isinstance(item, Document) and item.coerced == () for item in items)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_are_read(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "a.jsonl").write_bytes((_good(1) + "\n" + '{"id": "é", "title": "Étude 😷"}\n').encode(encoding))
    (tmp_path / "b.csv").write_bytes("id,title,abstract\nc,Ünï,A\n".encode(encoding))
    plan = plan_corpus(tmp_path)
    assert plan.skipped == ()
    docs = [item for item in _items(tmp_path) if isinstance(item, Document)]
    assert {doc.id: doc.title for doc in docs} == {"good-1": "Good 1", "é": "Étude 😷", "c": "Ünï"}
    assert all(doc.coerced == () for doc in docs)


def test_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    (tmp_path / "ok.jsonl").write_text(_good(1) + "\n")
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(_items(tmp_path)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    try:
        assert not worker.is_alive(), "reading a corpus holding a FIFO hangs"
    finally:
        if worker.is_alive():  # release the blocked reader of today's code
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert [item.id for item in done[0] if isinstance(item, Document)] == ["good-1"]  # type: ignore[attr-defined]
    assert "not a regular file" in _reasons(plan_corpus(tmp_path))["pipe.jsonl"]
    with pytest.raises(InputError, match="not a regular file"):
        plan_corpus(fifo)


def test_broken_symlink_and_symlink_loop_give_their_reasons(tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_text(_good(1) + "\n")
    (tmp_path / "broken.jsonl").symlink_to(tmp_path / "missing.jsonl")
    (tmp_path / "loop.jsonl").symlink_to(tmp_path / "loop.jsonl")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "x.jsonl").write_text(_good(2) + "\n")
    (tmp_path / "linked").symlink_to(tmp_path / "folder", target_is_directory=True)
    reasons = _reasons(plan_corpus(tmp_path))
    assert reasons["broken.jsonl"].startswith("broken symlink")
    assert reasons["loop.jsonl"] == "symlink loop"
    assert reasons["linked"].startswith("symlink to a folder")
    with pytest.raises(InputError, match="broken symlink"):
        plan_corpus(tmp_path / "broken.jsonl")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode, so chmod 000 cannot block it")
def test_unreadable_file_and_folder_say_permission_denied(tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_text(_good(1) + "\n")
    locked = tmp_path / "locked.jsonl"
    locked.write_text(_good(2) + "\n")
    locked.chmod(0)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "x.jsonl").write_text(_good(3) + "\n")
    (tmp_path / "private").chmod(0)
    try:
        reasons = _reasons(plan_corpus(tmp_path))
    finally:
        locked.chmod(0o600)
        (tmp_path / "private").chmod(0o700)
    assert reasons["locked.jsonl"] == "permission denied"
    assert reasons["private"] == "permission denied"


def test_permission_denied_is_the_reason_also_where_chmod_cannot_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same as above for any user (root included): the file system refuses, as it does for chmod 000."""
    (tmp_path / "ok.jsonl").write_text(_good(1) + "\n")
    locked = tmp_path / "locked.jsonl"
    locked.write_text(_good(2) + "\n")
    private = tmp_path / "private"
    private.mkdir()
    (private / "x.jsonl").write_text(_good(3) + "\n")
    real_open, real_scandir = os.open, os.scandir

    def guarded_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_scandir(path: Any = ".") -> Any:
        if Path(path) == private:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "scandir", guarded_scandir)
    plan = plan_corpus(tmp_path)
    assert _reasons(plan) == {"locked.jsonl": "permission denied", "private": "permission denied"}
    assert [item.path.name for item in plan.files] == ["ok.jsonl"]


# -- item 5: silent coercion -------------------------------------------------------------------------------------


def test_invalid_utf8_bytes_are_replaced_and_counted(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b'{"id": "a", "title": "caf\xe9 \xff", "abstract": "ok"}\n' + _good(1).encode())
    (tmp_path / "b.csv").write_bytes(b"id,title,abstract\nb,T\xc3,A\n")
    docs = {item.id: item for item in _items(tmp_path) if isinstance(item, Document)}
    assert docs["a"].title == "caf\ufffd \ufffd"
    assert docs["a"].coerced == ("invalid UTF-8 → U+FFFD",)
    assert docs["b"].title == "T\ufffd" and docs["b"].coerced == ("invalid UTF-8 → U+FFFD",)
    assert docs["good-1"].coerced == ()


def test_wrongly_typed_fields_are_coerced_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    records = [
        {"id": 17, "title": 3.5, "abstract": ["Part one.", "Part two."], "journal": {"name": "J"}, "date": 2020},
        {"id": "b", "title": "T", "authors": ["A", 7, {"n": 1}], "keywords": 5, "abstract": True},
        {"id": "c", "title": "T", "abstract": "A", "authors": "A; B", "score": float("nan")},
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    first, second, third = _items(path)
    assert isinstance(first, Document) and isinstance(second, Document) and isinstance(third, Document)
    assert (first.id, first.title, first.abstract, first.journal, first.date) == (
        "17",
        "3.5",
        "Part one. Part two.",
        '{"name": "J"}',
        "2020",
    )
    assert sorted(first.coerced) == [
        "abstract: list → joined text",
        "date: number → text",
        "id: number → text",
        "journal: object → JSON text",
        "title: number → text",
    ]
    assert second.authors == ("A", "7", '{"n": 1}') and second.keywords == ("5",) and second.abstract == "true"
    assert sorted(second.coerced) == [
        "abstract: boolean → text",
        "authors: number item → text",
        "authors: object item → JSON text",
        "keywords: number → text",
    ]
    assert third.extra == {"score": "NaN"} and third.coerced == ("NaN/Infinity → text",)
    json.dumps(third.to_source(), allow_nan=False)  # valid JSON for any cluster
