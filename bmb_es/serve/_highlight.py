"""The question's terms marked in a document's text, as safe HTML.

A word is marked when the search analyzer (lowercase, English stop words, Porter2 stemming:
:mod:`bmb_es._analysis`) turns it into one of the question's terms, so "injuries" is marked for "injury", as
BM25 matched it. Every piece of text is HTML-escaped first; the only markup in the output is ``<mark>`` and
``</mark>``, which this module writes itself.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

SNIPPET_CHARS = 320
_WORD = re.compile(r"[^\W_]+")  # letters and digits, as the analyzer's tokenizer splits
_LEAD = 60  # characters kept before the first marked word of a snippet


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from .._analysis import tantivy_analyzer

    return tantivy_analyzer()


@lru_cache(maxsize=65_536)
def _term(word: str) -> str | None:
    terms: list[str] = _analyzer().analyze(word)
    return terms[0] if len(terms) == 1 else None


def question_terms(question: str) -> frozenset[str]:
    """The terms BM25 searched for: the question, analyzed."""
    terms: list[str] = _analyzer().analyze(question)
    return frozenset(terms)


@dataclass(frozen=True, slots=True)
class Marked:
    """Text with the spans of its words that match the question."""

    text: str
    spans: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, text: str, terms: frozenset[str]) -> Marked:
        spans = tuple(match.span() for match in _WORD.finditer(text) if terms and _term(match.group().lower()) in terms)
        return cls(text, spans)

    def html(self, start: int = 0, end: int | None = None) -> str:
        """``text[start:end]`` escaped, its matching words inside ``<mark>``."""
        stop = len(self.text) if end is None else end
        out: list[str] = []
        position = start
        for left, right in self.spans:
            if right <= start or left >= stop:
                continue
            left, right = max(left, start), min(right, stop)
            out.append(html.escape(self.text[position:left]))
            out.append(f"<mark>{html.escape(self.text[left:right])}</mark>")
            position = right
        out.append(html.escape(self.text[position:stop]))
        return "".join(out)


def highlight(text: str, question: str) -> str:
    """All of ``text``, escaped, with the question's terms marked (for titles)."""
    return Marked.of(text, question_terms(question)).html()


def snippet(text: str, question: str, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` where the question's terms are densest, escaped and marked.

    Whitespace runs become one space; an ellipsis shows where text was cut.
    """
    flat = " ".join(text.split())
    marked = Marked.of(flat, question_terms(question))
    if len(flat) <= width:
        return marked.html()
    start = _densest(marked.spans, width)
    start = max(0, start - _LEAD) if start else 0
    if start:  # begin at a word
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(flat), start + width)
    if end < len(flat):  # end at a word
        space = flat.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(flat) else ""
    return prefix + marked.html(start, end) + suffix


def _densest(spans: tuple[tuple[int, int], ...], width: int) -> int:
    """Where a window of ``width`` characters holds the most marked words: the start of its first one (0: none)."""
    best, best_count = 0, 0
    right = 0
    for left, (start, _) in enumerate(spans):
        while right < len(spans) and spans[right][1] <= start + width - _LEAD:
            right += 1
        if right - left > best_count:
            best, best_count = start, right - left
    return best
