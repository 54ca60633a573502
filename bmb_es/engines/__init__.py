"""Engines execute request bodies and store documents with their vectors, behind one interface.

The cluster engines (:class:`ElasticsearchEngine`, :class:`OpenSearchEngine`) import their client only
when first used, so ``import bmb_es`` stays light.
"""

from typing import TYPE_CHECKING, Any

from .._errors import ClusterError
from ._base import Engine, EngineHit, EngineResponse, IndexedDocument, IndexMeta, TotalRelation, check_index_name
from ._cluster_config import ClusterConfig, InsecureClusterWarning
from ._select import as_engine, connect, open_engine
from .embedded import EmbeddedEngine

if TYPE_CHECKING:
    from ._cluster import BulkItemError, ClusterEngine
    from ._elasticsearch import ElasticsearchEngine
    from ._opensearch import OpenSearchEngine

_LAZY = {
    "BulkItemError": "._cluster",
    "ClusterEngine": "._cluster",
    "ElasticsearchEngine": "._elasticsearch",
    "OpenSearchEngine": "._opensearch",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BulkItemError",
    "ClusterConfig",
    "ClusterEngine",
    "ClusterError",
    "ElasticsearchEngine",
    "EmbeddedEngine",
    "Engine",
    "EngineHit",
    "EngineResponse",
    "IndexMeta",
    "IndexedDocument",
    "InsecureClusterWarning",
    "OpenSearchEngine",
    "TotalRelation",
    "as_engine",
    "check_index_name",
    "connect",
    "open_engine",
]
