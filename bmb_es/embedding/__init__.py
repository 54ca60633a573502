"""Embedders: text to unit vectors, once at index time and once per question."""

from ._base import DEFAULT_EMBED_FIELDS, Embedder, Vectors, embed_text, normalise
from ._load import DEFAULT_MODEL, default_model_path, load_embedder, model_name
from ._sentence_transformers import SentenceTransformerEmbedder
from ._tfhub import TfHubEmbedder

__all__ = [
    "DEFAULT_EMBED_FIELDS",
    "DEFAULT_MODEL",
    "Embedder",
    "SentenceTransformerEmbedder",
    "TfHubEmbedder",
    "Vectors",
    "default_model_path",
    "embed_text",
    "load_embedder",
    "model_name",
    "normalise",
]
