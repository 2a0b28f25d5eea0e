"""The book as one PDF (`make pdf`, code/booktools/pdf.py).

The checks of the PDF itself need the PDF, which takes about a minute to
print (every page of the site, in Chromium): `make pdf` writes it and then
runs this file with RNNBOOK_PDF naming it. `make test` runs the rest: the
page numbering and the joining, on tiny documents.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

from booktools import pdf
from toc import ROOT, toc_files

PDF = os.environ.get("RNNBOOK_PDF")
HTML = ROOT / "_build" / "html"


def _text(page) -> str:
    return " ".join(page.extract_text().split())


@pytest.fixture(scope="module")
def chromium():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(pdf.CHROMIUM).exists():
        pytest.skip(
            f"{pdf.CHROMIUM} does not exist (apt-get install chromium)"
        )
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=pdf.CHROMIUM, args=pdf.CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


def test_a_part_numbers_its_pages_on_from_the_one_before(chromium, tmp_path):
    """What print_parts relies on: with _page_style(title, 41), a three-page
    document's pages are numbered 41, 42, 43 and carry the title."""
    from pypdf import PdfReader

    page = chromium.new_page()
    page.set_content(
        "<style>div { break-after: page; }</style>"
        "<div>one</div><div>two</div><p>three</p>"
    )
    page.add_style_tag(content=pdf._page_style('A "quoted" title', 41))
    page.pdf(path=str(tmp_path / "part.pdf"), margin=pdf.MARGINS)
    page.close()
    texts = [_text(p) for p in PdfReader(tmp_path / "part.pdf").pages]
    assert len(texts) == 3
    for number, (text, body) in enumerate(
        zip(texts, ["one", "two", "three"]), start=41
    ):
        assert 'A "quoted" title' in text and body in text, text
        assert re.search(rf"\b{number}\b", text), (number, text)


def test_merge_keeps_the_order_and_bookmarks_each_part(tmp_path):
    from pypdf import PdfReader, PdfWriter

    def blank(name, pages):
        writer = PdfWriter()
        for _ in range(pages):
            writer.add_blank_page(width=200, height=200)
        path = tmp_path / f"{name}.pdf"
        writer.write(path)
        return path

    parts = [
        pdf.Part("intro", "Intro", blank("a", 2), 1, 2),
        pdf.Part("chapters/x", "Chapter X", blank("b", 3), 3, 3),
    ]
    out = tmp_path / "book.pdf"
    assert pdf.merge(blank("contents", 1), parts, out) == 6
    reader = PdfReader(out)
    outline = [
        (item.title, reader.get_destination_page_number(item))
        for item in reader.outline
    ]
    assert outline == [("Contents", 0), ("Intro", 1), ("Chapter X", 3)]


def test_the_contents_page_lists_every_part_with_its_first_page():
    parts = [
        pdf.Part("intro", "Outputs <and> states", Path("a"), 1, 3),
        pdf.Part("chapters/x", "Pitfalls", Path("b"), 4, 9),
    ]
    html = pdf._contents_html(parts, "Book")
    assert "<td>Outputs &lt;and&gt; states</td><td>1</td>" in html
    assert "<td>Pitfalls</td><td>4</td>" in html


# ------------------------------------------------------------- the real PDF

needs_pdf = pytest.mark.skipif(
    not PDF, reason="`make pdf` prints the book and runs these"
)


def _titles() -> list[str]:
    """Each toc page's title, as the built site shows it (its <h1>)."""
    from bs4 import BeautifulSoup

    titles = []
    for name in toc_files():
        soup = BeautifulSoup(
            (HTML / f"{name}.html").read_text(), "html.parser"
        )
        heading = soup.select_one("main h1")
        titles.append(" ".join(heading.get_text(" ").replace("#", "").split()))
    return titles


@dataclass
class Book:
    outline: list[tuple[str, int]]  # (title, index of its first page)
    lines: list[list[str]]  # each page's lines of text
    images: list[int]  # each page's number of images


def _read_pages(path: str, pages: range):
    """Each page's lines of text and number of images, for ``pages``."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    lines, images = [], []
    for k in pages:
        page = reader.pages[k]
        text = unicodedata.normalize("NFKC", page.extract_text())
        lines.append([" ".join(line.split()) for line in text.splitlines()])
        images.append(len(page.images))
    return lines, images


@pytest.fixture(scope="module")
def book() -> Book:
    """The PDF's outline and each page's text, extracted by one process
    per core (pypdf takes about a minute for the book on one)."""
    from concurrent.futures import ProcessPoolExecutor

    from pypdf import PdfReader

    reader = PdfReader(PDF)
    outline = [
        (
            " ".join(item.title.split()),
            reader.get_destination_page_number(item),
        )
        for item in reader.outline
    ]
    count, jobs = len(reader.pages), min(4, os.cpu_count() or 1)
    chunks = [range(k, count, jobs) for k in range(jobs)]
    lines, images = [None] * count, [0] * count
    with ProcessPoolExecutor(jobs) as pool:
        done = pool.map(_read_pages, [PDF] * jobs, chunks)
        for chunk, (its_lines, its_images) in zip(chunks, done):
            for k, page_lines, page_images in zip(
                chunk, its_lines, its_images
            ):
                lines[k], images[k] = page_lines, page_images
    return Book(outline, lines, images)


def _pages_of(book: Book):
    """(title, index, number) of every page after the contents: the part it
    belongs to, its index in the file and the number printed on it."""
    first = book.outline[1][1]
    ends = [start for _, start in book.outline[2:]] + [len(book.lines)]
    for (title, start), end in zip(book.outline[1:], ends):
        for k in range(start, end):
            yield title, k, k - first + 1


@needs_pdf
def test_the_pdf_has_every_page_of_the_toc_in_order(book):
    """A bookmark per toc page, in toc order, each starting on a later page
    than the one before, with its title printed on its first page."""
    assert book.outline[0] == ("Contents", 0)
    assert [title for title, _ in book.outline[1:]] == _titles()
    starts = [start for _, start in book.outline]
    assert starts == sorted(set(starts)), f"out of order: {book.outline}"
    for title, start in book.outline[1:]:
        assert title in " ".join(book.lines[start][2:]), (
            f"page {start + 1} does not show the title {title!r}"
        )


@needs_pdf
def test_every_page_carries_its_title_and_its_number_in_the_book(book):
    """Pages are numbered straight through the book (1 is the page after
    the contents), each under the title of the page of the site it prints."""
    wrong = [
        f"page {k + 1}: {book.lines[k][:2]}, not {[title, str(number)]}"
        for title, k, number in _pages_of(book)
        if book.lines[k][:2] != [title, str(number)]
    ]
    assert not wrong, "\n".join(wrong[:10])


@needs_pdf
def test_the_pdf_has_no_empty_page(book):
    """Every page holds text or a figure besides its title and number."""
    empty = [
        k + 1
        for _, k, _ in _pages_of(book)
        if not "".join(book.lines[k][2:]).strip() and not book.images[k]
    ]
    assert not empty, f"empty pages: {empty}"
