"""``bmb-es serve``: a search page and a JSON API over :func:`bmb_es.search` (FastAPI; the ``serve`` extra).

``create_app(engine, index, embedder)`` builds the app; :class:`SearchService` is what it does without HTTP.
"""

from ._app import LOOPBACK_HOSTS, create_app, status_of
from ._export import to_csv, to_ris
from ._highlight import highlight, snippet
from ._service import (
    DEFAULT_TIMEOUT_S,
    MAX_PAGE_SIZE,
    MAX_QUESTION_CHARS,
    SearchPage,
    SearchParams,
    SearchService,
    SearchTimeout,
)

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "LOOPBACK_HOSTS",
    "MAX_PAGE_SIZE",
    "MAX_QUESTION_CHARS",
    "SearchPage",
    "SearchParams",
    "SearchService",
    "SearchTimeout",
    "create_app",
    "highlight",
    "snippet",
    "status_of",
    "to_csv",
    "to_ris",
]
