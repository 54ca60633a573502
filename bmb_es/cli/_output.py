"""How results and summaries look in a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from .._ingest import IngestSummary
    from .._search import SearchResult

EXCERPT_CHARS = 220


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_results(console: Console, result: SearchResult, reranked: bool) -> None:
    """A table: rank, score, BM25, cosine, year, title and id, each with an abstract excerpt below."""
    how = "BM25 top-k re-ranked by cosine" if reranked else "BM25"
    title = f"{len(result.hits)} of {result.total} matching papers ({how}, {result.took_ms} ms)"
    table = Table(title=title, show_lines=True, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("bm25", justify="right", no_wrap=True)
    table.add_column("cosine", justify="right", no_wrap=True)
    table.add_column("year", no_wrap=True)
    table.add_column("paper", ratio=1)
    for hit in result.hits:
        document = hit.document
        heading = document.title or _excerpt(document.abstract or document.body, 100)
        cell = Text(heading, style="bold")
        cell.append(f"\n{hit.id}", style="dim")
        excerpt = _excerpt(document.abstract or document.body)
        if excerpt and document.title:
            cell.append(f"\n{excerpt}")
        table.add_row(
            str(hit.rank), _number(hit.score), _number(hit.bm25), _number(hit.cosine), document.year or "—", cell
        )
    if not result.hits:
        console.print(f"No papers match {result.question!r}.")
        return
    console.print(table)


def render_summary(console: Console, summary: IngestSummary) -> None:
    """The end-of-ingest summary: counts, time, throughput, where the rejects went."""
    state = "interrupted — re-run the same command to resume" if summary.interrupted else "done"
    console.print(
        f"[bold]{state}[/bold]: index [bold]{summary.index}[/bold] — read {summary.read:,}, "
        f"new {summary.indexed:,}, updated {summary.updated:,}, unchanged {summary.unchanged:,}, "
        f"duplicates {summary.duplicates:,}, rejected {summary.rejected:,} "
        f"in {summary.seconds:.1f} s ({summary.docs_per_second:,.1f} docs/s; embedded {summary.embedded:,})"
    )
    if summary.retries:
        console.print(
            f"back-pressure: {summary.retries:,} document(s) sent again after HTTP 429/503 (each stored once)"
        )
    if summary.segments:
        before, after = summary.segments
        console.print(f"optimized: {before} segments → {after} in {summary.optimize_seconds:.1f} s (faster searches)")
    if summary.reject_log:
        console.print(f"rejected records (file, line, reason): {summary.reject_log}")
    for name, reason in summary.skipped_files:
        console.print(f"[dim]skipped {name}: {reason}[/dim]")
