"""OpenSearch ml-commons model zip: TorchScript sentence-transformer + ``tokenizer.json``, and its register config."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ExportError
from ._run import SAMPLE_TEXTS, set_truncation

OTHER_SHAPE_TEXT = (
    "A single, rather longer sentence about bronchial hyperresponsiveness in children with severe asthma."
)


def export_opensearch(
    hf_folder: Path,
    out_zip: Path,
    name: str | None = None,
    version: str = "1.0.0",
    log: Callable[[str], None] = print,
    tolerance: float = 1e-4,
) -> float:
    """Trace the sentence-transformers model in ``hf_folder`` with TorchScript and zip it for ml-commons.

    Writes ``out_zip`` (``<name>.pt`` + ``tokenizer.json``) and, beside it, ``<zip stem>.model_config.json``: the
    body for ``POST _plugins/_ml/models/_register`` (add ``url`` or upload the zip in chunks). The model's max
    length (sentence-transformers' ``max_seq_length``) is stated in both: the zipped ``tokenizer.json`` truncates
    to it (ml-commons tokenises with that file alone, and a text longer than the position table fails there
    otherwise) and the register body's ``model_config.model_max_length`` is it.

    Returns
    -------
    float
        Max abs diff between the traced model's ``sentence_embedding`` and ``SentenceTransformer.encode``.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    if out_zip.suffix != ".zip":
        raise ExportError(f"--opensearch {out_zip}: name the output file with a .zip suffix")
    tokenizer_json = hf_folder / "tokenizer.json"
    if not tokenizer_json.is_file():
        raise ExportError(f"{hf_folder}: no tokenizer.json; export the Hugging Face folder first")
    name = name or out_zip.stem
    model = SentenceTransformer(str(hf_folder), device="cpu", model_kwargs={"attn_implementation": "eager"})
    model.eval()
    if model.max_seq_length is None:
        raise ExportError(f"{hf_folder}: no max length; set max_seq_length in sentence_bert_config.json")
    max_length = int(model.max_seq_length)
    features = model.tokenize(list(SAMPLE_TEXTS))
    example = {"input_ids": features["input_ids"], "attention_mask": features["attention_mask"]}
    with torch.no_grad(), warnings.catch_warnings():
        # Shape checks inside transformers/sentence-transformers become trace constants; they hold for any
        # batch/sequence shape, which the second comparison below (another shape) confirms.
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean")
        traced = torch.jit.trace(model, (example,), strict=False)  # type: ignore[no-untyped-call]
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pt_path = Path(tmp) / f"{name}.pt"
        torch.jit.save(traced, str(pt_path))
        truncating = Path(tmp) / "tokenizer.json"
        shutil.copyfile(tokenizer_json, truncating)
        set_truncation(truncating, max_length)
        with zipfile.ZipFile(out_zip, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(pt_path, pt_path.name)
            archive.write(truncating, "tokenizer.json")
        reloaded = torch.jit.load(str(pt_path), map_location="cpu")  # type: ignore[no-untyped-call]
        diff = 0.0
        for texts in (list(SAMPLE_TEXTS), [OTHER_SHAPE_TEXT]):
            batch = model.tokenize(texts)
            with torch.no_grad():
                traced_out = reloaded({"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]})
            expected = model.encode(texts, convert_to_numpy=True, batch_size=len(texts))
            diff = max(diff, float(np.max(np.abs(traced_out["sentence_embedding"].numpy() - expected))))
    if diff > tolerance:
        raise ExportError(f"{out_zip}: traced model differs from the sentence-transformer (max abs diff {diff:.2e})")
    config = json.loads((hf_folder / "config.json").read_text())
    register: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": "BERT pretrained with bmb-train (MLM + NSP), mean pooling, normalised",
        "model_format": "TORCH_SCRIPT",
        "function_name": "TEXT_EMBEDDING",
        "model_content_size_in_bytes": out_zip.stat().st_size,
        "model_content_hash_value": hashlib.sha256(out_zip.read_bytes()).hexdigest(),
        "model_config": {
            "model_type": "bert",
            "embedding_dimension": int(config["hidden_size"]),
            "framework_type": "sentence_transformers",
            "pooling_mode": "mean",
            "normalize_result": True,
            "model_max_length": max_length,
            "all_config": json.dumps(config, sort_keys=True),
        },
    }
    config_path = out_zip.with_name(f"{out_zip.stem}.model_config.json")
    config_path.write_text(json.dumps(register, indent=2) + "\n")
    log(f"OpenSearch model zip written to {out_zip} (register body: {config_path}); traced max abs diff {diff:.2e}")
    return diff
