"""The one place a WordPiece tokenizer is built from a run's ``vocab.txt``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._errors import ConfigError


def count_lines(path: Path) -> int:
    """Lines of a text file (a vocab's size: one WordPiece entry per line)."""
    with path.open(encoding="utf-8") as lines:
        return sum(1 for _ in lines)


def make_tokenizer(vocab: Path, lowercase: bool) -> Any:
    """A ``BertTokenizerFast`` over ``vocab``, checked to have loaded every entry.

    transformers 5 reads the WordPiece file from ``vocab=``; the older ``vocab_file=`` keyword is silently
    ignored there and yields a 5-token vocabulary that maps every word to ``[UNK]``.
    """
    from transformers import BertTokenizerFast  # type: ignore[attr-defined]

    tokenizer = BertTokenizerFast(vocab=str(vocab), do_lower_case=lowercase)
    expected = count_lines(vocab)
    if len(tokenizer) < expected:
        raise ConfigError(f"{vocab}: the tokenizer loaded {len(tokenizer)} of {expected} WordPiece entries")
    return tokenizer
