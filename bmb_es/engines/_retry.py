"""How cluster writes survive back-pressure: which failures are retried, how long to wait, how often.

A node that is too busy answers a bulk item (or the whole request) with 429, a proxy in front of it with
502/503/504; a request can also time out after the node applied it. All of these are safe to send again
because every bulk action is an ``index`` with the document's own ``_id``: a resent document replaces
itself, it is never stored twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter for bulk writes.

    Parameters
    ----------
    max_retries
        Times one document is sent again after a retryable failure before it is reported as refused
        (``BMB_ES_MAX_RETRIES`` / ``BMB_OS_MAX_RETRIES``; 0 turns retries off). 16 retries ride out even a
        node refusing half of all items at random: a document is then lost with odds 1 in 131,072.
    initial_backoff, max_backoff
        Seconds (``*_RETRY_BACKOFF`` sets ``initial_backoff``): the wait before retry ``n`` (from 0) is
        uniform in ``[0, min(max_backoff, initial * 2**n)]``, so writers refused together do not return together.
    """

    max_retries: int = 16
    initial_backoff: float = 0.5
    max_backoff: float = 30.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_backoff, self.initial_backoff * 2**attempt)
        return (rng or random).uniform(0.0, ceiling)
