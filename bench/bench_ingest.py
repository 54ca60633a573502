"""Whole ingest against its writer's ceiling, for each commit policy: where a fast encoder's time goes.

    python bench/bench_ingest.py                                         # the default encoder, CPU
    python bench/bench_ingest.py --device cuda --setting torch/fp16 --copies 4 --rounds 2

For each commit policy (``--commit`` values: a document count, or ``default`` for bmb-es's own pacing of 2,048
documents or 2 s, whichever comes later) and round, in turn:

* **ingest**: :func:`bmb_es._ingest.ingest` of the corpus (``--copies`` times, new ids) into a fresh embedded
  engine with the encoder, as ``bmb-es index`` runs it (read-ahead, embedding overlapped with writing);
* **write-only**: the same ingest with the vectors computed beforehand, so it measures analysing, writing and
  committing alone: the ceiling the encoder cannot lift.

Medians per policy. With a fast encoder (a GPU) ingest approaches the write-only figure; on a CPU encoder the
two differ by the encoder's cost. Writes ``bench/results/ingest-<UTC time>.md``.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bmb_es import BmbError, InputError
from bmb_es._ingest import COMMIT_DOCUMENTS, COMMIT_SECONDS, ingest
from bmb_es.bench.embedding_speed import parse_setting, resolve_device
from bmb_es.bench.report import envelope, machine_line, md_table
from bmb_es.bench.speed import read_documents, scaled
from bmb_es.embedding import Embedder, embed_text, load_embedder
from bmb_es.embedding._hardware import hardware_id
from bmb_es.engines import EmbeddedEngine

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "bioasq" / "pubmed"


class Precomputed:
    """The encoder's vectors, looked up by text: an ingest that costs no encoding."""

    def __init__(self, embedder: Embedder, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.name = embedder.name
        self.dimension = embedder.dimension
        self.max_length = embedder.max_length
        self.backend = getattr(embedder, "backend", None)
        self.precision = getattr(embedder, "precision", None)
        self._vectors = dict(zip(texts, vectors, strict=True))

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return np.stack([self._vectors[text] for text in texts])


def _policy(text: str) -> int | None:
    if text == "default":
        return None
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--model", default="default")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available, else cpu)")
    parser.add_argument("--setting", default="auto/auto", help="backend/precision (default auto/auto)")
    parser.add_argument("--copies", type=int, default=1, help="The corpus this many times, with new ids")
    parser.add_argument("--commit", default="2048,default", help="Commit policies, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    try:
        backend, precision = parse_setting(args.setting)
        policies = [_policy(part.strip()) for part in args.commit.split(",") if part.strip()]
    except ValueError as error:
        parser.error(f"{error} (--commit: document counts or 'default', e.g. 2048,default)")
    if not policies or args.copies < 1 or args.rounds < 1:
        parser.error("need at least one --commit policy, --copies >= 1 and --rounds >= 1")
    try:
        device = resolve_device(args.device)
        documents, _ = read_documents(args.corpus)
        if not documents:
            raise InputError(f"{args.corpus}: no documents to index")
        documents = scaled(documents, len(documents) * args.copies)
        model = None if args.model == "default" else args.model
        embedder = load_embedder(model, device=device, precision=precision, backend=backend)
    except BmbError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    texts = [embed_text(document) for document in documents]
    started = time.perf_counter()
    vectors = np.asarray(embedder.embed(texts))  # also warms the encoder up for every batch shape
    print(f"{len(texts)} documents embedded once in {time.perf_counter() - started:.1f} s", flush=True)
    precomputed = Precomputed(embedder, texts, vectors)
    rates: dict[int | None, dict[str, list[float]]] = {policy: {"ingest": [], "write": []} for policy in policies}
    for round_number in range(args.rounds):
        for policy in policies:
            for kind, encoder in (("ingest", embedder), ("write", precomputed)):
                with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
                    engine = EmbeddedEngine(folder)
                    summary = ingest(documents, engine, "bench", encoder, commit_every=policy)
                    engine.close()
                rate = summary.read / summary.seconds
                rates[policy][kind].append(rate)
                label = policy or "default"
                print(f"round {round_number + 1}, commit {label}, {kind}: {rate:.0f} docs/s", flush=True)
    command = "python bench/bench_ingest.py " + " ".join(shlex.quote(arg) for arg in (argv or sys.argv[1:]))
    payload = envelope("ingest", command.strip(), {})
    rows = [
        [
            f"every {policy:,} documents" if policy else f"default ({COMMIT_DOCUMENTS:,} docs or {COMMIT_SECONDS:g} s)",
            statistics.median(rates[policy]["ingest"]),
            statistics.median(rates[policy]["write"]),
            ", ".join(f"{value:.0f}" for value in rates[policy]["ingest"]),
        ]
        for policy in policies
    ]
    markdown = "\n".join(
        [
            "# Whole ingest and its writer's ceiling, per commit policy",
            "",
            f"`{payload['command']}`",
            "",
            machine_line(payload),
            f"Encoder: {embedder.name}, {getattr(embedder, 'selection', args.setting)} on {hardware_id(device)}. "
            f"{len(documents):,} documents ({args.copies} x the corpus), medians of {args.rounds} rounds.",
            "",
            md_table(["commit", "ingest docs/s", "write-only docs/s", "ingest rounds docs/s"], rows),
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ingest-{payload['created']}.md"
    path.write_text(markdown, encoding="utf-8")
    print(markdown + f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
