"""The explicit, checked mapping between this encoder's variables and Hugging Face / Google BERT weight names.

Every model variable has exactly one Hugging Face name (:func:`weight_slots`); loading refuses tensors it
cannot place and weights it cannot fill, except the heads (pooler, MLM, NSP), which a plain encoder folder
(e.g. a sentence-transformers model) does not ship and which are then freshly initialised and reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from .._config import BertConfig
from .._errors import ConfigError, WeightMappingError
from ._bert import BertPretrainer

# Tensors that checkpoints carry but that are not weights of their own (buffers, tied copies).
_IGNORED = {
    "embeddings.position_ids",
    "embeddings.token_type_ids",
    "cls.predictions.decoder.weight",  # tied to embeddings.word_embeddings.weight
    "cls.predictions.decoder.bias",  # the same tensor as cls.predictions.bias
}


@dataclass(frozen=True, slots=True)
class WeightSlot:
    """One model variable and its Hugging Face name; ``transpose`` for dense kernels ([out, in] in torch)."""

    name: str
    variable: tf.Variable
    transpose: bool
    optional: bool  # a head weight: may be freshly initialised when the source lacks it


def weight_slots(model: BertPretrainer) -> list[WeightSlot]:
    """All weights of ``model`` with their Hugging Face BERT names (encoder names without ``bert.``).

    Raises
    ------
    WeightMappingError
        A model variable has no name here (a programming error caught before any weights move).
    """
    slots: list[WeightSlot] = []

    def dense(prefix: str, layer: tf.keras.layers.Layer, optional: bool = False) -> None:
        slots.append(WeightSlot(f"{prefix}.weight", layer.kernel, True, optional))
        slots.append(WeightSlot(f"{prefix}.bias", layer.bias, False, optional))

    def norm(prefix: str, layer: tf.keras.layers.Layer, optional: bool = False) -> None:
        slots.append(WeightSlot(f"{prefix}.weight", layer.gamma, False, optional))
        slots.append(WeightSlot(f"{prefix}.bias", layer.beta, False, optional))

    emb = model.encoder.embeddings
    slots.append(WeightSlot("embeddings.word_embeddings.weight", emb.word_embeddings, False, False))
    slots.append(WeightSlot("embeddings.position_embeddings.weight", emb.position_embeddings, False, False))
    slots.append(WeightSlot("embeddings.token_type_embeddings.weight", emb.token_type_embeddings, False, False))
    norm("embeddings.LayerNorm", emb.layer_norm)
    for i, block in enumerate(model.encoder.blocks):
        p = f"encoder.layer.{i}"
        dense(f"{p}.attention.self.query", block.query)
        dense(f"{p}.attention.self.key", block.key)
        dense(f"{p}.attention.self.value", block.value)
        dense(f"{p}.attention.output.dense", block.attention_output)
        norm(f"{p}.attention.output.LayerNorm", block.attention_layer_norm)
        dense(f"{p}.intermediate.dense", block.intermediate)
        dense(f"{p}.output.dense", block.output_dense)
        norm(f"{p}.output.LayerNorm", block.output_layer_norm)
    dense("pooler.dense", model.encoder.pooler, optional=True)
    dense("cls.predictions.transform.dense", model.mlm_transform, optional=True)
    norm("cls.predictions.transform.LayerNorm", model.mlm_layer_norm, optional=True)
    slots.append(WeightSlot("cls.predictions.bias", model.mlm_bias, False, True))
    dense("cls.seq_relationship", model.nsp, optional=True)

    mapped = {id(slot.variable) for slot in slots}
    unmapped = [v.name for v in model.weights if id(v) not in mapped]
    if unmapped or len(mapped) != len(slots):
        raise WeightMappingError(f"model variables without a weight name: {', '.join(unmapped) or 'duplicates'}")
    return slots


def _normalise(name: str) -> str:
    name = name.removeprefix("bert.")
    name = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", name)
    return re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name)


def read_hf_tensors(folder: Path) -> dict[str, np.ndarray]:
    """All tensors of a Hugging Face folder (``model.safetensors``, sharded safetensors or ``pytorch_model.bin``)."""
    from safetensors.numpy import load_file

    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    torch_bin = folder / "pytorch_model.bin"
    tensors: dict[str, np.ndarray] = {}
    if single.is_file():
        tensors = load_file(str(single))
    elif index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        for shard in shards:
            tensors.update(load_file(str(folder / shard)))
    elif torch_bin.is_file():
        import torch

        state = torch.load(str(torch_bin), map_location="cpu", weights_only=True)
        tensors = {name: value.float().numpy() for name, value in state.items()}
    else:
        raise WeightMappingError(
            f"{folder}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin to initialise from"
        )
    return {name: np.asarray(value, dtype=np.float32) for name, value in tensors.items()}


def _google_to_hf(name: str) -> str | None:
    """Google BERT TF1 checkpoint name (``bert/encoder/layer_0/...``) as a Hugging Face name; None to skip."""
    if name == "global_step" or "adam_" in name or name.startswith("_"):
        return None
    name = name.removeprefix("bert/")
    name = re.sub(r"layer_(\d+)", r"layer.\1", name).replace("/", ".")
    name = name.replace("cls.predictions.output_bias", "cls.predictions.bias")
    name = name.replace("cls.seq_relationship.output_weights", "cls.seq_relationship.weight")
    name = name.replace("cls.seq_relationship.output_bias", "cls.seq_relationship.bias")
    name = re.sub(r"\.kernel$", ".weight", name)
    name = re.sub(r"\.gamma$", ".weight", name)
    name = re.sub(r"\.beta$", ".bias", name)
    if name.endswith("_embeddings"):
        name += ".weight"
    return name


def read_google_checkpoint(prefix: str) -> dict[str, np.ndarray]:
    """Tensors of an original (TF1) BERT checkpoint, renamed and oriented as Hugging Face weights."""
    reader = tf.train.load_checkpoint(prefix)
    out: dict[str, np.ndarray] = {}
    for name in reader.get_variable_to_shape_map():
        hf = _google_to_hf(name)
        if hf is None:
            continue
        value = np.asarray(reader.get_tensor(name), dtype=np.float32)
        out[hf] = value.T if name.endswith("/kernel") else value
    return out


def assign_hf_tensors(
    model: BertPretrainer, tensors: dict[str, np.ndarray], source: str, log: Callable[[str], None] = print
) -> list[str]:
    """Copy ``tensors`` (Hugging Face names and orientation) into ``model``; every weight must be accounted for.

    Returns
    -------
    list[str]
        Names of optional head weights the source lacked and that keep their fresh initialisation.

    Raises
    ------
    WeightMappingError
        Unexpected tensors, missing encoder weights or shape mismatches, each named.
    """
    slots = {slot.name: slot for slot in weight_slots(model)}
    named = {_normalise(name): value for name, value in tensors.items()}
    unexpected = sorted(name for name in named if name not in slots and name not in _IGNORED)
    missing = sorted(name for name, slot in slots.items() if name not in named and not slot.optional)
    if unexpected or missing:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            parts.append(
                f"unexpected {len(unexpected)}: {', '.join(unexpected[:8])}{' ...' if len(unexpected) > 8 else ''}"
            )
        raise WeightMappingError(f"{source}: weights do not match a BERT of this config ({'; '.join(parts)})")
    mismatched = []
    for name, slot in slots.items():
        if name not in named:
            continue
        value = named[name].T if slot.transpose else named[name]
        if tuple(value.shape) != tuple(slot.variable.shape):
            mismatched.append(f"{name} {tuple(value.shape)} vs model {tuple(slot.variable.shape)}")
    if mismatched:
        raise WeightMappingError(f"{source}: shape mismatch for {', '.join(mismatched[:5])}; check --config")
    for name, slot in slots.items():
        if name in named:
            slot.variable.assign(named[name].T if slot.transpose else named[name])
    fresh = sorted(name for name in slots if name not in named)
    log(f"initialised {len(slots) - len(fresh)} weights from {source}")
    if fresh:
        log(f"freshly initialised (absent from {source}): {', '.join(fresh)}")
    return fresh


def hf_state(model: BertPretrainer, heads: bool = False) -> dict[str, np.ndarray]:
    """Model weights under Hugging Face ``BertModel`` names (``heads``: plus ``cls.*`` pretraining heads)."""
    out: dict[str, np.ndarray] = {}
    for slot in weight_slots(model):
        if slot.name.startswith("cls.") and not heads:
            continue
        value = np.asarray(slot.variable.numpy(), dtype=np.float32)
        out[slot.name] = np.ascontiguousarray(value.T if slot.transpose else value)
    return out


def hf_folder_config(folder: Path) -> BertConfig:
    """The :class:`BertConfig` of a Hugging Face BERT folder's ``config.json``."""
    path = folder / "config.json"
    if not path.is_file():
        raise ConfigError(f"{folder}: no config.json; is this a Hugging Face BERT folder?")
    return BertConfig.from_hf(json.loads(path.read_text()), str(path))


def initialise(model: BertPretrainer, source: Path, log: Callable[[str], None] = print) -> list[str]:
    """Initialise ``model`` from a Hugging Face folder, a Google BERT TF checkpoint or a bmb-train checkpoint.

    Returns the names of weights left freshly initialised.
    """
    if source.is_dir() and (source / "config.json").is_file():
        return assign_hf_tensors(model, read_hf_tensors(source), str(source), log)
    prefix = tf.train.latest_checkpoint(str(source)) if source.is_dir() else str(source)
    if prefix is None and source.is_dir() and (source / "ckpt").is_dir():
        prefix = tf.train.latest_checkpoint(str(source / "ckpt"))
    if prefix is None:
        raise WeightMappingError(
            f"--init {source}: neither a Hugging Face folder (config.json + weights) nor a TF checkpoint"
        )
    try:
        names = {name for name, _ in tf.train.list_variables(prefix)}
    except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as error:
        raise WeightMappingError(f"--init {source}: not a readable TF checkpoint ({error})") from None
    if any(name.startswith("bert/") for name in names):
        return assign_hf_tensors(model, read_google_checkpoint(prefix), prefix, log)
    status = tf.train.Checkpoint(model=model).restore(prefix)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as error:
        raise WeightMappingError(f"--init {prefix}: checkpoint does not match this model config ({error})") from None
    status.expect_partial()
    log(f"initialised all weights from bmb-train checkpoint {prefix}")
    return []
