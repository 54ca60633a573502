"""Against real nodes: OpenSearch at ``BMB_LIVE_OS_URL`` and Elasticsearch at ``BMB_LIVE_ES_URL`` (``-m live``).

``.ci/run`` starts both from Maven Central artifacts (tools/engines/README.md). The suite has variables of its own
because ``BMB_OS_URL`` / ``BMB_ES_URL`` switch every ``open_engine()`` to a cluster, and setting both is refused;
each test hands its engine or CLI run the product's variable for its node. ``BMB_OS_URL`` / ``BMB_ES_URL`` alone
are read too. Each test skips, with the reason,
when its node is not configured. What these nodes cannot run is pinned here too, by the error the node gives,
and listed in docs/clusters.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bmb_es
from bmb_es import Document, IndexMeta
from bmb_es._errors import BmbError
from bmb_es.embedding import model_name
from bmb_es.engines import open_engine
from bmb_es.engines._base import IndexedDocument
from bmb_es.engines._resources import index_body
from bmb_es.query import Fusion, SearchRequest, build_hybrid_query, build_knn_query, scored_hit
from tests.conftest import shared_path
from tests.support import ConstantEmbedder

pytestmark = pytest.mark.live
DIM = 4
URL_VARIABLES = {"opensearch": "BMB_OS_URL", "elasticsearch": "BMB_ES_URL"}  # what the product reads
LIVE_VARIABLES = {"opensearch": "BMB_LIVE_OS_URL", "elasticsearch": "BMB_LIVE_ES_URL"}  # what the suite reads

# Texts whose tokens the cluster's bmb_english analyzer must give exactly as the embedded engine does.
ANALYZER_TEXTS = [
    "How does coronavirus affect the lungs?",
    "SARS-CoV-2 binds ACE2 receptors; IL-6 levels rose 3.5-fold in ICU patients.",
    "Running runners ran: the studies studied generalizations of stemming.",
    "Tumour necrosis factor-alpha (TNF-α) and β-amyloid plaques in Alzheimer's disease",  # noqa: RUF001 — Greek letters on purpose
    "Über café naïve résumé — diacritics, CAPITALS and under_scores",
    "a" * 41 + " short words stay, a forty-one-character token goes",
]


def _url(kind: str) -> str:
    url = (os.environ.get(LIVE_VARIABLES[kind]) or os.environ.get(URL_VARIABLES[kind]) or "").strip()
    if not url:
        pytest.skip(f"no live {kind} node: set {LIVE_VARIABLES[kind]} (.ci/run starts one with tools/engines/)")
    return url


def _engine(kind: str) -> bmb_es.Engine:
    return open_engine(environ={URL_VARIABLES[kind]: _url(kind)})


@pytest.fixture
def opensearch() -> Iterator[bmb_es.Engine]:
    engine = _engine("opensearch")
    yield engine
    engine.close()


# Elasticsearch nodes: the 9.x integ-test zip and, where started, an 8.x one (the oldest line bmb-es supports).
ES_NODES = {"es9": ("BMB_LIVE_ES_URL", 9), "es8": ("BMB_LIVE_ES8_URL", 8)}


@pytest.fixture(params=sorted(ES_NODES))
def elasticsearch(request: pytest.FixtureRequest) -> Iterator[bmb_es.Engine]:
    variable, major = ES_NODES[request.param]
    url = os.environ.get(variable, "").strip() or (os.environ.get("BMB_ES_URL", "").strip() if major == 9 else "")
    if not url:
        pytest.skip(f"no live Elasticsearch {major}.x node: set {variable} (.ci/run starts one with tools/engines/)")
    engine = open_engine(environ={"BMB_ES_URL": url})
    if engine.version[0] != major:  # type: ignore[attr-defined]
        pytest.fail(f"{variable} points at Elasticsearch {engine.version}, not {major}.x")  # type: ignore[attr-defined]
    yield engine
    engine.close()


def _name() -> str:
    return f"bmb-es-live-{uuid.uuid4().hex[:8]}"


def _two_papers() -> list[IndexedDocument]:
    docs = [
        (Document(id="lung", title="Coronavirus damages the lungs", abstract="alveolar injury"), [1, 0, 0, 0]),
        (Document(id="heart", title="Coronavirus and the heart", abstract="myocarditis"), [0, 1, 0, 0]),
    ]
    return [IndexedDocument(d, d.content_hash(), np.asarray(v, dtype=np.float32)) for d, v in docs]


def _raw(engine: bmb_es.Engine) -> Any:
    return engine.client  # type: ignore[attr-defined]


# --- OpenSearch 2.19 with k-NN: the whole product -------------------------------------------------------------


def test_opensearch_version_and_roundtrip_rerank(opensearch: bmb_es.Engine) -> None:
    assert opensearch.kind == "opensearch" and opensearch.version[:2] == (2, 19)  # type: ignore[attr-defined]
    name = _name()
    opensearch.create_index(name, IndexMeta("test/live", DIM))
    try:
        opensearch.upsert(name, _two_papers())
        opensearch.commit(name)
        assert opensearch.count(name) == 2
        assert set(opensearch.stored_hashes(name, ["lung", "heart"])) == {"lung", "heart"}
        body = bmb_es.build_query("coronavirus", [0.0, 1.0, 0.0, 0.0], size=2, top_k=2, dialect="opensearch")
        hits = opensearch.search(name, body)["hits"]["hits"]
        assert hits[0]["_id"] == "heart"  # rescore's painless cosineSimilarity decides between equal BM25 matches
        assert hits[0]["_score"] == pytest.approx(2.0, abs=1e-5)  # cosine 1 + 1, query weight 0 (the paper)
        np.testing.assert_array_equal(opensearch.get(name, ["lung"])["lung"].vector, [1, 0, 0, 0])
    finally:
        opensearch.delete_index(name)


@pytest.mark.parametrize("rerank_only", [False, True], ids=["papers", "papers-rerank-only"])
def test_opensearch_accepts_shipped_mapping_and_meta_roundtrips(opensearch: bmb_es.Engine, rerank_only: bool) -> None:
    name = _name()
    meta = IndexMeta("test/live", DIM)
    opensearch.create_index(name, meta, rerank_only=rerank_only)
    try:
        assert opensearch.index_meta(name) == meta
        assert opensearch.has_knn(name) is not rerank_only  # what auto reads before it runs feedback
        mapping = _raw(opensearch).indices.get_mapping(index=name)[name]["mappings"]
        assert mapping["properties"]["embedding"]["dimension"] == DIM
    finally:
        opensearch.delete_index(name)


def test_opensearch_analyzer_matches_embedded_tokens(opensearch: bmb_es.Engine) -> None:
    import tantivy

    from bmb_es._analysis import ANALYZER_NAME, tantivy_analyzer

    name = _name()
    opensearch.create_index(name, IndexMeta("test/live", DIM))
    try:
        analyzer: tantivy.TextAnalyzer = tantivy_analyzer()
        for text in ANALYZER_TEXTS:
            response = _raw(opensearch).indices.analyze(index=name, body={"analyzer": ANALYZER_NAME, "text": text})
            assert [token["token"] for token in response["tokens"]] == analyzer.analyze(text), text
    finally:
        opensearch.delete_index(name)


def test_opensearch_model_meta_mismatch_refused(opensearch: bmb_es.Engine) -> None:
    name = _name()
    opensearch.create_index(name, IndexMeta("test/other-model", DIM))
    try:
        with pytest.raises(BmbError, match="test/other-model"):
            bmb_es.search(
                opensearch, name, "coronavirus", embedder=ConstantEmbedder((1.0,) * DIM, name="test/live"), rerank=True
            )
    finally:
        opensearch.delete_index(name)


def test_opensearch_bm25_scores_are_the_embedded_engines(opensearch: bmb_es.Engine, tmp_path: Any) -> None:
    """Same documents, same analyzer: Lucene's BM25 on one shard and tantivy's give the same scores (to float32
    rounding), so ``--query-weight`` means the same everywhere. Both keep BM25's (k1 + 1) numerator factor."""
    from bmb_es.engines.embedded import EmbeddedEngine

    lines = _source_lines()[:400]
    rng = np.random.default_rng(3)
    items = []
    for line in lines:
        record = json.loads(line)
        document = Document(id=record["pmid"], abstract=record["text"])
        items.append(IndexedDocument(document, document.content_hash(), rng.standard_normal(DIM).astype(np.float32)))
    embedded = EmbeddedEngine(tmp_path)
    name = _name()
    for engine in (embedded, opensearch):
        engine.create_index(name, IndexMeta("test/live", DIM))
        engine.upsert(name, items)
        engine.commit(name)
    try:
        for question in ["sleep apnea arrhythmia", "tumour necrosis factor in sepsis", "Is BRCA1 a tumor suppressor?"]:
            body = bmb_es.build_query(question, size=10)
            ours = [(hit["_id"], hit["_score"]) for hit in embedded.search(name, body)["hits"]["hits"]]
            theirs = [(hit["_id"], hit["_score"]) for hit in opensearch.search(name, body)["hits"]["hits"]]
            assert [doc for doc, _ in ours] == [doc for doc, _ in theirs], question
            assert [score for _, score in ours] == pytest.approx([score for _, score in theirs], rel=1e-5), question
    finally:
        opensearch.delete_index(name)
        embedded.close()


def test_opensearch_knn_query_on_lucene_hnsw(opensearch: bmb_es.Engine) -> None:
    name = _name()
    opensearch.create_index(name, IndexMeta("test/live", DIM))
    try:
        opensearch.upsert(name, _two_papers())
        opensearch.commit(name)
        body = build_knn_query([0.9, 0.1, 0.0, 0.0], size=2, k=2, dialect="opensearch")
        hits = opensearch.search(name, body)["hits"]["hits"]
        assert [hit["_id"] for hit in hits] == ["lung", "heart"]
        assert hits[0]["_score"] > hits[1]["_score"]
    finally:
        opensearch.delete_index(name)


def test_opensearch_faiss_mapping_is_accepted(opensearch: bmb_es.Engine) -> None:
    """Creating the faiss index works; writing vectors needs k-NN's JNI libraries, absent here (docs/clusters.md)."""
    name = _name()
    opensearch.knn_engine = "faiss"  # type: ignore[attr-defined]
    try:
        opensearch.create_index(name, IndexMeta("test/live", DIM))
        method = _raw(opensearch).indices.get_mapping(index=name)[name]["mappings"]["properties"]["embedding"]
        assert method["method"]["engine"] == "faiss"
    finally:
        opensearch.delete_index(name)


def test_opensearch_hybrid_and_pipelines_need_neural_search_and_ml_commons(opensearch: bmb_es.Engine) -> None:
    """Not runnable here: neural-search and ml-commons are not published as artifacts this harness can load."""
    name = _name()
    opensearch.create_index(name, IndexMeta("test/live", DIM))
    try:
        with pytest.raises(BmbError, match="normalization-processor"):
            opensearch.put_search_pipeline()  # type: ignore[attr-defined]
        with pytest.raises(BmbError, match="text_embedding"):
            opensearch.put_ingest_pipeline("some-model-id")  # type: ignore[attr-defined]
        body = build_hybrid_query("coronavirus", [1.0, 0.0, 0.0, 0.0], size=2, k=2, dialect="opensearch")
        with pytest.raises(BmbError, match=r"unknown query \[hybrid\]"):
            opensearch.search(name, body)
    finally:
        opensearch.delete_index(name)


def test_https_url_to_a_plain_http_node_is_a_one_line_error() -> None:
    """No TLS on these nodes (no security plugin): asking for TLS fails cleanly, naming the URL."""
    url = _url("opensearch").replace("http://", "https://")
    env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES.values()}
    env["BMB_OS_URL"] = url
    result = subprocess.run(
        [sys.executable, "-m", "bmb_es", "indices"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert url.split("//")[1] in result.stderr and "cannot reach" in result.stderr, result.stderr


def test_credentials_are_ignored_by_a_node_without_security() -> None:
    """A node without the security plugin accepts any credentials: say so rather than pretend auth was tested."""
    engine = open_engine(environ={"BMB_OS_URL": _url("opensearch"), "BMB_OS_USER": "x", "BMB_OS_PASSWORD": "y"})
    try:
        assert engine.list_indices() is not None
    finally:
        engine.close()


# --- the shipped JSON files, sent verbatim ----------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[3]
PLACEHOLDERS = {b"MODEL_ID": b"bmb-es-live-model"}  # the one placeholder pipelines/README.md names
NODES = {
    "opensearch": ("BMB_LIVE_OS_URL", "BMB_OS_URL"),
    "es9": ("BMB_LIVE_ES_URL", "BMB_ES_URL"),
    "es8": ("BMB_LIVE_ES8_URL", ""),
}
SHIPPED = [
    (node, str(path.relative_to(REPO)))
    for node in NODES
    for folder in ("mappings", "pipelines")
    for path in sorted((REPO / folder / ("opensearch" if node == "opensearch" else "elasticsearch")).glob("*.json"))
]
UNKNOWN_TOKENIZER = "Unknown tokenizer type [pattern] for [bmb_english_tokenizer]"
# What these nodes refuse, in their own words, and why (docs/clusters.md, "What cannot run on these nodes").
REFUSED = {
    # Elastic's integ-test zip has no analysis-common module (pattern tokenizer, snowball stemmer) ...
    ("es9", "mappings/elasticsearch/papers.json"): UNKNOWN_TOKENIZER,
    ("es9", "mappings/elasticsearch/papers-rerank-only.json"): UNKNOWN_TOKENIZER,
    ("es8", "mappings/elasticsearch/papers.json"): UNKNOWN_TOKENIZER,
    ("es8", "mappings/elasticsearch/papers-rerank-only.json"): UNKNOWN_TOKENIZER,
    # ... and no ML or ingest-common module (no inference, set or remove processor).
    ("es9", "pipelines/elasticsearch/papers-inference.json"): "No processor type exists with name [inference]",
    ("es8", "pipelines/elasticsearch/papers-inference.json"): "No processor type exists with name [inference]",
    # OpenSearch here runs k-NN without ml-commons and neural-search.
    ("opensearch", "pipelines/opensearch/papers-text-embedding.json"): (
        "No processor type exists with name [text_embedding]"
    ),
    ("opensearch", "pipelines/opensearch/papers-hybrid-search.json"): "Invalid processor type normalization-processor",
}


def _node_url(node: str) -> str:
    variable, fallback = NODES[node]
    url = os.environ.get(variable, "").strip() or (os.environ.get(fallback, "").strip() if fallback else "")
    if not url:
        pytest.skip(f"no live {node} node: set {variable} (.ci/run starts one with tools/engines/)")
    return url.rstrip("/")


def _send(method: str, url: str, data: bytes | None = None) -> tuple[int, dict[str, Any]]:
    """One raw HTTP request (no client library re-encoding the body): status and JSON answer."""
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _request_path(file: str) -> str:
    """Where a shipped file goes: a new index, ingest pipeline or search pipeline (random names)."""
    name = _name()
    if file.startswith("mappings/"):
        return f"/{name}"
    if file.endswith("papers-hybrid-search.json"):
        return f"/_search/pipeline/{name}"
    return f"/_ingest/pipeline/{name}"


@pytest.mark.parametrize(("node", "file"), SHIPPED, ids=[f"{node}:{file}" for node, file in SHIPPED])
def test_shipped_file_sent_verbatim(node: str, file: str) -> None:
    """Each shipped body as a user sends it (curl --data-binary @file): accepted, or refused only for what the
    node lacks, with the node's own error."""
    url = _node_url(node)
    data = (REPO / file).read_bytes()
    for placeholder, value in PLACEHOLDERS.items():
        data = data.replace(placeholder, value)
    path = _request_path(file)
    status, answer = _send("PUT", url + path, data)
    if (node, file) not in REFUSED:
        try:
            assert (status, answer.get("acknowledged")) == (200, True), answer
        finally:
            _send("DELETE", url + path)
        return
    assert status == 400, answer
    assert [cause["reason"] for cause in answer["error"]["root_cause"]] == [REFUSED[node, file]], answer
    # The missing module is the only obstacle: the same body without what the node lacks is accepted, so every
    # other key (a stray `_comment` is refused by both engines) and setting in the file is one the node takes.
    body = json.loads(data)
    if file.startswith("mappings/"):  # core analyzers in place of analysis-common's
        del body["settings"]["analysis"]
        for field in body["mappings"]["properties"].values():
            if field.get("analyzer"):
                field["analyzer"] = "standard"
    else:  # no processors (an empty on_failure is refused, so none)
        body.pop("on_failure", None)
        body.update({key: [] for key in body if key.endswith("processors")})
    status, answer = _send("PUT", url + path, json.dumps(body).encode())
    try:
        assert (status, answer.get("acknowledged")) == (200, True), answer
    finally:
        _send("DELETE", url + path)


# --- the CLI on OpenSearch: the 2,753 BioASQ abstracts ---------------------------------------------------------


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "bmb_es", *args], env=env, capture_output=True, text=True, timeout=1200
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def bioasq_on_opensearch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    url = _url("opensearch")
    source = shared_path("bioasq", "pubmed", "pubmed_abstracts.jsonl")
    home = tmp_path_factory.mktemp("live-home")
    env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES.values()}
    env.update({"BMB_OS_URL": url, "BMB_ES_HOME": str(home), "COLUMNS": "160"})
    name = _name()
    summary = json.loads(_cli("index", str(source), "--format", "pubmed", "--index", name, "--json", env=env).stdout)
    assert (summary["read"], summary["indexed"], summary["rejected"]) == (2753, 2753, 0), summary
    yield name, env
    engine = open_engine(environ={"BMB_OS_URL": url})
    engine.delete_index(name)
    engine.close()


@pytest.mark.slow
def test_opensearch_cli_index_counts_ids_and_idempotent_rerun(bioasq_on_opensearch: tuple[str, dict[str, str]]) -> None:
    name, env = bioasq_on_opensearch
    engine = open_engine(environ={"BMB_OS_URL": env["BMB_OS_URL"]})
    try:
        assert engine.count(name) == 2753
        pmids = [json.loads(line)["pmid"] for line in _source_lines()[:50]]
        assert set(engine.stored_hashes(name, pmids)) == set(pmids)
    finally:
        engine.close()
    source = shared_path("bioasq", "pubmed", "pubmed_abstracts.jsonl")
    rerun = json.loads(_cli("index", str(source), "--format", "pubmed", "--index", name, "--json", env=env).stdout)
    assert (rerun["indexed"], rerun["updated"], rerun["unchanged"], rerun["embedded"]) == (0, 0, 2753, 0), rerun


def _source_lines() -> list[str]:
    return shared_path("bioasq", "pubmed", "pubmed_abstracts.jsonl").read_text(encoding="utf-8").splitlines()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bm25", "paper", "rerank", "dense", "hybrid", "feedback"])
def test_opensearch_cli_query_and_explain_body_runs_verbatim(
    bioasq_on_opensearch: tuple[str, dict[str, str]], mode: str
) -> None:
    """Every mode answers on a real node, and its --explain --json output reproduces the answer: a single-leg body
    sent as it is, a fused mode's searches sent as they are and fused as its bmb_es_fusion says."""
    name, env = bioasq_on_opensearch
    question = "Is sleep apnea associated with cardiac arrhythmias?"
    hits = json.loads(_cli("query", "--mode", mode, "--json", "--index", name, question, env=env).stdout)
    ids = [hit["id"] for hit in hits["hits"]]
    assert len(ids) == 10 and hits["mode"] == mode
    if mode != "dense":
        assert "331948" in ids  # the abstract that is about exactly this
    explained = _cli("query", "--mode", mode, "--explain", "--json", "--index", name, question, env=env).stdout
    body = json.loads(explained[explained.index("{") :])
    engine = open_engine(environ={"BMB_OS_URL": env["BMB_OS_URL"]})
    try:
        if "searches" not in body:
            verbatim = [hit["_id"] for hit in engine.search(name, body)["hits"]["hits"]]
        else:
            fusion = Fusion(body["bmb_es_fusion"]["bm25_weight"])
            # feedback: the first pass's searches made the vector; the second pass's are fused as the others.
            first_pass = body["bmb_es_fusion"].get("feedback", {}).get("first_pass_searches", 0)
            candidates = []
            for search_body in body["searches"][first_pass:]:
                leg = SearchRequest.from_body(search_body)
                for hit in engine.search(name, search_body)["hits"]["hits"]:
                    candidates.append(scored_hit(leg, hit["_score"], None, None, hit["_id"]))
            verbatim = [item.id for item, _ in fusion.fuse(candidates)][: body["bmb_es_fusion"]["size"]]
    finally:
        engine.close()
    assert verbatim == ids
    if mode == "paper":
        assert body["rescore"]["query"]["rescore_query"]["script_score"]["script"]["source"].startswith(
            "cosineSimilarity"
        )


@pytest.mark.slow
def test_opensearch_default_mode_runs_the_mode_auto_names(bioasq_on_opensearch: tuple[str, dict[str, str]]) -> None:
    """No --mode: a keyword search runs feedback and a longer question rerank, with the same hits as naming that
    mode, and --explain says why."""
    name, env = bioasq_on_opensearch
    for question, mode in (
        ("arrhythmias", "feedback"),
        ("Is sleep apnea associated with cardiac arrhythmias?", "rerank"),
    ):
        auto = json.loads(_cli("query", "--json", "--index", name, question, env=env).stdout)
        named = json.loads(_cli("query", "--mode", mode, "--json", "--index", name, question, env=env).stdout)
        assert auto["mode"] == mode and len(auto["hits"]) == 10
        assert [hit["id"] for hit in auto["hits"]] == [hit["id"] for hit in named["hits"]]
        explained = _cli("query", "--explain", "--json", "--index", name, question, env=env).stdout
        body = json.loads(explained[explained.index("{") :])
        assert body["bmb_es_fusion"]["mode"] == mode and body["bmb_es_fusion"]["auto"].endswith(f": {mode}")


@pytest.mark.slow
def test_back_pressure_from_a_busy_node_is_ridden_out(tiny_model: Any, tmp_path: Any) -> None:
    """A node with one write thread and a write queue of 1 (``BMB_LIVE_OS_BUSY_URL``) refuses parallel bulks with
    genuine 429s; four ``bmb-es index --shard i/4`` writers still store every abstract exactly once."""
    url = os.environ.get("BMB_LIVE_OS_BUSY_URL", "").strip()
    if not url:
        pytest.skip("no busy node: set BMB_LIVE_OS_BUSY_URL (tools/engines/engines.sh start opensearch PORT 1)")
    source = shared_path("bioasq", "pubmed", "pubmed_abstracts.jsonl")
    name = _name()
    env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES.values()}
    env.update({"BMB_OS_URL": url, "BMB_OS_RETRY_BACKOFF": "0.05", "BMB_ES_HOME": str(tmp_path)})
    command = [sys.executable, "-m", "bmb_es", "index", str(source), "--format", "pubmed", "--index", name]
    command += ["--model", str(tiny_model), "--json"]
    engine = open_engine(environ={"BMB_OS_URL": url})
    engine.create_index(
        name, IndexMeta(model_name(str(tiny_model)), 32)
    )  # before the writers, so none races to create it
    try:
        writers = [
            subprocess.Popen([*command, "--shard", f"{i}/4"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for i in range(4)
        ]
        summaries = []
        for writer in writers:
            out, err = writer.communicate(timeout=900)
            assert writer.returncode == 0 and b"Traceback" not in err, err.decode()
            summaries.append(json.loads(out))
        assert sum(summary["indexed"] for summary in summaries) == 2753
        assert sum(summary["retries"] for summary in summaries) > 0, "the node never pushed back: no 429 was met"
        engine.commit(name)
        assert engine.count(name) == 2753
        pmids = [json.loads(line)["pmid"] for line in _source_lines()]
        assert len(engine.stored_hashes(name, pmids)) == 2753
    finally:
        engine.delete_index(name)
        engine.close()


# --- Elasticsearch integ-test zip: what a minimal real node runs ------------------------------------------------


def test_elasticsearch_version_without_rest_root(elasticsearch: bmb_es.Engine) -> None:
    """The integ-test zip has no GET / (the rest-root module): the version comes from the nodes API."""
    assert elasticsearch.kind == "elasticsearch" and elasticsearch.version[:2] in ((9, 2), (8, 19))  # type: ignore[attr-defined]


def test_elasticsearch_shipped_mapping_needs_analysis_common(elasticsearch: bmb_es.Engine) -> None:
    """The shipped mapping's pattern tokenizer and snowball stemmer live in analysis-common, absent from the zip."""
    with pytest.raises(BmbError, match=r"Unknown tokenizer type \[pattern\]"):
        elasticsearch.create_index(_name(), IndexMeta("test/live", DIM))


def test_elasticsearch_inference_pipeline_needs_ml(elasticsearch: bmb_es.Engine) -> None:
    """``--server-pipeline`` needs the ML module and a deployed model: neither is in the integ-test zip."""
    with pytest.raises(BmbError, match=r"No processor type exists with name \[inference\]"):
        elasticsearch.put_ingest_pipeline("some-model-id")  # type: ignore[attr-defined]


@pytest.fixture(params=[False, True], ids=["papers", "papers-rerank-only"])
def es_standard_index(elasticsearch: bmb_es.Engine, request: pytest.FixtureRequest) -> Iterator[tuple[Any, str]]:
    """A shipped mapping with the core ``standard`` analyzer in place of ``bmb_english``, and two papers."""
    name = _name()
    meta = IndexMeta("test/live", DIM)
    body = index_body("elasticsearch", meta, rerank_only=request.param, version=elasticsearch.version)  # type: ignore[attr-defined]
    body["settings"].pop("analysis")
    for field in body["mappings"]["properties"].values():
        if field.get("analyzer"):
            field["analyzer"] = "standard"
    client = _raw(elasticsearch)
    client.indices.create(index=name, **body)
    try:
        elasticsearch.upsert(name, _two_papers())
        elasticsearch.commit(name)
        yield client, name
    finally:
        client.indices.delete(index=name)


def test_elasticsearch_bulk_bm25_and_knn(elasticsearch: bmb_es.Engine, es_standard_index: tuple[Any, str]) -> None:
    client, name = es_standard_index
    assert elasticsearch.count(name) == 2
    bm25 = elasticsearch.search(name, bmb_es.build_query("myocarditis", None, size=2))["hits"]["hits"]
    assert [hit["_id"] for hit in bm25] == ["heart"]
    knn_body = build_knn_query([1.0, 0.1, 0.0, 0.0], size=2, k=2, dialect="elasticsearch")
    mapping = client.indices.get_mapping(index=name)[name]["mappings"]["properties"]["embedding"]
    assert elasticsearch.has_knn(name) is (mapping.get("index") is not False)  # what auto reads before feedback
    if mapping.get("index") is False:  # papers-rerank-only: vectors for the rescore, no HNSW graph
        with pytest.raises(BmbError, match=r"knn search on field \[embedding\], its mapping must have \[index\]"):
            elasticsearch.search(name, knn_body)
        return
    knn = elasticsearch.search(name, knn_body)["hits"]["hits"]
    assert [hit["_id"] for hit in knn] == ["lung", "heart"]


def test_elasticsearch_rescore_body_parses_but_needs_painless(
    elasticsearch: bmb_es.Engine, es_standard_index: tuple[Any, str]
) -> None:
    """The re-rank body is accepted up to the script language: the zip has no lang-painless module."""
    _, name = es_standard_index
    body = bmb_es.build_query("coronavirus", [0.0, 1.0, 0.0, 0.0], size=2, top_k=2, dialect="elasticsearch")
    with pytest.raises(BmbError, match=r"caused by query_shard_exception: .*script_lang not supported \[painless\]"):
        elasticsearch.search(name, body)
