"""The rendered site: the strict HTML build, then the built pages opened in
a real browser, as readers open them.

The module builds the book once (the same command as `make book`) in a
module-scoped fixture; under `pytest -n 2 --dist loadscope` a module stays on
one worker, so the browser tests run after the build, against it. The browser
is Debian's Chromium (`/usr/bin/chromium`) driven by playwright, with the
network blocked (only the local server answers). Each page is opened once
and looked at the way issue 19 asks: at 1280 px in light and dark mode, with
axe-core (installed by `make test` from package-lock.json) injected; its
figures, code boxes and math measured; then at 390 px, a phone. Where
Chromium, playwright or axe-core is missing the browser tests are skipped
with a message saying how to install it (under CI, where `.ci/run` installs
them, they fail instead).

Also here: the Binder configuration (binder/), the footer and the landing
page checks that need no browser.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from booktools.pdf import serve
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
    "the browser tests need Debian's Chromium and playwright: "
    "`sudo apt-get install chromium` (the package installs "
    "/usr/bin/chromium; set RNNBOOK_CHROMIUM to use another binary) and "
    "`.venv/bin/pip install -r requirements.txt` (playwright is pinned there)"
)

PAGES = toc_files()  # e.g. "intro", "chapters/01_...", "appendix/glossary"
CHAPTERS = [
    p.relative_to(ROOT).with_suffix("").as_posix() for p in toc_chapters()
]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


# ------------------------------------------------------------------ the build


@pytest.fixture(scope="module")
def build():
    """Build the site once for this module: exactly `make book`'s command
    (warnings are errors)."""
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
    """The HTML build with warnings as errors and cell errors failing (the
    same command as `make book`)."""
    log = (build.stdout + build.stderr)[-6000:]
    assert build.returncode == 0, f"jupyter-book build failed:\n{log}"
    assert (HTML / "index.html").exists(), f"no index.html was written:\n{log}"
    missing = [page for page in PAGES if not (HTML / f"{page}.html").exists()]
    assert not missing, f"the build wrote no page for toc entries {missing}"


# ------------------------------------------------------------ clean outputs

# What a reader must never see in a cell's output (stdout, stderr, display
# data, errors): a framework's warning or log line, a traceback, or a path of
# the machine that built the book.
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
    """Every piece of text an output shows: streams, plain text, HTML,
    errors."""
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
                        found.append(
                            f"cell {k} ({kind}): {what}: {line[:160]}"
                        )
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


# -------------------------------------------------------- no browser needed


@pytest.mark.parametrize(
    "page",
    [
        "chapters/90_cheat_sheet",
        "chapters/05_one_set_of_weights_three_frameworks",
    ],
)
def test_framework_tabs_are_on_the_cross_framework_pages(build, page):
    """Issue 9: synced TensorFlow 1 / Keras / PyTorch tabs at least on the
    cheat sheet and in chapter 5."""
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
    """intro.md is deliberately not a notebook: its figure is glued from the
    cheat sheet, so it needs no .ipynb pair and is not under the chapters'
    pairing rules (tests/test_book.py)."""
    text = (ROOT / "intro.md").read_text()
    assert "{code-cell}" not in text and "kernelspec" not in text
    assert ":doc: chapters/90_cheat_sheet.md" in text, (
        "the landing figure comes from the cheat sheet"
    )


# -------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def site(build):
    """Serve the built HTML on 127.0.0.1 (a free port) from a thread; yield
    its base URL."""
    if not (HTML / "index.html").exists():
        pytest.skip(
            "the build wrote no site "
            "(see test_the_book_builds_without_warnings)"
        )
    with serve(HTML) as base:  # the server that make pdf prints from
        yield base


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


# The pinned axe-core (package.json), installed by `make test` (npm ci).
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
MODES = ("light", "dark")
# axe-core's rules run in each mode: all of them in light mode; in dark mode
# the ones whose result depends on colour. Switching modes changes only the
# theme's colour variables, not the page's structure, so the structural
# rules would repeat the light run's verdicts (at twice the cost: axe-core
# takes most of this module's time).
AXE_RULES = {"light": None, "dark": ["color-contrast", "link-in-text-block"]}
# The colours of highlighted code (one Pygments style sheet for every code
# box of the book, three quarters of a chapter's elements) are checked for
# contrast on one page with code, in both modes; on the other pages
# color-contrast skips the tokens inside <pre> (their text, inline code and
# everything else is checked). This halves the colour checks' time.
TOKENS_PAGE = CHAPTERS[0]
# Screenshots show the first screen; RNNBOOK_SCREENSHOTS=full saves whole
# pages (about 40 s more on 2 cores).
SCREENSHOTS_FULL = os.environ.get("RNNBOOK_SCREENSHOTS") == "full"

# axe-core findings that only the theme can fix, excluded one rule on one
# element each: {"rule": axe rule id, "selector": CSS selector of the
# element, "why": the upstream issue}. Every finding so far was fixable by
# the book (_templates/, _ext/accessible_html.py, _static/book.css), so the
# list is empty; the test's summary line counts what it excludes.
AXE_EXCLUSIONS: list[dict] = []

# Run in a page once it has loaded (1280 px, light): load the lazy images,
# wait for MathJax, then describe what the reader sees.
_INSPECT = """async () => {
  const images = Array.from(document.querySelectorAll('img'));
  for (const img of images) { img.loading = 'eager'; }
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const main = document.querySelector('main') || document.body;
  const article = document.querySelector('article') || main;
  const shown = e => e.getClientRects().length > 0;
  const figures = images.filter(img => article.contains(img)
    && img.closest('figure, .cell_output, .output'));
  // Text outside code and rendered math: where a raw TeX delimiter would be.
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement.closest(
        'pre, code, script, style, mjx-container')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  const raw = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const m = n.textContent.match(/\\\\\\(|\\\\\\[|\\$\\$/);
    if (m) { raw.push(n.textContent.trim().slice(0, 80)); }
  }
  const math = Array.from(article.querySelectorAll('.math'));
  // Figures in a tab not chosen or a folded block are measured shown.
  const style = document.createElement('style');
  style.textContent = '.sd-tab-content { display: block !important; }';
  document.head.appendChild(style);
  const closed = Array.from(document.querySelectorAll('details:not([open])'));
  closed.forEach(d => d.open = true);
  const measured = figures.map(img => ({
      src: img.getAttribute('src'), url: img.src,
      alt: img.getAttribute('alt'),
      natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
      link: img.closest('a') ? img.closest('a').href : null}));
  closed.forEach(d => d.open = false);
  style.remove();
  return {
    title: document.title,
    text: main.innerText,
    images: images.map(img => ({
      src: img.getAttribute('src'), complete: img.complete,
      width: img.naturalWidth, height: img.naturalHeight,
      inArticle: main.contains(img)})),
    figures: measured,
    errorOutputs: Array.from(main.querySelectorAll(
        '.output.stderr, .output.traceback, .output.error, div.stderr, '
        + '.cell_output .traceback'
      )).map(e => e.innerText.slice(0, 300)),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    rawMath: raw,
    math: math.length,
    unrendered: math.filter(e => !e.querySelector('mjx-container'))
      .map(e => e.textContent.slice(0, 60)),
    searchFields: Array.from(
      document.querySelectorAll('.search-button-field')).filter(shown).length,
  };
}"""

# Run axe-core in the page; keep the violations the exclusions do not cover.
_AXE = """async ([exclusions, rules, tokens]) => {
  const options = {resultTypes: ['violations'], elementRef: true};
  if (rules) { options.runOnly = {type: 'rule', values: rules}; }
  axe.reset();
  if (!tokens) {
    axe.configure({rules: [{id: 'color-contrast',
                            selector: '*:not(pre span)'}]});
  }
  const result = await axe.run(document, options);
  const found = [], excluded = {};
  for (const v of result.violations) {
    for (const node of v.nodes) {
      const rule = exclusions.find(x => x.rule === v.id && node.element
        && node.element.matches(x.selector));
      if (rule) {
        const key = `${v.id} on ${rule.selector}`;
        excluded[key] = (excluded[key] || 0) + 1;
        continue;
      }
      found.push({rule: v.id, impact: v.impact,
                  target: node.target.join(' '),
                  summary: (node.failureSummary || '').slice(0, 300)});
    }
  }
  return {found, excluded, version: axe.version};
}"""

# Switch the theme's colour mode (pydata-sphinx-theme reads data-theme and
# data-mode on <html>); answer the page's background colour.
_MODE = """async mode => {
  document.documentElement.dataset.theme = mode;
  document.documentElement.dataset.mode = mode;
  // Colours change through CSS transitions (the tab labels: 250 ms): jump
  // each to its end, or axe-core measures a colour halfway. (Waiting for
  // them, after a requestAnimationFrame, hung one run on a loaded machine
  // for 20 minutes: a transition that never advances never finishes.)
  for (const a of document.getAnimations()) {
    try { a.finish(); } catch (e) { /* an endless animation: leave it */ }
  }
  return getComputedStyle(document.body).backgroundColor;
}"""

# Every code box at 1280 px, with folded cells unfolded and every tab shown:
# does a 79-character line fit, and does the box scroll sideways?
_CODE_BOXES = """() => {
  const style = document.createElement('style');
  style.textContent = '.sd-tab-content { display: block !important; }';
  document.head.appendChild(style);
  const closed = Array.from(document.querySelectorAll('details:not([open])'));
  closed.forEach(d => d.open = true);
  const article = document.querySelector('article') || document.body;
  const boxes = Array.from(article.querySelectorAll('div.highlight > pre'))
    .filter(pre => pre.getClientRects().length > 0);
  const measured = boxes.map(pre => {
    const probe = document.createElement('pre');
    probe.style.cssText = 'position:absolute; visibility:hidden; '
      + 'width:auto; padding:0; margin:0; border:0; white-space:pre';
    probe.textContent = 'M'.repeat(79);
    pre.parentElement.appendChild(probe);
    const width79 = probe.getBoundingClientRect().width;
    probe.remove();
    const cs = getComputedStyle(pre);
    const room = pre.clientWidth - parseFloat(cs.paddingLeft)
      - parseFloat(cs.paddingRight);
    const lines = pre.textContent.replace(/\\n$/, '').split('\\n');
    return {longest: Math.max(...lines.map(l => l.length)),
            first: lines[0].slice(0, 60), fontSize: cs.fontSize,
            width79: width79, room: room,
            scrolls: pre.scrollWidth > pre.clientWidth + 1};
  });
  closed.forEach(d => d.open = false);
  style.remove();
  return measured;
}"""

# At 390 px: does the page scroll sideways, and can every table be read?
_PHONE = """async () => {
  // Folded blocks (dropdowns) are opened so their tables are checked too;
  // book.js updates the tables' hints on resize and when a block opens
  // (waited for with a timer, not a frame: see _MODE).
  const closed = Array.from(document.querySelectorAll('details:not([open])'));
  closed.forEach(d => d.open = true);
  await new Promise(r => setTimeout(r, 150));
  const doc = document.scrollingElement;
  const article = document.querySelector('article') || document.body;
  const shown = e => e.getClientRects().length > 0;
  const sticking = Array.from(article.querySelectorAll('*')).filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.right > doc.clientWidth + 1
      && !e.closest('pre, .pst-scrollable-table-container, mjx-container');
  }).slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + e.className);
  const tables = Array.from(article.querySelectorAll('table')).filter(shown)
    .map(table => {
      const box = table.closest('.pst-scrollable-table-container')
        || table.parentElement;
      const wide = box.scrollWidth > box.clientWidth + 1;
      const hint = box.previousElementSibling;
      const row = table.querySelector('tr');
      const last = row ? row.lastElementChild : table;
      const before = box.scrollLeft;
      box.scrollLeft = box.scrollWidth;
      const edge = last.getBoundingClientRect().right;
      const boxRight = box.getBoundingClientRect().right;
      box.scrollLeft = before;
      return {
        head: (row ? row.innerText : '').replace(/\\s+/g, ' ').slice(0, 50),
        wide: wide,
        scrolls: ['auto', 'scroll'].includes(getComputedStyle(box).overflowX),
        focusable: box.tabIndex >= 0,
        hint: !!(hint && hint.classList.contains('table-scroll-hint')
                 && shown(hint) && hint.innerText.length > 0),
        lastColumnReachable: edge <= boxRight + 1,
        insidePage: box.getBoundingClientRect().right <= doc.clientWidth + 1,
      };
    });
  const result = {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth,
                  sticking: sticking, tables: tables};
  closed.forEach(d => d.open = false);
  return result;
}"""


def _shot(page, name, suffix):
    page.screenshot(
        path=str(SCREENSHOTS / f"{Path(name).name}{suffix}.png"),
        full_page=SCREENSHOTS_FULL,
    )


def _run_axe(page, rules=None, tokens=True):
    return page.evaluate(_AXE, [AXE_EXCLUSIONS, rules, tokens])


@pytest.fixture(scope="module")
def visits(site, browser):
    """Open every page of the toc once and look at it as issue 19 asks.

    At 1280 px in light mode: console errors, images, figures, outputs,
    links, math, axe-core; a screenshot. Then dark mode: axe-core's colour
    rules (AXE_RULES) and a screenshot. Then the code boxes, each folded
    cell unfolded and every tab shown. Then 390 px (a phone): sideways
    scrolling, tables, screenshots in both modes. Screenshots go to
    _build/screenshots/ (`NAME.png`, `NAME-dark.png`, `NAME-390.png`,
    `NAME-390-dark.png`; the first screen, or the whole page with
    RNNBOOK_SCREENSHOTS=full), every axe-core finding to `axe.json`.

    Requests to other hosts are answered with an empty 200, so the test
    runs without a network; they are recorded in ``external``.
    """
    if not AXE.exists():
        _missing_browser(
            f"{AXE.relative_to(ROOT)} is missing (`make test` installs "
            "axe-core with `npm ci`; npm comes with Node.js)"
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    context.add_init_script(path=str(AXE))

    def route(request_route, external):
        url = request_route.request.url
        if url.startswith(site):
            request_route.continue_()
        else:
            external.append(url)
            request_route.fulfill(
                status=200, body="", content_type="text/plain"
            )

    records = {}
    for page_name in PAGES:
        page = context.new_page()
        errors, failed, external = [], [], []
        page.route("**/*", lambda r, external=external: route(r, external))
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
        page.on(
            "requestfailed", lambda req, failed=failed: failed.append(req.url)
        )
        response = page.goto(f"{site}/{page_name}.html", wait_until="load")
        record = page.evaluate(_INSPECT)
        record["axe"] = {}
        for mode in MODES:
            record[f"background-{mode}"] = page.evaluate(_MODE, mode)
            record["axe"][mode] = _run_axe(
                page, AXE_RULES[mode], tokens=page_name == TOKENS_PAGE
            )
            _shot(page, page_name, "" if mode == "light" else "-dark")
        page.evaluate(_MODE, "light")
        record["codeBoxes"] = page.evaluate(_CODE_BOXES)
        page.set_viewport_size(PHONE)
        record["phone"] = page.evaluate(_PHONE)
        for mode in MODES:
            page.evaluate(_MODE, mode)
            _shot(page, page_name, "-390" if mode == "light" else "-390-dark")
        record.update(
            status=response.status if response else None,
            errors=errors,
            failed=failed,
            external=external,
        )
        records[page_name] = record
        page.close()
    (SCREENSHOTS / "axe.json").write_text(
        json.dumps({name: r["axe"] for name, r in records.items()}, indent=1)
    )
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
        f"{page_name}.html shows error/stderr outputs: "
        f"{record['errorOutputs']}"
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
        and ("/_sources/" in link or link.endswith(f"/notebooks/{stem}.ipynb"))
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
    """Clicking "Keras" in one tab set shows the Keras tab in every synced
    set on the page."""
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


# ------------------------------------------- issue 19: a site for every reader


def _luminance(css_colour: str) -> float:
    """Relative luminance (WCAG) of a computed `rgb(r, g, b)` colour."""
    r, g, b = (int(c) / 255 for c in re.findall(r"\d+", css_colour)[:3])

    def linear(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


@pytest.mark.parametrize("page_name", PAGES)
def test_no_critical_or_serious_accessibility_violation(
    visits, page_name, record_property
):
    """axe-core on every page in light and dark mode: no critical or serious
    violation outside AXE_EXCLUSIONS (each excluded finding is counted in
    the summary line at the end of the run; moderate and minor ones too)."""
    record = visits[page_name]
    assert _luminance(record["background-light"]) > 0.8
    assert _luminance(record["background-dark"]) < 0.05, (
        f"{page_name}.html did not switch to dark mode: the background is "
        f"{record['background-dark']}"
    )
    serious = []
    for mode in MODES:
        axe = record["axe"][mode]
        counts = {}
        for finding in axe["found"]:
            counts[finding["impact"]] = counts.get(finding["impact"], 0) + 1
        record_property(
            "axe",
            {
                "page": page_name,
                "mode": mode,
                "counts": counts,
                "excluded": axe["excluded"],
                "version": axe["version"],
            },
        )
        serious += [
            f"{mode}: {f['impact']} {f['rule']} on {f['target']}: "
            f"{f['summary']}"
            for f in axe["found"]
            if f["impact"] in ("critical", "serious")
        ]
    assert not serious, f"{page_name}.html:\n" + "\n".join(serious)


def test_code_colours_are_checked_on_a_page_full_of_code(visits):
    """TOKENS_PAGE, where color-contrast also checks the highlighted code,
    has code boxes (the page's axe-core runs are checked above)."""
    assert len(visits[TOKENS_PAGE]["codeBoxes"]) >= 5


def test_the_axe_exclusions_are_counted_not_hidden(browser):
    """An excluded finding disappears from the violations and is counted;
    the same finding on another element is still reported."""
    if not AXE.exists():
        _missing_browser(f"{AXE.relative_to(ROOT)} is missing")
    page = browser.new_page()
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main>'
        '<button id="one" aria-label="Close">Open menu</button>'
        '<button id="two" aria-label="Close">Open menu</button>'
        "</main></body></html>"
    )
    page.add_script_tag(path=str(AXE))
    exclusions = [
        {"rule": "label-content-name-mismatch", "selector": "#one", "why": ""}
    ]
    result = page.evaluate(
        _AXE, [exclusions, ["label-content-name-mismatch"], True]
    )
    page.close()
    assert result["excluded"] == {"label-content-name-mismatch on #one": 1}
    assert [f["target"] for f in result["found"]] == ["#two"]


# The smallest text a figure may hold is 9 pt (the book's style rule for
# figures); shown at the page's size it must be at least 10 CSS px.
MIN_FONT_PT = 9
MIN_TEXT_PX = 10
# A figure's file is at least 1.5 times as wide as it is shown on a desktop,
# so it stays sharp on a high-density screen and when opened full size.
MIN_SHARPNESS = 1.5


def _file_of(src: str, page_name: str) -> Path:
    return (HTML / page_name).parent.joinpath(src).resolve()


def smallest_text_px(dpi: float, natural: float, shown: float) -> float:
    """How tall, in CSS px, 9-pt text of a figure saved at `dpi` appears
    when its `natural`-px-wide image is shown `shown` px wide: 9/72 inch is
    9/72 * dpi image pixels, scaled by shown/natural."""
    return MIN_FONT_PT / 72 * dpi * shown / natural


@pytest.mark.parametrize("page_name", PAGES)
def test_figures_have_alt_text_and_open_full_size(visits, page_name):
    """Every figure's alt text is words (the caption), not its file name,
    and the figure is a link to its own image file."""
    problems = []
    for figure in visits[page_name]["figures"]:
        alt = (figure["alt"] or "").strip()
        name = Path(figure["src"]).name
        if len(alt.split()) < 4 or name in alt or alt.endswith(".png"):
            problems.append(f"{name}: alt text {alt[:60]!r}")
        if figure["link"] != figure["url"]:
            problems.append(f"{name}: links to {figure['link']}, not itself")
    assert not problems, f"{page_name}.html:\n" + "\n".join(problems)


@pytest.mark.parametrize("page_name", PAGES)
def test_figures_are_legible_at_their_displayed_size(visits, page_name):
    """Measured at 1280 px: the image's width in the page (`shown`), its
    width in pixels (`natural`) and its resolution (the PNG's dpi, which
    matplotlib writes). 9-pt text then appears smallest_text_px() tall:
    at least 10 px. And the file is at least 1.5 x the shown width (sharp
    when zoomed or opened). A figure too wide in inches fails the first
    rule at any dpi: it is shrunk more to fit the page."""
    from PIL import Image

    problems = []
    for figure in visits[page_name]["figures"]:
        path = _file_of(figure["src"], page_name)
        dpi = Image.open(path).info.get("dpi", (None,))[0]
        natural, shown = figure["natural"], figure["shown"]
        if not dpi:
            problems.append(f"{path.name}: the PNG records no dpi")
            continue
        text = smallest_text_px(dpi, natural, shown)
        inches = natural / dpi
        if text < MIN_TEXT_PX:
            problems.append(
                f"{path.name}: {inches:.1f} in wide ({natural} px at "
                f"{dpi:.0f} dpi) shown {shown:.0f} px wide: 9-pt text "
                f"appears {text:.1f} px tall (< {MIN_TEXT_PX}); make the "
                f"figure at most {MIN_FONT_PT / 72 * shown / MIN_TEXT_PX:.1f}"
                " in wide"
            )
        if natural < MIN_SHARPNESS * shown:
            problems.append(
                f"{path.name}: {natural} px wide, shown {shown:.0f} px: "
                f"save it at a higher dpi (chapters/matplotlibrc)"
            )
    assert not problems, f"{page_name}.html:\n" + "\n".join(problems)


def test_the_legibility_rule_measures_what_it_says():
    # 7.5 in at 200 dpi (1500 px) shown 690 px wide: 9 pt is 11.5 px.
    assert smallest_text_px(200, 1500, 690) == pytest.approx(11.5)
    # The same figure at 100 dpi shown at the same width: the same size.
    assert smallest_text_px(100, 750, 690) == pytest.approx(11.5)
    # 11 in wide, shown 690 px: 7.8 px, illegible at any dpi.
    assert smallest_text_px(200, 2200, 690) < MIN_TEXT_PX


@pytest.mark.parametrize("page_name", PAGES)
def test_code_lines_of_79_characters_fit_their_box(visits, page_name):
    """At 1280 px, in every code box (inputs, outputs, code blocks; folded
    cells and every tab included): a line of 79 characters fits without
    scrolling, and a box whose lines are at most 79 characters does not
    scroll sideways. (tests/test_style.py keeps the lines that short.)"""
    boxes = visits[page_name]["codeBoxes"]
    narrow = [
        f"{b['first']!r}...: 79 characters need {b['width79']:.0f} px, the "
        f"box has {b['room']:.0f} px (font {b['fontSize']})"
        for b in boxes
        if b["width79"] > b["room"] + 0.5
    ]
    scrolling = [
        f"{b['first']!r}...: scrolls sideways with lines of at most "
        f"{b['longest']} characters"
        for b in boxes
        if b["scrolls"] and b["longest"] <= 79
    ]
    assert not narrow + scrolling, f"{page_name}.html:\n" + "\n".join(
        narrow + scrolling
    )


@pytest.mark.parametrize("page_name", PAGES)
def test_math_renders_without_the_network(visits, page_name):
    """MathJax comes from the build (_ext/offline_mathjax.py); with every
    other host blocked, each piece of math is typeset and no raw TeX
    delimiter is left in the text."""
    record = visits[page_name]
    assert not record["rawMath"], (
        f"{page_name}.html shows raw TeX: {record['rawMath'][:5]}"
    )
    assert not record["unrendered"], (
        f"{page_name}.html: math MathJax did not typeset: "
        f"{record['unrendered'][:5]}"
    )
    assert not record["external"], (
        f"{page_name}.html asked other hosts for {record['external'][:5]}"
    )


def test_the_book_has_math_that_mathjax_renders(visits):
    """The check above is not empty: the chapters hold math, and MathJax
    typeset it."""
    assert sum(record["math"] for record in visits.values()) > 20


def test_one_search_field(visits):
    """At 1280 px the sidebar holds the search field and nothing else shows
    a second, empty one (the theme's header did)."""
    counts = {name: r["searchFields"] for name, r in visits.items()}
    assert set(counts.values()) == {1}, counts


@pytest.mark.parametrize("page_name", PAGES)
def test_no_page_scrolls_sideways_on_a_phone(visits, page_name):
    phone = visits[page_name]["phone"]
    assert phone["scrollWidth"] <= phone["clientWidth"], (
        f"{page_name}.html is {phone['scrollWidth']} px wide at 390 px; "
        f"sticking out: {phone['sticking']}"
    )


@pytest.mark.parametrize("page_name", PAGES)
def test_wide_tables_on_a_phone_show_a_hint_and_scroll(visits, page_name):
    """At 390 px a table wider than the page scrolls inside its own box:
    the box is focusable (a keyboard scrolls it), a visible hint says so,
    and scrolling it to the end brings the last column into view."""
    problems = []
    for table in visits[page_name]["phone"]["tables"]:
        checks = {"inside the page": table["insidePage"]}
        if table["wide"]:
            checks.update(
                {
                    "scrolls": table["scrolls"],
                    "focusable": table["focusable"],
                    "shows the hint": table["hint"],
                    "last column reachable": table["lastColumnReachable"],
                }
            )
        problems += [
            f"table {table['head']!r}: not {what}"
            for what, ok in checks.items()
            if not ok
        ]
    assert not problems, f"{page_name}.html:\n" + "\n".join(problems)


def test_some_table_is_wide_on_a_phone(visits):
    """The check above is not empty: at 390 px some table needs scrolling."""
    assert any(
        table["wide"]
        for record in visits.values()
        for table in record["phone"]["tables"]
    )


_PRINTED = """() => {
  const shown = e => e.getClientRects().length > 0
    && getComputedStyle(e).visibility !== 'hidden';
  const sets = Array.from(document.querySelectorAll('.sd-tab-set'));
  return {
    sets: sets.map(set => Array.from(set.querySelectorAll(':scope > label'))
      .map(label => ({label: label.innerText.trim(), labelShown: shown(label),
                      panelShown: shown(label.nextElementSibling)}))),
    hiddenSource: Array.from(document.querySelectorAll('details.hide'))
      .filter(shown).length,
    hiddenCells: document.querySelectorAll('details.hide').length,
  };
}"""


def test_print_shows_every_tab_under_its_label_and_no_folded_source(
    page, site
):
    """The print stylesheet (_static/book.css), as `make pdf` and a
    browser's Print use it, on the cheat sheet: every tab panel is printed
    under its label, and the folded "Show code cell source" cells are not."""
    page.goto(f"{site}/chapters/90_cheat_sheet.html", wait_until="load")
    page.emulate_media(media="print")
    printed = page.evaluate(_PRINTED)
    assert printed["sets"], "the cheat sheet has no tab sets"
    for k, tabs in enumerate(printed["sets"]):
        assert [t["label"] for t in tabs] == [
            "TensorFlow 1",
            "Keras",
            "PyTorch",
        ], f"tab set {k}: {tabs}"
        assert all(t["labelShown"] and t["panelShown"] for t in tabs), (
            f"tab set {k} prints {tabs}"
        )
    assert printed["hiddenCells"] > 0
    assert printed["hiddenSource"] == 0, "folded source is printed"
    page.emulate_media(media="screen")
    on_screen = page.evaluate(_PRINTED)
    assert on_screen["hiddenSource"] == on_screen["hiddenCells"]
    assert not all(t["panelShown"] for t in on_screen["sets"][0])


def _pins() -> dict[str, str]:
    """The `name==version` pins of requirements.txt, by lower-case name
    with `-` for `_`."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, _, version = line.split("#", 1)[0].partition("==")
        if version.strip():
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_every_page_names_the_licenses_and_what_it_was_checked_with(build):
    """Each page's footer: the text and code licenses, the book's version
    (pyproject.toml), the build date and the pinned TensorFlow, tf-keras,
    Keras and PyTorch versions (requirements.txt): read, not typed."""
    import tomllib

    from bs4 import BeautifulSoup

    pins = _pins()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "version"
    ]
    expected = [
        "CC BY 4.0",
        "MIT",
        f"Version {version}",
        f"TensorFlow {pins['tensorflow']}",
        f"tf-keras {pins['tf-keras']}",
        f"Keras {pins['keras']}",
        f"PyTorch {pins['torch']}",
    ]
    for page_name in PAGES:
        soup = BeautifulSoup(
            (HTML / f"{page_name}.html").read_text(), "html.parser"
        )
        footer = soup.select_one(".book-provenance")
        assert footer is not None, f"{page_name}.html has no provenance"
        text = " ".join(footer.get_text(" ").split()).replace("\xa0", " ")
        missing = [words for words in expected if words not in text]
        assert not missing, f"{page_name}.html footer lacks {missing}: {text}"
        assert re.search(r"built \d{4}-\d\d-\d\d", text), text


def test_the_licenses_are_in_the_repository():
    code = (ROOT / "LICENSE").read_text()
    text = (ROOT / "LICENSE-TEXT").read_text()
    assert code.startswith("MIT License")
    assert "Attribution 4.0 International" in text
    readme = (ROOT / "README.md").read_text()
    assert "LICENSE" in readme and "LICENSE-TEXT" in readme
    assert (ROOT / "CHANGELOG.md").exists()


def test_a_page_printed_in_dark_mode_prints_light(page, site):
    """Paper is white: _static/book.js prints in the light colours and
    puts the reader's mode back afterwards."""
    page.goto(f"{site}/intro.html", wait_until="load")
    page.evaluate(_MODE, "dark")
    assert (
        page.evaluate(
            "() => { window.dispatchEvent(new Event('beforeprint'));"
            " return document.documentElement.dataset.theme; }"
        )
        == "light"
    )
    assert (
        page.evaluate(
            "() => { window.dispatchEvent(new Event('afterprint'));"
            " return document.documentElement.dataset.theme; }"
        )
        == "dark"
    )
