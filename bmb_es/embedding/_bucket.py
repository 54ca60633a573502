"""Length bucketing: encode texts sorted by token count so a batch pads to similar lengths, then restore order."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._base import Vectors


def length_order(lengths: Sequence[int]) -> list[int]:
    """Positions of ``lengths`` from longest to shortest; ties keep input order (a stable sort).

    Longest first means the first batch is the biggest one, so running out of memory (on a GPU) happens at
    once, not after an hour.
    """
    return sorted(range(len(lengths)), key=lambda position: -lengths[position])


def bucketed(
    texts: Sequence[str],
    batch_size: int,
    lengths: Sequence[int],
    run_batch: Callable[[list[str]], Vectors],
    dimension: int,
) -> Vectors:
    """``run_batch`` over ``texts`` in length-sorted batches of ``batch_size``; rows come back in input order."""
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    if not texts:
        return out
    order = length_order(lengths)
    for start in range(0, len(order), batch_size):
        positions = order[start : start + batch_size]
        out[positions] = run_batch([texts[position] for position in positions])
    return out
