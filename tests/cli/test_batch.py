"""Many questions in one process: question files, ``bmb_es.search_many`` and ``bmb-es query --queries`` writing a
TREC run that ranx scores exactly as the rankings ``bmb_es.search`` returns. In process, with a stand-in embedder
(HashEmbedder: each text's vector depends on that text only), so nothing loads a model; except the slow check at
the end, which runs the 7B golden questions with the real default model against ``bmb-es bench ir``'s own figures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import bmb_es
import bmb_es._search
from bmb_es import Document, EmbeddedEngine, InputError, QueryError, Question
from bmb_es._ingest import ingest
from bmb_es.bench.metrics import quiet_numba
from bmb_es.cli import app
from tests.conftest import shared_path
from tests.support import TOPICS, HashEmbedder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An index of 21 short papers embedded by HashEmbedder, which also encodes every question the CLI asks."""
    root = tmp_path / "home"
    documents = [
        Document(id=f"d{n}", title=f"{TOPICS[n % len(TOPICS)]} study {n}", abstract=f"patients with {topic}")
        for n, topic in enumerate(TOPICS * 3)
    ]
    ingest(documents, EmbeddedEngine(root), "papers", HashEmbedder(), optimize=False)
    monkeypatch.setattr(bmb_es._search, "load_embedder", lambda *args, **kwargs: HashEmbedder())
    return root


def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin, env={"COLUMNS": "250"})  # usage errors on one line
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


# -- question files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("q.tsv", "id\ttext\nq1\tlung injury\nq2\t heart failure \n", [("q1", "lung injury"), ("q2", "heart failure")]),
        ("q.tsv", "7\tsepsis in adults\r\n\n8\tasthma\r\n", [("7", "sepsis in adults"), ("8", "asthma")]),
        (
            "queries.jsonl",
            '{"_id": "PLAIN-1", "text": "lung injury", "metadata": {}}\n{"qid": 2, "query": "stroke"}\n'
            '{"id": "x", "question": "sepsis"}\n',
            [("PLAIN-1", "lung injury"), ("2", "stroke"), ("x", "sepsis")],
        ),
        ("questions.txt", "lung injury\n\nheart failure\n", [("1", "lung injury"), ("3", "heart failure")]),
        ("questions", '{"_id": "a", "text": "stroke"}\n', [("a", "stroke")]),  # no suffix: detected
        ("questions", "a\tstroke\n", [("a", "stroke")]),
        ("questions", "\ufeffstroke in adults\n", [("1", "stroke in adults")]),
    ],
)
def test_question_files_tsv_jsonl_and_plain_text(
    tmp_path: Path, name: str, text: str, expected: list[tuple[str, str]]
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert bmb_es.read_questions(path) == [Question(qid, question) for qid, question in expected]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no questions"),
        ("q1\tlung\nq1\theart\n", "line 2: question id 'q1' again (first on line 1)"),
        ("q1\tlung\nheart\n", "line 2: expected id<TAB>text"),
        ("q1\t \n", "line 1: empty question"),
        ('{"_id": "a"}\n', "line 1: no question text"),
        ('{"text": "lung"}\n', "line 1: no question id"),
        ('{"_id": "a b", "text": "lung"}\n', "question id 'a b' holds white space"),
        ("{not json\n", "line 1: not a JSON object"),
        ('["lung"]\n', "line 1: expected a JSON object, got list"),
    ],
)
def test_bad_question_files_are_input_errors_naming_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "questions"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)):
        bmb_es.read_questions(path)


def test_a_question_file_that_is_not_utf8_names_the_line() -> None:
    with pytest.raises(InputError, match=r"q\.txt, line 2: not UTF-8"):
        bmb_es.parse_questions(b"lung\n\xff heart\n", "q.txt")


# -- the Python API -------------------------------------------------------------------------------------------


def test_search_many_embeds_once_and_answers_as_search_does(home: Path) -> None:
    engine = EmbeddedEngine(home)
    questions = ["lung injury", "heart failure in adults", "sepsis", "stroke outcomes"]
    embedder = HashEmbedder()
    results = list(bmb_es.search_many(engine, "papers", questions, embedder=embedder, size=5, top_k=10))
    assert embedder.calls == [4]  # one batch for every question
    for question, result in zip(questions, results, strict=True):
        alone = bmb_es.search(engine, "papers", question, embedder=HashEmbedder(), size=5, top_k=10)
        assert [(hit.id, hit.score) for hit in result.hits] == [(hit.id, hit.score) for hit in alone.hits]
        assert result.question == question and result.mode == ("feedback" if question == "sepsis" else "rerank")


def test_search_many_checks_every_question_before_it_embeds(home: Path) -> None:
    embedder = HashEmbedder()
    with pytest.raises(QueryError, match="question 2: the query is empty"):
        bmb_es.search_many(EmbeddedEngine(home), "papers", ["lung", "  "], embedder=embedder)
    assert embedder.calls == []
    assert list(bmb_es.search_many(EmbeddedEngine(home), "papers", [], embedder=embedder)) == []


# -- the CLI --------------------------------------------------------------------------------------------------


def test_query_reads_one_question_from_stdin(home: Path) -> None:
    code, out, _ = _run("query", "--json", "--data-dir", str(home), "-", stdin="heart\nfailure\n")
    assert code == 0, out
    result = json.loads(out)
    assert result["question"] == "heart failure" and result["hits"][0]["title"].startswith("heart failure")
    code, _, err = _run("query", "--data-dir", str(home), "-", stdin="  \n")
    assert code == 6 and err.startswith("error: the query is empty")


def test_queries_file_prints_a_trec_run_with_progress_and_a_summary(home: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.tsv"
    questions.write_text("q1\tlung injury\nq2\theart failure\nq3\tzzz nothing matches\n", encoding="utf-8")
    code, out, err = _run("query", "--queries", str(questions), "--size", "3", "--data-dir", str(home))
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()]
    assert [row[0] for row in rows] == ["q1"] * 3 + ["q2"] * 3  # q3 has no hits: no lines
    assert all(len(row) == 6 and row[1] == "Q0" and row[5] == "auto" for row in rows)
    assert [row[3] for row in rows[:3]] == ["1", "2", "3"]
    assert [float(row[4]) for row in rows[:3]] == sorted((float(row[4]) for row in rows[:3]), reverse=True)
    assert "searching papers: 3 of 3 questions (100 %)" in err  # stderr is not a terminal: plain lines
    assert "3 questions in " in err and "questions/s" in err


def test_queries_from_stdin_as_json_lines_and_a_run_file(home: Path, tmp_path: Path) -> None:
    run = tmp_path / "run.trec"
    stdin = '{"_id": "a", "text": "sepsis"}\n{"_id": "b", "text": "asthma"}\n'
    args = ("query", "--queries", "-", "--json", "--run-out", str(run), "--run-tag", "mine", "-n", "2", "-q")
    code, out, err = _run(*args, "--mode", "bm25", "--data-dir", str(home), stdin=stdin)
    assert code == 0 and err == "", err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["qid"], line["question"], len(line["hits"])) for line in lines] == [
        ("a", "sepsis", 2),
        ("b", "asthma", 2),
    ]
    written = [line.split() for line in run.read_text().splitlines()]
    assert [(row[0], row[2], row[5]) for row in written] == [
        (line["qid"], hit["id"], "mine") for line in lines for hit in line["hits"]
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--queries", "Q", "lung"], "not both"),
        (["--queries", "Q", "--explain"], "--explain shows one question"),
        (["--run-out", "run.trec", "lung"], "--run-out and --run-tag go with --queries"),
        (["--queries", "Q", "--run-tag", "two words"], "one word"),
        ([], "give a question"),
    ],
)
def test_batch_options_that_do_not_fit_are_refused(home: Path, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "q.txt").write_text("lung\n")
    args = [str(tmp_path / "q.txt") if arg == "Q" else arg for arg in args]
    code, _, err = _run("query", "--data-dir", str(home), *args)
    assert code == 2 and message in " ".join(err.split()), err


# -- the done-when check: a run of BioASQ 7B golden questions, scored by ranx --------------------------------


def _bioasq_sample(folder: Path, questions: int = 8, abstracts: int = 50) -> tuple[Path, dict[str, str], Any]:
    """A 50-abstract PubMed corpus holding the documents of the first 7B golden questions, those questions, and
    their qrels (documents in the corpus only)."""
    golden = json.loads(shared_path("bioasq", "golden", "7B_golden.json").read_text(encoding="utf-8"))["questions"]
    lines = shared_path("bioasq", "pubmed", "pubmed_abstracts.jsonl").read_text(encoding="utf-8").splitlines()
    by_pmid = {json.loads(line)["pmid"]: line for line in lines}
    chosen: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for question in golden:
        pmids = [url.rsplit("/", 1)[-1] for url in question["documents"]]
        present = [pmid for pmid in pmids if pmid in by_pmid]
        if present and len(chosen) < questions:
            chosen[question["id"]] = question["body"]
            qrels[question["id"]] = dict.fromkeys(present, 1)
    wanted = [pmid for docs in qrels.values() for pmid in docs]
    wanted += [pmid for pmid in by_pmid if pmid not in wanted]
    corpus = folder / "pubmed.jsonl"
    corpus.write_text("".join(by_pmid[pmid] + "\n" for pmid in dict.fromkeys(wanted[:abstracts])), encoding="utf-8")
    return corpus, chosen, qrels


def test_a_bioasq_run_file_scores_in_ranx_as_the_rankings_search_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranx = pytest.importorskip("ranx")
    corpus, questions, qrels = _bioasq_sample(tmp_path)
    home = tmp_path / "home"
    engine = EmbeddedEngine(home)
    summary = bmb_es.index_path(corpus, engine=engine, index="bioasq", embedder=HashEmbedder(), format="pubmed")
    assert summary.indexed == 50 and len(questions) == 8
    (tmp_path / "queries.tsv").write_text("".join(f"{qid}\t{text}\n" for qid, text in questions.items()))
    monkeypatch.setattr(bmb_es._search, "load_embedder", lambda *args, **kwargs: HashEmbedder())
    run_file = tmp_path / "run.trec"
    batch = ["--queries", str(tmp_path / "queries.tsv"), "--run-out", str(run_file)]
    code, _, err = _run("query", "-i", "bioasq", *batch, "-k", "20", "--data-dir", str(home))
    assert code == 0, err

    direct: dict[str, dict[str, float]] = {}
    for qid, text in questions.items():
        result = bmb_es.search(engine, "bioasq", text, embedder=HashEmbedder(), top_k=20)
        direct[qid] = {hit.id: hit.score for hit in result.hits}
    with quiet_numba():
        from_file = ranx.Run.from_file(str(run_file), kind="trec")
        assert from_file.to_dict() == direct  # every id and score as search returned it
        metrics = ["mrr@10", "ndcg@10", "recall@10"]
        scored = ranx.evaluate(ranx.Qrels(qrels), from_file, metrics)
        expected = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(direct), metrics)
    assert scored == expected and scored["mrr@10"] > 0


@pytest.mark.slow
def test_a_7b_golden_run_file_scores_in_ranx_as_bench_ir_scores_the_same_system(tmp_path: Path) -> None:
    """``bmb-es query --queries`` over the 7B golden questions, default mode, against ``bench ir``'s ``auto (as
    shipped)`` row on its ``bioasq-golden-docs`` set cut to 7B: the bench's own loader, ingest, search loop and
    scoring; the CLI's run file scored by ranx from the file."""
    ranx = pytest.importorskip("ranx")
    from bmb_es.bench import ir
    from bmb_es.bench.datasets import load_bioasq_golden_docs
    from bmb_es.embedding import load_embedder
    from bmb_es.query import DEFAULT_TOP_K

    golden = json.loads(shared_path("bioasq", "golden", "7B_golden.json").read_text(encoding="utf-8"))["questions"]
    seven = {str(question["id"]) for question in golden}
    dataset = load_bioasq_golden_docs(shared_path("bioasq"))
    qids = sorted(qid for qid in dataset.queries if qid in seven)
    assert len(qids) > 150 and len(dataset.documents) == 2753

    # What ir.run_dataset does for the first model: ingest into an embedded engine, then search every question
    # with every default (the "<model>: auto (as shipped)" system) and score the unfiltered set.
    settings = ir.IRSettings(peers=False)
    home = tmp_path / "home"
    engine = EmbeddedEngine(home)
    embedder = load_embedder(settings.models[0])
    ingest(dataset.documents, engine, "bench-0", embedder, batch_size=settings.batch_size)
    depth = max(settings.depth, max(settings.top_k))
    shipped = ir._shipped(ir._Index(engine, "bench-0", embedder), dataset, qids, "auto", depth, lambda *_: None)
    bench = ir._score_set(ir.ALL, qids, dataset.qrels, {"auto": shipped}, {}, settings, [])["systems"]["auto"]

    questions = tmp_path / "7b.jsonl"
    questions.write_text("".join(json.dumps({"_id": qid, "text": dataset.queries[qid]}) + "\n" for qid in qids))
    run_file = tmp_path / "run.trec"
    size = str(min(depth, DEFAULT_TOP_K))  # the bench's size for the shipped modes
    args = ("--queries", str(questions), "--run-out", str(run_file), "--size", size, "-q")
    code, _, err = _run("query", "-i", "bench-0", *args, "--data-dir", str(home))
    assert code == 0, err

    rows = [line.split() for line in run_file.read_text(encoding="utf-8").splitlines()]
    written: dict[str, list[str]] = {}
    scores: dict[str, dict[str, float]] = {}
    for qid, _, doc, rank, score, tag in rows:
        assert tag == "auto" and int(rank) == len(written.setdefault(qid, [])) + 1
        written[qid].append(doc)
        scores.setdefault(qid, {})[doc] = float(score)
    metrics = [metric for metric in bench if metric != "paper_mrr@10"]  # ranx's: MRR@5/10, nDCG@10, recall@k
    with quiet_numba():
        qrels = ranx.Qrels({qid: dataset.qrels[qid] for qid in qids})
        scored = ranx.evaluate(qrels, ranx.Run.from_file(str(run_file), kind="trec"), metrics)
    assert {metric: float(scored[metric]) for metric in metrics} == pytest.approx(
        {metric: bench[metric] for metric in metrics}, abs=1e-9
    )
    assert bench["mrr@10"] > 0.5
    # The rankings themselves: the same documents for every question, in the same order but for near-ties. The
    # CLI embeds all questions in batches, the bench one at a time; with the bf16 encoder `auto` picks on AMX/AVX-512
    # CPUs a question's vector depends slightly on its batch (cosine 0.999997 measured), enough to swap two hits
    # whose scores differ by ~1e-4 (2 of 186 questions on the 2026-12-04 run, at ranks 39 and 43).
    assert written.keys() == {qid for qid, ranked in shipped.items() if ranked}
    for qid, ranked in written.items():
        assert sorted(ranked) == sorted(shipped[qid]), qid
        for doc, expected in zip(ranked, shipped[qid], strict=True):
            assert abs(scores[qid][doc] - scores[qid][expected]) < 1e-3, (qid, doc, expected)
