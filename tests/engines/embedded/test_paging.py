"""Paging through live addresses (optimize, merge, exact kNN) gives what one list of every address gave.

Each test runs the paged code with a tiny page (and batch, and kNN chunk) on a small index with several segments
and replaced documents, against the same code with a page that holds the whole index: one page is exactly the
old path, which asked tantivy for every address at once.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bmb_es import EmbeddedEngine
from bmb_es._api import merge_indices
from bmb_es.engines.embedded import _addresses, _live
from bmb_es.engines.embedded._addresses import live_batches, live_pages
from bmb_es.engines.embedded._read import iter_folder
from bmb_es.query import SearchRequest
from tests.engines.embedded.conftest import put
from tests.engines.embedded.test_optimize import _answers, _build, _doc, _live_in_order

QUESTIONS = [[1.0, 0.2, -0.3], [0.0, 1.0, 0.0], [-1.0, 0.5, 0.5], [0.3, 0.3, 0.3]]


def _one_list(engine: EmbeddedEngine, index: str = "t") -> list[tuple[int, int]]:
    """The old path: every live address from one match-all search, as (segment, document)."""
    import tantivy

    searcher = engine._opened(index).searcher()
    hits = searcher.search(tantivy.Query.all_query(), limit=int(searcher.num_docs), count=False).hits
    return [(address.segment_ord, address.doc) for _, address in hits]


def test_pages_and_batches_cut_the_one_list_without_changing_it(engine: EmbeddedEngine) -> None:
    _build(engine)  # five segments, ten documents replaced (deleted in their old segments)
    whole = _one_list(engine)
    assert len(whole) == 60 and whole == sorted(whole)  # address order
    searcher = engine._opened("t").searcher()
    for page in (1, 2, 3, 7, 60, 1000):
        pages = list(live_pages(searcher, page))
        assert [(address.segment_ord, address.doc) for part in pages for address in part] == whole
        assert all(len(part) == page for part in pages[:-1])
        for batch in (1, 4, 64):
            batches = list(live_batches(searcher, batch, page))
            assert [(address.segment_ord, address.doc) for part in batches for address in part] == whole
            assert [len(part) for part in batches] == [
                len(whole[start : start + batch]) for start in range(0, 60, batch)
            ]
    with pytest.raises(ValueError, match="page size"):
        next(live_pages(searcher, 0))


def test_optimize_paged_by_three_gives_what_one_list_gave(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = EmbeddedEngine(tmp_path / "one")
    _build(built)
    built.close()
    shutil.copytree(tmp_path / "one", tmp_path / "paged")  # the same segments, so the same address order
    one, paged = EmbeddedEngine(tmp_path / "one"), EmbeddedEngine(tmp_path / "paged")
    before = _live_in_order(one)
    assert _live_in_order(paged) == before
    assert one.optimize("t") == (5, 1)  # the default page holds the whole index: the old single list
    monkeypatch.setattr(_addresses, "PAGE", 3)
    assert paged.optimize("t", batch=4) == (5, 1)
    assert _live_in_order(paged) == _live_in_order(one) == before  # the same documents in the same order
    assert _answers(paged) == _answers(one)
    assert _answers(EmbeddedEngine(tmp_path / "paged")) == _answers(EmbeddedEngine(tmp_path / "one"))


def _sources(home: Path) -> EmbeddedEngine:
    """Two source indices sharing three ids (one with other content), each with several segments."""
    engine = EmbeddedEngine(home)
    put(engine, [_doc(number) for number in range(20)], index="s0")
    put(engine, [_doc(number) for number in range(20, 35)], index="s0")
    put(engine, [_doc(number, revision=1) for number in range(0, 35, 7)], index="s0")  # replaced: gaps in rows
    put(engine, [_doc(number) for number in range(32, 50)], index="s1")
    put(engine, [_doc(33, revision=2)], index="s1")
    return engine


def test_iter_folder_paged_by_three_yields_the_batches_of_one_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _sources(tmp_path / "home")
    whole = _one_list(engine, "s0")
    searcher = engine._opened("s0").searcher()
    expected = [searcher.doc(_address(segment, doc))["id"][0] for segment, doc in whole]
    monkeypatch.setattr(_addresses, "PAGE", 3)
    batches = list(iter_folder(engine.root / "s0", batch=4))
    assert [item.document.id for batch in batches for item in batch] == expected
    assert [len(batch) for batch in batches] == [len(expected[start : start + 4]) for start in range(0, 35, 4)]
    stored = engine.get("s0", expected)
    for item in (item for batch in batches for item in batch):
        assert item.document == stored[item.document.id].document
        assert item.vector.tobytes() == stored[item.document.id].vector.tobytes()


def _address(segment: int, doc: int) -> Any:
    import tantivy

    return tantivy.DocAddress(segment, doc)


def test_merge_paged_by_three_copies_what_one_list_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _sources(tmp_path / "home")
    one = merge_indices(["s0", "s1"], "one", engine=engine, commit_every=5)
    monkeypatch.setattr(_addresses, "PAGE", 3)
    paged = merge_indices(["s0", "s1"], "paged", engine=engine, commit_every=5)
    # d032 and d034 are the same in both sources (the second copy is unchanged), d033 is not
    assert (paged.read, paged.written, paged.unchanged) == (one.read, one.written, one.unchanged) == (53, 51, 2)
    assert paged.duplicates == one.duplicates == 3  # d032, d033 and d034 are in both sources
    assert paged.duplicate_ids == one.duplicate_ids and sorted(one.duplicate_ids) == ["d032", "d033", "d034"]
    # Two merges leave two sets of segments, whose order (and so the order of equal scores) tantivy picks.
    assert sorted(_live_in_order(engine, "paged"), key=str) == sorted(_live_in_order(engine, "one"), key=str)
    assert [sorted(hits, key=str) for hits in _answers(engine, "paged")] == [
        sorted(hits, key=str) for hits in _answers(engine, "one")
    ]
    assert engine.get("paged", ["d033"])["d033"].document.abstract.endswith("revised 2")  # the last source wins


def _nearest(home: Path, index: str, vector: list[float], k: int) -> list[tuple[str, float, list[float]]]:
    """The exact kNN hits (id, cosine, the vector in the source) of a fresh engine: its kNN cache is built anew."""
    request = replace(SearchRequest.nearest(vector, k, k), source_excludes=())  # each hit's vector in its source
    response = EmbeddedEngine(home).execute(index, request)
    return [(hit.id, float(hit.cosine or 0.0), list(hit.source["embedding"])) for hit in response.hits]


@pytest.mark.parametrize("index", ["s0", "s1", "one", "fresh"])
def test_exact_knn_in_tiny_pages_and_chunks_finds_the_same_neighbours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, index: str
) -> None:
    home = tmp_path / "home"
    engine = _sources(home)
    merge_indices(["s0", "s1"], "one", engine=engine)  # one segment
    for start in range(50, 90, 10):  # four segments, nothing replaced: consecutive rows, every chunk scored in place
        put(engine, [_doc(number) for number in range(start, start + 10)], index="fresh")
    stored = engine.get(index, [doc_id for doc_id, *_ in _nearest(home, index, QUESTIONS[0], 100)])
    for vector in QUESTIONS:
        whole = _nearest(home, index, vector, 100)
        assert len(whole) == len(stored) == engine.count(index) >= 18
        query = np.asarray(vector, dtype=np.float32)
        for doc_id, cosine, embedding in whole:
            own = stored[doc_id].vector
            assert cosine == pytest.approx(float(own @ query / np.linalg.norm(own) / np.linalg.norm(query)), abs=1e-6)
            assert embedding == own.astype(float).tolist()
        assert [cosine for _, cosine, _ in whole] == sorted((cosine for _, cosine, _ in whole), reverse=True)
        for span in (1.0, 2.0):  # 1: only consecutive rows in place, so gathered chunks too; 2: in place over gaps
            with monkeypatch.context() as patched:
                patched.setattr(_addresses, "PAGE", 3)
                patched.setattr(_live, "CHUNK", 4)
                patched.setattr(_live, "SPAN", span)
                tiny = _nearest(home, index, vector, 100)
                top = _nearest(home, index, vector, 5)
                opened = EmbeddedEngine(home)._opened(index)
                chunks = opened.live_vectors(opened.searcher()).chunks
            kinds = {
                "gathered" if first is None else "in place" if size == end - start else "gaps"
                for start, end, first, size in chunks
            }
            if index == "fresh":
                assert kinds == {"in place"}
            else:
                assert kinds == ({"in place", "gathered"} if span == 1.0 else {"in place", "gaps"})
            assert [doc_id for doc_id, *_ in tiny] == [doc_id for doc_id, *_ in whole]
            assert [cosine for _, cosine, _ in tiny] == pytest.approx([cosine for _, cosine, _ in whole], abs=1e-6)
            assert [doc_id for doc_id, *_ in top] == [doc_id for doc_id, *_ in whole[:5]]
