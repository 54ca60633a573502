"""Every live document's address, a page at a time, in address order (segment, then document within it).

``optimize``, ``bmb-es merge`` (:func:`._read.iter_folder`) and the exact kNN of the ``dense`` and ``hybrid`` modes
visit every live document. Asking tantivy for all of them at once built one Python list of every address
(about 140 bytes per document: the ``(score, address)`` tuple, the float and the address object), which grows
without bound with the index. tantivy answers a match-all query in address order (all scores are equal, and
equal scores are ranked by address), and its ``offset`` pages through that order, so one page at a time visits
the same documents in the same order with memory bounded by the page.

Each page is one match-all search that ranks ``offset + page`` documents, so a pass over ``n`` documents costs
about ``n / page`` searches over all of them; with :data:`PAGE` = 65,536 that is 16 searches at a million
documents (see ``bench/bench_scale.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PAGE = 65_536  # addresses per page; read at call time, so tests can make it tiny


def live_pages(searcher: Any, page: int | None = None) -> Iterator[list[Any]]:
    """The addresses of the live documents of ``searcher``'s commit, in address order, ``page`` at a time.

    Parameters
    ----------
    searcher
        A tantivy searcher: one commit, so pages never overlap or skip, whatever other writers do meanwhile.
    page
        Addresses per page; ``None``: :data:`PAGE`.
    """
    import tantivy

    size = page if page is not None else PAGE
    if size < 1:
        raise ValueError(f"page size must be at least 1, got {size}")
    total = int(searcher.num_docs)
    query = tantivy.Query.all_query()
    for offset in range(0, total, size):
        hits = searcher.search(query, limit=min(size, total - offset), count=False, offset=offset).hits
        yield [address for _, address in hits]


def live_batches(searcher: Any, batch: int, page: int | None = None) -> Iterator[list[Any]]:
    """:func:`live_pages` cut into lists of ``batch`` addresses (the last one shorter): the batches that one list of
    every address would have given, whatever the page size."""
    if batch < 1:
        raise ValueError(f"batch size must be at least 1, got {batch}")
    pending: list[Any] = []
    for addresses in live_pages(searcher, page):
        pending.extend(addresses)
        while len(pending) >= batch:
            yield pending[:batch]
            del pending[:batch]
    if pending:
        yield pending
