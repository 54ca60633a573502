"""read_squad: both SQuAD layouts, and malformed files refused with the entry's path, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bmb_train._errors import DataError
from bmb_train.finetune.qa import read_squad

NESTED = {
    "data": [
        {
            "paragraphs": [
                {
                    "context": "Surfactant lowers surface tension.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "What lowers tension?",
                            "answers": [{"text": "Surfactant", "answer_start": 0}],
                        }
                    ],
                }
            ]
        }
    ]
}


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_nested_and_flat_layouts_read_the_same_example(tmp_path: Path) -> None:
    flat = {
        "data": [
            {
                "id": "q1",
                "question": "What lowers tension?",
                "context": "Surfactant lowers surface tension.",
                "answers": {"text": ["Surfactant"], "answer_start": [0]},
            }
        ]
    }
    (nested,) = read_squad(_write(tmp_path, NESTED))
    (other,) = read_squad(_write(tmp_path, flat))
    assert nested == other
    assert (nested.answers, nested.starts, nested.impossible) == (("Surfactant",), (0,), False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop("id"),
            r"data\[0\]\.paragraphs\[0\]\.qas\[0\]: missing field 'id'",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0].pop("context"),
            r"data\[0\]\.paragraphs\[0\]: missing field 'context'",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][0].update(answer_start="x"),
            r"qas\[0\]: malformed entry",
        ),
        (lambda d: d["data"].append(["not", "an", "object"]), r"data\[1\]: (malformed entry|entry without)"),
        (lambda d: d["data"].append({"title": "no paragraphs"}), r"data\[1\]: entry without 'paragraphs'"),
    ],
)
def test_malformed_entries_are_data_errors_naming_the_entry(tmp_path: Path, change: Any, message: str) -> None:
    data = json.loads(json.dumps(NESTED))
    change(data)
    with pytest.raises(DataError, match=message):
        read_squad(_write(tmp_path, data))


def test_not_json_and_wrong_top_level_are_data_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="not a readable SQuAD JSON file"):
        read_squad(path)
    with pytest.raises(DataError, match="expected a SQuAD JSON object with a 'data' list"):
        read_squad(_write(tmp_path, {"version": "1.1"}))
