"""The embedded engine (no server): tantivy BM25 + stored vectors."""

from ._check import Finding, IndexCheck
from ._engine import EmbeddedEngine

__all__ = ["EmbeddedEngine", "Finding", "IndexCheck"]
