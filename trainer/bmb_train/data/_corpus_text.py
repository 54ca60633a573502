"""Read a corpus with the project's readers and turn each document into a list of sentences."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bmb_es._document import Document
from bmb_es._errors import InputError
from bmb_es.readers import Reject, read_corpus

from .._errors import DataError
from ._sentences import split_sentences


@dataclass(slots=True)
class CorpusStats:
    """What reading a corpus produced: documents used, documents without text, rejected records."""

    documents: int = 0
    empty: int = 0
    rejects: list[Reject] = field(default_factory=list)


def document_sentences(doc: Document) -> list[str]:
    """Title, abstract and body as one ordered list of sentences."""
    out: list[str] = []
    for text in (doc.title, doc.abstract, doc.body):
        out.extend(split_sentences(text))
    return out


def read_documents(
    corpus: Path,
    stats: CorpusStats,
    format: str | None = None,
    limit: int | None = None,
) -> Iterator[list[str]]:
    """Sentences of every document of ``corpus`` that has text; rejects and empty documents are counted.

    Parameters
    ----------
    corpus
        A file or folder any ``bmb-es`` reader understands (BREATHE, CORD-19, PubMed JSONL, ...).
    stats
        Filled in while iterating.
    format
        Force one reader format.
    limit
        Stop after this many documents with text.
    """
    try:
        records = read_corpus(corpus, format=format)
    except InputError as error:
        raise DataError(str(error)) from None
    for record in records:
        if isinstance(record, Reject):
            stats.rejects.append(record)
            continue
        sentences = document_sentences(record)
        if not sentences:
            stats.empty += 1
            continue
        stats.documents += 1
        yield sentences
        if limit is not None and stats.documents >= limit:
            return
