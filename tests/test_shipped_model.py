"""The shipped biomedical model folder: what other tools need to import it (docs/clusters.md measures it)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "bmb-minilm-bioasq"


def _ship_model() -> object:
    spec = importlib.util.spec_from_file_location("ship_model", REPO / "tools" / "ship_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_model_has_vocab_and_module_names_that_sentence_transformers_5_reads() -> None:
    modules = json.loads((SHIPPED / "modules.json").read_text())
    assert [m["type"] for m in modules] == [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ]
    vocab = json.loads((SHIPPED / "tokenizer.json").read_text())["model"]["vocab"]
    lines = (SHIPPED / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(vocab) and all(vocab[token] == row for row, token in enumerate(lines))


def test_make_portable_renames_new_module_paths_and_writes_vocab(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(SHIPPED / "tokenizer.json", folder / "tokenizer.json")
    new_names = [
        "sentence_transformers.base.modules.transformer.Transformer",
        "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
        "sentence_transformers.base.modules.normalize.Normalize",
    ]
    (folder / "modules.json").write_text(json.dumps([{"idx": i, "type": t} for i, t in enumerate(new_names)]))
    _ship_model().make_portable(folder)  # type: ignore[attr-defined]
    types = [m["type"] for m in json.loads((folder / "modules.json").read_text())]
    assert types == [name.replace(".base.modules.transformer", ".models").replace(
        ".sentence_transformer.modules.pooling", ".models").replace(".base.modules.normalize", ".models")
        for name in new_names]  # fmt: skip
    assert (folder / "vocab.txt").read_text(encoding="utf-8").startswith("[PAD]\n")
