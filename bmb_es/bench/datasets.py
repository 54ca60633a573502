"""Retrieval benchmark datasets: documents, questions and relevance judgements (qrels).

Spec strings name a loader and a path (``bmb-es bench ir --dataset SPEC``):

* ``bioasq:PATH`` — the ``bioasq`` data folder; yields three sets (:func:`load_bioasq`):
  ``bioasq-squad`` (the paper's reformulation), ``bioasq-golden-docs`` and ``bioasq-snippets``.
  ``bioasq-squad:PATH`` (or ``-golden-docs`` / ``-snippets``) picks one.
* ``beir:PATH`` — any BEIR-layout folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv``.
* ``nfcorpus:PATH`` — NFCorpus in its original distribution (test split, title queries, graded 2-1-0 qrels).

Documents are built with the product's own readers where a format exists (BEIR, PubMed JSONL), so the
benchmark indexes exactly what ``bmb-es index`` would.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .._document import Document
from ..readers import iter_corpus, plan_corpus

Qrels = dict[str, dict[str, int]]


class DatasetError(ValueError):
    """A dataset spec or folder that cannot be loaded."""


@dataclass(slots=True)
class IRDataset:
    """One retrieval test collection.

    Parameters
    ----------
    name
        Short label used in tables and file names.
    documents
        The corpus as product :class:`~bmb_es.Document` records.
    queries
        ``{query id: text}``.
    qrels
        ``{query id: {doc id: grade}}``; grade >= 1 is relevant.
    description
        One line for the report: where it came from and how it was built.
    """

    name: str
    documents: list[Document]
    queries: dict[str, str]
    qrels: Qrels
    description: str = ""
    notes: list[str] = field(default_factory=list)

    def doc_text(self) -> dict[str, str]:
        return {
            doc.id: " ".join(part for part in (doc.title, doc.abstract, doc.body) if part) for doc in self.documents
        }

    def relevant(self) -> dict[str, list[str]]:
        return {qid: [doc for doc, grade in docs.items() if grade > 0] for qid, docs in self.qrels.items()}

    def summary(self) -> dict[str, object]:
        judged = sum(len(docs) for docs in self.qrels.values())
        return {
            "name": self.name,
            "description": self.description,
            "documents": len(self.documents),
            "queries": len(self.queries),
            "qrels": judged,
            "notes": list(self.notes),
        }

    def subsample(self, max_queries: int | None = None, max_docs: int | None = None) -> IRDataset:
        """A deterministic slice: the first ``max_queries`` queries (by id) and at most ``max_docs`` documents.

        The relevant documents of the kept queries are always kept; other documents fill up to ``max_docs``.
        """
        qids = sorted(self.queries)
        if max_queries is not None:
            qids = qids[:max_queries]
        needed = {doc for qid in qids for doc in self.qrels.get(qid, {})}
        documents = [doc for doc in self.documents if doc.id in needed]
        if max_docs is not None:
            others = [doc for doc in self.documents if doc.id not in needed]
            documents += others[: max(0, max_docs - len(documents))]
        else:
            documents = self.documents
        present = {doc.id for doc in documents}
        qrels = {qid: {d: g for d, g in self.qrels[qid].items() if d in present} for qid in qids if qid in self.qrels}
        notes = [*self.notes, f"subsampled: {len(qids)} queries, {len(documents)} documents"]
        return IRDataset(self.name, documents, {qid: self.queries[qid] for qid in qids}, qrels, self.description, notes)


def stable_id(prefix: str, text: str) -> str:
    """A content-derived id: the same text always gets the same id across runs and machines."""
    return f"{prefix}-{hashlib.sha1(text.strip().encode()).hexdigest()[:16]}"


# -- BioASQ ----------------------------------------------------------------------------------------------


def _golden_questions(root: Path) -> dict[str, dict[str, object]]:
    questions: dict[str, dict[str, object]] = {}
    for path in sorted((root / "golden").glob("*_golden.json")):
        for question in json.loads(path.read_text(encoding="utf-8"))["questions"]:
            questions.setdefault(str(question["id"]), question)
    if not questions:
        raise DatasetError(f"{root / 'golden'}: no *_golden.json files")
    return questions


def load_bioasq_squad(root: Path) -> IRDataset:
    """The paper's reformulation: each SQuAD factoid question is a query, its contexts the relevant documents.

    BioBERT's SQuAD files hold one (question, context) pair per question *and* context, with ids
    ``<bioasq id>_<nnn>``; the query is the BioASQ question (the id before ``_``) and every one of its
    contexts is relevant. Identical contexts are one document with a content-derived id.
    """
    folder = root / "squad_factoid_test"
    files = sorted(folder.glob("*.json"))
    if not files:
        raise DatasetError(f"{folder}: no SQuAD-format files")
    queries: dict[str, str] = {}
    contexts: dict[str, str] = {}
    qrels: Qrels = {}
    pairs = 0
    for path in files:
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                context = str(paragraph["context"]).strip()
                doc_id = stable_id("ctx", context)
                contexts.setdefault(doc_id, context)
                for qa in paragraph["qas"]:
                    qid = str(qa["id"]).split("_", 1)[0]
                    queries.setdefault(qid, str(qa["question"]).strip())
                    qrels.setdefault(qid, {})[doc_id] = 1
                    pairs += 1
    about = (
        f"BioBERT SQuAD factoid test files 4b-7b: {pairs} (question, context) pairs -> {len(queries)} questions, "
        f"{len(contexts)} unique contexts (title+abstract) as documents"
    )
    return _passages("bioasq-squad", contexts, queries, qrels, about)


def _passages(name: str, texts: dict[str, str], queries: dict[str, str], qrels: Qrels, description: str) -> IRDataset:
    """A dataset whose documents are bare passages (``texts``: id -> text), tagged with the dataset's name."""
    documents = [Document(id=doc_id, abstract=text, source=name) for doc_id, text in texts.items()]
    return IRDataset(name, documents, queries, qrels, description)


def load_bioasq_golden_docs(root: Path) -> IRDataset:
    """Golden questions -> their PubMed documents, over the 2,753-abstract corpus (questions of every type)."""
    pubmed = root / "pubmed"
    plan = plan_corpus(pubmed / "pubmed_abstracts.jsonl", "pubmed", None)
    documents = [record for record in iter_corpus(plan) if isinstance(record, Document)]
    present = {doc.id for doc in documents}
    golden = _golden_questions(root)
    qrels: Qrels = {}
    with open(pubmed / "golden_question_documents.tsv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["in_derived_corpus"] == "1" and row["pmid"] in present and row["question_id"] in golden:
                qrels.setdefault(row["question_id"], {})[row["pmid"]] = 1
    queries = {qid: str(golden[qid]["body"]).strip() for qid in sorted(qrels)}
    return IRDataset(
        "bioasq-golden-docs",
        documents,
        queries,
        qrels,
        f"BioASQ golden sets 4B-7B: {len(queries)} questions (all types) whose PubMed documents are among the "
        f"{len(documents)} abstracts of bioasq/pubmed; relevant = those documents",
    )


def load_bioasq_snippets(root: Path, types: Iterable[str] = ("factoid",)) -> IRDataset:
    """Golden questions -> their golden snippets, each unique snippet a passage document."""
    wanted = set(types)
    queries: dict[str, str] = {}
    passages: dict[str, str] = {}
    qrels: Qrels = {}
    for qid, question in _golden_questions(root).items():
        if question.get("type") not in wanted:
            continue
        snippets = question.get("snippets") or []
        assert isinstance(snippets, list)
        for snippet in snippets:
            text = str(snippet.get("text", "")).strip()
            if not text:
                continue
            doc_id = stable_id("snip", text)
            passages.setdefault(doc_id, text)
            qrels.setdefault(qid, {})[doc_id] = 1
        if qid in qrels:
            queries[qid] = str(question["body"]).strip()
    about = (
        f"BioASQ golden sets 4B-7B, {'/'.join(sorted(wanted))} questions: {len(queries)} questions, "
        f"{len(passages)} unique golden snippets as passage documents; relevant = the question's snippets"
    )
    return _passages("bioasq-snippets", passages, queries, qrels, about)


BIOASQ_LOADERS = {
    "bioasq-squad": load_bioasq_squad,
    "bioasq-golden-docs": load_bioasq_golden_docs,
    "bioasq-snippets": load_bioasq_snippets,
}


# -- BEIR and NFCorpus -----------------------------------------------------------------------------------


def load_beir(folder: Path, split: str = "test") -> IRDataset:
    """A BEIR folder: ``corpus.jsonl`` (the product's BEIR reader), ``queries.jsonl``, ``qrels/<split>.tsv``."""
    corpus, queries_file, qrels_file = (
        folder / "corpus.jsonl",
        folder / "queries.jsonl",
        folder / "qrels" / f"{split}.tsv",
    )
    for path in (corpus, queries_file, qrels_file):
        if not path.is_file():
            raise DatasetError(f"{folder}: not a BEIR folder ({path.name} missing)")
    documents = [record for record in iter_corpus(plan_corpus(corpus, "beir", None)) if isinstance(record, Document)]
    qrels: Qrels = {}
    with open(qrels_file, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
    queries: dict[str, str] = {}
    with open(queries_file, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                item = json.loads(line)
                if str(item["_id"]) in qrels:
                    queries[str(item["_id"])] = str(item["text"])
    about = f"BEIR layout {folder}: {len(documents)} documents, {len(queries)} {split} queries with qrels"
    return _queried(f"beir-{folder.name}", documents, queries, qrels, about)


def _queried(name: str, documents: list[Document], queries: dict[str, str], qrels: Qrels, about: str) -> IRDataset:
    """The dataset, with judgements only for the queries it has text for."""
    return IRDataset(name, documents, queries, {qid: docs for qid, docs in qrels.items() if qid in queries}, about)


def _tsv_pairs(path: Path) -> Iterable[tuple[str, str]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            key, _, text = line.rstrip("\n").partition("\t")
            if key and text.strip():
                yield key, text.strip()


def load_nfcorpus(folder: Path, split: str = "test", query_type: str = "titles") -> IRDataset:
    """NFCorpus, original layout: ``<split>.docs``, ``<split>.<type>.queries``, graded ``<split>.2-1-0.qrel``."""
    docs_file = folder / f"{split}.docs"
    queries_file = folder / f"{split}.{query_type}.queries"
    qrels_file = folder / f"{split}.2-1-0.qrel"
    for path in (docs_file, queries_file, qrels_file):
        if not path.is_file():
            raise DatasetError(f"{folder}: not the NFCorpus distribution ({path.name} missing)")
    documents = [Document(id=key, abstract=text, source="nfcorpus") for key, text in _tsv_pairs(docs_file)]
    qrels: Qrels = {}
    for line in qrels_file.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 4 and int(parts[3]) > 0:
            qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    queries = {key: text for key, text in _tsv_pairs(queries_file) if key in qrels}
    about = (
        f"NFCorpus {split} split, {query_type} queries, graded 2-1-0 qrels (text pre-lowercased/stop-worded by "
        f"its authors): {len(documents)} documents, {len(queries)} queries"
    )
    return _queried(f"nfcorpus-{split}-{query_type}", documents, queries, qrels, about)


def load_datasets(spec: str) -> list[IRDataset]:
    """Load ``KIND:PATH`` (see the module docstring)."""
    kind, sep, raw_path = spec.partition(":")
    if not sep or not raw_path:
        raise DatasetError(f"dataset {spec!r}: expected KIND:PATH, e.g. bioasq:../shared/data/bioasq or beir:DIR")
    path = Path(raw_path).expanduser()
    if not path.is_dir():
        raise DatasetError(f"dataset {spec!r}: {path} is not a folder")
    kind = kind.strip().lower()
    if kind == "bioasq":
        return [loader(path) for loader in BIOASQ_LOADERS.values()]
    if kind in BIOASQ_LOADERS:
        return [BIOASQ_LOADERS[kind](path)]
    if kind == "beir":
        return [load_beir(path)]
    if kind == "nfcorpus":
        return [load_nfcorpus(path)]
    known = ", ".join(["bioasq", *BIOASQ_LOADERS, "beir", "nfcorpus"])
    raise DatasetError(f"dataset {spec!r}: unknown kind {kind!r} (choose {known})")


def relevant_texts(dataset: IRDataset) -> tuple[Mapping[str, list[str]], Mapping[str, str]]:
    """``(relevant ids per query, text per document)`` for the debias filter."""
    return dataset.relevant(), dataset.doc_text()
