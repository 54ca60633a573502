"""Corpus to pretraining data: WordPiece vocab, sentences, MLM/NSP instances, TFRecord shards."""

from ._corpus_text import CorpusStats, read_documents
from ._instances import Instance, MaskingSettings, create_instances
from ._pipeline import build_pretraining_data
from ._sentences import split_sentences
from ._shards import MANIFEST_NAME, Manifest, load_manifest, write_shards
from ._vocab import SPECIAL_TOKENS, build_vocab, load_tokenizer, read_vocab, vocab_sha256

__all__ = [
    "MANIFEST_NAME",
    "SPECIAL_TOKENS",
    "CorpusStats",
    "Instance",
    "Manifest",
    "MaskingSettings",
    "build_pretraining_data",
    "build_vocab",
    "create_instances",
    "load_manifest",
    "load_tokenizer",
    "read_documents",
    "read_vocab",
    "split_sentences",
    "vocab_sha256",
    "write_shards",
]
