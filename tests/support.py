"""What many tests share: running a request body and reading the typed hits the engine gave."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bmb_es.engines import Engine, EngineHit
from bmb_es.query import SearchRequest


def run_body(engine: Engine, index: str, body: Mapping[str, Any]) -> list[EngineHit]:
    """The hits of ``body`` with the parts of each score (``bm25``, ``cosine``) the engine reports."""
    return engine.execute(index, SearchRequest.from_body(body)).hits
