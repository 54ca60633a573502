"""What a request asks for: the query parameters of ``/api/search`` and ``/api/export``, and the search page's form.

Both become a :class:`~bmb_es.serve.SearchParams`. The API's parameters are typed and bounded here, so FastAPI
answers 422 for one out of range and the OpenAPI spec states the bounds; the page's form arrives as text and is
checked by :func:`page_params`, so that a bad value shows on the page instead of as JSON.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from .._errors import QueryError
from ..query import DEFAULT_MODE, DEFAULT_TOP_K, MAX_SIZE, Mode, parse_mode
from ._service import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_QUESTION_CHARS, SearchParams

Question = Annotated[
    str,
    Query(
        min_length=1, max_length=MAX_QUESTION_CHARS, description="The question, in plain language (text, never DSL)."
    ),
]
_MODE_HELP = (
    "auto (default: feedback for one content word, else rerank), rerank, paper, bm25, dense, hybrid or feedback."
)
ModeParam = Annotated[Mode, Query(description=_MODE_HELP)]
Size = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Hits per page.")]
TopK = Annotated[int, Query(ge=1, le=MAX_SIZE, description="Candidates ranked: BM25 top k, kNN k.")]
Page = Annotated[
    int, Query(ge=1, le=MAX_SIZE, description="Page, from 1; page x size is at most top_k (bm25: 10,000).")
]
Year = Annotated[
    str | None,
    Query(max_length=20, description="Publication years: 2019-2021, 2019, 2019- or -2021 (inclusive)."),
]
Journal = Annotated[str | None, Query(max_length=500, description="The journal's exact name, as stored.")]


def search_params(
    q: Question,
    mode: ModeParam = DEFAULT_MODE,
    size: Size = DEFAULT_PAGE_SIZE,
    top_k: TopK = DEFAULT_TOP_K,
    page: Page = 1,
    year: Year = None,
    journal: Journal = None,
) -> SearchParams:
    """The page of a search that ``/api/search`` and ``/api/export`` are asked for (a FastAPI dependency)."""
    return SearchParams(q, mode, size, top_k, page, year, journal)


PageQuery = Annotated[SearchParams, Depends(search_params)]


def page_params(form: dict[str, str]) -> SearchParams:
    """The search page's form (text, as the browser sends it); a :class:`QueryError` names a bad value."""
    mode = form["mode"]
    return SearchParams(
        question=form["q"],
        mode=parse_mode(mode),
        size=_integer(form["size"], "size", 1, MAX_PAGE_SIZE),
        top_k=_integer(form["top_k"], "top_k", 1, MAX_SIZE),
        page=_integer(form["page"], "page", 1, MAX_SIZE),
        year=form["year"] or None,
        journal=form["journal"] or None,
    )


def _integer(text: str, name: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise QueryError(f"{name} must be between {low} and {high:,}, got {value}")
    return value
