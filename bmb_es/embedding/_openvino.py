"""Embedding with OpenVINO: the whole sentence-transformers pipeline converted once, run in bf16 or fp32 on the CPU.

Only the ``openvino`` package is needed (a dependency of bmb-es). The model's modules (transformer,
pooling, dense layers, normalisation) are traced together with ``openvino.convert_model``, so the converted graph
maps token ids straight to the sentence vector. ``optimum-intel`` is not used: the versions on PyPI pin an older
``transformers`` than this project's.

A *prepared* model is a folder under ``<data dir>/cache/openvino/``: the graph (``model.xml``/``.bin``), the
model's own fast tokenizer (``tokenizer.json``, as the Hugging Face tokenizer runs it) and ``prepared.json``
(name, dimension, max length, input names). Running one needs openvino, tokenizers and numpy only: a warm start
imports neither torch nor transformers (seconds saved on every ``bmb-es query``). The folder's key is the model's
identity (a local folder's file names, sizes and modification times) and the library versions, so retraining a
model into the same folder prepares it again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ModelLoadError
from ._base import NamedModel, Vectors, cut_for_model, normalise
from ._setting import RunPrecision, run_precision
from ._tokens import pad_batch, sorted_batches, token_inputs

OV_PRECISIONS: dict[RunPrecision, str] = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}  # OpenVINO's names
OV_BATCH_SIZE = 16  # measured on 2 AMX cores with THROUGHPUT streams: 8-16 best, 32 within 3 %, 64 slower
# Texts tokenised together while the previous slice runs; batches are sorted by length within a slice. On BioASQ
# abstracts 256 keeps padding at 1.9 % of tokens (0.6 % sorting a whole 1,024-text chunk) and leaves ~0.1 s of
# tokenising per chunk not overlapped (0.37 s for a whole chunk at once).
TOKENIZE_SLICE = 256
PREPARED_FORMAT = 2  # bump when the folder layout or the traced graph changes


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)  # by keyword: three of its fields are ints
class PreparedMeta:
    """``prepared.json``: what a prepared folder holds."""

    name: str
    dimension: int
    max_length: int
    inputs: tuple[str, ...]
    pad_id: int
    format: int = PREPARED_FORMAT

    @classmethod
    def read(cls, folder: Path) -> PreparedMeta | None:
        try:
            raw = json.loads((folder / "prepared.json").read_text(encoding="utf-8"))
            meta = cls(
                name=str(raw["name"]),
                dimension=int(raw["dimension"]),
                max_length=int(raw["max_length"]),
                inputs=tuple(str(name) for name in raw["inputs"]),
                pad_id=int(raw["pad_id"]),
                format=int(raw["format"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        complete = all((folder / name).is_file() for name in ("model.xml", "model.bin", "tokenizer.json"))
        return meta if meta.format == PREPARED_FORMAT and complete else None


def folder_fingerprint(folder: Path) -> str:
    """Names, sizes and modification times of every file under ``folder``: changes when the model is rewritten."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def prepared_folder(cache_root: Path, name: str, fingerprint: str) -> Path:
    """Where the prepared copy of model ``name`` with this ``fingerprint`` lives."""
    versions = "|".join(_version(package) for package in ("openvino", "torch", "transformers", "sentence-transformers"))
    key = f"{PREPARED_FORMAT}|{name}|{fingerprint}|{versions}"
    return cache_root / hashlib.sha256(key.encode()).hexdigest()[:24]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def weights_fingerprint(model: Any) -> str:
    """A loaded model's identity when it has no local folder (a hub id): its module types and weight sums."""
    digest = hashlib.sha256()
    for module in model:
        digest.update(type(module).__name__.encode())
        for parameter in module.parameters():
            digest.update(f"{tuple(parameter.shape)}:{float(parameter.detach().double().sum()):.10e}".encode())
    return digest.hexdigest()


def prepare(model: Any, name: str, folder: Path) -> None:
    """Convert a loaded ``SentenceTransformer`` into a prepared folder (written whole, or not at all).

    Raises
    ------
    ModelLoadError
        The model has no fast tokenizer or its pipeline cannot be traced; OpenVINO cannot run it.
    """
    import openvino
    import torch

    route = token_inputs(model)
    if route is None:
        raise ModelLoadError(
            f"model {name!r}: backend openvino needs a transformer model whose fast tokenizer builds the model's "
            "own inputs"
        )
    names = list(route.inputs)
    example = model[0].preprocess(["dimension probe", "a longer probe text"])
    pipeline = model

    class _Pipeline(torch.nn.Module):
        """Token ids in, sentence vector out: every module of the model, traced as one graph."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = pipeline

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            features: dict[str, Any] = dict(zip(names, tensors, strict=True))
            for module in self.inner:
                features = module(features)
            return features["sentence_embedding"]  # type: ignore[no-any-return]

    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    try:
        # Tracing touches every attribute, e.g. the unused ``loss_function`` whose warning would reach users.
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        with warnings.catch_warnings(), torch.inference_mode(False):
            warnings.simplefilter("ignore")  # tracer warnings are expected and harmless here
            converted = openvino.convert_model(_Pipeline().eval(), example_input=tuple(example[key] for key in names))
    except Exception as error:  # any tracing/conversion failure means: this model cannot take this path
        raise ModelLoadError(f"model {name!r}: OpenVINO could not convert it ({str(error).splitlines()[0]})") from error
    finally:
        hf_logging.set_verbosity(verbosity)
    meta = PreparedMeta(
        name=name,
        dimension=int(model.get_embedding_dimension()),
        max_length=int(model.max_seq_length),
        inputs=tuple(names),
        pad_id=route.pad_id,
    )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    try:
        openvino.save_model(converted, str(staging / "model.xml"), compress_to_fp16=False)
        route.tokenizer.save(str(staging / "tokenizer.json"))
        (staging / "prepared.json").write_text(json.dumps({**asdict(meta), "inputs": names}, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a damaged or outdated entry
        os.replace(staging, folder)  # the whole entry appears at once; a concurrent writer's copy is equal
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _remove_stale(folder)


def _remove_stale(current: Path) -> None:
    """Delete the other prepared copies of the same model (a rewritten folder, older library versions) and
    copies in the layout before prepared.json: each holds the model's weights, tens to hundreds of MB."""
    meta = PreparedMeta.read(current)
    for entry in current.parent.iterdir():
        if entry == current or entry.name.startswith(".") or not entry.is_dir():
            continue
        other = PreparedMeta.read(entry)
        old_layout = other is None and (entry / "inputs.txt").is_file() and not (entry / "prepared.json").exists()
        if old_layout or (other is not None and meta is not None and other.name == meta.name):
            shutil.rmtree(entry, ignore_errors=True)  # a process still using it holds the model in memory


class OpenVinoEmbedder(NamedModel):
    """A prepared model (see :func:`prepare`) run by OpenVINO on the CPU.

    Parameters
    ----------
    folder
        A prepared folder.
    precision
        ``"fp32"``, ``"bf16"`` or ``"fp16"``: OpenVINO's inference precision hint.
    """

    backend = "openvino"

    def __init__(self, folder: Path, precision: RunPrecision = "bf16") -> None:
        precision = run_precision(precision)
        try:
            import openvino
            import tokenizers
        except ImportError as error:
            raise ModelLoadError(
                f"backend openvino: the openvino package is missing; reinstall bmb-es or pip install openvino ({error})"
            ) from error
        meta = PreparedMeta.read(folder)
        if meta is None:
            raise ModelLoadError(f"{folder}: not a prepared OpenVINO model (prepare it again by loading the model)")
        self._meta = meta
        self._name = meta.name
        self._dimension = meta.dimension
        self._precision: RunPrecision = precision
        self._tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(meta.max_length)
        self._tokenizer.no_padding()  # batches are padded here, to their own longest text
        self._core = openvino.Core()
        self._model = self._core.read_model(str(folder / "model.xml"))
        # Many batches (indexing): THROUGHPUT streams run batches side by side on the cores (measured 1.6-1.8x
        # LATENCY's docs/s on 2 AMX cores). One batch (a question): LATENCY spreads it over every core.
        self._throughput = self._compile("THROUGHPUT")
        self._latency: Any = None
        self._lock = threading.Lock()  # one caller at a time (see embed)
        self.folder = folder
        self.selection = f"openvino {precision}"

    def _compile(self, hint: str) -> Any:
        config = {"INFERENCE_PRECISION_HINT": OV_PRECISIONS[self._precision], "PERFORMANCE_HINT": hint}
        return self._core.compile_model(self._model, "CPU", config)

    @property
    def max_length(self) -> int:
        return self._meta.max_length

    @property
    def precision(self) -> RunPrecision:
        return self._precision

    @property
    def default_batch_size(self) -> int:
        return OV_BATCH_SIZE

    @property
    def fast_tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` that builds this model's inputs."""
        return self._tokenizer

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> Vectors:
        """Embed ``texts`` in length-sorted batches; rows come back in input order.

        Safe to call from several threads (calls then take turns on the cores: OpenVINO deadlocks when two
        threads queue requests on one compiled model at once).
        """
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        size = batch_size or OV_BATCH_SIZE
        texts = [cut_for_model(text, self.max_length) for text in texts]  # tokenising a huge text costs GBs
        if len(texts) <= size:  # a question or a few: one request spread over every core
            encodings = self._tokenizer.encode_batch(list(texts))
            with self._lock:
                if self._latency is None:
                    self._latency = self._compile("LATENCY").create_infer_request()
                out[:] = self._latency.infer(pad_batch(encodings, self._meta.inputs, self._meta.pad_id))[0]
            return normalise(out)
        with self._lock:
            self._embed_batches(texts, size, out)
        return normalise(out)

    def _embed_batches(self, texts: Sequence[str], size: int, out: Vectors) -> None:
        """Length-sorted batches queued as the tokenizer thread hands them over, so the cores never wait."""
        import openvino

        jobs = openvino.AsyncInferQueue(self._throughput)
        rows: dict[int, list[int]] = {}

        def store(request: Any, number: int) -> None:
            out[rows.pop(number)] = request.get_output_tensor(0).data

        jobs.set_callback(store)
        batches = sorted_batches(self._tokenizer, texts, size, TOKENIZE_SLICE)
        for number, (positions, encodings) in enumerate(batches):
            rows[number] = positions
            jobs.start_async(pad_batch(encodings, self._meta.inputs, self._meta.pad_id), userdata=number)
        jobs.wait_all()
