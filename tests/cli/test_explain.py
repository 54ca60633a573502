"""``--explain`` prints Kibana / OpenSearch Dashboards Dev Tools text: ``GET <index>/_search`` and the body of each
search, a fused mode's fusion as a ``#`` line above them; ``--explain --json`` the JSON as before; ``--dialect``
picks the dialect on the embedded engine, and a cluster's own dialect only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import bmb_es._search
from bmb_es import Document, EmbeddedEngine, IndexMeta
from bmb_es._ingest import ingest
from bmb_es.cli import app
from bmb_es.engines import open_engine
from tests.engines.cluster.fake_cluster import FakeCluster, start
from tests.support import ConstantEmbedder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    documents = [Document(id=f"d{n}", title=f"lung injury {n}", abstract="alveoli") for n in range(5)]
    ingest(documents, EmbeddedEngine(root), "papers", ConstantEmbedder(), optimize=False)
    monkeypatch.setattr(bmb_es._search, "load_embedder", lambda *args, **kwargs: ConstantEmbedder())
    return root


def _explain(home: Path, *args: str) -> tuple[str, Any]:
    """The Dev Tools text and the ``--explain --json`` output of the same search."""
    base = ["query", "--explain", "--data-dir", str(home), "-k", "5", "--size", "3", *args, "lung injury"]
    text = CliRunner().invoke(app, base)
    data = CliRunner().invoke(app, [*base, "--json"])
    assert text.exit_code == 0 and data.exit_code == 0, text.output + data.output
    return text.stdout, json.loads(data.stdout)


def _dev_tools(text: str) -> tuple[list[str], list[tuple[str, Any]]]:
    """Comment lines, and each request's line with its parsed body, as the Dev Tools console reads them."""
    comments: list[str] = []
    requests: list[tuple[str, Any]] = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        while lines[0].startswith("#"):
            comments.append(lines.pop(0))
        requests.append((lines[0], json.loads("\n".join(lines[1:]))))
    return comments, requests


def test_a_single_search_is_one_request(home: Path) -> None:
    text, body = _explain(home, "--paper")
    comments, requests = _dev_tools(text)
    assert comments == [] and requests == [("GET papers/_search", body)]
    assert body["rescore"]["query"]["rescore_query"]["script_score"]["script"]["source"].startswith(
        "cosineSimilarity(params.query_vector, 'embedding')"  # Elasticsearch's painless: the embedded default
    )


@pytest.mark.parametrize(("mode", "searches"), [("rerank", 2), ("hybrid", 3), ("feedback", 5)])
def test_a_fused_mode_is_its_fusion_as_a_comment_then_each_search(home: Path, mode: str, searches: int) -> None:
    text, body = _explain(home, "--mode", mode)
    assert text.startswith("# bmb_es_fusion: {")
    comments, requests = _dev_tools(text)
    assert len(comments) == 1 and json.loads(comments[0].removeprefix("# bmb_es_fusion: ")) == body["bmb_es_fusion"]
    assert requests == [("GET papers/_search", search) for search in body["searches"]] and len(requests) == searches


def test_the_default_mode_says_which_mode_it_ran_and_why(home: Path) -> None:
    _, body = _explain(home)
    assert body["bmb_es_fusion"]["mode"] == "rerank" and body["bmb_es_fusion"]["auto"] == "2 content words: rerank"
    one_word = CliRunner().invoke(
        app, ["query", "--explain", "--json", "--data-dir", str(home), "-k", "5", "-n", "3", "lung"]
    )
    assert one_word.exit_code == 0, one_word.output
    fusion = json.loads(one_word.stdout)["bmb_es_fusion"]
    assert fusion["mode"] == "feedback" and fusion["auto"].endswith("(at most 1: a keyword search): feedback")


def test_the_dialect_is_chosen_offline_on_the_embedded_engine(home: Path) -> None:
    text, body = _explain(home, "--paper", "--dialect", "opensearch")
    assert _dev_tools(text)[1] == [("GET papers/_search", body)]
    script = body["rescore"]["query"]["rescore_query"]["script_score"]["script"]["source"]
    assert script.startswith("cosineSimilarity(params.query_vector, doc['embedding'])")
    _, dense = _explain(home, "--mode", "dense", "--dialect", "opensearch")
    assert "knn" in dense["query"] and "knn" not in dense
    _, dense = _explain(home, "--mode", "dense", "--dialect", "elasticsearch")
    assert "knn" in dense and "query" not in dense
    refused = CliRunner().invoke(app, ["query", "--explain", "--dialect", "solr", "--data-dir", str(home), "lung"])
    assert refused.exit_code == 2 and "choose elasticsearch or opensearch" in refused.stderr


@pytest.fixture
def opensearch() -> Iterator[FakeCluster]:
    fake, server = start("os2")
    engine = open_engine(environ={"BMB_OS_URL": fake.url})
    engine.create_index("papers", IndexMeta("test/fake-model", 4))
    engine.close()
    yield fake
    server.shutdown()
    server.server_close()


def test_a_cluster_explains_in_its_own_dialect_only(opensearch: FakeCluster) -> None:
    env = {"BMB_OS_URL": opensearch.url}
    explained = CliRunner().invoke(app, ["query", "--no-rerank", "--explain", "lung"], env=env)
    assert explained.exit_code == 0, explained.output
    assert _dev_tools(explained.stdout)[1][0][0] == "GET papers/_search"
    same = CliRunner().invoke(app, ["query", "--no-rerank", "--explain", "--dialect", "opensearch", "lung"], env=env)
    assert same.exit_code == 0 and same.stdout == explained.stdout
    other = CliRunner().invoke(
        app, ["query", "--no-rerank", "--explain", "--dialect", "elasticsearch", "lung"], env=env
    )
    assert other.exit_code == 6 and other.stderr.startswith("error: dialect elasticsearch: this cluster is opensearch")
