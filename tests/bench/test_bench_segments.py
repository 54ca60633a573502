"""bench/bench_segments.py end to end on a small corpus: one row per segment count, then the optimized index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_the_script_times_each_segment_count_and_the_optimized_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.bench_segments import main

    corpus = tmp_path / "corpus.jsonl"
    records = [{"id": f"d{n}", "title": f"Lung injury {n}", "abstract": "heart failure " * (n % 7)} for n in range(40)]
    corpus.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    questions = tmp_path / "questions.txt"
    questions.write_text("lung injury\nheart failure and the lung\n", encoding="utf-8")
    out = tmp_path / "results"
    argv = ["--corpus", str(corpus), "--questions-file", str(questions), "--segments", "1,3", "--passes", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    (results,) = out.glob("segments-*.json")
    rows = json.loads(results.read_text(encoding="utf-8"))["rows"]
    assert [row[:2] for row in rows] == [[1, 1], [3, 3], ["3, optimized", 1]]
    assert all(isinstance(value, float) and value > 0 for row in rows for value in row[2:])
    (page,) = out.glob("segments-*.md")
    assert "| 3, optimized | 1 |" in page.read_text(encoding="utf-8")
