"""The OpenSearch engine (2.x and 3.x) through ``opensearch-py``.

Needs the k-NN plugin for the ``knn_vector`` field and the painless ``cosineSimilarity`` used by the
rescore; hybrid search needs neural-search; ``--server-pipeline`` needs ml-commons and neural-search.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError as OpenSearchTransportError
from opensearchpy.helpers import streaming_bulk

from .._errors import ClusterError, InputError
from ..query import VECTOR_FIELD
from ._cluster import ClusterEngine, OtherDistribution, parse_version
from ._cluster_config import ClusterConfig
from ._resources import FAISS_COSINE_VERSION, HYBRID_SEARCH_PIPELINE, Distribution, hybrid_search_pipeline_body


class OpenSearchEngine(ClusterEngine):
    """OpenSearch 2.x/3.x behind the :class:`~bmb_es.engines.Engine` interface.

    Wraps an existing ``OpenSearch`` client (``OpenSearchEngine(client)``) or builds one from a
    :class:`ClusterConfig` (:meth:`connect`). Hybrid bodies (``query.hybrid``) are sent with the
    ``bmb-es-hybrid`` search pipeline unless ``search_pipeline`` names another.
    """

    kind: ClassVar[Distribution] = "opensearch"
    label: ClassVar[str] = "OpenSearch"
    search_pipeline: str | None = HYBRID_SEARCH_PIPELINE

    @classmethod
    def connect(cls, config: ClusterConfig) -> ClusterEngine:
        """A client for ``config``, checked with ``GET /``; any other server raises :class:`OtherDistribution`."""
        if config.api_key:
            raise InputError(
                "OpenSearch has no Elasticsearch API keys: use BMB_OS_USER/BMB_OS_PASSWORD or BMB_OS_BEARER"
            )
        kwargs: dict[str, Any] = {
            "use_ssl": config.url.startswith("https"),
            "verify_certs": config.verify,
            "ssl_show_warn": False,  # ClusterConfig.warn_if_insecure says it once, clearly
            "timeout": config.request_timeout,
        }
        if config.ca_certs:
            kwargs["ca_certs"] = config.ca_certs
        if config.bearer:
            kwargs["headers"] = {"authorization": f"Bearer {config.bearer}"}
        elif config.has_basic_auth:
            kwargs["headers"] = config.basic_auth_header()  # UTF-8; http_auth would encode it as latin-1
        try:
            client = OpenSearch(hosts=[config.url], **kwargs)
        except ValueError as error:  # the client's own checks; the URL and options are ours, the message theirs
            raise InputError(config.redact(f"cluster URL {config.url!r}: {error}")) from None
        engine = cls(client, config=config, owns_client=True)
        try:
            with engine._errors("connecting"):
                info = engine._info()
        except Exception:
            client.close()
            raise
        version_block = info.get("version", {})
        if version_block.get("distribution") != "opensearch":
            client.close()
            raise OtherDistribution(config.url, "elasticsearch")  # confirmed (or refused) by the Elasticsearch client
        version = parse_version(str(version_block.get("number", "")))
        if version[:1] < (2,):
            client.close()
            raise ClusterError(
                f"{config.url} runs OpenSearch {'.'.join(map(str, version))}: bmb-es supports 2.x and 3.x"
            )
        engine._version = version
        return engine

    def _info(self) -> Mapping[str, Any]:
        return dict(self.client.info())

    def _classify(self, error: Exception) -> tuple[int | None, Any] | None:
        if isinstance(error, OpenSearchConnectionError):
            return None, None
        if isinstance(error, OpenSearchTransportError):
            status = error.status_code if isinstance(error.status_code, int) else None
            return status, error.info
        return None

    def _streaming_bulk(self, actions: Sequence[dict[str, Any]], **kwargs: Any) -> Iterator[tuple[bool, Any]]:
        return streaming_bulk(self.client, actions, **kwargs)  # type: ignore[no-any-return]

    def _mget_hashes(self, name: str, ids: list[str]) -> Any:
        return self.client.mget(index=name, body={"ids": ids}, _source_includes="content_hash")

    def _mget_sources(self, name: str, ids: list[str]) -> Any:
        return self.client.mget(index=name, body={"ids": ids}, _source_excludes=VECTOR_FIELD)

    def create_index(self, name: str, meta: Any, *, rerank_only: bool = False) -> None:
        if self.knn_engine == "faiss" and not rerank_only and self.version[:2] < FAISS_COSINE_VERSION:
            raise InputError(
                f"--knn-engine faiss with cosinesimil needs OpenSearch 2.19+ (this cluster runs "
                f"{'.'.join(map(str, self.version))}); use the default lucene engine"
            )
        super().create_index(name, meta, rerank_only=rerank_only)

    def put_search_pipeline(self, bm25_weight: float = 0.3, knn_weight: float = 0.7) -> str:
        """Create or update ``bmb-es-hybrid`` (normalization-processor; needs neural-search, 2.10+)."""
        with self._errors(f"creating search pipeline {HYBRID_SEARCH_PIPELINE!r}"):
            self.client.search_pipeline.put(
                id=HYBRID_SEARCH_PIPELINE, body=hybrid_search_pipeline_body(bm25_weight, knn_weight)
            )
        return HYBRID_SEARCH_PIPELINE

    def search(self, name: str, body: Mapping[str, Any], *, search_pipeline: str | None = None) -> dict[str, Any]:
        query = body.get("query")
        pipeline = search_pipeline or (
            self.search_pipeline if isinstance(query, Mapping) and "hybrid" in query else None
        )
        params = {"search_pipeline": pipeline} if pipeline else {}
        return self._search(name, body, **params)
