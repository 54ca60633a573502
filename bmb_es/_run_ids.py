"""The ids an ingest run has already met, in memory that stays small at PubMed scale (see :class:`RunIds`)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt

Keys = npt.NDArray[np.uint64]

# Settled keys wait in a set until there are this many, then become one sorted array.
BUFFER_KEYS = 65_536


class RunIds:
    """The ids an ingest run has met, and the content hash of those the index does not show yet.

    An id is *recent* while the index cannot tell its hash (its write is queued or not committed): it is kept
    exactly, with the hash, in :attr:`recent`. Once committed (or met unchanged, already stored), the index's own
    stored hash is current and only the fact that the run met it is needed: the id is *settled* and kept as a
    64-bit hash in sorted arrays, 8 bytes per document where a dict entry took about 250 (9 GB for a 36M run).

    Two ids whose 64-bit hashes collide (about 3·10⁻⁵ chance per pair of 36M-document runs) make a document met
    for the first time count as a duplicate instead of unchanged; nothing is written differently.

    Parameters
    ----------
    buffer_keys
        How many settled keys wait in a set before they become a sorted array.
    """

    def __init__(self, buffer_keys: int = BUFFER_KEYS) -> None:
        self.recent: dict[str, str] = {}
        self._buffer_keys = buffer_keys
        self._fresh: set[int] = set()
        self._runs: list[Keys] = []  # sorted, unique; sizes shrink along the list (merged like a binary counter)

    def settled_among(self, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` that the run met and settled."""
        if not ids or not (self._fresh or self._runs):
            return set()
        keys = _keys(ids)
        found = np.fromiter((key in self._fresh for key in keys.tolist()), dtype=bool, count=len(keys))
        for run in self._runs:
            where = np.minimum(np.searchsorted(run, keys), len(run) - 1)
            found |= run[where] == keys
        return {id for id, hit in zip(ids, found.tolist(), strict=True) if hit}

    def settle(self, keep: Collection[str] = ()) -> None:
        """After a commit: every recent id but ``keep`` (the ids of writes still queued) is settled."""
        moved = [id for id in self.recent if id not in keep]
        for id in moved:
            del self.recent[id]
        self.settle_ids(moved)

    def settle_ids(self, ids: Sequence[str]) -> None:
        """Mark ``ids`` met and visible in the index (e.g. found unchanged)."""
        if not ids:
            return
        self._fresh.update(_keys(ids).tolist())
        if len(self._fresh) >= self._buffer_keys:
            self._flush()

    @property
    def settled_bytes(self) -> int:
        """Bytes held by the sorted arrays (what grows with the run)."""
        return sum(run.nbytes for run in self._runs)

    def _flush(self) -> None:
        self._runs.append(np.array(sorted(self._fresh), dtype=np.uint64))
        self._fresh.clear()
        # Merge while the last array is at least half the one before: O(log n) arrays, O(n log n) copying.
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            last = self._runs.pop()
            self._runs[-1] = np.union1d(self._runs[-1], last)


def _keys(ids: Sequence[str]) -> Keys:
    """64-bit BLAKE2b hashes of the ids (ids are valid UTF-8: ingest rejects any other)."""
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(id.encode("utf-8"), digest_size=8).digest(), "little") for id in ids),
        dtype=np.uint64,
        count=len(ids),
    )
