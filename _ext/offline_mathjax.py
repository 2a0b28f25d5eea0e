"""Serve MathJax from the built site instead of a CDN (issue 19).

Sphinx points every page with math at MathJax on jsDelivr, so a reader
offline (or a browser test that blocks the network) sees raw ``\\(h_t\\)``.
The files come from a pinned PyPI package, ``sphinx-mathjax-offline``
(requirements.txt), which ships MathJax 3.2.2 as plain files; this module
copies the part the book needs into ``_build/html/_static/mathjax`` and
points ``mathjax_path`` at it. (That package's own extension copies all
24 MB, the SVG and MathML bundles included, after every build; the book
uses TeX input and CommonHTML output only.)

What is copied: ``tex-chtml.js`` (TeX input, HTML output, the menu), the
CommonHTML web fonts, the TeX extensions MathJax loads on demand
(``\\require``, ``autoload``), and the accessibility components the menu
loads (``a11y``, ``sre``: the speech and explorer a screen reader user
turns on). The ``mathjax3_config`` in ``_config.yml`` (the ``\\R`` macro)
applies unchanged: it is MathJax 3 either way.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

PACKAGE = "sphinx-mathjax-offline"  # its import name has hyphens
ENTRY = "tex-chtml.js"
PARTS = [
    ENTRY,
    "input/tex/extensions",
    "output/chtml/fonts/woff-v2",
    "a11y",
    "sre",
    "ui",
]


def mathjax_source() -> Path:
    """The folder of MathJax files that the pinned package installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            f"{PACKAGE} is not installed: `pip install -r requirements.txt` "
            "(the book serves MathJax from its own files, not from a CDN)"
        )
    folder = Path(spec.submodule_search_locations[0]) / "static" / "mathjax"
    if not (folder / ENTRY).is_file():
        raise ExtensionError(f"{PACKAGE} has no static/mathjax/{ENTRY}")
    return folder


def copy_mathjax(source: Path, target: Path) -> None:
    """Copy the parts the book uses; files already there with the same
    size are kept (an unchanged rebuild copies nothing)."""
    for part in PARTS:
        path = source / part
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if not file.is_file():
                continue
            copy = target / file.relative_to(source)
            if copy.is_file() and copy.stat().st_size == file.stat().st_size:
                continue
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, copy)


def _point_at_local_copy(app, config):
    mathjax_source()  # fail early, before any chapter runs
    config.mathjax_path = f"mathjax/{ENTRY}"


def _copy_after_build(app, exception):
    if exception is None and app.builder.format == "html":
        copy_mathjax(
            mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
        )


def setup(app):
    app.connect("config-inited", _point_at_local_copy)
    app.connect("build-finished", _copy_after_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
