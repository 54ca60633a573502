"""The record files: vectors and sources beside tantivy, their durability order, and the legacy layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bmb_es import Document, EmbeddedEngine, IndexDamagedError, IndexMeta, StorageError, build_query, merge_indices
from bmb_es.engines import IndexedDocument
from bmb_es.engines.embedded._records import (
    SOURCES_FILE,
    VECTORS_FILE,
    RecordReader,
    RecordWriter,
    decode_source,
    encode_source,
)
from bmb_es.engines.embedded._store import (
    HASH_FIELD,
    ID_FIELD,
    LEGACY_SOURCE_FIELD,
    LEGACY_VECTOR_FIELD,
    TEXT_FIELDS,
    open_legacy_tantivy,
    write_meta,
)
from tests.engines.embedded.conftest import META, put
from tests.support import run_body

DOCS = [
    (Document(id="a", title="lung injury", abstract="alveolar damage", extra={"n": 1}), [1.0, 0.0, 0.0]),
    (Document(id="b", title="lung fibrosis", abstract="scarring"), [0.0, 1.0, 0.0]),
    (Document(id="c", title="kidney injury", abstract="tubules"), [0.0, 0.0, 1.0]),
]


def _folder(engine: EmbeddedEngine, index: str = "t") -> Path:
    return engine.root / index


def _item(doc: Document, vector: list[float]) -> IndexedDocument:
    return IndexedDocument(doc, doc.content_hash(), np.asarray(vector, dtype=np.float32))


def test_vectors_and_sources_round_trip_through_get(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    got = engine.get("t", ["c", "a", "missing"])
    assert sorted(got) == ["a", "c"]
    assert got["a"].document == DOCS[0][0] and got["a"].content_hash == DOCS[0][0].content_hash()
    np.testing.assert_array_equal(got["c"].vector, np.asarray([0.0, 0.0, 1.0], dtype=np.float32))
    lines = (_folder(engine) / SOURCES_FILE).read_bytes().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b", "c"]  # JSON Lines, readable by any tool
    assert (_folder(engine) / VECTORS_FILE).stat().st_size == 3 * 3 * 4


def test_upsert_appends_a_new_row_and_the_search_reads_it(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    changed = Document(id="a", title="lung injury", abstract="alveolar damage, revised")
    engine.upsert("t", [_item(changed, [0.0, 0.0, 1.0])])
    engine.commit("t")
    assert engine.count("t") == 3
    hits = run_body(engine, "t", build_query("lung", [0.0, 0.0, 1.0], fields=["title"], top_k=10))
    assert hits[0].id == "a" and hits[0].cosine == pytest.approx(1.0)
    assert hits[0].source["abstract"] == "alveolar damage, revised"
    assert (_folder(engine) / VECTORS_FILE).stat().st_size == 4 * 3 * 4  # the old row stays, unreferenced


def test_uncommitted_records_stay_unreferenced_and_the_next_writer_appends_after_them(tmp_path: Path) -> None:
    first = EmbeddedEngine(tmp_path)
    put(first, DOCS[:1])
    first.upsert("t", [_item(*DOCS[1])])  # written to the record files, never committed
    first.close()  # rolls tantivy back, as a crash would
    second = EmbeddedEngine(tmp_path)
    assert second.count("t") == 1
    second.upsert("t", [_item(*DOCS[2])])
    second.commit("t")
    got = second.get("t", ["a", "b", "c"])
    assert sorted(got) == ["a", "c"]
    np.testing.assert_array_equal(got["c"].vector, np.asarray(DOCS[2][1], dtype=np.float32))


def test_a_torn_last_row_is_padded_so_rows_stay_aligned(engine: EmbeddedEngine) -> None:
    put(engine, DOCS[:1])
    with open(_folder(engine) / VECTORS_FILE, "ab") as handle:
        handle.write(b"\x01\x02\x03\x04\x05")  # a crash mid-row
    placed = RecordWriter(_folder(engine), 3).append(np.ones((1, 3), dtype=np.float32), [b"{}"])
    assert placed[0][0] == 2  # row 1 is the torn one, padded to a whole row
    assert RecordReader(_folder(engine), 3).vectors([2]).tolist() == [[1.0, 1.0, 1.0]]


def test_a_reader_opened_earlier_maps_rows_written_later(tmp_path: Path) -> None:
    reader, writer = EmbeddedEngine(tmp_path), EmbeddedEngine(tmp_path)
    put(writer, DOCS[:1])
    body = build_query("injury", [0.0, 0.0, 1.0], fields=["title"], top_k=10)
    assert [hit["_id"] for hit in reader.search("t", body)["hits"]["hits"]] == ["a"]  # maps the files now
    writer.upsert("t", [_item(*DOCS[2])])
    writer.commit("t")
    hits = run_body(reader, "t", body)  # sees the other engine's commit at once
    assert hits[0].id == "c" and hits[0].cosine == pytest.approx(1.0)


def test_a_reader_follows_an_index_deleted_and_created_again_elsewhere(tmp_path: Path) -> None:
    reader, other = EmbeddedEngine(tmp_path), EmbeddedEngine(tmp_path)
    put(other, DOCS)
    body = build_query("lung", [1.0, 0.0, 0.0], fields=["title"], top_k=10)
    assert [hit["_id"] for hit in reader.search("t", body)["hits"]["hits"]] == ["a", "b"]
    other.delete_index("t")
    put(other, [(Document(id="z", title="lung"), [0.0, 1.0, 0.0]), (Document(id="y", title="lung x"), [2.0, 0, 0])])
    hits = run_body(reader, "t", body)
    assert [(hit.id, hit.cosine) for hit in hits] == [("y", pytest.approx(1.0)), ("z", 0.0)]
    assert reader.get("t", ["a", "y"])["y"].vector.tolist() == [2.0, 0.0, 0.0]


def test_a_truncated_vector_file_is_a_storage_error_naming_the_file(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    with open(_folder(engine) / VECTORS_FILE, "r+b") as handle:
        handle.truncate(3 * 4)  # only row 0 left
    with pytest.raises(StorageError, match=r"vectors\.f32: row 2 is referenced but the file holds 1 rows"):
        engine.search("t", build_query("kidney", [0.0, 0.0, 1.0], fields=["title"]))


def _legacy_index(folder: Path) -> None:
    """An index in the layout bmb-es wrote before the record files: source and vector inside tantivy."""
    import tantivy

    index = open_legacy_tantivy(folder)
    writer = index.writer(heap_size=15_000_000, num_threads=1)
    for document, vector in DOCS:
        doc = tantivy.Document()
        doc.add_text(ID_FIELD, document.id)
        doc.add_text(HASH_FIELD, document.content_hash())
        for field in TEXT_FIELDS:
            if getattr(document, field):
                doc.add_text(field, getattr(document, field))
        doc.add_bytes(LEGACY_SOURCE_FIELD, json.dumps(document.to_source()).encode())
        doc.add_bytes(LEGACY_VECTOR_FIELD, np.asarray(vector, dtype="<f4").tobytes())
        writer.add_document(doc)
    writer.commit()
    write_meta(folder, META)


def test_a_legacy_index_is_refused_with_the_command_that_converts_it(engine: EmbeddedEngine) -> None:
    _legacy_index(_folder(engine, "old"))
    with pytest.raises(StorageError, match=r"bmb-es merge .*old --into old-2"):
        engine.search("old", build_query("lung", fields=["title"]))


def test_merge_converts_a_legacy_index_without_re_embedding(engine: EmbeddedEngine) -> None:
    _legacy_index(_folder(engine, "old"))
    summary = merge_indices(["old"], "new", engine=engine)
    assert (summary.read, summary.written) == (3, 3)
    got = engine.get("new", ["a", "b", "c"])
    for document, vector in DOCS:
        assert got[document.id].document == document
        np.testing.assert_array_equal(got[document.id].vector, np.asarray(vector, dtype=np.float32))
    hits = engine.search("new", build_query("lung", [0.0, 1.0, 0.0], fields=["title"]))["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["b", "a"]


@pytest.mark.parametrize(
    "extra",
    [
        {"n": 2**70, "nested": [{"m": -(2**65)}], "pair": (1, 2**64)},  # beyond 64 bits: orjson returns floats
        {"nan": float("nan"), "inf": float("inf")},  # written by json.dumps, refused by orjson
        {"text": "β-coronavirus — ünïcode", "n": 2**63, "f": 0.1},
    ],
)
def test_sources_come_back_exactly(engine: EmbeddedEngine, extra: dict[str, object]) -> None:
    document = Document(id="x", title="lung", extra=extra)
    put(engine, [(document, [1.0, 0.0, 0.0])])
    back = engine.get("t", ["x"])["x"].document.extra
    assert json.dumps(back, sort_keys=True) == json.dumps(extra, sort_keys=True)
    expected = json.loads(json.dumps(extra))  # tuples come back as lists, as from any JSON store
    assert [type(value) for value in back.values()] == [type(value) for value in expected.values()]
    assert back.get("n") == expected.get("n")  # an int beyond 64 bits stays an exact int
    hit = engine.search("t", build_query("lung", fields=["title"]))["hits"]["hits"][0]
    assert json.dumps(hit["_source"]["extra"], sort_keys=True) == json.dumps(extra, sort_keys=True)


def test_only_sources_with_wide_integers_take_the_standard_library_path() -> None:
    assert encode_source({"id": "a", "n": 2**64 - 1}).startswith(b"{")
    assert encode_source({"id": "a", "n": [2**64]}).startswith(b" {")
    assert decode_source(encode_source({"id": "a", "n": [2**64]})) == {"id": "a", "n": [2**64]}


def test_a_batch_cut_short_cannot_shift_later_documents(engine: EmbeddedEngine) -> None:
    put(engine, DOCS[:1])
    folder = _folder(engine)
    # What an interrupted append leaves: a vector row and a half without their sources, a torn source line.
    with open(folder / VECTORS_FILE, "ab") as handle:
        handle.write(np.ones(5, dtype="<f4").tobytes()[:18])
    with open(folder / SOURCES_FILE, "ab") as handle:
        handle.write(b'{"id": "torn", "ti')
    engine.upsert("t", [_item(*DOCS[2])])
    engine.commit("t")
    got = engine.get("t", ["a", "c"])
    np.testing.assert_array_equal(got["c"].vector, np.asarray(DOCS[2][1], dtype=np.float32))
    assert got["c"].document == DOCS[2][0] and got["a"].document == DOCS[0][0]
    lines = (folder / SOURCES_FILE).read_bytes().splitlines()
    assert [line for line in lines if line.startswith(b'{"id": "torn"')] == [b'{"id": "torn", "ti']
    assert [json.loads(line)["id"] for line in lines if not line.startswith(b'{"id": "torn"')] == ["a", "c"]


def test_the_record_files_are_synced_before_the_commit_that_publishes_them(
    engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    class Recorder:
        def __init__(self, writer: object) -> None:
            self._writer = writer

        def __getattr__(self, name: str) -> object:
            return getattr(self._writer, name)

        def commit(self) -> object:
            calls.append("commit")
            return self._writer.commit()  # type: ignore[attr-defined]

    original = RecordWriter.sync
    monkeypatch.setattr(RecordWriter, "sync", lambda self: (calls.append("sync"), original(self))[1])
    engine.create_index("t", META)
    engine.upsert("t", [_item(*DOCS[0])])
    writing = engine._indices["t"].writing
    assert writing is not None
    writing.tantivy = Recorder(writing.tantivy)
    engine.commit("t")
    assert calls == ["sync", "commit"]


def test_a_reader_follows_an_index_created_again_with_another_dimension(tmp_path: Path) -> None:
    reader, other = EmbeddedEngine(tmp_path), EmbeddedEngine(tmp_path)
    put(other, DOCS)
    assert reader.count("t") == 3
    other.delete_index("t")
    other.create_index("t", IndexMeta(model="four-d", dimension=4))
    doc = Document(id="w", title="lung")
    other.upsert("t", [IndexedDocument(doc, doc.content_hash(), np.asarray([0, 0, 0, 2.0], dtype=np.float32))])
    other.commit("t")
    assert reader.get("t", ["w"])["w"].vector.tolist() == [0.0, 0.0, 0.0, 2.0]
    hits = run_body(reader, "t", build_query("lung", [0.0, 0.0, 0.0, 1.0], fields=["title"]))
    assert [(hit.id, hit.cosine) for hit in hits] == [("w", pytest.approx(1.0))]


def test_a_missing_record_file_is_damage_not_the_legacy_layout(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    (_folder(engine) / SOURCES_FILE).unlink()
    with pytest.raises(IndexDamagedError, match=r"t/sources\.jsonl: missing; index 't' is damaged: .* index again"):
        EmbeddedEngine(engine.root.parent).count("t")


def test_sources_changed_outside_bmb_es_are_storage_errors(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    path = _folder(engine) / SOURCES_FILE
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b'"id": "a"', b'"id": "x"'))  # same length: the offsets still fit
    with pytest.raises(StorageError, match="document 'a' points at the source of 'x'"):
        EmbeddedEngine(engine.root.parent).get("t", ["a"])
    path.write_bytes(raw.replace(b'{"id": "c"', b'#{id": "c"'))
    with pytest.raises(StorageError, match=r"sources\.jsonl: bytes \d+-\d+ are not the JSON of a source"):
        EmbeddedEngine(engine.root.parent).search("t", build_query("kidney", fields=["title"]))


def test_deeply_nested_sources_round_trip(engine: EmbeddedEngine) -> None:
    nested: dict[str, object] = {"leaf": 2**70}
    for _ in range(600):  # deeper than a recursive walk could go
        nested = {"child": nested}
    put(engine, [(Document(id="deep", title="lung", extra=nested), [1.0, 0.0, 0.0])])
    assert engine.get("t", ["deep"])["deep"].document.extra == nested
