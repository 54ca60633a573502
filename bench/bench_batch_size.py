"""Encoder docs/s per batch size on this machine: how the embedders' default batch sizes are chosen.

    python bench/bench_batch_size.py                                        # the default (auto) encoder, CPU
    python bench/bench_batch_size.py --device cuda --setting torch/fp16 --sizes 64,128,256,512,1024
    python bench/bench_batch_size.py --setting openvino/bf16 --sizes 8,16,32,64

Every size encodes the same texts (the first ``--limit`` documents of ``--corpus``, as ``bmb-es index`` builds
their embedding text) once per round, in rotated order; medians, ratio to the fastest, peak GPU memory on a GPU,
and the docs/s of tokenising alone. Writes ``bench/results/batch-size-<UTC time>.json`` and ``.md``. Library:
``bmb_es/bench/batch_size.py``. Without a GPU, ``--device cuda`` says so and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bmb_es import BmbError
from bmb_es.bench.batch_size import render_batch_sizes, sweep_batch_sizes
from bmb_es.bench.report import envelope, write_results
from bmb_es.bench.scripts import add_encoder_options, check_setting, command_line, open_encoder
from bmb_es.embedding import embed_text
from bmb_es.embedding._hardware import hardware_id

REPO = Path(__file__).resolve().parents[1]


def _sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise ValueError("--sizes: give comma-separated batch sizes, each at least 1 (e.g. 16,32,64)")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_encoder_options(parser, REPO)
    parser.add_argument("--sizes", default="8,16,32,64,128", help="Batch sizes, comma-separated")
    parser.add_argument("--limit", type=int, default=1024, help="Texts encoded per size per round (0: all)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    setting = check_setting(parser, args)
    try:
        sizes = _sizes(args.sizes)
    except ValueError as error:
        parser.error(str(error))
    try:
        encoder = open_encoder(args, setting)
    except BmbError as error:  # no GPU for --device cuda (exit 2), a corpus or model that cannot be read
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    documents = encoder.documents[: args.limit] if args.limit else encoder.documents
    texts = [embed_text(document) for document in documents]
    embedder = encoder.embedder
    settings = vars(args) | {"corpus": str(args.corpus), "out": str(args.out)}
    payload = envelope("batch-size", command_line("bench_batch_size.py", argv), settings)
    payload["hardware"] = hardware_id(encoder.device)
    payload["embedder"] = f"{embedder.name}, {embedder.selection}"
    payload["batch_sizes"] = sweep_batch_sizes(embedder, texts, sizes, args.rounds, encoder.device)
    markdown = render_batch_sizes(payload)
    json_path, md_path = write_results(args.out, "batch-size", payload, markdown)
    print(markdown)
    print(f"wrote {json_path}, {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
