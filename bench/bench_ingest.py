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
two differ by the encoder's cost. Writes ``bench/results/ingest-<UTC time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bmb_es import BmbError
from bmb_es._ingest import COMMIT_DOCUMENTS, COMMIT_SECONDS, ingest
from bmb_es.bench.report import envelope, machine_line, md_table, write_results
from bmb_es.bench.scripts import add_encoder_options, check_setting, command_line, open_encoder
from bmb_es.bench.speed import Precomputed, scaled
from bmb_es.embedding import embed_text
from bmb_es.embedding._hardware import hardware_id
from bmb_es.engines import EmbeddedEngine

REPO = Path(__file__).resolve().parents[1]


def _policy(text: str) -> int | None:
    if text == "default":
        return None
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _label(policy: int | None) -> str:
    return f"every {policy:,} documents" if policy else f"default ({COMMIT_DOCUMENTS:,} docs or {COMMIT_SECONDS:g} s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_encoder_options(parser, REPO)
    parser.add_argument("--copies", type=int, default=1, help="The corpus this many times, with new ids")
    parser.add_argument("--commit", default="2048,default", help="Commit policies, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    setting = check_setting(parser, args)
    try:
        policies = [_policy(part.strip()) for part in args.commit.split(",") if part.strip()]
    except ValueError as error:
        parser.error(f"{error} (--commit: document counts or 'default', e.g. 2048,default)")
    if not policies or args.copies < 1 or args.rounds < 1:
        parser.error("need at least one --commit policy, --copies >= 1 and --rounds >= 1")
    try:
        encoder = open_encoder(args, setting)
    except BmbError as error:  # no GPU for --device cuda (exit 2), a corpus or model that cannot be read
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    embedder = encoder.embedder
    documents = scaled(encoder.documents, len(encoder.documents) * args.copies)
    texts = [embed_text(document) for document in documents]
    started = time.perf_counter()
    vectors = np.asarray(embedder.embed(texts))  # also warms the encoder up for every batch shape
    print(f"{len(texts)} documents embedded once in {time.perf_counter() - started:.1f} s", flush=True)
    precomputed = Precomputed(embedder, texts, vectors)
    rates: dict[int | None, dict[str, list[float]]] = {policy: {"ingest": [], "write": []} for policy in policies}
    for round_number in range(args.rounds):
        for policy in policies:
            for kind, encoding in (("ingest", embedder), ("write", precomputed)):
                with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
                    engine = EmbeddedEngine(folder)
                    summary = ingest(documents, engine, "bench", encoding, commit_every=policy)
                    engine.close()
                rate = summary.read / summary.seconds
                rates[policy][kind].append(rate)
                print(f"round {round_number + 1}, commit {policy or 'default'}, {kind}: {rate:.0f} docs/s", flush=True)
    settings = vars(args) | {"corpus": str(args.corpus), "out": str(args.out)}
    payload = envelope("ingest", command_line("bench_ingest.py", argv), settings)
    payload["hardware"] = hardware_id(encoder.device)
    payload["embedder"] = f"{embedder.name}, {embedder.selection}"
    payload["documents"] = len(documents)
    payload["policies"] = [
        {
            "commit": _label(policy),
            "commit_every": policy,
            "ingest_docs_per_s": runs["ingest"],
            "write_docs_per_s": runs["write"],
        }
        for policy, runs in rates.items()
    ]
    rows = [
        [row["commit"], statistics.median(row["ingest_docs_per_s"]), statistics.median(row["write_docs_per_s"]),
         ", ".join(f"{value:.0f}" for value in row["ingest_docs_per_s"])]
        for row in payload["policies"]
    ]  # fmt: skip
    markdown = "\n".join(
        [
            "# Whole ingest and its writer's ceiling, per commit policy",
            "",
            f"`{payload['command']}`",
            "",
            machine_line(payload),
            f"Encoder: {payload['embedder']} on {payload['hardware']}. "
            f"{len(documents):,} documents ({args.copies} x the corpus), medians of {args.rounds} rounds.",
            "",
            md_table(["commit", "ingest docs/s", "write-only docs/s", "ingest rounds docs/s"], rows),
        ]
    )
    json_path, md_path = write_results(args.out, "ingest", payload, markdown)
    print(markdown + f"\nwrote {json_path}, {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
