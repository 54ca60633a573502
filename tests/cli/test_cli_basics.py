"""What every command line tool is expected to do: --version, shell completion, help and summaries that stay whole
in a pipe, and progress with a total, a percentage and an ETA (a bar on a terminal, plain lines elsewhere)."""

from __future__ import annotations

import gzip
import io
import os
import re
import subprocess
import sys
import threading
from importlib.metadata import version
from pathlib import Path

import pytest
import shellingham
from typer.testing import CliRunner

import bmb_es._api
from bmb_es import EmbeddedEngine
from bmb_es.cli import app
from bmb_es.cli._progress import Progress
from bmb_es.readers import count_records, iter_corpus, plan_corpus
from tests.support import ConstantEmbedder, write_corpus


def test_version_is_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"bmb-es {version('bmb-es')}\n"


def test_shell_completion_is_offered_and_completes_commands_and_options(monkeypatch: pytest.MonkeyPatch) -> None:
    # typer asks shellingham which shell runs it (from the process tree): a test run whose parent is no shell (a
    # detached job, some CI runners) would get none. The script asked for here is bash's.
    monkeypatch.setattr(shellingham, "detect_shell", lambda: ("bash", "/bin/bash"))
    shown = CliRunner().invoke(app, ["--show-completion", "bash"], prog_name="bmb-es")
    assert shown.exit_code == 0 and "complete -o default -F _bmb_es_completion bmb-es" in shown.stdout
    assert "--install-completion" in CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    for words, word, expected in (("bmb-es qu", "1", "query"), ("bmb-es query --que", "2", "--queries")):
        env = {"_BMB_ES_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": word}
        completed = CliRunner().invoke(app, [], prog_name="bmb-es", env=env)
        assert expected in completed.stdout.split(), completed.stdout


def test_help_in_a_pipe_is_never_cut() -> None:
    """Every command's --help, printed into a pipe with no width set: rich would cut long words at 80 columns."""
    probe = (
        "import sys, typer.main\nfrom bmb_es.cli import app, main\n"
        "def paths(command, path):\n"
        "    yield path\n"
        "    for name, sub in getattr(command, 'commands', {}).items():\n"
        "        yield from paths(sub, [*path, name])\n"
        "for path in paths(typer.main.get_command(app), []):\n"
        "    sys.argv = ['bmb-es', *path, '--help']\n"
        "    print('=== ' + ' '.join(path), flush=True)\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "TERMINAL_WIDTH")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    assert out.count("=== ") >= 12 and "Usage: bmb-es index" in out and "Usage: bmb-es bench ir" in out
    cut = [line for line in out.splitlines() if "…" in line]
    assert not cut, cut


def test_the_ingest_summary_and_progress_are_whole_lines_in_a_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bmb_es._api, "load_embedder", lambda *args, **kwargs: ConstantEmbedder())
    corpus = tmp_path / ("a-folder-with-a-long-name-" * 3) / "corpus"
    corpus.mkdir(parents=True)
    write_corpus(corpus / "papers.jsonl", 18, bad_every=6)
    (corpus / "README.md").write_text("not records")
    args = ["index", str(corpus), "--commit-every", "5", "--no-optimize", "--data-dir", str(tmp_path / "h")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("done: index papers — read 18, new 15, ") and lines[0].endswith("embedded 15)")
    assert f"rejected records (file, line, reason): {tmp_path / 'h'}" in lines[1] and lines[1].endswith(".jsonl")
    assert lines[-1] == f"skipped {corpus / 'README.md'}: not a record file"
    # stderr is not a terminal: plain progress lines with the total (counted beside the run) and the percentage
    progress = [line for line in result.stderr.splitlines() if line.startswith(f"indexing {corpus}: ")]
    assert progress and progress[-1].startswith(f"indexing {corpus}: 18 of 18 docs (100 %) in ")
    assert re.search(r"; new=\d+ updated=0 rejected=3$", progress[-1]), progress


def test_progress_on_a_terminal_is_a_bar_with_total_percentage_and_eta() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = Progress("indexing corpus", "docs", total=200, stream=stream)
    progress.update(50)
    progress.update(100, "new=100")
    progress.close()
    bar = stream.getvalue().split("\r")[-1]
    assert re.search(r"indexing corpus:  50%\|.*\| 100/200 \[\d\d:\d\d<\d\d:\d\d, .* docs/s, new=100\]", bar), bar


def test_progress_elsewhere_is_a_line_every_tenth_or_ten_seconds() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = Progress("searching papers", "questions", total=200, stream=stream, clock=lambda: now[0])
    for when, done in ((1.0, 10), (1.5, 30), (2.0, 50), (2.5, 55), (13.0, 60), (14.0, 61), (20.0, 200)):
        now[0] = when
        progress.update(done)
    progress.close()
    assert stream.getvalue().splitlines() == [
        "searching papers: 30 of 200 questions (15 %) in 1.5 s, 40.0 questions/s, ETA 4.2 s",  # a new tenth
        "searching papers: 50 of 200 questions (25 %) in 2.0 s, 40.0 questions/s, ETA 3.8 s",
        "searching papers: 60 of 200 questions (30 %) in 13 s, 4.2 questions/s, ETA 34 s",  # 11 s after the last
        "searching papers: 200 of 200 questions (100 %) in 20 s, 10.0 questions/s",
    ]
    late = io.StringIO()
    unknown = Progress("indexing x", "docs", stream=late, clock=lambda: now[0])
    unknown.update(5)
    unknown.set_total(10)  # the count beside the run finished
    unknown.close()
    assert late.getvalue() == "indexing x: 5 of 10 docs (50 %) in 0.0 s\n"
    quiet = io.StringIO()
    Progress("x", "docs", total=1, quiet=True, stream=quiet).update(1)
    assert quiet.getvalue() == ""


def test_an_interrupted_run_reports_as_new_only_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bmb_es._api, "load_embedder", lambda *args, **kwargs: ConstantEmbedder(interrupt_at=3))
    write_corpus(tmp_path / "corpus.jsonl", 10)
    home = tmp_path / "home"
    result = CliRunner().invoke(
        app, ["index", str(tmp_path / "corpus.jsonl"), "--commit-every", "2", "--data-dir", str(home)]
    )
    assert result.exit_code == 130, result.output
    counts = re.search(r"read (\d+), new (\d+), .*, not written (\d+) in ", result.stdout)
    assert counts is not None, result.stdout
    read, new, unwritten = (int(value) for value in counts.groups())
    assert new == EmbeddedEngine(home).count("papers") > 0 and read == new + unwritten


def test_the_progress_total_counts_every_record_the_run_reads(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text('{"id": "1", "title": "x"}\n\n{broken\n{"id": "2", "title": "y"}\n')
    (corpus / "b.csv").write_text('id,title,abstract\n1,"a title\nover two lines",x\n2,b,y\n,,\n3,too,many,cells\n')
    (corpus / "c.json").write_text('[{"id": "1", "title": "x"}, {"id": "2", "title": "y"}, 3]')
    with gzip.open(corpus / "d.jsonl.gz", "wt") as handle:
        handle.write('{"id": "g1", "title": "x"}\n{"id": "g2", "title": "y"}\n')
    plan = plan_corpus(corpus)
    assert count_records(plan) == len(list(iter_corpus(plan))) == 11
    stopped = threading.Event()
    stopped.set()
    assert count_records(plan, stopped) is None
