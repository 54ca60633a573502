"""Every encoder setting (backend/precision) on the same texts, speed and quality, without the per-size runs.

    python bench/bench_embedding.py --corpus ../shared/data/bioasq/pubmed       # CPU (or the GPU when torch sees one)
    python bench/bench_embedding.py --corpus ... --device cuda                  # on a GPU machine

A thin wrapper of the per-setting comparison that every ``bmb-es bench speed`` run includes (library:
``bmb_es/bench/embedding_speed.py``; the same as ``bmb-es bench speed --setting ... --device ... --compare-docs N``
minus the per-size table). It writes ``bench/results/embedding-<UTC time>.json``, ``.md`` and ``.png``
(``bmb-es bench render`` re-renders them). MRR@10 needs the BioASQ ``pubmed`` folder as the corpus (its golden
JSONs in ``../golden``). Without a GPU, ``--device cuda`` says so and exits 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from bmb_es import BmbError
from bmb_es.bench.embedding_speed import EmbeddingSpeedSettings
from bmb_es.bench.render import plot_speed, render_speed
from bmb_es.bench.report import envelope, write_results
from bmb_es.bench.speed import SpeedSettings, run_speed
from bmb_es.embedding import EncoderSetting

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "bioasq" / "pubmed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--model", default="default")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available, else cpu)")
    parser.add_argument("--limit", type=int, default=0, help="Use only the first N documents (0: all)")
    parser.add_argument("--batch-size", type=int, default=None, help="Default: each embedder's own")
    parser.add_argument("--setting", action="append", help="backend/precision, repeatable (default: all available)")
    parser.add_argument("--no-ingest", action="store_true", help="Skip the whole-ingest runs")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved speed rounds (medians are reported)")
    parser.add_argument("--sample", type=int, default=256, help="Texts encoded per setting per speed round")
    parser.add_argument("--ingest-sample", type=int, default=512, help="Documents indexed per setting per round")
    parser.add_argument("--latency-questions", type=int, default=50)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    try:
        asked = [EncoderSetting.from_label(item) for item in args.setting or []]
    except ValueError as error:  # a SettingError
        parser.error(str(error))
    settings = SpeedSettings(
        corpus=args.corpus,
        sizes=[],
        model=args.model,
        queries=args.latency_questions,
        repeats=args.rounds,
        device=args.device,
        embedding=EmbeddingSpeedSettings(
            settings=asked or None,
            documents=args.limit,
            encode_sample=args.sample,
            ingest_sample=0 if args.no_ingest else args.ingest_sample,
            rounds=args.rounds,
            latency_questions=args.latency_questions,
            batch_size=args.batch_size,
        ),
    )
    command = "python bench/bench_embedding.py " + " ".join(shlex.quote(arg) for arg in (argv or sys.argv[1:]))
    payload = envelope("embedding", command.strip(), settings.to_json())
    try:
        payload.update(run_speed(settings))
    except BmbError as error:  # no GPU for --device cuda (exit 2), a corpus or model that cannot be read
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    markdown = render_speed(payload)
    json_path, md_path = write_results(args.out, "embedding", payload, markdown)
    png = plot_speed(payload, json_path.with_suffix(".png"))
    print(markdown)
    print(f"wrote {json_path}, {md_path}, {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
