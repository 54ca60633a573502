"""How an encoder runs: one typed, validated setting of backend, precision, device and batch size.

User text (CLI options, script arguments, API keywords) becomes an :class:`EncoderSetting` in one place,
:meth:`EncoderSetting.parse`; from there on the setting travels, never loose strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeVar, get_args

from .._errors import SettingError

RunBackend = Literal["torch", "openvino"]
"""A runtime an embedder computes with once ``auto`` is resolved."""
RunPrecision = Literal["fp32", "bf16", "fp16"]
"""A precision an embedder computes in once ``auto`` is resolved."""
Backend = Literal["auto", RunBackend]
Precision = Literal["auto", RunPrecision]

BACKENDS: tuple[Backend, ...] = get_args(Backend)
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
RUN_BACKENDS: tuple[RunBackend, ...] = get_args(RunBackend)
RUN_PRECISIONS: tuple[RunPrecision, ...] = get_args(RunPrecision)

DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")
_DEVICE = re.compile(rf"(?:{'|'.join(DEVICE_TYPES)})(?::\d+)?")
# What a user may write for "whatever bmb-es picks" in any field.
DEFAULT_WORDS = frozenset({"", "default", "auto"})
BATCH_SIZE_HINT = "give a whole number of texts, at least 1 (default: the embedder's own)"
# Backends once accepted: naming one says why it is gone and what to use.
REMOVED_BACKENDS = {
    "onnx": "onnx is not offered: it needs onnxruntime and optimum, and measured slower than openvino and "
    "torch bf16 on this project's CPUs (bmb-es bench speed)",
}

Value = TypeVar("Value", bound=str)


def _pick(field: str, value: object, choices: tuple[Value, ...], note: str = "") -> Value:
    """``value`` as one of ``choices``, or a :class:`SettingError` naming the field, the value and the choices."""
    for choice in choices:
        if value == choice:
            return choice
    raise SettingError(f"{field} {value!r}: choose one of {', '.join(choices)}{note}")


def _backend_note(backend: object) -> str:
    removed = f"; {REMOVED_BACKENDS[backend]}" if isinstance(backend, str) and backend in REMOVED_BACKENDS else ""
    return f" (default: auto){removed}"


def run_precision(value: object) -> RunPrecision:
    """``value`` as a precision an embedder computes in (``auto`` resolved), else a :class:`SettingError`."""
    return _pick("precision", value, RUN_PRECISIONS)


def _word(value: object) -> str:
    """User text as compared: stripped, lower case; ``None`` and the default words become ``""``."""
    text = "" if value is None else str(value).strip().lower()
    return "" if text in DEFAULT_WORDS else text


@dataclass(frozen=True, slots=True)
class EncoderSetting:
    """How an embedding model runs: which runtime, in which precision, on which device, in batches of how many.

    Parameters
    ----------
    backend
        ``"auto"`` (default): the fastest runtime this machine offers, checked once against fp32 (see
        :func:`~bmb_es.embedding.load_embedder`); ``"torch"``; ``"openvino"`` (CPU only).
    precision
        ``"auto"`` (default), ``"fp32"``, ``"bf16"`` or ``"fp16"``. Explicit values are used as given, unchecked.
    device
        A torch device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, ``"xpu"``; ``None``: sentence-transformers
        chooses (a GPU when torch sees one).
    batch_size
        Texts per encoder batch; ``None``: the embedder's own ``default_batch_size`` (measured per backend and
        device). It plays no part in loading the model.

    Raises
    ------
    SettingError
        A field holds a value bmb-es does not run; the message names the field, the value and the choices.
    """

    backend: Backend = "auto"
    precision: Precision = "auto"
    device: str | None = None
    batch_size: int | None = None

    def __post_init__(self) -> None:
        _pick("backend", self.backend, BACKENDS, _backend_note(self.backend))
        _pick("precision", self.precision, PRECISIONS, " (default: auto)")
        if self.device is not None and not (isinstance(self.device, str) and _DEVICE.fullmatch(self.device)):
            raise SettingError(
                f"device {self.device!r}: give cpu, cuda, cuda:N, mps or xpu (default: auto, a GPU when torch sees one)"
            )
        size = self.batch_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise SettingError(f"batch size {size!r}: {BATCH_SIZE_HINT}")
        if self.backend == "openvino" and self.device is not None and not self.device.startswith("cpu"):
            raise SettingError(
                f"backend openvino runs on the CPU, not on device {self.device!r}: use backend torch or auto there"
            )

    @classmethod
    def parse(
        cls,
        backend: str | None = None,
        precision: str | None = None,
        device: str | None = None,
        batch_size: int | str | None = None,
    ) -> EncoderSetting:
        """The setting that user text asks for (CLI options, script arguments, API keywords).

        Text is stripped and compared in lower case. ``None``, ``""``, ``"default"`` and ``"auto"`` mean the
        field's default: ``auto`` for backend and precision, ``None`` (chosen per model and machine) for device
        and batch size.

        Raises
        ------
        SettingError
            A value bmb-es does not run, named with its field and the choices.
        """
        backend_word, precision_word = _word(backend) or "auto", _word(precision) or "auto"
        return cls(
            backend=_pick("backend", backend_word, BACKENDS, _backend_note(backend_word)),
            precision=_pick("precision", precision_word, PRECISIONS, " (default: auto)"),
            device=_word(device) or None,
            batch_size=_batch_size(batch_size),
        )

    @classmethod
    def from_label(cls, text: str, device: str | None = None, batch_size: int | str | None = None) -> EncoderSetting:
        """``"torch/bf16"`` (``BACKEND/PRECISION``, the form benchmark ``--setting`` options take) as a setting.

        Raises
        ------
        SettingError
            ``text`` is not ``BACKEND/PRECISION`` or names a backend or precision bmb-es does not run.
        """
        backend, sep, precision = text.strip().partition("/")
        usage = (
            f"give BACKEND/PRECISION, backend one of {', '.join(BACKENDS)}, precision one of {', '.join(PRECISIONS)} "
            "(e.g. torch/bf16)"
        )
        if not sep or not backend.strip() or not precision.strip():
            raise SettingError(f"setting {text!r}: {usage}")
        try:
            return cls.parse(backend, precision, device, batch_size)
        except SettingError as error:
            raise SettingError(f"setting {text!r}: {error}; {usage}") from None

    @property
    def label(self) -> str:
        """``"backend/precision"``, as :meth:`from_label` reads it and benchmark results name settings."""
        return f"{self.backend}/{self.precision}"

    @property
    def checked(self) -> bool:
        """Whether loading checks candidates against fp32 (``auto`` in backend or precision) or uses them as given."""
        return "auto" in (self.backend, self.precision)


def _batch_size(value: int | str | None) -> int | None:
    if isinstance(value, str):
        word = _word(value)
        if not word:
            return None
        try:
            return int(word)
        except ValueError:
            raise SettingError(f"batch size {value!r}: {BATCH_SIZE_HINT}") from None
    return value


def resolve_setting(
    setting: EncoderSetting | None,
    *,
    backend: str | None = None,
    precision: str | None = None,
    device: str | None = None,
    batch_size: int | str | None = None,
) -> EncoderSetting:
    """The one setting a call asks for: ``setting`` itself, or one parsed from the loose keyword values.

    For public functions that take both (``setting=`` and the older ``precision=``/``backend=``/``device=``).

    Raises
    ------
    TypeError
        ``setting`` and a loose value were both given: which one wins would be a guess.
    SettingError
        A loose value bmb-es does not run.
    """
    if setting is None:
        return EncoderSetting.parse(backend, precision, device, batch_size)
    loose = {"backend": backend, "precision": precision, "device": device, "batch_size": batch_size}
    given = [f"{name}=" for name, value in loose.items() if value is not None]
    if given:
        raise TypeError(f"give setting= or {', '.join(given)}, not both (setting={setting})")
    return setting
