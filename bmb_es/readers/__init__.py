"""Corpus readers: every supported format becomes a stream of :class:`~bmb_es.Document` or :class:`Reject`.

Nothing is lost, and nothing changes silently:

* every record read becomes a Document or a Reject (file, line, reason); a record that breaks a parser (nested
  more than 100 levels) or a converter is rejected, and reading goes on;
* a value of the wrong type is coerced (a number or boolean to text, a list joined, an object to its JSON text),
  undecodable bytes and lone surrogates become U+FFFD, NaN/Infinity become text; each is noted in
  ``Document.coerced`` and counted in the ingest summary (policy: :mod:`._fields` and :mod:`._records`);
* UTF-8 with a byte-order mark, UTF-16 and UTF-32 files are read;
* a file that is not read is listed in :attr:`CorpusPlan.skipped` with its true reason (permission denied, broken
  symlink, symlink loop, symlink to a folder, not a regular file, not a gzip file, no records, unknown format);
  FIFOs and other non-regular files are never opened.
"""

from ._corpus import CorpusFile, CorpusPlan, iter_corpus, plan_corpus, read_corpus
from ._count import count_records
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
    "count_records",
    "iter_corpus",
    "plan_corpus",
    "read_corpus",
]
