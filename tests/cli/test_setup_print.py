"""``bmb-es setup --print --dialect ...``: the requests setup would send, in Dev Tools form, with no cluster at all.

In process (CliRunner); ``--dimension`` keeps the model from loading. The printed bodies must be exactly what
``bmb-es setup`` sends to a cluster of that dialect and version (``setup_requests``, which ``create_index`` and
the pipeline calls use), so pasting them into Kibana / OpenSearch Dashboards Dev Tools gives the same index.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bmb_es.cli import app
from bmb_es.engines import IndexMeta
from bmb_es.engines._resources import (
    hybrid_search_pipeline_body,
    index_body,
    ingest_pipeline_body,
    load_resource,
)

MINILM = IndexMeta("sentence-transformers/all-MiniLM-L6-v2", 384)


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BMB_ES_URL", "BMB_OS_URL"):
        monkeypatch.delenv(name, raising=False)


def dev_tools_requests(text: str) -> list[tuple[str, object]]:
    """``METHOD path`` lines, each followed by its JSON body, as Dev Tools reads them (``#`` lines skipped)."""
    requests: list[tuple[str, object]] = []
    line_of_request = ""
    body: list[str] = []
    for line in [*text.splitlines(), "PUT end"]:
        if line.startswith("#"):
            continue
        if line.startswith(("PUT ", "POST ", "GET ")):
            if line_of_request:
                requests.append((line_of_request, json.loads("\n".join(body))))
            line_of_request, body = line, []
        else:
            body.append(line)
    return requests


def setup_print(*args: str) -> str:
    result = CliRunner().invoke(app, ["setup", "--print", "--dimension", "384", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_opensearch_bodies_print_without_a_cluster() -> None:
    text = setup_print("--dialect", "opensearch", "--pipeline-model", "my-model", "--hybrid")
    assert text.startswith("# bmb-es setup for OpenSearch")
    assert dev_tools_requests(text) == [
        ("PUT papers", index_body("opensearch", MINILM)),
        ("PUT _ingest/pipeline/bmb-es-embed-my-model", ingest_pipeline_body("opensearch", "my-model")),
        ("PUT _search/pipeline/bmb-es-hybrid", hybrid_search_pipeline_body()),
    ]
    # The default model's index body is the shipped file as it is: what a user can also send from the repository.
    assert dev_tools_requests(text)[0][1] == load_resource("mappings", "opensearch", "papers.json")


def test_elasticsearch_bodies_follow_the_version_and_options() -> None:
    rerank_only = setup_print("--dialect", "elasticsearch", "--rerank-only", "--index", "covid")
    assert dev_tools_requests(rerank_only) == [
        ("PUT covid", load_resource("mappings", "elasticsearch", "papers-rerank-only.json"))
    ]
    assert "--server-version 9.2" in rerank_only  # the comment says what 9.2+ adds
    es92 = dev_tools_requests(setup_print("--dialect", "elasticsearch", "--server-version", "9.2.0"))
    assert es92 == [("PUT papers", index_body("elasticsearch", MINILM, version=(9, 2, 0)))]
    assert es92[0][1]["settings"]["index.mapping.exclude_source_vectors"] is False  # type: ignore[index]
    es819 = dev_tools_requests(setup_print("--dialect", "elasticsearch", "--server-version", "8.19"))
    assert "index.mapping.exclude_source_vectors" not in es819[0][1]["settings"]  # type: ignore[index]
    faiss = dev_tools_requests(
        setup_print("--dialect", "opensearch", "--knn-engine", "faiss", "--server-version", "2.19")
    )
    assert faiss == [("PUT papers", load_resource("mappings", "opensearch", "papers-faiss.json"))]


def test_another_model_dimension_is_filled_in() -> None:
    result = CliRunner().invoke(
        app, ["setup", "--print", "--dialect", "elasticsearch", "--model", "my-org/bio-768", "--dimension", "768"]
    )
    assert result.exit_code == 0, result.output
    body = dev_tools_requests(result.stdout)[0][1]
    assert body == index_body("elasticsearch", IndexMeta("my-org/bio-768", 768))
    assert body["mappings"]["properties"]["embedding"]["dims"] == 768  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--dialect", "opensearch"], 2, "only with --print"),
        (["--print", "--dialect", "solr"], 2, "choose elasticsearch or opensearch"),
        (["--print", "--server-version", "9.2"], 2, "only with --print --dialect"),
        (["--print", "--dialect", "elasticsearch", "--server-version", "7.17"], 2, "8.18 and later"),
        (["--print", "--dialect", "opensearch", "--server-version", "x"], 2, "such as 9.2 or 2.19"),
        (["--print", "--dialect", "opensearch", "--server-version", "2.17", "--knn-engine", "faiss"], 3, "2.19+"),
        (["--print", "--dialect", "elasticsearch", "--knn-engine", "faiss"], 3, "OpenSearch option"),
        (["--print"], 3, "without --dialect needs a cluster"),
    ],
)
def test_what_cannot_be_printed_says_why(args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(app, ["setup", "--dimension", "384", *args], env={"COLUMNS": "250"})
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split()), result.output
