"""``--json`` prints strict JSON: a NaN or an infinity (which a document's own fields may hold) becomes null."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from typer.testing import CliRunner

from bmb_es import Document, EmbeddedEngine, IndexMeta
from bmb_es.cli import app
from bmb_es.cli._json import json_text
from bmb_es.engines import IndexedDocument


def _strict(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_json_text_writes_null_for_what_json_cannot_hold() -> None:
    data = {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5, (2, float("nan"))], "c": {"d": "NaN"}}
    assert _strict(json_text(data)) == {"a": None, "b": [None, None, 1.5, [2, None]], "c": {"d": "NaN"}}


def test_query_json_of_a_document_holding_nan_is_strict_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    engine = EmbeddedEngine(home)
    engine.create_index("t", IndexMeta(model="hand-made-vectors", dimension=3))
    document = Document(id="x", title="lung injury", extra={"ratio": float("nan"), "upper": float("inf")})
    engine.upsert("t", [IndexedDocument(document, document.content_hash(), np.asarray([1.0, 0, 0], np.float32))])
    engine.commit("t")
    engine.close()
    result = CliRunner().invoke(app, ["query", "lung", "--no-rerank", "--json", "-i", "t", "--data-dir", str(home)])
    assert result.exit_code == 0, result.output
    hits = _strict(result.stdout)["hits"]
    assert [(hit["id"], hit["extra"]) for hit in hits] == [("x", {"ratio": None, "upper": None})]
    for command in (["indices", "--json"], ["check", "--json"]):
        listed = CliRunner().invoke(app, [*command, "--data-dir", str(home)])
        assert listed.exit_code == 0 and _strict(listed.stdout)[0]["index"] == "t"


def test_a_total_past_the_count_is_printed_as_a_lower_bound(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr("bmb_es.engines.embedded._execute.COUNTED_MATCHES", 2)  # as 10,000 of many more
    home = tmp_path / "home"
    engine = EmbeddedEngine(home)
    engine.create_index("t", IndexMeta(model="hand-made-vectors", dimension=3))
    documents = [Document(id=f"d{n}", title=f"lung injury {n}") for n in range(3)]
    vector = np.asarray([1.0, 0, 0], np.float32)
    engine.upsert("t", [IndexedDocument(document, document.content_hash(), vector) for document in documents])
    engine.commit("t")
    engine.close()
    base = ["query", "--no-rerank", "-i", "t", "--data-dir", str(home)]
    printed = CliRunner().invoke(app, [*base, "--json", "lung"])
    assert printed.exit_code == 0, printed.output
    data = _strict(printed.stdout)
    assert (data["total"], data["total_relation"]) == (2, "gte")
    exact = _strict(CliRunner().invoke(app, [*base, "--json", "1"]).stdout)
    assert (exact["total"], exact["total_relation"]) == (1, "eq")
    table = CliRunner().invoke(app, [*base, "lung"], env={"COLUMNS": "200"})
    assert "of 2+ matching papers" in table.output
