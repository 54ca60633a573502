"""What many tests share: stand-in embedders, a corpus writer, and running a request body for typed hits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bmb_es.engines import Engine, EngineHit
from bmb_es.query import SearchRequest

TOPICS = ["lung injury", "heart failure", "kidney disease", "liver fibrosis", "sepsis", "asthma", "stroke"]


def run_body(engine: Engine, index: str, body: Mapping[str, Any]) -> list[EngineHit]:
    """The hits of ``body`` with the parts of each score (``bm25``, ``cosine``) the engine reports."""
    return engine.execute(index, SearchRequest.from_body(body)).hits


class ConstantEmbedder:
    """Embeds every text as one fixed vector (what tests with hand-made index vectors need) and counts its calls.

    Parameters
    ----------
    vector
        The vector every text gets.
    name, max_length
        What the embedder says of itself (indices record ``name``).
    fail
        An exception raised by every ``embed`` call instead of answering.
    interrupt_at
        The call (1-based) that raises ``KeyboardInterrupt``, as Ctrl-C would.
    """

    def __init__(
        self,
        vector: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
        name: str = "test/fake-model",
        max_length: int = 128,
        fail: Exception | None = None,
        interrupt_at: int | None = None,
    ) -> None:
        self.vector = np.asarray([vector], dtype=np.float32)
        self.name = name
        self.dimension = len(vector)
        self.max_length = max_length
        self.fail = fail
        self.interrupt_at = interrupt_at
        self.calls = 0

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> npt.NDArray[np.float32]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return np.tile(self.vector, (len(texts), 1))


class HashEmbedder:
    """A deterministic stand-in model: each text's vector depends on that text only (fast, no torch)."""

    name = "hash-model"
    dimension = 16
    max_length = 64
    backend = "test"
    precision = "fp32"
    selection = "test fp32 (hashes)"
    default_batch_size = 32
    fast_tokenizer = None

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        self.calls.append(len(texts))
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "big")
            row = np.random.default_rng(seed).normal(size=self.dimension)
            rows.append(row / np.linalg.norm(row))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dimension)


def write_corpus(path: Path, count: int, bad_every: int = 0, words: bool = True) -> None:
    """``count`` JSONL records ``doc-NNNN`` about :data:`TOPICS`; every ``bad_every``-th line broken JSON.

    ``words``: abstracts of varied length (so length bucketing reorders); else one short sentence each.
    """
    with open(path, "w") as handle:
        for number in range(count):
            if bad_every and number % bad_every == bad_every - 1:
                handle.write("{not json\n")
                continue
            topic = TOPICS[number % len(TOPICS)]
            if words:
                abstract = f"{topic} " + " ".join(["detail"] * (number % 37))
            else:
                abstract = f"We report case {number} of {topic} in adults."
            record = {"id": f"doc-{number:04d}", "title": f"Study {number} of {topic}", "abstract": abstract}
            handle.write(json.dumps(record) + "\n")
