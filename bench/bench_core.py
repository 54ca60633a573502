"""Core speed and sanity figures on the 2,753 BioASQ PubMed abstracts.

    python -m bench.bench_core [--corpus ../shared/data/bioasq/pubmed] [--repeats 3]

Indexes the corpus through the product (``bmb_es.ingest`` into an embedded engine) and reports
(1) ingest throughput in docs/s, (2) warm query latency for BM25 alone and BM25 + re-rank, and
(3) the fraction of golden questions (``golden_question_documents.tsv``, questions whose documents are in the
corpus) that find one of their own abstracts in the top 10, with re-rank and with BM25 alone.
It is ``bmb-es bench speed --sizes <corpus size> --no-compare`` with a short summary (the per-setting
comparison is ``bench/bench_embedding.py``); results land in ``bench/results``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from bmb_es.bench.render import plot_speed, render_speed
from bmb_es.bench.report import envelope, write_results
from bmb_es.bench.speed import SpeedSettings, read_documents, run_speed

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "bioasq" / "pubmed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--model", default="default")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus folder not found: {args.corpus}", file=sys.stderr)
        return 2
    size = len(read_documents(args.corpus)[0])
    settings = SpeedSettings(
        corpus=args.corpus, sizes=[size], model=args.model, queries=args.queries, repeats=args.repeats, top_k=args.top_k
    )
    command = "python -m bench.bench_core " + " ".join(shlex.quote(arg) for arg in (argv or sys.argv[1:]))
    payload = envelope("core", command.strip(), settings.to_json())
    payload.update(run_speed(settings))
    markdown = render_speed(payload)
    json_path, md_path = write_results(args.out, "core", payload, markdown)
    plot_speed(payload, json_path.with_suffix(".png"))
    run = payload["runs"][0]
    golden = payload["golden_top10"] or {}
    print(f"(1) ingest: {run['ingest_docs_per_s']} docs/s for {size} abstracts (read+embed+write)")
    print(
        f"(2) warm latency p50/p95: BM25 {run['bm25']['p50_ms']}/{run['bm25']['p95_ms']} ms, "
        f"BM25+re-rank {run['rerank']['p50_ms']}/{run['rerank']['p95_ms']} ms "
        f"(question encode {run['encode']['p50_ms']} ms p50)"
    )
    if golden:
        print(
            f"(3) golden questions with an own abstract in the top 10 ({golden['questions']} questions): "
            f"re-rank {golden['rerank']:.3f}, BM25 alone {golden['bm25']:.3f}"
        )
    print(f"results: {json_path}, {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
