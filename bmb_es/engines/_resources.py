"""The shipped index definitions (``mappings/``) and pipelines (``pipelines/``), filled in for a model.

The JSON files are the single source: in a wheel they live under ``bmb_es/_resources/`` (see the
``force-include`` table in pyproject.toml); in an editable install they are read from the repository.
Each file is a body a user can send as it is (``mappings/README.md`` and ``pipelines/README.md`` say what each
is for and what to fill in); bmb-es sends the same body with the model's dimension, ``_meta`` and, for
pipelines, the model id filled in.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from .._errors import InputError
from ..query import VECTOR_FIELD
from ._base import IndexMeta

Distribution = Literal["elasticsearch", "opensearch"]
KnnEngine = Literal["lucene", "faiss"]
KNN_ENGINES: tuple[str, ...] = ("lucene", "faiss")
FAISS_COSINE_VERSION = (2, 19)  # OpenSearch's faiss engine accepts space_type cosinesimil from 2.19 on

EMBED_TEXT_FIELD = "embed_text"  # what bmb-es sends for the server-side pipeline to embed
INGEST_ERROR_FIELD = "ingest_error"
HASH_FIELD = "content_hash"
HYBRID_SEARCH_PIPELINE = "bmb-es-hybrid"
_REPO = Path(__file__).resolve().parents[2]
_PIPELINE_ID_CHARS = re.compile(r"[^a-z0-9_.-]+")


def resource_path(kind: Literal["mappings", "pipelines"], *parts: str) -> Path:
    """A shipped file: the wheel's ``bmb_es/_resources/<kind>/...``, else the repository's ``<kind>/...``."""
    packaged = resources.files("bmb_es").joinpath("_resources", kind, *parts)
    if packaged.is_file():
        return Path(str(packaged))
    path = _REPO.joinpath(kind, *parts)
    if not path.is_file():
        raise InputError(f"{kind}/{'/'.join(parts)}: not found in the package or in {_REPO}; reinstall bmb-es")
    return path


def load_resource(kind: Literal["mappings", "pipelines"], *parts: str) -> dict[str, Any]:
    """A shipped JSON body, exactly as the file holds it."""
    data = json.loads(resource_path(kind, *parts).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise InputError(f"{kind}/{'/'.join(parts)}: expected a JSON object")
    return data


def mapping_file(distribution: Distribution, *, rerank_only: bool = False, knn_engine: KnnEngine = "lucene") -> str:
    """The shipped file name for an index variant."""
    if knn_engine not in KNN_ENGINES:
        raise InputError(f"k-NN engine {knn_engine!r}: choose lucene or faiss")
    if rerank_only:
        return "papers-rerank-only.json"
    if distribution == "opensearch" and knn_engine == "faiss":
        return "papers-faiss.json"
    if distribution == "elasticsearch" and knn_engine == "faiss":
        raise InputError("--knn-engine faiss is an OpenSearch option; Elasticsearch indexes vectors with Lucene HNSW")
    return "papers.json"


def index_body(
    distribution: Distribution,
    meta: IndexMeta,
    *,
    rerank_only: bool = False,
    knn_engine: KnnEngine = "lucene",
    version: tuple[int, ...] = (),
) -> dict[str, Any]:
    """The ``PUT /<index>`` body for ``meta``: the shipped mapping with the vector size and ``_meta`` filled in.

    ``version`` is the server's (major, minor, ...); empty when unknown, which gives the body every supported
    release of ``distribution`` accepts. On Elasticsearch 9.2+ vectors would be left out of ``_source`` by
    default; bmb-es keeps them there (``index.mapping.exclude_source_vectors: false``, a setting 8.x and 9.0-9.1
    refuse) so ``get`` returns them as on 8.x.

    Raises
    ------
    InputError
        A similarity other than cosine, ``faiss`` on Elasticsearch, or ``faiss`` on OpenSearch before 2.19.
    """
    if meta.similarity != "cosine":
        raise InputError(f"similarity {meta.similarity!r}: the shipped mappings use cosine")
    faiss = distribution == "opensearch" and knn_engine == "faiss" and not rerank_only
    if faiss and version and version[:2] < FAISS_COSINE_VERSION:
        raise InputError(
            f"--knn-engine faiss with cosinesimil needs OpenSearch 2.19+ (not {'.'.join(map(str, version))}); "
            "use the default lucene engine"
        )
    body = load_resource(
        "mappings", distribution, mapping_file(distribution, rerank_only=rerank_only, knn_engine=knn_engine)
    )
    body = copy.deepcopy(body)
    mappings = body["mappings"]
    mappings["_meta"] = meta.to_json()
    vector = mappings["properties"][VECTOR_FIELD]
    vector["dims" if distribution == "elasticsearch" else "dimension"] = meta.dimension
    if distribution == "elasticsearch" and version[:2] >= (9, 2):
        body.setdefault("settings", {})["index.mapping.exclude_source_vectors"] = False
    return body


def pipeline_id(model_id: str) -> str:
    """The ingest pipeline bmb-es creates for a cluster-side model: ``bmb-es-embed-<model id>``."""
    slug = _PIPELINE_ID_CHARS.sub("-", model_id.lower()).strip("-.") or "model"
    return f"bmb-es-embed-{slug}"


def ingest_pipeline_body(distribution: Distribution, model_id: str) -> dict[str, Any]:
    """The ingest pipeline that embeds ``embed_text`` into the vector field with ``model_id``."""
    if not model_id.strip():
        raise InputError("the server-side model id is empty")
    name = "papers-inference.json" if distribution == "elasticsearch" else "papers-text-embedding.json"
    body = copy.deepcopy(load_resource("pipelines", distribution, name))
    processor = "inference" if distribution == "elasticsearch" else "text_embedding"
    body["processors"][0][processor]["model_id"] = model_id.strip()
    return body


def hybrid_search_pipeline_body(bm25_weight: float = 0.3, knn_weight: float = 0.7) -> dict[str, Any]:
    """OpenSearch's search pipeline for hybrid queries (normalization-processor), with the two weights."""
    body = copy.deepcopy(load_resource("pipelines", "opensearch", "papers-hybrid-search.json"))
    processor = body["phase_results_processors"][0]["normalization-processor"]
    processor["combination"]["parameters"]["weights"] = [float(bm25_weight), float(knn_weight)]
    return body


def setup_requests(
    distribution: Distribution,
    meta: IndexMeta,
    *,
    index: str,
    rerank_only: bool = False,
    knn_engine: KnnEngine = "lucene",
    version: tuple[int, ...] = (),
    pipeline_model: str | None = None,
    hybrid: bool = False,
) -> list[tuple[str, dict[str, Any]]]:
    """What ``bmb-es setup`` sends, in order: ``("PUT <path>", body)`` for the index and each pipeline.

    Parameters
    ----------
    distribution, version
        The cluster's; ``version`` empty gives the bodies every supported release accepts.
    meta
        The model the index is for (its name and dimension go into the mapping).
    index
        The index name.
    rerank_only, knn_engine
        The mapping variant (see :func:`mapping_file`).
    pipeline_model
        A model id deployed on the cluster: adds its ingest pipeline.
    hybrid
        Adds OpenSearch's ``bmb-es-hybrid`` search pipeline (Elasticsearch needs none).
    """
    body = index_body(distribution, meta, rerank_only=rerank_only, knn_engine=knn_engine, version=version)
    requests: list[tuple[str, dict[str, Any]]] = [(f"PUT {index}", body)]
    if pipeline_model:
        requests.append(
            (f"PUT _ingest/pipeline/{pipeline_id(pipeline_model)}", ingest_pipeline_body(distribution, pipeline_model))
        )
    if hybrid and distribution == "opensearch":
        requests.append((f"PUT _search/pipeline/{HYBRID_SEARCH_PIPELINE}", hybrid_search_pipeline_body()))
    return requests


def dev_tools_text(requests: list[tuple[str, dict[str, Any]]]) -> str:
    """Requests as Kibana / OpenSearch Dashboards Dev Tools takes them: the request line, then its JSON body."""
    return "\n\n".join(f"{line}\n{json.dumps(body, indent=2, ensure_ascii=False)}" for line, body in requests) + "\n"
