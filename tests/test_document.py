from __future__ import annotations

from bmb_es import Document
from bmb_es._document import content_id
from bmb_es.embedding import embed_text


def test_source_round_trip_and_hash_stability() -> None:
    doc = Document(id="x", title="T", abstract="A", authors=("a", "b"), keywords=("k",), extra={"n": 1}, date="2020-01")
    again = Document.from_source(doc.to_source())
    assert again == doc
    assert again.content_hash() == doc.content_hash()
    assert Document(id="x", title="T", abstract="A changed").content_hash() != doc.content_hash()
    assert doc.year == "2020"


def test_content_id_depends_only_on_text() -> None:
    assert content_id("T", "A", "") == content_id(" T ", "A", "")
    assert content_id("T", "A", "") != content_id("T", "B", "")


def test_embed_text_joins_title_and_abstract_and_falls_back_to_body() -> None:
    assert embed_text(Document(id="1", title="Lung injury", abstract="We show.")) == "Lung injury. We show."
    assert embed_text(Document(id="1", title="Why?", abstract="Because.")) == "Why? Because."
    assert embed_text(Document(id="1", body="Only body.")) == "Only body."
    assert embed_text(Document(id="1", title="T", abstract="A", body="B"), ("body",)) == "B"
