"""Optimizing: the BM25 part of an index rewritten into one segment (as few as tantivy writes in one pass)."""

from __future__ import annotations

from ..._document import Document
from ._addresses import live_batches
from ._open_index import OPTIMIZE_HEAP, OpenIndex
from ._read import check_source
from ._store import HASH_FIELD, ID_FIELD, LENGTH_FIELD, OFFSET_FIELD, ROW_FIELD, TEXT_FIELDS, write_text_fields
from ._write import commit, tantivy_document


def optimize(opened: OpenIndex, batch: int) -> tuple[int, int]:
    """Rewrite the tantivy index of ``opened`` (see :meth:`EmbeddedEngine.optimize`); segments before and after.

    Each live document is added again, in address order (tantivy's order for equal scores), with the same
    record addresses: vectors and sources are not copied. The adds and a delete of every older document form
    one commit, so readers see the old index or the new one, never a mix, and a run stopped midway changes
    nothing. The writer's heap is :data:`._open_index.OPTIMIZE_HEAP`, so the rewrite of a million abstracts is
    one segment (a search visits every segment). Deleted documents are purged, as by a merge, and the text
    fields on record become exactly those that live documents have. Addresses are read a page at a time
    (:func:`._addresses.live_batches`) and the record files' maps released after each batch, so memory does not
    grow with the index beyond the writer's heap.
    """
    import tantivy

    commit(opened)
    before = int(opened.searcher().num_segments)
    if before <= 1:
        return before, before
    # A session left by earlier writes has ingest's heap; the rewrite needs the larger one (see OPTIMIZE_HEAP).
    opened.close_writer()
    writing = opened.open_writer(OPTIMIZE_HEAP)  # tantivy's lock: from here on no other process commits
    # Taken under the lock, so it is the newest commit: documents that another process committed before the
    # lock was ours would otherwise be lost to the delete below.
    searcher = opened.searcher()
    before = int(searcher.num_segments)
    if before <= 1:  # another process optimized it meanwhile
        return before, before
    records = opened.record_reader()
    present: set[str] = set()
    try:
        writing.tantivy.delete_documents_by_query(tantivy.Query.all_query())  # before the adds: only older ones
        writing.pending = True
        # Addresses come a page at a time, in address order (see _addresses): memory stays bounded by the page.
        for chunk in live_batches(searcher, batch):
            rows = searcher.fast_field_values(ROW_FIELD, chunk)
            offsets = searcher.fast_field_values(OFFSET_FIELD, chunk)
            lengths = searcher.fast_field_values(LENGTH_FIELD, chunk)
            sources = records.decoded_sources(offsets, lengths)
            records.release()  # what was read of sources.jsonl leaves the resident set
            stored = [searcher.doc(address) for address in chunk]
            for doc, source, row, offset, length in zip(stored, sources, rows, offsets, lengths, strict=True):
                check_source(opened.folder, doc[ID_FIELD][0], source)
                document = Document.from_source(source)
                present.update(field for field in TEXT_FIELDS if getattr(document, field))
                writing.tantivy.add_document(tantivy_document(document, doc[HASH_FIELD][0], row, offset, length))
        # Exactly the fields that live documents have: the same documents before and after this commit.
        write_text_fields(opened.folder, frozenset(present))
        opened.text_fields = frozenset(present)
    except BaseException:
        writing.tantivy.rollback()  # the delete must never reach a later commit
        writing.pending = False
        raise
    commit(opened)
    # A rewrite larger than the writer's heap is several segments; tantivy may merge them now: wait for it.
    opened.close_writer()
    return before, int(opened.searcher().num_segments)
