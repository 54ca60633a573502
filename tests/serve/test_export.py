"""CSV and RIS exports: every field of a hit, one record per hit, and neither format can be made to run anything."""

from __future__ import annotations

import csv
import io

from bmb_es import Document, Hit
from bmb_es.serve import to_csv, to_ris

HIT = Hit(
    rank=3,
    id="p1",
    score=0.8125,
    bm25=12.5,
    cosine=0.625,
    document=Document(
        id="p1",
        title='=HYPERLINK("http://x") Lung\ninjury',
        abstract="First line.\nER  - \nTY  - BOOK",
        authors=("Doe, J", "-Roe, K"),
        journal="Thorax",
        date="2020-03-15",
        doi="10.5555/x.1",
        pmid="123",
    ),
)
BARE = Hit(rank=4, id="p2", score=-0.5, document=Document(id="p2", abstract="only text"))


def test_csv_has_every_field_and_defuses_formulas() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv([HIT, BARE]))))
    assert rows[0] == {
        "rank": "3",
        "score": "0.8125",
        "bm25": "12.5",
        "cosine": "0.625",
        "id": "p1",
        "pmid": "123",
        "doi": "10.5555/x.1",
        "title": '\'=HYPERLINK("http://x") Lung\ninjury',
        "authors": "Doe, J; -Roe, K",
        "journal": "Thorax",
        "year": "2020",
        "date": "2020-03-15",
        "pubmed_url": "https://pubmed.ncbi.nlm.nih.gov/123/",
        "doi_url": "https://doi.org/10.5555/x.1",
        "abstract": "First line. ER - TY - BOOK",
    }
    assert rows[1]["score"] == "-0.5" and rows[1]["bm25"] == "" and rows[1]["pubmed_url"] == ""


def test_ris_is_one_record_per_hit_and_values_cannot_start_tags() -> None:
    text = to_ris([HIT, BARE])
    lines = text.split("\r\n")
    assert lines[:6] == [
        "TY  - JOUR",
        'TI  - =HYPERLINK("http://x") Lung injury',
        "AU  - Doe, J",
        "AU  - -Roe, K",
        "JO  - Thorax",
        "PY  - 2020",
    ]
    assert "AB  - First line. ER - TY - BOOK" in lines  # line breaks in a value become spaces
    assert "DA  - 2020/03/15" in lines and "DO  - 10.5555/x.1" in lines and "AN  - PMID:123" in lines
    assert "UR  - https://pubmed.ncbi.nlm.nih.gov/123/" in lines and "UR  - https://doi.org/10.5555/x.1" in lines
    assert [line for line in lines if line.startswith("TY  -")] == ["TY  - JOUR", "TY  - JOUR"]
    assert [line for line in lines if line.startswith("ER  -")] == ["ER  - ", "ER  - "]
