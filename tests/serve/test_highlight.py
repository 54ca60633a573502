"""Highlighting: text is escaped first, then the words that BM25 matched are wrapped in <mark>."""

from __future__ import annotations

from bmb_es.serve import highlight, snippet


def test_words_are_marked_as_the_analyzer_matched_them() -> None:
    # Stemming: "injuries" is "injury"; case does not matter; stop words of the question mark nothing.
    assert highlight("Injuries of the LUNG in lungs", "the lung injury") == (
        "<mark>Injuries</mark> of the <mark>LUNG</mark> in <mark>lungs</mark>"
    )
    assert highlight("nothing here", "lung") == "nothing here"
    assert highlight("the", "the") == "the"


def test_everything_is_escaped_before_marks_are_added() -> None:
    text = '<img src=x onerror="alert(1)"> lung & <mark>x</mark>'
    assert highlight(text, "lung mark img") == (
        "&lt;<mark>img</mark> src=x onerror=&quot;alert(1)&quot;&gt; <mark>lung</mark> &amp; "
        "&lt;<mark>mark</mark>&gt;x&lt;/<mark>mark</mark>&gt;"
    )
    # A question that is markup marks only words, and adds no markup of its own.
    assert highlight("script alert", "<script>alert(1)</script>") == "<mark>script</mark> <mark>alert</mark>"


def test_a_snippet_is_cut_where_the_terms_are() -> None:
    text = " ".join(["filler"] * 200) + " the lung injury was severe " + " ".join(["tail"] * 200)
    cut = snippet(text, "lung injury", width=120)
    assert cut.startswith("… ") and cut.endswith(" …")
    assert "<mark>lung</mark> <mark>injury</mark>" in cut
    assert len(cut.replace("<mark>", "").replace("</mark>", "")) <= 120 + 4
    short = snippet("Lung\n\n  injury.", "lung")
    assert short == "<mark>Lung</mark> injury."  # whitespace runs become one space
    assert snippet("", "lung") == ""
    assert snippet("x" * 1000, "lung", width=50) == "x" * 50 + " …"  # no term: the start of the text
