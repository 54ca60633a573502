"""Cluster-style vectors against bmb-es's own, for every model export bmb-es gives (docs/clusters.md).

One file, several steps, each run in its own environment by ``measure_cluster_vectors.sh``:

* ``texts`` (bmb-es venv): the first N BioASQ PubMed abstracts, read with bmb-es's own reader and joined as
  bmb-es embeds them (``bmb_es.embed_text``).
* ``client`` (bmb-es venv): bmb-es's vectors for them (``bmb_es.embedding.load_embedder``), in fp32 torch and in
  the setting ``auto`` picks on this machine (what ``bmb-es index`` uses).
* ``eland`` (Eland venv): Eland's own ``TransformerModel`` traces the folder (task ``text_embedding``) and saves
  the TorchScript model, its vocabulary and config; the saved model is run on each text tokenised from those
  saved files as Elasticsearch's BERT tokenizer does (WordPiece, ``do_lower_case``, ``[CLS] … [SEP]``, cut at
  the config's ``max_sequence_length``), one text per call.
* ``osml`` (opensearch-py-ml venv): ``SentenceTransformerModel.save_as_pt`` writes its zip; ``zip`` then runs it.
* ``portable``, ``fix-zip`` (any venv): a model folder copy both tools load (``vocab.txt``, sentence-transformers 5
  module names); a zip copy with the truncation docs/clusters.md asks for.
* ``zip`` (opensearch-py-ml venv): run an ml-commons zip as ml-commons does: the zipped ``tokenizer.json`` alone
  (its own truncation, no padding, one text per call) and the traced model's ``sentence_embedding``.
* ``compare`` (any venv with numpy): cosine per text of each tool's vectors with bmb-es's; a Markdown table.

Heavy imports (torch, eland, opensearch_py_ml, bmb_es) happen inside the step that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

TEXTS_FILE = "texts.json"
GOAL = 0.999


def _texts(path: Path) -> list[str]:
    return [str(item["text"]) for item in json.loads(path.read_text(encoding="utf-8"))]


def _write(out: Path, vectors: np.ndarray, info: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out.with_suffix(".npy"), vectors.astype(np.float32))
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"{out.with_suffix('.npy')}: {vectors.shape[0]} vectors of {vectors.shape[1]}; {info}")


def _max_seq_length(model: Path) -> int | None:
    """sentence-transformers' ``max_seq_length`` of ``model`` (the length bmb-es cuts at), if the folder states it."""
    config = model / "sentence_bert_config.json"
    if not config.is_file():
        return None
    value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
    return None if value is None else int(value)


def _threads() -> None:
    import torch

    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))


# -- bmb-es side -----------------------------------------------------------------------------------------------


def step_texts(args: argparse.Namespace) -> None:
    from bmb_es import Document, embed_text
    from bmb_es.readers import iter_corpus, plan_corpus

    items: list[dict[str, str]] = []
    for record in iter_corpus(plan_corpus(args.corpus, "pubmed", None)):
        if isinstance(record, Document):
            items.append({"id": record.id, "text": embed_text(record)})
        if len(items) == args.count:
            break
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(items, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(items)} abstracts from {args.corpus}")


def step_client(args: argparse.Namespace) -> None:
    from bmb_es.embedding import load_embedder

    texts = _texts(args.texts)
    args.out.mkdir(parents=True, exist_ok=True)
    export = {"label": args.label, "model": str(args.model), "max_seq_length": _max_seq_length(args.model)}
    (args.out / "export.json").write_text(json.dumps(export, indent=2) + "\n", encoding="utf-8")
    for label, setting in (("fp32", {"backend": "torch", "precision": "fp32", "device": "cpu"}), ("auto", {})):
        embedder = load_embedder(str(args.model), **setting)
        started = time.perf_counter()
        vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
        info = {
            "tool": f"bmb-es {label}",
            "selection": embedder.selection,
            "max_length": embedder.max_length,
            "seconds": round(time.perf_counter() - started, 1),
        }
        _write(args.out / f"client-{label}", vectors, info)


# -- Eland -----------------------------------------------------------------------------------------------------


def step_eland(args: argparse.Namespace) -> None:
    import torch
    import transformers

    _threads()
    eland_transformers: Any = importlib.import_module("eland.ml.pytorch.transformers")
    eland_version = str(importlib.import_module("eland").__version__)
    texts = _texts(args.texts)
    with tempfile.TemporaryDirectory(prefix="bmb-eland-") as tmp:
        model = eland_transformers.TransformerModel(
            model_id=str(args.model),
            task_type="text_embedding",
            es_version=(9, 2, 0),
            max_model_input_size=args.max_length,  # eland_import_hub_model's --max-model-input-length
        )
        model_path, config, vocab_path = model.save(tmp)
        tokenization = config.to_dict()["inference_config"]["text_embedding"]["tokenization"]
        kind, settings = next(iter(tokenization.items()))
        if kind != "bert":
            raise SystemExit(f"{args.model}: Eland made a {kind!r} tokenization; this step emulates BERT's only")
        vocab_txt = Path(tmp) / "vocab.txt"
        vocabulary = json.loads(Path(vocab_path).read_text(encoding="utf-8"))["vocabulary"]
        vocab_txt.write_text("".join(f"{token}\n" for token in vocabulary), encoding="utf-8")
        max_length = int(settings["max_sequence_length"])
        lower = bool(settings.get("do_lower_case"))
        tokenizer = transformers.BertTokenizer(str(vocab_txt), do_lower_case=lower)
        traced = torch.jit.load(model_path, map_location="cpu")  # type: ignore[no-untyped-call]
        rows = []
        truncated = 0
        with torch.no_grad():
            for text in texts:
                ids = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
                truncated += len(ids) == max_length
                input_ids = torch.tensor([ids], dtype=torch.long)
                ones = torch.ones_like(input_ids)
                positions = torch.arange(input_ids.shape[1], dtype=torch.long).unsqueeze(0)
                output = traced(input_ids, ones, torch.zeros_like(input_ids), positions)
                rows.append(output[0].numpy() if output.dim() == 2 else output.numpy())
    info = {
        "tool": f"Eland {eland_version}",
        "how": args.how,
        "max_model_input_length_flag": args.max_length,
        "max_sequence_length": max_length,
        "do_lower_case": lower,
        "texts_at_max_length": truncated,
    }
    _write(args.out, np.stack(rows), info)


# -- opensearch-py-ml and ml-commons ---------------------------------------------------------------------------


def _zip_truncation(zip_path: Path) -> Any:
    with zipfile.ZipFile(zip_path) as archive:
        return json.loads(archive.read("tokenizer.json"))["truncation"]


def step_osml(args: argparse.Namespace) -> None:
    """opensearch-py-ml's own tracing: ``SentenceTransformerModel.save_as_pt`` on the folder, as docs/clusters.md."""
    _threads()
    ml_models: Any = importlib.import_module("opensearch_py_ml.ml_models")
    folder = args.out_dir / "osml-out"
    model = ml_models.SentenceTransformerModel(model_id=str(args.model), folder_path=str(folder), overwrite=True)
    zip_path = Path(
        model.save_as_pt(
            sentences=["lung injury"], model_id=str(args.model), model_name="model.pt", zip_file_name="model.zip"
        )
    )
    written = args.out_dir / "osml-as-written.zip"
    shutil.copyfile(zip_path, written)
    print(f"{written}: tokenizer.json truncation {_zip_truncation(written)}")


def _set_truncation(source: Path, target: Path, max_length: int) -> None:
    """``source`` zip with ``max_length`` in its tokenizer.json's truncation (docs/clusters.md's fix)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "tokenizer.json":
                parsed = json.loads(data)
                truncation = parsed.get("truncation") or {"direction": "Right", "strategy": "LongestFirst", "stride": 0}
                parsed["truncation"] = {**truncation, "max_length": max_length}
                data = json.dumps(parsed).encode()
            new.writestr(item.filename, data)


# sentence-transformers 6 saves its own module paths; 5.x (Eland's and opensearch-py-ml's) knows only these.
def step_portable(args: argparse.Namespace) -> None:
    """A copy of ``--model`` that sentence-transformers 5 and Eland load (what ``tools/ship_model.py`` ships)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ship_model import make_portable

    shutil.copytree(args.model, args.out, dirs_exist_ok=True)
    make_portable(args.out)
    print(f"{args.out}: copy of {args.model} with vocab.txt and sentence-transformers 5 module names")


def step_fix_zip(args: argparse.Namespace) -> None:
    _set_truncation(args.zip, args.out, args.max_length)
    print(f"{args.out}: tokenizer.json truncation {_zip_truncation(args.out)}")


def step_zip(args: argparse.Namespace) -> None:
    import torch
    from tokenizers import Tokenizer

    _threads()
    texts = _texts(args.texts)
    with tempfile.TemporaryDirectory(prefix="bmb-zip-") as tmp, zipfile.ZipFile(args.zip) as archive:
        archive.extractall(tmp)
        pt = next(Path(tmp).glob("*.pt"))
        tokenizer = Tokenizer.from_file(str(Path(tmp) / "tokenizer.json"))  # its own truncation, as ml-commons
        tokenizer.no_padding()
        truncation = tokenizer.truncation
        traced = torch.jit.load(str(pt), map_location="cpu")  # type: ignore[no-untyped-call]
        rows = []
        longest = 0
        with torch.no_grad():
            for text in texts:
                encoding = tokenizer.encode(text)
                longest = max(longest, len(encoding.ids))
                features = {
                    "input_ids": torch.tensor([encoding.ids], dtype=torch.long),
                    "attention_mask": torch.tensor([encoding.attention_mask], dtype=torch.long),
                }
                rows.append(traced(features)["sentence_embedding"][0].numpy())
    info = {"tool": "ml-commons emulation", "how": args.how, "zip_truncation": truncation, "longest_input": longest}
    _write(args.out, np.stack(rows), info)


# -- the comparison --------------------------------------------------------------------------------------------


def _unit(matrix: np.ndarray) -> np.ndarray:
    unit: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return unit


def step_compare(args: argparse.Namespace) -> None:
    lines = [
        "| export | tool (how its copy was made) | max length it cuts at | vs bmb-es fp32: mean / min cosine, "
        f"share >= {GOAL} | vs bmb-es auto: mean / min, share |",
        "|---|---|---|---|---|",
    ]
    for export in sorted(path for path in args.work.glob("vectors/*") if path.is_dir()):
        meta = json.loads((export / "export.json").read_text(encoding="utf-8"))
        clients = {label: np.load(export / f"client-{label}.npy") for label in ("fp32", "auto")}
        auto = json.loads((export / "client-auto.json").read_text(encoding="utf-8"))["selection"]
        for tool in sorted(export.glob("tool-*.npy")):
            info = json.loads(tool.with_suffix(".json").read_text(encoding="utf-8"))
            vectors = _unit(np.load(tool))
            cells = []
            for client in clients.values():
                cosines = np.sum(vectors * _unit(client), axis=1)
                cells.append(
                    f"{cosines.mean():.6f} / {cosines.min():.6f}, {np.mean(cosines >= GOAL):.1%} (n={len(cosines)})"
                )
            length = info.get("max_sequence_length") or (info.get("zip_truncation") or {}).get("max_length")
            lines.append(f"| {meta['label']} | {info['how']} | {length} | {cells[0]} | {cells[1]} |")
        lines.append(f"| {meta['label']} | (bmb-es `auto` here: {auto}) | {meta.get('max_seq_length')} | | |")
    notes = args.work / "notes.txt"
    if notes.is_file():
        lines += ["", *(f"- {line}" for line in notes.read_text(encoding="utf-8").splitlines() if line.strip())]
    table = "\n".join(lines) + "\n"
    args.out.write_text(table, encoding="utf-8")
    print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)
    texts = steps.add_parser("texts", help="the abstracts, joined as bmb-es embeds them")
    texts.add_argument("--corpus", type=Path, required=True)
    texts.add_argument("--count", type=int, default=200)
    texts.add_argument("--out", type=Path, required=True)
    texts.set_defaults(run=step_texts)
    client = steps.add_parser("client", help="bmb-es's own vectors (fp32 and auto)")
    client.add_argument("--model", type=Path, required=True)
    client.add_argument("--texts", type=Path, required=True)
    client.add_argument("--label", required=True, help="the table's export column")
    client.add_argument("--out", type=Path, required=True, help="folder for client-*.npy")
    client.set_defaults(run=step_client)
    eland = steps.add_parser("eland", help="Eland's tracing, run as Elasticsearch runs it")
    eland.add_argument("--model", type=Path, required=True)
    eland.add_argument("--texts", type=Path, required=True)
    eland.add_argument("--max-length", type=int, default=None, help="--max-model-input-length (default: Eland's)")
    eland.add_argument("--how", required=True, help="the table's tool column")
    eland.add_argument("--out", type=Path, required=True, help="output path without suffix")
    eland.set_defaults(run=step_eland)
    osml = steps.add_parser("osml", help="opensearch-py-ml's save_as_pt zip")
    osml.add_argument("--model", type=Path, required=True)
    osml.add_argument("--out-dir", type=Path, required=True)
    osml.set_defaults(run=step_osml)
    portable = steps.add_parser("portable", help="copy a model folder as sentence-transformers 5 and Eland load it")
    portable.add_argument("--model", type=Path, required=True)
    portable.add_argument("--out", type=Path, required=True)
    portable.set_defaults(run=step_portable)
    fix = steps.add_parser("fix-zip", help="copy a zip with the truncation docs/clusters.md asks for")
    fix.add_argument("--zip", type=Path, required=True)
    fix.add_argument("--max-length", type=int, required=True)
    fix.add_argument("--out", type=Path, required=True)
    fix.set_defaults(run=step_fix_zip)
    run_zip = steps.add_parser("zip", help="run an ml-commons zip as ml-commons does")
    run_zip.add_argument("--zip", type=Path, required=True)
    run_zip.add_argument("--texts", type=Path, required=True)
    run_zip.add_argument("--how", required=True, help="the table's tool column")
    run_zip.add_argument("--out", type=Path, required=True, help="output path without suffix")
    run_zip.set_defaults(run=step_zip)
    compare = steps.add_parser("compare", help="the table")
    compare.add_argument("--work", type=Path, required=True)
    compare.add_argument("--out", type=Path, required=True)
    compare.set_defaults(run=step_compare)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
