"""What a user types or indexes never crashes the CLI: one line and an exit code, or the text printed as it is.

Rich markup in titles, ids, questions, paths and reasons is never interpreted: a title ``[draft] Lung injury``
keeps its ``[draft]``, and a question or a path holding ``[/x]`` (a closing tag rich would refuse) does not crash
the command. Sizes beyond :data:`~bmb_es.query.MAX_SIZE` and questions that are not UTF-8 are refused with exit
code 6 (QueryError). In process (CliRunner) with a fake embedder (no model loads), except for raw argv bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bmb_es._api
from bmb_es import Document, EmbeddedEngine
from bmb_es._ingest import ingest
from bmb_es.cli import app
from bmb_es.query import MAX_SIZE
from tests.support import ConstantEmbedder

TITLES = ("[draft] Lung injury in [b]mice[/b]", "Alveolar repair [/x] after lung damage", "[bold]Lung[/bold] fibrosis")
WIDE = {"COLUMNS": "250"}  # rich wraps table cells at the terminal's width; one line per title keeps asserts simple


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    documents = [
        Document(id=f"doc[/x]{n}", title=title, abstract=f"lung [i]abstract[/i] {n} [/]", date="2020-03")
        for n, title in enumerate(TITLES)
    ]
    ingest(documents, EmbeddedEngine(root), "papers", ConstantEmbedder(), optimize=False)
    return root


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=WIDE)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_titles_ids_and_abstracts_are_printed_literally(home: Path) -> None:
    code, output = _run("query", "--no-rerank", "--data-dir", str(home), "lung")
    assert code == 0, output
    for title in TITLES:
        assert title in output
    assert "doc[/x]0" in output and "lung [i]abstract[/i] 0 [/]" in output


@pytest.mark.parametrize("question", ["lung [/x]", "[/qq] zzz", "[yy]zzz[/yy] [/]"])
def test_a_question_with_markup_is_printed_literally(home: Path, question: str) -> None:
    code, output = _run("query", "--no-rerank", "--data-dir", str(home), question)
    assert code == 0, output
    if "zzz" in question:
        assert output.strip() == f"No papers match {question!r}."
    else:
        assert "3 of 3 matching papers" in output


def test_an_error_message_with_markup_is_printed_literally(home: Path) -> None:
    code, output = _run("query", "--no-rerank", "--data-dir", str(home), "--index", "nope[/x]", "lung")
    assert code == 3 and output.startswith("error: index name 'nope[/x]'")


def test_index_a_folder_whose_path_holds_markup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bmb_es._api, "load_embedder", lambda *args, **kwargs: ConstantEmbedder())
    corpus = tmp_path / "corpus[" / "x]"  # the path reads ".../corpus[/x]/...": a closing tag to rich
    corpus.mkdir(parents=True)
    records = [{"id": "a[/x]", "title": "[draft] Lung injury", "abstract": "alveoli"}, {"id": "empty"}]
    (corpus / "papers[bold].jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (corpus / "notes[x].md").write_text("not a record file")
    home = tmp_path / "home[" / "x]"
    code, output = _run("index", str(corpus), "--data-dir", str(home), "-q")
    assert code == 0, output
    assert "index papers — read 2, new 1" in output
    assert f"skipped {corpus / 'notes[x].md'}: not a record file" in output
    assert f"rejected records (file, line, reason): {home}" in output
    assert EmbeddedEngine(home).count("papers") == 1
    code, output = _run("query", "--no-rerank", "--data-dir", str(home), "lung")
    assert code == 0 and "[draft] Lung injury" in output and "a[/x]" in output


@pytest.mark.parametrize(
    "options",
    [
        ["--size", "2000000000"],
        ["--size", str(MAX_SIZE + 1), "--top-k", str(MAX_SIZE)],
        ["--size", "0"],
        ["--size", "-1"],
        ["--size", "-2000000000"],
        ["--top-k", "2000000000"],
        ["--top-k", str(MAX_SIZE + 1)],
        ["--top-k", "0"],
        ["--top-k", "-5"],
        ["--top-k", "18446744073709551617"],
    ],
)
def test_sizes_beyond_the_limits_are_one_line_and_exit_code_6(home: Path, options: list[str]) -> None:
    code, output = _run("query", "--no-rerank", "--data-dir", str(home), *options, "lung")
    assert code == 6, output
    assert output.startswith("error: ") and len(output.strip().splitlines()) == 1, output


def test_sizes_at_the_limits_run(home: Path) -> None:
    args = ("query", "--no-rerank", "--json", "--data-dir", str(home))
    code, output = _run(*args, "--size", str(MAX_SIZE), "--top-k", str(MAX_SIZE), "lung")
    assert code == 0 and len(json.loads(output)["hits"]) == 3
    code, output = _run(*args, "--size", "1", "--top-k", "1", "lung")
    assert code == 0 and len(json.loads(output)["hits"]) == 1


@pytest.mark.parametrize("question", [b"\xff\xfe", b"lung \xff", b"\xed\xa0\x80 lung"])
def test_a_question_that_is_not_utf8_is_one_line_and_exit_code_6(home: Path, question: bytes) -> None:
    argv = [sys.executable, "-m", "bmb_es", "query", "--no-rerank", "--data-dir", str(home)]
    result = subprocess.run([*(os.fsencode(arg) for arg in argv), question], capture_output=True)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 6, stderr
    assert stderr.startswith("error: the query is not UTF-8 text") and len(stderr.strip().splitlines()) == 1, stderr
