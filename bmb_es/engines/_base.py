"""The interface every engine implements, and the metadata every index carries."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .._document import Document
from .._errors import InputError, ModelMismatchError
from ..query import SearchRequest

# Elasticsearch's index-name rules, applied everywhere so a name that works embedded works on a cluster.
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_.+-]{0,254}$")
META_VERSION = 1
# How ``total`` counts, as Elasticsearch's ``hits.total.relation``: exactly, or at least that many.
TotalRelation = Literal["eq", "gte"]


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
    them (the embedded engine does; a cluster reports only ``score``).

    ``source`` is empty for a request that asked for none (``SearchRequest.source`` false); ``location`` is then
    where the engine can read it back (:meth:`Engine.fetch_sources`; the embedded engine's record offset and
    length, ``None`` on clusters, which fetch by id). It takes no part in comparisons.
    """

    id: str
    score: float
    source: dict[str, Any]
    bm25: float | None = None
    cosine: float | None = None
    location: tuple[int, int] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class EngineResponse:
    """What :meth:`Engine.execute` returns: hits best first, how many matched, the engine's time.

    ``total`` counts exactly up to 10,000 matches, as Elasticsearch's default ``track_total_hits``; beyond that
    it may be a lower bound, which ``relation`` tells: ``"eq"`` (exact) or ``"gte"`` (at least ``total``).
    """

    hits: list[EngineHit]
    total: int
    took_ms: int
    relation: TotalRelation = "eq"

    @classmethod
    def from_search_response(cls, response: Mapping[str, Any]) -> EngineResponse:
        """An Elasticsearch-shaped ``_search`` response, typed (``hits.total`` as an object or a bare number)."""
        block = response.get("hits", {})
        total = block.get("total", 0)
        hits = []
        for raw in block.get("hits", []):
            source = dict(raw.get("_source") or {})
            source.setdefault("id", str(raw["_id"]))
            hits.append(EngineHit(str(raw["_id"]), float(raw["_score"]), source))
        count = total["value"] if isinstance(total, Mapping) else total
        relation: TotalRelation = "gte" if isinstance(total, Mapping) and total.get("relation") == "gte" else "eq"
        return cls(hits, int(count), int(response.get("took", 0)), relation)

    def to_search_response(self, index: str) -> dict[str, Any]:
        """The Elasticsearch-shaped ``_search`` response (what a cluster would answer)."""
        return {
            "took": self.took_ms,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": self.total, "relation": self.relation},
                "max_score": max((hit.score for hit in self.hits), default=None),
                "hits": [_hit_json(index, hit) for hit in self.hits],
            },
        }


def _hit_json(index: str, hit: EngineHit) -> dict[str, Any]:
    """One hit of a ``_search`` response; without ``_source`` when the request asked for none (the hit says where
    its source lies instead)."""
    out: dict[str, Any] = {"_index": index, "_id": hit.id, "_score": hit.score}
    if hit.location is None:
        out["_source"] = hit.source
    return out


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

    def has_knn(self, name: str) -> bool:
        """Whether ``name`` answers kNN searches (``dense``, ``hybrid``, ``feedback``; ``auto``'s feedback)."""
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

    def fetch_sources(self, name: str, hits: Sequence[EngineHit]) -> list[EngineHit]:
        """``hits`` (from :meth:`execute` of a request without sources) with their ``_source``, vector excluded.

        What a fused search returns is fetched so, once the legs' hits are fused: only those hits' sources are
        read (a cluster's one ``mget``). A hit whose document is gone by then keeps a source of its id alone.
        """
        ...

    def search(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Execute an Elasticsearch request body verbatim; returns an Elasticsearch-shaped response."""
        ...

    def close(self) -> None: ...
