"""The Elasticsearch engine (8.18+ and 9.x) through the official ``elasticsearch`` client.

The 9.x Python client marks every request ``compatible-with=9``, which an 8.x server refuses. The engine's
transport rewrites that marker to the server's major version (found with ``GET /``), so one installed
client talks to both 8.x and 9.x clusters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from elastic_transport import HttpHeaders, Transport, TransportApiResponse
from elasticsearch import ApiError, Elasticsearch, TransportError, UnsupportedProductError
from elasticsearch._version import __versionstr__ as CLIENT_VERSION
from elasticsearch.helpers import streaming_bulk

from .._errors import ClusterError, InputError
from ..query import VECTOR_FIELD
from ._cluster import ClusterEngine, OtherDistribution, parse_version
from ._cluster_config import ClusterConfig
from ._resources import Distribution

CLIENT_MAJOR = int(CLIENT_VERSION.partition(".")[0])
MIN_VERSION = (8, 18)
_COMPAT = re.compile(r"application/vnd\.elasticsearch\+([\w-]+);\s*compatible-with=\d+")


class CompatTransport(Transport):
    """A transport that pins the REST-compatibility version to what the server speaks.

    ``compat_major`` ``None`` (before ``GET /`` told us the version): plain ``application/json``, which
    every version accepts. Otherwise ``compatible-with=min(client major, server major)``.
    """

    compat_major: int | None = None

    def perform_request(self, method: str, target: str, **kwargs: Any) -> TransportApiResponse:
        headers = kwargs.get("headers")
        if isinstance(headers, Mapping):
            fixed = HttpHeaders(headers)
            for key in ("accept", "content-type"):
                value = fixed.get(key)
                if value:
                    if self.compat_major is None:
                        fixed[key] = _COMPAT.sub(r"application/\1", value)
                    else:
                        major = min(CLIENT_MAJOR, self.compat_major)
                        fixed[key] = _COMPAT.sub(rf"application/vnd.elasticsearch+\1; compatible-with={major}", value)
            kwargs["headers"] = fixed
        return super().perform_request(method, target, **kwargs)


class ElasticsearchEngine(ClusterEngine):
    """Elasticsearch 8.18+/9.x behind the :class:`~bmb_es.engines.Engine` interface.

    Wraps an existing ``Elasticsearch`` client (``ElasticsearchEngine(es)``) or builds one from a
    :class:`ClusterConfig` (:meth:`connect`).
    """

    kind: ClassVar[Distribution] = "elasticsearch"
    label: ClassVar[str] = "Elasticsearch"

    @classmethod
    def connect(cls, config: ClusterConfig) -> ClusterEngine:
        """A client for ``config``, checked with ``GET /``; an OpenSearch server raises :class:`OtherDistribution`."""
        kwargs: dict[str, Any] = {
            "verify_certs": config.verify,
            "ssl_show_warn": False,  # ClusterConfig.warn_if_insecure says it once, clearly
            "request_timeout": config.request_timeout,
            "transport_class": CompatTransport,
        }
        if config.ca_certs:
            kwargs["ca_certs"] = config.ca_certs
        if config.api_key:
            key_id, colon, key = config.api_key.partition(":")
            kwargs["api_key"] = (key_id, key) if colon else config.api_key  # id:key, or the encoded form
        elif config.bearer:
            kwargs["bearer_auth"] = config.bearer
        elif config.has_basic_auth:
            kwargs["headers"] = config.basic_auth_header()  # UTF-8; basic_auth would encode it as ASCII
        try:
            client = Elasticsearch(config.url, **kwargs)
        except ValueError as error:  # the client's own checks; the URL and options are ours, the message theirs
            raise InputError(config.redact(f"cluster URL {config.url!r}: {error}")) from None
        engine = cls(client, config=config, owns_client=True)
        info: Mapping[str, Any] | None = None
        other: Any = None
        try:
            with engine._errors("connecting"):
                try:
                    info = engine._info()
                except UnsupportedProductError as error:
                    other = error.body
        except Exception:
            client.close()
            raise
        if info is None:
            client.close()
            body = other if isinstance(other, Mapping) else {}
            if body.get("version", {}).get("distribution") == "opensearch":
                raise OtherDistribution(config.url, "opensearch")
            raise ClusterError(f"{config.url}: GET / does not identify Elasticsearch or OpenSearch")
        version = parse_version(str(info.get("version", {}).get("number", "")))
        if version[:2] < MIN_VERSION:
            client.close()
            raise ClusterError(
                f"{config.url} runs Elasticsearch {'.'.join(map(str, version))}: bmb-es supports 8.18+ and 9.x"
            )
        engine._version = version
        if isinstance(client.transport, CompatTransport):
            client.transport.compat_major = version[0]
        return engine

    def _info(self) -> Mapping[str, Any]:
        try:
            response = self.client.info()
        except ApiError as error:
            if error.meta.status not in (404, 405):
                raise
            # A node without the rest-root module (Elastic's integ-test zip) has no GET /; the nodes API has the
            # version, and only Elasticsearch answers with its product header, which the client checks.
            nodes = self.client.nodes.info(node_id="_local", filter_path="nodes.*.version")
            versions = [node["version"] for node in dict(getattr(nodes, "body", nodes)).get("nodes", {}).values()]
            return {"version": {"number": versions[0] if versions else ""}}
        return dict(getattr(response, "body", response))

    def _classify(self, error: Exception) -> tuple[int | None, Any] | None:
        if isinstance(error, ApiError):
            return error.meta.status, error.body
        if isinstance(error, TransportError):
            return None, None
        return None

    def _streaming_bulk(self, actions: Sequence[dict[str, Any]], **kwargs: Any) -> Iterator[tuple[bool, Any]]:
        yield from streaming_bulk(self.client, actions, **kwargs)

    def _mget_hashes(self, name: str, ids: list[str]) -> Any:
        return self.client.mget(index=name, ids=ids, source_includes=["content_hash"])

    def _mget_sources(self, name: str, ids: list[str]) -> Any:
        return self.client.mget(index=name, ids=ids, source_excludes=[VECTOR_FIELD])

    def _get_body(self, ids: list[str]) -> dict[str, Any]:
        body = super()._get_body(ids)
        if self.version[:2] >= (9, 2):
            body["_source"] = {"exclude_vectors": False}  # 9.2+ leaves vectors out of _source by default
        return body
