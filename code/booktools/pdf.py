"""The whole book as one PDF, printed from the built site (``make pdf``).

No LaTeX and no downloaded browser: Debian's Chromium (the one the browser
tests use, driven by playwright) prints each page of ``_toc.yml``, in toc
order, with the site's print stylesheet (``_static/book.css``: every
framework tab under its label, no hidden source); pypdf (pinned) joins the
pages into one file with a bookmark per page. Pages are numbered straight
through the book in the bottom margin (CSS ``@page`` margin boxes; each
page starts where the one before it ended), with the page's title at the
top; a contents page with those numbers comes first.

    PYTHONPATH=code python -m booktools.pdf --html _build/html \\
        --out _build/pdf/outputs-versus-states.pdf

The built HTML is served on 127.0.0.1 (a free port) while it is printed,
as the browser tests serve it; requests to other hosts are answered empty,
so nothing is fetched from the network (MathJax is part of the build).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import http.server
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import toc

__all__ = ["Part", "write_book_pdf", "main"]

CHROMIUM = os.environ.get("RNNBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
MARGINS = {"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}

# Run in a page before it is printed: load every image now (the site loads
# them lazily), wait for the fonts and for MathJax to finish typesetting.
# Links to the site's own pages would point at the local server in the PDF:
# they become plain text (links within the page and to the web stay).
_READY = """async () => {
  document.documentElement.dataset.theme = 'light';
  document.documentElement.dataset.mode = 'light';
  for (const a of document.querySelectorAll('a[href]')) {
    const url = new URL(a.href, location.href);
    const samePage = url.pathname === location.pathname && url.hash;
    if (url.origin === location.origin && !samePage) {
      a.removeAttribute('href');
    }
  }
  const images = Array.from(document.querySelectorAll('img'));
  for (const img of images) { img.loading = 'eager'; }
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  await document.fonts.ready;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const h1 = document.querySelector('main h1');
  return h1 ? h1.innerText.replace(/#$/, '').trim() : document.title;
}"""


@dataclass
class Part:
    """One page of the site as printed: its toc name, its title, the PDF
    file and the number of its first page in the book."""

    name: str
    title: str
    path: Path
    first_page: int
    pages: int


def _page_style(title: str, first_page: int) -> str:
    """CSS for the printed page: the title at the top, the page number in
    the book at the bottom (the first page is number `first_page`)."""
    quoted = title.replace("\\", "\\\\").replace('"', '\\"')
    return f"""
      @page {{
        @top-center {{ content: "{quoted}"; font: 8pt sans-serif;
                       color: #555; }}
        @bottom-center {{ content: counter(page); font: 9pt sans-serif; }}
      }}
      @page :first {{ counter-increment: page {first_page}; }}
    """


@contextlib.contextmanager
def serve(folder: Path):
    """Serve `folder` over HTTP on 127.0.0.1; yield the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            if not isinstance(
                sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)
            ):
                super().handle_error(request, client_address)

    handler = functools.partial(Quiet, directory=str(folder))
    server = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _offline(context, base: str) -> None:
    """Let the context reach only the local server."""
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(base)
            else route.fulfill(status=200, body="", content_type="text/plain")
        ),
    )


def _count_pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def print_parts(browser, base, names, folder, paper="A4") -> list[Part]:
    """Print each page of `names` to its own PDF in `folder`, numbering
    the pages on from the one before."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, color_scheme="light"
    )
    _offline(context, base)
    parts, first_page = [], 1
    try:
        for k, name in enumerate(names):
            page = context.new_page()
            response = page.goto(f"{base}/{name}.html", wait_until="load")
            if response is None or response.status != 200:
                raise SystemExit(f"the built site has no page {name}.html")
            title = page.evaluate(_READY)
            page.add_style_tag(content=_page_style(title, first_page))
            path = Path(folder) / f"{k:02d}.pdf"
            page.pdf(
                path=str(path),
                format=paper,
                margin=MARGINS,
                print_background=True,
            )
            page.close()
            count = _count_pages(path)
            parts.append(Part(name, title, path, first_page, count))
            first_page += count
    finally:
        context.close()
    return parts


def _contents_html(parts: list[Part], book_title: str) -> str:
    rows = "\n".join(
        f"<tr><td>{html.escape(p.title)}</td><td>{p.first_page}</td></tr>"
        for p in parts
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Contents</title><style>
  @page {{ margin: 25mm 20mm; }}
  body {{ font-family: sans-serif; font-size: 11pt; }}
  h1 {{ font-size: 22pt; margin-bottom: 0.2em; }}
  h2 {{ font-size: 14pt; margin-top: 2em; }}
  table {{ width: 100%; border-collapse: collapse; }}
  td {{ padding: 0.35em 0; border-bottom: 1px dotted #999; }}
  td:last-child {{ text-align: right; width: 4em; }}
</style></head><body>
<h1>{html.escape(book_title)}</h1>
<h2>Contents</h2>
<table>{rows}</table>
</body></html>"""


def print_contents(browser, parts, book_title, path, paper="A4") -> Path:
    page = browser.new_page()
    page.set_content(_contents_html(parts, book_title))
    page.pdf(path=str(path), format=paper)
    page.close()
    return path


def merge(contents: Path, parts: list[Part], out: Path) -> int:
    """Join the contents and the parts into `out`, with a bookmark for
    each part; return the number of pages."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.append(str(contents), outline_item="Contents")
    for part in parts:
        writer.append(str(part.path), outline_item=part.title)
    writer.page_mode = "/UseOutlines"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as file:
        writer.write(file)
    return len(writer.pages)


def write_book_pdf(
    html_dir: Path, out: Path, root: Path, paper: str = "A4"
) -> list[Part]:
    """Print the built site at `html_dir` (the book at `root`) to `out`."""
    from playwright.sync_api import sync_playwright

    html_dir, out = Path(html_dir), Path(out)
    if not (html_dir / "index.html").exists():
        raise SystemExit(f"no built site at {html_dir}: run `make book`")
    if not Path(CHROMIUM).exists():
        raise SystemExit(
            f"{CHROMIUM} does not exist: `apt-get install chromium` "
            "(or set RNNBOOK_CHROMIUM)"
        )
    names = toc.toc_files(root)
    with (
        serve(html_dir) as base,
        sync_playwright() as playwright,
        tempfile.TemporaryDirectory() as scratch,
    ):
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            parts = print_parts(browser, base, names, scratch, paper)
            contents = print_contents(
                browser,
                parts,
                parts[0].title,
                Path(scratch) / "contents.pdf",
                paper,
            )
            merge(contents, parts, out)
        finally:
            browser.close()
    return parts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", default="_build/html", type=Path)
    parser.add_argument(
        "--out", default="_build/pdf/outputs-versus-states.pdf", type=Path
    )
    parser.add_argument("--root", default=".", type=Path)
    parser.add_argument("--paper", default="A4", choices=["A4", "Letter"])
    args = parser.parse_args(argv)
    start = time.monotonic()
    parts = write_book_pdf(args.html, args.out, args.root, args.paper)
    pages = sum(p.pages for p in parts)
    for part in parts:
        print(f"{part.first_page:5d}  {part.title}  ({part.pages} pages)")
    print(
        f"wrote {args.out}: {pages} pages and a contents page, "
        f"{len(parts)} parts, in {time.monotonic() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
