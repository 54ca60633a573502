"""The search page in a real browser: ``bmb-es serve`` on 200 BioASQ abstracts indexed with the default model,
driven by Playwright in the system Chromium.

The abstracts are real (title: their first sentence); their journal, year and DOI are not in the data set and are
made up here (journals "Journal A" to "C", years 2014-2023, DOIs under 10.5555, the prefix Crossref keeps for
tests), so the filters and links have something to work on; they have no authors. One more record is hostile:
markup in its title and authors (dated 2013).

Skips with the reason when /usr/bin/chromium, the playwright package or ../shared/data is missing. The screenshot
goes to the test's folder; with BMB_ES_UPDATE_SCREENSHOT=1 it also replaces docs/search-page.png.
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, shared_path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCUMENTS = 200
QUESTION = "What is the indication for isradipine?"  # BioASQ 4B 56c3184050c68dd416000003
RELEVANT = {"2137344", "7946181", "8466736"}  # its golden PMIDs among the first 200 abstracts
HOSTILE_TITLE = '<script>alert("x")</script> Isradipine <img src=x onerror="alert(1)"> in hypertension'
JOURNALS = ["Journal A", "Journal B", "Journal C"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="the dev extra installs playwright")


def _records(source: Path) -> list[dict[str, Any]]:
    records = []
    with source.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number == DOCUMENTS:
                break
            raw = json.loads(line)
            title, _, abstract = raw["text"].partition(". ")
            records.append(
                {
                    "id": raw["pmid"],
                    "pmid": raw["pmid"],
                    "title": title.strip() + ".",
                    "abstract": abstract.strip(),
                    "journal": JOURNALS[number % len(JOURNALS)],
                    "date": f"{2014 + number % 10}-06-01",
                    "doi": f"10.5555/bioasq.{raw['pmid']}",
                }
            )
    hostile = {"id": "hostile", "title": HOSTILE_TITLE, "abstract": "Isradipine </mark><b>bold</b> & more."}
    return [*records, {**hostile, "journal": "Journal A", "date": "2013-01-01", "authors": ["<i>Eve</i>"]}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``bmb-es serve`` on a free port over the index; its base URL."""
    source = shared_path("bioasq", "pubmed", "pubmed_abstracts.jsonl")
    folder = tmp_path_factory.mktemp("browser")
    corpus = folder / "bioasq.jsonl"
    corpus.write_text("".join(json.dumps(record) + "\n" for record in _records(source)), encoding="utf-8")
    home = folder / "home"
    command = [sys.executable, "-m", "bmb_es"]
    subprocess.run([*command, "index", str(corpus), "--index", "bioasq", "--data-dir", str(home), "-q"], check=True)
    process = subprocess.Popen(
        [*command, "serve", "--index", "bioasq", "--port", "0", "--data-dir", str(home)],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()  # type: ignore[union-attr]
    try:
        url = _wait_for_url(lines, process)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        process.stderr.close()


def _wait_for_url(lines: queue.Queue[str], process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 120
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        found = re.search(r"bmb-es serve: (http://127\.0\.0\.1:\d+)/", line)
        if found:
            with urllib.request.urlopen(found[1] + "/api/health", timeout=30) as answer:
                assert json.load(answer)["documents"] == DOCUMENTS + 1
            return found[1]
    raise AssertionError(f"bmb-es serve did not start: {''.join(seen)}")


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
        opened = context.new_page()
        dialogs: list[str] = []
        opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        opened.on("pageerror", lambda error: dialogs.append(f"page error: {error}"))
        yield opened
        assert dialogs == []  # no script of a document or a question ever ran, and the page's own raised nothing
        browser.close()


def _search(page: Any, server: str, question: str) -> None:
    page.goto(server + "/")
    page.fill("#q", question)
    page.press("#q", "Enter")
    page.wait_for_selector("#summary")


def _hits(page: Any) -> list[dict[str, str]]:
    script = """() => Array.from(document.querySelectorAll('li.hit')).map(li => ({
        id: li.dataset.id, rank: li.dataset.rank,
        journal: li.querySelector('.journal')?.textContent ?? '', year: li.querySelector('.year')?.textContent ?? '',
    }))"""
    hits: list[dict[str, str]] = page.evaluate(script)
    return hits


def test_the_relevant_paper_comes_first_with_its_terms_marked_and_its_links(page: Any, server: str) -> None:
    _search(page, server, QUESTION)
    hits = _hits(page)
    assert len(hits) == 10 and hits[0]["id"] in RELEVANT
    first = page.locator("li.hit").first
    assert "isradipine" in [text.lower() for text in first.locator("mark").all_text_contents()]
    pubmed = first.locator("a.pubmed").get_attribute("href")
    assert pubmed == f"https://pubmed.ncbi.nlm.nih.gov/{hits[0]['id']}/"
    assert first.locator("a.doi").get_attribute("href") == f"https://doi.org/10.5555/bioasq.{hits[0]['id']}"
    assert float(first.locator(".cosine").text_content()) > 0  # the score's parts are shown
    assert float(first.locator(".bm25").text_content()) > 0
    # The page's ranking is the API's.
    with urllib.request.urlopen(server + "/api/search?" + urllib.parse.urlencode({"q": QUESTION})) as answer:
        assert [hit["id"] for hit in json.load(answer)["hits"]] == [hit["id"] for hit in hits]


def test_filters_modes_pages_explain_and_export(page: Any, server: str) -> None:
    _search(page, server, "calcium channel blocker hypertension")
    page.fill("#year", "2016-2018")
    page.fill("#journal", "Journal B")
    page.press("#journal", "Enter")
    page.wait_for_url(re.compile(r"journal=Journal\+B"))
    hits = _hits(page)
    assert hits and all(hit["journal"] == "Journal B" and 2016 <= int(hit["year"]) <= 2018 for hit in hits)
    # The mode switch searches again.
    page.select_option("#mode", "bm25")
    page.wait_for_url(re.compile(r"mode=bm25"))
    assert "BM25" in page.text_content("#summary")
    page.fill("#year", "")
    page.fill("#journal", "")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"year=&"))
    first_page = _hits(page)
    page.click("#next")
    page.wait_for_url(re.compile(r"page=2"))
    second_page = _hits(page)
    assert [hit["rank"] for hit in second_page][:1] == ["11"] and not {h["id"] for h in first_page} & {
        h["id"] for h in second_page
    }
    # The request body on demand.
    page.click("#explain summary")
    page.locator("#explain-body", has_text="multi_match").wait_for()  # (a string predicate would break the CSP)
    assert '"query": "calcium channel blocker hypertension"' in page.text_content("#explain-body")
    # Export: the page's hits, in order.
    with page.expect_download() as download:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [row["id"] for row in rows] == [hit["id"] for hit in second_page]
    with page.expect_download() as download:
        page.click("#export-ris")
    assert Path(download.value.path()).read_text(encoding="utf-8").count("TY  - JOUR") == len(second_page)


def test_errors_and_hostile_text_show_as_text(page: Any, server: str) -> None:
    _search(page, server, "isradipine")
    page.fill("#year", "2021-2019")
    page.press("#q", "Enter")
    page.wait_for_selector("#error")
    assert page.text_content("#error") == "year filter: 2021 is after 2019: give the earlier year first"
    # Markup in a document and in the question is shown as the text it is; no script runs (see the page fixture).
    page.fill("#year", "")
    page.fill("#q", 'isradipine <img src=x onerror="alert(2)"> script')
    page.press("#q", "Enter")
    page.wait_for_selector("#summary")
    hostile = page.locator('li.hit[data-id="hostile"]')
    assert hostile.locator(".title").text_content() == HOSTILE_TITLE
    assert hostile.locator(".authors").text_content() == "<i>Eve</i>"
    assert page.locator("li.hit img, li.hit script, li.hit b, li.hit i").count() == 0
    assert page.input_value("#q") == 'isradipine <img src=x onerror="alert(2)"> script'


def test_the_page_fits_a_phone_and_a_screenshot_is_kept(page: Any, server: str, tmp_path: Path) -> None:
    page.goto(server + "/?" + urllib.parse.urlencode({"q": QUESTION, "year": "2014-2023"}))
    page.wait_for_selector("#summary")
    page.screenshot(path=str(tmp_path / "search-page.png"), full_page=False)
    if os.environ.get("BMB_ES_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(REPO / "docs" / "search-page.png"), full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("#summary")
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    assert page.locator("#q").bounding_box()["width"] > 200
