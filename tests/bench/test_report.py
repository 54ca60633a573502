"""Which results files docs/benchmarks.md is built from."""

from __future__ import annotations

import json
from pathlib import Path

from bmb_es.bench.report import KEPT_END, KEPT_START, update_docs


def _speed(out: Path, created: str, corpus: str, device: str | None, compared: bool) -> None:
    settings = {"corpus": corpus, "device": device, "embedding": {"rounds": 3} if compared else None}
    (out / f"speed-{created}.json").write_text(json.dumps({"created": created, "settings": settings}))
    (out / f"speed-{created}.md").write_text(f"speed section {created}\n")


def test_each_corpus_device_and_comparison_keeps_its_newest_speed_section(tmp_path: Path) -> None:
    out = tmp_path / "results"
    out.mkdir()
    _speed(out, "2026-01-01T000000Z", "/abs/data/bioasq/pubmed", None, False)  # superseded: same folder, newer below
    _speed(out, "2026-01-02T000000Z", "../data/bioasq/pubmed", None, True)  # the CPU comparison
    _speed(out, "2026-01-03T000000Z", "/tmp/x/bioasq/pubmed", "cuda", True)  # a GPU run
    _speed(out, "2026-01-04T000000Z", "../data/bioasq/pubmed", None, False)  # the newest per-size-only CPU run
    docs = tmp_path / "docs" / "benchmarks.md"
    update_docs(docs, out)
    text = docs.read_text()
    assert "speed section 2026-01-01" not in text
    for created in ("2026-01-02", "2026-01-03", "2026-01-04"):
        assert f"speed section {created}" in text


def test_the_hand_written_block_survives_a_rewrite_and_old_sections_do_not(tmp_path: Path) -> None:
    out = tmp_path / "results"
    out.mkdir()
    _speed(out, "2026-01-02T000000Z", "../data/bioasq/pubmed", None, True)
    docs = tmp_path / "docs" / "benchmarks.md"
    kept = f"{KEPT_START}\n## Where the defaults come from\n\n| CPU_BATCH_SIZE | 32 |\n{KEPT_END}"
    docs.parent.mkdir()
    docs.write_text(f"# Benchmarks\n\nold header\n\n{kept}\n\nspeed section 2025-01-01\n")
    update_docs(docs, out)
    text = docs.read_text()
    assert text.count(kept) == 1 and "old header" not in text and "speed section 2025-01-01" not in text
    assert text.index(kept) < text.index("speed section 2026-01-02")
    update_docs(docs, out)  # again: still one copy
    assert docs.read_text() == text
    docs.write_text("no block here\n")
    update_docs(docs, out)
    assert KEPT_START not in docs.read_text()
