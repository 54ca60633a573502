"""Text fields that no document has are left out of queries: the same answers, found faster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bmb_es import Document, EmbeddedEngine, build_query
from bmb_es.engines.embedded._store import FIELDS_FILE
from tests.engines.embedded.conftest import put

ABSTRACTS = [
    (Document(id="a", title="lung injury", abstract="alveolar damage in the lung"), [1.0, 0.0, 0.0]),
    (Document(id="b", title="lung fibrosis", abstract="scarring of the lung tissue"), [0.0, 1.0, 0.0]),
    (Document(id="c", title="kidney injury", abstract="tubules and the lung"), [0.0, 0.0, 1.0]),
]
BODIES = [
    build_query("the lung injury", [1.0, 0.5, 0.0], top_k=3, size=3),
    build_query("lung", size=3, fields=["body", "abstract^0.5"]),
    build_query("tissue", [0.0, 1.0, 1.0], top_k=3, size=3, fields=["title^2", "abstract", "body"]),
]


def _fields_file(engine: EmbeddedEngine, index: str = "t") -> Any:
    return json.loads((engine.root / index / FIELDS_FILE).read_text())["fields"]


def _answers(engine: EmbeddedEngine) -> list[tuple[int, list[tuple[str, float]]]]:
    responses = [engine.search("t", body)["hits"] for body in BODIES]
    return [(block["total"]["value"], [(hit["_id"], hit["_score"]) for hit in block["hits"]]) for block in responses]


def test_the_index_records_the_fields_its_documents_have(engine: EmbeddedEngine) -> None:
    put(engine, ABSTRACTS)
    assert _fields_file(engine) == ["title", "abstract"]
    put(engine, [(Document(id="d", abstract="pleural effusion", body="full text: effusion"), [1.0, 1.0, 0.0])])
    assert _fields_file(engine) == ["title", "abstract", "body"]


def test_leaving_out_a_field_no_document_has_changes_no_answer(engine: EmbeddedEngine, tmp_path: Path) -> None:
    put(engine, ABSTRACTS)
    skipping = _answers(engine)
    every_field = EmbeddedEngine(engine.root.parent)  # an index without the file: every field is queried
    (every_field.root / "t" / FIELDS_FILE).unlink()
    assert _answers(every_field) == skipping
    assert skipping[1][0] == 3  # body is empty everywhere; the abstracts still match


def test_a_query_on_fields_no_document_has_matches_nothing(engine: EmbeddedEngine) -> None:
    put(engine, ABSTRACTS)
    response = engine.search("t", build_query("lung", fields=["body"]))
    assert response["hits"]["total"]["value"] == 0 and response["hits"]["hits"] == []


def test_a_reader_sees_a_field_that_a_later_commit_brings(tmp_path: Path) -> None:
    writer, reader = EmbeddedEngine(tmp_path / "home"), EmbeddedEngine(tmp_path / "home")
    put(writer, ABSTRACTS)
    assert reader.search("t", build_query("effusion", fields=["body"]))["hits"]["hits"] == []
    put(writer, [(Document(id="d", abstract="pleural", body="full text: effusion"), [1.0, 1.0, 0.0])])
    hits = reader.search("t", build_query("effusion", fields=["body"]))["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["d"]


def test_optimize_records_exactly_the_fields_live_documents_have(engine: EmbeddedEngine) -> None:
    put(engine, ABSTRACTS)
    put(engine, [(Document(id="d", abstract="pleural", body="full text: effusion"), [1.0, 1.0, 0.0])])
    put(engine, [(Document(id="d", abstract="pleural, revised"), [1.0, 1.0, 0.0])])  # the only body is gone
    assert _fields_file(engine) == ["title", "abstract", "body"]  # the file only grows as documents are written
    engine.optimize("t")
    assert _fields_file(engine) == ["title", "abstract"]
    assert engine.search("t", build_query("effusion", fields=["body"]))["hits"]["hits"] == []


def test_an_unreadable_fields_file_means_every_field(engine: EmbeddedEngine) -> None:
    put(engine, ABSTRACTS)
    (engine.root / "t" / FIELDS_FILE).write_text("{not json")
    fresh = EmbeddedEngine(engine.root.parent)
    assert fresh._opened("t").searchable_fields() == frozenset({"title", "abstract", "body"})
    assert fresh.search("t", BODIES[0])["hits"]["total"]["value"] == 3


def test_a_field_another_process_added_is_kept_when_this_one_adds_another(tmp_path: Path) -> None:
    first, second = EmbeddedEngine(tmp_path / "home"), EmbeddedEngine(tmp_path / "home")
    put(first, [(Document(id="a", abstract="lung"), [1.0, 0.0, 0.0])])
    assert second.search("t", build_query("lung"))["hits"]["total"]["value"] == 1  # caches: abstract only
    first.close()  # gives the writer lock back
    put(first, [(Document(id="b", abstract="x", body="effusion"), [0.0, 1.0, 0.0])])  # another process: body
    first.close()
    put(second, [(Document(id="c", title="pleura"), [0.0, 0.0, 1.0])])  # this one: title
    assert _fields_file(second) == ["title", "abstract", "body"]
    assert [hit["_id"] for hit in second.search("t", build_query("effusion"))["hits"]["hits"]] == ["b"]


def test_a_field_is_recorded_again_after_another_process_optimized_it_away(tmp_path: Path) -> None:
    builder, first, other = (EmbeddedEngine(tmp_path / "home") for _ in range(3))
    put(builder, [*ABSTRACTS, (Document(id="d", abstract="x", body="effusion"), [1.0, 1.0, 0.0])])
    builder.close()
    assert [hit["_id"] for hit in first.search("t", build_query("effusion"))["hits"]["hits"]] == ["d"]  # caches body
    put(other, [(Document(id="d", abstract="x, revised"), [1.0, 1.0, 0.0])])
    other.optimize("t")  # the only body is gone: the file shrinks to title and abstract
    other.close()
    assert _fields_file(other) == ["title", "abstract"]
    put(first, [(Document(id="e", abstract="y", body="effusion again"), [0.0, 1.0, 1.0])])
    assert _fields_file(first) == ["title", "abstract", "body"]
    assert [hit["_id"] for hit in other.search("t", build_query("effusion"))["hits"]["hits"]] == ["e"]
