"""`bmb-es index` as a user runs it: wall time and the summary's docs/s, default settings against fp32 torch.

    python bench/bench_index_cli.py --corpus ../shared/data/bioasq/pubmed --rounds 3

Each round runs, in a fresh process and into a fresh index, ``bmb-es index CORPUS`` with the default settings
(``auto``) and with ``--precision fp32 --backend torch``, alternating so that a shared machine's load hits both
alike. The data dir is a temporary one, prepared once by an untimed first ``auto`` run (the one-off fp32 check
and OpenVINO conversion a first use pays); the timed runs are warm starts, as every later run is. Reports the
median of each figure and the median per-round ratio, and writes ``bench/results/index-cli-<UTC time>.json``
and ``.md``.

``--baseline CHECKOUT`` adds a third setting to each round: ``auto`` run by another checkout of bmb-es (its folder
first on ``PYTHONPATH``), to compare two versions' indexing on the same machine in the same hour:

    git worktree add /tmp/bmb-before <commit>
    python bench/bench_index_cli.py --baseline /tmp/bmb-before
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {"auto": [], "fp32 torch": ["--precision", "fp32", "--backend", "torch"]}
SUMMARY = re.compile(r"read ([\d,]+).*?\(([\d,.]+) docs/s")  # on the output with whitespace collapsed


def run_index(corpus: Path, home: Path, extra: list[str], checkout: Path | None = None) -> tuple[float, int, float]:
    """One ``bmb-es index`` into a fresh index: (wall seconds, documents read, the summary's docs/s).

    ``checkout``: run that checkout's bmb-es instead of the installed one.
    """
    shutil.rmtree(home / "indices", ignore_errors=True)
    command = [sys.executable, "-c", "from bmb_es.cli import main; main()", "index", str(corpus), "--index", "bench"]
    command += extra
    env = {**os.environ, "BMB_ES_HOME": str(home)}
    if checkout is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(checkout), os.environ.get("PYTHONPATH")]))
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    output = " ".join((done.stdout + done.stderr).split())
    match = SUMMARY.search(output)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"bmb-es index failed (exit {done.returncode}): {output[-500:]}")
    return wall, int(match.group(1).replace(",", "")), float(match.group(2).replace(",", ""))


def gpu_name() -> str:
    """The GPU that ``bmb-es index`` would use (its default device)."""
    import torch

    return f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU torch can use"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "bioasq" / "pubmed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default=None, help="Model folder or id (default: the default model)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--baseline", type=Path, default=None, help="Another checkout of bmb-es, run with auto too")
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "bmb_es").is_dir():
        parser.error(f"--baseline {args.baseline}: not a checkout of bmb-es (no bmb_es/ folder)")
    settings: dict[str, tuple[list[str], Path | None]] = {name: (extra, None) for name, extra in SETTINGS.items()}
    if args.baseline is not None:
        settings[f"auto, {args.baseline.resolve().name}"] = ([], args.baseline.resolve())
    from bmb_es.embedding._hardware import cpu_model, gpu_present

    if not args.corpus.exists():
        print(f"error: --corpus {args.corpus}: no such file or folder", file=sys.stderr)
        return 3
    model = ["--model", args.model] if args.model else []
    home = Path(tempfile.mkdtemp(prefix="bench-index-cli-"))
    try:
        first = run_index(args.corpus, home, model)
        print(f"untimed first run (checks and prepares the encoder): {first[0]:.1f} s wall", flush=True)
        if args.baseline is not None:
            run_index(args.corpus, home, model, args.baseline.resolve())  # untimed: the baseline's first run too
        walls: dict[str, list[float]] = {name: [] for name in settings}
        rates: dict[str, list[float]] = {name: [] for name in settings}
        documents = first[1]
        for round_number in range(1, args.rounds + 1):
            for name, (extra, checkout) in settings.items():
                wall, documents, rate = run_index(args.corpus, home, [*model, *extra], checkout)
                walls[name].append(wall)
                rates[name].append(rate)
                print(f"round {round_number} {name}: {rate:.1f} docs/s (summary), {wall:.1f} s wall", flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    from bmb_es.bench.report import envelope, write_results

    options = vars(args) | {"corpus": str(args.corpus), "out": str(args.out), "baseline": str(args.baseline or "")}
    payload = envelope("index-cli", f"python bench/bench_index_cli.py {shlex.join(sys.argv[1:])}", options)
    payload.update({"documents": documents, "wall_seconds": walls, "summary_docs_per_s": rates})
    base = "fp32 torch"
    lines = [
        f"# `bmb-es index` end to end ({payload['created']})",
        "",
        f"Command: `{payload['command']}`",
        f"Machine: {cpu_model()}, {os.cpu_count()} CPUs, {gpu_name() if gpu_present() else 'no GPU'}, Python "
        f"{platform.python_version()}; {documents:,} documents; medians of {args.rounds} alternating rounds.",
        "",
        "| setting | summary docs/s | x fp32 | wall s (process start to exit) | wall docs/s | x fp32 |",
        "|---|---|---|---|---|---|",
    ]
    for name in settings:
        rate_ratio = statistics.median(a / b for a, b in zip(rates[name], rates[base], strict=True))
        wall_ratio = statistics.median(b / a for a, b in zip(walls[name], walls[base], strict=True))
        wall = statistics.median(walls[name])
        lines.append(
            f"| {name} | {statistics.median(rates[name]):.1f} | {rate_ratio:.2f} | {wall:.1f} | "
            f"{documents / wall:.1f} | {wall_ratio:.2f} |"
        )
    report = "\n".join(lines) + "\n"
    json_path, md_path = write_results(args.out, "index-cli", payload, report)
    print(report + f"\nwritten: {json_path}, {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
