"""Content words and keyword searches: what the default ``auto`` mode reads off a question."""

from __future__ import annotations

import pytest

from bmb_es.query import KEYWORD_SEARCH_WORDS, auto_mode, content_words, is_keyword_search


def test_content_words_drop_function_and_question_words_and_lowercase() -> None:
    assert content_words("What is the role of Apelin in the heart?") == {"role", "apelin", "heart"}
    assert content_words("BRCA1 and breast-cancer risk") == {"brca1", "breast", "cancer", "risk"}
    assert content_words("gut_flora") == {"gut", "flora"}  # "_" splits words as punctuation does
    assert content_words("What is it?") == set()


@pytest.mark.parametrize(
    ("question", "keyword"),
    [
        ("dha", True),
        ("What is apelin?", True),
        ("What are DMARDs?", True),
        ("Deafness", True),
        ("what is it", True),  # nothing to go on: feedback widens it as it widens one word
        ("breast cancer", False),
        ("COVID-19", False),  # two words: letters and digits are split at the hyphen
        ("how does coronavirus affect the lungs", False),
    ],
)
def test_a_keyword_search_has_at_most_one_content_word(question: str, keyword: bool) -> None:
    assert KEYWORD_SEARCH_WORDS == 1
    assert is_keyword_search(question) is keyword
    assert auto_mode(question) == ("feedback" if keyword else "rerank")
