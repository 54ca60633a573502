"""The embedded engine (no server): tantivy BM25 + stored vectors."""

from ._engine import EmbeddedEngine

__all__ = ["EmbeddedEngine"]
