"""What the server does, without HTTP: one page of results for a question, a document, the indices.

The search is :func:`bmb_es.search`, the one the CLI runs, with the embedder loaded once at start-up (so a
request only encodes its question). Engine work runs on one worker thread, one request at a time (the engines
are not made for concurrent searches on one object), and each request waits at most ``timeout`` seconds for it.
A search that runs past that answers 504; the worker finishes it in the background (Python cannot stop a thread),
and the requests queued behind it wait, within their own timeouts.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .._document import Document
from .._errors import IndexNotFoundError, QueryError, StorageError
from .._search import Hit, SearchResult, search
from ..embedding import EmbedderLike
from ..engines import Engine
from ..query import DEFAULT_MODE, DEFAULT_TOP_K, MAX_SIZE, Filters, Mode

MAX_QUESTION_CHARS = 1_000
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10
DEFAULT_TIMEOUT_S = 10.0
MAX_ID_CHARS = 2_048

T = TypeVar("T")


class SearchTimeout(Exception):
    """A request's engine work took longer than the server's per-request timeout."""


@dataclass(frozen=True, slots=True)
class SearchParams:
    """One page of a search, as a request asks for it (checked by :meth:`check`).

    Parameters
    ----------
    question
        Plain text, at most :data:`MAX_QUESTION_CHARS` characters.
    mode
        A :data:`~bmb_es.query.Mode`.
    size, page
        Hits per page (1 to :data:`MAX_PAGE_SIZE`) and the page, from 1. ``page * size`` is at most 10,000, and in
        every mode but ``bm25`` at most ``top_k``: only the top ``top_k`` candidates are ranked.
    top_k
        Candidates per leg (see :func:`bmb_es.search`).
    year, journal
        Filters, as :meth:`bmb_es.query.Filters.parse` reads them.
    """

    question: str
    mode: Mode = DEFAULT_MODE
    size: int = DEFAULT_PAGE_SIZE
    top_k: int = DEFAULT_TOP_K
    page: int = 1
    year: str | None = None
    journal: str | None = None

    def filters(self) -> Filters:
        return Filters.parse(self.year, self.journal)

    def depth(self) -> int:
        """Hits asked of the search: every page up to this one."""
        return self.page * self.size

    def check(self) -> None:
        """QueryError for what the API's own validation cannot see: the sum of the parts."""
        if not self.question.strip():
            raise QueryError("the query is empty: give a question or keywords")
        if len(self.question) > MAX_QUESTION_CHARS:
            raise QueryError(f"the question is longer than {MAX_QUESTION_CHARS:,} characters: shorten it")
        if not 1 <= self.size <= MAX_PAGE_SIZE:
            raise QueryError(f"size must be between 1 and {MAX_PAGE_SIZE} per page, got {self.size}")
        if self.page < 1:
            raise QueryError(f"page must be 1 or more, got {self.page}")
        if self.depth() > MAX_SIZE:
            raise QueryError(f"page {self.page} of {self.size} goes past hit {MAX_SIZE:,}, the deepest a search goes")
        if self.mode != "bm25" and self.depth() > self.top_k:
            raise QueryError(
                f"page {self.page} of {self.size} goes past the top {self.top_k} candidates that mode {self.mode} "
                f"ranks: raise top_k or go back a page"
            )
        self.filters()  # QueryError for a bad year range or journal

    def last_page(self, total: int) -> int:
        """The last page with hits (at least 1)."""
        available = total if self.mode == "bm25" else min(total, self.top_k)
        return max(1, math.ceil(min(available, MAX_SIZE) / self.size))


@dataclass(frozen=True, slots=True)
class SearchPage:
    """The hits of one page (``result.hits``, ranks as in the whole ranking) and where it lies."""

    params: SearchParams
    result: SearchResult
    last_page: int

    @property
    def hits(self) -> list[Hit]:
        return self.result.hits


class SearchService:
    """One index of one engine, searched with one embedder.

    Parameters
    ----------
    engine
        Embedded or cluster (:func:`bmb_es.engines.open_engine`).
    index
        The index searched.
    embedder
        The question encoder, loaded once: the index's model (tests pass a stand-in). ``None``: load the index's
        model on the first search that needs it.
    timeout
        Seconds a request waits for its engine work.
    """

    def __init__(self, engine: Engine, index: str, embedder: EmbedderLike | None, timeout: float) -> None:
        self.engine = engine
        self.index = index
        self.embedder = embedder
        self.timeout = timeout
        self._worker: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bmb-es-serve")
            return self._worker

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on the worker thread; :class:`SearchTimeout` after :attr:`timeout` seconds."""
        future = asyncio.get_running_loop().run_in_executor(self._executor(), work)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise SearchTimeout(
                f"the search took longer than {self.timeout:g} s: narrow it (fewer candidates, a shorter question)"
            ) from None

    def search_page(self, params: SearchParams) -> SearchPage:
        """One page of results for ``params``; the hits of earlier pages are left out."""
        params.check()
        result = search(
            self.engine,
            self.index,
            params.question,
            mode=params.mode,
            size=params.depth(),
            top_k=params.top_k,
            embedder=self.embedder,
            filters=params.filters(),
        )
        first = (params.page - 1) * params.size
        return SearchPage(params, replace(result, hits=result.hits[first:]), params.last_page(result.total))

    def document(self, doc_id: str) -> Document:
        """The stored document ``doc_id``; :class:`DocumentNotFound` (a 404) when the index has none."""
        if len(doc_id) > MAX_ID_CHARS:
            raise DocumentNotFound(f"document id longer than {MAX_ID_CHARS:,} characters: no such document")
        found = self.engine.get(self.index, [doc_id])
        if doc_id not in found:
            raise DocumentNotFound(f"document {doc_id!r} not found in index {self.index!r}")
        return found[doc_id].document

    def indices(self) -> list[dict[str, Any]]:
        """Every index: name, documents, model, dimension; ``error`` for one that cannot be read."""
        rows: list[dict[str, Any]] = []
        for name in self.engine.list_indices():
            row: dict[str, Any] = {"index": name, "documents": None, "model": None, "dimension": None, "error": None}
            try:
                meta = self.engine.index_meta(name)
                row["model"], row["dimension"] = meta.model, meta.dimension
                row["documents"] = self.engine.count(name)
            except StorageError as error:  # one unreadable index must not hide the others
                row["error"] = str(error)
            rows.append(row)
        return rows

    def health(self) -> dict[str, Any]:
        """The served index's state: its document count and model (raises the engine's error if unusable)."""
        meta = self.engine.index_meta(self.index)
        return {
            "status": "ok",
            "engine": self.engine.kind,
            "index": self.index,
            "documents": self.engine.count(self.index),
            "model": meta.model,
        }

    def close(self) -> None:
        """Stop the worker thread once the work in hand is done (a later request starts another).

        The engine stays open: whoever opened it closes it.
        """
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=False, cancel_futures=True)


class DocumentNotFound(IndexNotFoundError):
    """No document with that id in the served index (404, like a missing index)."""
