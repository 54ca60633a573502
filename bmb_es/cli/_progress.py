"""Progress on stderr: a tqdm bar (count, total, percentage, rate, ETA) on a terminal; elsewhere (a log file, CI, a
pipe) a plain line every 10 % or 10 s, so a long run still says how far it is."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import NoReturn, TextIO

from tqdm import tqdm

LINE_STEPS = 10  # a plain line each time another tenth of the total is done ...
LINE_SECONDS = 10.0  # ... or this long after the last line, whichever comes first


class Progress:
    """How far a run is: ``update(done)`` with the running count, ``close()`` at the end.

    Parameters
    ----------
    description
        What runs, e.g. ``"indexing corpus/"``.
    unit
        What is counted, plural (``"docs"``, ``"questions"``).
    total
        How many there will be, if known; :meth:`set_total` may tell it later (from another thread).
    quiet
        Show nothing.
    stream
        Where progress goes (default: ``sys.stderr``); a terminal gets the bar, anything else plain lines.
    clock
        Seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        description: str,
        unit: str,
        total: int | None = None,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description = description
        self.unit = unit
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._created = clock()
        # Rate and ETA count from the first update, not from the start: loading a model is no measure of the rest.
        self._first: tuple[float, int] | None = None
        self._last_line = self._created
        self._last_step = 0
        self._printed = 0
        self._lock = threading.Lock()
        self._terminal = not quiet and _is_terminal(self.stream)
        self._bar: tqdm[NoReturn] | None = None

    def set_total(self, total: int) -> None:
        """The total, once known (a count running beside the work); never below what is already done."""
        with self._lock:
            self.total = max(total, self.done)
            if self._bar is not None:
                self._bar.total = self.total

    def update(self, done: int, note: str = "") -> None:
        """``done`` so far (a running count, not an increment); ``note`` is shown after the counts."""
        with self._lock:
            now = self._clock()
            self.done = done
            if self.total is not None and done > self.total:
                self.total = done  # the total was an estimate
            if self._first is None:
                self._first = (now, done)
            if self.quiet:
                return
            if self._terminal:
                self._update_bar(done, note)
                return
            step = done * LINE_STEPS // self.total if self.total else 0
            if step > self._last_step or now - self._last_line >= LINE_SECONDS:
                self._line(now, note)
                self._last_step = step

    def close(self, note: str = "") -> None:
        """End the bar, or print a last plain line when the last count was not printed yet."""
        with self._lock:
            if self._bar is not None:
                if note:
                    self._bar.set_postfix_str(note, refresh=False)
                self._bar.close()
                self._bar = None
            elif not self.quiet and not self._terminal and self.done > self._printed:
                self._line(self._clock(), note)

    def _update_bar(self, done: int, note: str) -> None:
        if self._bar is None:  # made at the first update: tqdm's rate counts from its creation and ``initial``
            self._bar = tqdm(
                desc=self.description,
                total=self.total,
                initial=done,
                unit=f" {self.unit}",
                file=self.stream,
                dynamic_ncols=True,
            )
        else:
            self._bar.total = self.total
            self._bar.update(done - self._bar.n)
        if note:
            self._bar.set_postfix_str(note)

    def _line(self, now: float, note: str) -> None:
        parts = [f"{self.description}: {self.done:,}"]
        if self.total:
            parts.append(f" of {self.total:,} {self.unit} ({100 * self.done / self.total:.0f} %)")
        else:
            parts.append(f" {self.unit}")
        parts.append(f" in {_duration(now - self._created)}")
        first_time, first_done = self._first or (now, self.done)
        rate = (self.done - first_done) / (now - first_time) if now > first_time else 0.0
        if rate > 0:
            parts.append(f", {rate:,.1f} {self.unit}/s")
            if self.total and self.done < self.total:
                parts.append(f", ETA {_duration((self.total - self.done) / rate)}")
        if note:
            parts.append(f"; {note}")
        print("".join(parts), file=self.stream, flush=True)
        self._last_line = now
        self._printed = self.done


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


def _duration(seconds: float) -> str:
    """``42 s``, ``3:05`` (minutes), ``2:03:05`` (hours)."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, second = divmod(whole, 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"
