"""Against a real cluster: runs only when BMB_ES_URL or BMB_OS_URL is set (pytest -m live)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

import bmb_es
from bmb_es import Document, IndexMeta
from bmb_es.engines import open_engine
from bmb_es.engines._base import IndexedDocument

pytestmark = pytest.mark.live
DIM = 4


@pytest.fixture
def engine() -> Iterator[bmb_es.Engine]:
    if not (os.environ.get("BMB_ES_URL") or os.environ.get("BMB_OS_URL")):
        pytest.skip("no live cluster: set BMB_ES_URL or BMB_OS_URL (and its credentials) to run")
    engine = open_engine()
    yield engine
    engine.close()


def test_live_roundtrip_and_rerank(engine: bmb_es.Engine) -> None:
    name = f"bmb-es-test-{uuid.uuid4().hex[:8]}"
    meta = IndexMeta("test/live", DIM)
    engine.create_index(name, meta)
    try:
        docs = [
            (Document(id="lung", title="Coronavirus damages the lungs", abstract="alveolar injury"), [1, 0, 0, 0]),
            (Document(id="heart", title="Coronavirus and the heart", abstract="myocarditis"), [0, 1, 0, 0]),
        ]
        engine.upsert(name, [IndexedDocument(d, d.content_hash(), np.asarray(v, dtype=np.float32)) for d, v in docs])
        engine.commit(name)
        assert engine.count(name) == 2
        assert set(engine.stored_hashes(name, ["lung", "heart"])) == {"lung", "heart"}
        body = bmb_es.build_query("coronavirus", [0.0, 1.0, 0.0, 0.0], size=2, top_k=2, dialect=engine.kind)  # type: ignore[arg-type]
        hits = engine.search(name, body)["hits"]["hits"]
        assert hits[0]["_id"] == "heart"  # the cosine re-rank decides between two equal BM25 matches
        assert engine.get(name, ["lung"])["lung"].vector.shape == (DIM,)
    finally:
        engine.delete_index(name)
