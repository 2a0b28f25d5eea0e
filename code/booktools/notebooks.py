"""Reader notebooks: each chapter as a notebook that runs outside the build.

A chapter's source (``chapters/NN_name.md``) is MyST for the book build. Its
reader notebook (``_build/html/notebooks/NN_name.ipynb``, published with
the site) is what a student opens on Colab, on Binder or in any Jupyter:

* a first code cell that installs the book's package ``rnnbook`` only when
  it is missing (``pip install git+<repository>@<branch>``, both read from
  ``_config.yml``; the environment variable ``RNNBOOK_SOURCE`` replaces
  that address, as the tests do with the local checkout), uses the
  TensorFlow, Keras and PyTorch it finds, and prints their versions beside
  the ones the book was checked with (the pins of ``requirements.txt``),
  without failing on a difference; a markdown cell before it says so;
* the chapter's code cells unchanged (none may import a build-only package:
  ``glue`` comes from ``rnnbook.display``);
* the text in plain CommonMark (:mod:`booktools.commonmark`), with the
  values, numbers and links of the build, and each figure's caption in a
  markdown cell under the cell that draws it;
* every solution collapsed: a "Solution to Exercise N" heading, collapsed
  in JupyterLab (``jp-MarkdownHeadingCollapsed``) and in Colab
  (``colab.collapsed_sections``), then the answer's code cell with its
  source hidden (``jupyter.source_hidden``; Colab's ``cellView: "form"``
  with a ``# @title``), then its explanation; a "Check your answer" heading
  ends the collapsed section before the check cell.

The build writes them (this module is also a Sphinx extension, listed in
``_config.yml``): at the end of an HTML build it saves the site's index
next to the build and exports every chapter in ``_toc.yml``; on every
chapter page the Colab button opens the reader notebook from the
``gh-pages`` branch (where the site is published) and the download button
offers it. ``python -m booktools.notebooks`` (``make notebooks``) exports
them again from the last build without building.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat

from .assignments import (
    BEGIN,
    CHECK,
    END,
    SOLUTION,
    exercise_parts,
    fresh_code_cell,
    notebook_like,
    read_chapter,
    set_stable_ids,
)
from .commonmark import (
    SITE_INDEX,
    Book,
    BookConfig,
    ConversionError,
    Converter,
)
from .toc import toc_chapters

#: Packages only the book build has; a chapter's code must not import them.
BUILD_ONLY = (
    "docutils",
    "jupyter_book",
    "jupyter_cache",
    "myst_nb",
    "myst_parser",
    "sphinx",
    "sphinx_book_theme",
    "sphinx_design",
    "sphinx_exercise",
    "sphinx_togglebutton",
    "sphinxcontrib",
)

#: The libraries whose versions the first cell prints, by import name.
CHECKED_LIBRARIES = {
    "numpy": "numpy",
    "matplotlib": "matplotlib",
    "tensorflow": "tensorflow",
    "tf_keras": "tf-keras",
    "keras": "keras",
    "torch": "torch",
}

#: The environment variable that replaces the package's address.
SOURCE_VARIABLE = "RNNBOOK_SOURCE"

#: Where the reader notebooks are, in the built site.
NOTEBOOKS = "notebooks"

SETUP_NOTE = """\
**Before you start.** This notebook is the chapter [{title}]({page}) of \
*Outputs versus states*, made to run in Jupyter, on Colab or on Binder. \
The next cell installs the book's small package `rnnbook` when it is \
missing (`pip install {source}`), then lists the versions of the \
libraries it finds beside those the book was checked with. It uses the \
TensorFlow, Keras and PyTorch already installed (on Colab, Colab's own): \
with other versions a printed number may differ in its last digits. Run \
the cells in order from the top. The solutions of the exercises are \
collapsed under their *Solution* heading: try the exercise first."""

SETUP_CODE = '''\
# Install the book's package if it is missing; show the versions found.
import importlib
import importlib.metadata
import importlib.util
import os
import site
import subprocess
import sys

BOOK_PACKAGE = "{source}"
if importlib.util.find_spec("rnnbook") is None:
    source = os.environ.get("{variable}", BOOK_PACKAGE)
    print("Installing the book's package rnnbook ...")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", source],
        check=True,
    )
    if os.path.isdir(site.getusersitepackages()):  # a --user install
        site.addsitedir(site.getusersitepackages())
    importlib.invalidate_caches()
import rnnbook

CHECKED_WITH = {pins}
for name, checked in CHECKED_WITH.items():
    try:
        found = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        found = "missing"
    note = "" if found == checked else "  <- not the version checked"
    print(f"{{name:12}} {{found:14}} (book checked with {{checked}}){{note}}")
'''


class ReaderError(ConversionError):
    """A chapter that cannot become a reader notebook."""


# --------------------------------------------------------------------------
# The first cells


def pins(root: str | Path) -> dict[str, str]:
    """``{distribution: version}`` of every ``name==version`` line of
    ``requirements.txt``, names normalised (``tf_keras`` -> ``tf-keras``)."""
    found = {}
    for line in (Path(root) / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version
    return found


def imported_modules(source: str) -> set[str]:
    """Top-level names of the modules a code cell imports."""
    lines = [
        line
        for line in source.splitlines()
        if not line.lstrip().startswith(("%", "!"))
    ]
    names = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def libraries_used(notebook, root) -> dict[str, str]:
    """The pins of the libraries the chapter imports (tf-keras too when it
    sets ``TF_USE_LEGACY_KERAS``), in a fixed order."""
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    used = set().union(*(imported_modules(s) for s in code))
    if any("TF_USE_LEGACY_KERAS" in s for s in code):
        used.add("tf_keras")
    pinned = pins(root)
    return {
        dist: pinned[dist]
        for module, dist in CHECKED_LIBRARIES.items()
        if module in used and dist in pinned
    }


def install_source(config: BookConfig) -> str:
    """What the first cell gives pip: the repository at its branch."""
    return f"git+{config.repository}@{config.branch}"


def setup_cells(notebook, book: Book, docname: str, root) -> list:
    """The note and the code cell that start a reader notebook."""
    source = install_source(book.config)
    title = book.site.titles.get(docname, docname)
    note = SETUP_NOTE.format(
        title=title, page=book.site.url(docname), source=source
    )
    checked = libraries_used(notebook, root)
    code = SETUP_CODE.format(
        variable=SOURCE_VARIABLE, source=source, pins=_dict_literal(checked)
    )
    return [
        nbformat.v4.new_markdown_cell(note),
        nbformat.v4.new_code_cell(code.rstrip("\n")),
    ]


def _dict_literal(values: dict[str, str]) -> str:
    if not values:
        return "{}"
    items = "".join(f'    "{k}": "{v}",\n' for k, v in values.items())
    return "{\n" + items + "}"


# --------------------------------------------------------------------------
# Code cells


def check_no_build_imports(cell, chapter: str, number: int) -> None:
    """Stop on a code cell that imports a package only the build has."""
    try:
        modules = imported_modules(cell.source)
    except SyntaxError:
        return  # the run itself reports it
    build_only = sorted(modules & set(BUILD_ONLY))
    if build_only:
        raise ReaderError(
            f"{chapter}, code cell {number}: imports {build_only}, which "
            "only the book build has (a student's Jupyter or Colab does "
            "not): use `from rnnbook.display import glue`"
        )


def reader_code_cell(cell) -> nbformat.NotebookNode:
    """A chapter's code cell for readers: no outputs, the build's
    metadata (``mystnb``) dropped, ``hide-input`` and ``remove-output``
    turned into Jupyter's own hidden source and outputs."""
    new = fresh_code_cell(cell)
    new.metadata.pop("mystnb", None)
    tags = new.metadata.get("tags", [])
    if "hide-input" in tags:
        new.metadata.setdefault("jupyter", {})["source_hidden"] = True
        new.metadata["cellView"] = "form"
    if "remove-output" in tags:  # JupyterLab 4 reads "collapsed"
        new.metadata.setdefault("jupyter", {})["outputs_hidden"] = True
        new.metadata["collapsed"] = True
    return new


def figure_caption_cell(cell, convert: Converter):
    """The numbered caption of a figure drawn by ``cell`` (from its
    ``mystnb.figure`` metadata), as a markdown cell; None if it has none."""
    figure = cell.metadata.get("mystnb", {}).get("figure", {})
    caption = " ".join(str(figure.get("caption", "")).split())
    if not caption:
        return None
    name = figure.get("name", "")
    site = convert.book.site
    number = f"**{site.number_text(name)}.** " if name in site.numbers else ""
    return nbformat.v4.new_markdown_cell(number + convert.inline(caption))


# --------------------------------------------------------------------------
# Solutions, collapsed


def heading_cell(level: int, text: str, collapsed: bool):
    """A markdown heading; ``collapsed`` folds its section in JupyterLab
    (and, by the notebook's ``colab.collapsed_sections``, in Colab)."""
    cell = nbformat.v4.new_markdown_cell("#" * min(level, 6) + " " + text)
    if collapsed:
        cell.metadata["jp-MarkdownHeadingCollapsed"] = True
    return cell


def hidden_solution_cell(cell, title: str) -> nbformat.NotebookNode:
    """An answer's code cell, its source hidden in JupyterLab and Colab."""
    new = reader_code_cell(cell)
    answer = [
        line
        for line in new.source.splitlines()
        if line.strip() not in (BEGIN, END)
    ]
    new.source = "\n".join([f"# @title {title}", *answer])
    new.metadata.setdefault("jupyter", {})["source_hidden"] = True
    new.metadata["cellView"] = "form"
    return new


class _ReaderBuilder:
    """Assembles a reader notebook from a chapter's parts."""

    def __init__(self, book: Book, docname: str, chapter: str):
        self.convert = Converter(book, docname, chapter)
        self.chapter = chapter
        self.cells: list = []
        self.opened: set[tuple[str, str]] = set()  # (label, section)

    def exercise_name(self, label: str) -> str:
        site = self.convert.book.site
        return site.number_text(label) if label in site.numbers else label

    def section(self, label: str, role: str) -> None:
        """Open the collapsed solution, or the check, of ``label`` once."""
        if (label, role) in self.opened:
            return
        self.opened.add((label, role))
        level = self.convert.section_level + 2
        name = self.exercise_name(label)
        if role == SOLUTION:
            self.cells.append(
                heading_cell(level, f"Solution to {name}", collapsed=True)
            )
        else:
            self.cells.append(
                heading_cell(level, f"Check your answer ({name})", False)
            )

    def add(self, part, number: int) -> None:
        cell = part.cell
        if part.role in (SOLUTION, CHECK):
            self.section(part.label, part.role)
        if cell.cell_type == "code":
            check_no_build_imports(cell, self.chapter, number)
            self.add_code(part)
        elif cell.cell_type == "markdown":
            text = self.convert.markdown(cell.source)
            if text.strip():
                new = copy.deepcopy(cell)
                new.source = text
                self.cells.append(new)
        else:
            self.cells.append(copy.deepcopy(cell))

    def add_code(self, part) -> None:
        if part.role == SOLUTION:
            title = f"Solution to {self.exercise_name(part.label)}"
            self.cells.append(hidden_solution_cell(part.cell, title))
        else:
            self.cells.append(reader_code_cell(part.cell))
        caption = figure_caption_cell(part.cell, self.convert)
        if caption is not None:
            self.cells.append(caption)


def split_title(notebook) -> None:
    """Put the chapter's ``# Title`` line in a cell of its own."""
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "markdown":
        return
    title, _, rest = first.source.partition("\n")
    if title.startswith("# ") and rest.strip():
        first.source = title
        notebook.cells.insert(1, nbformat.v4.new_markdown_cell(rest.strip()))


def collapse_in_colab(notebook) -> None:
    """List the collapsed headings in Colab's notebook metadata (Colab
    names cells by ``metadata.id``)."""
    collapsed = []
    for cell in notebook.cells:
        if cell.metadata.get("jp-MarkdownHeadingCollapsed"):
            cell.metadata["id"] = cell["id"]
            collapsed.append(cell["id"])
    notebook.metadata["colab"] = {
        "provenance": [],
        "collapsed_sections": collapsed,
    }


def reader_notebook(md: str | Path, root: str | Path, book: Book):
    """The reader notebook of the chapter ``md`` (under ``root``)."""
    md, root = Path(md), Path(root)
    chapter = md.relative_to(root).as_posix()
    docname = chapter.rsplit(".", 1)[0]
    source = read_chapter(md)
    split_title(source)
    parts, _ = exercise_parts(source, chapter)
    builder = _ReaderBuilder(book, docname, chapter)
    for number, part in enumerate(parts, start=1):
        builder.add(part, number)
        if number == 1:
            builder.cells += setup_cells(source, book, docname, root)
    out = notebook_like(source, builder.cells)
    out.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    out.metadata["language_info"] = {"name": "python"}
    set_stable_ids(out)
    collapse_in_colab(out)
    nbformat.validate(out)
    return out


def export_reader_notebooks(
    root: str | Path, book: Book, outdir: str | Path
) -> list[Path]:
    """Write the reader notebook of every chapter in ``_toc.yml`` into
    ``outdir`` (all are made before any is written); return the paths."""
    root, outdir = Path(root), Path(outdir)
    made = [(md, reader_notebook(md, root, book)) for md in toc_chapters(root)]
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for md, notebook in made:
        path = outdir / f"{md.stem}.ipynb"
        nbformat.write(notebook, path)
        written.append(path)
    return written


# --------------------------------------------------------------------------
# The site: buttons, and the export at the end of the build


def colab_url(config: BookConfig, colab: str, stem: str) -> str:
    """Colab's address of a reader notebook in the published site."""
    return (
        f"{colab.rstrip('/')}/github/{config.org_repo}/blob/"
        f"{BookConfig.PAGES_BRANCH}/{NOTEBOOKS}/{stem}.ipynb"
    )


def _chapter_docnames(srcdir) -> set[str]:
    root = Path(srcdir)
    return {
        md.relative_to(root).with_suffix("").as_posix()
        for md in toc_chapters(root)
    }


def point_buttons_at_reader_notebooks(
    app, pagename, templatename, context, doctree
) -> None:
    """On a chapter page, Colab opens and the download button offers the
    reader notebook (run after sphinx-book-theme made the buttons)."""
    if pagename not in _chapter_docnames(app.srcdir):
        return
    config = BookConfig.read(app.srcdir)
    stem = Path(pagename).name
    launch = app.config.html_theme_options.get("launch_buttons", {})
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                button["url"] = colab_url(config, launch["colab_url"], stem)
                button["tooltip"] = "Open the reader notebook in Colab"
            if button.get("label") == "download-notebook-button":
                button["url"] = context["pathto"](
                    f"{NOTEBOOKS}/{stem}.ipynb", 1
                )
                button["tooltip"] = "Download the reader notebook"


def write_reader_notebooks(app, exception) -> None:
    """At the end of an HTML build: save the site's index and export the
    reader notebooks into the site (``notebooks/``)."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    book = Book.from_env(app.srcdir, app.env, outdir.parent)
    (outdir.parent / SITE_INDEX).write_text(book.site.to_json())
    export_reader_notebooks(app.srcdir, book, outdir / NOTEBOOKS)


def setup(app):
    """The Sphinx extension (``sphinx.local_extensions`` in _config.yml)."""
    app.connect(
        "html-page-context", point_buttons_at_reader_notebooks, priority=502
    )
    app.connect("build-finished", write_reader_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booktools.notebooks",
        description="Export the reader notebook of every chapter in "
        "_toc.yml from the last build (its values, numbers and links).",
    )
    parser.add_argument("--root", default=".", help="the book's root")
    parser.add_argument(
        "--build", help="the finished build (default: ROOT/_build)"
    )
    parser.add_argument(
        "--out", help="where to write (default: BUILD/html/notebooks)"
    )
    args = parser.parse_args(argv)
    build = Path(args.build or Path(args.root) / "_build")
    out = Path(args.out or build / "html" / NOTEBOOKS)
    try:
        book = Book.from_build(args.root, build)
        written = export_reader_notebooks(args.root, book, out)
    except ConversionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} reader notebooks into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
