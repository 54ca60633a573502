"""The interface every engine implements, and the metadata every index carries."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .._document import Document
from .._errors import InputError, ModelMismatchError
from ..query import SearchRequest

# Elasticsearch's index-name rules, applied everywhere so a name that works embedded works on a cluster.
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_.+-]{0,254}$")
META_VERSION = 1


def check_index_name(name: str) -> str:
    if not _INDEX_NAME.match(name) or name in (".", ".."):
        raise InputError(
            f"index name {name!r}: use lowercase letters, digits and _ . + - (not starting with one of them)"
        )
    return name


@dataclass(frozen=True, slots=True)
class IndexMeta:
    """What an index was built with; recorded at creation and checked before every write or query.

    Parameters
    ----------
    model
        The embedding model's name (see :func:`bmb_es.embedding.model_name`).
    dimension
        Vector dimension.
    embed_fields
        Document fields whose text was embedded.
    backend, precision
        How the vectors were computed (e.g. ``"openvino"``/``"bf16"``); informational only: vectors from every
        verified backend and precision of one model are comparable, so queries may use any of them.
        ``None`` for indices built before these were recorded (absent from the JSON then).
    """

    model: str
    dimension: int
    embed_fields: tuple[str, ...] = ("title", "abstract")
    similarity: str = "cosine"
    meta_version: int = META_VERSION
    backend: str | None = None
    precision: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["embed_fields"] = list(self.embed_fields)
        for optional in ("backend", "precision"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IndexMeta:
        return cls(
            model=str(data["model"]),
            dimension=int(data["dimension"]),
            embed_fields=tuple(data.get("embed_fields") or ("title", "abstract")),
            similarity=str(data.get("similarity", "cosine")),
            meta_version=int(data.get("meta_version", META_VERSION)),
            backend=str(data["backend"]) if data.get("backend") is not None else None,
            precision=str(data["precision"]) if data.get("precision") is not None else None,
        )

    def check_compatible(self, index: str, model: str, dimension: int | None = None) -> None:
        """Refuse a model other than the one the index was built with."""
        if model != self.model or (dimension is not None and dimension != self.dimension):
            got = f"{model} ({dimension}-d)" if dimension is not None else model
            raise ModelMismatchError(
                f"index {index!r} was built with {self.model} ({self.dimension}-d), not {got}: "
                f"query it with --model {self.model}, or re-index into a new index with the other model"
            )


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    """A document as stored: its content, the hash of that content, and its vector."""

    document: Document
    content_hash: str
    vector: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class EngineHit:
    """One hit as an engine ranked it. ``bm25`` and ``cosine``: the parts of ``score``, where the engine knows
    them (the embedded engine does; a cluster reports only ``score``)."""

    id: str
    score: float
    source: dict[str, Any]
    bm25: float | None = None
    cosine: float | None = None


@dataclass(frozen=True, slots=True)
class EngineResponse:
    """What :meth:`Engine.execute` returns: hits best first, how many matched, the engine's time."""

    hits: list[EngineHit]
    total: int
    took_ms: int

    @classmethod
    def from_search_response(cls, response: Mapping[str, Any]) -> EngineResponse:
        """An Elasticsearch-shaped ``_search`` response, typed."""
        block = response.get("hits", {})
        total = block.get("total", 0)
        hits = []
        for raw in block.get("hits", []):
            source = dict(raw.get("_source") or {})
            source.setdefault("id", str(raw["_id"]))
            hits.append(EngineHit(str(raw["_id"]), float(raw["_score"]), source))
        count = total["value"] if isinstance(total, Mapping) else total
        return cls(hits, int(count), int(response.get("took", 0)))

    def to_search_response(self, index: str) -> dict[str, Any]:
        """The Elasticsearch-shaped ``_search`` response (what a cluster would answer)."""
        return {
            "took": self.took_ms,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": self.total, "relation": "eq"},
                "max_score": max((hit.score for hit in self.hits), default=None),
                "hits": [
                    {"_index": index, "_id": hit.id, "_score": hit.score, "_source": hit.source} for hit in self.hits
                ],
            },
        }


@runtime_checkable
class Engine(Protocol):
    """Where documents and vectors are written and request bodies are executed.

    The embedded engine and the cluster engines implement the same methods; the CLI and the Python API
    choose one by configuration, never by separate code paths.
    """

    @property
    def kind(self) -> str: ...

    @property
    def write_retries(self) -> int:
        """Documents sent again after back-pressure (HTTP 429/503) over the engine's life; 0 for embedded."""
        ...

    def create_index(self, name: str, meta: IndexMeta) -> None:
        """Create ``name`` for ``meta``; if it exists, check that ``meta`` matches (ModelMismatchError)."""
        ...

    def index_meta(self, name: str) -> IndexMeta:
        """The metadata of ``name``; IndexNotFoundError if it does not exist."""
        ...

    def list_indices(self) -> list[str]: ...

    def delete_index(self, name: str) -> None: ...

    def count(self, name: str) -> int:
        """Documents visible to search (after the last commit)."""
        ...

    def stored_hashes(self, name: str, ids: Sequence[str]) -> dict[str, str]:
        """``{id: content_hash}`` for those of ``ids`` already stored (and committed)."""
        ...

    def upsert(self, name: str, items: Sequence[IndexedDocument]) -> None:
        """Write documents with their vectors, replacing any stored document with the same id."""
        ...

    def commit(self, name: str) -> None:
        """Make everything written so far durable and searchable (a resume point)."""
        ...

    def get(self, name: str, ids: Sequence[str]) -> dict[str, IndexedDocument]:
        """Stored documents with their vectors, by id (ids not found are absent)."""
        ...

    def execute(self, name: str, request: SearchRequest) -> EngineResponse:
        """Run a typed search request (what :func:`bmb_es.search` does)."""
        ...

    def search(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Execute an Elasticsearch request body verbatim; returns an Elasticsearch-shaped response."""
        ...

    def close(self) -> None: ...
