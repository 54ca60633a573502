"""``bmb-es bench``: retrieval quality (``ir``) and speed (``speed``); results in ``<data dir>/bench-results``."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from .._errors import BmbError
from ._app import BatchSizeOption, DeviceOption, _user_errors, app, count_option
from ._progress import Progress

bench_app = typer.Typer(
    name="bench",
    help="Benchmarks: retrieval quality (the paper's Table 9 and more) and speed. Results go to "
    "<data dir>/bench-results/ (--out to choose).",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")

OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Folder for the JSON, Markdown and PNG results [default: <data dir>/bench-results, outside the "
        "repository; give bench/results to publish them].",
    ),
]


def _publish(
    suite: str,
    payload: dict[str, Any],
    markdown: str,
    plot: Callable[[Mapping[str, Any], Path], Path],
    out: Path | None,
    docs: Path | None,
    console: Any,
) -> None:
    """Write a run's JSON, Markdown and plot (and the docs page, if asked), print the tables and where they went."""
    from rich.markup import escape

    from ..bench.report import update_docs, write_results

    folder = _out_folder(out)
    json_path, md_path = write_results(folder, suite, payload, markdown)
    png = plot(payload, json_path.with_suffix(".png"))
    if docs is not None:
        update_docs(docs, folder)
    typer.echo(markdown)
    written = escape(f"{json_path}, {md_path}, {png}")  # paths are user text: printed as they are
    console.print(f"[bold]bench {suite} done[/]: {written}")


def _out_folder(out: Path | None) -> Path:
    """``--out``, else ``<data dir>/bench-results``: a run does not write into the source tree unless asked."""
    from .._config import data_dir

    return out if out is not None else data_dir() / "bench-results"


DocsOption = Annotated[
    Path | None,
    typer.Option("--docs", help="Also rewrite this Markdown page with the newest tables (e.g. docs/benchmarks.md)."),
]


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter("give comma-separated whole numbers, e.g. 20,30,40,50", param_hint=option) from None
    if not values or min(values) < 1:
        raise typer.BadParameter("give at least one number, each at least 1", param_hint=option)
    return sorted(set(values))


def _fields(text: str | None) -> tuple[str, ...] | None:
    """``--fields`` as the product's field specs, each checked now (``name`` or ``name^boost``)."""
    if text is None:
        return None
    from ..query import FieldBoost

    specs = tuple(part.strip() for part in text.split(",") if part.strip())
    if not specs:
        raise typer.BadParameter("give at least one field, e.g. title,abstract,body", param_hint="--fields")
    for spec in specs:
        try:
            FieldBoost.parse(spec, "--fields")
        except BmbError as error:
            raise typer.BadParameter(str(error), param_hint="--fields") from None
    return specs


def _command_line() -> str:
    return "bmb-es " + " ".join(shlex.quote(arg) for arg in sys.argv[1:]) if sys.argv else "bmb-es bench"


def _require(*modules: str) -> None:
    """Fail with one clear line when the benchmark extras are not installed."""
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        typer.echo(
            f"error: bmb-es bench needs {', '.join(missing)}: pip install 'bmb-es[bench]' "
            "(ranx, bm25s, scipy, matplotlib)",
            err=True,
        )
        raise typer.Exit(2)


def _unique_models(models: list[str]) -> list[str]:
    """Drop repeats of the same model (``default`` and the default model's folder are one model)."""
    from ..embedding import model_name

    seen: dict[str, str] = {}
    for item in models:
        seen.setdefault(model_name(item), item)
    return list(seen.values())


class _Bars:
    """One :class:`~bmb_es.cli._progress.Progress` per label on stderr: a bar on a terminal, else plain lines with
    the count, percentage, rate and ETA (a bench run in CI or a log says how far it is)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bars: dict[str, Progress] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        bar = self.bars.get(label)
        if bar is None:
            bar = self.bars[label] = Progress(label, "items", total, quiet=self.quiet)
        bar.update(done)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@bench_app.command("ir")
def ir_command(
    dataset: Annotated[
        list[str],
        typer.Option(
            "--dataset",
            "-d",
            help="KIND:PATH, repeatable: bioasq:DIR (three sets), bioasq-squad|bioasq-golden-docs|bioasq-snippets:DIR, "
            "beir:DIR (corpus.jsonl, queries.jsonl, qrels/test.tsv), nfcorpus:DIR.",
        ),
    ],
    top_k: Annotated[str, typer.Option("--top-k", help="BM25 candidates re-ranked, comma-separated.")] = "20,30,40,50",
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Embedding model, repeatable: 'default' or a model folder / HF id."),
    ] = None,
    measure: Annotated[
        str,
        typer.Option(
            "--debias", help="Overlap measure of the primary debiased set: jaccard, coverage, content-coverage."
        ),
    ] = "content-coverage",
    threshold: Annotated[float, typer.Option("--threshold", help="Keep pairs with overlap <= this.")] = 0.30,
    policy: Annotated[
        str,
        typer.Option(
            "--debias-policy",
            help="pair (paper: passing pairs relevant, the rest not), condensed (failing contexts dropped from "
            "rankings) or question (every context must pass).",
        ),
    ] = "pair",
    stat_test: Annotated[
        str, typer.Option("--stat-test", help="student (paired t), fisher (randomization), wilcoxon.")
    ] = "student",
    no_peers: Annotated[bool, typer.Option("--no-peers", help="Skip dense-only, fusion and the bm25s peer.")] = False,
    max_queries: Annotated[
        int | None, typer.Option("--max-queries", min=1, help="Use the first N questions (by id).")
    ] = None,
    max_docs: Annotated[
        int | None, typer.Option("--max-docs", min=1, help="Cap the corpus (relevant docs always kept).")
    ] = None,
    verify_sample: Annotated[int, typer.Option("--verify", min=0, help="Questions re-run through search() per k.")] = 5,
    fields: Annotated[
        str | None,
        typer.Option(
            "--fields",
            help="First-stage fields with optional ^boost, comma-separated (e.g. 'title^2,abstract,body', the paper's "
            "form). Default: each mode's own.",
        ),
    ] = None,
    index_dir: Annotated[
        Path | None,
        typer.Option(
            "--index-dir",
            help="Keep the indices in this folder and reuse them next time (unchanged documents are not re-embedded).",
        ),
    ] = None,
    out: OutOption = None,
    docs: DocsOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Retrieval quality: BM25, BM25 top-k + re-rank per model (pure and weighted), dense, fusion, a BM25 peer."""
    _require("ranx", "bm25s", "scipy", "matplotlib")
    from rich.console import Console
    from rich.markup import escape

    from ..bench.datasets import load_datasets
    from ..bench.debias import OVERLAP_MEASURES
    from ..bench.ir import IRSettings, run_ir
    from ..bench.render import plot_ir, render_ir
    from ..bench.report import envelope

    if measure not in OVERLAP_MEASURES:
        raise typer.BadParameter(f"choose one of {', '.join(OVERLAP_MEASURES)}", param_hint="--debias")
    if policy not in ("pair", "condensed", "question"):
        raise typer.BadParameter("choose pair, condensed or question", param_hint="--debias-policy")
    if stat_test not in ("student", "fisher", "wilcoxon"):
        raise typer.BadParameter("choose student, fisher or wilcoxon", param_hint="--stat-test")
    settings = IRSettings(
        top_k=_ints(top_k, "--top-k"),
        models=_unique_models(model or ["default"]),
        measure=measure,  # checked above
        threshold=threshold,
        policy=policy,  # type: ignore[arg-type]
        stat_test=stat_test,
        verify_sample=verify_sample,
        peers=not no_peers,
        max_queries=max_queries,
        max_docs=max_docs,
        fields=_fields(fields),
        index_dir=index_dir,
    )
    console = Console(stderr=True)
    bars = _Bars(quiet)
    with _user_errors():
        try:
            datasets = [item for spec in dataset for item in load_datasets(spec)]
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--dataset") from None
        payload = envelope("ir", _command_line(), settings.to_json())
        try:
            payload["results"] = run_ir(datasets, settings, bars)
        finally:
            bars.close()
        _publish("ir", payload, render_ir(payload), plot_ir, out, docs, console)
    for result in payload["results"]:  # a first stage that is not standard BM25 must not pass unnoticed
        warning = (result.get("parity") or {}).get("warning")
        if warning:
            console.print(f"[bold red]WARNING[/] {escape(result['dataset']['name'])}: {escape(warning)}")


@bench_app.command("speed")
def speed_command(
    corpus: Annotated[Path, typer.Option("--corpus", help="A corpus file or folder bmb-es index can read.")],
    sizes: Annotated[str, typer.Option("--sizes", help="Document counts, comma-separated.")] = "1000,10000,100000",
    model: Annotated[str, typer.Option("--model", "-m", help="Embedding model.")] = "default",
    queries: Annotated[int, count_option("--queries", "Questions timed per size, and encoded per setting.")] = 100,
    repeats: Annotated[int, count_option("--repeats", "Repetitions, and interleaved setting rounds (medians).")] = 3,
    ingest_repeats: Annotated[
        int, count_option("--ingest-repeats", "Repetitions of the slow full ingest per size.")
    ] = 1,
    top_k: Annotated[int, count_option("--top-k", "BM25 candidates re-ranked in the latency test.")] = 20,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--setting",
            metavar="BACKEND/PRECISION",
            help="Encoder setting to compare, repeatable (e.g. torch/bf16, openvino/bf16, auto/auto). Default: every "
            "setting this machine runs; torch/fp32, the reference, is always measured.",
        ),
    ] = None,
    device: DeviceOption = "auto",
    encode_sample: Annotated[
        int, count_option("--encode-sample", "Texts encoded per setting per round (encoder alone).")
    ] = 256,
    ingest_sample: Annotated[
        int, count_option("--ingest-sample", "Documents indexed per setting per round (0: no ingest runs).", 0)
    ] = 512,
    compare_docs: Annotated[
        int,
        count_option(
            "--compare-docs", "Documents the setting comparison uses and scores (MRR@10), the first N (0: all).", 0
        ),
    ] = 0,
    batch_size: BatchSizeOption = None,
    no_compare: Annotated[bool, typer.Option("--no-compare", help="Skip the per-setting comparison.")] = False,
    out: OutOption = None,
    docs: DocsOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Speed per corpus size, and every encoder setting compared on the same texts.

    Per size: ingest docs/s (total, embedding alone, BM25 index+write alone), warm query latency, index size, memory.
    Per setting (backend/precision): encoder-alone and whole-ingest docs/s, ratio to torch/fp32, cosine to fp32.

    Per setting, quality: dense MRR@10 on the BioASQ golden questions (when --corpus is the BioASQ pubmed folder).
    """
    _require("matplotlib")
    from rich.console import Console

    from ..bench.embedding_speed import EmbeddingSpeedSettings
    from ..bench.render import plot_speed, render_speed
    from ..bench.report import envelope
    from ..bench.speed import SpeedSettings, run_speed
    from ..embedding import EncoderSetting

    try:
        asked = [EncoderSetting.from_label(item) for item in setting or []]
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--setting") from None
    compare = EmbeddingSpeedSettings(
        settings=asked or None,
        documents=compare_docs,
        encode_sample=encode_sample,
        ingest_sample=ingest_sample,
        rounds=repeats,
        latency_questions=queries,
        batch_size=batch_size,
    )
    settings = SpeedSettings(
        corpus=corpus,
        sizes=_ints(sizes, "--sizes"),
        model=model,
        queries=queries,
        repeats=repeats,
        ingest_repeats=ingest_repeats,
        top_k=top_k,
        device=None if device == "auto" else device,  # None: the bench picks (a GPU when torch sees one)
        batch_size=batch_size,
        embedding=None if no_compare else compare,
    )
    console = Console(stderr=True)
    bars = _Bars(quiet)
    with _user_errors():
        payload = envelope("speed", _command_line(), settings.to_json())
        try:
            payload.update(run_speed(settings, bars))
        finally:
            bars.close()
        _publish("speed", payload, render_speed(payload), plot_speed, out, docs, console)


@bench_app.command("render")
def render_command(
    results: Annotated[Path, typer.Argument(help="A results JSON written by bench ir / bench speed.")],
    docs: DocsOption = None,
) -> None:
    """Re-write the Markdown table and PNG plot beside a results JSON (after a template change)."""
    _require("matplotlib")
    import json

    from ..bench.render import plot_ir, plot_speed, render_ir, render_speed
    from ..bench.report import update_docs

    try:
        payload = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        typer.echo(f"error: {results}: cannot read it as JSON ({error})", err=True)
        raise typer.Exit(3) from None
    if not isinstance(payload, dict) or "suite" not in payload or "created" not in payload:
        typer.echo(f"error: {results}: not a results file of bmb-es bench ir / bench speed", err=True)
        raise typer.Exit(3)
    ir = payload.get("suite") == "ir"
    markdown = render_ir(payload) if ir else render_speed(payload)
    results.with_suffix(".md").write_text(markdown, encoding="utf-8")
    (plot_ir if ir else plot_speed)(payload, results.with_suffix(".png"))
    if docs is not None:
        update_docs(docs, results.parent)
    typer.echo(f"rendered {results.with_suffix('.md')} and {results.with_suffix('.png')}")
