"""What the first stage's query form costs in tantivy: the shipped ``best_fields`` against two flat forms.

    python bench/bench_query_forms.py --size 1000000 [--work /tmp/bmb-forms] [--data ../shared/data] [--out DIR]

One tantivy index of the scale corpus (``bench_scale.py``'s recipe and questions; title and abstract) with the
product's analyzer, and a third field holding title and abstract together. Per question, in turn (so the forms
share the machine's load), the top 10 by:

* **best_fields** -- what the embedded engine runs for the default first stage (``_query.text_query``: dis_max of
  one term disjunction per field);
* **most_fields** -- one flat disjunction of every (field, term) pair (the sum over fields);
* **one field** -- one disjunction over the combined field (standard single-field BM25).

each with and without counting every match (Elasticsearch counts only up to 10,000). The forms rank differently:
this measures cost, not quality (``bench_rerank_defaults.py`` measures quality: best_fields 0.913, most_fields
0.895, one field 0.921 MRR@10 on the BioASQ abstracts).
Results: ``<out>/query-forms-<time>.json|md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: the scale bench's corpus and questions are shared, not copied
from bench.bench_scale import corpus_path, iter_records, load_questions, load_sources, write_corpus  # noqa: E402
from bmb_es._analysis import tantivy_analyzer  # noqa: E402
from bmb_es.bench.report import envelope, machine_line, md_table, write_results  # noqa: E402
from bmb_es.engines.embedded._open_index import OPTIMIZE_HEAP  # noqa: E402
from bmb_es.engines.embedded._query import text_query  # noqa: E402
from bmb_es.query import DEFAULT_FIELDS, FieldBoost, SearchRequest  # noqa: E402

ANALYZER = "bmb"
FIELDS = ("title", "abstract")
COMBINED = "text"
ROUNDS = 3


def build(folder: Path, corpus: Path) -> tuple[Any, float]:
    """The index (title, abstract, and both together), built with one writer thread; its build seconds."""
    import tantivy

    builder = tantivy.SchemaBuilder()
    for name in (*FIELDS, COMBINED):
        builder.add_text_field(name, stored=False, tokenizer_name=ANALYZER, index_option="freq")
    folder.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(builder.build(), path=str(folder))
    index.register_tokenizer(ANALYZER, tantivy_analyzer())
    started = time.perf_counter()
    if index.searcher().num_docs == 0:
        writer = index.writer(heap_size=OPTIMIZE_HEAP, num_threads=1)  # as optimize: one segment at 1M
        for record in iter_records(corpus):
            title, abstract = record.get("title") or "", record.get("abstract") or ""
            writer.add_document(tantivy.Document(title=title, abstract=abstract, text=f"{title}\n{abstract}"))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
    return index, time.perf_counter() - started


def forms(index: Any, question: str) -> dict[str, Any]:
    """The three queries of one question (``None`` where it has no terms)."""
    import tantivy

    schema, analyzer = index.schema, tantivy_analyzer()
    request = SearchRequest(question, tuple(FieldBoost(name) for name in DEFAULT_FIELDS if name in FIELDS))
    terms = analyzer.analyze(question)

    def disjunction(fields: tuple[str, ...]) -> Any:
        clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, f, term)) for f in fields for term in terms]
        return tantivy.Query.boolean_query(clauses) if clauses else None

    return {
        "best_fields": text_query(schema, analyzer, request, frozenset(FIELDS)),
        "most_fields": disjunction(FIELDS),
        "one field": disjunction((COMBINED,)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000, help="Documents in the corpus")
    parser.add_argument("--questions", type=int, default=300, help="Questions timed per form")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bmb-forms"), help="Corpus and index (kept)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    corpus = corpus_path(args.work, args.size)
    if not corpus.exists():
        args.work.mkdir(parents=True, exist_ok=True)
        write_corpus(corpus, args.size, load_sources(args.data))
    index, built = build(args.work / f"forms-{args.size}", corpus)
    searcher = index.searcher()
    questions = [q for q in load_questions(args.data, args.questions) if forms(index, q)["one field"] is not None]
    queries = [forms(index, question) for question in questions]
    settings = [(name, count) for name in queries[0] for count in (True, False)]
    times: dict[tuple[str, bool], list[float]] = {setting: [] for setting in settings}
    for _ in range(ROUNDS):  # every setting on a question, then the next question: one load for all
        for query in queries:
            for name, count in settings:
                started = time.perf_counter()
                searcher.search(query[name], limit=10, count=count)
                times[(name, count)].append(time.perf_counter() - started)
    p50 = {setting: float(np.median(values)) * 1000 for setting, values in times.items()}
    p95 = {setting: float(np.percentile(values, 95)) * 1000 for setting, values in times.items()}
    reference = p50[("best_fields", True)]
    rows = [
        [name, "yes" if count else "no", p50[(name, count)], p95[(name, count)], p50[(name, count)] / reference]
        for name, count in settings
    ]
    command = "python bench/bench_query_forms.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    payload = envelope("query-forms", command, {"size": args.size, "questions": len(questions), "rounds": ROUNDS})
    payload["results"] = {
        "segments": int(searcher.num_segments),
        "documents": int(searcher.num_docs),
        "build_s": built,
        "p50_ms": {f"{name} count={count}": value for (name, count), value in p50.items()},
        "p95_ms": {f"{name} count={count}": value for (name, count), value in p95.items()},
    }
    markdown = "\n".join(
        [
            f"# Query forms in tantivy at {args.size:,} documents\n",
            f"`{command}`\n",
            machine_line(payload) + "\n",
            f"{len(questions)} questions x {ROUNDS} rounds, top 10; segments: {searcher.num_segments}; built in "
            f"{built:.0f} s (0: reused).\n",
            md_table(["form", "counts every match", "p50 ms", "p95 ms", "p50 / best_fields counted"], rows),
        ]
    )
    json_path, md_path = write_results(args.out, "query-forms", payload, markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
