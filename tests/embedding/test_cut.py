"""Texts are cut before tokenising (a 50 MB abstract took 5.6 GB), without changing a token the model sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bmb_es.embedding import cut_for_model, default_model_path
from bmb_es.embedding._base import CUT_CHARS_PER_TOKEN, CUT_MIN_CHARS

MAX_LENGTH = 256  # all-MiniLM-L6-v2's
ABSTRACT = (
    "Severe acute respiratory syndrome coronavirus 2 (SARS-CoV-2) binds angiotensin-converting enzyme 2 (ACE2) "
    "on type II alveolar epithelial cells; 5'-UTR variants, IL-6/STAT3 signalling and 10 µM remdesivir were "
    "studied in naïve β-cells. Étude de la protéine — résultats: p < 0.05, n = 1,024. "
)


def _long_texts() -> list[str]:
    """Long texts as corpora have them: abstracts run on into bodies, other scripts, odd whitespace and markup."""
    return [
        ABSTRACT * 200,  # ~60k characters of ordinary text
        (ABSTRACT + "\n\n\t") * 2000,
        "新型冠状病毒肺炎的临床特征研究。" * 3000,  # no spaces at all
        "Ab\u200bstract: " + ("gene_ACGTTGCA-" * 3 + " ") * 3000,  # zero-width space, long tokens
        ("<p>" + ABSTRACT + "</p>") * 500,
        "x" * 20 + " " + ABSTRACT * 100,
    ]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    """The default model's own fast tokenizer, truncating as the model does (tokenizers only: no torch)."""
    import tokenizers

    loaded = tokenizers.Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    loaded.enable_truncation(MAX_LENGTH)
    loaded.no_padding()
    return loaded


def test_texts_of_ordinary_length_are_not_touched() -> None:
    for text in ["", "lung injury", ABSTRACT, ABSTRACT * (CUT_MIN_CHARS // len(ABSTRACT)), " " * CUT_MIN_CHARS]:
        assert len(text) <= CUT_MIN_CHARS
        assert cut_for_model(text, MAX_LENGTH) is text


def test_a_huge_text_is_cut_to_a_bounded_prefix_at_a_word_end() -> None:
    limit = max(CUT_MIN_CHARS, MAX_LENGTH * CUT_CHARS_PER_TOKEN)
    for text in [ABSTRACT * 200_000, "x" * 50_000_000, "word " * 10_000_000, " " * 1_000_000 + "late words"]:
        cut = cut_for_model(text, MAX_LENGTH)
        assert len(cut) <= limit and text.startswith(cut)
    text = ABSTRACT * 200_000
    cut = cut_for_model(text, MAX_LENGTH)
    assert text[len(cut)].isspace() and not cut[-1].isspace()  # after a whole word
    assert len(cut.split()) == 2 * MAX_LENGTH  # words, not characters, decide for ordinary text


def test_the_cut_changes_no_token_the_model_sees(tokenizer: Any) -> None:
    for text in _long_texts():
        cut = cut_for_model(text, MAX_LENGTH)
        assert len(cut) < len(text)
        assert tokenizer.encode(cut).ids == tokenizer.encode(text).ids
        assert len(tokenizer.encode(cut).ids) == MAX_LENGTH  # the model still sees a full window


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["openvino", "torch"])
def test_vectors_are_bit_identical_with_and_without_the_cut(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bmb_es.embedding import _openvino, _sentence_transformers, load_embedder

    embedder = load_embedder(backend=backend, precision="fp32")
    texts = ["lung injury", ABSTRACT, "", *_long_texts()]
    cut = embedder.embed(texts)
    for module in (_openvino, _sentence_transformers):
        monkeypatch.setattr(module, "cut_for_model", lambda text, max_length: text)
    whole = embedder.embed(texts)
    assert np.array_equal(cut, whole)


@pytest.mark.slow
def test_a_50_mb_record_indexes_in_bounded_memory(tmp_path: Path) -> None:
    """A subprocess: the default model loaded and warm, then a 50 MB record indexed; its peak memory must stay
    within 1.5 GB of what it was before the record (5.6 GB before texts were cut)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    words = (ABSTRACT * (50_000_000 // len(ABSTRACT) + 1))[:50_000_000]
    with open(corpus / "big.jsonl", "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "big", "title": "Big", "abstract": words}, ensure_ascii=False) + "\n")
        handle.write(json.dumps({"id": "small", "title": "Small", "abstract": ABSTRACT}) + "\n")
    del words
    script = textwrap.dedent(
        """
        import json, resource, sys
        from bmb_es import EmbeddedEngine
        from bmb_es._api import index_path
        from bmb_es.embedding import load_embedder

        embedder = load_embedder()
        embedder.embed(["warm up", "the encoder"] * 20)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        summary = index_path(sys.argv[1], engine=EmbeddedEngine(), index="big", embedder=embedder)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"before_kb": before, "peak_kb": peak, "indexed": summary.indexed}))
        """
    )
    env = {**os.environ, "BMB_ES_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(corpus)], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["indexed"] == 2
    grown_gb = (result["peak_kb"] - result["before_kb"]) / 1024**2
    assert grown_gb < 1.5, f"peak memory grew {grown_gb:.2f} GB indexing a 50 MB record"
