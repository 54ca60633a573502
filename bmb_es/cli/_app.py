"""The ``bmb-es`` command line. Heavy imports (torch, tantivy) happen inside commands, so ``--help`` is instant."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from .._config import DEFAULT_INDEX
from .._errors import BmbError, InputError, StorageError
from ..embedding import BACKENDS, PRECISIONS, REMOVED_BACKENDS, EncoderSetting

app = typer.Typer(
    name="bmb-es",
    help="Literature search: BM25 candidates re-ranked by BERT-embedding cosine similarity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold credentials
)

EXIT_INTERRUPTED = 130

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
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size", min=1, help="Texts per encoder batch (default: 16 OpenVINO, 32 torch CPU, 512 GPU)."
        ),
    ] = None,
    precision: PrecisionOption = "auto",
    backend: BackendOption = "auto",
    device: Annotated[
        str,
        typer.Option(
            "--device", help="Where documents are encoded: cpu, cuda, cuda:N, or auto (a GPU when torch sees one)."
        ),
    ] = "auto",
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
    from rich.console import Console
    from tqdm import tqdm

    from .._api import index_path
    from .._config import data_dir as resolve_data_dir
    from .._ingest import IngestSummary, default_reject_log, parse_field_map
    from ..engines import open_engine
    from ._output import render_summary

    with _user_errors():
        setting = EncoderSetting.parse(backend, precision, device, batch_size)
        root = resolve_data_dir(data_dir)
        engine = open_engine(root)
        embedder = None
        if server_pipeline:
            from ._cluster import server_pipeline_embedder

            embedder = server_pipeline_embedder(engine, index, server_pipeline)
        bar = tqdm(desc=f"indexing {path}", unit=" docs", disable=quiet or None, file=sys.stderr, dynamic_ncols=True)

        def progress(summary: IngestSummary) -> None:
            bar.update(summary.read - bar.n)
            bar.set_postfix(new=summary.indexed, updated=summary.updated, rejected=summary.rejected, refresh=False)

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
                on_progress=progress,
                shard=shard,
                optimize=optimize,
                setting=setting,
            )
        finally:
            bar.close()
        if summary.encoder and not quiet and not as_json:
            typer.echo(f"encoder: {summary.encoder}", err=True)
        if as_json:
            typer.echo(json.dumps(summary.to_json(), indent=2))
        else:
            render_summary(Console(), summary)
        if summary.interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)


@app.command("query")
def query_command(
    question: Annotated[list[str], typer.Argument(help="The question, in plain language.")],
    rerank: Annotated[
        bool, typer.Option("--rerank/--no-rerank", help="Re-rank the BM25 top-k by embedding cosine similarity.")
    ] = False,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="BM25 candidates re-ranked (window_size).")] = 50,
    size: Annotated[int, typer.Option("--size", "-n", min=1, help="Results shown.")] = 10,
    query_weight: Annotated[
        float, typer.Option("--query-weight", help="Weight of the BM25 score after re-ranking (paper: 0).")
    ] = 0.0,
    rescore_weight: Annotated[
        float, typer.Option("--rescore-weight", help="Weight of cosine + 1 after re-ranking (paper: 1).")
    ] = 1.0,
    score_mode: Annotated[
        str, typer.Option("--score-mode", help="How weighted scores combine: total, multiply, avg, max, min.")
    ] = "total",
    index: IndexOption = DEFAULT_INDEX,
    model: ModelOption = None,
    precision: PrecisionOption = "auto",
    backend: BackendOption = "auto",
    device: Annotated[
        str,
        typer.Option(
            "--device", help="Where the question is encoded: cpu (default: fastest for one question), cuda, cuda:N."
        ),
    ] = "cpu",
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits as JSON.")] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Print the executed Elasticsearch request body (paste into Dev Tools).")
    ] = False,
) -> None:
    """Search an index: BM25, optionally re-ranked by cosine similarity of embeddings."""
    from rich.console import Console

    from .._search import search
    from ..engines import open_engine
    from ..query import SCORE_MODES
    from ._output import render_results

    with _user_errors():
        if score_mode not in SCORE_MODES:
            raise typer.BadParameter(f"choose one of {', '.join(SCORE_MODES)}", param_hint="--score-mode")
        # Any verified backend/precision of the index's model may encode the question.
        setting = EncoderSetting.parse(backend, precision, device)
        engine = open_engine(data_dir)
        result = search(
            engine,
            index,
            " ".join(question),
            rerank=rerank,
            size=size,
            top_k=top_k,
            query_weight=query_weight,
            rescore_query_weight=rescore_weight,
            score_mode=score_mode,  # type: ignore[arg-type]  # checked against SCORE_MODES above
            model=model,
            setting=setting,
        )
        if explain:
            typer.echo(json.dumps(result.body, indent=2))
        elif as_json:
            typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        else:
            render_results(Console(), result, reranked=rerank)


@app.command("indices")
def indices_command(data_dir: DataDirOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List indices with their document count and embedding model."""
    from ..engines import open_engine

    with _user_errors():
        engine = open_engine(data_dir)
        rows: list[dict[str, Any]] = []
        for name in engine.list_indices():
            meta = engine.index_meta(name)
            row: dict[str, Any] = {"index": name, "model": meta.model, "dimension": meta.dimension}
            try:
                row["documents"] = engine.count(name)
            except StorageError as error:  # one unreadable index (e.g. an older layout) must not hide the others
                row["documents"], row["error"] = None, str(error)
            rows.append(row)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
        elif not rows:
            typer.echo("no indices yet: create one with  bmb-es index PATH")
        for row in [] if as_json else rows:
            documents = "?" if row["documents"] is None else row["documents"]
            line = f"{row['index']}\t{documents} docs\t{row['model']} ({row['dimension']}-d)"
            typer.echo(line + (f"\t{row['error']}" if "error" in row else ""))


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
        engine.index_meta(index)  # fails clearly if it does not exist
        try:
            size = f"{engine.count(index)} docs"
        except StorageError:  # an index that cannot be opened (e.g. an older layout) can still be deleted
            size = "unreadable"
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
            typer.echo(json.dumps(summary.to_json(), indent=2))
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
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
        started = time.perf_counter()
        before, after = engine.optimize(index)
        seconds = time.perf_counter() - started
        if as_json:
            typer.echo(
                json.dumps(
                    {"index": index, "segments_before": before, "segments_after": after, "seconds": round(seconds, 3)}
                )
            )
        elif before == after:
            typer.echo(f"{index}: nothing to do ({before} segment{'' if before == 1 else 's'})")
        else:
            typer.echo(f"optimized {index}: {before} segments → {after} in {seconds:.1f} s")


def main() -> None:
    app()
