"""Corpus folder to shards folder: the ``bmb-train data`` command's work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .._errors import DataError
from ._corpus_text import CorpusStats, read_documents
from ._instances import MaskingSettings, create_instances
from ._shards import Manifest, write_shards
from ._vocab import load_tokenizer, read_vocab, vocab_sha256


def build_pretraining_data(
    corpus: Path,
    vocab: Path,
    out: Path,
    settings: MaskingSettings,
    lowercase: bool = True,
    num_shards: int = 1,
    format: str | None = None,
    limit: int | None = None,
    log: Callable[[str], None] = print,
) -> Manifest:
    """Read, split, tokenise, build MLM/NSP instances and write shards with a manifest.

    Parameters
    ----------
    corpus
        Corpus file or folder (any format the ``bmb-es`` readers know).
    vocab
        WordPiece ``vocab.txt`` (build one with ``bmb-train vocab`` or use the initial model's).
    out
        Empty or new folder for the shards, ``manifest.json`` and a copy of the vocab.
    settings
        Instance cutting and masking settings (seeded).
    lowercase
        Uncased tokenisation; must match how the vocab/initial model was made.
    num_shards
        TFRecord files to spread instances over.
    format, limit
        Force a reader format; stop after ``limit`` documents.
    log
        Receives progress and summary lines.
    """
    tokens = read_vocab(vocab)
    tokenizer = load_tokenizer(vocab, lowercase)
    stats = CorpusStats()
    documents: list[list[list[int]]] = []
    sentences = 0
    token_count = 0
    for doc in read_documents(corpus, stats, format=format, limit=limit):
        encoded = [item.ids for item in tokenizer.encode_batch(doc, add_special_tokens=False)]
        encoded = [ids for ids in encoded if ids]
        if encoded:
            documents.append(encoded)
            sentences += len(encoded)
            token_count += sum(len(ids) for ids in encoded)
        if len(documents) % 1000 == 0 and documents:
            log(f"read {len(documents)} documents, {sentences} sentences")
    if not documents:
        raise DataError(f"{corpus}: no document with text ({len(stats.rejects)} rejected, {stats.empty} empty)")
    log(f"read {len(documents)} documents, {sentences} sentences, {token_count} tokens; building instances")
    instances = create_instances(documents, tokens, settings)
    masked = sum(len(item.masked_positions) for item in instances)
    counts = {
        "documents": len(documents),
        "sentences": sentences,
        "tokens": token_count,
        "rejected": len(stats.rejects),
        "empty": stats.empty,
        "masked_positions": masked,
        "random_next": sum(item.is_random_next for item in instances),
    }
    manifest = write_shards(
        instances, out, vocab, vocab_sha256(vocab), len(tokens), lowercase, settings, counts, num_shards
    )
    for reject in stats.rejects[:5]:
        log(f"rejected {reject.file}:{reject.line}: {reject.reason}")
    log(
        f"wrote {manifest.instances} instances in {len(manifest.shards)} shard(s) to {out} "
        f"({len(documents)} documents, {len(stats.rejects)} rejected, {stats.empty} without text, "
        f"{counts['random_next']} random-next pairs, {masked} masked positions)"
    )
    return manifest
