"""Read BioASQ Task B golden files (4B-7B, and BioBERT's per-batch copies).

Some distributions store list fields (``documents``, ``snippets``, ``exact_answer``) as Python-literal
strings rather than JSON lists; :func:`read_golden` normalises both layouts.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import DataError

_PMID = re.compile(r"(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Snippet:
    text: str
    pmid: str | None


@dataclass(frozen=True, slots=True, kw_only=True)  # by keyword: its first three fields are all text
class GoldenQuestion:
    """One BioASQ question: ``exact`` is a list of answers, each a list of synonyms (factoid: one answer)."""

    id: str
    body: str
    type: str
    pmids: tuple[str, ...]
    snippets: tuple[Snippet, ...]
    exact: tuple[tuple[str, ...], ...]


def _literal(value: Any, where: str) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text  # a plain string field (e.g. a one-answer exact answer)
    return value


def _pmid(url: Any) -> str | None:
    match = _PMID.search(str(url))
    return match.group(1) if match else None


def _synonyms(exact: Any) -> tuple[tuple[str, ...], ...]:
    """``[['a', 'b']]``, ``['a', 'b']`` (synonyms of one answer) or ``'a'`` as a tuple of synonym tuples."""
    if exact is None or exact == []:
        return ()
    if isinstance(exact, str):
        return ((exact,),)
    if all(isinstance(item, str) for item in exact):
        return (tuple(str(item) for item in exact),)
    out: list[tuple[str, ...]] = []
    for item in exact:
        if isinstance(item, str):
            out.append((item,))
        elif isinstance(item, list | tuple):
            out.append(tuple(str(x) for x in item))
    return tuple(out)


def read_golden(path: Path) -> list[GoldenQuestion]:
    """All questions of a golden file (``{"questions": [...]}``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable BioASQ golden JSON file ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise DataError(f"{path}: expected a JSON object with a 'questions' list")
    out: list[GoldenQuestion] = []
    for number, item in enumerate(data["questions"]):
        where = f"{path} question {number}"
        if not isinstance(item, dict) or "body" not in item or "id" not in item:
            raise DataError(f"{where}: missing 'id' or 'body'")
        documents = _literal(item.get("documents", []), where) or []
        snippets_raw = _literal(item.get("snippets", []), where) or []
        snippets = tuple(
            Snippet(str(s.get("text", "")), _pmid(s.get("document", "")))
            for s in snippets_raw
            if isinstance(s, dict) and str(s.get("text", "")).strip()
        )
        pmids = tuple(dict.fromkeys(p for p in (_pmid(d) for d in documents) if p))
        exact = _synonyms(_literal(item.get("exact_answer"), where)) if item.get("type") in ("factoid", "list") else ()
        question = GoldenQuestion(
            id=str(item["id"]),
            body=str(item["body"]),
            type=str(item.get("type", "")),
            pmids=pmids,
            snippets=snippets,
            exact=exact,
        )
        out.append(question)
    return out
