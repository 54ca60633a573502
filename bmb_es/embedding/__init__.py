"""Embedders: text to unit vectors, once at index time and once per question."""

from ._base import DEFAULT_EMBED_FIELDS, Embedder, Vectors, embed_text, embedder_setting, normalise
from ._bucket import length_order
from ._load import (
    BACKENDS,
    DEFAULT_MODEL,
    PRECISIONS,
    Backend,
    Precision,
    default_model_path,
    load_embedder,
    model_name,
)
from ._openvino import OpenVinoEmbedder
from ._sentence_transformers import SentenceTransformerEmbedder
from ._tfhub import TfHubEmbedder

__all__ = [
    "BACKENDS",
    "DEFAULT_EMBED_FIELDS",
    "DEFAULT_MODEL",
    "PRECISIONS",
    "Backend",
    "Embedder",
    "OpenVinoEmbedder",
    "Precision",
    "SentenceTransformerEmbedder",
    "TfHubEmbedder",
    "Vectors",
    "default_model_path",
    "embed_text",
    "embedder_setting",
    "length_order",
    "load_embedder",
    "model_name",
    "normalise",
]
