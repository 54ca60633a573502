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
