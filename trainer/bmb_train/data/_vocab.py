"""WordPiece vocabulary: build one with the ``tokenizers`` trainer, load one as a fast tokenizer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import DataError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def build_vocab(
    texts: Iterable[str],
    out: Path,
    size: int = 30522,
    lowercase: bool = True,
    min_frequency: int = 2,
) -> int:
    """Train a BERT WordPiece vocabulary on ``texts`` and write it as ``vocab.txt`` (one token a line).

    Parameters
    ----------
    texts
        Raw text chunks (sentences or paragraphs), streamed.
    out
        Destination file; its folder is created.
    size
        Target vocabulary size including the special tokens; a small corpus may give fewer.
    lowercase
        Lower-case and strip accents (uncased BERT) or keep case (cased BERT).
    min_frequency
        Pairs seen fewer times are not merged.

    Returns
    -------
    int
        The number of tokens written.
    """
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece
    from tokenizers.trainers import WordPieceTrainer

    tokenizer = Tokenizer(WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=lowercase, lowercase=lowercase
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = WordPieceTrainer(
        vocab_size=size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tokenizer.train_from_iterator(_non_empty(texts), trainer=trainer)
    vocab = tokenizer.get_vocab()
    if len(vocab) <= len(SPECIAL_TOKENS):
        raise DataError("the corpus gave no text to learn a vocabulary from")
    out.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(vocab, key=vocab.__getitem__)
    out.write_text("".join(f"{token}\n" for token in ordered), encoding="utf-8")
    return len(ordered)


def _non_empty(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        if text.strip():
            yield text


def read_vocab(path: Path) -> list[str]:
    """Tokens of a ``vocab.txt``; checks the BERT special tokens are present."""
    if not path.is_file():
        raise DataError(
            f"{path}: vocabulary file not found; build one with `bmb-train vocab` or use a model's vocab.txt"
        )
    tokens = path.read_text(encoding="utf-8").splitlines()
    missing = [token for token in SPECIAL_TOKENS if token not in tokens]
    if missing:
        raise DataError(f"{path}: vocabulary lacks special token(s) {', '.join(missing)}; not a BERT WordPiece vocab")
    return tokens


def vocab_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_tokenizer(vocab: Path, lowercase: bool = True) -> Tokenizer:
    """A fast BERT WordPiece tokenizer over ``vocab`` that adds no special tokens."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece

    read_vocab(vocab)
    tokenizer = Tokenizer(WordPiece.from_file(str(vocab), unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=lowercase, lowercase=lowercase
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    return tokenizer
