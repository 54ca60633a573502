"""The embedded engine: tantivy BM25 plus stored vectors, executing the builder's DSL subset in-process.

:class:`EmbeddedEngine` is the facade that implements :class:`bmb_es.engines.Engine`; each job lives in its own
module: :mod:`._open_index` (what an open index holds), :mod:`._write`, :mod:`._optimize`, :mod:`._read`,
:mod:`._query` (BM25), :mod:`._rescore` and :mod:`._execute` (a search), :mod:`._check` (``bmb-es check``).
Every call that reads tantivy runs inside :func:`._damage.reading`, so a damaged index raises
:class:`IndexDamagedError` naming the file, never a panic or a decoder's error.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..._analysis import tantivy_analyzer
from ..._config import data_dir
from ..._errors import IndexDamagedError
from ...query import SearchRequest
from .._base import EngineHit, EngineResponse, IndexedDocument, IndexMeta, check_index_name
from . import _compact, _execute, _optimize, _read, _write
from ._check import IndexCheck, check_folder
from ._compact import CompactSummary
from ._damage import reading
from ._open_index import OpenIndex, index_names, is_index, require
from ._read import iter_folder
from ._records import holds_records
from ._store import META_FILE, create_folder, read_meta

__all__ = ["EmbeddedEngine", "iter_folder"]  # iter_folder: bmb_es._api imports it from here


class EmbeddedEngine:
    """An engine with no server: one folder per index under ``<data dir>/indices``.

    Parameters
    ----------
    root
        The data folder (see :func:`bmb_es.data_dir`); ``None`` uses the default.
    """

    kind = "embedded"
    write_retries = 0  # writes go to local files: there is no back-pressure to retry

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = data_dir(root) / "indices"
        self._indices: dict[str, OpenIndex] = {}  # everything held of each index used since it was opened
        self._analyzer = tantivy_analyzer()

    @property
    def root(self) -> Path:
        return self._root

    def _folder(self, name: str) -> Path:
        return self._root / check_index_name(name)

    def _opened(self, name: str) -> OpenIndex:
        """The open index ``name`` (IndexNotFoundError if there is none)."""
        opened = self._indices.get(name)
        if opened is None:
            opened = self._indices[name] = OpenIndex(require(self._folder(name)))
        return opened

    # -- index lifecycle ---------------------------------------------------------------------------

    def create_index(self, name: str, meta: IndexMeta) -> None:
        folder = self._folder(name)
        if (folder / META_FILE).is_file():
            existing = read_meta(folder)
            existing.check_compatible(name, meta.model, meta.dimension)
            return
        if holds_records(folder):  # its metadata lost: a new one would pass off the old records as the new model's
            raise IndexDamagedError(folder / META_FILE, "missing (the folder holds records)", name)
        create_folder(folder, meta)

    def index_meta(self, name: str) -> IndexMeta:
        return self._opened(name).index_meta()

    def has_knn(self, name: str) -> bool:
        self._opened(name)  # IndexNotFoundError as index_meta raises it
        return True  # exact kNN over the stored vectors, on every index

    def list_indices(self) -> list[str]:
        return index_names(self._root)

    def delete_index(self, name: str) -> None:
        folder = self._folder(name)
        if not is_index(folder):  # a damaged index is deleted too: that is how it is rebuilt
            require(folder)
        self._indices.pop(name, None)  # its writer with it: the lock goes back, pending writes are dropped
        shutil.rmtree(folder)

    def count(self, name: str) -> int:
        opened = self._opened(name)
        with reading(opened.folder):
            return int(opened.searcher().num_docs)

    def close(self) -> None:
        """Roll back writes not committed and forget every open index: the next call reads from disk."""
        for opened in self._indices.values():
            opened.rollback()
        self._indices.clear()

    # -- writing -----------------------------------------------------------------------------------

    def ensure_writable(self, name: str) -> None:
        """Take ``name``'s writer lock now, before costly work for a write (loading a model, embedding).

        Raises :class:`StorageError` when another process holds it. The writer is kept, as the first write would
        keep it; an index that does not exist yet has no lock to take.
        """
        if (self._folder(name) / META_FILE).is_file():
            opened = self._opened(name)
            with reading(opened.folder):
                opened.open_writer()

    def upsert(self, name: str, items: Sequence[IndexedDocument]) -> None:
        opened = self._opened(name)
        with reading(opened.folder):
            _write.upsert(opened, items)

    def commit(self, name: str) -> None:
        # Only an index written to has anything to commit: one never opened is not opened for it.
        opened = self._indices.get(name)
        if opened is not None:
            with reading(opened.folder):
                _write.commit(opened)

    def segments(self, name: str) -> int:
        """How many tantivy segments the newest commit has (each costs a search time, see :meth:`optimize`)."""
        opened = self._opened(name)
        with reading(opened.folder):
            return int(opened.searcher().num_segments)

    def optimize(self, name: str, batch: int = 1024) -> tuple[int, int]:
        """Rewrite the BM25 part of ``name`` into one segment (as few as tantivy writes in one pass).

        What Elasticsearch's force merge does, for the same reason: a search visits every segment (on 2,753
        abstracts a BM25 search took 102 µs on one segment and 174 on eight, see ``bench/bench_segments.py``),
        ingest leaves one per commit, and tantivy merges only once 8 are of a size.
        Writes pending in this engine are committed first; vectors and sources are not copied, and readers see
        the old index or the new one, never a mix (see :func:`._optimize.optimize`).
        Returns the segment counts before and after.
        """
        opened = self._opened(name)
        with reading(opened.folder):
            return _optimize.optimize(opened, batch)

    def record_rows(self, name: str) -> tuple[int, int]:
        """How many rows ``name``'s record files hold, and how many live documents reference one (see
        :meth:`compact`: the others are what re-indexed documents and interrupted writes left)."""
        opened = self._opened(name)
        with reading(opened.folder):
            return _compact.record_rows(opened)

    def compact(self, name: str, batch: int = 1024, progress: Callable[[int], None] | None = None) -> CompactSummary:
        """Rewrite ``name`` into new record files that hold only its live documents' vectors and sources.

        Upserts of changed documents leave the old rows in the record files, and :meth:`optimize` does not
        reclaim them. The documents are copied into a folder beside the index (in one segment, as
        :meth:`optimize` leaves it), the two folders swapped atomically, and the old one deleted: the disk must
        hold the live documents twice meanwhile (see :func:`._compact.compact`). ``progress`` is called with the
        count copied so far.
        """
        opened = self._opened(name)
        try:
            with reading(opened.folder):
                return _compact.compact(opened, batch, progress)
        finally:
            self._indices.pop(name, None)  # its folder may hold the compacted index now: read it afresh

    def check(self, name: str) -> IndexCheck:
        """Verify every file of ``name`` (a full read; see :func:`._check.check_folder`): what ``bmb-es check`` runs.

        Damage is reported in the result, not raised; IndexNotFoundError when there is no such index.
        """
        folder = self._folder(name)
        if not is_index(folder):
            require(folder)
        return check_folder(folder)

    # -- reading -----------------------------------------------------------------------------------

    def stored_hashes(self, name: str, ids: Sequence[str]) -> dict[str, str]:
        opened = self._opened(name)
        with reading(opened.folder):
            return _read.stored_hashes(opened, ids)

    def get(self, name: str, ids: Sequence[str]) -> dict[str, IndexedDocument]:
        opened = self._opened(name)
        with reading(opened.folder):
            return _read.get(opened, ids)

    # -- searching ---------------------------------------------------------------------------------

    def search(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Run a body of the bmb-es subset (anything else is refused, naming the clause)."""
        return self.execute(name, SearchRequest.from_body(body)).to_search_response(name)

    def execute(self, name: str, request: SearchRequest) -> EngineResponse:
        """BM25 with tantivy (Lucene's scores), then Elasticsearch's rescore arithmetic over stored vectors."""
        opened = self._opened(name)
        with reading(opened.folder):
            return _execute.execute(opened, self._analyzer, request)

    def fetch_sources(self, name: str, hits: Sequence[EngineHit]) -> list[EngineHit]:
        """The sources of hits from a request without them: read where each lies, by id for hits that do not say."""
        opened = self._opened(name)
        with reading(opened.folder):
            return _read.fetch_sources(opened, hits)
