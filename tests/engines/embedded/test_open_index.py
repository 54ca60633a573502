"""What the engine holds of each index: one OpenIndex, released whole by close() and delete_index()."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bmb_es import Document, EmbeddedEngine, IndexMeta, IndexNotFoundError, build_query
from bmb_es.engines import IndexedDocument
from bmb_es.engines.embedded._open_index import OpenIndex
from tests.engines.embedded.conftest import META, put

DOCS = [
    (Document(id="a", title="lung injury"), [1.0, 0.0, 0.0]),
    (Document(id="b", abstract="lung fibrosis"), [0.0, 1.0, 0.0]),
]
FOUR_D = IndexMeta(model="four-d", dimension=4)


def _recreate_four_d(root: Path) -> None:
    """Another process deletes ``t`` and creates it again for another model, with one document."""
    other = EmbeddedEngine(root)
    other.delete_index("t")
    other.create_index("t", FOUR_D)
    doc = Document(id="w", title="lung")
    other.upsert("t", [IndexedDocument(doc, doc.content_hash(), np.asarray([0, 0, 0, 2.0], dtype=np.float32))])
    other.commit("t")
    other.close()


def test_an_index_in_use_is_one_object_holding_every_part(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    engine.search("t", build_query("lung", [1.0, 0.0, 0.0]))
    assert list(engine._indices) == ["t"]
    opened = engine._indices["t"]
    assert opened.folder == engine.root / "t"
    assert opened.meta == META
    assert opened.view is not None and opened.records is not None
    assert opened.text_fields == frozenset({"title", "abstract"})
    assert opened.writing is not None and not opened.writing.pending  # the session stays open, committed


def test_close_forgets_every_index_and_the_next_call_reads_from_disk(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    assert engine.index_meta("t") == META and engine.count("t") == 2
    engine.close()
    assert engine._indices == {}
    _recreate_four_d(engine.root.parent)
    assert engine.index_meta("t") == FOUR_D  # not the 3-d metadata read before close
    assert engine.count("t") == 1
    assert engine.get("t", ["w"])["w"].vector.tolist() == [0.0, 0.0, 0.0, 2.0]


def test_close_rolls_back_pending_writes_and_gives_the_writer_lock_back(engine: EmbeddedEngine) -> None:
    put(engine, DOCS[:1])
    doc, vector = DOCS[1]
    engine.upsert("t", [IndexedDocument(doc, doc.content_hash(), np.asarray(vector, dtype=np.float32))])
    engine.close()
    other = EmbeddedEngine(engine.root.parent)
    put(other, [(Document(id="c", title="kidney"), [0.0, 0.0, 1.0])])  # would fail on a lock still held
    assert sorted(other.get("t", ["a", "b", "c"])) == ["a", "c"]
    assert engine.count("t") == 2
    engine.commit("t")  # nothing is pending any more: the upsert before close is gone
    assert engine.count("t") == 2


def test_delete_forgets_the_index_and_a_new_one_of_the_name_starts_afresh(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    engine.search("t", build_query("lung"))
    engine.delete_index("t")
    assert engine._indices == {}
    with pytest.raises(IndexNotFoundError):
        engine.index_meta("t")
    engine.create_index("t", FOUR_D)
    assert engine.index_meta("t") == FOUR_D and engine.count("t") == 0


def test_a_missing_index_is_not_held(engine: EmbeddedEngine) -> None:
    with pytest.raises(IndexNotFoundError, match=r"index 'absent' not found .* create it with"):
        engine.count("absent")
    engine.commit("absent")  # nothing written, nothing to do
    assert engine._indices == {}


def test_parts_are_read_on_first_use_only(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    opened = OpenIndex(engine.root / "t")
    assert opened.index_meta() == META
    # Metadata alone opens no tantivy index: `bmb-es indices` lists indices that tantivy cannot open.
    assert opened.view is None and opened.records is None and opened.writing is None
    assert opened.searcher().num_docs == 2 and opened.view is not None


def test_another_process_committing_drops_what_was_read_of_the_old_commit(engine: EmbeddedEngine) -> None:
    put(engine, DOCS)
    engine.close()  # gives the writer lock back
    reader = EmbeddedEngine(engine.root.parent)
    assert reader.search("t", build_query("lung", [1.0, 0.0, 0.0]))["hits"]["total"]["value"] == 2
    opened = reader._indices["t"]
    seen = opened.view.seen if opened.view is not None else None
    _recreate_four_d(engine.root.parent)
    opened.searcher()
    assert opened.meta is None and opened.records is None and opened.text_fields is None
    assert opened.view is not None and opened.view.seen != seen
    assert reader.index_meta("t") == FOUR_D
