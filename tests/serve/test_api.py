"""The JSON API: the answers are bmb_es.search()'s, pages and filters are the search's, errors are the CLI's."""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bmb_es import EmbeddedEngine, Filters, IndexNotFoundError, QueryError, search
from bmb_es.serve import create_app, status_of
from bmb_es.serve._service import SearchTimeout
from tests.serve.conftest import HOSTILE_TITLE, INDEX, PAPERS
from tests.support import HashEmbedder

MODES = ["auto", "rerank", "paper", "bm25", "dense", "hybrid", "feedback"]


def _ids_scores(hits: Sequence[dict[str, object]]) -> list[tuple[object, object]]:
    return [(hit["id"], hit["score"]) for hit in hits]


@pytest.mark.parametrize("mode", MODES)
def test_a_search_answers_what_bmb_es_search_answers(client: TestClient, engine: EmbeddedEngine, mode: str) -> None:
    answer = client.get("/api/search", params={"q": "lung injury", "mode": mode, "size": 5, "top_k": 10})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    expected = search(engine, INDEX, "lung injury", mode=mode, size=5, top_k=10, embedder=HashEmbedder())  # type: ignore[arg-type]
    assert _ids_scores(data["hits"]) == [(hit.id, hit.score) for hit in expected.hits]
    assert [hit["rank"] for hit in data["hits"]] == [1, 2, 3, 4, 5]
    # auto answers with the mode it ran: rerank for a question of two content words
    assert data["total"] == expected.total and data["mode"] == expected.mode == ("rerank" if mode == "auto" else mode)
    assert data["body"] is None  # the request body only on demand
    # The hit's fields are the CLI's --json fields (to_json), plus links.
    first = data["hits"][0]
    cli = expected.to_json()["hits"][0]
    assert {key: first[key] for key in cli} == cli
    assert first["pubmed_url"] == f"https://pubmed.ncbi.nlm.nih.gov/{first['pmid']}/"
    assert first["doi_url"] == f"https://doi.org/{first['doi']}"


def test_explain_returns_the_executed_body(client: TestClient, engine: EmbeddedEngine) -> None:
    data = client.get("/api/search", params={"q": "lung injury", "mode": "paper", "explain": "true"}).json()
    expected = search(engine, INDEX, "lung injury", mode="paper", embedder=HashEmbedder())
    assert data["body"] == expected.body
    assert data["body"]["query"]["multi_match"]["query"] == "lung injury"


def test_pages_continue_the_ranking(client: TestClient, engine: EmbeddedEngine) -> None:
    whole = search(engine, INDEX, "lung", mode="auto", size=9, top_k=9, embedder=HashEmbedder())
    pages = [
        client.get("/api/search", params={"q": "lung", "size": 3, "top_k": 9, "page": page}).json()
        for page in (1, 2, 3)
    ]
    assert [hit["id"] for page in pages for hit in page["hits"]] == [hit.id for hit in whole.hits]
    assert [hit["rank"] for hit in pages[1]["hits"]] == [4, 5, 6]
    assert {page["last_page"] for page in pages} == {3}  # 9 candidates re-ranked, 3 per page
    past = client.get("/api/search", params={"q": "lung", "size": 3, "top_k": 9, "page": 4})
    assert past.status_code == 400
    assert past.json() == {
        "error": "page 4 of 3 goes past the top 9 candidates that mode auto ranks: raise top_k or go back a page"
    }
    # BM25 pages go as deep as the matches.
    bm25 = client.get("/api/search", params={"q": "lung", "mode": "bm25", "size": 5}).json()
    assert bm25["last_page"] == -(-bm25["total"] // 5)


def test_filters_keep_only_papers_of_those_years_and_that_journal(client: TestClient, engine: EmbeddedEngine) -> None:
    params = {"q": "lung injury", "year": "2019-2021", "journal": "Thorax", "size": 10}
    data = client.get("/api/search", params=params).json()
    expected = search(engine, INDEX, "lung injury", year="2019-2021", journal="Thorax", embedder=HashEmbedder())
    assert [hit["id"] for hit in data["hits"]] == [hit.id for hit in expected.hits] == ["p01", "p03"]
    assert data["filters"] == {"year_from": 2019, "year_to": 2021, "journal": "Thorax"}
    # p12 (Thorax, no date) and p09 (Thorax, 2023) are left out; without filters they match.
    unfiltered = {
        hit["id"] for hit in client.get("/api/search", params={"q": "lung injury", "size": 20}).json()["hits"]
    }
    assert {"p09", "p12"} <= unfiltered
    open_end = client.get("/api/search", params={"q": "lung", "year": "2022-", "size": 20}).json()["hits"]
    assert sorted(hit["year"] for hit in open_end) == ["2022", "2023"]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"q": ""}, 422, "q: String should have at least 1 character"),
        ({"q": "x" * 1001}, 422, "q: String should have at most 1000 characters"),
        ({"q": "lung", "size": 101}, 422, "size: Input should be less than or equal to 100"),
        ({"q": "lung", "size": 0}, 422, "size: Input should be greater than or equal to 1"),
        ({"q": "lung", "top_k": 10_001}, 422, "top_k: Input should be less than or equal to 10000"),
        (
            {"q": "lung", "mode": "magic"},
            422,
            "mode: Input should be 'auto', 'rerank', 'paper', 'bm25', 'dense', 'hybrid' or 'feedback'",
        ),
        ({"q": "   "}, 400, "the query is empty: give a question or keywords"),
        ({"q": "lung", "size": 20, "top_k": 10}, 400, "page 1 of 20 goes past the top 10 candidates"),
        ({"q": "lung", "year": "2021-2019"}, 400, "year filter: 2021 is after 2019: give the earlier year first"),
        ({"q": "lung", "year": "last year"}, 400, "year filter 'last year': give YYYY, YYYY-YYYY, YYYY- or -YYYY"),
        ({"q": "lung", "mode": "bm25", "size": 100, "page": 101}, 400, "page 101 of 100 goes past hit 10,000"),
    ],
)
def test_bad_requests_get_one_error_line(
    client: TestClient, params: dict[str, object], status: int, message: str
) -> None:
    answer = client.get("/api/search", params=params)
    assert answer.status_code == status
    assert list(answer.json()) == ["error"] and answer.json()["error"].startswith(message)


def test_error_messages_are_the_clis(engine: EmbeddedEngine) -> None:
    # The same exception the CLI prints after "error:", with the status of its class.
    with TestClient(create_app(engine, "nope", HashEmbedder())) as missing:
        answer = missing.get("/api/search", params={"q": "lung"})
        health = missing.get("/api/health")
    with pytest.raises(IndexNotFoundError) as raised:
        search(engine, "nope", "lung", embedder=HashEmbedder())
    assert answer.status_code == 404 and answer.json() == {"error": str(raised.value)}
    assert health.status_code == 404 and health.json() == {"error": str(raised.value)}
    with pytest.raises(QueryError) as bad:
        Filters.parse("2021-2019")
    assert status_of(bad.value) == 400 and status_of(raised.value) == 404
    assert status_of(SearchTimeout("slow")) == 504


def test_questions_are_text_never_markup_or_dsl(client: TestClient) -> None:
    dsl = '{"query": {"match_all": {}}, "size": 10000}'
    data = client.get("/api/search", params={"q": dsl, "mode": "bm25", "explain": "true"}).json()
    assert data["body"]["query"]["multi_match"]["query"] == dsl  # the text is the query text, nothing more
    assert data["body"]["size"] == 10
    page = client.get("/", params={"q": "<script>alert(1)</script> lung", "journal": '"><img src=x>'})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "<img src=x>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; lung" in page.text
    assert "&#34;&gt;&lt;img src=x&gt;" in page.text


def test_the_page_escapes_document_text_before_marking_it(client: TestClient) -> None:
    page = client.get("/", params={"q": "lung injury script", "journal": "Chest", "year": "2020"}).text
    assert 'data-id="p10"' in page
    assert "<script>" not in page.replace('<script src="/static/app.js" defer></script>', "")
    assert "<img src=x" not in page and "<b>injury</b>" not in page
    assert "&lt;<mark>script</mark>&gt;alert(&quot;title&quot;)&lt;/<mark>script</mark>&gt; <mark>Lung</mark>" in page
    assert "&lt;b&gt;<mark>injury</mark>&lt;/b&gt; &amp; &quot;quotes&quot;" in page
    assert "&lt;/mark&gt;" in page  # a document's own "</mark>" is text too


def test_the_page_shows_links_scores_filters_and_pages(client: TestClient) -> None:
    page = client.get("/", params={"q": "lung injury", "size": 3})
    assert page.status_code == 200
    text = page.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/30000002/"' in text
    assert 'href="https://doi.org/10.5555/bmb-es.2"' in text
    assert 'class="bm25"' in text and 'class="cosine"' in text
    assert 'id="next" rel="next"' in text and 'id="previous"' not in text
    assert "/api/export?q=lung+injury&amp;mode=auto&amp;size=3&amp;top_k=100&amp;page=1&amp;format=csv" in text
    assert page.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
    bad = client.get("/", params={"q": "lung", "year": "soon"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "year filter &#39;soon&#39;" in bad.text
    assert client.get("/").status_code == 200  # no question: the search box alone
    assert client.get("/static/app.js").status_code == 200


def test_export_csv_and_ris_hold_the_pages_hits(client: TestClient) -> None:
    params = {"q": "lung injury", "size": 4, "page": 2, "journal": "Chest"}
    hits = client.get("/api/search", params=params).json()["hits"]
    answer = client.get("/api/export", params={**params, "format": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert 'filename="bmb-es-results-page2.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [row["id"] for row in rows] == [hit["id"] for hit in hits]
    assert [int(row["rank"]) for row in rows] == [hit["rank"] for hit in hits]
    ris = client.get("/api/export", params={**params, "format": "ris"})
    assert ris.headers["content-type"].startswith("application/x-research-info-systems")
    assert ris.text.count("TY  - JOUR") == len(hits) and ris.text.count("ER  - ") == len(hits)
    assert client.get("/api/export", params={**params, "format": "pdf"}).status_code == 422


def test_documents_indices_health_and_the_spec(client: TestClient) -> None:
    document = client.get("/api/documents/p10").json()
    assert document["title"] == HOSTILE_TITLE and "embedding" not in document
    assert document["pubmed_url"] == "https://pubmed.ncbi.nlm.nih.gov/30000010/"
    missing = client.get("/api/documents/nope")
    assert missing.status_code == 404 and missing.json() == {"error": "document 'nope' not found in index 'papers'"}
    assert client.get("/api/indices").json() == [
        {"index": INDEX, "documents": len(PAPERS), "model": "hash-model", "dimension": 16, "error": None}
    ]
    assert client.get("/api/health").json() == {
        "status": "ok",
        "engine": "embedded",
        "index": INDEX,
        "documents": len(PAPERS),
        "model": "hash-model",
    }
    spec = client.get("/openapi.json").json()
    assert {"/api/search", "/api/export", "/api/documents/{doc_id}", "/api/indices", "/api/health"} <= set(
        spec["paths"]
    )
    assert client.get("/nowhere").json() == {"error": "Not Found"}


class _SlowEmbedder(HashEmbedder):
    """Takes ``delay`` seconds per question, as a model on a busy machine might."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.done = threading.Event()

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        time.sleep(self.delay)
        self.done.set()
        return super().embed(texts, batch_size)


def test_a_search_past_the_timeout_answers_504(engine: EmbeddedEngine) -> None:
    slow = _SlowEmbedder(0.5)
    with TestClient(create_app(engine, INDEX, slow, timeout=0.1)) as client:
        answer = client.get("/api/search", params={"q": "lung"})
        assert answer.status_code == 504
        assert answer.json() == {
            "error": "the search took longer than 0.1 s: narrow it (fewer candidates, a shorter question)"
        }
        assert slow.done.wait(5)
        assert client.get("/api/search", params={"q": "lung", "mode": "bm25"}).status_code == 200  # the server goes on


def test_only_named_hosts_are_answered_when_asked(engine: EmbeddedEngine) -> None:
    with TestClient(create_app(engine, INDEX, HashEmbedder(), allowed_hosts=["127.0.0.1"])) as client:
        assert client.get("/api/health", headers={"host": "evil.example"}).status_code == 400
        assert client.get("/api/health", headers={"host": "127.0.0.1:8000"}).status_code == 200


def test_a_total_past_the_count_says_it_is_a_lower_bound(
    client: TestClient, engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bmb_es.engines.embedded._execute.COUNTED_MATCHES", 4)  # as 10,000 of many more
    data = client.get("/api/search", params={"q": "lung", "mode": "bm25"}).json()
    assert (data["total"], data["total_relation"]) == (4, "gte")
    exact = client.get("/api/search", params={"q": "asthma", "mode": "bm25"}).json()
    assert (exact["total"], exact["total_relation"]) == (1, "eq")
    page = client.get("/", params={"q": "lung", "mode": "bm25"}).text
    assert "4+ matching" in page
    assert "1 matching" in client.get("/", params={"q": "asthma", "mode": "bm25"}).text
