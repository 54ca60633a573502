from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bmb_es import Document, EmbeddedEngine, IndexMeta
from bmb_es.engines import IndexedDocument

META = IndexMeta(model="hand-made-vectors", dimension=3)


def put(engine: EmbeddedEngine, docs: Sequence[tuple[Document, Sequence[float]]], index: str = "t") -> None:
    engine.create_index(index, META)
    engine.upsert(
        index, [IndexedDocument(doc, doc.content_hash(), np.asarray(vec, dtype=np.float32)) for doc, vec in docs]
    )
    engine.commit(index)


@pytest.fixture
def engine(tmp_path: Path) -> EmbeddedEngine:
    return EmbeddedEngine(tmp_path / "home")
