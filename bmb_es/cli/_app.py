"""The ``bmb-es`` command line. Heavy imports (torch, tantivy) happen inside commands, so ``--help`` is instant."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from .._config import DEFAULT_INDEX
from .._errors import BmbError, IndexDamagedError, InputError, StorageError
from ..embedding import BACKENDS, PRECISIONS, REMOVED_BACKENDS, EncoderSetting
from ..query import DEFAULT_BM25_WEIGHT, DEFAULT_TOP_K, FEEDBACK_DOCUMENTS
from ._json import json_text

app = typer.Typer(
    name="bmb-es",
    help="Literature search: BM25 candidates re-ranked by BERT-embedding cosine similarity.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_show_locals=False,  # locals may hold credentials
)

EXIT_INTERRUPTED = 130
# --help's width when stdout is not a terminal (a pipe, a file): wide enough that rich never cuts a word with "…".
PIPE_HELP_WIDTH = 160
DIALECTS = ("elasticsearch", "opensearch")

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where embedded indices live (default: $BMB_ES_HOME or ~/.local/share/bmb-es)."),
]
IndexOption = Annotated[str, typer.Option("--index", "-i", help="Index name.")]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Embedding model: 'default' (offline all-MiniLM-L6-v2), a sentence-transformers or TF-Hub folder, "
        "or a Hugging Face id. Query default: the model the index was built with.",
    ),
]


PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help=f"Encoder precision, one of {', '.join(PRECISIONS)}. auto: the fastest this hardware runs that matches "
        "fp32 within cosine 0.999, checked once per model and machine.",
    ),
]
BackendOption = Annotated[
    str,
    typer.Option(
        "--backend",
        help=f"Encoder runtime, one of {', '.join(BACKENDS)} (openvino: CPU only). "
        + " ".join(f"{reason}." for reason in REMOVED_BACKENDS.values()),
    ),
]
DeviceOption = Annotated[
    str,
    typer.Option("--device", help="Where the encoder runs: cpu, cuda, cuda:N, or auto (a GPU when torch sees one)."),
]
BatchSizeOption = Annotated[
    int | None,
    typer.Option(
        "--batch-size",
        min=1,
        help="Texts per encoder batch (default: each encoder's own: 16 OpenVINO, 32 torch CPU, 512 GPU).",
    ),
]


def count_option(flag: str, help: str, minimum: int = 1) -> Any:
    """A typer option for a count of at least ``minimum`` (typer's ``Option`` is typed ``Any``)."""
    return typer.Option(flag, min=minimum, help=help)


def flag_option(flag: str, help: str) -> Any:
    """A typer on/off flag, off unless given."""
    return typer.Option(flag, help=help)


# The search filters (bmb_es.query.Filters).
YearOption = Annotated[
    str | None, typer.Option("--year", help="Publication years: 2019-2021, 2019, 2019- or -2021 (the document's date).")
]
JournalOption = Annotated[
    str | None, typer.Option("--journal", help="Only papers of this journal (its exact name, as stored).")
]


@contextmanager
def _user_errors() -> Iterator[None]:
    """Expected errors become one line on stderr and their exit code; no traceback."""
    try:
        yield
    except BmbError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bmb-es {package_version()}")
        raise typer.Exit()


def package_version() -> str:
    """The installed distribution's version (``bmb_es.__version__`` when run from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bmb-es")
    except PackageNotFoundError:
        from .. import __version__

        return __version__


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the bmb-es version and exit."),
    ] = False,
) -> None:
    """Literature search: BM25 candidates re-ranked by BERT-embedding cosine similarity."""


@app.command("index")
def index_command(
    path: Annotated[
        Path, typer.Argument(help="A file or folder of BREATHE, CORD-19, BEIR, PubMed, JSON(L) or CSV records.")
    ],
    index: IndexOption = DEFAULT_INDEX,
    model: ModelOption = None,
    format: Annotated[
        str | None, typer.Option("--format", "-f", help="Force a format: cord19, beir, breathe, pubmed, generic.")
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="Map a document field to a source key: --field abstract=summary (repeatable)."),
    ] = None,
    embed_fields: Annotated[
        str, typer.Option("--embed-fields", help="Comma-separated fields whose text is embedded.")
    ] = "title,abstract",
    batch_size: BatchSizeOption = None,
    precision: PrecisionOption = "auto",
    backend: BackendOption = "auto",
    device: DeviceOption = "auto",
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="Index only shard I of N (0-based, by stable id hash): run N of these in parallel into one "
            "cluster index, or into embedded indices joined with bmb-es merge.",
        ),
    ] = None,
    commit_every: Annotated[
        int | None,
        typer.Option(
            "--commit-every",
            min=1,
            help="Documents between commits (resume points). Default: every 2,048 documents or 2 s, whichever later.",
        ),
    ] = None,
    reject_log: Annotated[
        Path | None, typer.Option("--reject-log", help="Where rejected records are logged (JSON Lines).")
    ] = None,
    server_pipeline: Annotated[
        str | None,
        typer.Option(
            "--server-pipeline",
            metavar="MODEL_ID",
            help="Cluster only: embed on the cluster through the ingest pipeline for this deployed model "
            "(no client-side embedding; the index must exist: bmb-es setup).",
        ),
    ] = None,
    optimize: Annotated[
        bool,
        typer.Option(
            "--optimize/--no-optimize",
            help="Embedded engine: after a run that wrote at least a quarter of the index, rewrite it into one "
            "segment for faster searches (as bmb-es optimize does).",
        ),
    ] = True,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Read, embed and index a corpus. Re-running is an upsert; an interrupted run resumes."""
    import threading

    from .._api import index_path
    from .._config import data_dir as resolve_data_dir
    from .._ingest import IngestSummary, default_reject_log, parse_field_map
    from ..engines import open_engine
    from ..readers import CorpusPlan, count_records
    from ._output import render_summary, summary_console
    from ._progress import Progress

    with _user_errors():
        setting = EncoderSetting.parse(backend, precision, device, batch_size)
        root = resolve_data_dir(data_dir)
        engine = open_engine(root)
        embedder = None
        if server_pipeline:
            from ._cluster import server_pipeline_embedder

            embedder = server_pipeline_embedder(engine, index, server_pipeline)
        progress = Progress(f"indexing {path}", "docs", quiet=quiet)
        stop = threading.Event()
        counters: list[threading.Thread] = []

        def count(plan: CorpusPlan) -> None:
            """Count the corpus's records beside the run: the progress total (a shard's share is not known)."""
            if quiet or shard is not None:
                return

            def work() -> None:
                total = count_records(plan, stop)
                if total is not None:
                    progress.set_total(total)

            counters.append(threading.Thread(target=work, name="bmb-es-count", daemon=True))
            counters[-1].start()

        def on_progress(summary: IngestSummary) -> None:
            note = f"new={summary.indexed:,} updated={summary.updated:,} rejected={summary.rejected:,}"
            progress.update(summary.read, note)

        try:
            summary = index_path(
                path,
                engine=engine,
                index=index,
                model=model,
                embedder=embedder,
                format=format,
                field_map=parse_field_map(field or []),
                embed_fields=tuple(name.strip() for name in embed_fields.split(",") if name.strip()),
                commit_every=commit_every,
                reject_log=reject_log or default_reject_log(root, index),
                on_progress=on_progress,
                shard=shard,
                optimize=optimize,
                setting=setting,
                on_plan=count,
            )
        except BaseException:
            stop.set()  # the count is of no use now
            raise
        finally:
            for thread in counters:
                thread.join()
            progress.close()
        if summary.encoder and not quiet and not as_json:
            typer.echo(f"encoder: {summary.encoder}", err=True)
        if as_json:
            typer.echo(json_text(summary.to_json()))
        else:
            render_summary(summary_console(), summary)
        if summary.interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)


@app.command("query")
def query_command(
    question: Annotated[
        list[str] | None,
        typer.Argument(help="The question, in plain language; - reads it from standard input.", show_default=False),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="auto (default: feedback for a keyword search of one content word, else rerank), "
            f"rerank (BM25 top-k re-scored by {DEFAULT_BM25_WEIGHT:g} x min-max BM25 + "
            f"{1 - DEFAULT_BM25_WEIGHT:g} x cosine), paper (the paper's pure cosine re-rank), bm25, dense (kNN), "
            "hybrid (BM25 and kNN candidates, re-scored as rerank) or feedback (rerank, then hybrid with the "
            f"question's vector moved towards its top {FEEDBACK_DOCUMENTS} papers: for many relevant papers).",
        ),
    ] = None,
    rerank: Annotated[
        bool | None,
        typer.Option("--rerank/--no-rerank", help="--rerank: the default mode; --no-rerank: --mode bm25."),
    ] = None,
    paper: Annotated[
        bool, typer.Option("--paper", help="The paper's method exactly: --mode paper (fields title^2,abstract,body).")
    ] = False,
    top_k: Annotated[
        int, typer.Option("--top-k", "-k", help="Candidates per leg: BM25 top k (window_size), kNN k; 1 to 10,000.")
    ] = DEFAULT_TOP_K,
    size: Annotated[int, typer.Option("--size", "-n", help="Results shown, 1 to 10,000.")] = 10,
    fields: Annotated[
        str | None,
        typer.Option(
            "--fields",
            help="Searched fields with optional ^boost, comma-separated (default: title,abstract,body; "
            "paper mode: title^2,abstract,body).",
        ),
    ] = None,
    bm25_weight: Annotated[
        float,
        typer.Option("--bm25-weight", help="w in w x min-max(BM25) + (1 - w) x cosine (rerank, hybrid, feedback)."),
    ] = DEFAULT_BM25_WEIGHT,
    query_weight: Annotated[
        float, typer.Option("--query-weight", help="paper mode: weight of the BM25 score after re-ranking (paper: 0).")
    ] = 0.0,
    rescore_weight: Annotated[
        float, typer.Option("--rescore-weight", help="paper mode: weight of cosine + 1 after re-ranking (paper: 1).")
    ] = 1.0,
    score_mode: Annotated[
        str,
        typer.Option("--score-mode", help="paper mode: how weighted scores combine: total, multiply, avg, max, min."),
    ] = "total",
    index: IndexOption = DEFAULT_INDEX,
    model: ModelOption = None,
    precision: PrecisionOption = "auto",
    backend: BackendOption = "auto",
    device: DeviceOption = "cpu",  # one question encodes fastest on the CPU (bmb_es._search.QUESTION_DEVICE)
    data_dir: DataDirOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print hits as JSON (with --queries: one line per question; with --explain: the request bodies).",
        ),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Print the executed request bodies as Kibana / OpenSearch Dev Tools text (GET <index>/_search and "
            "the body; a fused mode's fusion as a # line above its searches). With --json: the bodies as JSON.",
        ),
    ] = False,
    year: YearOption = None,
    journal: JournalOption = None,
    dialect: Annotated[
        str | None,
        typer.Option(
            "--dialect",
            help="The dialect --explain writes: elasticsearch or opensearch (default: the engine's own; "
            "elasticsearch on the embedded engine). A cluster's own dialect only.",
        ),
    ] = None,
    queries: Annotated[
        str | None,
        typer.Option(
            "--queries",
            metavar="FILE",
            help="Answer every question of FILE with one model load: TSV (id<TAB>text), JSON Lines (_id/id/qid and "
            "text/query/question, e.g. BEIR queries.jsonl) or one question per line (ids: line numbers); - reads "
            "standard input. Prints the TREC run, or with --json one JSON line per question.",
        ),
    ] = None,
    run_out: Annotated[
        Path | None,
        typer.Option(
            "--run-out",
            metavar="FILE",
            help="With --queries: write the TREC run (qid Q0 docid rank score tag) to FILE, for trec_eval, "
            "ir_measures or ranx.",
        ),
    ] = None,
    run_tag: Annotated[
        str | None, typer.Option("--run-tag", help="With --queries: the run's tag column (default: the mode).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="With --queries: no progress and no closing summary.")
    ] = False,
) -> None:
    """Search an index: BM25 candidates re-scored with embedding cosine similarity (see --mode).

    One question from the command line (or standard input with -), or a file of them with --queries.
    """
    import time

    from rich.console import Console

    from .._batch import Question
    from .._search import SearchOptions, search_many
    from ..engines import open_engine
    from ..query import Dialect, Mode, parse_mode, parse_score_mode
    from ._output import dev_tools_text, render_results
    from ._runs import STDIN, answer_all, load_questions, stdin_text

    with _user_errors():
        chosen_dialect: Dialect | None = None
        if dialect is not None:
            if dialect not in DIALECTS:
                raise typer.BadParameter(f"{dialect!r}: choose {' or '.join(DIALECTS)}", param_hint="--dialect")
            chosen_dialect = "opensearch" if dialect == "opensearch" else "elasticsearch"
        if queries is not None:
            if question:
                raise typer.BadParameter("give questions in a --queries file or one on the command line, not both")
            if explain:
                raise typer.BadParameter("--explain shows one question's search: give it without --queries")
        elif run_out is not None or run_tag is not None:
            raise typer.BadParameter("--run-out and --run-tag go with --queries FILE")
        elif not question:
            raise typer.BadParameter("give a question, - to read it from standard input, or --queries FILE")
        try:
            chosen_score_mode = parse_score_mode(score_mode)
        except BmbError as error:
            raise typer.BadParameter(str(error), param_hint="--score-mode") from None
        chosen: Mode | None = None
        if mode is not None:
            try:
                chosen = parse_mode(mode)
            except BmbError as error:
                raise typer.BadParameter(str(error), param_hint="--mode") from None
        if paper:
            if chosen not in (None, "paper") or rerank is False:
                raise typer.BadParameter("--paper is --mode paper: give one of them", param_hint="--paper")
            chosen = "paper"
        if run_tag is not None and (not run_tag or any(character.isspace() for character in run_tag)):
            raise typer.BadParameter("a run tag is one word (no white space)", param_hint="--run-tag")
        if queries is not None:
            batch = load_questions(queries)
        elif question == [STDIN]:
            batch = [Question("1", " ".join(stdin_text().split()))]  # lines of a pasted question become one
        else:
            batch = [Question("1", " ".join(question or []))]
        # Any verified backend/precision of the index's model may encode the question.
        setting = EncoderSetting.parse(backend, precision, device)
        engine = open_engine(data_dir)
        started = time.perf_counter()
        results = search_many(
            engine,
            index,
            [item.text for item in batch],
            mode=chosen,
            rerank=rerank,
            size=size,
            top_k=top_k,
            fields=[item.strip() for item in fields.split(",") if item.strip()] if fields is not None else None,
            bm25_weight=bm25_weight,
            query_weight=query_weight,
            rescore_query_weight=rescore_weight,
            score_mode=chosen_score_mode,
            model=model,
            setting=setting,
            dialect=chosen_dialect,
            year=year,
            journal=journal,
        )
        if queries is not None:
            answer_all(
                batch,
                results,
                started=started,
                run_out=run_out,
                run_tag=run_tag or SearchOptions(mode=chosen, rerank=rerank).chosen_mode(),  # auto: one tag
                as_json=as_json,
                quiet=quiet,
                description=f"searching {index}",
            )
            return
        result = next(results)
        if explain and as_json:
            typer.echo(json_text(result.body))
        elif explain:
            typer.echo(dev_tools_text(result.body, index))
        elif as_json:
            typer.echo(json_text(result.to_json(), ensure_ascii=False))
        else:
            render_results(Console(), result)


@app.command("indices")
def indices_command(data_dir: DataDirOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List indices with their document count and embedding model.

    An index that cannot be read (damaged, or an older layout) is listed with the reason, and the exit code stays 0:
    bmb-es check verifies every file and exits with 7 when an index is damaged.
    """
    from ..engines import open_engine

    with _user_errors():
        engine = open_engine(data_dir)
        rows: list[dict[str, Any]] = []
        for name in engine.list_indices():
            row: dict[str, Any] = {"index": name, "model": None, "dimension": None, "documents": None}
            try:
                meta = engine.index_meta(name)
                row["model"], row["dimension"] = meta.model, meta.dimension
                row["documents"] = engine.count(name)
            except StorageError as error:  # one unreadable index must not hide the others
                row["error"] = str(error)
            rows.append(row)
        if as_json:
            typer.echo(json_text(rows))
        elif not rows:
            typer.echo("no indices yet: create one with  bmb-es index PATH")
        for row in [] if as_json else rows:
            documents = "?" if row["documents"] is None else row["documents"]
            model = "?" if row["model"] is None else f"{row['model']} ({row['dimension']}-d)"
            line = f"{row['index']}\t{documents} docs\t{model}"
            typer.echo(line + (f"\t{row['error']}" if "error" in row else ""))


@app.command("check")
def check_command(
    index: Annotated[str | None, typer.Argument(help="The embedded index to check (default: every index).")] = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Verify embedded indices file by file; exit code 7 if one is damaged, 0 if all are healthy.

    Checks the record files against the checksums written at each commit, every referenced vector (finite, unit
    length) and source (parses, is its document's), and tantivy's files (their footers' checksums; it opens the
    index and finds every document). It reads every file once.
    """
    import os

    from ..engines import ClusterConfig, EmbeddedEngine

    with _user_errors():
        if ClusterConfig.from_env(os.environ) is not None:  # refused before connecting, as by bmb-es optimize
            raise InputError("bmb-es check verifies embedded indices; a cluster verifies its own shards")
        engine = EmbeddedEngine(data_dir)
        reports = [engine.check(name) for name in ([index] if index is not None else engine.list_indices())]
        if as_json:
            typer.echo(json_text([report.to_json() for report in reports]))
        elif not reports:
            typer.echo("no indices yet: create one with  bmb-es index PATH")
        for report in [] if as_json else reports:
            state = "healthy" if report.healthy else "damaged"
            documents = "?" if report.documents is None else f"{report.documents:,}"
            typer.echo(f"{report.index}: {state} ({documents} documents, {report.seconds:.2f} s)")
            for finding in report.problems:
                typer.echo(f"  problem: {finding}")
            for finding in report.warnings:
                typer.echo(f"  warning: {finding}")
        if not all(report.healthy for report in reports):
            raise typer.Exit(StorageError.exit_code)


@app.command("delete")
def delete_command(
    index: Annotated[str, typer.Argument(help="Index to delete.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Delete an index and everything in it."""
    from ..engines import open_engine

    with _user_errors():
        engine = open_engine(data_dir)
        try:
            engine.index_meta(index)  # fails clearly if it does not exist
            size = f"{engine.count(index)} docs"
        except StorageError as error:  # an index that cannot be read (damaged, an older layout) can still be deleted
            size = "damaged" if isinstance(error, IndexDamagedError) else "unreadable"
        if not yes and not typer.confirm(f"delete index {index!r} ({size})?"):
            raise typer.Exit(1)
        engine.delete_index(index)
        typer.echo(f"deleted {index}")


@app.command("merge")
def merge_command(
    sources: Annotated[
        list[str], typer.Argument(help="Shard indices: names in --data-dir, or index folders copied from elsewhere.")
    ],
    into: Annotated[str, typer.Option("--into", help="The index that receives every document once.")],
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Merge embedded shard indices (bmb-es index --shard i/n) into one; vectors are copied, not re-embedded."""
    from .._api import merge_indices
    from ..engines import open_engine

    with _user_errors():
        summary = merge_indices(sources, into, engine=open_engine(data_dir))
        if as_json:
            typer.echo(json_text(summary.to_json()))
        else:
            typer.echo(
                f"merged {len(summary.sources)} indices into {summary.index}: {summary.read} read, "
                f"{summary.written} written, {summary.unchanged} unchanged, {summary.duplicates} duplicate ids "
                f"({summary.seconds:.1f} s)"
            )


@app.command("optimize")
def optimize_command(
    index: Annotated[str, typer.Argument(help="The embedded index to rewrite.")] = DEFAULT_INDEX,
    data_dir: DataDirOption = None,
    compact: Annotated[
        bool,
        typer.Option(
            "--compact",
            help="Also rewrite the record files without the vectors and sources that re-indexed documents left "
            "behind (copies the index beside itself, then swaps: needs room for its live documents twice).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar (--compact).")] = False,
) -> None:
    """Rewrite an embedded index into one segment, like Elasticsearch's force merge, for faster searches."""
    import os
    import time

    from ..engines import ClusterConfig, EmbeddedEngine

    with _user_errors():
        if ClusterConfig.from_env(os.environ) is not None:  # refused before connecting: nothing to do there
            raise InputError(
                f"bmb-es optimize rewrites embedded indices; on a cluster, force-merge instead: "
                f"POST /{index}/_forcemerge?max_num_segments=1"
            )
        engine = EmbeddedEngine(data_dir)
        if compact:
            _compact_index(engine, index, as_json, quiet)
            return
        started = time.perf_counter()
        before, after = engine.optimize(index)
        seconds = time.perf_counter() - started
        rows, live = engine.record_rows(index)
        if as_json:
            result = {"index": index, "segments_before": before, "segments_after": after, "seconds": round(seconds, 3)}
            typer.echo(json_text({**result, "record_rows": rows, "live_documents": live}, indent=None))
            return
        if before == after:
            typer.echo(f"{index}: nothing to do ({before} segment{'' if before == 1 else 's'})")
        else:
            typer.echo(f"optimized {index}: {before} segments → {after} in {seconds:.1f} s")
        if rows - live > COMPACT_HINT_SHARE * rows:
            typer.echo(
                f"{rows - live:,} of the record files' {rows:,} rows ({(rows - live) / rows:.0%}) belong to no live "
                f"document (re-indexed or interrupted writes): bmb-es optimize {index} --compact drops them"
            )


COMPACT_HINT_SHARE = 0.25  # optimize suggests --compact when more of the record files' rows than this are dead


def _compact_index(engine: Any, index: str, as_json: bool, quiet: bool) -> None:
    """``bmb-es optimize --compact``: the copy with progress, then one line (or the JSON) saying what it reclaimed."""
    from ._progress import Progress

    progress = Progress(f"compacting {index}", "docs", total=engine.count(index), quiet=quiet or as_json)
    try:
        summary = engine.compact(index, progress=progress.update)
    finally:
        progress.close()
    if as_json:
        typer.echo(json_text(summary.to_json(), indent=None))
        return
    rate = summary.documents / summary.seconds if summary.seconds > 0 else 0.0
    typer.echo(
        f"compacted {index}: {summary.documents:,} documents in {summary.seconds:.1f} s ({rate:,.0f} docs/s); "
        f"record files {_mib(summary.bytes_before)} → {_mib(summary.bytes_after)} "
        f"({_mib(summary.reclaimed)} reclaimed)"
    )


def _mib(count: int) -> str:
    return f"{count / 2**20:,.1f} MiB"


def main() -> None:
    """The ``bmb-es`` entry point. Help printed into a pipe or a file gets a wide width (unless ``COLUMNS`` or
    ``TERMINAL_WIDTH`` says otherwise): rich would cut long words at 80 columns with "…"."""
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ and "TERMINAL_WIDTH" not in os.environ:
        os.environ["TERMINAL_WIDTH"] = str(PIPE_HELP_WIDTH)  # read by typer's help console when it is first used
    app()
