"""The CLI end to end, as a user runs it: subprocesses, exit codes, output, and no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bmb_es.query import DEFAULT_BM25_WEIGHT
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow


def bmb(*args: str, home: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BMB_ES_HOME": str(home), "COLUMNS": "120"}
    result = subprocess.run([sys.executable, "-m", "bmb_es", *args], env=env, capture_output=True, text=True)
    assert "Traceback" not in result.stderr, result.stderr
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-home")
    result = bmb("index", str(EXAMPLES / "breathe"), home=root, check=True)
    assert "read 18, new 18" in result.stdout
    return root


def test_query_rerank_table(home: Path) -> None:
    out = bmb("query", "--rerank", "how does coronavirus damage the lungs", home=home, check=True).stdout
    assert "BM25 top-k re-scored: BM25 (min-max) and cosine" in out and "SARS-CoV-2" in out


def test_query_json_for_scripts(home: Path) -> None:
    out = bmb(
        "query",
        "--paper",
        "--top-k",
        "10",
        "--size",
        "3",
        "--json",
        "statins and breast cancer survival",
        home=home,
        check=True,
    ).stdout
    result = json.loads(out)
    hits = result["hits"]
    assert [hit["rank"] for hit in hits] == [1, 2]  # only two example papers mention these words
    assert hits[0]["title"] == "Statin use and survival after breast cancer diagnosis"
    assert all(hit["score"] == pytest.approx(hit["cosine"] + 1.0) for hit in hits)
    assert hits == sorted(hits, key=lambda hit: -hit["score"])


def test_query_explain_prints_the_executed_body(home: Path) -> None:
    explain = ("--explain", "--json")  # the bodies as JSON; --explain alone prints Dev Tools text (test_explain.py)
    body = json.loads(bmb("query", "--paper", "-k", "20", *explain, "lung damage", home=home, check=True).stdout)
    assert body["query"]["multi_match"]["query"] == "lung damage"
    assert body["query"]["multi_match"]["fields"] == ["title^2", "abstract", "body"]
    assert body["rescore"]["window_size"] == 20
    assert len(body["rescore"]["query"]["rescore_query"]["script_score"]["script"]["params"]["query_vector"]) == 384


def test_query_explain_of_the_default_mode_prints_its_searches_and_fusion(home: Path) -> None:
    body = json.loads(
        bmb("query", "--rerank", "-k", "20", "--explain", "--json", "lung damage", home=home, check=True).stdout
    )
    assert body["bmb_es_fusion"]["mode"] == "rerank" and body["bmb_es_fusion"]["bm25_weight"] == DEFAULT_BM25_WEIGHT
    paper, lexical = body["searches"]
    assert paper["rescore"]["window_size"] == 20 and "rescore" not in lexical
    assert lexical["query"]["multi_match"]["fields"] == ["title", "abstract", "body"] and lexical["size"] == 20
    hybrid = json.loads(bmb("query", "--mode", "hybrid", "--explain", "--json", "lung", home=home, check=True).stdout)
    assert hybrid["searches"][2]["knn"]["k"] == 100


def test_indices_lists_model(home: Path) -> None:
    out = bmb("indices", home=home, check=True).stdout
    assert "papers\t18 docs\tsentence-transformers/all-MiniLM-L6-v2 (384-d)" in out


def test_a_legacy_index_is_listed_refused_converted_and_deleted(tmp_path: Path) -> None:
    from tests.engines.embedded.test_records import _legacy_index

    home = tmp_path / "home"
    _legacy_index(home / "indices" / "old")
    listed = bmb("indices", home=home, check=True).stdout
    assert "old\t? docs\thand-made-vectors (3-d)\t" in listed and "bmb-es merge" in listed
    refused = bmb("query", "--no-rerank", "--index", "old", "lung", home=home)
    assert refused.returncode == 7 and "convert it without re-embedding: bmb-es merge" in refused.stderr
    merged = bmb("merge", str(home / "indices" / "old"), "--into", "old-2", home=home, check=True).stdout
    assert "3 read, 3 written" in merged
    assert "old-2\t3 docs" in bmb("indices", home=home, check=True).stdout
    assert "lung" in bmb("query", "--no-rerank", "--index", "old-2", "lung", home=home, check=True).stdout
    assert bmb("delete", "old", "--yes", home=home, check=True).stdout.strip() == "deleted old"


def test_index_optimizes_what_it_wrote_and_optimize_says_when_there_is_nothing_to_do(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paced = bmb("index", str(EXAMPLES / "breathe"), "--commit-every", "5", home=home, check=True).stdout
    assert "read 18, new 18" in paced and "optimized: 4 segments → 1 in" in paced
    again = bmb("optimize", home=home, check=True).stdout
    assert again.strip() == "papers: nothing to do (1 segment)"
    kept = bmb(
        "index",
        str(EXAMPLES / "breathe"),
        "--index",
        "kept",
        "--commit-every",
        "5",
        "--no-optimize",
        "--json",
        home=home,
        check=True,
    ).stdout
    assert json.loads(kept)["segments"] is None
    done = json.loads(bmb("optimize", "kept", "--json", home=home, check=True).stdout)
    assert (done["segments_before"], done["segments_after"]) == (4, 1)
    assert (
        "SARS-CoV-2" in bmb("query", "--index", "kept", "--rerank", "coronavirus lungs", home=home, check=True).stdout
    )
    refused = subprocess.run(
        [sys.executable, "-m", "bmb_es", "optimize", "papers"],
        env={**os.environ, "BMB_ES_HOME": str(home), "BMB_ES_URL": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 3 and "_forcemerge?max_num_segments=1" in refused.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["index", "/no/such/folder"], 3, "no such file or folder"),
        (["index", str(EXAMPLES / "breathe"), "--format", "pdf"], 3, "unknown format 'pdf'"),
        (["index", str(EXAMPLES / "breathe"), "--field", "nonsense"], 3, "expected DOCUMENT_FIELD=SOURCE_KEY"),
        (["query", "--index", "nope", "lung"], 4, "index 'nope' not found"),
        (["query", "--rerank", "   "], 6, "the query is empty"),
        (["query", "--rerank", "--size", "20", "--top-k", "5", "lung"], 6, "larger than top-k"),
        (["query", "--rerank", "--model", "/no/such/model", "lung"], 8, "no such folder"),
    ],
)
def test_expected_errors_are_one_line_with_exit_codes(home: Path, args: list[str], code: int, message: str) -> None:
    result = bmb(*args, home=home)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_empty_folder_and_unwritable_data_dir(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = bmb("index", str(empty), home=tmp_path / "h")
    assert result.returncode == 3 and "holds no record files" in result.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = bmb("index", str(EXAMPLES / "breathe"), home=blocker / "sub")
    assert result.returncode == 7 and "data dir" in result.stderr


def test_model_mismatch_exit_code(home: Path, tiny_model: Path) -> None:
    result = bmb("query", "--rerank", "--model", str(tiny_model), "lung", home=home)
    assert result.returncode == 5 and "was built with sentence-transformers/all-MiniLM-L6-v2" in result.stderr


def test_help_and_argument_errors_do_not_import_torch() -> None:
    probe = (
        "import sys\nfrom bmb_es.cli import main\n"
        "for argv in (['--help'], ['query', '--help'], ['query', '--size', 'x', 'q']):\n"
        "    sys.argv = ['bmb-es', *argv]\n"
        "    try:\n        main()\n    except SystemExit as exit:\n        print('exit', exit.code)\n"
        "print('heavy', sorted(m for m in ('torch', 'sentence_transformers', 'tantivy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.count("exit 0") == 2 and "exit 2" in out and out.endswith("heavy []\n")


def test_query_filters_by_year_and_journal(home: Path) -> None:
    out = bmb("query", "--no-rerank", "--year", "2020", "--json", "-n", "20", "lung", home=home, check=True).stdout
    hits = json.loads(out)["hits"]
    assert hits and all(str(hit["date"]).startswith("2020") for hit in hits)
    journal = hits[0]["journal"]
    only = json.loads(bmb("query", "--no-rerank", "--journal", journal, "--json", "lung", home=home, check=True).stdout)
    assert only["hits"] and {hit["journal"] for hit in only["hits"]} == {journal}
    refused = bmb("query", "--no-rerank", "--year", "20x9", "lung", home=home)
    assert refused.returncode == 6 and refused.stderr.startswith("error: year filter '20x9'")
