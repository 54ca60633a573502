"""Warm latency of a search through ``bmb-es serve``'s JSON API against ``bmb_es.search()`` itself.

    python bench/bench_serve.py                          # the 2,753 BioASQ abstracts, 50 golden questions
    python bench/bench_serve.py --limit 500 --passes 3 --mode bm25

One process, one index, one engine object, one embedder (the index's model, loaded once, as ``bmb-es serve``
loads it): the server (:func:`bmb_es.serve.create_app` under uvicorn, on 127.0.0.1, in a thread of this process)
and the direct calls share them. For each question, in turn, ``search()`` is called and the same search is asked
of ``GET /api/search`` over one kept-alive HTTP connection (timed until the whole response body is read), so a
noisy spell of a shared machine falls on both (each goes first for a third of the questions). A warm-up pass
first, then ``--passes`` timed passes.

``search()`` is timed on a worker thread, as the server runs it, and also on the main thread, for comparison.

Prints p50 and p90 of each, and the p50 of the per-question difference (API minus ``search()`` on a worker
thread): the issue's target is that the API adds at most 2 ms. ``--json PATH`` also writes every figure there.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "data" / "bioasq" / "pubmed" / "pubmed_abstracts.jsonl"
INDEX = "bench-serve"


def _questions(corpus: Path, count: int) -> list[str]:
    """The first ``count`` BioASQ golden questions (4B, then 5B, ...) of the data set ``corpus`` belongs to."""
    golden = corpus.parent.parent / "golden"
    texts: list[str] = []
    for path in sorted(golden.glob("*_golden.json")):
        texts.extend(str(item["body"]).strip() for item in json.loads(path.read_text(encoding="utf-8"))["questions"])
    if not texts:
        raise SystemExit(f"error: no BioASQ golden questions in {golden}")
    return texts[:count]


def _corpus(path: Path, limit: int, folder: Path) -> Path:
    """``path``, or its first ``limit`` lines as a file in ``folder``."""
    if limit <= 0:
        return path
    part = folder / f"first-{limit}.jsonl"
    if not part.exists():
        with path.open(encoding="utf-8") as lines:
            part.write_text("".join(line for _, line in zip(range(limit), lines, strict=False)), encoding="utf-8")
    return part


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class _Server:
    """uvicorn serving ``app`` on a free port of 127.0.0.1, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        # IPPROTO_TCP named, as bmb-es serve does: asyncio then sets TCP_NODELAY (else 40 ms of delayed ACK a request).
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = int(self.listener.getsockname()[1])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.listener]}, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start in 30 s")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.listener.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="BioASQ pubmed_abstracts.jsonl")
    parser.add_argument("--limit", type=int, default=0, help="Index only the first N abstracts (0: all).")
    parser.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "bmb-es-bench-serve")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--mode", default="rerank", choices=["rerank", "paper", "bm25", "dense", "hybrid"])
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--top-k", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures to this file.")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"error: {args.corpus} not found (give --corpus)", file=sys.stderr)
        return 2

    from bmb_es import EmbeddedEngine, EncoderSetting, index_path, load_embedder, search
    from bmb_es.serve import create_app

    args.home.mkdir(parents=True, exist_ok=True)
    engine = EmbeddedEngine(args.home)
    summary = index_path(_corpus(args.corpus, args.limit, args.home), engine=engine, index=INDEX)
    documents = engine.count(INDEX)
    print(f"index {INDEX}: {documents:,} documents ({summary.indexed} new)", file=sys.stderr)
    embedder = load_embedder(engine.index_meta(INDEX).model, setting=EncoderSetting.parse(device="cpu"))
    questions = _questions(args.corpus, args.questions)
    direct: list[float] = []
    main_thread: list[float] = []
    api: list[float] = []
    differences: list[float] = []

    def timed_search(question: str) -> tuple[Any, float]:
        started = time.perf_counter()
        found = search(engine, INDEX, question, mode=args.mode, size=args.size, top_k=args.top_k, embedder=embedder)
        return found, time.perf_counter() - started

    worker = ThreadPoolExecutor(max_workers=1)
    with _Server(create_app(engine, INDEX, embedder)) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

        def timed_api(question: str) -> tuple[list[str], float]:
            query = urlencode({"q": question, "mode": args.mode, "size": args.size, "top_k": args.top_k})
            started = time.perf_counter()
            connection.request("GET", f"/api/search?{query}")
            response = connection.getresponse()
            payload = response.read()
            seconds = time.perf_counter() - started
            if response.status != 200:
                raise RuntimeError(f"/api/search answered {response.status}: {payload[:300]!r}")
            return [hit["id"] for hit in json.loads(payload)["hits"]], seconds

        for number in range(args.passes + 1):
            for position, question in enumerate(questions):
                times: dict[str, float] = {}
                # Each of the three goes first for a third of the questions: OpenVINO encodes the shape it has just
                # encoded faster, which would otherwise favour whichever came second.
                order = ["main", "worker", "api"]
                for step in order[position % 3 :] + order[: position % 3]:
                    if step == "main":
                        _, times[step] = timed_search(question)
                    elif step == "worker":
                        result, times[step] = worker.submit(timed_search, question).result()
                    else:
                        ids, times[step] = timed_api(question)
                if ids != [hit.id for hit in result.hits]:
                    raise RuntimeError(f"the API and search() ranked {question!r} differently")
                if number:  # the first pass warms up
                    main_thread.append(times["main"] * 1000)
                    direct.append(times["worker"] * 1000)
                    api.append(times["api"] * 1000)
                    differences.append((times["api"] - times["worker"]) * 1000)
        connection.close()
    worker.shutdown()
    engine.close()
    figures = {
        "documents": documents,
        "questions": len(questions),
        "passes": args.passes,
        "mode": args.mode,
        "size": args.size,
        "top_k": args.top_k,
        "encoder": getattr(embedder, "selection", embedder.name),
        "search_p50_ms": statistics.median(direct),
        "search_p90_ms": _percentile(direct, 0.9),
        "search_main_thread_p50_ms": statistics.median(main_thread),
        "search_main_thread_p90_ms": _percentile(main_thread, 0.9),
        "api_p50_ms": statistics.median(api),
        "api_p90_ms": _percentile(api, 0.9),
        "api_minus_search_p50_ms": statistics.median(differences),
        "target_ms": 2.0,
    }
    print(
        f"{documents:,} documents, {len(questions)} questions x {args.passes} passes, mode {args.mode}, "
        f"size {args.size}, top_k {args.top_k}, encoder {figures['encoder']}"
    )
    worker_p50, worker_p90 = figures["search_p50_ms"], figures["search_p90_ms"]
    print(f"search()        p50 {worker_p50:.2f} ms   p90 {worker_p90:.2f} ms  (worker thread)")
    main_p50, main_p90 = figures["search_main_thread_p50_ms"], figures["search_main_thread_p90_ms"]
    print(f"search()        p50 {main_p50:.2f} ms   p90 {main_p90:.2f} ms  (main thread)")
    print(f"GET /api/search p50 {figures['api_p50_ms']:.2f} ms   p90 {figures['api_p90_ms']:.2f} ms")
    verdict = "within" if figures["api_minus_search_p50_ms"] <= figures["target_ms"] else "OVER"
    print(f"API - search()  p50 {figures['api_minus_search_p50_ms']:.2f} ms ({verdict} the 2 ms target)")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
