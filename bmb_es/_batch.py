"""Many questions at once: question files in, TREC run lines out (what trec_eval, ir_measures and ranx read).

A question file is one of:

* **TSV**: ``id<TAB>text`` per line (MS MARCO, ir_datasets exports); a first line ``id<TAB>text`` (or
  ``qid``/``query_id``, ``query``/``question``) is a header and skipped;
* **JSON Lines**: one object per line with an id (``_id``, ``id`` or ``qid``) and a text (``text``, ``query`` or
  ``question``), e.g. BEIR's ``queries.jsonl``;
* **plain text**: one question per line, its id the line number.

``.tsv``, ``.jsonl``/``.ndjson`` and ``.txt`` name the format; otherwise (standard input, other names) the first
non-blank line decides: ``{`` (or ``[``) starts JSON Lines, a tab makes TSV, anything else is plain text. Blank
lines are skipped. Anything else (a line without a tab in TSV, a record without an id or text, an id given twice,
an id with white space, which a run file cannot hold) is an :class:`~bmb_es.InputError` naming the line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._errors import InputError
from ._search import SearchResult

QuestionFormat = Literal["tsv", "jsonl", "text"]
ID_KEYS = ("_id", "id", "qid")
TEXT_KEYS = ("text", "query", "question")
_SUFFIXES: dict[str, QuestionFormat] = {
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "text",
}
_HEADER_IDS = {"id", "_id", "qid", "query_id", "query-id", "topic", "topic_id"}
_HEADER_TEXTS = {"text", "query", "question", "title"}


@dataclass(frozen=True, slots=True)
class Question:
    """One question of a batch: its id (a run file's ``qid``) and its text."""

    id: str
    text: str


def read_questions(path: str | Path) -> list[Question]:
    """The questions of a TSV, JSON Lines or plain-text file (see the module docstring).

    Raises
    ------
    InputError
        The file cannot be read, is not UTF-8, holds no question, or a line breaks the format's rules.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"questions file {path}: {error.strerror or error}") from None
    return parse_questions(data, str(path), _SUFFIXES.get(path.suffix.lower()))


def parse_questions(data: bytes, name: str, format: QuestionFormat | None = None) -> list[Question]:
    """The questions in ``data`` (a file's bytes; ``name`` says where they came from in errors).

    ``format`` ``None`` detects it from the first non-blank line (see the module docstring).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        where = data[: error.start].count(b"\n") + 1
        raise InputError(f"{name}, line {where}: not UTF-8 text") from None
    lines = [(number, line.rstrip("\r")) for number, line in enumerate(text.split("\n"), start=1)]
    lines = [(number, line) for number, line in lines if line.strip()]
    if not lines:
        raise InputError(f"{name}: no questions (one per line; TSV id<TAB>text, JSON Lines or plain text)")
    if format is None:
        first = lines[0][1].lstrip()
        format = "jsonl" if first.startswith(("{", "[")) else "tsv" if "\t" in first else "text"
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for position, (number, line) in enumerate(lines):
        if format == "tsv":
            if position == 0 and _is_header(line):
                continue
            question = _tsv(line, name, number)
        elif format == "jsonl":
            question = _jsonl(line, name, number)
        else:
            question = Question(str(number), line.strip())
        if any(character.isspace() for character in question.id):
            raise InputError(f"{name}, line {number}: question id {question.id!r} holds white space")
        if question.id in seen:
            earlier = seen[question.id]
            raise InputError(f"{name}, line {number}: question id {question.id!r} again (first on line {earlier})")
        seen[question.id] = number
        questions.append(question)
    if not questions:
        raise InputError(f"{name}: no questions, only a header")
    return questions


def _is_header(line: str) -> bool:
    head, _, tail = line.partition("\t")
    return head.strip().lower() in _HEADER_IDS and tail.strip().lower() in _HEADER_TEXTS


def _tsv(line: str, name: str, number: int) -> Question:
    qid, tab, text = line.partition("\t")
    if not tab:
        raise InputError(f"{name}, line {number}: expected id<TAB>text")
    if not qid.strip() or not text.strip():
        raise InputError(f"{name}, line {number}: empty {'id' if not qid.strip() else 'question'}")
    return Question(qid.strip(), text.strip())


def _jsonl(line: str, name: str, number: int) -> Question:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        raise InputError(f"{name}, line {number}: not a JSON object") from None
    if not isinstance(record, dict):
        raise InputError(f"{name}, line {number}: expected a JSON object, got {type(record).__name__}")
    qid = next((record[key] for key in ID_KEYS if key in record), None)
    text = next((record[key] for key in TEXT_KEYS if key in record), None)
    if not isinstance(qid, str | int) or isinstance(qid, bool) or not str(qid).strip():
        raise InputError(f"{name}, line {number}: no question id ({', '.join(ID_KEYS)})")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{name}, line {number}: no question text ({', '.join(TEXT_KEYS)})")
    return Question(str(qid).strip(), text.strip())


def trec_lines(qid: str, result: SearchResult, tag: str) -> list[str]:
    """``result``'s hits as TREC run lines: ``qid Q0 docid rank score tag``, best first.

    Scores are written in full (Python's shortest round-trip form), so a tool reading the file gets the very
    floats :func:`bmb_es.search` returned. trec_eval orders by score, breaking ties by document id, not by rank.

    Raises
    ------
    InputError
        A document id with white space: the format separates columns by white space.
    """
    _check_token(qid, "question id")
    _check_token(tag, "run tag")
    lines = []
    for hit in result.hits:
        _check_token(hit.id, f"document id (question {qid})")
        lines.append(f"{qid} Q0 {hit.id} {hit.rank} {float(hit.score)!r} {tag}")
    return lines


def _check_token(value: str, what: str) -> None:
    if not value or any(character.isspace() for character in value):
        raise InputError(f"{what} {value!r}: a TREC run file cannot hold an empty value or one with white space")
