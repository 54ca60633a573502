"""Filters on a real OpenSearch node (``BMB_LIVE_OS_URL``, ``-m live``) give what the embedded engine gives: the
same papers in the same order, with the same scores, in every mode. Skips without a node."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import bmb_es
from bmb_es import EmbeddedEngine, Filters, index_path
from bmb_es.engines import open_engine
from tests.serve.conftest import PAPERS
from tests.support import HashEmbedder

pytestmark = pytest.mark.live
FILTERS = [Filters(2019, 2021), Filters(journal="Thorax"), Filters(2020, 2020, "Chest"), Filters(year_to=2018)]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[bmb_es.Engine, bmb_es.Engine, str]]:
    url = (os.environ.get("BMB_LIVE_OS_URL") or os.environ.get("BMB_OS_URL") or "").strip()
    if not url:
        pytest.skip("no live OpenSearch node: set BMB_LIVE_OS_URL (.ci/run starts one with tools/engines/)")
    folder = tmp_path_factory.mktemp("live-filters")
    corpus = folder / "papers.jsonl"
    corpus.write_text("".join(json.dumps(paper) + "\n" for paper in PAPERS), encoding="utf-8")
    name = f"bmb-es-live-filters-{uuid.uuid4().hex[:8]}"
    opensearch = open_engine(environ={"BMB_OS_URL": url})
    embedded = EmbeddedEngine(folder / "home")
    try:
        for engine in (embedded, opensearch):
            index_path(corpus, engine=engine, index=name, embedder=HashEmbedder(), reject_log=folder / "rejects")
        yield embedded, opensearch, name
    finally:
        opensearch.delete_index(name)
        opensearch.close()
        embedded.close()


def _ranking(engine: bmb_es.Engine, name: str, mode: str, filters: Filters) -> list[tuple[str, float]]:
    result = bmb_es.search(
        engine, name, "lung injury", mode=mode, size=5, top_k=8, filters=filters, embedder=HashEmbedder()
    )  # type: ignore[arg-type]
    return [(hit.id, hit.score) for hit in result.hits]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda filters: filters.describe())
@pytest.mark.parametrize("mode", ["bm25", "paper", "rerank", "dense", "hybrid", "feedback"])
def test_opensearch_filters_as_the_embedded_engine_does(
    engines: tuple[bmb_es.Engine, bmb_es.Engine, str], mode: str, filters: Filters, tmp_path: Path
) -> None:
    embedded, opensearch, name = engines
    ours = _ranking(embedded, name, mode, filters)
    theirs = _ranking(opensearch, name, mode, filters)
    assert [doc for doc, _ in ours] == [doc for doc, _ in theirs]
    assert [score for _, score in ours] == pytest.approx([score for _, score in theirs], rel=1e-4, abs=1e-6)
    kept = {str(paper["id"]) for paper in PAPERS if filters.matches(paper)}
    assert {doc for doc, _ in ours} <= kept
