"""Kill an ingest mid-way (SIGKILL, no clean-up), re-run it, and check every record is there exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bmb_es import EmbeddedEngine
from bmb_es.embedding import Embedder, embed_text
from bmb_es.readers import read_corpus
from tests.support import write_corpus

pytestmark = pytest.mark.slow


def _write_corpus(path: Path, count: int) -> None:
    write_corpus(path, count, words=False)


def _index(corpus: Path, home: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bmb_es", "index", str(corpus), "--index", "k", "--commit-every", "16", "-q"]
    env = {**os.environ, "BMB_ES_HOME": str(home)}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _committed(home: Path) -> int:
    try:
        return EmbeddedEngine(home).count("k")
    except Exception:  # the index may not exist yet
        return 0


def test_sigkill_mid_ingest_then_rerun_gives_every_record_once(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus.jsonl"
    _write_corpus(corpus, 240)
    home = tmp_path / "home"
    process = _index(corpus, home)
    deadline = time.monotonic() + 240
    while _committed(home) < 48 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "ingest finished before it could be killed; use a bigger corpus"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = _committed(home)
    assert 48 <= partial < 240

    rerun = subprocess.run(
        [sys.executable, "-m", "bmb_es", "index", str(corpus), "--index", "k", "--json", "-q"],
        env={**os.environ, "BMB_ES_HOME": str(home)},
        capture_output=True,
        check=True,
    )
    summary = json.loads(rerun.stdout)
    assert summary["read"] == 240
    assert summary["unchanged"] >= partial  # committed documents are not embedded again
    assert summary["indexed"] + summary["unchanged"] == 240 and summary["updated"] == 0

    engine = EmbeddedEngine(home)
    assert engine.count("k") == 240
    documents = [doc for doc in read_corpus(corpus)]
    stored = engine.get("k", [doc.id for doc in documents])
    assert len(stored) == 240
    expected = embedder.embed([embed_text(doc) for doc in documents])  # type: ignore[arg-type]
    for doc, vector in zip(documents, expected, strict=True):
        item = stored[doc.id]
        assert item.document == doc
        assert np.allclose(item.vector, vector, atol=1e-4), doc.id
