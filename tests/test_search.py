"""bmb_es.search on the embedded engine: the request it builds, the answer it returns, the errors it passes on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bmb_es import Document, EmbeddedEngine, EncoderSetting, build_query, search
from tests.engines.embedded.conftest import META, put

DOCS = [
    (Document(id="a", title="lung lung lung", abstract="x"), [0.0, 1.0, 0.0]),
    (Document(id="b", title="lung injury", abstract="y"), [1.0, 1.0, 0.0]),
    (Document(id="c", title="lung injury after surgery", abstract="z"), [2.0, 0.0, 0.0]),
    (Document(id="d", title="heart", abstract="lung w"), [-1.0, 0.0, 0.0]),
]


class HandEncoder:
    """Encodes every question as one fixed vector (the index holds hand-made vectors) and counts its calls."""

    name = META.model
    dimension = 3
    max_length = 16

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        self.calls += 1
        if self.fail:
            raise RuntimeError("encoder broke")
        return np.asarray([[1.0, 0.0, 0.0]] * len(texts), dtype=np.float32)


@pytest.fixture
def engine(tmp_path: Path) -> EmbeddedEngine:
    engine = EmbeddedEngine(tmp_path / "home")
    put(engine, DOCS)
    return engine


@pytest.mark.parametrize(("size", "top_k", "weight"), [(2, 3, 0.0), (3, 3, 0.7), (1, 4, 1.0)])
def test_rerank_encodes_the_question_once_and_answers_as_the_body_it_reports(
    engine: EmbeddedEngine, size: int, top_k: int, weight: float
) -> None:
    encoder = HandEncoder()
    result = search(engine, "t", "lung", embedder=encoder, size=size, top_k=top_k, query_weight=weight)
    assert encoder.calls == 1
    body = build_query("lung", [1.0, 0.0, 0.0], size=size, top_k=top_k, query_weight=weight)
    expected = engine.search("t", body)["hits"]["hits"]
    assert [(hit.id, hit.score) for hit in result.hits] == [(hit["_id"], hit["_score"]) for hit in expected]
    assert result.body == body


def test_an_encoder_error_reaches_the_caller(engine: EmbeddedEngine) -> None:
    with pytest.raises(RuntimeError, match="encoder broke"):
        search(engine, "t", "lung", embedder=HandEncoder(fail=True))


@pytest.mark.parametrize(("device", "expected"), [((), "cpu"), (("cuda:1",), "cuda:1"), ((None,), None)])
def test_the_question_encoder_loads_on_the_cpu_unless_told_otherwise(
    engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch, device: tuple[str | None, ...], expected: str | None
) -> None:
    import bmb_es._search as search_module

    asked: list[tuple[str | None, EncoderSetting]] = []

    def load(model: str | None = None, *, setting: EncoderSetting) -> HandEncoder:
        asked.append((model, setting))
        return HandEncoder()

    monkeypatch.setattr(search_module, "load_embedder", load)
    result = search(engine, "t", "lung", rerank=True, **({"device": device[0]} if device else {}))
    assert asked == [(META.model, EncoderSetting(device=expected))]
    assert result.hits
    # A whole setting instead of a device; both at once would leave the caller guessing which one won.
    torch_gpu = EncoderSetting("torch", "fp16", "cuda")
    search(engine, "t", "lung", rerank=True, setting=torch_gpu)
    assert asked[-1] == (META.model, torch_gpu)
    with pytest.raises(TypeError, match="setting= or device="):
        search(engine, "t", "lung", rerank=True, setting=torch_gpu, device="cuda:1")
