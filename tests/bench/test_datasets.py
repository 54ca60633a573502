"""Dataset loaders on the real files in ../shared/data (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bmb_es.bench.datasets import (
    DatasetError,
    load_beir,
    load_bioasq_golden_docs,
    load_bioasq_snippets,
    load_bioasq_squad,
    load_datasets,
    load_nfcorpus,
    stable_id,
)
from bmb_es.bench.debias import debias
from tests.conftest import shared_path


def test_bioasq_squad_reformulation() -> None:
    dataset = load_bioasq_squad(shared_path("bioasq"))
    assert len(dataset.queries) == 634  # BioASQ ids behind the 2,079 SQuAD pairs
    assert len(dataset.documents) == 2048  # identical contexts deduplicated
    ids = {doc.id for doc in dataset.documents}
    assert len(ids) == len(dataset.documents)
    assert all(doc in ids for docs in dataset.qrels.values() for doc in docs)
    first = dataset.documents[0]
    assert first.id == stable_id("ctx", first.abstract)
    # Literal Jaccard never passes 0.3 against a full abstract: nothing is removed.
    relevant, texts = dataset.relevant(), dataset.doc_text()
    literal = debias(dataset.queries, relevant, texts, "jaccard", 0.3)
    assert literal.dropped == 0 and literal.max_overlap < 0.3
    content = debias(dataset.queries, relevant, texts, "content-coverage", 0.3)
    assert 40 <= len(content.kept) <= 70


def test_bioasq_golden_documents_and_snippets() -> None:
    root = shared_path("bioasq")
    golden = load_bioasq_golden_docs(root)
    assert len(golden.documents) == 2753
    assert 1000 < len(golden.queries) < 1200
    pmids = {doc.id for doc in golden.documents}
    assert all(doc in pmids for docs in golden.qrels.values() for doc in docs)
    snippets = load_bioasq_snippets(root)
    assert len(snippets.queries) == 634
    assert all(doc.id.startswith("snip-") for doc in snippets.documents)


def test_nfcorpus_original_layout_has_graded_qrels() -> None:
    dataset = load_nfcorpus(shared_path("nfcorpus"))
    assert len(dataset.documents) > 3000
    grades = {grade for docs in dataset.qrels.values() for grade in docs.values()}
    assert grades == {1, 2}
    assert set(dataset.qrels) == set(dataset.queries)


def make_beir(folder: Path, n_docs: int = 30, n_queries: int = 6) -> Path:
    """A BEIR-layout folder built from a slice of the real SQuAD reformulation."""
    dataset = load_bioasq_squad(shared_path("bioasq")).subsample(n_queries, n_docs)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qrels").mkdir(exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for doc in dataset.documents:
            handle.write(json.dumps({"_id": doc.id, "title": "", "text": doc.abstract}) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as handle:
        for qid, text in dataset.queries.items():
            handle.write(json.dumps({"_id": qid, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{qid}\t{doc}\t{grade}" for qid, docs in dataset.qrels.items() for doc, grade in docs.items()]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_beir_layout(tmp_path: Path) -> None:
    folder = make_beir(tmp_path / "tiny")
    [dataset] = load_datasets(f"beir:{folder}")
    assert dataset.name == "beir-tiny"
    assert len(dataset.documents) == 30 and len(dataset.queries) == 6
    assert load_beir(folder).qrels == dataset.qrels


def test_bad_specs(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="KIND:PATH"):
        load_datasets("bioasq")
    with pytest.raises(DatasetError, match="unknown kind"):
        load_datasets(f"trec:{tmp_path}")
    with pytest.raises(DatasetError, match="not a BEIR folder"):
        load_datasets(f"beir:{tmp_path}")
