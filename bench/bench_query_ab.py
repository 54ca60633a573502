"""Warm query latency of two (or more) checkouts of bmb-es, run alternately on the same machine.

    git worktree add /tmp/bmb-before <commit>
    python bench/bench_query_ab.py --version before=/tmp/bmb-before --version after=. --top-k 20,50

Each version runs in its own process, with its checkout first on ``PYTHONPATH``. It uses its own data dir
(``--home``/<label>), where it indexes ``--corpus`` with its own code (the first time; later runs find every
document unchanged). The versions take turns,
round by round, so that a noisy spell on a shared machine falls on all of them.

In each process, for each question ``q`` (the first ``--questions`` BioASQ golden questions, or lines of
``--questions-file``; a warm-up pass, then ``--passes`` timed passes), in the order ``bmb-es bench speed`` uses:

* ``bm25``: BM25 alone;
* ``full``: BM25 + re-rank of the top k, encoding ``q`` included;
* ``encode``: the encoder alone, on the question two ahead. OpenVINO re-runs its last input's shape faster,
  so the encoder is never timed on the text it has just seen;
* ``given``: the re-ranked search with ``q``'s vector given, right after that encode;
* ``given_again``: the same search at once a second time: its caches are as hot as they can be;
* ``encode_again``: the encoder on the text it has just encoded (how much the last input's shape saves).

Figures are p50 ms: the median of each process's p50s. ``full - encode`` is the issue's target measure (0.5 ms).
Writes ``bench/results/query-ab-<UTC time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
INDEX = "bench-query"
KEYS = ("bm25", "full", "encode", "given", "given_again", "encode_again")


def _questions(args: argparse.Namespace) -> list[str]:
    if args.questions_file is not None:
        lines = args.questions_file.read_text(encoding="utf-8").splitlines()
        return [line.strip() for line in lines if line.strip()][: args.questions]
    from bmb_es.bench.datasets import load_bioasq_golden_docs

    return [text.strip() for text in load_bioasq_golden_docs(args.corpus.parent).queries.values()][: args.questions]


def _child(home: Path, top_k: int, args: argparse.Namespace) -> dict[str, float]:
    """Runs inside a version's process: only APIs that every version since the first release has."""
    import numpy as np

    from bmb_es import EmbeddedEngine, index_path, load_embedder, search
    from bmb_es.bench.speed import Precomputed

    engine = EmbeddedEngine(home)
    model = None if args.model == "default" else args.model
    index_path(args.corpus, engine=engine, index=INDEX, model=model)  # resumes, or finds every document unchanged
    embedder = load_embedder(model or engine.index_meta(INDEX).model)
    texts = _questions(args)
    given = Precomputed(embedder, texts, np.asarray(embedder.embed(texts)))
    samples: dict[str, list[float]] = {key: [] for key in KEYS}
    for number in range(args.passes + 1):
        for position, text in enumerate(texts):
            other = texts[(position + 2) % len(texts)]
            steps: list[tuple[str | None, Callable[[], object]]] = [
                ("bm25", partial(search, engine, INDEX, text, rerank=False, embedder=embedder)),
                ("full", partial(search, engine, INDEX, text, top_k=top_k, embedder=embedder)),
                ("encode", partial(embedder.embed, [other])),
                ("given", partial(search, engine, INDEX, text, top_k=top_k, embedder=given)),
                ("given_again", partial(search, engine, INDEX, text, top_k=top_k, embedder=given)),
                (None, partial(embedder.embed, [other])),  # untimed: now the encoder's last input is `other`
                ("encode_again", partial(embedder.embed, [other])),
            ]
            for key, step in steps:
                started = time.perf_counter()
                step()
                if number and key is not None:  # pass 0 warms up
                    samples[key].append(time.perf_counter() - started)
    return {key: statistics.median(values) * 1000 for key, values in samples.items()}


def _run_version(checkout: Path, home: Path, args: argparse.Namespace, top_k: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(checkout), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(home), str(top_k)]
    command += ["--corpus", str(args.corpus), "--model", args.model]
    command += ["--questions", str(args.questions), "--passes", str(args.passes)]
    if args.questions_file is not None:
        command += ["--questions-file", str(args.questions_file)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        how = f"signal {signal.Signals(-done.returncode).name}" if done.returncode < 0 else f"exit {done.returncode}"
        raise SystemExit(f"{checkout}: the measuring process failed ({how}):\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="append", default=[], help="LABEL=CHECKOUT (repeatable)")
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "bioasq" / "pubmed")
    parser.add_argument("--home", type=Path, default=Path("/tmp/bmb-query-ab"), help="One data dir per label under it")
    parser.add_argument("--top-k", default="20,50")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default="default", help="Indexed and queried with this model (default: the default)")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--questions-file", type=Path, default=None, help="One question per line")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--child", nargs=2, metavar=("HOME", "TOP_K"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        home, top_k = args.child
        print(json.dumps(_child(Path(home), int(top_k), args)))
        return 0
    versions: dict[str, Path] = {}
    for spec in args.version or ["current=."]:
        label, _, checkout = spec.partition("=")
        if not label or not (Path(checkout) / "bmb_es").is_dir():
            parser.error(f"--version {spec!r}: give LABEL=CHECKOUT, a folder holding bmb_es/")
        versions[label] = Path(checkout).resolve()
    sizes = [int(value) for value in args.top_k.split(",")]
    if min(sizes) < 10:
        parser.error("--top-k: each value must be at least 10, the number of hits returned")

    from bmb_es.bench.report import envelope, machine_line, md_table, write_results
    from bmb_es.bench.scripts import command_line

    runs: dict[tuple[str, int], list[dict[str, float]]] = {(label, k): [] for label in versions for k in sizes}
    for number in range(args.rounds):
        for top_k in sizes:
            for label, checkout in versions.items():
                figures = _run_version(checkout, args.home / label, args, top_k)
                runs[(label, top_k)].append(figures)
                shown = ", ".join(f"{key} {value:.3f}" for key, value in figures.items())
                print(f"round {number + 1}/{args.rounds} {label} top-{top_k}: {shown} ms", file=sys.stderr)
    rows: list[list[Any]] = []
    results: list[dict[str, Any]] = []
    for (label, top_k), measured in runs.items():
        median = {key: statistics.median(run[key] for run in measured) for key in KEYS}
        beyond = statistics.median(run["full"] - run["encode"] for run in measured)
        results.append({"version": label, "top_k": top_k, **median, "full_minus_encode": beyond, "runs": measured})
        rows.append([label, top_k, *(round(median[key], 3) for key in KEYS), round(beyond, 3)])
    settings = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    settings["versions"] = {label: str(checkout) for label, checkout in versions.items()}
    payload = envelope("query-ab", command_line("bench_query_ab.py", argv), settings)
    payload["results"] = results
    headers = ["version", "top k", "BM25", "full", "encode", "given", "given again", "encode again", "full - encode"]
    markdown = "\n".join(
        [
            f"## Query latency A/B, {payload['created']}",
            "",
            f"Command: `{payload['command']}`",
            "",
            machine_line(payload),
            "",
            "p50 ms; each figure is the median of the rounds' p50s (see bench/bench_query_ab.py for the order).",
            "",
            md_table(headers, rows),
        ]
    )
    print(markdown)
    json_path, md_path = write_results(args.out, "query-ab", payload, markdown)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
