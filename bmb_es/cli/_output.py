"""How results and summaries look in a terminal.

User text (questions, titles, ids, abstracts, paths, reasons) reaches rich only as :class:`~rich.text.Text` or
through :func:`~rich.markup.escape`: rich would read ``[draft]`` as a style and drop it, and refuse ``[/x]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.style import Style
from rich.table import Table
from rich.text import Text

from .._links import doi_url, pubmed_url
from ._json import json_text

if TYPE_CHECKING:
    from .._ingest import IngestSummary
    from .._search import SearchResult

EXCERPT_CHARS = 220


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


MODE_LABELS = {
    "auto": "rerank, or feedback for a keyword search",
    "rerank": "BM25 top-k re-scored: BM25 (min-max) and cosine",
    "paper": "BM25 top-k re-ranked by cosine (paper)",
    "bm25": "BM25",
    "dense": "dense kNN by cosine",
    "hybrid": "BM25 and dense candidates, re-scored: BM25 (min-max) and cosine",
    "feedback": "hybrid with the question moved towards its top papers (pseudo-relevance feedback)",
}


def render_results(console: Console, result: SearchResult) -> None:
    """A table: rank, score, BM25, cosine, year, title and id, each with an abstract excerpt below."""
    how = MODE_LABELS.get(result.mode, result.mode)
    title = f"{len(result.hits)} of {result.total_label()} matching papers ({how}, {result.took_ms} ms)"
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
        for url in (pubmed_url(document.pmid), doi_url(document.doi)):
            if url is not None:
                cell.append("\n")
                cell.append(url, style=Style(dim=True, link=url))
        excerpt = _excerpt(document.abstract or document.body)
        if excerpt and document.title:
            cell.append(f"\n{excerpt}")
        table.add_row(
            str(hit.rank), _number(hit.score), _number(hit.bm25), _number(hit.cosine), Text(document.year or "—"), cell
        )
    if not result.hits:
        console.print(Text(f"No papers match {result.question!r}."))
        return
    console.print(table)


def summary_console() -> Console:
    """The console summaries print to: one logical line per item, never wrapped (``soft_wrap``), so a pipe or a
    log file gets whole lines to grep whatever its width; a terminal wraps long lines itself."""
    return Console(soft_wrap=True)


def render_summary(console: Console, summary: IngestSummary) -> None:
    """The end-of-ingest summary: counts, time, throughput, where the rejects went (one line each)."""
    state = "interrupted — re-run the same command to resume" if summary.interrupted else "done"
    console.print(
        f"[bold]{state}[/bold]: index [bold]{escape(summary.index)}[/bold] — read {summary.read:,}, "
        f"new {summary.indexed:,}, updated {summary.updated:,}, unchanged {summary.unchanged:,}, "
        f"duplicates {summary.duplicates:,}, rejected {summary.rejected:,}"
        + (f", not written {summary.unwritten:,}" if summary.unwritten else "")
        + f" in {summary.seconds:.1f} s ({summary.docs_per_second:,.1f} docs/s; embedded {summary.embedded:,})"
    )
    if summary.retries:
        console.print(
            f"back-pressure: {summary.retries:,} document(s) sent again after HTTP 429/503 (each stored once)"
        )
    if summary.segments:
        before, after = summary.segments
        console.print(f"optimized: {before} segments → {after} in {summary.optimize_seconds:.1f} s (faster searches)")
    if summary.reject_log:
        console.print(Text(f"rejected records (file, line, reason): {summary.reject_log}"))
    if summary.coerced:
        counts = ", ".join(f"{note} {count:,}" for note, count in sorted(summary.coerced.items()))
        total = sum(summary.coerced.values())
        console.print(Text(f"coerced {total:,} values in {summary.coerced_records:,} records: {counts}"))
    for name, reason in summary.skipped_files:
        console.print(Text(f"skipped {_printable(name)}: {reason}", style="dim"))


def _printable(name: str) -> str:
    """A file name that is not UTF-8 (lone surrogates from os.fsdecode) with its bytes as \\udcXX escapes: a
    terminal cannot be written such a name, and the run would end with a traceback after indexing."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def dev_tools_text(body: dict[str, Any], index: str) -> str:
    """``body`` (what :attr:`SearchResult.body` holds) as Kibana / OpenSearch Dashboards Dev Tools console text.

    One ``GET <index>/_search`` line and its body per search. A fused mode's ``bmb_es_fusion`` comes first as a
    ``#`` comment line (compact JSON): send each search, then score their hits as it says.
    """
    searches = body.get("searches")
    if not isinstance(searches, list):
        return f"GET {index}/_search\n{json_text(body)}"
    fusion = json_text(body.get("bmb_es_fusion"), indent=None)
    requests = [f"GET {index}/_search\n{json_text(search)}" for search in searches]
    return f"# bmb_es_fusion: {fusion}\n" + "\n\n".join(requests)
