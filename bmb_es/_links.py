"""Links to a paper: its PubMed page from the PMID, its publisher's page through doi.org from the DOI."""

from __future__ import annotations

import re
from urllib.parse import quote

PUBMED = "https://pubmed.ncbi.nlm.nih.gov/"
DOI_RESOLVER = "https://doi.org/"
# What sources put before a DOI: "doi:10.1/x", "https://doi.org/10.1/x", "http://dx.doi.org/10.1/x".
_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)
_PMID_PREFIX = re.compile(r"^pmid:\s*", re.IGNORECASE)
# Kept as they are in a doi.org URL; everything else (space, %, #, ?, ", <, >, non-ASCII) is %-escaped.
_DOI_SAFE = "/:;()[]+,=@!$&'*"


def normalise_doi(doi: str) -> str:
    """``doi`` without surrounding space and without a leading ``doi:`` or ``https://doi.org/``; ``""`` if none."""
    return _DOI_PREFIX.sub("", doi.strip(), count=1).strip()


def doi_url(doi: str) -> str | None:
    """``https://doi.org/<doi>`` for a DOI (normalised, see :func:`normalise_doi`), or ``None`` for no DOI."""
    value = normalise_doi(doi)
    return f"{DOI_RESOLVER}{quote(value, safe=_DOI_SAFE)}" if value else None


def pubmed_url(pmid: str) -> str | None:
    """``https://pubmed.ncbi.nlm.nih.gov/<pmid>/`` for a PMID (digits, optionally after ``PMID:``), else ``None``."""
    value = _PMID_PREFIX.sub("", pmid.strip(), count=1)
    return f"{PUBMED}{value}/" if value.isascii() and value.isdigit() else None
