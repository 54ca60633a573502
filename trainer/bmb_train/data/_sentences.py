"""Split running text into sentences (rule-based; good enough for document-level NSP pairs)."""

from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally followed by a closing quote/bracket) before whitespace and a likely
# sentence start; common abbreviations in biomedical text do not end a sentence.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    {
        "e.g.",
        "i.e.",
        "et al.",
        "fig.",
        "figs.",
        "ref.",
        "refs.",
        "vs.",
        "approx.",
        "no.",
        "dr.",
        "mr.",
        "mrs.",
        "ms.",
        "st.",
        "ca.",
        "cf.",
        "sp.",
        "spp.",
        "eq.",
        "al.",
        "resp.",
        "vol.",
        "suppl.",
    }
)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` in order, whitespace-normalised; empty text gives ``[]``.

    Parameters
    ----------
    text
        One paragraph or a whole abstract/body; newlines are treated as sentence breaks.
    """
    out: list[str] = []
    for paragraph in text.splitlines():
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            candidate = paragraph[start : match.start()].strip()
            last_word = candidate.rsplit(" ", 1)[-1].lower()
            if last_word in _ABBREVIATIONS or candidate.lower().endswith("et al."):
                continue
            if candidate:
                out.append(candidate)
            start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            out.append(tail)
    return out
