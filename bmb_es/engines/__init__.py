"""Engines execute request bodies and store documents with their vectors, behind one interface."""

from ._base import Engine, IndexedDocument, IndexMeta, check_index_name
from ._select import open_engine
from .embedded import EmbeddedEngine

__all__ = ["EmbeddedEngine", "Engine", "IndexMeta", "IndexedDocument", "check_index_name", "open_engine"]
