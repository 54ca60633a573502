"""bench/bench_query_ab.py end to end on the tiny model: one version, measured in its own process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_script_times_each_version_in_its_own_process_and_writes_a_page(
    tiny_model: Path, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.bench_query_ab import KEYS, main

    corpus = tmp_path / "corpus.jsonl"
    records = [{"id": f"d{n}", "title": f"Lung injury {n}", "abstract": "heart " * (n % 7)} for n in range(30)]
    corpus.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    questions = tmp_path / "questions.txt"
    questions.write_text("lung injury\nheart\n\nlung heart 3\n", encoding="utf-8")
    out = tmp_path / "results"
    argv = ["--version", f"current={REPO}", "--corpus", str(corpus), "--model", str(tiny_model)]
    argv += ["--questions-file", str(questions), "--home", str(tmp_path / "homes"), "--top-k", "10"]
    argv += ["--rounds", "1", "--passes", "1", "--out", str(out)]
    assert main(argv) == 0
    (results,) = out.glob("query-ab-*.json")
    payload = json.loads(results.read_text(encoding="utf-8"))
    (row,) = payload["results"]
    assert (row["version"], row["top_k"]) == ("current", 10)
    assert all(row[key] > 0 for key in KEYS) and row["full_minus_encode"] == pytest.approx(row["full"] - row["encode"])
    assert (tmp_path / "homes" / "current" / "indices" / "bench-query" / "vectors.f32").stat().st_size == 30 * 32 * 4
    assert "| current | 10 |" in capsys.readouterr().out


def test_a_version_without_a_checkout_is_a_usage_error(tmp_path: Path) -> None:
    from bench.bench_query_ab import main

    with pytest.raises(SystemExit) as raised:
        main(["--version", f"old={tmp_path}"])
    assert raised.value.code == 2
    with pytest.raises(SystemExit) as raised:
        main(["--version", f"current={REPO}", "--top-k", "5"])
    assert raised.value.code == 2
