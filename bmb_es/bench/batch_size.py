"""Encoder docs/s per batch size, for choosing an embedder's default batch size on a machine (CPU or GPU).

Each batch size encodes the same texts once per round; the sizes take turns within a round, in a rotated order
each round (a shared machine's load, a GPU's clocks warming up, hit them alike), and medians are reported. Every
size is warmed up once first (a GPU compiles kernels per shape). On a GPU the peak GPU memory of each size is
recorded too. Beside them, the docs/s of tokenising alone shows when the tokenizer, not the encoder, is the limit.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..embedding import Embedder
from .report import md_table

Progress = Callable[[str, int, int], None]


def _cuda_memory(device: str) -> tuple[Callable[[], None], Callable[[], float | None]]:
    """Reset and read the peak GPU memory (MiB) on CUDA devices; no-ops elsewhere."""
    if not device.startswith("cuda"):
        return (lambda: None), (lambda: None)
    import torch

    def reset() -> None:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

    def peak() -> float | None:
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)

    return reset, peak


def tokenize_docs_per_s(embedder: Embedder, texts: Sequence[str], rounds: int) -> float | None:
    """Median docs/s of the embedder's fast tokenizer alone over ``texts``; ``None`` when it has none."""
    tokenizer = embedder.fast_tokenizer
    if tokenizer is None:
        return None
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        tokenizer.encode_batch(list(texts))
        runs.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(runs)


def sweep_batch_sizes(
    embedder: Embedder,
    texts: Sequence[str],
    sizes: Sequence[int],
    rounds: int,
    device: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """docs/s of ``embedder.embed(texts, batch_size=size)`` for each size.

    Parameters
    ----------
    embedder
        Any :class:`~bmb_es.embedding.Embedder`.
    texts
        The texts encoded by every size in every round.
    sizes
        Batch sizes to compare.
    rounds
        Timed rounds; medians are reported.
    device
        Where the embedder runs (``cuda...`` adds peak GPU memory).
    progress
        ``(label, done, total)`` callback.

    Returns
    -------
    dict
        ``rows`` (one per size: median and per-round docs/s, ratio to the fastest, peak GPU MiB), the best size,
        and the tokenise-only docs/s.
    """
    if not texts or not sizes or rounds < 1:
        raise ValueError("sweep_batch_sizes: need texts, at least one batch size and at least one round")
    report = progress or (lambda label, done, total: None)
    reset, peak = _cuda_memory(device)
    runs: dict[int, list[float]] = {size: [] for size in sizes}
    memory: dict[int, float | None] = {}
    for size in sizes:  # warm-up: first-use compilation per shape must not count
        reset()
        embedder.embed(list(texts[: size * 2]), batch_size=size)
        memory[size] = peak()
    total = rounds * len(sizes)
    for round_number in range(rounds):
        shift = round_number % len(sizes)
        for position, size in enumerate([*sizes[shift:], *sizes[:shift]]):
            report("batch sizes", round_number * len(sizes) + position, total)
            reset()
            started = time.perf_counter()
            embedder.embed(list(texts), batch_size=size)
            runs[size].append(len(texts) / (time.perf_counter() - started))
            used = peak()
            if used is not None:
                memory[size] = max(memory[size] or 0.0, used)
    report("batch sizes", total, total)
    medians = {size: statistics.median(values) for size, values in runs.items()}
    best = max(medians, key=lambda size: medians[size])
    rows = [
        {
            "batch_size": size,
            "docs_per_s": round(medians[size], 1),
            "rounds_docs_per_s": [round(value, 1) for value in runs[size]],
            "ratio_to_best": round(medians[size] / medians[best], 3),
            "peak_gpu_mib": memory[size],
        }
        for size in sizes
    ]
    tokenize = tokenize_docs_per_s(embedder, texts, rounds)
    return {
        "texts": len(texts),
        "rounds": rounds,
        "best_batch_size": best,
        "default_batch_size": embedder.default_batch_size,
        "tokenize_docs_per_s": None if tokenize is None else round(tokenize, 1),
        "rows": rows,
    }


def render_batch_sizes(payload: dict[str, Any]) -> str:
    """The Markdown page of a batch-size sweep result."""
    result = payload["batch_sizes"]
    lines = [
        "# Encoder docs/s per batch size",
        "",
        f"`{payload['command']}`",
        "",
        f"Embedder: {payload['embedder']}; device: {payload['hardware']}. {result['texts']} texts, "
        f"{result['rounds']} rounds (sizes in rotated order each round), medians.",
        "",
        md_table(
            ["batch size", "docs/s", "x best", "peak GPU MiB", "rounds docs/s"],
            [
                [
                    row["batch_size"],
                    row["docs_per_s"],
                    row["ratio_to_best"],
                    row["peak_gpu_mib"],
                    ", ".join(f"{value:.1f}" for value in row["rounds_docs_per_s"]),
                ]
                for row in result["rows"]
            ],
        ),
        f"Fastest: batch {result['best_batch_size']}; the embedder's default is {result['default_batch_size']}.",
    ]
    if result["tokenize_docs_per_s"] is not None:
        tokenize = result["tokenize_docs_per_s"]
        lines.append(f"Tokenising alone (the model's fast tokenizer, one call): {tokenize} docs/s.")
    return "\n".join(lines) + "\n"
