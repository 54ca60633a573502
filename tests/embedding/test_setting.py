"""EncoderSetting: user text to one validated setting, its error messages, and the complete Embedder protocol."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from bmb_es import BmbError, EncoderSetting, ModelLoadError, SettingError, ingest, load_embedder
from bmb_es._document import Document
from bmb_es.bench.speed import Precomputed
from bmb_es.embedding import (
    BACKENDS,
    PRECISIONS,
    CallerEmbedder,
    Embedder,
    EmbedderLike,
    OpenVinoEmbedder,
    SentenceTransformerEmbedder,
    as_embedder,
    resolve_setting,
)
from bmb_es.embedding._base import CALLER_BATCH_SIZE
from bmb_es.embedding._openvino import openvino_available
from bmb_es.engines import EmbeddedEngine

# -- parsing user text ---------------------------------------------------------------------------------------


def test_the_choices_are_defined_once_without_onnx() -> None:
    assert BACKENDS == ("auto", "torch", "openvino")
    assert PRECISIONS == ("auto", "fp32", "bf16", "fp16")


@pytest.mark.parametrize("word", [None, "", "default", "DEFAULT", " auto "])
def test_default_words_mean_each_fields_default(word: str | None) -> None:
    assert EncoderSetting.parse(word, word, word, word) == EncoderSetting() == EncoderSetting("auto", "auto")
    assert EncoderSetting().device is None and EncoderSetting().batch_size is None


def test_text_is_stripped_and_compared_in_lower_case() -> None:
    setting = EncoderSetting.parse(" OpenVINO ", "BF16", "CPU", " 16 ")
    assert setting == EncoderSetting("openvino", "bf16", "cpu", 16)
    assert EncoderSetting.parse("torch", "fp16", "cuda:1", 512) == EncoderSetting("torch", "fp16", "cuda:1", 512)
    assert EncoderSetting.parse(device="mps").device == "mps"


def test_labels_read_and_write_backend_slash_precision() -> None:
    setting = EncoderSetting.from_label("Torch/BF16", device="cpu", batch_size="8")
    assert setting == EncoderSetting("torch", "bf16", "cpu", 8)
    assert setting.label == "torch/bf16" and EncoderSetting.from_label(setting.label).label == setting.label
    assert EncoderSetting.from_label("default/fp32") == EncoderSetting("auto", "fp32")


def test_only_auto_settings_are_checked_against_fp32() -> None:
    assert EncoderSetting().checked and EncoderSetting("torch", "auto").checked
    assert EncoderSetting("auto", "bf16").checked
    assert not EncoderSetting("openvino", "fp32").checked


def test_a_setting_is_a_frozen_hashable_value() -> None:
    setting = EncoderSetting("torch", "fp32")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setting.backend = "openvino"  # type: ignore[misc]
    assert len({setting, EncoderSetting.parse("torch", "fp32"), EncoderSetting()}) == 2  # a cache key


# -- errors a user can act on --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"backend": "tpu"}, "backend 'tpu': choose one of auto, torch, openvino (default: auto)"),
        ({"precision": "int3"}, "precision 'int3': choose one of auto, fp32, bf16, fp16 (default: auto)"),
        ({"device": "gpu"}, "device 'gpu': give cpu, cuda, cuda:N, mps or xpu (default: auto"),
        ({"device": "cuda:x"}, "device 'cuda:x': give cpu, cuda, cuda:N"),
        ({"batch_size": "0"}, "batch size 0: give a whole number of texts, at least 1 (default: the embedder's own)"),
        ({"batch_size": "many"}, "batch size 'many': give a whole number of texts, at least 1"),
        ({"batch_size": -4}, "batch size -4: give a whole number"),
        ({"backend": "openvino", "device": "cuda"}, "backend openvino runs on the CPU, not on device 'cuda'"),
    ],
)
def test_bad_values_name_the_field_the_value_and_the_choices(fields: dict[str, object], message: str) -> None:
    with pytest.raises(SettingError) as caught:
        EncoderSetting.parse(**fields)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_onnx_is_refused_with_why_and_what_to_use() -> None:
    with pytest.raises(SettingError) as caught:
        EncoderSetting.parse(backend="onnx")
    text = str(caught.value)
    assert text.startswith("backend 'onnx': choose one of auto, torch, openvino")
    assert "onnx is not offered" in text and "onnxruntime" in text and "slower" in text


def test_the_constructor_validates_as_parse_does() -> None:
    with pytest.raises(SettingError, match="backend 'tpu'"):
        EncoderSetting(backend="tpu")  # type: ignore[arg-type]
    with pytest.raises(SettingError, match="batch size True"):
        EncoderSetting(batch_size=True)
    with pytest.raises(SettingError, match="precision 'default'"):  # only parse reads the default words
        EncoderSetting(precision="default")  # type: ignore[arg-type]


@pytest.mark.parametrize("label", ["torch", "torch/", "/fp32", "torch/fp8", "tensorrt/fp16", "onnx/fp32"])
def test_bad_labels_say_the_form_they_take(label: str) -> None:
    with pytest.raises(SettingError, match=r"setting .*BACKEND/PRECISION.*\(e\.g\. torch/bf16\)"):
        EncoderSetting.from_label(label)


def test_a_setting_error_is_a_model_load_error_and_a_value_error() -> None:
    error = SettingError("x")
    assert isinstance(error, ModelLoadError) and isinstance(error, ValueError) and isinstance(error, BmbError)
    assert error.exit_code == ModelLoadError.exit_code == 8  # the CLI's exit code for a bad setting is unchanged


def test_loose_keywords_or_a_setting_never_both() -> None:
    setting = EncoderSetting("torch", "fp32", "cpu")
    assert resolve_setting(setting) is setting
    assert resolve_setting(None, precision="bf16", device="default") == EncoderSetting(precision="bf16")
    with pytest.raises(TypeError, match="give setting= or precision=, device=, not both"):
        resolve_setting(setting, precision="bf16", device="cpu")
    with pytest.raises(TypeError, match="not both"):
        load_embedder(None, "cpu", setting=setting)


def test_load_embedder_refuses_a_bad_setting_before_looking_for_the_model(tmp_path: Path) -> None:
    absent = str(tmp_path / "absent")
    with pytest.raises(SettingError, match="device 'gpu'"):
        load_embedder(absent, device="gpu")
    with pytest.raises(ModelLoadError, match="no such folder"):  # a good setting gets as far as the model
        load_embedder(absent, setting=EncoderSetting("torch", "fp32", "cpu"))


# -- the Embedder protocol -----------------------------------------------------------------------------------


class Minimal:
    """Only what EmbedderLike asks for: a name, a dimension, a max length and embed()."""

    name = "minimal"
    dimension = 2
    max_length = 8

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return np.tile(np.asarray([[1.0, 0.0]], dtype=np.float32), (len(texts), 1))


def test_a_minimal_embedder_is_completed_and_a_complete_one_kept() -> None:
    minimal = Minimal()
    assert isinstance(minimal, EmbedderLike) and not isinstance(minimal, Embedder)
    completed = as_embedder(minimal)
    assert isinstance(completed, CallerEmbedder) and isinstance(completed, Embedder)
    assert (completed.name, completed.dimension, completed.max_length) == ("minimal", 2, 8)
    assert (completed.backend, completed.precision, completed.fast_tokenizer) == (None, None, None)
    assert completed.default_batch_size == CALLER_BATCH_SIZE
    assert completed.selection == "Minimal (backend and precision not known)"
    assert completed.embed(["a", "b"]).shape == (2, 2)
    assert as_embedder(completed) is completed
    given = Precomputed(completed, ["lung"], completed.embed(["lung"]))
    assert isinstance(given, Embedder) and as_embedder(given) is given


def test_ingest_records_what_a_complete_embedder_says_and_not_known_for_others(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path)
    documents = [Document(id="a", title="Lung injury"), Document(id="b", title="Heart")]
    plain = ingest(documents, engine, "plain", Minimal(), optimize=False)
    meta = engine.index_meta("plain")
    assert (meta.backend, meta.precision) == (None, None)
    assert plain.encoder == "Minimal (backend and precision not known)" and plain.indexed == 2
    given = Precomputed(as_embedder(Minimal()), ["Lung injury", "Heart"], np.eye(2, dtype=np.float32))
    given.backend, given.precision, given.selection = "torch", "bf16", "torch bf16 (as asked, unchecked)"
    told = ingest(documents, engine, "told", given, optimize=False)
    assert (engine.index_meta("told").backend, engine.index_meta("told").precision) == ("torch", "bf16")
    assert told.encoder == "torch bf16 (as asked, unchecked)"
    engine.close()


@pytest.fixture
def fresh_loader() -> Iterator[None]:
    load_embedder.cache_clear()
    yield
    load_embedder.cache_clear()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "kind"),
    [
        ("torch", SentenceTransformerEmbedder),
        pytest.param(
            "openvino",
            OpenVinoEmbedder,
            marks=pytest.mark.skipif(not openvino_available(), reason="openvino is not installed"),
        ),
    ],
)
def test_each_loaded_embedder_is_a_complete_embedder(
    tiny_model: Path, data_dir: Path, fresh_loader: None, backend: str, kind: type
) -> None:
    embedder = load_embedder(str(tiny_model), setting=EncoderSetting.parse(backend, "fp32", "cpu"))
    assert type(embedder) is kind and isinstance(embedder, Embedder)
    assert (embedder.backend, embedder.precision) == (backend, "fp32")
    assert embedder.selection == f"{backend} fp32 (as asked, unchecked)"
    assert embedder.default_batch_size >= 1 and embedder.fast_tokenizer is not None
    assert embedder.fast_tokenizer.encode("lung injury").ids == [2, 5, 6, 3]  # [CLS] lung injury [SEP]
    assert embedder.embed(["lung injury"]).shape == (1, embedder.dimension)


@pytest.mark.slow
def test_a_cuda_device_torch_cannot_use_fails_in_one_line(tiny_model: Path, fresh_loader: None) -> None:
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(ModelLoadError, match=rf"device 'cuda:{count}': torch sees .* use --device cpu or auto"):
        load_embedder(str(tiny_model), device=f"cuda:{count}", backend="torch", precision="fp32")
