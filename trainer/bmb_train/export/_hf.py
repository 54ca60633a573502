"""Hugging Face BERT folder plus sentence-transformers config (mean pooling, normalised)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._errors import ExportError
from .._tokenizer import make_tokenizer
from ..model import hf_state
from ._run import SAMPLE_TEXTS, TrainedRun, masked_max_diff, mean_pool, sample_batch, set_truncation, tf_reference


def _write_sentence_transformers_config(out: Path, hidden: int, max_seq: int) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (out / "1_Pooling").mkdir(exist_ok=True)
    pooling = {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    (out / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2) + "\n")
    (out / "2_Normalize").mkdir(exist_ok=True)
    (out / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq, "do_lower_case": False}, indent=2) + "\n"
    )
    (out / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"}, indent=2) + "\n"
    )


def export_hf(run: TrainedRun, out: Path, log: Callable[[str], None] = print, tolerance: float = 1e-4) -> float:
    """Write ``out`` as a Hugging Face ``BertModel`` folder that sentence-transformers (and Eland) can load.

    Holds ``config.json``, ``model.safetensors``, the tokenizer files (``vocab.txt``, ``tokenizer.json``, ...),
    ``modules.json``, ``1_Pooling/config.json`` (mean pooling), ``2_Normalize`` and
    ``sentence_bert_config.json``. The MLM/NSP heads are not exported (they stay in the TF checkpoint).
    ``tokenizer.json`` (truncation), ``tokenizer_config.json`` (``model_max_length``) and
    ``sentence_bert_config.json`` (``max_seq_length``) all state :attr:`TrainedRun.max_length`.

    Returns
    -------
    float
        Largest of: max abs diff of ``transformers`` sequence output vs the TF model, and of the
        ``SentenceTransformer`` embedding vs mean-pooled, normalised TF output.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig as HFBertConfig
    from transformers import BertModel

    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out}: exists and is not empty; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    fields = run.config.to_hf()
    fields.pop("model_type")
    model = BertModel(HFBertConfig(**fields), add_pooling_layer=True)
    state = {name: torch.from_numpy(value) for name, value in hf_state(run.model).items()}
    model.load_state_dict(state, strict=True)
    model.save_pretrained(str(out), safe_serialization=True)
    max_length = run.max_length  # one number in every file that states it: Eland reads model_max_length
    tokenizer = make_tokenizer(run.vocab, run.lowercase)
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(str(out))
    set_truncation(out / "tokenizer.json", max_length)
    shutil.copyfile(run.vocab, out / "vocab.txt")  # Eland and older loaders read vocab.txt
    _write_sentence_transformers_config(out, run.config.hidden_size, max_length)

    batch = sample_batch(run.vocab, run.lowercase)
    reference = tf_reference(run, batch)
    reloaded = BertModel.from_pretrained(str(out)).eval()  # type: ignore[no-untyped-call]
    with torch.no_grad():
        hf_out = reloaded(**{name: torch.from_numpy(value.astype(np.int64)) for name, value in batch.items()})
    seq_diff = masked_max_diff(hf_out.last_hidden_state.numpy(), reference["sequence_output"], batch["attention_mask"])
    pooled_diff = float(np.max(np.abs(hf_out.pooler_output.numpy() - reference["pooled_output"])))
    st = SentenceTransformer(str(out), device="cpu")
    if st.max_seq_length != max_length or st.tokenizer.model_max_length != max_length:
        raise ExportError(
            f"{out}: reloaded max length {st.max_seq_length} (tokenizer {st.tokenizer.model_max_length}), "
            f"not the run's {max_length}"
        )
    embeddings = st.encode(list(SAMPLE_TEXTS), convert_to_numpy=True, batch_size=len(SAMPLE_TEXTS))
    expected = mean_pool(reference["sequence_output"], batch["attention_mask"])
    st_diff = float(np.max(np.abs(embeddings - expected)))
    diff = max(seq_diff, pooled_diff, st_diff)
    if diff > tolerance:
        raise ExportError(
            f"{out}: reloaded model differs (sequence {seq_diff:.2e}, pooled {pooled_diff:.2e}, "
            f"sentence-transformers {st_diff:.2e})"
        )
    log(
        f"Hugging Face + sentence-transformers folder written to {out}; max abs diff sequence {seq_diff:.2e}, "
        f"pooled {pooled_diff:.2e}, sentence embedding {st_diff:.2e}"
    )
    return diff
