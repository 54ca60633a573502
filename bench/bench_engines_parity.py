"""Parity of the embedded engine with real OpenSearch / Elasticsearch nodes on the BioASQ golden questions.

    tools/engines/engines.sh start opensearch 9250; tools/engines/engines.sh start elasticsearch 9260
    python -m bench.bench_engines_parity --opensearch http://127.0.0.1:9250 --elasticsearch http://127.0.0.1:9260

The 2,753 abstracts are embedded once (default model) and the same vectors are written to: the embedded engine;
OpenSearch with the shipped mapping on 1 shard and on 3 shards; Elasticsearch on 1 shard with the ``standard``
analyzer (the integ-test zip has no analysis-common, so the shipped ``bmb_english`` chain cannot be created there,
and no painless, so the re-rank cannot run there). Every question goes through ``bmb_es.search`` on each engine.
Results: ``bench/results/engines-parity-<time>.json|md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import uuid
from pathlib import Path
from typing import Any

from bmb_es.bench.datasets import load_bioasq_golden_docs
from bmb_es.bench.engines_parity import Target, agreement, embed_corpus, load, run_engine, score_ratio
from bmb_es.bench.metrics import mean_mrr
from bmb_es.bench.report import envelope, machine_line, md_table, write_results
from bmb_es.embedding import load_embedder
from bmb_es.engines import open_engine
from bmb_es.engines._base import Engine, IndexMeta
from bmb_es.engines._resources import Distribution, index_body

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "bioasq"

EXPLANATIONS = [
    "OpenSearch (Lucene BM25) and the embedded engine (tantivy BM25) use the same formula, k1 = 1.2, b = 0.75 and "
    "the same analyzer tokens (a live test checks `_analyze`), but Lucene stores each field length in one byte "
    "(SmallFloat) and tantivy in its own one-byte fieldnorm code, and they round differently, so scores differ in "
    "the third digit and near-ties can swap.",
    "On 3 shards each shard scores with its own document frequencies and average field lengths (no "
    "`dfs_query_then_fetch`), and each shard re-ranks its own top-k (`rescore.window_size` is per shard): the "
    "re-rank sees up to 3 x k candidates.",
    "Elasticsearch here runs the `standard` analyzer (no stemming, no stop words): its BM25 is a different first "
    "stage, not a parity check; the re-rank cannot run there (no painless in the integ-test zip).",
]


def _shipped(engine: Engine) -> Any:
    return lambda name, meta: engine.create_index(name, meta)


def _variant(engine: Engine, shards: int, standard_analyzer: bool) -> Any:
    """The shipped mapping with ``shards`` primary shards, optionally with the core ``standard`` analyzer."""

    def create(name: str, meta: IndexMeta) -> None:
        kind: Distribution = "opensearch" if engine.kind == "opensearch" else "elasticsearch"
        body = index_body(kind, meta, version=engine.version)  # type: ignore[attr-defined]
        body["settings"].setdefault("index", {})["number_of_shards"] = shards
        body["settings"]["index"]["number_of_replicas"] = 0
        if standard_analyzer:
            body["settings"].pop("analysis")
            for field in body["mappings"]["properties"].values():
                if field.get("analyzer"):
                    field["analyzer"] = "standard"
        engine.client.indices.create(index=name, body=body)  # type: ignore[attr-defined]

    return create


def _version(engine: Engine) -> str:
    return ".".join(str(part) for part in engine.version)  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the BioASQ folder (with pubmed/)")
    parser.add_argument("--opensearch", help="URL of an OpenSearch node (k-NN plugin)")
    parser.add_argument("--elasticsearch", help="URL of an Elasticsearch node")
    parser.add_argument("--model", default="default")
    parser.add_argument("--top-k", type=int, default=50, help="BM25 candidates re-ranked")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--data-dir", type=Path, help="embedded engine data dir (default: a temporary one)")
    parser.add_argument("--vectors", type=Path, help="a .npy file keeping the corpus vectors between runs")
    args = parser.parse_args(argv)
    if not (args.data / "pubmed").is_dir():
        print(f"BioASQ folder not found: {args.data} (expected {args.data / 'pubmed'})", file=sys.stderr)
        return 2
    if not (args.opensearch or args.elasticsearch):
        print("give --opensearch URL and/or --elasticsearch URL (tools/engines/ starts both)", file=sys.stderr)
        return 2

    import tempfile

    from bmb_es.engines.embedded import EmbeddedEngine

    dataset = load_bioasq_golden_docs(args.data)
    embedder = load_embedder(args.model, "cpu")
    print(f"{len(dataset.documents)} abstracts, {len(dataset.queries)} questions; embedding with {embedder.name} …")
    documents = embed_corpus(dataset, embedder, args.vectors)
    meta = IndexMeta(embedder.name, embedder.dimension)
    tmp = tempfile.TemporaryDirectory(prefix="bmb-parity-")
    embedded = EmbeddedEngine(args.data_dir or Path(tmp.name))
    targets = [Target("embedded (tantivy)", embedded, "—", 1, _shipped(embedded))]
    engines: list[Engine] = [embedded]
    if args.opensearch:
        node = open_engine(environ={"BMB_OS_URL": args.opensearch})
        engines.append(node)
        targets += [
            Target("OpenSearch, 1 shard", node, _version(node), 1, _variant(node, 1, False)),
            Target("OpenSearch, 3 shards", node, _version(node), 3, _variant(node, 3, False)),
        ]
    if args.elasticsearch:
        node = open_engine(environ={"BMB_ES_URL": args.elasticsearch})
        engines.append(node)
        targets.append(
            Target("Elasticsearch, 1 shard, standard analyzer", node, _version(node), 1, _variant(node, 1, True))
        )

    command = "python -m bench.bench_engines_parity " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    payload = envelope("engines-parity", command.strip(), {"top_k": args.top_k, "model": embedder.name})
    payload["dataset"] = dataset.description
    payload["explanations"] = EXPLANATIONS
    runs: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    relevant = {qid: {doc for doc, grade in docs.items() if grade > 0} for qid, docs in dataset.qrels.items()}
    try:
        for target in targets:
            index = f"bmb-parity-{uuid.uuid4().hex[:8]}"
            seconds = load(target, index, meta, documents)
            try:
                can_rerank = not target.label.startswith("Elasticsearch")
                print(f"{target.label}: loaded in {seconds:.1f} s, searching {len(dataset.queries)} questions …")
                run = run_engine(target, index, dataset, embedder, args.top_k, depth=100, rerank=can_rerank)
            finally:
                target.engine.delete_index(index)
            runs[target.label] = run
            reference = runs["embedded (tantivy)"]
            row: dict[str, Any] = {
                "engine": target.label,
                "version": target.version,
                "shards": target.shards,
                "mrr10_bm25": mean_mrr(run["bm25"], relevant),
                "mrr10_rerank": mean_mrr(run["rerank"], relevant) if run["rerank"] else None,
                "score_ratio_top1": score_ratio(reference["bm25_scores"], run["bm25_scores"]),
            }
            row.update(agreement(reference["bm25"], reference["bm25_scores"], run["bm25"], run["bm25_scores"]))
            if run["rerank"]:
                rerank_overlap = agreement(reference["rerank"], {}, run["rerank"], {})
                row["rerank_top10_overlap_mean"] = rerank_overlap["top10_overlap_mean"]
                row["rerank_top10_identical_fraction"] = rerank_overlap["top10_identical_fraction"]
            rows.append(row)
    finally:
        for engine in engines:
            engine.close()
        tmp.cleanup()
    payload["rows"] = rows
    # The per-question rankings (8 MB of JSON for 1,086 questions x 4 engines) are not kept: rerun to get them.
    markdown = render(payload)
    json_path, md_path = write_results(args.out, "engines-parity", payload, markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}")
    return 0


def render(payload: dict[str, Any]) -> str:
    headers = [
        "engine",
        "version",
        "shards",
        "BM25 top-10 overlap",
        "identical top-10",
        "Kendall tau (top 50)",
        "top-1 score ratio",
        "MRR@10 BM25",
        "MRR@10 re-rank",
        "re-rank top-10 overlap",
    ]
    table = [
        [
            row["engine"],
            row["version"],
            row["shards"],
            row["top10_overlap_mean"],
            row["top10_identical_fraction"],
            row["kendall_tau_top50_mean"],
            row["score_ratio_top1"],
            row["mrr10_bm25"],
            row["mrr10_rerank"],
            row.get("rerank_top10_overlap_mean"),
        ]
        for row in payload["rows"]
    ]
    lines = [
        "# Engines parity: embedded vs real nodes",
        "",
        f"`{payload['command']}` ({payload['created']}). {payload['dataset']}. Model {payload['settings']['model']}, "
        f"re-rank of the BM25 top {payload['settings']['top_k']} (query weight 0, the paper). Overlap, identical "
        "top-10 and Kendall tau are against the embedded engine's BM25; MRR@10 is standard MRR (ranx).",
        "",
        md_table(headers, table),
        "Why they differ:",
        "",
        *[f"- {text}" for text in payload["explanations"]],
        "",
        machine_line(payload),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
