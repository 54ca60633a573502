"""Results as files a reference manager or a spreadsheet reads: CSV and RIS.

Both are built from text, never run: RIS is line-based, so line breaks inside a value become spaces (a value
cannot start a new tag); in CSV a text cell that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``,
tab, carriage return first) gets a leading apostrophe, as OWASP advises against CSV injection.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Literal

from .._links import doi_url, pubmed_url
from .._search import Hit

ExportFormat = Literal["csv", "ris"]
FORMATS: dict[str, tuple[str, str]] = {  # format: (media type, file suffix)
    "csv": ("text/csv; charset=utf-8", "csv"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "ris"),
}
CSV_COLUMNS = (
    "rank",
    "score",
    "bm25",
    "cosine",
    "id",
    "pmid",
    "doi",
    "title",
    "authors",
    "journal",
    "year",
    "date",
    "pubmed_url",
    "doi_url",
    "abstract",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def to_csv(hits: Sequence[Hit]) -> str:
    """One row per hit, :data:`CSV_COLUMNS` in order, authors joined by ``"; "``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for hit in hits:
        doc = hit.document
        text = {
            "id": doc.id,
            "pmid": doc.pmid,
            "doi": doc.doi,
            "title": doc.title,
            "authors": "; ".join(doc.authors),
            "journal": doc.journal,
            "year": doc.year,
            "date": doc.date,
            "pubmed_url": pubmed_url(doc.pmid) or "",
            "doi_url": doi_url(doc.doi) or "",
            "abstract": " ".join(doc.abstract.split()),
        }
        numbers = {"rank": str(hit.rank), "score": _number(hit.score), "bm25": _number(hit.bm25)}
        numbers["cosine"] = _number(hit.cosine)
        writer.writerow([numbers[name] if name in numbers else _cell(text[name]) for name in CSV_COLUMNS])
    return out.getvalue()


def _line(tag: str, value: str) -> str:
    return f"{tag}  - {' '.join(value.split())}\r\n"


def to_ris(hits: Sequence[Hit]) -> str:
    """One ``TY  - JOUR`` record per hit: title, authors, journal, year, date, abstract, DOI, PMID, URL, id."""
    out: list[str] = []
    for hit in hits:
        doc = hit.document
        out.append(_line("TY", "JOUR"))
        if doc.title:
            out.append(_line("TI", doc.title))
        out.extend(_line("AU", author) for author in doc.authors if author.strip())
        if doc.journal:
            out.append(_line("JO", doc.journal))
        if doc.year:
            out.append(_line("PY", doc.year))
        if doc.date:
            out.append(_line("DA", doc.date.replace("-", "/")))
        if doc.abstract:
            out.append(_line("AB", doc.abstract))
        if doc.doi:
            out.append(_line("DO", doc.doi))
        if doc.pmid:
            out.append(_line("AN", f"PMID:{doc.pmid}"))
        for url in (pubmed_url(doc.pmid), doi_url(doc.doi)):
            if url is not None:
                out.append(_line("UR", url))
        out.append(_line("ID", doc.id))
        out.append("ER  - \r\n")
    return "".join(out)


def export(hits: Sequence[Hit], format: ExportFormat) -> str:
    """The hits as ``format`` (``csv`` or ``ris``)."""
    return to_csv(hits) if format == "csv" else to_ris(hits)
