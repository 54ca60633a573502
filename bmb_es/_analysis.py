"""The text analysis shared by the embedded engine and the cluster mappings.

BM25 candidates can only agree across engines if both sides tokenize alike. The chain is:

1. split on every character that is not a Unicode letter or digit (tantivy's ``simple`` tokenizer;
   Elasticsearch/OpenSearch ``pattern`` tokenizer with :data:`TOKEN_SPLIT_PATTERN`),
2. drop tokens longer than :data:`MAX_TOKEN_CHARS` characters,
3. lowercase,
4. remove Lucene's English stop words (:data:`ENGLISH_STOP_WORDS`, Elasticsearch's ``_english_``),
5. Snowball English (Porter2) stemming.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tantivy

ANALYZER_NAME = "bmb_english"
TOKEN_SPLIT_PATTERN = r"[^\p{L}\p{N}]+"
MAX_TOKEN_CHARS = 40
# Lucene EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, which is what Elasticsearch's `_english_` list expands to.
ENGLISH_STOP_WORDS: tuple[str, ...] = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
)  # fmt: skip


def tantivy_analyzer() -> tantivy.TextAnalyzer:
    """The analysis chain as a tantivy analyzer (register it on every opened index)."""
    import tantivy

    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS + 1))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.custom_stopword(list(ENGLISH_STOP_WORDS)))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def cluster_analysis_settings() -> dict[str, Any]:
    """The same chain as Elasticsearch/OpenSearch ``settings.analysis`` (both accept this form)."""
    return {
        "tokenizer": {f"{ANALYZER_NAME}_tokenizer": {"type": "pattern", "pattern": TOKEN_SPLIT_PATTERN}},
        "filter": {
            f"{ANALYZER_NAME}_length": {"type": "length", "max": MAX_TOKEN_CHARS},
            f"{ANALYZER_NAME}_stop": {"type": "stop", "stopwords": "_english_"},
            f"{ANALYZER_NAME}_stemmer": {"type": "snowball", "language": "English"},
        },
        "analyzer": {
            ANALYZER_NAME: {
                "type": "custom",
                "tokenizer": f"{ANALYZER_NAME}_tokenizer",
                "filter": [
                    f"{ANALYZER_NAME}_length",
                    "lowercase",
                    f"{ANALYZER_NAME}_stop",
                    f"{ANALYZER_NAME}_stemmer",
                ],
            }
        },
    }
