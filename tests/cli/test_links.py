"""PMIDs and DOIs become links: ``https://pubmed.ncbi.nlm.nih.gov/<pmid>/`` and ``https://doi.org/<doi>``, in the
table and as ``pubmed_url`` / ``doi_url`` in ``--json``, only for papers that have them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bmb_es import Document, EmbeddedEngine
from bmb_es._ingest import ingest
from bmb_es._links import doi_url, pubmed_url
from bmb_es.cli import app
from tests.support import ConstantEmbedder


@pytest.mark.parametrize(
    ("doi", "url"),
    [
        ("10.1056/NEJMoa2001017", "https://doi.org/10.1056/NEJMoa2001017"),
        ("doi:10.1056/NEJMoa2001017", "https://doi.org/10.1056/NEJMoa2001017"),
        ("DOI: 10.1056/x ", "https://doi.org/10.1056/x"),
        ("https://doi.org/10.1056/x", "https://doi.org/10.1056/x"),
        ("http://dx.doi.org/10.1056/x", "https://doi.org/10.1056/x"),
        (
            "10.1002/(SICI)1097-4571(199806)49:8<693::AID-ASI4>3.0.CO;2-O",
            "https://doi.org/10.1002/(SICI)1097-4571(199806)49:8%3C693::AID-ASI4%3E3.0.CO;2-O",
        ),
        ("10.1/a b#c?d%", "https://doi.org/10.1/a%20b%23c%3Fd%25"),
        ("", None),
        ("  doi: ", None),
    ],
)
def test_doi_urls_are_normalised_and_escaped(doi: str, url: str | None) -> None:
    assert doi_url(doi) == url


@pytest.mark.parametrize(
    ("pmid", "url"),
    [
        ("32109013", "https://pubmed.ncbi.nlm.nih.gov/32109013/"),
        (" PMID: 32109013", "https://pubmed.ncbi.nlm.nih.gov/32109013/"),
        ("", None),
        ("PMC7092803", None),  # a PubMed Central id is not a PMID
    ],
)
def test_pubmed_urls_only_for_pmids(pmid: str, url: str | None) -> None:
    assert pubmed_url(pmid) == url


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    documents = [
        Document(id="both", title="Lung injury in adults", pmid="32109013", doi="doi:10.1056/NEJMoa2001017"),
        Document(id="doi-only", title="Lung fibrosis", doi="https://doi.org/10.1/lung"),
        Document(id="neither", title="Lung repair"),
    ]
    ingest(documents, EmbeddedEngine(root), "papers", ConstantEmbedder(), optimize=False)
    return root


def test_json_hits_carry_the_links_they_have(home: Path) -> None:
    result = CliRunner().invoke(app, ["query", "--no-rerank", "--json", "--data-dir", str(home), "lung"])
    assert result.exit_code == 0, result.output
    hits = {hit["id"]: hit for hit in json.loads(result.stdout)["hits"]}
    assert hits["both"]["pubmed_url"] == "https://pubmed.ncbi.nlm.nih.gov/32109013/"
    assert hits["both"]["doi_url"] == "https://doi.org/10.1056/NEJMoa2001017"
    assert hits["both"]["doi"] == "doi:10.1056/NEJMoa2001017"  # the stored field stays as the source had it
    assert "pubmed_url" not in hits["doi-only"] and hits["doi-only"]["doi_url"] == "https://doi.org/10.1/lung"
    assert "pubmed_url" not in hits["neither"] and "doi_url" not in hits["neither"]


def test_the_table_shows_the_links(home: Path) -> None:
    result = CliRunner().invoke(app, ["query", "--no-rerank", "--data-dir", str(home), "lung"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "https://pubmed.ncbi.nlm.nih.gov/32109013/" in result.stdout
    assert "https://doi.org/10.1056/NEJMoa2001017" in result.stdout and "https://doi.org/10.1/lung" in result.stdout
    assert result.stdout.count("https://") == 3
