"""Damaged indices: each kind of damage is refused in one line naming the file, is harmless, or is found by check.

A small data dir is built once with two indices: ``t``, which each case damages in one way, and ``ok``, which
stays healthy. Each case copies it, damages one file of ``t``, then reads ``t`` through the Python API (metadata,
count, BM25, re-rank, get) and lists and checks both indices through the CLI. Whatever happens, nothing but the
damage error (:class:`bmb_es.IndexDamagedError`, one line, naming the damaged file) may escape: no other
exception, no Rust panic, no NaN score, and ``ok`` is always listed as it was.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from bmb_es import Document, EmbeddedEngine, IndexDamagedError, IndexMeta, build_query, merge_indices
from bmb_es.cli import app
from bmb_es.engines import IndexedDocument

DIMENSION = 16
META = IndexMeta(model="hash-model", dimension=DIMENSION)
TOPICS = ["lung injury", "heart failure", "kidney disease", "liver fibrosis", "sepsis", "asthma", "stroke"]
DOCUMENTS = [
    Document(
        id=f"d{number:03d}",
        title=f"Study {number} of {TOPICS[number % len(TOPICS)]}",
        abstract=f"{TOPICS[number % len(TOPICS)]} in {number % 9} cohorts " + "with details " * (number % 13),
    )
    for number in range(120)
]
IDS = [document.id for document in DOCUMENTS]
SEGMENT_FILES = ("term", "idx", "pos", "fast", "fieldnorm", "store")
HEALTHY_EXIT, DAMAGED_EXIT = 0, 7


def unit_vector(text: str) -> np.ndarray:
    """The fake embedder: a deterministic unit vector for ``text``."""
    seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "big")
    row = np.random.default_rng(seed).normal(size=DIMENSION)
    return np.asarray(row / np.linalg.norm(row), dtype=np.float32)


def _item(document: Document) -> IndexedDocument:
    return IndexedDocument(document, document.content_hash(), unit_vector(document.title + document.abstract))


def _build(root: Path) -> None:
    """Indices ``t`` and ``ok``: three commits, so three segments, the last deleting a document of the first."""
    engine = EmbeddedEngine(root)
    for name in ("t", "ok"):
        engine.create_index(name, META)
        revised = replace(DOCUMENTS[0], title="Study 0 of lung injury, revised")
        for batch in (DOCUMENTS[:60], DOCUMENTS[60:], [revised]):
            engine.upsert(name, [_item(document) for document in batch])
            engine.commit(name)
    engine.close()


def _hits(response: dict[str, Any]) -> list[tuple[str, float, dict[str, Any]]]:
    return [(hit["_id"], hit["_score"], hit["_source"]) for hit in response["hits"]["hits"]]


def _operations(engine: EmbeddedEngine) -> dict[str, Callable[[], object]]:
    """What a user does with an index; each result is compared with the healthy index's."""
    question = " ".join(TOPICS)  # every document matches: the re-rank window holds every vector
    vector = unit_vector("the question").tolist()
    return {
        "meta": lambda: engine.index_meta("t"),
        "count": lambda: engine.count("t"),
        "bm25": lambda: _hits(engine.search("t", build_query("lung injury", size=20))),
        "rerank": lambda: _hits(engine.search("t", build_query(question, vector, size=20, top_k=200))),
        "get": lambda: {
            key: (item.document.to_source(), item.vector.tolist()) for key, item in engine.get("t", IDS).items()
        },
        "merge": lambda: _merged(engine),
    }


def _merged(engine: EmbeddedEngine) -> tuple[int, int, int]:
    """``t`` merged into a new index (what converts or joins indices): documents read, written, then held."""
    summary = merge_indices(["t"], "copy", engine=engine)
    held = engine.count("copy")
    engine.delete_index("copy")
    return summary.read, summary.written, held


class Seen(Enum):
    """What searches make of a damage."""

    SAME = "every operation gives the healthy index's result"
    REFUSED = "at least one operation refuses with the damage error; the others give the healthy result"
    # Damage only a full read can find: changed bytes inside a file whose size and footer are intact.
    UNSEEN = "operations may give other results (never another exception); bmb-es check finds it"


@dataclass(frozen=True)
class Damage:
    file: str  # relative to the index folder; "SEGMENT.ext" is the first segment's file
    how: str
    seen: Seen
    found_by_check: bool = True

    def __str__(self) -> str:
        return f"{self.file}-{self.how}"


CASES = [
    # The project's own files.
    *(Damage("meta.json", how, Seen.REFUSED) for how in ("delete", "empty", "truncate", "random", "wrong-json")),
    Damage("text_fields.json", "delete", Seen.SAME, found_by_check=False),  # every field is searched: same hits
    Damage("text_fields.json", "random", Seen.SAME, found_by_check=False),
    Damage("record_sums.json", "delete", Seen.SAME, found_by_check=False),  # as an index written before sums
    Damage("record_sums.json", "random", Seen.SAME),
    Damage("record_sums.json", "truncate", Seen.SAME),
    # The record files.
    *(Damage("vectors.f32", how, Seen.REFUSED) for how in ("delete", "empty", "truncate", "nan", "nan-row")),
    Damage("vectors.f32", "random", Seen.UNSEEN),  # may hold NaN (refused) or finite garbage (wrong cosines)
    Damage("vectors.f32", "other-row", Seen.UNSEEN),  # another unit vector: only its checksum tells
    *(Damage("sources.jsonl", how, Seen.REFUSED) for how in ("delete", "empty", "truncate", "random")),
    Damage("sources.jsonl", "swap", Seen.UNSEEN),  # two sources swapped, same lengths: get refuses, search cannot
    # tantivy's files.
    *(Damage("tantivy/meta.json", how, Seen.REFUSED) for how in ("delete", "empty", "truncate", "random")),
    Damage("tantivy/.managed.json", "delete", Seen.SAME, found_by_check=False),  # tantivy only lists files in it
    Damage("tantivy/.managed.json", "random", Seen.REFUSED),
    *(
        Damage(f"SEGMENT.{extension}", how, Seen.REFUSED)
        for extension in SEGMENT_FILES
        for how in ("delete", "empty", "truncate", "random")
    ),
    *(Damage(f"SEGMENT.{extension}", "body", Seen.UNSEEN) for extension in SEGMENT_FILES),
    Damage("SEGMENT.del", "delete", Seen.REFUSED),
    Damage("SEGMENT.del", "random", Seen.REFUSED),
    Damage("SEGMENT.del", "body", Seen.UNSEEN),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object], dict[str, str]]:
    """The healthy data dir, what each operation gives on it, and what the CLI prints for it."""
    root = tmp_path_factory.mktemp("damage") / "home"
    _build(root)
    engine = EmbeddedEngine(root)
    healthy = {name: operation() for name, operation in _operations(engine).items()}
    engine.close()
    listed = _invoke("indices", "--data-dir", str(root))
    assert listed.exit_code == 0
    return root, healthy, _lines_by_index(listed.stdout)


def _invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def _lines_by_index(listing: str) -> dict[str, str]:
    return {line.split("\t", 1)[0]: line for line in listing.splitlines()}


def _segment(folder: Path) -> tuple[str, int]:
    """The path stem of the segment that has deletes, and the opstamp of its deletes."""
    meta = json.loads((folder / "tantivy" / "meta.json").read_text())
    with_deletes = [segment for segment in meta["segments"] if segment["deletes"]]
    assert len(with_deletes) == 1
    segment = with_deletes[0]
    return f"tantivy/{segment['segment_id'].replace('-', '')}", int(segment["deletes"]["opstamp"])


def _target(folder: Path, damage: Damage) -> Path:
    if not damage.file.startswith("SEGMENT"):
        return folder / damage.file
    stem, opstamp = _segment(folder)
    extension = damage.file.split(".", 1)[1]
    return folder / (f"{stem}.{opstamp}.del" if extension == "del" else f"{stem}.{extension}")


def _footer_start(data: bytes) -> int:
    """Where tantivy's footer (JSON, its length, magic number 1337) starts: the body ends there."""
    length, magic = struct.unpack("<II", data[-8:])
    assert magic == 1337
    return len(data) - 8 - int(length)


def _damage(path: Path, how: str) -> None:
    noise = random.Random(f"{path.suffix or path.name}-{how}")  # not the segment's random name: the same bytes each run
    data = path.read_bytes()
    if how == "delete":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "random":
        path.write_bytes(noise.randbytes(len(data)))
    elif how == "wrong-json":
        path.write_text('{"model": 3}')
    elif how == "body":  # 16 bytes in the middle of the body: size and footer intact
        middle = _footer_start(data) // 2
        path.write_bytes(data[:middle] + noise.randbytes(16) + data[middle + 16 :])
    elif how in ("nan", "nan-row", "other-row"):
        vectors = np.frombuffer(data, dtype="<f4").reshape(-1, DIMENSION).copy()
        if how == "nan":
            vectors[:] = np.nan
        elif how == "nan-row":
            vectors[7, 3] = np.nan
        else:
            vectors[7] = unit_vector("another text")
        path.write_bytes(vectors.tobytes())
    elif how == "swap":  # the sources of two documents whose lines have the same length swap places
        lines = data.splitlines(keepends=True)
        first = next(number for number, line in enumerate(lines) if len(line) == len(lines[1]) and number > 1)
        lines[1], lines[first] = lines[first], lines[1]
        path.write_bytes(b"".join(lines))
    else:
        raise AssertionError(how)


def _assert_names(error: BaseException, path: Path) -> None:
    """``error`` is the damage error, on one line, naming ``path``.

    Bytes changed inside a fast field move a document's record offsets: the damage then shows where they point
    (the record files), which is as far as a search can see; ``bmb-es check`` names the fast field itself.
    """
    assert isinstance(error, IndexDamagedError), f"{type(error).__module__}.{type(error).__name__}: {error}"
    index = path.parent.parent if path.parent.name == "tantivy" else path.parent
    named = {path} | ({index / "sources.jsonl", index / "vectors.f32"} if path.suffix == ".fast" else set())
    assert error.path in named, f"{error.path} not in {named}: {error}"
    assert str(error.path) in str(error) and "\n" not in str(error)


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def damaged(
    template: tuple[Path, dict[str, object], dict[str, str]], tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[Path, Path]:
    """A copy of the template with one file of ``t`` damaged: the data dir and the damaged file."""
    root = tmp_path / "home"
    shutil.copytree(template[0], root)
    path = _target(root / "indices" / "t", request.param)
    _damage(path, request.param.how)
    return root, path


PARAMETERS = [pytest.param(case, case, id=str(case)) for case in CASES]


@pytest.mark.parametrize(("damaged", "damage"), PARAMETERS, indirect=["damaged"])
def test_a_damaged_index_is_refused_naming_the_file_or_is_harmless(
    damaged: tuple[Path, Path], damage: Damage, template: tuple[Path, dict[str, object], dict[str, str]]
) -> None:
    root, path = damaged
    refused = []
    for name in _operations(EmbeddedEngine(root)):
        engine = EmbeddedEngine(root)  # a fresh engine each time: one operation's failure cannot hide another's
        try:
            got = _operations(engine)[name]()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # a Rust panic (pyo3's PanicException) is a BaseException
            _assert_names(error, path)
            refused.append(name)
            continue
        finally:
            engine.close()
        if damage.seen is not Seen.UNSEEN:
            assert got == template[1][name], f"{name} gave another result and no error"
    if damage.seen is Seen.SAME:
        assert refused == []
    if damage.seen is Seen.REFUSED:
        assert refused, "no operation saw the damage"


@pytest.mark.parametrize(("damaged", "damage"), PARAMETERS, indirect=["damaged"])
def test_indices_lists_every_index_and_check_finds_the_damage(
    damaged: tuple[Path, Path], damage: Damage, template: tuple[Path, dict[str, object], dict[str, str]]
) -> None:
    root, path = damaged
    listed = _invoke("indices", "--data-dir", str(root))
    assert listed.exit_code == 0, listed.output
    lines = _lines_by_index(listed.stdout)
    assert lines["ok"] == template[2]["ok"]
    assert lines["t"] == template[2]["t"] or str(path) in lines["t"], lines["t"]
    as_json = _strict_json(_invoke("indices", "--data-dir", str(root), "--json").stdout)
    assert [row["index"] for row in as_json] == ["ok", "t"]

    report = EmbeddedEngine(root).check("t")
    assert report.healthy is not damage.found_by_check
    if damage.found_by_check:
        assert path in [problem.path for problem in report.problems], report.problems
    checked = _invoke("check", "t", "--data-dir", str(root))
    assert checked.exit_code == (DAMAGED_EXIT if damage.found_by_check else HEALTHY_EXIT), checked.output
    if damage.found_by_check:
        assert str(path) in checked.stdout
    every = _invoke("check", "--data-dir", str(root), "--json")
    reports = {report["index"]: report for report in _strict_json(every.stdout)}
    assert reports["ok"]["healthy"] and reports["ok"]["problems"] == []
    assert reports["t"]["healthy"] is not damage.found_by_check
    assert every.exit_code == (DAMAGED_EXIT if damage.found_by_check else HEALTHY_EXIT)
