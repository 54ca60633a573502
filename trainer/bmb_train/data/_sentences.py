"""Split running text into sentences (rule-based; good enough for document-level NSP pairs).

Why a regex and not a sentence-boundary library: measured on the BREATHE sample (../shared/data/breathe-sample,
2,000 titles and abstracts, 1.48 MB) with ``python bench/bench_sentence_split.py --pipeline --dupe 5``
(bench/results/sentence-split-2026-12-04T145212Z.md, which lists the disagreements checked by hand):

- pysbd 0.3.4, the usual choice (last release February 2021), splits 0.26 MB per CPU second, this regex 22.8:
  90 times slower. ``bmb-train data`` on the sample took 8.4 CPU seconds with it instead of 2.4, and a full
  BREATHE or PubMed dump would spend CPU days on sentence splitting alone. Nor is it more accurate here: of 40
  boundaries where the two disagree (103 in all), this splitter is right on 35. pysbd splits inside enumerations
  (``(i)``, ``b)``) and after ``sp.``/``var.``, and misses sentences that end in a symbol or unit (``175 K.``).
- sentencex 1.0.32 (50 MB per CPU second) and nupunkt 0.8.0 (26) are fast, but miss ordinary sentence ends in
  abstracts (``liver cancer. ‖ Recent``): this splitter is right on 34 of 40 and 27 of 34 checked disagreements.

The cases this splitter must get right have tests (tests/trainer/test_data.py): the abbreviations below,
``p < 0.05``, figure and reference numbers, abbreviations inside brackets, and sentences that start with a gene
name.
"""

from __future__ import annotations

import re

# A candidate boundary: whitespace after . ! ? (optionally followed by one closing quote or bracket) and
# before a likely sentence start, optionally after an opening quote or bracket: a digit, an upper-case letter,
# any non-ASCII letter (Greek letters and accented names start sentences too), or a lower-case word with an
# upper-case letter or digit in it (gene and method names: "circRNAs are", "iPSC-derived", "rs35767 was").
# A sentence that starts with a plain lower-case word stays joined to the one before: the price of not
# splitting in "sp. nov." and the like.
_CLOSERS = "\"'\u201d\u2019)]"  # straight and curly closing quotes, brackets
_OPENERS = "\"'\u201c\u2018(["  # straight and curly opening quotes, brackets
_BOUNDARY = re.compile(
    rf"(?:(?<=[.!?])|(?<=[.!?][{re.escape(_CLOSERS)}]))\s+(?=[{re.escape(_OPENERS)}]?(?:[^\W_a-z]|[a-z]+[A-Z0-9]))"
)
_OPENERS_CLOSERS = _OPENERS + _CLOSERS
# Abbreviations that never end a sentence here, matched with their case: "NO." (nitric oxide) and "MS."
# (mass spectrometry) do end sentences, "No." and "Ms." do not.
_ABBREVIATIONS = frozenset(
    {
        "e.g.",
        "i.e.",
        "al.",  # et al.
        "cf.",
        "vs.",
        "ca.",
        "cal.",  # cal. BP
        "approx.",
        "resp.",
        "Fig.",
        "fig.",
        "Figs.",
        "figs.",
        "Ref.",
        "ref.",
        "Refs.",
        "refs.",
        "Eq.",
        "eq.",
        "Eqs.",
        "eqs.",
        "Tab.",
        "Suppl.",
        "suppl.",
        "Vol.",
        "vol.",
        "No.",
        "no.",
        "pp.",
        "sp.",
        "spp.",
        "subsp.",
        "ssp.",
        "var.",
        # routes and frequencies of administration
        "i.v.",
        "i.p.",
        "i.m.",
        "i.c.v.",
        "i.n.",
        "i.t.",
        "s.c.",
        "p.o.",
        "b.i.d.",
        "t.i.d.",
        "q.d.",
        # titles
        "Dr.",
        "Mr.",
        "Mrs.",
        "Ms.",
        "Prof.",
        "St.",
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
            last_word = candidate.rsplit(" ", 1)[-1].strip(_OPENERS_CLOSERS)
            if last_word in _ABBREVIATIONS:
                continue
            if candidate:
                out.append(candidate)
            start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            out.append(tail)
    return out
