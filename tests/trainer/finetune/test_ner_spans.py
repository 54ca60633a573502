"""entity_spans: IOB2 tags per word become entities with character offsets (what predict_ner returns)."""

from __future__ import annotations

import pytest
from bmb_train.finetune.ner import entity_spans

TEXT = "Germline mutations in BRCA1 cause hereditary breast-cancer."


def test_untyped_tags_give_ent_spans_with_character_offsets() -> None:
    # words: Germline mutations in BRCA1 cause hereditary breast - cancer .
    tags = ["O", "O", "O", "B", "O", "B", "I", "I", "I", "O"]
    assert entity_spans(TEXT, tags) == [
        {"text": "BRCA1", "type": "ENT", "start": 22, "end": 27},
        {"text": "hereditary breast-cancer", "type": "ENT", "start": 34, "end": 58},
    ]


def test_typed_tags_keep_their_types_and_adjacent_entities_stay_apart() -> None:
    tags = ["B-Gene", "I-Gene", "B-Disease", "O", "O", "O", "O", "O", "O", "O"]
    assert [(span["text"], span["type"]) for span in entity_spans(TEXT, tags)] == [
        ("Germline mutations", "Gene"),
        ("in", "Disease"),
    ]


def test_no_entities_and_a_tag_count_mismatch() -> None:
    assert entity_spans(TEXT, ["O"] * 10) == []
    assert entity_spans("", []) == []
    with pytest.raises(ValueError, match="9 tags for the 10 words"):
        entity_spans(TEXT, ["O"] * 9)
