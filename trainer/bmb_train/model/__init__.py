"""BERT encoder, pretraining heads and the Hugging Face weight mapping (imports TensorFlow)."""

from ._bert import ENCODER_INPUTS, BertEncoder, BertPretrainer, pretraining_loss
from ._weights import (
    WeightSlot,
    assign_hf_tensors,
    hf_folder_config,
    hf_state,
    initialise,
    read_hf_tensors,
    weight_slots,
)

__all__ = [
    "ENCODER_INPUTS",
    "BertEncoder",
    "BertPretrainer",
    "WeightSlot",
    "assign_hf_tensors",
    "hf_folder_config",
    "hf_state",
    "initialise",
    "pretraining_loss",
    "read_hf_tensors",
    "weight_slots",
]
