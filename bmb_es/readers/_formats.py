"""The corpus formats: how each is recognised and how its records become Documents.

Each converter takes a :class:`RawRecord` and returns a :class:`Document`, or a :class:`Reject` saying
why the record cannot be indexed. Converters never raise for bad data: values of the wrong type are coerced
as :mod:`bmb_es.readers._fields` describes, and each coercion is noted in ``Document.coerced``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._document import Document, content_id
from ._fields import extra_fields, field_list, field_text, text
from ._records import RawRecord, Reject

Converter = Callable[[RawRecord], "Document | Reject"]

# Generic records: the first key present wins for each Document field.
GENERIC_KEYS: dict[str, tuple[str, ...]] = {
    "id": ("id", "_id", "doc_id", "docid", "uid", "cord_uid", "pmid", "PMID"),
    "title": ("title", "Title", "article_title"),
    "abstract": ("abstract", "Abstract", "text", "summary", "contents", "content"),
    "body": ("body", "full_body", "full_text", "fulltext"),
    "authors": ("authors", "author"),
    "journal": ("journal", "journal_title", "venue"),
    "date": ("date", "publish_time", "publication_date", "pub_date", "year"),
    "doi": ("doi", "DOI"),
    "pmid": ("pmid", "PMID", "pubmed_id"),
    "source": ("source", "source_x"),
    "keywords": ("keywords", "mesh_terms"),
}
MAPPABLE_FIELDS: tuple[str, ...] = tuple(GENERIC_KEYS)


def _finish(record: RawRecord, source_id: Any, values: dict[str, Any], used: set[str]) -> Document | Reject:
    """Build the Document, or reject a record with no text; ids fall back to a content hash.

    ``source_id`` and ``values`` are source values, coerced here (and noted) where they are not text.
    """
    notes = list(record.notes)
    title, abstract, body = (field_text(values.get(name), name, notes) for name in ("title", "abstract", "body"))
    if not (title or abstract or body):
        return Reject(record.file, record.line, "empty record: no title, abstract or body text")
    return Document(
        id=field_text(source_id, "id", notes) or content_id(title, abstract, body),
        title=title,
        abstract=abstract,
        body=body,
        authors=field_list(values.get("authors"), "authors", notes),
        journal=field_text(values.get("journal"), "journal", notes),
        date=field_text(values.get("date"), "date", notes),
        doi=field_text(values.get("doi"), "doi", notes),
        pmid=field_text(values.get("pmid"), "pmid", notes),
        source=field_text(values.get("source"), "source", notes),
        keywords=field_list(values.get("keywords"), "keywords", notes),
        extra=extra_fields(record.fields, used),
        coerced=tuple(notes),
        origin=(record.file, record.line),
    )


def generic_converter(field_map: Mapping[str, str] | None = None) -> Converter:
    """Records with arbitrary keys: ``field_map`` names the source key for a Document field."""
    mapping = dict(field_map or {})

    def convert(record: RawRecord) -> Document | Reject:
        values: dict[str, Any] = {}
        used: set[str] = set()
        for name, candidates in GENERIC_KEYS.items():
            keys = (mapping[name],) if name in mapping else candidates
            for key in keys:
                if key in record.fields and text(record.fields[key]):
                    values[name] = record.fields[key]
                    used.add(key)
                    break
        return _finish(record, values.get("id"), values, used)

    return convert


def breathe(record: RawRecord) -> Document | Reject:
    """BREATHE BigQuery JSONL exports and GCS CSV dump shards (``full_body`` or ``body`` holds the text)."""
    fields = record.fields
    body_key = "full_body" if text(fields.get("full_body")) else "body"
    values = {
        "title": fields.get("title"),
        "abstract": fields.get("abstract"),
        "body": fields.get(body_key),
        "authors": fields.get("authors"),
        "journal": fields.get("journal") or fields.get("journal_title"),
        "date": fields.get("date") or fields.get("publication_date") or fields.get("date_publication"),
        "doi": fields.get("doi"),
        "pmid": fields.get("pmid"),
        "source": fields.get("source") or "breathe",
        "keywords": fields.get("keywords"),
    }
    used = {"id", "title", "abstract", "full_body", "body", "authors", "journal", "journal_title", "date"}
    used |= {"publication_date", "date_publication", "doi", "pmid", "source", "keywords"}
    return _finish(record, fields.get("id"), values, used)


def cord19(record: RawRecord) -> Document | Reject:
    """CORD-19 ``metadata.csv`` rows (``cord_uid`` is the id)."""
    fields = record.fields
    values = {
        "title": fields.get("title"),
        "abstract": fields.get("abstract"),
        "authors": fields.get("authors"),
        "journal": fields.get("journal"),
        "date": fields.get("publish_time"),
        "doi": fields.get("doi"),
        "pmid": fields.get("pubmed_id"),
        "source": fields.get("source_x") or "cord19",
    }
    used = {"cord_uid", "title", "abstract", "authors", "journal", "publish_time", "doi", "pubmed_id", "source_x"}
    return _finish(record, fields.get("cord_uid"), values, used)


def beir(record: RawRecord) -> Document | Reject:
    """BEIR ``corpus.jsonl``: ``{"_id", "title", "text", "metadata"}``."""
    fields = record.fields
    values = {"title": fields.get("title"), "abstract": fields.get("text")}
    return _finish(record, fields.get("_id"), values, {"_id", "title", "text"})


def pubmed(record: RawRecord) -> Document | Reject:
    """PubMed-style ``{"pmid", "text"}`` JSONL, text being title and abstract as one string."""
    fields = record.fields
    values = {"abstract": fields.get("text"), "pmid": fields.get("pmid"), "source": "pubmed"}
    return _finish(record, fields.get("pmid"), values, {"pmid", "text"})


@dataclass(frozen=True, slots=True)
class Format:
    """A named corpus format: which files it reads and how it recognises them by their keys."""

    name: str
    description: str
    converter: Converter
    suffixes: tuple[str, ...]
    required_keys: tuple[frozenset[str], ...]  # any one of these key sets must be present

    def matches(self, suffix: str, keys: set[str]) -> bool:
        return suffix in self.suffixes and any(required <= keys for required in self.required_keys)


_JSON = (".jsonl", ".ndjson", ".json")
_CSV = (".csv", ".tsv")

# Detection order matters: the most specific key sets first, generic last.
FORMATS: tuple[Format, ...] = (
    Format("cord19", "CORD-19 metadata.csv", cord19, _CSV, (frozenset({"cord_uid", "title", "abstract"}),)),
    Format("beir", "BEIR corpus.jsonl (_id, title, text)", beir, _JSON, (frozenset({"_id", "text"}),)),
    Format(
        "breathe",
        "BREATHE BigQuery JSONL export or CSV dump shard",
        breathe,
        _JSON + _CSV,
        (frozenset({"full_body"}), frozenset({"id", "title", "abstract"}), frozenset({"title", "abstract", "body"})),
    ),
    Format("pubmed", "PubMed-style {pmid, text} JSONL", pubmed, _JSON, (frozenset({"pmid", "text"}),)),
    Format(
        "generic",
        "any JSON/JSONL/CSV with title/abstract/text keys (or --field mappings)",
        generic_converter(),
        _JSON + _CSV,
        tuple(frozenset({key}) for key in GENERIC_KEYS["title"] + GENERIC_KEYS["abstract"] + GENERIC_KEYS["body"]),
    ),
)
FORMAT_NAMES: tuple[str, ...] = tuple(fmt.name for fmt in FORMATS)


def format_by_name(name: str) -> Format:
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise KeyError(name)
