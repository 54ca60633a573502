"""``bmb-es query --queries FILE``: many questions in one process, answered as a TREC run or JSON lines.

Questions come from a file or standard input (``-``; see :mod:`bmb_es._batch` for the formats). Standard output
gets one JSON line per question with ``--json``; else, without ``--run-out``, the TREC run itself. Progress and the
closing summary (questions, time, questions per second) go to stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import typer

from .._batch import Question, parse_questions, read_questions, trec_lines
from .._errors import StorageError
from .._search import SearchResult
from ._json import json_text
from ._progress import Progress

STDIN = "-"


def stdin_text() -> str:
    """All of standard input as text; bytes that are not UTF-8 become lone surrogates, which the query check
    refuses in one line (exit 6) like such bytes in a command line."""
    data = sys.stdin.buffer.read()
    return data.decode("utf-8-sig", errors="surrogateescape")


def load_questions(source: str) -> list[Question]:
    """The questions of ``source``: a file, or ``-`` for standard input (format detected from its first line)."""
    if source == STDIN:
        return parse_questions(sys.stdin.buffer.read(), "standard input")
    return read_questions(source)


def answer_all(
    questions: Sequence[Question],
    results: Iterator[SearchResult],
    *,
    started: float,
    run_out: Path | None,
    run_tag: str | None,
    as_json: bool,
    quiet: bool,
    description: str,
) -> None:
    """Write each question's answer as it comes (run file, JSON line or TREC line on stdout), then the summary.

    ``started`` is when the batch began (``time.perf_counter()``, before the model loaded), so the summary's rate
    counts everything the batch cost.
    """
    handle: IO[str] | None = None
    if run_out is not None:
        try:
            handle = open(run_out, "w", encoding="utf-8")  # noqa: SIM115 (closed below, whatever happens)
        except OSError as error:
            raise StorageError(f"cannot write the run file {run_out}: {error.strerror or error}") from None
    progress = Progress(description, "questions", total=len(questions), quiet=quiet)
    try:
        for done, (question, result) in enumerate(zip(questions, results, strict=True), start=1):
            lines = trec_lines(question.id, result, run_tag or result.mode)
            if handle is not None:
                handle.write("".join(line + "\n" for line in lines))
                handle.flush()
            if as_json:
                typer.echo(json_text({"qid": question.id, **result.to_json()}, indent=None, ensure_ascii=False))
            elif handle is None:
                for line in lines:
                    typer.echo(line)
            progress.update(done)
    finally:
        progress.close()
        if handle is not None:
            handle.close()
    if not quiet:
        seconds = time.perf_counter() - started
        rate = len(questions) / seconds if seconds > 0 else 0.0
        where = f"; run written to {run_out}" if run_out is not None else ""
        typer.echo(f"{len(questions):,} questions in {seconds:.2f} s ({rate:,.1f} questions/s){where}", err=True)
