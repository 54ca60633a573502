"""What tantivy segments and empty text fields cost a BM25 search on the embedded engine.

    python bench/bench_segments.py --segments 1,2,4,8

For each segment count, the corpus (default: the BioASQ abstracts) is written into a fresh index with one commit
per segment (random vectors: BM25 does not read them), then the first ``--questions`` BioASQ golden questions (or
lines of ``--questions-file``) are searched (BM25 only, the canonical ``multi_match`` over title, abstract and
body), ``--passes`` timed passes after a warm-up. Each state is timed two ways, in the same process:

* ``all fields``: the index's ``text_fields.json`` removed, so every query word is also looked up in ``body``,
  which no abstract has (what indices written before that file do);
* ``recorded fields``: the file as written, so ``body`` is left out.

The last row is the same index after :meth:`~bmb_es.EmbeddedEngine.optimize`. Figures are p50 µs of
``EmbeddedEngine.search`` (the whole call: parsing the body, the tantivy search, reading the hits' sources).
Writes ``bench/results/segments-<UTC time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bmb_es import Document, EmbeddedEngine, IndexMeta, build_query
from bmb_es.bench.datasets import load_bioasq_golden_docs
from bmb_es.bench.report import envelope, machine_line, md_table, write_results
from bmb_es.bench.scripts import command_line
from bmb_es.engines import IndexedDocument
from bmb_es.engines.embedded._store import FIELDS_FILE
from bmb_es.readers import iter_corpus, plan_corpus

REPO = Path(__file__).resolve().parents[1]
INDEX = "segments"


def _p50_us(engine: EmbeddedEngine, bodies: list[dict[str, Any]], passes: int) -> float:
    for body in bodies:  # warm-up
        engine.search(INDEX, body)
    samples = []
    for _ in range(passes):
        for body in bodies:
            started = time.perf_counter()
            engine.search(INDEX, body)
            samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def _both(home: Path, bodies: list[dict[str, Any]], passes: int) -> tuple[float, float]:
    """(all fields, recorded fields) p50 µs on the index in ``home``."""
    recorded = _p50_us(EmbeddedEngine(home), bodies, passes)
    fields_file = home / "indices" / INDEX / FIELDS_FILE
    kept = fields_file.read_bytes()
    fields_file.unlink()
    every = _p50_us(EmbeddedEngine(home), bodies, passes)
    fields_file.write_bytes(kept)
    return every, recorded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "bioasq" / "pubmed")
    parser.add_argument("--segments", default="1,2,4,8", help="Segment counts, comma-separated")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--questions-file", type=Path, default=None, help="One question per line (else BioASQ's)")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    counts = [int(item) for item in args.segments.split(",")]
    documents = [record for record in iter_corpus(plan_corpus(args.corpus)) if isinstance(record, Document)]
    if args.questions_file is not None:
        questions = args.questions_file.read_text(encoding="utf-8").splitlines()
    else:
        questions = list(load_bioasq_golden_docs(args.corpus.parent).queries.values())
    questions = [question for question in questions if question.strip()][: args.questions]
    bodies = [build_query(question.strip(), size=10) for question in questions]
    vectors = np.random.default_rng(0).standard_normal((len(documents), 384)).astype(np.float32)
    rows: list[list[Any]] = []
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="bmb-segments-") as tmp:
            home = Path(tmp)
            engine = EmbeddedEngine(home)
            engine.create_index(INDEX, IndexMeta("random-vectors", 384))
            for part in np.array_split(np.arange(len(documents)), count):  # one commit, one segment
                items = [IndexedDocument(documents[i], documents[i].content_hash(), vectors[i]) for i in part]
                engine.upsert(INDEX, items)
                engine.commit(INDEX)
            segments = engine.segments(INDEX)
            engine.close()
            rows.append([count, segments, *(round(value, 1) for value in _both(home, bodies, args.passes))])
            if count == max(counts):
                engine = EmbeddedEngine(home)
                engine.optimize(INDEX)
                after = engine.segments(INDEX)
                engine.close()
                rows.append([f"{count}, optimized", after, *(round(v, 1) for v in _both(home, bodies, args.passes))])
        print(rows[-1], file=sys.stderr)
    settings = {"corpus": str(args.corpus), "documents": len(documents), "questions": len(bodies)}
    settings["passes"] = args.passes
    payload = envelope("segments", command_line("bench_segments.py", argv), settings)
    payload["rows"] = rows
    headers = ["commits", "segments", "BM25 search p50 µs, all fields", "p50 µs, recorded fields"]
    markdown = (
        f"## Segments and text fields (`bench/bench_segments.py`), {payload['created']}\n\n"
        f"Command: `{payload['command']}`\n\n{machine_line(payload)}\n\n"
        f"{len(documents)} documents, {len(bodies)} questions x {args.passes} passes; `EmbeddedEngine.search`, "
        f"BM25 only (title^2, abstract, body), p50 µs.\n\n" + md_table(headers, rows)
    )
    json_path, md_path = write_results(args.out, "segments", payload, markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
