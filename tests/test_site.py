"""The rendered site: the strict HTML build, then the built pages opened in a real browser.

The module builds the book once (the same command as `make book`) in a module-scoped fixture;
under `pytest -n 2 --dist loadscope` a module stays on one worker, so the browser tests run
after the build, against it. The browser is Debian's Chromium (`/usr/bin/chromium`) driven by
playwright; where either is missing the browser tests are skipped with a message saying how to
install it (under CI, where `.ci/run` installs Chromium, they fail instead).

Also here: the Binder configuration (binder/) and the landing page checks that need no browser.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml

from toc import ROOT, toc_chapters, toc_files

BUILD = ROOT / "_build"
HTML = BUILD / "html"
SCREENSHOTS = BUILD / "screenshots"
CHROMIUM = Path(os.environ.get("RNNBOOK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOW_TO_INSTALL = (
    "the browser tests need Debian's Chromium and playwright: `sudo apt-get install chromium` "
    "(the package installs /usr/bin/chromium; set RNNBOOK_CHROMIUM to use another binary) and "
    "`.venv/bin/pip install -r requirements.txt` (playwright is pinned there)"
)

PAGES = toc_files()  # e.g. "intro", "chapters/01_...", "appendix/glossary"
CHAPTERS = [
    p.relative_to(ROOT).with_suffix("").as_posix() for p in toc_chapters()
]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


# --------------------------------------------------------------------------- the build


@pytest.fixture(scope="module")
def build():
    """Build the site once for this module: exactly `make book`'s command (warnings are errors)."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [
            str(jupyter_book),
            "build",
            str(ROOT),
            "--warningiserror",
            "--nitpick",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return result


def test_the_book_builds_without_warnings(build):
    """The HTML build with warnings as errors and cell errors failing (the same command as `make book`)."""
    log = (build.stdout + build.stderr)[-6000:]
    assert build.returncode == 0, f"jupyter-book build failed:\n{log}"
    assert (HTML / "index.html").exists(), f"no index.html was written:\n{log}"
    missing = [page for page in PAGES if not (HTML / f"{page}.html").exists()]
    assert not missing, f"the build wrote no page for toc entries {missing}"


# --------------------------------------------------------------------------- clean outputs

# What a reader must never see in a cell's output (stdout, stderr, display data, errors):
# a framework's warning or log line, a traceback, or a path of the machine that built the book.
_NOISE = [
    (re.compile(r"\bWARNING[:\s]|\bWarning:|Warning\)"), "a warning"),
    # absl/TensorFlow C++ log lines: "E0000 00:00:...", "W1123 18:42:13..."
    (re.compile(r"\b[IWEF]\d{4} \d\d:\d\d:\d\d"), "a framework log line"),
    (re.compile(r"Traceback \(most recent call last\)"), "a traceback"),
    (
        re.compile(r"(/[\w.+-]+)+/(site-packages|dist-packages|lib/python3)"),
        "a path into the Python installation",
    ),
    (re.compile(re.escape(str(ROOT))), "the path of the checkout"),
    (re.compile(r"(?<![\w/])/(root|home|tmp|work)/[\w.-]+"), "a machine path"),
]


def _output_texts(output):
    """Every piece of text an output shows: streams, plain text, HTML, errors."""
    if output.get("output_type") == "stream":
        yield output.get("name", "stream"), output.get("text", "")
    elif output.get("output_type") == "error":
        yield "error", "\n".join(output.get("traceback", []))
    for mime, value in (output.get("data") or {}).items():
        if mime.startswith("text/") or mime.endswith("json"):
            text = value if isinstance(value, str) else "".join(value)
            yield mime, text if isinstance(text, str) else str(text)


def noise_in_notebook(path: Path) -> list[str]:
    """Each output of an executed notebook that shows a warning, a
    traceback or a machine path: 'cell K (stream): what, the line'."""
    import nbformat

    found = []
    notebook = nbformat.read(path, as_version=4)
    for k, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            for kind, text in _output_texts(output):
                for pattern, what in _NOISE:
                    match = pattern.search(text)
                    if match:
                        start = text.rfind("\n", 0, match.start()) + 1
                        line = text[start : text.find("\n", match.end())]
                        found.append(f"cell {k} ({kind}): {what}: {line[:160]}")
    return found


def test_no_output_shows_a_warning_or_a_machine_path(build):
    """Issue 13: no executed notebook and no page shows a framework warning, a
    traceback or a path of the machine, on stdout or on stderr."""
    executed = sorted((BUILD / "jupyter_execute").rglob("*.ipynb"))
    assert executed, "the build wrote no executed notebooks"
    problems = {
        p.relative_to(BUILD).as_posix(): noise_in_notebook(p) for p in executed
    }
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, "\n".join(
        f"{name}: {line}" for name, lines in problems.items() for line in lines
    )


def noise_in_page(path: Path) -> list[str]:
    """Each cell output on a built page that shows a warning, a traceback
    or a machine path (what the reader sees, after every removal)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_text(), "html.parser")
    found = []
    for k, output in enumerate(soup.select(".cell_output")):
        text = output.get_text()
        for pattern, what in _NOISE:
            match = pattern.search(text)
            if match:
                start = text.rfind("\n", 0, match.start()) + 1
                line = text[start : text.find("\n", match.end())]
                found.append(f"output {k}: {what}: {line[:160]}")
    return found


def test_no_page_shows_a_warning_or_a_machine_path(build):
    """The same on the built pages: stderr merged into stdout by the build
    would escape `stderr_output: remove`, so the HTML is read too."""
    pages = [HTML / f"{page}.html" for page in PAGES]
    problems = {
        p.relative_to(HTML).as_posix(): noise_in_page(p)
        for p in pages
        if p.exists()
    }
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, "\n".join(
        f"{name}: {line}" for name, lines in problems.items() for line in lines
    )


def test_the_noise_check_sees_what_it_must(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stdout",
            text="WARNING:tensorflow:From /opt/venv/lib/python3.11/"
            "site-packages/tf/x.py:1: deprecated\n",
        )
    ]
    notebook.cells = [cell]
    nbformat.write(notebook, tmp_path / "n.ipynb")
    found = noise_in_notebook(tmp_path / "n.ipynb")
    assert any("a warning" in line for line in found)
    assert any("Python installation" in line for line in found)


# --------------------------------------------------------------------------- no browser needed


@pytest.mark.parametrize(
    "page",
    [
        "chapters/90_cheat_sheet",
        "chapters/05_one_set_of_weights_three_frameworks",
    ],
)
def test_framework_tabs_are_on_the_cross_framework_pages(build, page):
    """Issue 9: synced TensorFlow 1 / Keras / PyTorch tabs at least on the cheat sheet and in chapter 5."""
    html = (HTML / f"{page}.html").read_text()
    for sync_id in ("tf1", "keras", "torch"):
        assert f'data-sync-id="{sync_id}"' in html, (
            f"{page}: no synced '{sync_id}' tab"
        )
    assert 'data-sync-group="framework"' in html, (
        f"{page}: the tabs are not in the 'framework' sync group"
    )


def test_binder_runtime_and_post_build():
    assert (
        ROOT / "binder" / "runtime.txt"
    ).read_text().strip() == "python-3.11"
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), (
        "binder/postBuild must be executable (chmod +x)"
    )
    assert re.search(r"pip install .*-e \.", post_build.read_text()), (
        "postBuild must install rnnbook"
    )


def test_launch_buttons_are_configured():
    buttons = CONFIG.get("launch_buttons", {})
    assert buttons.get("binderhub_url") and buttons.get("colab_url")
    assert CONFIG["repository"]["url"].startswith("https://github.com/"), (
        "Colab needs a GitHub URL"
    )
    missing = [c for c in CHAPTERS if not (ROOT / f"{c}.ipynb").exists()]
    assert not missing, (
        f"Colab opens the .ipynb beside each chapter; missing for {missing}"
    )


def test_landing_page_is_plain_markdown():
    """intro.md is deliberately not a notebook: its figure is glued from the cheat sheet, so it
    needs no .ipynb pair and is not under the chapters' pairing rules (tests/test_book.py)."""
    text = (ROOT / "intro.md").read_text()
    assert "{code-cell}" not in text and "kernelspec" not in text
    assert ":doc: chapters/90_cheat_sheet.md" in text, (
        "the landing figure comes from the cheat sheet"
    )


# --------------------------------------------------------------------------- the browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A page closed while a file was still being sent is not an error of the site."""
        if not isinstance(
            sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)
        ):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def site(build):
    """Serve the built HTML on 127.0.0.1 (a free port) from a thread; yield its base URL."""
    if not (HTML / "index.html").exists():
        pytest.skip(
            "the build wrote no site (see test_the_book_builds_without_warnings)"
        )
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _missing_browser(reason):
    if os.environ.get("CI"):
        pytest.fail(
            f"CI must run the browser tests, but {reason}: {HOW_TO_INSTALL}"
        )
    pytest.skip(f"{reason}; {HOW_TO_INSTALL}")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing_browser("playwright is not installed")
    if not CHROMIUM.exists():
        _missing_browser(f"{CHROMIUM} does not exist")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


# Run in the page once it has loaded: make lazy images load, then describe what the reader sees.
_INSPECT = """async () => {
  const images = Array.from(document.querySelectorAll('img'));
  for (const img of images) { img.loading = 'eager'; }
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  const main = document.querySelector('main') || document.body;
  return {
    title: document.title,
    text: main.innerText,
    images: images.map(img => ({src: img.getAttribute('src'), complete: img.complete,
                                width: img.naturalWidth, height: img.naturalHeight,
                                inArticle: main.contains(img)})),
    errorOutputs: Array.from(main.querySelectorAll(
        '.output.stderr, .output.traceback, .output.error, div.stderr, .cell_output .traceback'
      )).map(e => e.innerText.slice(0, 300)),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  };
}"""


@pytest.fixture(scope="module")
def visits(site, browser):
    """Open every page of the toc once; record console errors, images, outputs and links.

    Requests to other hosts (MathJax's CDN) are answered with an empty 200 here, so the test
    runs without a network; they are recorded in ``external``.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    external = set()

    def route(request_route):
        url = request_route.request.url
        if url.startswith(site):
            request_route.continue_()
        else:
            external.add(url)
            request_route.fulfill(
                status=200, body="", content_type="text/plain"
            )

    context.route("**/*", route)
    records = {}
    for page_name in PAGES:
        page = context.new_page()
        errors = []
        page.on(
            "console",
            lambda msg, errors=errors: (
                errors.append(msg.text) if msg.type == "error" else None
            ),
        )
        page.on(
            "pageerror",
            lambda exc, errors=errors: errors.append(f"uncaught: {exc}"),
        )
        failed = []
        page.on(
            "requestfailed", lambda req, failed=failed: failed.append(req.url)
        )
        response = page.goto(f"{site}/{page_name}.html", wait_until="load")
        record = page.evaluate(_INSPECT)
        record.update(
            status=response.status if response else None,
            errors=errors,
            failed=failed,
        )
        if page_name in CHAPTERS:
            page.screenshot(
                path=str(SCREENSHOTS / f"{Path(page_name).name}.png"),
                full_page=True,
            )
        records[page_name] = record
        page.close()
    yield records
    context.close()


@pytest.fixture()
def page(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(
        "**/*",
        lambda r: (
            r.continue_()
            if r.request.url.startswith(site)
            else r.fulfill(status=200, body="", content_type="text/plain")
        ),
    )
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("page_name", PAGES)
def test_page_loads_without_console_errors(visits, page_name):
    record = visits[page_name]
    assert record["status"] == 200, (
        f"{page_name}.html answered {record['status']}"
    )
    assert not record["errors"], (
        f"{page_name}.html logged errors in the console: {record['errors']}"
    )
    assert not record["failed"], (
        f"{page_name}.html could not load {record['failed']}"
    )


@pytest.mark.parametrize("page_name", PAGES)
def test_page_shows_no_traceback_or_error_output(visits, page_name):
    record = visits[page_name]
    assert "Traceback" not in record["text"], (
        f"{page_name}.html shows a Python traceback"
    )
    assert not record["errorOutputs"], (
        f"{page_name}.html shows error/stderr outputs: {record['errorOutputs']}"
    )


@pytest.mark.parametrize("page_name", CHAPTERS)
def test_chapter_images_load(visits, page_name):
    broken = [
        img["src"]
        for img in visits[page_name]["images"]
        if not (img["complete"] and img["width"] > 0 and img["height"] > 0)
    ]
    assert not broken, f"{page_name}.html: images that did not load: {broken}"
    assert (SCREENSHOTS / f"{Path(page_name).name}.png").stat().st_size > 0


def test_landing_page_shows_its_figure(visits):
    figures = [
        img
        for img in visits["intro"]["images"]
        if img["inArticle"] and img["width"] > 200 and img["height"] > 100
    ]
    assert figures, (
        "the landing page shows no figure (glued from the cheat sheet)"
    )


@pytest.mark.parametrize("page_name", CHAPTERS)
def test_launch_buttons_open_the_chapter_notebook(visits, site, page_name):
    repository = CONFIG["repository"]["url"].rstrip("/")
    org_repo = repository.removeprefix("https://github.com/")
    branch = CONFIG["repository"]["branch"]
    links = visits[page_name]["links"]
    colab = [
        link
        for link in links
        if link.startswith(CONFIG["launch_buttons"]["colab_url"])
    ]
    binder = [
        link
        for link in links
        if link.startswith(CONFIG["launch_buttons"]["binderhub_url"])
    ]
    stem = Path(page_name).name
    assert colab == [  # the reader notebook, from the published site
        f"https://colab.research.google.com/github/{org_repo}/blob/gh-pages/"
        f"notebooks/{stem}.ipynb"
    ], colab
    assert len(binder) == 1 and binder[0].startswith(
        f"https://mybinder.org/v2/gh/{org_repo}/{branch}"
    ), binder
    assert binder[0].endswith(f"urlpath=lab/tree/{page_name}.ipynb"), binder
    downloads = [
        link
        for link in links
        if link.startswith(site)
        and (
            "/_sources/" in link or link.endswith(f"/notebooks/{stem}.ipynb")
        )
    ]
    assert {Path(link).suffix for link in downloads} >= {".md", ".ipynb"}, (
        downloads
    )
    assert not [
        d for d in downloads if d.endswith(".ipynb") and "/_sources/" in d
    ], "the download button offers the reader notebook"
    for link in downloads:  # the download button's files exist on the site
        with urllib.request.urlopen(link) as answer:
            assert answer.status == 200 and answer.read(1), link


def test_framework_tabs_switch_together(page, site):
    """Clicking "Keras" in one tab set shows the Keras tab in every synced set on the page."""
    page.goto(f"{site}/chapters/90_cheat_sheet.html", wait_until="load")
    tab_sets = page.locator(".sd-tab-set")
    count = tab_sets.count()
    assert count >= 3, (
        f"the cheat sheet has {count} tab sets; expected one per topic"
    )

    def visible(tab_set, sync_id):
        return tab_set.locator(
            f"label.sd-tab-label[data-sync-id='{sync_id}'] + .sd-tab-content"
        ).is_visible()

    first = tab_sets.nth(0)
    assert visible(first, "tf1") and not visible(first, "keras"), (
        "the first tab (TensorFlow 1) is not shown first"
    )
    first.locator("label.sd-tab-label[data-sync-id='keras']").click()
    for i in range(count):
        tab_set = tab_sets.nth(i)
        labels = tab_set.locator("label.sd-tab-label")
        ids = [
            labels.nth(j).get_attribute("data-sync-id")
            for j in range(labels.count())
        ]
        assert ids == ["tf1", "keras", "torch"], f"tab set {i}: tabs {ids}"
        shown = {sync_id: visible(tab_set, sync_id) for sync_id in ids}
        assert shown == {"tf1": False, "keras": True, "torch": False}, (
            f"tab set {i} after the click: {shown}"
        )
    keras_text = (
        tab_sets.nth(0)
        .locator("label[data-sync-id='keras'] + .sd-tab-content")
        .inner_text()
    )
    assert "return_sequences" in keras_text
