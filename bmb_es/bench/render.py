"""Markdown tables and PNG plots for the results files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..query import DEFAULT_BM25_WEIGHT, DEFAULT_TOP_K, FEEDBACK_DOCUMENTS, FEEDBACK_WEIGHT, KEYWORD_SEARCH_WORDS
from .report import fmt, machine_line, md_table

POLICIES = {
    "pair": "only its passing contexts are relevant; its other contexts stay in the corpus as non-relevant "
    "(the paper's pairs taken literally)",
    "condensed": "only its passing contexts are relevant; its other contexts are removed from its rankings "
    "(condensed lists: neither hit nor miss)",
    "question": "a question is kept only if every relevant context passes",
}


def _p(value: Any) -> Any:
    return "<0.001" if isinstance(value, float) and value < 0.001 else value


def _system_rows(block: Mapping[str, Any]) -> list[list[Any]]:
    rows = []
    for name, row in block["systems"].items():
        rows.append(
            [
                name,
                row.get("mrr@5"),
                row.get("mrr@10"),
                _p(row.get("p_mrr@10_vs_bm25")),
                row.get("ndcg@10"),
                row.get("paper_mrr@10"),
            ]
        )
    return rows


def render_ir(payload: Mapping[str, Any]) -> str:
    settings = payload["settings"]
    parts = [
        f"## Retrieval quality (`bench ir`), {payload['created']}\n",
        f"Command: `{payload['command']}`\n",
        machine_line(payload) + "\n",
        "All systems run through the product: documents are written with `bmb_es.ingest` into an embedded engine "
        "(tantivy, Lucene-scale BM25) and questions are answered with the request body of `build_query` "
        "(BM25 `multi_match`, `rescore` with `script_score` cosine). *pure* = the paper's re-rank "
        "(query_weight 0, rescore weight 1); *weighted* = BM25 + w·(cosine+1), w tuned by "
        f"{settings['weighted_rerank']['tuning']}. *as shipped* = `bmb_es.search(mode=...)` with every default, "
        f"nothing tuned on these labels (auto, the default: feedback for a question of at most "
        f"{KEYWORD_SEARCH_WORDS} content word, rerank for any other; rerank: {DEFAULT_BM25_WEIGHT:g}·minmax(BM25) + "
        f"{1 - DEFAULT_BM25_WEIGHT:g}·cosine over the BM25 top {DEFAULT_TOP_K}; hybrid: the same over BM25 top "
        f"{DEFAULT_TOP_K} and dense top {DEFAULT_TOP_K}; feedback: rerank, then hybrid with the question's vector "
        f"moved towards its top {FEEDBACK_DOCUMENTS} documents by weight {FEEDBACK_WEIGHT:g}). MRR@5/@10 and "
        "nDCG@10 are standard (ranx); "
        "**paper MRR@10** is the paper's variant (sum of 1/rank over *every* relevant document in the top 10; "
        f"can exceed 1). p = {settings['stat_test']} paired test of MRR@10 against BM25 (ranx). Debiased sets "
        "drop question/context pairs whose word overlap exceeds the threshold. "
        f"Policy `{settings['debias']['policy']}`: {POLICIES[settings['debias']['policy']]} "
        "(the other policies are in the last table, marked [policy]).\n",
    ]
    for result in payload["results"]:
        dataset = result["dataset"]
        parts.append(f"### {dataset['name']}\n")
        parts.append(f"{dataset['description']}." + (" " + "; ".join(dataset["notes"]) if dataset["notes"] else ""))
        parts.append("\n\nDebias filters (overlap of each question with each relevant context):\n")
        parts.append(
            md_table(
                ["measure", "threshold", "policy", "questions", "kept", "dropped", "pairs", "pairs dropped", "max"],
                [
                    [
                        d["measure"],
                        d["threshold"],
                        d.get("policy", ""),
                        d["questions"],
                        d["kept"],
                        d["dropped"],
                        d["pairs"],
                        d["pairs_dropped"],
                        d["max_overlap"],
                    ]
                    for d in [*result["debias"], *result.get("debias_other_policies", [])]
                ],
            )
        )
        for label in ("unfiltered", result["primary_set"]):
            block = result["sets"][label]
            parts.append(f"\n**{label}** ({block['queries']} questions)\n\n")
            parts.append(
                md_table(["system", "MRR@5", "MRR@10", "p vs BM25", "nDCG@10", "paper MRR@10"], _system_rows(block))
            )
        recall_rows = []
        for label, block in result["sets"].items():
            if label not in ("unfiltered", result["primary_set"]) or not block["queries"]:
                continue
            for name, row in block["systems"].items():
                keys = [key for key in row if key.startswith("recall@")]
                if keys:
                    recall_rows.append([label, name, *(row[key] for key in sorted(keys, key=lambda k: int(k[7:])))])
        depths = sorted({int(key[7:]) for block in result["sets"].values() for row in block["systems"].values()
                         for key in row if key.startswith("recall@")})  # fmt: skip
        parts.append("\nRecall@k of every system (the ceiling for re-ranking its top k):\n\n")
        parts.append(md_table(["set", "system", *(f"R@{k}" for k in depths)], recall_rows))
        names = list(result["sets"]["unfiltered"]["systems"])
        labels = list(result["sets"])
        parts.append("\nMRR@10 on every question set:\n\n")
        parts.append(
            md_table(
                ["system", *(f"{label} ({result['sets'][label]['queries']})" for label in labels)],
                [[name, *(result["sets"][label]["systems"][name].get("mrr@10") for label in labels)] for name in names],
            )
        )
        parity = result.get("parity")
        if parity:
            parts.append(
                f"\nBM25 parity: top-10 overlap with {parity['peer']} = {fmt(parity['top10_overlap_mean'])}; "
                f"Kendall tau of the two BM25 scores over our top 50 = {fmt(parity['kendall_tau_scores_top50_mean'])} "
                f"(mean over {parity['kendall_tau_queries']} questions).\n"
            )
            if parity.get("warning"):
                parts.append(f"\n> **Warning** — {parity['warning']}\n")
        for model, check in result["verification"].items():
            parts.append(
                f"\nPrefix re-rank check ({model}): {check['identical']}/{check['checks']} rankings identical to "
                f"`bmb_es.search()` run per k and weight on a sample of questions.\n"
            )
        for model, summary in result["ingest"].items():
            parts.append(
                f"\nIndexing ({model}): {summary['read']} documents in {summary['seconds']} s "
                f"({summary['docs_per_second']} docs/s, read+embed+write).\n"
            )
        parts.append("\n")
    parts.append(
        "\nPaper (Table 9, its own debiased BioASQ set, top 20 from BM25): BM25 MRR@10 0.20, "
        "+BioMedBERT 0.285, +BERT 0.157, +GloVe 0.124.\n"
    )
    return "\n".join(part.strip("\n") + "\n" for part in parts if part.strip())


def plot_ir(payload: Mapping[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = payload["results"]
    fig, axes = plt.subplots(len(results), 1, figsize=(13, 1.0 + 4.2 * len(results)), squeeze=False)
    for ax, result in zip(axes[:, 0], results, strict=True):
        labels = ["unfiltered", result["primary_set"]]
        names = list(result["sets"]["unfiltered"]["systems"])
        height = 0.38
        for i, label in enumerate(labels):
            values = [result["sets"][label]["systems"][name].get("mrr@10") or 0.0 for name in names]
            ax.barh(
                [y + i * height for y in range(len(names))],
                values,
                height=height,
                label=f"{label} ({result['sets'][label]['queries']} q)",
            )
        ax.set_yticks([y + height / 2 for y in range(len(names))], names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("MRR@10")
        ax.set_title(result["dataset"]["name"])
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render_speed(payload: Mapping[str, Any]) -> str:
    """The Markdown of a ``bench speed`` result (also ``bench_core`` and ``bench_embedding`` results)."""
    title = "Encoder settings, speed and quality" if payload.get("suite") == "embedding" else "Speed (`bench speed`)"
    parts = [
        f"## {title}, {payload['created']}\n",
        f"Command: `{payload['command']}`\n",
        machine_line(payload) + "\n",
    ]
    if payload.get("runs"):
        parts.append(f"Settings: {payload['settings']['description']}\n")
        parts.append(_size_table(payload))
    golden = payload.get("golden_top10")
    if golden:
        parts.append(
            f"\nGolden questions finding one of their own abstracts in the top 10 ({golden['questions']} questions "
            f"whose documents are in the {golden['corpus_docs']}-abstract corpus): BM25 alone "
            f"{fmt(golden['bm25'])}, BM25 top-{golden['top_k']} + re-rank {fmt(golden['rerank'])}.\n"
        )
    parts.append("\n" + "\n".join(payload.get("notes", [])) + "\n")
    if payload.get("embedding_settings"):
        parts.append(render_embedding_settings(payload["embedding_settings"]))
    return "\n".join(part.strip("\n") + "\n" for part in parts if part.strip())


def _size_table(payload: Mapping[str, Any]) -> str:
    rows = []
    for run in payload["runs"]:
        rows.append(
            [
                run["size"],
                "yes" if run["repeated_documents"] else "no",
                run["ingest_docs_per_s"],
                run["embed_only_docs_per_s"],
                run["write_only_docs_per_s"],
                run["index_size_mib"],
                run["bm25"]["p50_ms"],
                run["bm25"]["p95_ms"],
                run["rerank"]["p50_ms"],
                run["rerank"]["p95_ms"],
                run["encode"]["p50_ms"],
                run.get("rerank_given_vector", {}).get("p50_ms"),
                round(run["rerank"]["p50_ms"] - run["encode"]["p50_ms"], 3),
                run["peak_rss_mib"],
            ]
        )
    return md_table(
        [
            "docs",
            "repeated",
            "ingest docs/s",
            "embed only docs/s",
            "BM25 index+write only docs/s",
            "index MiB",
            "BM25 p50 ms",
            "BM25 p95 ms",
            "BM25+re-rank p50 ms",
            "BM25+re-rank p95 ms",
            "question encode p50 ms",
            "re-rank search, vector given, p50 ms",
            "BM25+re-rank minus encode, p50 ms",
            "peak RSS MiB",
        ],
        rows,
    )


def _fixed(value: Any, digits: int, signed: bool = False) -> str:
    """A number with exactly ``digits`` decimals (cosines near 1 and small MRR deltas need them); "—" if absent."""
    if not isinstance(value, int | float):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


SETTING_HEADERS = [
    "setting",
    "selected",
    "full pass docs/s",
    "encoder docs/s",
    "encoder x fp32",
    "ingest docs/s",
    "ingest x fp32",
    "MRR@10",
    "Δ fp32",
    "MRR@10 fp32 queries",
    "cos fp32 mean",
    "cos fp32 min",
    "query encode p50 ms",
    "batch",
    "load s",
]


def _setting_row(row: Mapping[str, Any]) -> list[Any]:
    if "error" in row:
        return [row["setting"], f"unavailable: {row['error']}", *([None] * (len(SETTING_HEADERS) - 2))]
    same = f" (same vectors as {row['same_vectors_as']})" if row.get("same_vectors_as") else ""
    return [
        row["setting"],
        f"{row.get('selected', '')}{same}",
        row.get("full_pass_docs_per_s"),
        row.get("encoder_docs_per_s"),
        _fixed(row.get("encoder_ratio"), 2),
        row.get("ingest_docs_per_s"),
        _fixed(row.get("ingest_ratio"), 2),
        _fixed(row.get("mrr10"), 4),
        _fixed(row.get("mrr10_delta"), 4, signed=True),
        _fixed(row.get("mrr10_fp32_queries"), 4),
        _fixed(row.get("cos_to_fp32_mean"), 6),
        _fixed(row.get("cos_to_fp32_min"), 6),
        row.get("query_encode_ms_p50"),
        row.get("batch_size"),
        row.get("load_s"),
    ]


def render_embedding_settings(block: Mapping[str, Any]) -> str:
    """The per-setting table of ``bench speed`` (:mod:`bmb_es.bench.embedding_speed`) and how it was measured."""
    reference = block.get("reference", "torch/fp32")
    ingest = (
        f"**ingest** = docs/s of `bmb_es.index_path` (read, parse, embed, write, commit) of the first "
        f"{block['ingest_sample']} documents into a fresh embedded engine, interleaved likewise"
        if block.get("ingest_sample")
        else "**ingest** not measured (ingest sample 0)"
    )
    if block.get("quality"):
        quality = (
            f"**MRR@10** = dense retrieval (exact cosine over all {block['documents']} document vectors) for "
            f"{block['quality']}, questions embedded by the same setting; **MRR@10 fp32 queries** = the same "
            f"documents with {reference} question vectors (an index built with this setting, queried in fp32)"
        )
    else:
        quality = f"**MRR@10 not available**: {block.get('quality_unavailable') or 'no golden questions'}"
    lines = [
        f"\n### Encoder settings on the same texts ({block['device']})\n",
        f"Model {block['model']} on {block['hardware']}; {block['documents']} of the corpus's "
        f"{block['corpus_documents']} documents. **full pass** = docs/s of the one pass over them that the "
        f"quality figures come from; **encoder** = docs/s of `embedder.embed` over the same {block['encode_sample']} "
        f"texts (a fixed random sample), every setting once per round, median of {block['rounds']} rounds; "
        f"**encoder/ingest x fp32** = median over rounds of the ratio to {reference} in the same round; "
        f"{ingest}. {quality}. "
        f"**cos fp32** = cosine of each document vector to {reference}'s. **query encode** = median ms to encode "
        f"one question ({block['latency_questions']} questions, warm). **selected** = what the setting ran as "
        "(`embedder.selection`; `auto` was checked in this run with a fresh data dir, as a first use would be).\n",
        md_table(SETTING_HEADERS, [_setting_row(row) for row in block["rows"]]),
    ]
    return "\n".join(lines)


def plot_speed(payload: Mapping[str, Any], path: Path) -> Path:
    """Throughput and latency per size, and docs/s per encoder setting, as far as the run measured them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = payload.get("runs") or []
    settings = [row for row in (payload.get("embedding_settings") or {}).get("rows", []) if "encoder_docs_per_s" in row]
    panels = (2 if runs else 0) + (1 if settings else 0)
    fig, axes = plt.subplots(1, max(1, panels), figsize=(5.5 * max(1, panels), 4), squeeze=False)
    column = iter(axes[0])
    if runs:
        _plot_sizes(runs, next(column), next(column))
    if settings:
        _plot_settings(settings, next(column))
    if not panels:
        axes[0][0].set_axis_off()
        axes[0][0].text(0.5, 0.5, "nothing measured", ha="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_sizes(runs: list[Mapping[str, Any]], left: Any, right: Any) -> None:
    sizes = [run["size"] for run in runs]
    for key, label in (
        ("ingest_docs_per_s", "ingest (read+embed+write)"),
        ("embed_only_docs_per_s", "embed only"),
        ("write_only_docs_per_s", "BM25 index+write only"),
    ):
        left.plot(sizes, [run[key] for run in runs], marker="o", label=label)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("documents")
    left.set_ylabel("docs/s")
    left.legend(fontsize=8)
    left.set_title("ingest throughput")
    for key, label in (("bm25", "BM25"), ("rerank", "BM25+re-rank"), ("encode", "question encode")):
        right.plot(sizes, [run[key]["p50_ms"] for run in runs], marker="o", label=f"{label} p50")
        right.plot(sizes, [run[key]["p95_ms"] for run in runs], marker="x", linestyle="--", label=f"{label} p95")
    right.set_xscale("log")
    right.set_xlabel("documents")
    right.set_ylabel("ms")
    right.legend(fontsize=8)
    right.set_title("warm query latency")


def _plot_settings(rows: list[Mapping[str, Any]], ax: Any) -> None:
    labels = [row["setting"] for row in rows]
    height = 0.4
    for offset, (key, name) in enumerate((("encoder_docs_per_s", "encoder alone"), ("ingest_docs_per_s", "ingest"))):
        ax.barh(
            [y + offset * height for y in range(len(rows))], [row.get(key) or 0.0 for row in rows], height, label=name
        )
    ax.set_yticks([y + height / 2 for y in range(len(rows))], labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("docs/s (median over rounds)")
    ax.legend(fontsize=8)
    ax.set_title("encoder settings, same texts")
