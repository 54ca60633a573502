"""Choose the engine from configuration: the embedded engine unless a cluster is configured."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .._errors import ClusterError, InputError
from ._base import Engine

if TYPE_CHECKING:
    from ._cluster import ClusterEngine
    from ._cluster_config import ClusterConfig
    from ._resources import Distribution


def _engine_class(distribution: Distribution) -> type[ClusterEngine]:
    if distribution == "opensearch":
        from ._opensearch import OpenSearchEngine

        return OpenSearchEngine
    from ._elasticsearch import ElasticsearchEngine

    return ElasticsearchEngine


def connect(config: ClusterConfig) -> ClusterEngine:
    """An engine for the cluster ``config`` names; the distribution is confirmed with ``GET /``.

    ``BMB_ES_URL`` pointing at an OpenSearch node (or the reverse) still works: the engine that finds the other
    distribution says so and the other one connects instead, once.
    """
    from ._cluster import OtherDistribution

    config.warn_if_insecure()
    try:
        return _engine_class(config.distribution).connect(config)
    except OtherDistribution as found:
        try:
            return _engine_class(found.distribution).connect(config)
        except OtherDistribution:
            raise ClusterError(f"{config.url}: GET / does not identify Elasticsearch or OpenSearch") from None


def open_engine(data_dir: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> Engine:
    """The engine the CLI and API use: a cluster when ``BMB_ES_URL`` or ``BMB_OS_URL`` is set, else embedded.

    ``data_dir`` only matters for the embedded engine. See :class:`~bmb_es.engines.ClusterConfig` for the
    other ``BMB_ES_*`` / ``BMB_OS_*`` variables (API key, user/password, bearer token, CA bundle, TLS).
    """
    from ._cluster_config import ClusterConfig

    config = ClusterConfig.from_env(os.environ if environ is None else environ)
    if config is not None:
        return connect(config)
    from .embedded import EmbeddedEngine

    return EmbeddedEngine(data_dir)


# Classes seen to satisfy Engine: a runtime protocol check on every search is costly (docs/benchmarks.md).
_ENGINE_TYPES: set[type] = set()


def as_engine(target: Any) -> Engine:
    """``target`` as an :class:`Engine`: engines pass through; raw ``Elasticsearch`` / ``OpenSearch`` clients
    are wrapped (the caller keeps ownership: closing the engine leaves the client open)."""
    if type(target) in _ENGINE_TYPES:
        return cast(Engine, target)  # the common case: no runtime protocol check, no client import
    package = type(target).__module__.partition(".")[0]
    if package not in ("elasticsearch", "opensearchpy") and isinstance(target, Engine):
        _ENGINE_TYPES.add(type(target))
        return target
    from elasticsearch import Elasticsearch
    from opensearchpy import OpenSearch

    if isinstance(target, Elasticsearch):
        from ._elasticsearch import ElasticsearchEngine

        return ElasticsearchEngine(target)
    if isinstance(target, OpenSearch):
        from ._opensearch import OpenSearchEngine

        return OpenSearchEngine(target)
    if isinstance(target, Engine):
        return target
    raise InputError(
        f"expected a bmb-es engine, an elasticsearch.Elasticsearch or an opensearchpy.OpenSearch client, "
        f"got {type(target).__name__}"
    )
