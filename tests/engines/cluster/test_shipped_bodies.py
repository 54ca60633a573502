"""The shipped mappings/pipelines, and every body bmb-es sends, checked against the engines' own reference.

Reference: ../shared/data/engine-api-reference (REST test stories from Elasticsearch's and OpenSearch's own
suites, and OpenSearch's OpenAPI spec). Tests that need it skip when it is absent.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bmb_es._analysis import cluster_analysis_settings
from bmb_es._errors import InputError
from bmb_es.engines import IndexMeta
from bmb_es.engines._resources import (
    hybrid_search_pipeline_body,
    index_body,
    ingest_pipeline_body,
    load_resource,
    resource_path,
)
from bmb_es.query import build_hybrid_query, build_knn_query, build_query
from tests.conftest import shared_path

REPO = Path(__file__).resolve().parents[3]
META = IndexMeta("sentence-transformers/all-MiniLM-L6-v2", 384)
VEC = [0.1, 0.2, 0.3]
MAPPINGS = sorted(p.relative_to(REPO / "mappings") for p in (REPO / "mappings").rglob("*.json"))
PIPELINES = sorted(p.relative_to(REPO / "pipelines") for p in (REPO / "pipelines").rglob("*.json"))
# The top-level keys each kind of body takes (create index; put ingest pipeline; put search pipeline). Anything
# else, such as the `_comment` keys these files once had, is refused: `unknown key [_comment] for create index`.
INDEX_KEYS = {"settings", "mappings", "aliases"}
INGEST_PIPELINE_KEYS = {"description", "processors", "on_failure", "version", "_meta", "deprecated"}
SEARCH_PIPELINE_KEYS = {"description", "request_processors", "response_processors", "phase_results_processors"}


def ref(*parts: str) -> Path:
    return shared_path("engine-api-reference", *parts)


def es_stories(*parts: str) -> list[Any]:
    import yaml

    return [doc for doc in yaml.safe_load_all(ref("elasticsearch", *parts).read_text()) if doc]


def find_key(tree: Any, key: str) -> list[Any]:
    """Every value under ``key`` anywhere in ``tree``."""
    found = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == key:
                found.append(v)
            found.extend(find_key(v, key))
    elif isinstance(tree, list):
        for v in tree:
            found.extend(find_key(v, key))
    return found


# -- the shipped files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [str(p) for p in MAPPINGS])
def test_shipped_analysis_is_the_shared_analyzer(name: str) -> None:
    data = json.loads((REPO / "mappings" / name).read_text())
    assert data["settings"]["analysis"] == cluster_analysis_settings()
    props = data["mappings"]["properties"]
    assert all(props[f]["analyzer"] == "bmb_english" for f in ("title", "abstract", "body"))
    assert set(data["mappings"]["_meta"]) == set(META.to_json())


def _keys(tree: Any) -> set[str]:
    if isinstance(tree, dict):
        return set(tree).union(*(_keys(value) for value in tree.values()))
    if isinstance(tree, list):
        return set().union(*(_keys(value) for value in tree))
    return set()


@pytest.mark.parametrize("name", [f"mappings/{p}" for p in MAPPINGS] + [f"pipelines/{p}" for p in PIPELINES])
def test_every_shipped_file_is_a_body_to_send_as_it_is(name: str) -> None:
    """No comment keys: each file is pasted or sent with curl verbatim (the live tests send them to real nodes)."""
    kind, *parts = name.split("/")
    data = json.loads((REPO / name).read_text(encoding="utf-8"))
    assert not [key for key in _keys(data) if key.startswith("_comment")]
    if kind == "mappings":
        allowed = INDEX_KEYS
    else:
        allowed = SEARCH_PIPELINE_KEYS if "processors" not in data else INGEST_PIPELINE_KEYS
        assert data["description"].startswith("bmb-es: ")
    assert set(data) <= allowed, set(data) - allowed
    assert load_resource(kind, *parts) == data  # bmb-es reads the same body, nothing removed


@pytest.mark.parametrize("folder", ["mappings", "pipelines"])
def test_each_folder_has_a_readme_for_every_file(folder: str) -> None:
    """What the comments said lives in a README beside the files: every file, and every placeholder, named."""
    readme = (REPO / folder / "README.md").read_text(encoding="utf-8")
    for path in (REPO / folder).rglob("*.json"):
        name = str(path.relative_to(REPO / folder))
        assert f"`{name}`" in readme, name
        if "MODEL_ID" in path.read_text(encoding="utf-8"):
            assert "`MODEL_ID`" in readme
    if folder == "mappings":
        assert "dimension" in readme and "`dims`" in readme and "`_meta`" in readme


def test_the_default_models_body_is_the_shipped_file() -> None:
    """For the default model and a cluster of unknown version, bmb-es sends each mapping file unchanged."""
    for path in MAPPINGS:
        dist, name = path.parts
        rerank_only = name == "papers-rerank-only.json"
        knn_engine = "faiss" if name == "papers-faiss.json" else "lucene"
        body = index_body(dist, META, rerank_only=rerank_only, knn_engine=knn_engine)  # type: ignore[arg-type]
        assert body == load_resource("mappings", dist, name), path


def test_faiss_before_2_19_is_refused() -> None:
    with pytest.raises(InputError, match=r"2\.19\+"):
        index_body("opensearch", META, knn_engine="faiss", version=(2, 17))
    assert index_body("opensearch", META, knn_engine="faiss", version=(2, 19))
    assert index_body("opensearch", META, knn_engine="faiss", rerank_only=True, version=(2, 17))


def test_every_variant_is_filled_in() -> None:
    for dist in ("elasticsearch", "opensearch"):
        for rerank_only in (False, True):
            body = index_body(dist, IndexMeta("m", 768), rerank_only=rerank_only)  # type: ignore[arg-type]
            field = body["mappings"]["properties"]["embedding"]
            assert field["dims" if dist == "elasticsearch" else "dimension"] == 768
            assert body["mappings"]["_meta"] == IndexMeta("m", 768).to_json()
    es = index_body("elasticsearch", META)["mappings"]["properties"]["embedding"]
    assert es["similarity"] == "cosine" and es["index_options"]["type"] == "hnsw" and es["index"] is True
    es_rr = index_body("elasticsearch", META, rerank_only=True)["mappings"]["properties"]["embedding"]
    assert es_rr == {"type": "dense_vector", "dims": 384, "index": False}
    osb = index_body("opensearch", META)
    assert osb["settings"]["index"]["knn"] is True
    assert osb["mappings"]["properties"]["embedding"]["method"]["space_type"] == "cosinesimil"
    faiss = index_body("opensearch", META, knn_engine="faiss")["mappings"]["properties"]["embedding"]["method"]
    assert faiss["engine"] == "faiss"
    assert index_body("opensearch", META, rerank_only=True)["settings"]["index"]["knn"] is False
    assert "index.mapping.exclude_source_vectors" not in index_body("elasticsearch", META, version=(9, 1))["settings"]
    assert (
        index_body("elasticsearch", META, version=(9, 2))["settings"]["index.mapping.exclude_source_vectors"] is False
    )


def test_resources_come_from_the_repo_in_an_editable_install() -> None:
    assert (
        resource_path("mappings", "elasticsearch", "papers.json") == REPO / "mappings" / "elasticsearch" / "papers.json"
    )
    assert load_resource("pipelines", "opensearch", "papers-hybrid-search.json")["phase_results_processors"]


def test_pipelines_fill_in_the_model() -> None:
    es = ingest_pipeline_body("elasticsearch", "my-model")
    assert es["processors"][0]["inference"] == {
        "model_id": "my-model",
        "input_output": [{"input_field": "embed_text", "output_field": "embedding"}],
    }
    assert es["on_failure"][0]["set"]["field"] == "ingest_error"
    osp = ingest_pipeline_body("opensearch", "abc123")
    assert osp["processors"][0]["text_embedding"] == {"model_id": "abc123", "field_map": {"embed_text": "embedding"}}
    weights = hybrid_search_pipeline_body(0.4, 0.6)["phase_results_processors"][0]["normalization-processor"]
    assert weights["combination"]["parameters"]["weights"] == [0.4, 0.6]


# -- Elasticsearch: same keys and nesting as bodies its REST tests accepted ----------------------------


def test_es_rescore_script_score_matches_the_reference() -> None:
    base = "rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search/"
    stories = es_stories(base + "210_rescore_explain.yml") + es_stories(base + "112_field_collapsing_with_rescore.yml")
    accepted = [r for r in find_key(stories, "rescore") if isinstance(r, dict) and "query" in r]
    assert accepted
    ref_keys = set().union(*(set(r) for r in accepted))
    ref_query_keys = set().union(*(set(r["query"]) for r in accepted))
    ours = build_query("lungs", VEC, top_k=50)["rescore"]
    # score_mode is documented for the query rescorer but none of these stories sets it.
    assert set(ours) <= ref_keys and set(ours["query"]) - {"score_mode"} <= ref_query_keys
    painless = es_stories(
        "modules/lang-painless/src/yamlRestTest/resources/rest-api-spec/test/painless/80_script_score.yml"
    )
    script_scores = find_key(painless, "script_score")
    assert any(set(s) == {"query", "script"} for s in script_scores)
    assert any(
        "cosineSimilarity(params.query_vector, 'vector')" in json.dumps(s)
        for s in find_key(
            es_stories(
                "modules/lang-painless/src/yamlRestTest/resources/rest-api-spec/test/painless/140_dense_vector_basic.yml"
            ),
            "source",
        )
    )


def test_es_knn_and_rrf_match_the_reference() -> None:
    knn_ref = find_key(
        es_stories(
            "rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/40_knn_search_cosine.yml"
        ),
        "knn",
    )
    ref_knn_keys = set().union(*(set(k) for k in knn_ref if isinstance(k, dict) and "field" in k))
    ours = build_knn_query(VEC, k=20)["knn"]
    assert set(ours) <= ref_knn_keys | {"num_candidates"}
    rrf_ref = find_key(
        es_stories("x-pack/plugin/rank-rrf/src/yamlRestTest/resources/rest-api-spec/test/rrf/300_rrf_retriever.yml"),
        "rrf",
    )
    ref_rrf_keys = set().union(*(set(r) for r in rrf_ref if isinstance(r, dict)))
    ours_rrf = build_hybrid_query("lungs", VEC, k=20)["retriever"]["rrf"]
    assert set(ours_rrf) <= ref_rrf_keys
    kinds = {next(iter(r)) for r in ours_rrf["retrievers"]}
    ref_kinds = {next(iter(r)) for rr in rrf_ref if isinstance(rr, dict) for r in rr.get("retrievers", [])}
    assert kinds <= ref_kinds


def test_es_dense_vector_mappings_match_the_reference() -> None:
    stories = es_stories(
        "rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/80_dense_vector_indexed_by_default.yml"
    )
    accepted_keys: set[str] = set()
    for story in stories:
        for name, test in story.items():
            if not isinstance(test, list) or name == "setup":
                continue
            for step in test:
                do = step.get("do", {}) if isinstance(step, dict) else {}
                if "indices.create" in do and "catch" not in do:
                    for props in find_key(do, "properties"):
                        for field in props.values():
                            if field.get("type") == "dense_vector":
                                accepted_keys |= set(field)
    for rerank_only in (False, True):
        ours = index_body("elasticsearch", META, rerank_only=rerank_only)["mappings"]["properties"]["embedding"]
        assert set(ours) <= accepted_keys
    # The reference's rejected case: an unindexed dense_vector may not carry `similarity`.
    assert (
        "similarity" not in index_body("elasticsearch", META, rerank_only=True)["mappings"]["properties"]["embedding"]
    )


def test_es_api_specs_accept_our_query_params() -> None:
    bulk = json.loads(ref("elasticsearch/rest-api-spec/src/main/resources/rest-api-spec/api/bulk.json").read_text())
    assert "pipeline" in bulk["bulk"]["params"]
    put = json.loads(
        ref("elasticsearch/rest-api-spec/src/main/resources/rest-api-spec/api/ingest.put_pipeline.json").read_text()
    )
    assert put["ingest.put_pipeline"]["body"]["required"] is True


# -- OpenSearch: JSON-schema validation against its OpenAPI spec ---------------------------------------


@cache
def _os_registry() -> Any:
    import yaml
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = ref("opensearch", "spec")
    resources = []
    for path in spec.rglob("*.yaml"):
        resources.append(
            (
                path.resolve().as_uri(),
                Resource.from_contents(yaml.safe_load(path.read_text()), default_specification=DRAFT202012),
            )
        )
    return spec, Registry().with_resources(resources)


def os_validate(namespace: str, request_body: str, body: Any) -> None:
    pytest.importorskip("jsonschema", reason="jsonschema is needed to validate against the OpenSearch OpenAPI spec")
    import jsonschema

    spec, registry = _os_registry()
    uri = (spec / "namespaces" / f"{namespace}.yaml").resolve().as_uri()
    schema = {"$ref": f"{uri}#/components/requestBodies/{request_body}/content/application~1json/schema"}
    jsonschema.Draft202012Validator(schema, registry=registry).validate(body)


def test_os_search_bodies_validate_against_the_spec() -> None:
    os_validate("_core", "search", build_query("lungs", dialect="opensearch"))
    os_validate("_core", "search", build_query("lungs", VEC, top_k=50, dialect="opensearch"))
    os_validate("_core", "search", build_knn_query(VEC, k=20, dialect="opensearch"))
    os_validate("_core", "search", build_hybrid_query("lungs", VEC, k=20, dialect="opensearch"))


def test_os_index_and_pipeline_bodies_validate_against_the_spec() -> None:
    for rerank_only in (False, True):
        os_validate("indices", "indices.create", index_body("opensearch", META, rerank_only=rerank_only))
    os_validate("indices", "indices.create", index_body("opensearch", META, knn_engine="faiss"))
    os_validate("ingest", "ingest.put_pipeline", ingest_pipeline_body("opensearch", "model-1"))
    os_validate("search_pipeline", "search_pipeline.put", hybrid_search_pipeline_body())


def test_os_bodies_have_the_shape_of_the_reference_stories() -> None:
    import yaml

    emb = yaml.safe_load(ref("opensearch/tests/default/ingest/pipeline/text_embedding.yaml").read_text())
    ref_proc = find_key(emb, "text_embedding")[0]
    assert set(ingest_pipeline_body("opensearch", "m")["processors"][0]["text_embedding"]) == set(ref_proc)
    norm = yaml.safe_load(
        ref("opensearch/tests/default/search_pipeline/search_phase_results_processors/normalization.yaml").read_text()
    )
    ref_np = find_key(norm, "normalization-processor")[0]
    ours = hybrid_search_pipeline_body()["phase_results_processors"][0]["normalization-processor"]
    assert set(ours) == set(ref_np) and set(ours["combination"]) == set(ref_np["combination"])
    hybrid = yaml.safe_load(ref("opensearch/tests/default/_core/search/hybrid_query_pagination.yaml").read_text())
    assert "queries" in find_key(hybrid, "hybrid")[0]
    knn = yaml.safe_load(ref("opensearch/tests/default/_core/search/knn/search/search_k.yaml").read_text())
    ref_knn = [q for q in find_key(knn, "knn") if isinstance(q, dict) and "embedding" in q]
    ours_knn = build_knn_query(VEC, size=5, k=5, dialect="opensearch")["query"]["knn"]["embedding"]
    assert ref_knn and set(ours_knn) <= set().union(*(set(q["embedding"]) for q in ref_knn))
