"""Embedders: text to unit vectors, once at index time and once per question."""

from ._base import (
    DEFAULT_EMBED_FIELDS,
    CallerEmbedder,
    Embedder,
    EmbedderLike,
    Vectors,
    as_embedder,
    embed_text,
    normalise,
)
from ._bucket import length_order
from ._load import DEFAULT_MODEL, default_model_path, load_embedder, model_name
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

__all__ = [
    "BACKENDS",
    "DEFAULT_EMBED_FIELDS",
    "DEFAULT_MODEL",
    "PRECISIONS",
    "REMOVED_BACKENDS",
    "RUN_BACKENDS",
    "RUN_PRECISIONS",
    "Backend",
    "CallerEmbedder",
    "Embedder",
    "EmbedderLike",
    "EncoderSetting",
    "OpenVinoEmbedder",
    "Precision",
    "RunBackend",
    "RunPrecision",
    "SentenceTransformerEmbedder",
    "TfHubEmbedder",
    "Vectors",
    "as_embedder",
    "default_model_path",
    "embed_text",
    "length_order",
    "load_embedder",
    "model_name",
    "normalise",
    "resolve_setting",
]
