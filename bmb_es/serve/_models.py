"""The JSON the API answers: pydantic models that make the OpenAPI spec at ``/openapi.json``, and the functions
that build that JSON for a search (plain dicts serialised with orjson: validating ten hits through pydantic on
every request would cost a good part of the API's 2 ms budget; the schemathesis tests check the answers against
the spec instead)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .._document import Document
from .._links import doi_url, pubmed_url
from .._search import Hit
from ..query import Filters, Mode


class ErrorOut(BaseModel):
    """Every error: one line, the message the CLI prints after ``error:``."""

    error: str = Field(description="What was wrong and what to do.")


class DocumentOut(BaseModel):
    """A stored paper (its ``_source`` without the vector), with links to PubMed and doi.org where it has ids."""

    id: str
    title: str = ""
    abstract: str = ""
    body: str = ""
    authors: list[str] = Field(default_factory=list)
    journal: str = ""
    date: str = ""
    year: str = Field("", description="The four-digit year of date, or empty.")
    doi: str = ""
    pmid: str = ""
    source: str = ""
    keywords: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict, description="Every other field the source record had.")
    pubmed_url: str | None = None
    doi_url: str | None = None


class HitOut(DocumentOut):
    """One ranked paper: its rank, its score and the parts of it (BM25, cosine) where the engine reports them."""

    rank: int
    score: float
    bm25: float | None = Field(None, description="The BM25 score (null where the engine does not report it).")
    cosine: float | None = Field(None, description="Cosine of question and paper embeddings (null: not computed).")


class FiltersOut(BaseModel):
    """The filters applied: years (inclusive; null = open) and the exact journal name."""

    year_from: int | None = None
    year_to: int | None = None
    journal: str | None = None


class SearchOut(BaseModel):
    """One page of results."""

    question: str
    mode: Mode
    total: int = Field(description="Documents that matched (the engine's count), exact up to 10,000.")
    total_relation: Literal["eq", "gte"] = Field(
        "eq", description='"eq": total is exact; "gte": at least total matched (counting stopped at 10,000).'
    )
    took_ms: int
    page: int
    size: int
    last_page: int = Field(description="The last page that has hits.")
    filters: FiltersOut
    hits: list[HitOut]
    body: dict[str, Any] | None = Field(
        None, description="With explain=true: the request body executed (as bmb-es query --explain prints it)."
    )


class IndexOut(BaseModel):
    """An index: its document count and the model it was built with, or why it cannot be read."""

    index: str
    documents: int | None = Field(None, description="Documents in the index (null: it cannot be read).")
    model: str | None = Field(None, description="The embedding model it was built with (null: it cannot be read).")
    dimension: int | None = Field(None, description="The model's vector size (null: it cannot be read).")
    error: str | None = Field(None, description="Why the index cannot be read (null: it can).")


class HealthOut(BaseModel):
    """The served index is readable (when it is not, the answer is an error)."""

    status: Literal["ok"]
    engine: str = Field(description="embedded, elasticsearch or opensearch.")
    index: str
    documents: int
    model: str = Field(description="The embedding model the index was built with.")


def document_json(document: Document) -> dict[str, Any]:
    """A :class:`DocumentOut`: the stored source, its year and links."""
    out = document.to_source()
    out["year"] = document.year
    out["pubmed_url"] = pubmed_url(document.pmid)
    out["doi_url"] = doi_url(document.doi)
    return out


def hit_json(hit: Hit) -> dict[str, Any]:
    """A :class:`HitOut`: rank and scores, then the document."""
    return {"rank": hit.rank, "score": hit.score, "bm25": hit.bm25, "cosine": hit.cosine, **document_json(hit.document)}


def filters_json(filters: Filters) -> dict[str, Any]:
    """A :class:`FiltersOut`."""
    return {"year_from": filters.year_from, "year_to": filters.year_to, "journal": filters.journal}
