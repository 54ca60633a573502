"""Each reader on real samples from ../shared/data and on small files written here."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from bmb_es import Document, InputError
from bmb_es.readers import Reject, plan_corpus, read_corpus
from tests.conftest import EXAMPLES, shared_path


def _documents(path: Path, **kwargs: object) -> list[Document]:
    return [item for item in read_corpus(path, **kwargs) if isinstance(item, Document)]  # type: ignore[arg-type]


def test_breathe_bigquery_jsonl_sample() -> None:
    folder = shared_path("breathe-sample", "nature-sample-anammari")
    plan = plan_corpus(folder)
    assert [item.format for item in plan.files] == ["breathe"]
    # The questions CSV beside it is not a corpus: skipped with a reason, not an error.
    assert [reason for _, reason in plan.skipped] == ["unknown format"]
    docs = _documents(folder)
    assert len(docs) == 1000
    first = docs[0]
    assert first.id == "e08c8e11-2fa3-4f69-86d1-85394f5c21d6"
    assert first.title.startswith("The pivotal role of melatonin")
    assert first.authors == ("Naro Ohashi", "Sayaka Ishigaki", "Shinsuke Isobe")
    assert first.keywords[0] == "Medicine/Public Health, general"
    assert first.extra["organization_affiliated"].startswith("Internal Medicine 1")
    assert len({doc.id for doc in docs}) == 1000


def test_breathe_csv_dump_shard_gz_with_full_body() -> None:
    docs = _documents(EXAMPLES / "breathe" / "dump-000000000000.csv.gz")
    assert len(docs) == 6
    assert all(doc.body.startswith(doc.abstract) and "full body" in doc.body for doc in docs)


def test_breathe_csv_body_column(tmp_path: Path) -> None:
    path = tmp_path / "000000000001.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "abstract", "body", "doi"])
        writer.writerow(["A title", "An abstract.", "x" * 300_000, "10.1/abc"])  # past csv's default field limit
    (doc,) = _documents(path)
    assert len(doc.body) == 300_000 and doc.doi == "10.1/abc"
    assert doc.id.startswith("sha256-")  # no source id: a content hash


def test_cord19_metadata_csv() -> None:
    docs = _documents(shared_path("cord19-sample"))
    assert len(docs) == 4
    doc = docs[0]
    assert doc.id == "ug7v899j"
    assert doc.pmid == "11472636" and doc.doi == "10.1186/1471-2334-1-6"
    assert doc.journal == "BMC Infect Dis" and doc.year == "2001" and doc.source == "PMC"
    assert doc.authors == ("Madani, Tariq A", "Al-Ghamdi, Aisha A")
    assert doc.extra["pmcid"] == "PMC35282"


def test_pubmed_pmid_text_jsonl() -> None:
    path = shared_path("bioasq", "pubmed", "pubmed_abstracts.jsonl")
    docs = _documents(path)
    assert len(docs) == 2753
    assert docs[0].id == docs[0].pmid == "331948"
    assert docs[0].abstract.startswith("Sleep-induced apnea syndrome.")
    assert docs[0].extra["question_ids"] == ["5a981dd0fcd1d6a10c00002e"]


def test_beir_corpus_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    rows = [
        {
            "_id": "MED-10",
            "title": "Statin use and breast cancer survival",
            "text": "Recent studies...",
            "metadata": {},
        },
        {"_id": "MED-14", "title": "", "text": "Only text here."},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert plan_corpus(path).files[0].format == "beir"
    docs = _documents(path)
    assert [doc.id for doc in docs] == ["MED-10", "MED-14"]
    assert docs[0].abstract == "Recent studies..." and docs[1].title == ""


def test_generic_jsonl_with_field_mapping(tmp_path: Path) -> None:
    path = tmp_path / "papers.jsonl"
    path.write_text(json.dumps({"uid": "p1", "headline": "Lung injury", "synopsis": "Text.", "venue": "J"}) + "\n")
    with pytest.raises(InputError, match="unknown format"):
        plan_corpus(path)
    (doc,) = _documents(path, field_map={"id": "uid", "title": "headline", "abstract": "synopsis"})
    assert (doc.id, doc.title, doc.abstract, doc.journal) == ("p1", "Lung injury", "Text.", "J")
    with pytest.raises(InputError, match="not a document field"):
        plan_corpus(path, field_map={"headline": "title"})


def test_generic_json_array_and_forced_format(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    path.write_text(json.dumps([{"title": "T1", "abstract": "A1"}, {"title": "T2", "text": "A2"}, 5]))
    items = list(read_corpus(path, format="generic"))
    assert [type(item).__name__ for item in items] == ["Document", "Document", "Reject"]
    assert isinstance(items[2], Reject) and items[2].line == 3


def test_folder_is_walked_recursively_with_gz(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    with gzip.open(tmp_path / "a" / "b" / "part.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"pmid": "1", "text": "Gzipped abstract."}) + "\n")
    (tmp_path / "a" / "x.jsonl").write_text(json.dumps({"pmid": "2", "text": "Plain."}) + "\n")
    (tmp_path / ".hidden" / "y.jsonl").write_text(json.dumps({"pmid": "3", "text": "Hidden."}) + "\n")
    (tmp_path / "notes.txt").write_text("not records")
    plan = plan_corpus(tmp_path)
    assert [item.path.name for item in plan.files] == ["part.jsonl.gz", "x.jsonl"]
    assert sorted(doc.id for doc in _documents(tmp_path)) == ["1", "2"]


def test_malformed_and_empty_records_are_rejected_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps({"pmid": "1", "text": "Good."})
        + "\n{not json\n\n"
        + json.dumps({"pmid": "2", "text": "   "})
        + "\n[1, 2]\n"
        + json.dumps({"pmid": "3", "text": "Also good."})
        + "\n"
    )
    items = list(read_corpus(path))
    rejects = [item for item in items if isinstance(item, Reject)]
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (2, "invalid JSON"),
        (4, "empty record"),
        (5, "expected a JSON object, got list"),
    ]
    assert all(r.file == str(path) for r in rejects)
    assert [doc.id for doc in items if isinstance(doc, Document)] == ["1", "3"]


def test_csv_row_with_wrong_column_count_is_rejected_with_its_start_line(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('title,abstract\n"multi\nline title",ok\nonly-one-column\nT,A\n')
    items = list(read_corpus(path))
    assert isinstance(items[1], Reject) and items[1].line == 4 and "1 columns" in items[1].reason
    assert [doc.title for doc in items if isinstance(doc, Document)] == ["multi\nline title", "T"]


def test_truncated_gzip_rejects_the_rest_of_the_file_only(tmp_path: Path) -> None:
    data = gzip.compress(("".join(json.dumps({"pmid": str(i), "text": "t" * 200}) + "\n" for i in range(500))).encode())
    (tmp_path / "a.jsonl.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "b.jsonl").write_text(json.dumps({"pmid": "b", "text": "fine"}) + "\n")
    items = list(read_corpus(tmp_path))
    rejects = [item for item in items if isinstance(item, Reject)]
    assert len(rejects) == 1 and "unreadable" in rejects[0].reason
    assert "b" in {item.id for item in items if isinstance(item, Document)}


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: root / "missing", "no such file or folder"),
        (lambda root: root, "holds no record files"),
        (lambda root: (root / "readme.md").write_text("x") and root / "readme.md", "is not a .jsonl"),
    ],
)
def test_path_errors_are_clear(tmp_path: Path, setup: object, message: str) -> None:
    target = setup(tmp_path)  # type: ignore[operator]
    with pytest.raises(InputError, match=message):
        plan_corpus(target)


def test_unknown_forced_format() -> None:
    with pytest.raises(InputError, match="unknown format 'pdf'"):
        plan_corpus(EXAMPLES / "breathe", format="pdf")
