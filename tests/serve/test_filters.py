"""Year and journal filters: read from user text, written as Elasticsearch filter clauses, and run by the embedded
engine exactly as a cluster's filter runs (the same documents, in the same order, with the same scores)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from bmb_es import EmbeddedEngine, Filters, QueryError, search
from bmb_es.engines.embedded import _execute
from bmb_es.query import QuerySpec, Rerank, SearchRequest
from tests.serve.conftest import INDEX, PAPERS
from tests.support import HashEmbedder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-2021", (2019, 2021)),
        (" 2019 – 2021 ", (2019, 2021)),  # noqa: RUF001  (an en dash, as people type ranges)
        ("2020", (2020, 2020)),
        ("2019-", (2019, None)),
        ("-2021", (None, 2021)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_year_ranges_are_read_from_text(text: str | None, expected: tuple[int | None, int | None]) -> None:
    filters = Filters.parse(text)
    assert (filters.year_from, filters.year_to) == expected
    assert bool(filters) == (expected != (None, None))


@pytest.mark.parametrize(
    ("year", "journal", "message"),
    [
        ("2021-2019", None, "year filter: 2021 is after 2019"),
        ("19-21", None, "year filter '19-21': give YYYY"),
        ("2019-2021-2023", None, "give YYYY"),
        ("-", None, "give YYYY"),
        ("0999", None, "the year from must be a four-digit year"),
        (None, "x" * 501, "journal filter: the name is longer than 500 characters"),
        (None, "\udcff", "journal filter: the name is not UTF-8 text"),
    ],
)
def test_bad_filters_are_refused_with_a_reason(year: str | None, journal: str | None, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        Filters.parse(year, journal)


def test_filters_are_a_bool_filter_on_the_mapped_fields() -> None:
    filters = Filters.parse("2019-2021", "  Thorax ")
    request = SearchRequest.build("lung", None, QuerySpec(size=5, rerank=None, filters=filters))
    assert request.to_body()["query"] == {
        "bool": {
            "must": [
                {"multi_match": {"query": "lung", "fields": ["title", "abstract", "body"], "type": "best_fields"}}
            ],
            "filter": [
                {"range": {"date": {"gte": "2019-01-01", "lte": "2021-12-31T23:59:59.999Z"}}},
                {"term": {"journal": "Thorax"}},
            ],
        }
    }
    # A journal that looks like DSL is still only a term's value.
    sneaky = Filters(journal='{"match_all": {}}')
    assert sneaky.clauses() == [{"term": {"journal": '{"match_all": {}}'}}]


@pytest.mark.parametrize("dialect", ["elasticsearch", "opensearch"])
@pytest.mark.parametrize("filters", [Filters(2019, 2021, "Thorax"), Filters(year_to=2020), Filters(journal="Chest")])
def test_filtered_requests_are_the_requests_their_bodies_describe(dialect: str, filters: Filters) -> None:
    vector = np.random.default_rng(3).standard_normal(8)
    requests = [
        SearchRequest.build("lung", vector, QuerySpec(size=3, rerank=Rerank(7), filters=filters)),
        SearchRequest.build("lung", None, QuerySpec(size=3, rerank=None, filters=filters)),
        SearchRequest.nearest(vector, 7, 3, filters),
    ]
    for request in requests:
        body = request.to_body(dialect)  # type: ignore[arg-type]
        assert SearchRequest.from_body(body) == request
        assert SearchRequest.from_body(body).to_body(dialect) == body  # type: ignore[arg-type]
    knn = requests[2].to_body(dialect)  # type: ignore[arg-type]
    if dialect == "elasticsearch":
        assert knn["knn"]["filter"] == filters.clauses()
    else:
        assert knn["query"]["knn"]["embedding"]["filter"] == {"bool": {"filter": filters.clauses()}}


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        ({"term": {"title": "lung"}}, r"query.bool.filter\[0\].term: a filter other than range on date"),
        ({"range": {"date": {"gt": "2019-01-01"}}}, "a date range other than gte and/or lte"),
        ({"range": {"date": {"gte": "2019-05-01"}}}, "the bound '2019-05-01'"),
        ({"range": {"date": {"lte": "2021"}}}, "the bound '2021'"),
        ({"term": {"journal": 7}}, "the value 7"),
        ({"match": {"journal": "x"}}, "a filter other than range on date or term on journal"),
    ],
)
def test_other_filter_clauses_are_refused(clause: dict[str, Any], message: str) -> None:
    body = SearchRequest.build("lung", None, QuerySpec(rerank=None, filters=Filters(journal="x"))).to_body()
    broken = copy.deepcopy(body)
    broken["query"]["bool"]["filter"] = [clause]
    with pytest.raises(QueryError, match=message):
        SearchRequest.from_body(broken)


def _keeps(filters: Filters) -> set[str]:
    return {str(paper["id"]) for paper in PAPERS if filters.matches(paper)}


FILTERS = [Filters(2019, 2021), Filters(journal="Thorax"), Filters(2020, 2020, "Chest"), Filters(year_from=2024)]


@pytest.fixture(params=[False, True], ids=["one-round", "deepening"])
def depth(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run each test as it is, and with the engine checking 2 matches a round, 1 source at a time."""
    if request.param:
        monkeypatch.setattr(_execute, "COUNTED_MATCHES", 2)
        monkeypatch.setattr(_execute, "_CHUNK", 1)
    return bool(request.param)


@pytest.mark.parametrize("filters", FILTERS)
def test_a_filtered_bm25_search_is_the_unfiltered_ranking_filtered(
    engine: EmbeddedEngine, filters: Filters, depth: bool
) -> None:
    everything = search(engine, INDEX, "lung injury", mode="bm25", size=100)
    kept = [(hit.id, hit.score) for hit in everything.hits if filters.matches(hit.document.to_source())]
    assert {hit_id for hit_id, _ in kept} <= _keeps(filters)
    for size in (1, 3, 100):
        result = search(engine, INDEX, "lung injury", mode="bm25", size=size, filters=filters)
        assert [(hit.id, hit.score) for hit in result.hits] == kept[:size]
        if not depth or size >= len(kept):
            assert result.total == len(kept)  # counted exactly when every match was checked
            assert result.total_relation == "eq"
        else:
            assert len(kept[:size]) <= result.total <= len(kept)


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("mode", ["rerank", "paper", "hybrid", "feedback"])
def test_re_ranking_runs_over_the_filtered_candidates(
    engine: EmbeddedEngine, filters: Filters, mode: str, depth: bool
) -> None:
    embedder = HashEmbedder()
    bm25 = search(engine, INDEX, "lung injury", mode="bm25", size=100, filters=filters)
    unfiltered = search(engine, INDEX, "lung injury", mode=mode, size=12, top_k=12, embedder=embedder)  # type: ignore[arg-type]
    parts = {hit.id: (hit.bm25, hit.cosine) for hit in unfiltered.hits}
    top_k = 3
    result = search(
        engine, INDEX, "lung injury", mode=mode, size=min(3, top_k), top_k=top_k, filters=filters, embedder=embedder
    )  # type: ignore[arg-type]
    ids = {hit.id for hit in result.hits}
    assert ids <= _keeps(filters)
    if mode in ("rerank", "paper"):  # re-ranked: exactly the filtered BM25 top k
        assert ids == {hit.id for hit in bm25.hits[:top_k]}
    for hit in result.hits:  # a filter changes no part of a score
        if mode == "rerank":
            assert hit.cosine == pytest.approx(parts[hit.id][1])


@pytest.mark.parametrize("filters", FILTERS)
def test_a_filtered_knn_search_is_the_k_nearest_of_the_documents_kept(
    engine: EmbeddedEngine, filters: Filters, depth: bool
) -> None:
    embedder = HashEmbedder()
    everything = search(engine, INDEX, "lung injury", mode="dense", size=12, top_k=12, embedder=embedder)
    kept = [(hit.id, hit.score) for hit in everything.hits if filters.matches(hit.document.to_source())]
    result = search(engine, INDEX, "lung injury", mode="dense", size=2, top_k=3, filters=filters, embedder=embedder)
    assert [(hit.id, hit.score) for hit in result.hits] == kept[:2]
    assert result.total == len(kept[:3])


def test_search_takes_year_and_journal_or_filters() -> None:
    engine = object()
    with pytest.raises(TypeError, match="give filters= or year=/journal=, not both"):
        search(engine, INDEX, "lung", filters=Filters(2019), year="2019")


def test_undated_and_malformed_dates_are_left_out_by_year_filters() -> None:
    filters = Filters(2019, 2021)
    assert filters.matches({"date": "2020-02-29"}) and filters.matches({"date": "2019"})
    assert filters.matches({"date": "2021-12"})
    for date in ("", None, "2020 Mar", "March 2020", "2020-13-01", 2020):
        assert not filters.matches({"date": date})
    assert Filters().matches({}) and not Filters(journal="Chest").matches({"journal": "chest"})


def test_filtered_opensearch_bodies_validate_against_its_api_spec() -> None:
    from tests.engines.cluster.test_shipped_bodies import os_validate

    vector = [0.1, 0.2, 0.3]
    filters = Filters(2019, 2021, "Thorax")
    spec = QuerySpec(size=5, rerank=Rerank(20), dialect="opensearch", filters=filters)
    os_validate("_core", "search", SearchRequest.build("lungs", vector, spec).to_body("opensearch"))
    os_validate("_core", "search", SearchRequest.nearest(vector, 20, 5, filters).to_body("opensearch"))
