"""The one record type every reader produces and every engine stores."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# Fields that make up a document's content: a change in any of them means the stored vector is stale.
CONTENT_FIELDS: tuple[str, ...] = (
    "title",
    "abstract",
    "body",
    "authors",
    "journal",
    "date",
    "doi",
    "pmid",
    "source",
    "keywords",
    "extra",
)
TEXT_FIELDS: tuple[str, ...] = ("title", "abstract", "body")
# Longest id stored as it is, in UTF-8 bytes: Elasticsearch and OpenSearch refuse a longer _id, and tantivy does not
# index a term of 65,530 bytes or more (each rerun would add a copy). Longer ids are hashed, identically for every
# engine (see Document.bounded).
MAX_ID_BYTES = 512
ORIGINAL_ID = "original_id"  # the extra field that keeps an id too long to be the id
LONG_ID = f"id: over {MAX_ID_BYTES} bytes → sha256 id"  # how Document.coerced notes it


@dataclass(frozen=True, slots=True)
class Document:
    """A paper: what readers yield, what is embedded and indexed.

    Parameters
    ----------
    id
        Stable identifier: the source's own id (BREATHE ``id``, CORD-19 ``cord_uid``, PMID, BEIR ``_id``),
        else a hash of the content (see :func:`content_id`). Re-indexing the same id is an update.
    title, abstract, body
        The searchable text. ``body`` is the full text where the source has one.
    authors, keywords
        Split lists, in source order.
    journal, date, doi, pmid, source
        Metadata; ``date`` is ISO ``YYYY-MM-DD`` (or a prefix of it) as the source gives it.
    extra
        Every other source field, JSON-serialisable, kept so nothing the source had is lost.
    coerced
        What a reader changed to make the record indexable (e.g. ``"title: number → text"``), one note per value;
        counted in the ingest summary, not stored, not part of the content.
    origin
        ``(file, line)`` of the source record, so a document that fails later is rejected naming it; not stored.
    """

    id: str
    title: str = ""
    abstract: str = ""
    body: str = ""
    authors: tuple[str, ...] = ()
    journal: str = ""
    date: str = ""
    doi: str = ""
    pmid: str = ""
    source: str = ""
    keywords: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    coerced: tuple[str, ...] = field(default=(), compare=False, repr=False)
    origin: tuple[str, int] | None = field(default=None, compare=False, repr=False)

    @property
    def year(self) -> str:
        """The four-digit year of ``date``, or ``""``."""
        head = self.date[:4]
        return head if head.isdigit() else ""

    @property
    def has_text(self) -> bool:
        return any(getattr(self, name).strip() for name in TEXT_FIELDS)

    def to_source(self) -> dict[str, Any]:
        """The stored ``_source``: plain JSON types, lists for list fields."""
        out: dict[str, Any] = {"id": self.id}
        for name in CONTENT_FIELDS:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else (dict(value) if name == "extra" else value)
        return out

    def bounded(self) -> Document:
        """This document, or when its id is longer than :data:`MAX_ID_BYTES` UTF-8 bytes a copy whose id is
        ``sha256:<hex of the id>`` (stable: reruns upsert it) and whose ``extra`` keeps the id as ``original_id``
        (``_original_id`` if the source has that field, and so on), noted in ``coerced``."""
        encoded = self.id.encode("utf-8", "surrogatepass")  # an id that cannot be encoded is rejected later
        if len(encoded) <= MAX_ID_BYTES:
            return self
        key = ORIGINAL_ID
        while key in self.extra:
            key = "_" + key
        return replace(
            self,
            id=f"sha256:{hashlib.sha256(encoded).hexdigest()}",
            extra={**self.extra, key: self.id},
            coerced=(*self.coerced, LONG_ID),
        )

    @classmethod
    def from_source(cls, source: Mapping[str, Any]) -> Document:
        """Inverse of :meth:`to_source`; unknown keys are ignored."""
        return cls(
            id=str(source["id"]),
            title=str(source.get("title") or ""),
            abstract=str(source.get("abstract") or ""),
            body=str(source.get("body") or ""),
            authors=tuple(source.get("authors") or ()),
            journal=str(source.get("journal") or ""),
            date=str(source.get("date") or ""),
            doi=str(source.get("doi") or ""),
            pmid=str(source.get("pmid") or ""),
            source=str(source.get("source") or ""),
            keywords=tuple(source.get("keywords") or ()),
            extra=dict(source.get("extra") or {}),
        )

    def content_hash(self) -> str:
        """SHA-256 of the content fields, for detecting unchanged documents on re-index."""
        payload = {name: value for name, value in self.to_source().items() if name != "id"}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def content_id(title: str, abstract: str, body: str) -> str:
    """Id for a record without one: a hash of its text, so the same text always gets the same id."""
    digest = hashlib.sha256("\x1f".join((title.strip(), abstract.strip(), body.strip())).encode()).hexdigest()
    return f"sha256-{digest[:32]}"
