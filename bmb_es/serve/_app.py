"""The HTTP server: a search page and a JSON API over :func:`bmb_es.search`, built by :func:`create_app`.

Routes: ``/`` (the page), ``/api/search``, ``/api/export``, ``/api/documents/{id}``, ``/api/indices``,
``/api/health``, ``/openapi.json``. Errors are ``{"error": message}`` with the CLI's messages; each
:class:`~bmb_es.BmbError` class has its HTTP status (:func:`status_of`).

User text is data everywhere: questions and filters go into :func:`bmb_es.search` (query text and filter values,
never DSL), the page is rendered by Jinja2 with autoescaping (highlighted snippets are escaped before ``<mark>`` is
added), and every response says ``Content-Security-Policy: script-src 'self'``, so text that slipped into the page
as markup could not run either.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .. import __version__
from .._errors import (
    BmbError,
    ClusterError,
    IndexNotFoundError,
    InputError,
    ModelLoadError,
    ModelMismatchError,
    QueryError,
    StorageError,
)
from .._links import doi_url, pubmed_url
from ..embedding import EmbedderLike
from ..engines import Engine
from ..query import DEFAULT_MODE, DEFAULT_TOP_K
from ._export import FORMATS, export
from ._highlight import highlight, snippet
from ._models import DocumentOut, ErrorOut, HealthOut, IndexOut, SearchOut, document_json, filters_json, hit_json
from ._params import PageQuery, page_params
from ._service import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_TIMEOUT_S,
    MAX_ID_CHARS,
    SearchPage,
    SearchService,
    SearchTimeout,
)

log = logging.getLogger("bmb_es.serve")

MODE_LABELS: dict[str, str] = {
    "auto": "Auto (re-rank; feedback for one-word searches)",
    "rerank": "Re-rank (BM25 + cosine)",
    "paper": "Paper (cosine re-rank)",
    "bm25": "BM25",
    "dense": "Dense (kNN)",
    "hybrid": "Hybrid",
    "feedback": "Feedback (many relevant papers)",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


# First match wins: the more specific kinds come first.
_STATUSES: tuple[tuple[tuple[type[Exception], ...], int], ...] = (
    ((SearchTimeout,), 504),
    ((IndexNotFoundError,), 404),
    ((QueryError, InputError), 400),
    ((ModelMismatchError,), 409),
    ((ClusterError,), 502),
    ((StorageError, ModelLoadError), 503),
)


def status_of(error: Exception) -> int:
    """The HTTP status of an error: what the request did wrong (4xx) or what the server cannot do (5xx)."""
    return next((status for kinds, status in _STATUSES if isinstance(error, kinds)), 500)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _SecurityHeaders:
    """Adds :data:`_HEADERS` to every response (a plain ASGI middleware: no per-request task, unlike
    ``BaseHTTPMiddleware``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "The question, a filter or the page is not one the search takes."),
        (404, "No such index or document."),
        (422, "A parameter is missing or out of range."),
        (502, "The cluster could not be reached or refused the request."),
        (503, "The index cannot be read (damaged, locked) or the model cannot be loaded."),
        (504, "The search took longer than the server's timeout."),
    )
}


def create_app(
    engine: Engine,
    index: str,
    embedder: EmbedderLike | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The server for ``index`` on ``engine``.

    Parameters
    ----------
    engine
        Where the index lives (:func:`bmb_es.engines.open_engine`); the caller closes it.
    index
        The index searched.
    embedder
        The question encoder, loaded once (the index's model; tests pass a stand-in such as ``HashEmbedder``).
        ``None``: :func:`bmb_es.search` loads the index's model on the first search that needs it.
    timeout
        Seconds each request may wait for its search (504 after).
    allowed_hosts
        ``Host`` headers answered (others get 400), against DNS rebinding; ``None`` answers any.
    """
    service = SearchService(engine, index, embedder, timeout)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        title="bmb-es",
        version=__version__,
        summary="Literature search: BM25 candidates re-ranked by BERT-embedding cosine similarity.",
        docs_url=None,  # the interactive docs load scripts from a CDN: the server works offline
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(_SecurityHeaders)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.mount("/static", StaticFiles(packages=[("bmb_es.serve", "static")]), name="static")
    templates = Environment(
        loader=PackageLoader("bmb_es.serve", "templates"), autoescape=select_autoescape(default=True)
    )

    @app.exception_handler(BmbError)
    async def bmb_error(request: Request, error: BmbError) -> JSONResponse:
        return _error(status_of(error), str(error))

    @app.exception_handler(SearchTimeout)
    async def timed_out(request: Request, error: SearchTimeout) -> JSONResponse:
        return _error(504, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(error))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error serving %s", request.url.path)
        return _error(500, f"internal error ({type(error).__name__}): see the server's log")

    @app.get("/api/search", response_model=SearchOut, responses=ERRORS, summary="Search the index")
    async def api_search(
        params: PageQuery, explain: Annotated[bool, Query(description="Include the executed request body.")] = False
    ) -> Response:
        found = await service.run(lambda: service.search_page(params))
        return _json(_search_json(found, explain))

    @app.get(
        "/api/export",
        response_class=Response,
        responses={
            200: {
                "description": "The page's results as a file.",
                "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-research-info-systems": {}},
            },
            **ERRORS,
        },
        summary="Export a page of results as CSV or RIS",
    )
    async def api_export(
        params: PageQuery,
        format: Annotated[Literal["csv", "ris"], Query(description="csv (spreadsheets) or ris (reference managers).")],
    ) -> Response:
        found = await service.run(lambda: service.search_page(params))
        media_type, suffix = FORMATS[format]
        return Response(
            export(found.hits, format),
            media_type=media_type,
            headers={"content-disposition": f'attachment; filename="bmb-es-results-page{params.page}.{suffix}"'},
        )

    @app.get("/api/documents/{doc_id}", response_model=DocumentOut, responses=ERRORS, summary="One paper of the index")
    async def api_document(
        doc_id: Annotated[str, Path(max_length=MAX_ID_CHARS, description="The document's id.")],
    ) -> Response:
        document = await service.run(lambda: service.document(doc_id))
        return _json(document_json(document))

    @app.get("/api/indices", response_model=list[IndexOut], responses=ERRORS, summary="Every index of the engine")
    async def api_indices() -> list[IndexOut]:
        rows = await service.run(service.indices)
        return [IndexOut(**row) for row in rows]

    @app.get("/api/health", response_model=HealthOut, responses=ERRORS, summary="Whether the served index is usable")
    async def api_health() -> HealthOut:
        return HealthOut(**await service.run(service.health))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def search_page(
        request: Request,
        q: str = "",
        mode: str = DEFAULT_MODE,
        size: str = str(DEFAULT_PAGE_SIZE),
        top_k: str = str(DEFAULT_TOP_K),
        page: str = "1",
        year: str = "",
        journal: str = "",
    ) -> HTMLResponse:
        # Parameters arrive as text and are checked here, so a bad one shows on the page instead of a JSON error.
        form = {"q": q, "mode": mode, "size": size, "top_k": top_k, "page": page, "year": year, "journal": journal}
        context: dict[str, Any] = {"form": form, "modes": MODE_LABELS, "index": index, "version": __version__}
        status = 200
        if q.strip():
            try:
                params = page_params(form)
                found = await service.run(lambda: service.search_page(params))
                context.update(_page_context(found, form))
            except (BmbError, SearchTimeout) as error:
                status = status_of(error)
                context["error"] = str(error)
        html = templates.get_template("search.html").render(context)
        return HTMLResponse(html, status_code=status)

    return app


def _validation_message(error: RequestValidationError) -> str:
    """FastAPI's validation errors as one line: ``size: Input should be less than or equal to 100; ...``."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("query", "path"))
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _search_json(found: SearchPage, explain: bool) -> dict[str, Any]:
    """A :class:`SearchOut`."""
    params = found.params
    return {
        "question": found.result.question,
        "mode": found.result.mode,
        "total": found.result.total,
        "total_relation": found.result.total_relation,
        "took_ms": found.result.took_ms,
        "page": params.page,
        "size": params.size,
        "last_page": found.last_page,
        "filters": filters_json(params.filters()),
        "hits": [hit_json(hit) for hit in found.hits],
        "body": found.result.body if explain else None,
    }


def _link(form: dict[str, str], **changes: str | int) -> str:
    """The query string of the page with ``changes`` applied (empty values left out)."""
    values = {**form, **{key: str(value) for key, value in changes.items()}}
    return urlencode({key: value for key, value in values.items() if value})


def _page_context(found: SearchPage, form: dict[str, str]) -> dict[str, Any]:
    """What the template shows of a page of results: every text escaped here or by the template."""
    question = found.result.question
    hits = []
    for hit in found.hits:
        doc = hit.document
        text = doc.abstract or doc.body
        authors = list(doc.authors)
        hits.append(
            {
                "rank": hit.rank,
                "id": doc.id,
                "title": Markup(highlight(doc.title or text[:120] or doc.id, question)),  # escaped, then marked
                "snippet": Markup(snippet(text, question)),  # escaped, then marked
                "authors": ", ".join(authors[:6]) + (" et al." if len(authors) > 6 else ""),
                "journal": doc.journal,
                "year": doc.year,
                "pubmed_url": pubmed_url(doc.pmid),
                "doi_url": doi_url(doc.doi),
                "pmid": doc.pmid,
                "doi": doc.doi,
                "score": hit.score,
                "bm25": hit.bm25,
                "cosine": hit.cosine,
                "document_url": f"/api/documents/{_quote_path(doc.id)}",
            }
        )
    params = found.params
    return {
        "result": found.result,
        "hits": hits,
        "page": params.page,
        "last_page": found.last_page,
        "previous_link": _link(form, page=params.page - 1) if params.page > 1 else None,
        "next_link": _link(form, page=params.page + 1) if params.page < found.last_page else None,
        "csv_link": "/api/export?" + _link(form, format="csv"),
        "ris_link": "/api/export?" + _link(form, format="ris"),
        "explain_link": "/api/search?" + _link(form, explain="true"),
        "journals": sorted({hit.document.journal for hit in found.hits if hit.document.journal}),
        "filters": params.filters().describe(),
    }


def _quote_path(text: str) -> str:
    return quote(text, safe="")
