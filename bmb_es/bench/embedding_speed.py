"""Every encoder setting (backend/precision) on the same texts in one run: speed, and the quality it costs.

This is the per-setting table of ``bmb-es bench speed``. For each setting this machine can run it reports:

* the encoder alone: docs/s of ``embedder.embed`` over one fixed random sample of the corpus texts, the settings
  interleaved round by round (a shared machine's load hits them alike), the median over rounds, and the median
  of the per-round ratios to torch/fp32; plus the docs/s of the one full pass the quality figures come from;
* the whole ingest: docs/s of :func:`bmb_es.index_path` (read, parse, embed, write, commit) of the first
  documents into a fresh embedded engine, interleaved likewise;
* quality: dense MRR@10 over the BioASQ golden questions (when the corpus is the BioASQ ``pubmed`` folder),
  with the questions embedded by the same setting and with fp32 question vectors (a mixed-setting index);
  the mean and minimum cosine of the document vectors to torch/fp32;
* the warm latency of encoding one question (p50), and what ``auto`` selected (``embedder.selection``).

Everything runs with a fresh temporary ``BMB_ES_HOME`` (restored afterwards), so ``auto`` is checked in this run
as a first use would be, and nothing is written into the user's data dir.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._config import DATA_DIR_ENV
from .._document import Document
from .._errors import BmbError
from .._json import fields_json
from ..embedding import Embedder, EncoderSetting, embed_text, load_embedder
from .embedding_quality import GoldenQuestions, cosine_to_reference, golden_questions, mrr_at_10

Loader = Callable[[str | None, EncoderSetting], Embedder]
Progress = Callable[[str, int, int], None]

REFERENCE = EncoderSetting("torch", "fp32")


class NoGpuError(BmbError, exit_code=2):
    """A CUDA device was asked for on a machine without one."""


@dataclass(slots=True)
class EmbeddingSpeedSettings:
    """What the per-setting comparison measures.

    Parameters
    ----------
    documents
        Corpus documents used (the first N; 0 for all): the quality pass covers them and the samples come from them.
    settings
        Backend/precision settings (device and batch size are the run's); ``None`` for every setting this
        machine can run (:func:`available_settings`). torch/fp32, the reference, is always measured first.
    encode_sample
        Texts encoded per setting per round (the encoder-alone figure).
    ingest_sample
        Documents indexed per setting per round (the whole-ingest figure); 0 skips the ingest runs.
    rounds
        Interleaved speed rounds; medians are reported.
    latency_questions
        Questions encoded one at a time per setting (query-encode p50).
    batch_size
        Texts per encoder batch; ``None`` for each embedder's own default.
    """

    documents: int = 0
    settings: list[EncoderSetting] | None = None
    encode_sample: int = 256
    ingest_sample: int = 512
    rounds: int = 3
    latency_questions: int = 50
    batch_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return fields_json(self, settings=[setting.label for setting in self.settings] if self.settings else None)


def resolve_device(device: str | None) -> str:
    """``device``, or ``cuda`` when torch sees a GPU else ``cpu``.

    Raises
    ------
    NoGpuError
        A CUDA device was asked for and torch sees none.
    """
    import torch

    cuda = bool(torch.cuda.is_available())
    if device is None:
        return "cuda" if cuda else "cpu"
    if device.startswith("cuda") and not cuda:
        raise NoGpuError(
            f"--device {device}: no GPU on this machine (torch.cuda.is_available() is False); "
            "GPU figures not measured, run this on a GPU machine"
        )
    return device


def available_settings(device: str) -> list[EncoderSetting]:
    """Every setting ``device`` can run, torch/fp32 first and ``auto/auto`` last.

    CUDA: torch fp32, fp16 and bf16. CPU: torch fp32, OpenVINO fp32 when it is installed, and the bf16 of each
    only on CPUs with fast bf16 (AMX/AVX-512 BF16; without them bf16 is emulated and slower than fp32).
    """
    from ..embedding._hardware import cpu_has_fast_bf16
    from ..embedding._openvino import openvino_available

    auto = EncoderSetting()
    if device.startswith("cuda"):
        return [REFERENCE, EncoderSetting("torch", "fp16"), EncoderSetting("torch", "bf16"), auto]
    settings = [REFERENCE, EncoderSetting("torch", "bf16")]
    if openvino_available():
        settings += [EncoderSetting("openvino", "fp32"), EncoderSetting("openvino", "bf16")]
    if not cpu_has_fast_bf16():
        settings = [setting for setting in settings if setting.precision != "bf16"]
    return [*settings, auto]


def settings_to_run(device: str, asked: Sequence[EncoderSetting] | None) -> list[EncoderSetting]:
    """The settings measured: ``asked`` (or every available one) without repeats, the reference first."""
    chosen = list(asked) if asked else available_settings(device)
    return list(dict.fromkeys([REFERENCE, *chosen]))


def median_ratio(values: Sequence[float], base: Sequence[float]) -> float:
    """The median over rounds of ``values[i] / base[i]`` (each round's ratio, so load shifts cancel)."""
    if not values or len(values) != len(base):
        raise ValueError("median_ratio: need one base value per round")
    return statistics.median(mine / theirs for mine, theirs in zip(values, base, strict=True))


@contextmanager
def fresh_data_dir() -> Iterator[Path]:
    """A new empty ``$BMB_ES_HOME`` for the duration; the variable is restored and the folder removed after."""
    previous = os.environ.get(DATA_DIR_ENV)
    home = Path(tempfile.mkdtemp(prefix="bmb-settings-home-"))
    os.environ[DATA_DIR_ENV] = str(home)
    try:
        yield home
    finally:
        if previous is None:
            os.environ.pop(DATA_DIR_ENV, None)
        else:
            os.environ[DATA_DIR_ENV] = previous
        shutil.rmtree(home, ignore_errors=True)


@dataclass(slots=True)
class _Loaded:
    """A setting that loaded: its embedder and the batch size it runs with."""

    label: str
    embedder: Embedder
    batch_size: int


@dataclass(slots=True)
class _Reference:
    """torch/fp32's document and question vectors."""

    documents: np.ndarray
    questions: np.ndarray | None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _quality(
    row: dict[str, Any],
    loaded: _Loaded,
    texts: Sequence[str],
    ids: Sequence[str],
    golden: GoldenQuestions | None,
    reference: _Reference | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One full pass over ``texts`` (timed) and the quality figures; returns the document and question vectors."""
    embedder, batch = loaded.embedder, loaded.batch_size
    embedder.embed(list(texts[:batch]), batch_size=batch)  # warm-up: first-call compilation, caches
    started = time.perf_counter()
    vectors = np.asarray(embedder.embed(list(texts), batch_size=batch))
    row["full_pass_docs_per_s"] = round(len(texts) / (time.perf_counter() - started), 1)
    questions = np.asarray(embedder.embed(golden.bodies, batch_size=batch)) if golden else None
    if golden is not None and questions is not None:
        row["mrr10"] = round(mrr_at_10(questions, vectors, ids, golden.relevant), 4)
    if reference is not None:
        mean, low = cosine_to_reference(vectors, reference.documents)
        row["cos_to_fp32_mean"] = round(mean, 6)
        row["cos_to_fp32_min"] = round(low, 6)
        if golden is not None and reference.questions is not None:
            row["mrr10_fp32_queries"] = round(mrr_at_10(reference.questions, vectors, ids, golden.relevant), 4)
    return vectors, questions


QUALITY_KEYS = ("mrr10", "mrr10_fp32_queries", "cos_to_fp32_mean", "cos_to_fp32_min")


def _load_and_measure_quality(
    settings_list: Sequence[EncoderSetting],
    model: str | None,
    texts: Sequence[str],
    ids: Sequence[str],
    golden: GoldenQuestions | None,
    loader: Loader,
    report: Progress,
) -> tuple[dict[str, dict[str, Any]], list[_Loaded]]:
    """Load every setting (each with the run's device and batch size; a failure is a row with its reason) and run
    its full quality pass."""
    rows: dict[str, dict[str, Any]] = {}
    loaded: list[_Loaded] = []
    measured: dict[str, str] = {}  # backend/precision actually run -> the label whose vectors it produced
    reference: _Reference | None = None
    label_for_progress = "settings: load + quality pass"
    for position, setting in enumerate(settings_list):
        report(label_for_progress, position, len(settings_list))
        label = setting.label
        try:
            started = time.perf_counter()
            embedder = loader(model, setting)
            load_seconds = time.perf_counter() - started
        except Exception as error:  # a setting this machine cannot run is reported, never fatal
            rows[label] = {"setting": label, "error": _first_line(error)}
            continue
        actual = f"{embedder.backend}/{embedder.precision}"
        batch = setting.batch_size or embedder.default_batch_size
        row: dict[str, Any] = {
            "setting": label,
            "runs_as": actual,
            "selected": embedder.selection,
            "load_s": round(load_seconds, 2),
            "batch_size": batch,
        }
        rows[label] = row
        loaded.append(_Loaded(label, embedder, batch))
        if actual in measured:  # auto picked a setting measured above: the same vectors, the same quality
            row["same_vectors_as"] = measured[actual]
            row.update({key: rows[measured[actual]][key] for key in QUALITY_KEYS if key in rows[measured[actual]]})
            continue
        try:
            vectors, questions = _quality(row, loaded[-1], texts, ids, golden, reference)
        except Exception as error:  # loaded but cannot encode here (e.g. out of memory): reported like a failed load
            rows[label] = {"setting": label, "error": f"failed while encoding: {_first_line(error)}"}
            loaded.pop()
            continue
        measured[actual] = label
        if reference is None and label == REFERENCE.label and actual == REFERENCE.label:
            reference = _Reference(vectors, questions)
            row.update({"cos_to_fp32_mean": 1.0, "cos_to_fp32_min": 1.0})
            if "mrr10" in row:
                row["mrr10_fp32_queries"] = row["mrr10"]
    report(label_for_progress, len(settings_list), len(settings_list))
    return rows, loaded


def _write_ingest_sample(documents: Sequence[Document], folder: Path) -> Path:
    """The documents as JSON Lines (their stored ``_source``), for :func:`bmb_es.index_path` to read and parse."""
    path = folder / "ingest-sample.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for document in documents:
            handle.write(json.dumps(document.to_source(), ensure_ascii=False) + "\n")
    return path


def _interleaved_rounds(
    loaded: Sequence[_Loaded],
    sample: Sequence[str],
    ingest_file: Path | None,
    rounds: int,
    work: Path,
    report: Progress,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Encoder-alone and whole-ingest docs/s per setting per round, every setting once per round."""
    from .._api import index_path
    from ..engines import EmbeddedEngine

    encode: dict[str, list[float]] = {item.label: [] for item in loaded}
    ingest: dict[str, list[float]] = {item.label: [] for item in loaded}
    total, done = rounds * len(loaded), 0
    for round_number in range(rounds):
        for item in loaded:
            report("settings: interleaved rounds", done, total)
            started = time.perf_counter()
            item.embedder.embed(list(sample), batch_size=item.batch_size)
            encode[item.label].append(len(sample) / (time.perf_counter() - started))
            if ingest_file is not None:
                folder = work / f"engine-{item.label.replace('/', '-')}-{round_number}"
                engine = EmbeddedEngine(folder)
                started = time.perf_counter()
                summary = index_path(
                    ingest_file,
                    engine=engine,
                    index="bench",
                    embedder=item.embedder,
                    batch_size=item.batch_size,
                    reject_log=work / "rejects.jsonl",
                )
                ingest[item.label].append(summary.read / (time.perf_counter() - started))
                engine.close()
                shutil.rmtree(folder, ignore_errors=True)
            done += 1
    report("settings: interleaved rounds", total, total)
    return encode, ingest


def _question_latency(loaded: Sequence[_Loaded], questions: Sequence[str], report: Progress) -> dict[str, float]:
    """Median ms to encode one question, per setting (after one warm-up question)."""
    out: dict[str, float] = {}
    for position, item in enumerate(loaded):
        report("settings: question encode", position, len(loaded))
        item.embedder.embed([questions[0]])  # warm: single-text paths may compile on first use
        times = []
        for question in questions:
            started = time.perf_counter()
            item.embedder.embed([question])
            times.append((time.perf_counter() - started) * 1000)
        out[item.label] = round(statistics.median(times), 2)
    report("settings: question encode", len(loaded), len(loaded))
    return out


def _summarise(rows: dict[str, dict[str, Any]], encode: dict[str, list[float]], ingest: dict[str, list[float]]) -> None:
    """Medians, ratios to torch/fp32 and the MRR@10 delta, written into ``rows``."""
    base = REFERENCE.label
    reference = rows.get(base, {})
    for label, runs in encode.items():
        row = rows[label]
        row["encoder_rounds_docs_per_s"] = [round(value, 2) for value in runs]
        row["encoder_docs_per_s"] = round(statistics.median(runs), 1)
        if ingest[label]:
            row["ingest_rounds_docs_per_s"] = [round(value, 2) for value in ingest[label]]
            row["ingest_docs_per_s"] = round(statistics.median(ingest[label]), 1)
        if base in encode:
            row["encoder_ratio"] = round(median_ratio(runs, encode[base]), 3)
            if ingest[label] and ingest[base]:
                row["ingest_ratio"] = round(median_ratio(ingest[label], ingest[base]), 3)
        if "mrr10" in row and "mrr10" in reference:
            row["mrr10_delta"] = round(row["mrr10"] - reference["mrr10"], 4)


def _load(model: str | None, setting: EncoderSetting) -> Embedder:
    return load_embedder(model, setting=setting)


def run_embedding_speed(
    documents: Sequence[Document],
    corpus: Path,
    model: str | None,
    device: str | None,
    questions: Sequence[str],
    settings: EmbeddingSpeedSettings,
    progress: Progress | None = None,
    loader: Loader | None = None,
) -> dict[str, Any]:
    """Measure every setting on the same texts; the ``embedding_settings`` block of a ``bench speed`` result.

    Parameters
    ----------
    documents
        The corpus as the product reads it.
    corpus
        Its path: golden questions (MRR@10) exist only for the BioASQ ``pubmed`` folder.
    model
        ``None``/``"default"`` or a model path or id, as :func:`bmb_es.embedding.load_embedder` takes it.
    device
        ``cpu``, ``cuda``, ``cuda:N``, or ``None`` (a GPU when torch sees one).
    questions
        Question texts for the query-encode latency.
    settings
        What to measure.
    progress
        ``(label, done, total)`` callback.
    loader
        ``(model, setting) -> Embedder``, :func:`~bmb_es.embedding.load_embedder` by default; tests pass a fake.

    Raises
    ------
    NoGpuError
        ``device`` is CUDA and torch sees no GPU.
    """
    report = progress or (lambda label, done, total: None)
    load = loader or _load
    device = resolve_device(device)
    used = list(documents[: settings.documents] if settings.documents else documents)
    ids = [document.id for document in used]
    texts = [embed_text(document) for document in used]
    found = golden_questions(corpus, ids)
    golden = found if isinstance(found, GoldenQuestions) else None
    to_run = [
        replace(setting, device=device, batch_size=settings.batch_size)
        for setting in settings_to_run(device, settings.settings)
    ]
    with fresh_data_dir() as home:
        rows, loaded = _load_and_measure_quality(to_run, model, texts, ids, golden, load, report)
        rng = np.random.default_rng(0)
        count = min(settings.encode_sample, len(texts))
        sample = [texts[int(position)] for position in rng.choice(len(texts), count, replace=False)]
        work = home / "bench-work"
        work.mkdir()
        ingest_file = _write_ingest_sample(used[: settings.ingest_sample], work) if settings.ingest_sample else None
        encode, ingest = _interleaved_rounds(loaded, sample, ingest_file, settings.rounds, work, report)
        _summarise(rows, encode, ingest)
        asked_questions = list(questions[: settings.latency_questions])
        if asked_questions:
            for label, ms in _question_latency(loaded, asked_questions, report).items():
                rows[label]["query_encode_ms_p50"] = ms
    from ..embedding._hardware import hardware_id

    return {
        "device": device,
        "hardware": hardware_id(device),
        "model": model or "default",
        "reference": REFERENCE.label,
        "documents": len(used),
        "corpus_documents": len(documents),
        "questions": len(golden.bodies) if golden else 0,
        "quality": golden.description if golden else None,
        "quality_unavailable": None if golden else str(found),
        "encode_sample": count,
        "ingest_sample": min(settings.ingest_sample, len(used)),
        "rounds": settings.rounds,
        "latency_questions": len(asked_questions),
        "rows": list(rows.values()),
    }
