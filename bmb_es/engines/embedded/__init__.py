"""The embedded engine (no server): tantivy BM25 + stored vectors."""

from ._dsl import SUBSET_HELP, SearchPlan, parse_body
from ._engine import TANTIVY_TO_LUCENE, EmbeddedEngine

__all__ = ["SUBSET_HELP", "TANTIVY_TO_LUCENE", "EmbeddedEngine", "SearchPlan", "parse_body"]
