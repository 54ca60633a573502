"""What a question is about: its content words, and whether it is a keyword search.

The ``auto`` mode (the default) answers a keyword search, a question of at most :data:`KEYWORD_SEARCH_WORDS`
content word ("dha", "deafness", "What is apelin?"), with ``feedback`` and anything longer with ``rerank``. One
word says little about what is wanted, and the papers it names are many: pseudo-relevance feedback is the classic
remedy for short queries, and the leave-one-year-out over BioASQ picked this rule within its family
(``bench/bench_fusion_loyo.py``; docs/benchmarks.md, "The auto mode").

Content words are the lowercased words (runs of letters and digits) that are not function or question words: the
same measure as the bench's question coverage (:mod:`bmb_es.bench.debias`).
"""

from __future__ import annotations

import re

KEYWORD_SEARCH_WORDS = 1  # at most this many content words: a keyword search (auto mode's feedback)

_WORD = re.compile(r"[^\W_]+")
# Function words and question words: what is left is what a question is *about*.
_STOP_TEXT = """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom whose why will with would you your yours yourself yourselves
    may might must shall within without via among per whether either neither used use using known"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_TEXT.split())


def words(text: str) -> set[str]:
    """Lowercased word set (letters and digits; punctuation and ``_`` split words)."""
    return set(_WORD.findall(text.lower()))


def content_words(text: str) -> set[str]:
    """:func:`words` without :data:`STOP_WORDS`."""
    return words(text) - STOP_WORDS


def is_keyword_search(question: str) -> bool:
    """Whether ``question`` has at most :data:`KEYWORD_SEARCH_WORDS` content words."""
    return len(content_words(question)) <= KEYWORD_SEARCH_WORDS
