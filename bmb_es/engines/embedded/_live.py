"""What an exact kNN search scans: every live document's vector row, norm and address, read once per commit.

The vectors themselves are not copied. An earlier version kept a copy of every live vector (1.5 GB at a million
384-d documents, on top of the memory map it was read from) and every address as a Python object; now the cache
holds about 28 bytes per document (address parts, row, norm, scan order), and each search scores the vectors
straight from the memory map of ``vectors.f32``, :data:`CHUNK` documents at a time, in row order (forward through
the file). A chunk is scored in place, over the rows from its first to its last, when those are at most
:data:`SPAN` times as many as its documents (replaced documents leave unreferenced rows between live ones; after
an ingest with none the rows are consecutive); sparser chunks are gathered first (one chunk's copy at a time),
which costs more than scoring the rows between (``bench/bench_scale.py``: ``knn-copy`` against ``knn-mmap``).

Every vector is read and checked once when the cache is built (:meth:`RecordReader.vectors` raises on damage),
as the copy was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from ._addresses import live_pages
from ._records import RecordReader
from ._store import ROW_FIELD

# Documents scored at a time: 96 MiB of 384-d float32 when gathered. At a million documents, chunks of 16,384 rows
# cost about 20 % more time than one product over a whole in-memory copy; chunks of 65,536 cost nothing more.
CHUNK = 65_536
SPAN = 2.0  # a chunk whose rows span at most this many times its documents is scored in place


class Addresses(Sequence[Any]):
    """tantivy addresses rebuilt on demand from two arrays (8 bytes per document instead of a Python object each)."""

    __slots__ = ("_docs", "_segments")

    def __init__(self, segments: npt.NDArray[np.uint32], docs: npt.NDArray[np.uint32]) -> None:
        self._segments = segments
        self._docs = docs

    def __len__(self) -> int:
        return len(self._docs)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        import tantivy

        return tantivy.DocAddress(int(self._segments[index]), int(self._docs[index]))


@dataclass(frozen=True, slots=True)
class LiveVectors:
    """The live documents of one commit, in address order (the order that breaks kNN ties).

    Parameters
    ----------
    segments, docs
        Each document's address: its segment's ordinal and its id in the segment (see :attr:`addresses`).
    rows
        Each document's row in ``vectors.f32``.
    norms
        Each document's vector norm, as ``np.linalg.norm`` computes it.
    order
        Positions sorted by row: the order in which :meth:`cosines` reads the map.
    chunks
        ``(start, end, first_row, span)`` over ``order``, :data:`CHUNK` positions at most: scored in place over the
        ``span`` rows from ``first_row``, or gathered when ``first_row`` is ``None``.
    dimension
        The vectors' dimension.
    """

    segments: npt.NDArray[np.uint32]
    docs: npt.NDArray[np.uint32]
    rows: npt.NDArray[np.int64]
    norms: npt.NDArray[np.float32]
    order: npt.NDArray[np.int64]
    chunks: tuple[tuple[int, int, int | None, int], ...]
    dimension: int

    @property
    def addresses(self) -> Addresses:
        """Each document's tantivy address, by position."""
        return Addresses(self.segments, self.docs)

    def cosines(self, records: RecordReader, query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The cosine of every live document's vector with ``query``, by position (0 for a zero vector)."""
        dots = np.zeros(len(self.rows), dtype=np.float32)
        if len(self.rows):
            table = records.mapped_vectors(int(self.rows[self.order[-1]]))
            for start, end, first, span in self.chunks:
                positions = self.order[start:end]
                if first is None:
                    dots[positions] = table[self.rows[positions]] @ query
                elif span == end - start:  # consecutive rows
                    dots[positions] = table[first : first + span] @ query
                else:  # the rows between score too, and are dropped
                    dots[positions] = (table[first : first + span] @ query)[self.rows[positions] - first]
        norms = self.norms * float(np.linalg.norm(query))
        cosine: npt.NDArray[np.float32] = np.divide(
            dots, norms, out=np.zeros(len(dots), dtype=np.float32), where=norms > 0
        )
        return cosine

    def vector(self, records: RecordReader, position: int) -> npt.NDArray[np.float32]:
        """The vector of the document at ``position``."""
        vector: npt.NDArray[np.float32] = records.vectors([int(self.rows[position])])[0]
        return vector


def read_live(searcher: Any, records: RecordReader, dimension: int) -> LiveVectors:
    """The :class:`LiveVectors` of ``searcher``'s commit: addresses paged in, every vector read and checked once."""
    segments: list[npt.NDArray[np.uint32]] = []
    docs: list[npt.NDArray[np.uint32]] = []
    rows: list[npt.NDArray[np.int64]] = []
    for page in live_pages(searcher):
        segments.append(np.fromiter((address.segment_ord for address in page), dtype=np.uint32, count=len(page)))
        docs.append(np.fromiter((address.doc for address in page), dtype=np.uint32, count=len(page)))
        rows.append(np.asarray(searcher.fast_field_values(ROW_FIELD, page), dtype=np.int64))
    every = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    order = np.argsort(every, kind="stable")
    norms = np.zeros(len(every), dtype=np.float32)
    chunks: list[tuple[int, int, int | None, int]] = []
    for start in range(0, len(every), CHUNK):
        end = min(start + CHUNK, len(every))
        positions = order[start:end]
        block = records.vectors(every[positions])
        # What np.linalg.norm(block, axis=1) computes, row by row, as the rescore does.
        norms[positions] = np.sqrt(np.add.reduce(block * block, axis=1))
        first, span = int(every[positions[0]]), int(every[positions[-1]]) - int(every[positions[0]]) + 1
        chunks.append((start, end, first if span <= SPAN * (end - start) else None, span))
    return LiveVectors(
        np.concatenate(segments) if segments else np.zeros(0, dtype=np.uint32),
        np.concatenate(docs) if docs else np.zeros(0, dtype=np.uint32),
        every,
        norms,
        order,
        tuple(chunks),
        dimension,
    )
