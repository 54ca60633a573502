"""bmb-es: BM25 candidates re-ranked by BERT-embedding cosine similarity (BioMedBERT, COLING 2020).

Typical use::

    import bmb_es

    engine = bmb_es.EmbeddedEngine()                      # or a cluster engine
    bmb_es.index_path("examples/breathe", engine=engine)   # read, embed, upsert
    result = bmb_es.search(engine, "papers", "how does coronavirus damage the lungs", rerank=True)
    body = bmb_es.build_query("statins and breast cancer", vector, top_k=50)
"""

from ._api import MergeSummary, index_path, merge_indices
from ._batch import Question, parse_questions, read_questions, trec_lines
from ._config import DEFAULT_INDEX, data_dir
from ._document import Document
from ._errors import (
    BmbError,
    ClusterError,
    IndexDamagedError,
    IndexNotFoundError,
    InputError,
    ModelLoadError,
    ModelMismatchError,
    QueryError,
    SettingError,
    StorageError,
)
from ._ingest import IngestSummary, ingest
from ._search import Hit, SearchKeywords, SearchOptions, SearchResult, search, search_many
from .embedding import Embedder, EmbedderLike, EncoderSetting, embed_text, load_embedder
from .engines import EmbeddedEngine, Engine, IndexMeta
from .query import Filters, Rerank, build_query
from .readers import Reject, read_corpus

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_INDEX",
    "BmbError",
    "ClusterError",
    "Document",
    "EmbeddedEngine",
    "Embedder",
    "EmbedderLike",
    "EncoderSetting",
    "Engine",
    "Filters",
    "Hit",
    "IndexDamagedError",
    "IndexMeta",
    "IndexNotFoundError",
    "IngestSummary",
    "InputError",
    "MergeSummary",
    "ModelLoadError",
    "ModelMismatchError",
    "QueryError",
    "Question",
    "Reject",
    "Rerank",
    "SearchKeywords",
    "SearchOptions",
    "SearchResult",
    "SettingError",
    "StorageError",
    "__version__",
    "build_query",
    "data_dir",
    "embed_text",
    "index_path",
    "ingest",
    "load_embedder",
    "merge_indices",
    "parse_questions",
    "read_corpus",
    "read_questions",
    "search",
    "search_many",
    "trec_lines",
]
