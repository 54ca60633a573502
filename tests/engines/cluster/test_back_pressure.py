"""Back-pressure from a cluster (HTTP 429 per item or per request) is retried; no document is stored twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bmb_es.engines import BulkItemError, open_engine
from bmb_es.engines._retry import RetryPolicy

from .fake_cluster import FakeCluster, start
from .test_cluster_engines import META, env_for, item

FAST = RetryPolicy(max_retries=16, initial_backoff=0.001, max_backoff=0.004)


@pytest.fixture(params=["es9", "os2"])
def busy(request: pytest.FixtureRequest) -> Iterator[FakeCluster]:
    fake, server = start(request.param)
    yield fake
    server.shutdown()
    server.server_close()


def test_half_the_items_refused_with_429_are_retried_until_stored_once(busy: FakeCluster) -> None:
    engine = open_engine(environ=env_for(busy))
    engine.retry_policy = FAST  # type: ignore[attr-defined]
    engine.create_index("papers", META)
    busy.busy_share = 0.5
    ids = [f"doc{i}" for i in range(400)]
    engine.upsert("papers", [item(doc_id) for doc_id in ids])
    assert set(busy.indices["papers"]["docs"]) == set(ids)
    assert set(busy.applied.values()) == {1}  # each applied exactly once: only refused items are resent
    assert engine.write_retries >= 150  # about 200 + 100 + 50 + ...; the seed is fixed


def test_a_whole_bulk_request_refused_with_429_is_sent_again(busy: FakeCluster) -> None:
    engine = open_engine(environ=env_for(busy))
    engine.retry_policy = FAST  # type: ignore[attr-defined]
    engine.create_index("papers", META)
    busy.busy_requests = 5  # more than the Elasticsearch client's own transport retries (3)
    engine.upsert("papers", [item("a"), item("b")])
    assert set(busy.indices["papers"]["docs"]) == {"a", "b"} and engine.write_retries >= 2


def test_retries_run_out_and_every_unwritten_document_is_named(busy: FakeCluster) -> None:
    engine = open_engine(environ=env_for(busy, MAX_RETRIES="2", RETRY_BACKOFF="0.001"))
    engine.create_index("papers", META)
    busy.busy_share = 1.0
    busy.fail_ids["bad"] = (400, "document_parsing_exception", "failed to parse field [date]")
    with pytest.raises(BulkItemError) as raised:
        engine.upsert("papers", [item("a"), item("b")])
    failures = dict(raised.value.failures)
    assert set(failures) == {"a", "b"} and raised.value.written == 0
    assert "HTTP 429: es_rejected_execution_exception" in failures["a"]
    assert failures["a"].endswith("still refused after 2 retries")


def test_an_error_retrying_cannot_fix_is_not_retried(busy: FakeCluster) -> None:
    engine = open_engine(environ=env_for(busy, RETRY_BACKOFF="0.001"))
    engine.create_index("papers", META)
    busy.fail_ids["bad"] = (400, "document_parsing_exception", "failed to parse field [date]")
    with pytest.raises(BulkItemError) as raised:
        engine.upsert("papers", [item("good"), item("bad")])
    assert [doc_id for doc_id, _ in raised.value.failures] == ["bad"] and engine.write_retries == 0


@pytest.mark.parametrize(
    ("variables", "message"),
    [({"MAX_RETRIES": "many"}, "MAX_RETRIES='many'"), ({"RETRY_BACKOFF": "-1"}, "RETRY_BACKOFF='-1'")],
)
def test_retry_settings_are_checked(variables: dict[str, str], message: str) -> None:
    from bmb_es import InputError

    with pytest.raises(InputError, match=message):
        open_engine(environ={"BMB_OS_URL": "http://127.0.0.1:9", **{f"BMB_OS_{k}": v for k, v in variables.items()}})


def test_backoff_is_capped_and_jittered() -> None:
    import random

    policy = RetryPolicy(initial_backoff=0.5, max_backoff=30.0)
    rng = random.Random(1)
    delays = [policy.delay(attempt, rng) for attempt in range(12) for _ in range(20)]
    assert max(delays) <= 30.0 and min(delays) >= 0.0 and len(set(delays)) == len(delays)
    assert max(policy.delay(0, rng) for _ in range(50)) <= 0.5


@pytest.mark.slow
def test_cli_index_of_the_bioasq_corpus_rides_out_half_refused_items(tiny_model: Path, tmp_path: Path) -> None:
    """The issue's case: 2,753 documents against a node refusing 50 % of items exits 0, each stored once."""
    from tests.conftest import shared_path

    source = shared_path("bioasq", "pubmed", "pubmed_abstracts.jsonl")
    fake, server = start("os2")
    try:
        fake.busy_share = 0.5
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BMB_OS_", "BMB_ES_"))}
        env.update({"BMB_OS_URL": fake.url, "BMB_OS_RETRY_BACKOFF": "0.001", "BMB_ES_HOME": str(tmp_path)})
        command = [sys.executable, "-m", "bmb_es", "index", str(source), "--format", "pubmed"]
        result = subprocess.run(
            [*command, "--index", "papers", "--model", str(tiny_model), "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["read"], summary["indexed"], summary["rejected"]) == (2753, 2753, 0)
        assert summary["retries"] > 2000  # about as many as documents: half, a quarter, an eighth, ...
        assert len(fake.indices["papers"]["docs"]) == 2753 and set(fake.applied.values()) == {1}
    finally:
        server.shutdown()
        server.server_close()
