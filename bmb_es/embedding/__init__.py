"""Embedders: text to unit vectors, once at index time and once per question."""

from ._base import (
    DEFAULT_EMBED_FIELDS,
    CallerEmbedder,
    Embedder,
    EmbedderLike,
    NamedModel,
    Vectors,
    as_embedder,
    cut_for_model,
    embed_text,
    normalise,
)
from ._bucket import length_order
from ._load import (
    BIOASQ_MODEL,
    DEFAULT_MODEL,
    SHIPPED_MODELS,
    default_model_path,
    load_embedder,
    model_name,
    shipped_model_path,
)
from ._openvino import OpenVinoEmbedder
from ._sentence_transformers import SentenceTransformerEmbedder
from ._setting import (
    BACKENDS,
    PRECISIONS,
    REMOVED_BACKENDS,
    RUN_BACKENDS,
    RUN_PRECISIONS,
    Backend,
    EncoderSetting,
    Precision,
    RunBackend,
    RunPrecision,
    resolve_setting,
)
from ._tfhub import TfHubEmbedder
from ._verify import MIN_COSINE, row_cosines

__all__ = [
    "BACKENDS",
    "BIOASQ_MODEL",
    "DEFAULT_EMBED_FIELDS",
    "DEFAULT_MODEL",
    "MIN_COSINE",
    "PRECISIONS",
    "REMOVED_BACKENDS",
    "RUN_BACKENDS",
    "RUN_PRECISIONS",
    "SHIPPED_MODELS",
    "Backend",
    "CallerEmbedder",
    "Embedder",
    "EmbedderLike",
    "EncoderSetting",
    "NamedModel",
    "OpenVinoEmbedder",
    "Precision",
    "RunBackend",
    "RunPrecision",
    "SentenceTransformerEmbedder",
    "TfHubEmbedder",
    "Vectors",
    "as_embedder",
    "cut_for_model",
    "default_model_path",
    "embed_text",
    "length_order",
    "load_embedder",
    "model_name",
    "normalise",
    "resolve_setting",
    "row_cosines",
    "shipped_model_path",
]
