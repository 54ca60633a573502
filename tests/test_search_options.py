"""SearchOptions: one object for search's choices, the same as its keywords."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bmb_es import EmbeddedEngine, Filters, QueryError, SearchKeywords, SearchOptions, search, search_many
from tests.engines.embedded.conftest import META, put
from tests.support import ConstantEmbedder
from tests.test_search import DOCS


@pytest.fixture
def engine(tmp_path: Path) -> EmbeddedEngine:
    engine = EmbeddedEngine(tmp_path / "home")
    put(engine, DOCS)
    return engine


def encoder() -> ConstantEmbedder:
    return ConstantEmbedder((1.0, 0.0, 0.0), name=META.model, max_length=16)


def test_the_keywords_are_the_options_fields() -> None:
    assert set(SearchKeywords.__annotations__) == {field.name for field in dataclasses.fields(SearchOptions)}


def test_options_and_keywords_give_the_same_search(engine: EmbeddedEngine) -> None:
    options = SearchOptions(mode="hybrid", size=3, top_k=4, bm25_weight=0.7, embedder=encoder())
    by_object = search(engine, "t", "lung", options)
    by_keywords = search(engine, "t", "lung", mode="hybrid", size=3, top_k=4, bm25_weight=0.7, embedder=encoder())
    assert by_object.body == by_keywords.body
    assert [(hit.id, hit.score) for hit in by_object.hits] == [(hit.id, hit.score) for hit in by_keywords.hits]


def test_keywords_override_the_options(engine: EmbeddedEngine) -> None:
    options = SearchOptions(mode="bm25", size=1)
    assert search(engine, "t", "lung", options).mode == "bm25"
    overridden = search(engine, "t", "lung", options, size=2, mode="dense", embedder=encoder())
    assert overridden.mode == "dense"
    assert len(overridden.hits) == 2
    assert options.size == 1  # the object itself is not changed
    results = list(search_many(engine, "t", ["lung", "heart"], options, size=3))
    assert [len(result.hits) for result in results] == [3, 1]


def test_options_check_their_combinations_when_used() -> None:
    assert SearchOptions().chosen_mode() == "auto" and SearchOptions(rerank=True).chosen_mode() == "auto"
    assert SearchOptions(rerank=False).chosen_mode() == "bm25"
    with pytest.raises(QueryError, match="rerank=False"):
        SearchOptions(mode="dense", rerank=False).chosen_mode()
    assert SearchOptions(year="2019-2021").chosen_filters() == Filters.parse("2019-2021", None)
    with pytest.raises(TypeError, match="filters= or year="):
        SearchOptions(filters=Filters(), journal="Thorax").chosen_filters()
    with pytest.raises(TypeError, match="not both"):
        SearchOptions(setting=SearchOptions().question_setting(), device="cuda").question_setting()


def test_an_unknown_keyword_is_refused(engine: EmbeddedEngine) -> None:
    with pytest.raises(TypeError, match="sizes"):
        search(engine, "t", "lung", **{"sizes": 3})
