"""Corpus readers: every supported format becomes a stream of :class:`~bmb_es.Document` or :class:`Reject`."""

from ._corpus import CorpusFile, CorpusPlan, iter_corpus, plan_corpus, read_corpus
from ._formats import FORMAT_NAMES, FORMATS, MAPPABLE_FIELDS, Format
from ._records import Reject

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "MAPPABLE_FIELDS",
    "CorpusFile",
    "CorpusPlan",
    "Format",
    "Reject",
    "iter_corpus",
    "plan_corpus",
    "read_corpus",
]
