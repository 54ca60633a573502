"""Turn a ``bmb-train finetune retrieval`` output folder into the model shipped in ``models/``.

    python tools/ship_model.py /tmp/ft models/bmb-minilm-bioasq

What it does, and why:

* weights to float16 safetensors (half the bytes; the folder's ``config.json`` keeps ``dtype: float32``, so
  transformers loads them back as float32 and every bmb-es backend and precision works as with the base model);
* one max length everywhere it is read (``sentence_bert_config.json``, ``tokenizer_config.json`` and the
  truncation of ``tokenizer.json``): the base model's 256 tokens, so documents are cut where the base model
  cuts them (training used 128-token windows; the leftovers would otherwise be read by other tools);
* portable to the tools users import it with (Eland, opensearch-py-ml, both on sentence-transformers 5):
  ``vocab.txt`` written from ``tokenizer.json`` (Eland's slow BERT tokenizer reads nothing else) and ``modules.json``
  with the module names sentence-transformers 5 knows (6 still loads them); docs/clusters.md has the measurement;
* copies ``metrics.json`` (training data, steps, seed, dev scores) and ``split.json`` (which questions trained,
  which were dev) beside the weights; drops the generated card (models/<name>/README.md is written by hand).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

MAX_LENGTH = 256
KEEP = (
    "config.json",
    "config_sentence_transformers.json",
    "modules.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "metrics.json",
    "split.json",
    "1_Pooling",
    "2_Normalize",
)


def _edit_json(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# sentence-transformers 6 writes these module paths; 5.x (what Eland and opensearch-py-ml install) has only the old.
PORTABLE_MODULES = {
    "sentence_transformers.base.modules.transformer.Transformer": "sentence_transformers.models.Transformer",
    "sentence_transformers.sentence_transformer.modules.pooling.Pooling": "sentence_transformers.models.Pooling",
    "sentence_transformers.base.modules.normalize.Normalize": "sentence_transformers.models.Normalize",
}


def make_portable(folder: Path) -> None:
    """Add ``vocab.txt`` (from ``tokenizer.json``) and rename ``modules.json``'s module types to 5.x's, in place."""
    if not (folder / "vocab.txt").is_file():
        vocab = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
        tokens = sorted(vocab, key=lambda token: int(vocab[token]))
        (folder / "vocab.txt").write_text("".join(f"{token}\n" for token in tokens), encoding="utf-8")
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    for module in modules:
        module["type"] = PORTABLE_MODULES.get(module["type"], module["type"])
    (folder / "modules.json").write_text(json.dumps(modules, indent=2) + "\n", encoding="utf-8")


def ship(source: Path, target: Path) -> None:
    from safetensors.torch import load_file, save_file

    target.mkdir(parents=True, exist_ok=True)
    for name in KEEP:
        item = source / name
        if item.is_dir():
            shutil.copytree(item, target / name, dirs_exist_ok=True)
        elif item.is_file():
            shutil.copy2(item, target / name)
    weights = load_file(str(source / "model.safetensors"))
    save_file({key: value.half().contiguous() for key, value in weights.items()}, str(target / "model.safetensors"))
    (target / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": MAX_LENGTH, "do_lower_case": False}, indent=2) + "\n", encoding="utf-8"
    )

    def tokenizer_config(data: dict[str, Any]) -> None:
        data["model_max_length"] = MAX_LENGTH
        data.pop("max_length", None)
        data["local_files_only"] = True

    def tokenizer(data: dict[str, Any]) -> None:
        if data.get("truncation"):
            data["truncation"]["max_length"] = MAX_LENGTH

    _edit_json(target / "tokenizer_config.json", tokenizer_config)
    _edit_json(target / "tokenizer.json", tokenizer)
    make_portable(target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path, help="the fine-tune's output folder")
    parser.add_argument("target", type=Path, help="the shipped model's folder")
    args = parser.parse_args()
    ship(args.source, args.target)
    print(f"wrote {args.target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
