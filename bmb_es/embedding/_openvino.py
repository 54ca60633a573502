"""Embedding with OpenVINO: the sentence-transformers encoder converted once, run in bf16 or fp32 on the CPU.

Only the ``openvino`` package is needed (``pip install 'bmb-es[openvino]'``): the transformer module is converted
straight from PyTorch with ``openvino.convert_model`` and the rest of the sentence-transformers pipeline
(pooling, dense layers, normalisation) runs unchanged in torch. ``optimum-intel`` is not used: the versions on
PyPI pin an older ``transformers`` than this project's.

The converted model is cached as OpenVINO IR under ``<data dir>/cache/openvino/`` so a warm start skips conversion.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ModelLoadError
from ._base import Vectors, normalise
from ._bucket import bucketed, length_order
from ._sentence_transformers import token_lengths

OV_PRECISIONS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
OV_BATCH_SIZE = 16  # measured on 2 AMX cores with THROUGHPUT streams: 16 > 32 > 64 (about 10%)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def openvino_available() -> bool:
    try:
        import openvino  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def _cache_folder(name: str, model: Any, cache_root: Path) -> Path:
    import openvino  # type: ignore[import-untyped,import-not-found,unused-ignore]
    import torch

    first = model[0]
    weights = sum(float(p.detach().double().sum()) for p in first.auto_model.parameters())  # changes with the weights
    key = f"{name}|{type(first.auto_model).__name__}|{weights:.10e}|{openvino.__version__}|{torch.__version__}"
    return cache_root / hashlib.sha256(key.encode()).hexdigest()[:24]


def _convert(model: Any) -> Any:
    import openvino  # type: ignore[import-untyped,import-not-found,unused-ignore]
    import torch

    first = model[0]
    auto_model = first.auto_model
    example = {key: value for key, value in first.preprocess(["dimension probe", "a longer probe text"]).items()}
    names = [key for key in _INPUTS if key in example]

    class _Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = auto_model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, tensors, strict=True))).last_hidden_state  # type: ignore[no-any-return]

    with warnings.catch_warnings(), torch.inference_mode(False):
        warnings.simplefilter("ignore")  # tracer warnings are expected and harmless here
        return openvino.convert_model(_Encoder().eval(), example_input=tuple(example[key] for key in names)), names


class OpenVinoEmbedder:
    """A sentence-transformers model whose transformer runs in OpenVINO (CPU).

    Parameters
    ----------
    model
        A loaded fp32 ``SentenceTransformer`` (its first module must be a ``Transformer``).
    name
        How the index records this model.
    precision
        ``"fp32"``, ``"bf16"`` or ``"fp16"``: OpenVINO's inference precision hint.
    cache_root
        Where converted models are kept; ``None`` converts on every load.
    """

    backend = "openvino"

    def __init__(self, model: Any, name: str, precision: str = "bf16", cache_root: Path | None = None) -> None:
        if precision not in OV_PRECISIONS:
            raise ValueError(f"precision {precision!r}: choose one of {', '.join(OV_PRECISIONS)}")
        try:
            import openvino  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError as error:
            raise ModelLoadError(
                f"backend openvino: install it with: pip install 'bmb-es[openvino]' ({error})"
            ) from error
        if not hasattr(model[0], "auto_model"):
            raise ModelLoadError(
                f"model {name!r}: backend openvino needs a transformer-based sentence-transformers model"
            )
        self._model = model
        self._name = name
        self._precision = precision
        self._dimension = int(model.get_embedding_dimension())
        self._core = openvino.Core()
        self._ov_model, self._names = self._load(self._core, cache_root)
        # Many batches (indexing): THROUGHPUT streams run batches side by side on the cores (measured 1.6-1.8x
        # LATENCY's docs/s on 2 AMX cores). One batch (a question): LATENCY spreads it over every core.
        self._throughput = self._compile("THROUGHPUT")
        self._latency: Any = None
        self.selection = f"openvino {precision}"

    def _compile(self, hint: str) -> Any:
        config = {"INFERENCE_PRECISION_HINT": OV_PRECISIONS[self._precision], "PERFORMANCE_HINT": hint}
        return self._core.compile_model(self._ov_model, "CPU", config)

    def _load(self, core: Any, cache_root: Path | None) -> tuple[Any, list[str]]:
        import openvino  # type: ignore[import-untyped,import-not-found,unused-ignore]

        folder = _cache_folder(self._name, self._model, cache_root) if cache_root is not None else None
        if folder is not None and (folder / "model.xml").is_file() and (folder / "inputs.txt").is_file():
            try:
                return core.read_model(str(folder / "model.xml")), (folder / "inputs.txt").read_text().split()
            except RuntimeError:
                pass  # a damaged cache entry is rebuilt below
        ov_model, names = _convert(self._model)
        if folder is not None:
            staging: Path | None = None
            try:
                folder.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
                openvino.save_model(ov_model, str(staging / "model.xml"), compress_to_fp16=False)
                (staging / "inputs.txt").write_text(" ".join(names))
                os.replace(staging, folder)  # whole entry appears at once; a concurrent writer's copy is equal
            except OSError:
                if staging is not None:
                    shutil.rmtree(staging, ignore_errors=True)  # caching is an optimisation only
        return ov_model, names

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_length(self) -> int:
        return int(self._model.max_seq_length)

    @property
    def precision(self) -> str:
        return self._precision

    @property
    def default_batch_size(self) -> int:
        return OV_BATCH_SIZE

    def _inputs(self, batch: list[str]) -> tuple[dict[str, Any], list[np.ndarray]]:
        features = self._model[0].preprocess(batch)
        return features, [np.ascontiguousarray(features[key].numpy()) for key in self._names]  # positional

    def _pool(self, features: dict[str, Any], hidden: np.ndarray) -> Vectors:
        import torch

        features = {**features, "token_embeddings": torch.from_numpy(np.asarray(hidden, dtype=np.float32))}
        with torch.inference_mode():
            for module in list(self._model)[1:]:
                features = module(features)
        return np.asarray(features["sentence_embedding"].float().numpy(), dtype=np.float32)

    def _encode_one(self, batch: list[str]) -> Vectors:
        if self._latency is None:
            self._latency = self._compile("LATENCY").create_infer_request()
        features, inputs = self._inputs(batch)
        return self._pool(features, self._latency.infer(inputs)[0])

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> Vectors:
        import openvino

        size = batch_size or OV_BATCH_SIZE
        lengths = token_lengths(self._model.tokenizer, texts, self.max_length)
        if len(texts) <= size:
            return normalise(bucketed(list(texts), size, lengths, self._encode_one, self._dimension))
        # Length-sorted batches queued asynchronously; the next batch is tokenised while earlier ones run.
        order = length_order(lengths)
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        hidden: dict[int, np.ndarray] = {}
        features: dict[int, dict[str, Any]] = {}
        jobs = openvino.AsyncInferQueue(self._throughput)
        jobs.set_callback(lambda request, number: hidden.__setitem__(number, request.get_output_tensor(0).data.copy()))
        for number, positions in enumerate(batches):
            features[number], inputs = self._inputs([texts[position] for position in positions])
            jobs.start_async(inputs, userdata=number)
        jobs.wait_all()
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for number, positions in enumerate(batches):
            out[positions] = self._pool(features.pop(number), hidden.pop(number))
        return normalise(out)
