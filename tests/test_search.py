"""bmb_es.search on the embedded engine: the request it builds, the answer it returns, the errors it passes on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bmb_es import Document, EmbeddedEngine, EncoderSetting, QueryError, build_query, search
from bmb_es.query import PAPER_FIELDS, Feedback
from tests.engines.embedded.conftest import META, put
from tests.support import ConstantEmbedder

DOCS = [
    (Document(id="a", title="lung lung lung", abstract="x"), [0.0, 1.0, 0.0]),
    (Document(id="b", title="lung injury", abstract="y"), [1.0, 1.0, 0.0]),
    (Document(id="c", title="lung injury after surgery", abstract="z"), [2.0, 0.0, 0.0]),
    (Document(id="d", title="heart", abstract="lung w"), [-1.0, 0.0, 0.0]),
]


def hand_encoder(fail: Exception | None = None) -> ConstantEmbedder:
    """Encodes every question as one fixed vector (the index holds hand-made vectors) and counts its calls."""
    return ConstantEmbedder((1.0, 0.0, 0.0), name=META.model, max_length=16, fail=fail)


@pytest.fixture
def engine(tmp_path: Path) -> EmbeddedEngine:
    engine = EmbeddedEngine(tmp_path / "home")
    put(engine, DOCS)
    return engine


@pytest.mark.parametrize(("size", "top_k", "weight"), [(2, 3, 0.0), (3, 3, 0.7), (1, 4, 1.0)])
def test_rerank_encodes_the_question_once_and_answers_as_the_body_it_reports(
    engine: EmbeddedEngine, size: int, top_k: int, weight: float
) -> None:
    encoder = hand_encoder()
    result = search(engine, "t", "lung", mode="paper", embedder=encoder, size=size, top_k=top_k, query_weight=weight)
    assert encoder.calls == 1
    body = build_query("lung", [1.0, 0.0, 0.0], size=size, top_k=top_k, query_weight=weight, fields=PAPER_FIELDS)
    expected = engine.search("t", body)["hits"]["hits"]
    assert [(hit.id, hit.score) for hit in result.hits] == [(hit["_id"], hit["_score"]) for hit in expected]
    assert result.body == body


def test_an_encoder_error_reaches_the_caller(engine: EmbeddedEngine) -> None:
    with pytest.raises(RuntimeError, match="encoder broke"):
        search(engine, "t", "lung", embedder=hand_encoder(fail=RuntimeError("encoder broke")))


@pytest.mark.parametrize(("device", "expected"), [((), "cpu"), (("cuda:1",), "cuda:1"), ((None,), None)])
def test_the_question_encoder_loads_on_the_cpu_unless_told_otherwise(
    engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch, device: tuple[str | None, ...], expected: str | None
) -> None:
    import bmb_es._search as search_module

    asked: list[tuple[str | None, EncoderSetting]] = []

    def load(model: str | None = None, *, setting: EncoderSetting) -> ConstantEmbedder:
        asked.append((model, setting))
        return hand_encoder()

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


def _by_hand(engine: EmbeddedEngine, weight: float) -> list[tuple[str, float]]:
    """The default mode computed from the engine's own BM25 and cosines of every document matching 'lung'."""
    hits = engine.search("t", build_query("lung", [1.0, 0.0, 0.0], size=4, top_k=4))["hits"]["hits"]
    plain = {hit["_id"]: hit["_score"] for hit in engine.search("t", build_query("lung", size=4))["hits"]["hits"]}
    low, high = min(plain.values()), max(plain.values())
    scored = [
        (hit["_id"], weight * (plain[hit["_id"]] - low) / (high - low) + (1 - weight) * (hit["_score"] - 1.0))
        for hit in hits
    ]
    return sorted(scored, key=lambda pair: -pair[1])


@pytest.mark.parametrize("weight", [0.0, 0.4, 1.0])
def test_rerank_scores_min_max_bm25_and_cosine(engine: EmbeddedEngine, weight: float) -> None:
    result = search(engine, "t", "lung", mode="rerank", embedder=hand_encoder(), size=4, top_k=4, bm25_weight=weight)
    assert result.mode == "rerank" and set(result.body) == {"bmb_es_fusion", "searches"}
    assert [(hit.id, hit.score) for hit in result.hits] == [
        (doc, pytest.approx(score)) for doc, score in _by_hand(engine, weight)
    ]
    assert all(hit.bm25 is not None and hit.cosine is not None for hit in result.hits)


def test_the_default_is_feedback_for_one_content_word_and_rerank_for_more(engine: EmbeddedEngine) -> None:
    encoder = hand_encoder()
    for question, mode, why in (
        ("lung", "feedback", "1 content word (at most 1: a keyword search): feedback"),
        ("What is a lung?", "feedback", "1 content word (at most 1: a keyword search): feedback"),
        ("heart and lung", "rerank", "2 content words: rerank"),
    ):
        auto = search(engine, "t", question, embedder=encoder, size=4, top_k=4)
        named = search(engine, "t", question, mode=mode, embedder=encoder, size=4, top_k=4)
        assert auto.mode == mode and auto.body["bmb_es_fusion"]["auto"] == why
        assert [(hit.id, hit.score) for hit in auto.hits] == [(hit.id, hit.score) for hit in named.hits]
        assert auto.body["searches"] == named.body["searches"]


def test_the_cli_and_the_api_share_one_default(engine: EmbeddedEngine) -> None:
    assert search(engine, "t", "heart lung", embedder=hand_encoder(), size=4).mode == "rerank"
    assert search(engine, "t", "heart lung", embedder=hand_encoder(), rerank=True, size=4).mode == "rerank"
    assert search(engine, "t", "lung", rerank=False, size=4).mode == "bm25"
    with pytest.raises(QueryError, match="rerank=False"):
        search(engine, "t", "lung", rerank=False, mode="dense")


def test_dense_mode_is_exact_nearest_neighbours_over_every_document(engine: EmbeddedEngine) -> None:
    result = search(engine, "t", "heart lung", mode="dense", embedder=hand_encoder(), size=4, top_k=4)
    vectors = {doc.id: np.asarray(vector) / np.linalg.norm(vector) for doc, vector in DOCS}
    expected = sorted(vectors, key=lambda doc: -float(vectors[doc] @ [1.0, 0.0, 0.0]))
    assert [hit.id for hit in result.hits] == expected
    for hit in result.hits:
        assert hit.cosine == pytest.approx(float(vectors[hit.id] @ [1.0, 0.0, 0.0]), abs=1e-6)
        assert hit.score == pytest.approx((1 + hit.cosine) / 2) and hit.bm25 is None
    assert result.body["knn"]["k"] == 4


def test_hybrid_finds_what_bm25_cannot(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "home")
    put(engine, [*DOCS, (Document(id="e", title="pulmonary fibrosis", abstract="alveoli"), [1.0, 0.05, 0.0])])
    bm25 = search(engine, "t", "lung", rerank=False, size=4)
    hybrid = search(engine, "t", "lung", mode="hybrid", embedder=hand_encoder(), size=5, top_k=5)
    assert "e" not in [hit.id for hit in bm25.hits]  # no word in common with the question
    found = {hit.id: hit for hit in hybrid.hits}
    assert "e" in found and found["e"].bm25 is None and found["e"].cosine == pytest.approx(0.99875, abs=1e-4)
    assert len(hybrid.body["searches"]) == 3


def test_feedback_moves_the_question_towards_its_top_papers_then_runs_hybrid(tmp_path: Path) -> None:
    """First pass ``rerank``; its top documents' stored vectors move the question's; ``hybrid`` with that vector
    finds a paper that shares no word with the question and sits near the top papers, not near the question."""
    engine = EmbeddedEngine(tmp_path / "home")
    near_top = (Document(id="e", title="pulmonary fibrosis", abstract="alveoli"), [0.3, 1.0, 0.0])
    put(engine, [*DOCS, near_top])
    first = search(engine, "t", "lung", mode="rerank", embedder=hand_encoder(), size=5, top_k=5)
    result = search(engine, "t", "lung", mode="feedback", embedder=hand_encoder(), size=5, top_k=5)
    feedback = result.body["bmb_es_fusion"]["feedback"]
    # m = 10 but k = 5, and 4 papers match "lung": the first pass's whole ranking moves the vector.
    assert result.mode == "feedback" and feedback["used"] == [hit.id for hit in first.hits] and len(first.hits) == 4
    stored = engine.get("t", feedback["used"])
    moved = Feedback().vector([1.0, 0.0, 0.0], [stored[doc].vector for doc in feedback["used"]])
    hybrid = search(
        engine, "t", "lung", mode="hybrid", embedder=ConstantEmbedder(tuple(moved), name=META.model), size=5, top_k=5
    )
    assert [(hit.id, hit.score) for hit in result.hits] == [(hit.id, pytest.approx(hit.score)) for hit in hybrid.hits]
    found = {hit.id: hit for hit in result.hits}
    assert found["e"].bm25 is None and found["e"].cosine == pytest.approx(float(moved @ _unit([0.3, 1.0, 0.0])))
    # Both passes' searches, the second with the moved vector: what --explain prints.
    assert feedback["first_pass_searches"] == 2 and len(result.body["searches"]) == 5
    knn = result.body["searches"][4]["knn"]
    assert knn["query_vector"] == pytest.approx(moved.tolist())


def test_feedback_without_a_bm25_match_is_hybrid_with_the_question_itself(engine: EmbeddedEngine) -> None:
    result = search(engine, "t", "zebrafish", mode="feedback", embedder=hand_encoder(), size=3, top_k=4)
    dense = search(engine, "t", "zebrafish", mode="dense", embedder=hand_encoder(), size=3, top_k=4)
    assert result.body["bmb_es_fusion"]["feedback"]["used"] == []
    assert [hit.id for hit in result.hits] == [hit.id for hit in dense.hits]


def _unit(vector: list[float]) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float64)
    return array / np.linalg.norm(array)


def test_paper_mode_uses_the_papers_fields(engine: EmbeddedEngine) -> None:
    result = search(engine, "t", "lung", mode="paper", embedder=hand_encoder(), size=2, top_k=4)
    assert result.body["query"]["multi_match"]["fields"] == list(PAPER_FIELDS)
    assert result.body["rescore"]["query"]["query_weight"] == 0.0
