"""A small embedded index of papers with every field the page shows, built with a stand-in embedder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="bmb-es serve needs the serve extra: pip install 'bmb-es[serve]'")

from fastapi.testclient import TestClient

from bmb_es import EmbeddedEngine, index_path
from bmb_es.serve import create_app
from tests.support import HashEmbedder

INDEX = "papers"
HOSTILE_TITLE = '<script>alert("title")</script> Lung <b>injury</b> & "quotes"'
HOSTILE_ABSTRACT = 'Lung injury <img src=x onerror=alert(1)> =HYPERLINK("x") &amp; ventilation </mark>.'


def _paper(number: int, title: str, abstract: str, journal: str, year: int, **more: object) -> dict[str, object]:
    return {
        "id": f"p{number:02d}",
        "pmid": str(30_000_000 + number),
        "doi": f"10.5555/bmb-es.{number}",
        "title": title,
        "abstract": abstract,
        "authors": [f"Author {number}A", f"Author {number}B"],
        "journal": journal,
        "date": f"{year}-0{1 + number % 9}-15",
        **more,
    }


PAPERS: list[dict[str, object]] = [
    _paper(
        1, "Acute lung injury in sepsis", "Sepsis causes acute lung injury and injuries of the alveoli.", "Thorax", 2019
    ),
    _paper(2, "Lung injury after ventilation", "Mechanical ventilation injures the lung.", "Chest", 2020),
    _paper(3, "Coronavirus and the lungs", "How coronavirus damages the lungs: alveolar injury.", "Thorax", 2021),
    _paper(4, "Heart failure outcomes", "Heart failure and the lung: congestion.", "Circulation", 2018),
    _paper(5, "Kidney disease and lung injury", "Acute kidney injury worsens lung injury.", "Kidney Int", 2022),
    _paper(6, "Asthma in children", "Asthma attacks in the lung airways of children.", "Chest", 2017),
    _paper(7, "Liver fibrosis", "Fibrosis of the liver, not the lung.", "Hepatology", 2020),
    _paper(8, "Stroke and lung infection", "Pneumonia after stroke injures the lung.", "Stroke", 2019),
    _paper(9, "Lung injury biomarkers", "Biomarkers of lung injury in adults.", "Thorax", 2023),
    _paper(10, HOSTILE_TITLE, HOSTILE_ABSTRACT, "Chest", 2020),
    _paper(11, "Sepsis and heart", "Sepsis and cardiac function; lung injury noted.", "Circulation", 2021),
    _paper(12, "Undated lung injury report", "A lung injury case without a date.", "Thorax", 2020, date=""),
]


@pytest.fixture(scope="session")
def served_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir of an embedded index :data:`INDEX` of :data:`PAPERS`, built once per session."""
    root = tmp_path_factory.mktemp("serve-home")
    corpus = root / "papers.jsonl"
    corpus.write_text("".join(json.dumps(paper) + "\n" for paper in PAPERS), encoding="utf-8")
    engine = EmbeddedEngine(root / "home")
    summary = index_path(corpus, engine=engine, index=INDEX, embedder=HashEmbedder(), reject_log=root / "rejects")
    assert summary.indexed == len(PAPERS)
    engine.close()
    return root / "home"


@pytest.fixture
def engine(served_index: Path) -> Iterator[EmbeddedEngine]:
    opened = EmbeddedEngine(served_index)
    yield opened
    opened.close()


@pytest.fixture
def client(engine: EmbeddedEngine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, INDEX, HashEmbedder())) as test_client:
        yield test_client
