"""The reader notebooks (``booktools.notebooks``) and the Binder environment.

Three parts:

(a) the MyST-to-CommonMark converter (``booktools.commonmark``) on small
    synthetic texts: every construct the chapters use, and the errors;
(b) every chapter in _toc.yml as a reader notebook and as a student
    notebook, executed in one kernel run (``student_with_answers``) where
    the book build's packages cannot be imported (a meta-path finder
    installed by a ``.pth`` file of the kernel's own environment blocks
    them at start-up) and the book's package is not installed until the
    reader notebook's first cell installs it, from a copy of this checkout
    (``RNNBOOK_SOURCE``) instead of the repository's URL. The student
    notebook runs cell by cell as a student runs it: every check must fail
    on its stub and every other cell must run. After each exercise's check
    the reader's answer and the check run too, and must pass; then the
    stub is put back. So every code cell of the reader notebook runs, and
    its asserts prove the chapter's claims without the build's packages.
    The glue values the run computes are then put into the text, and no
    markdown cell of the reader or of the student notebook may hold MyST
    syntax, checked with the MyST parser (roles and directives are their
    own tokens there);
(c) binder/requirements.txt: exactly what running the chapters needs,
    pinned as in requirements.txt, with no test or documentation tool.

Layout for pytest-xdist (``--dist loadscope``): part (b) is one class per
chapter, so the runs spread over both workers; each worker makes the
kernel's environment once (a session fixture). One run per chapter instead
of a reader run and a student run halved what part (b) costs.
"""

from __future__ import annotations

import ast
import json
import os
import re
import textwrap
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import jupytext
import nbformat
import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from booktools import assignments as A
from booktools import commonmark as C
from booktools import notebooks as N
from reader_kernel import (
    ReaderKernel,
    checks_passing_on_stubs,
    other_cells_failing,
)
from toc import ROOT

CHAPTERS = A.toc_chapters(ROOT)
CONFIG = C.BookConfig.read(ROOT)

#: What a MyST-free markdown cell must not contain, as the MyST parser
#: sees it (token type -> what it is).
MYST_TOKENS = {
    "myst_role": "a role",
    "myst_target": "a (label)= target",
    "myst_line_comment": "a % comment",
    "colon_fence": "a ::: directive",
    "substitution_inline": "a substitution",
    "substitution_block": "a substitution",
}


# --------------------------------------------------------------------------
# The parser-based check, written here independently of the converter


def _myst_parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    extensions = set(CONFIG.extensions) | {"colon_fence", "substitution"}
    return create_md_parser(
        MdParserConfig(enable_extensions=extensions), RendererHTML
    )


PARSER = _myst_parser()


def myst_syntax(markdown: str) -> list[str]:
    """Every MyST-only construct the MyST parser finds in ``markdown``."""
    found = []
    stack = list(PARSER.parse(markdown))
    while stack:
        token = stack.pop()
        if token.type in MYST_TOKENS:
            name = token.meta.get("name", token.info.strip())
            found.append(f"{MYST_TOKENS[token.type]} {name}".strip())
        elif token.type == "fence" and token.info.startswith("{"):
            found.append(f"a ``` directive {token.info.split()[0]}")
        stack.extend(token.children or [])
    return found


def markdown_cells_with_myst(notebook) -> list[str]:
    return [
        f"cell {i}: {found}: {cell.source[:120]!r}"
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown" and (found := myst_syntax(cell.source))
    ]


def test_the_check_finds_every_construct_the_issue_names():
    for text in (
        "{glue:text}`x:.3f`",
        ":::{note}\nA note.\n:::",
        "See {term}`padding`.",
        "{cite:p}`elman1990`",
        "{ref}`sec-x`",
        "```{glue:md} x\n```",
        "(sec-x)=\n# Title",
        "- in a list, {doc}`03_x`",
    ):
        assert myst_syntax(text), text
    plain = "A `{term}` in code, $x_1$, **bold**, [a](b), | a |\n|---|"
    assert myst_syntax(plain) == []


# --------------------------------------------------------------------------
# (a) The converter on synthetic text

BASE = "https://example.org/book/"


def synthetic_book(glue=None) -> C.Book:
    site = C.SiteIndex(
        base_url=BASE,
        titles={"chapters/01_a": "First: `a` chapter", "intro": "Intro"},
        labels={
            "fig-01": ("chapters/01_a", "fig-01", "A caption"),
            "sec-pad": ("chapters/01_a", "sec-pad", "Padding, in short"),
            "ex-01-one": ("chapters/01_a", "ex-01-one", "Exercise"),
        },
        numbers={"fig-01": ("figure", "3"), "ex-01-one": ("exercise", "7")},
        numfig_format={"figure": "Fig. %s", "exercise": "Exercise %s"},
        terms={
            "padding": ("appendix/glossary", "term-padding"),
            "h_n": ("appendix/glossary", "term-h_n"),
        },
        citations={
            "elman1990": C.Citation("Elman", "1990", "refs", "id1"),
            "cho2014": C.Citation("Cho et al.", "2014", "refs", "id2"),
        },
    )
    config = C.BookConfig(
        repository="https://github.com/org/repo",
        branch="main",
        site_url=BASE,
        macros={"R": "\\mathbb{R}"},
        extensions=CONFIG.extensions,
    )
    book = C.Book(config, site)
    book.glue["chapters/01_a"] = glue or {
        "gap": {"text/plain": "0.123456"},
        "n": {"text/plain": "3"},
        "name": {"text/plain": "'h_n'"},
        "table": {"text/markdown": "| a | {term}`padding` |\n|---|---|"},
        "fig": {"text/plain": "<Figure>", "image/png": "iVBORw0KGgo="},
    }
    return book


def convert(text: str, book=None) -> str:
    converter = C.Converter(book or synthetic_book(), "chapters/01_a")
    return converter.markdown(textwrap.dedent(text).strip("\n"))


def test_glue_values_are_formatted_as_on_the_site():
    out = convert(
        "Off by {glue:text}`gap:.3f`, {glue:text}`n` rows, {glue}`name`."
    )
    assert out == "Off by 0.123, 3 rows, h\\_n."


def test_glue_markdown_and_figure_become_the_markdown_and_the_image():
    out = convert("""
    ```{glue:md} table
    :format: myst
    ```

    ```{glue:figure} fig
    :name: fig-01

    The outputs and $h_n$.
    ```
    """)
    assert (
        f"| a | [padding]({BASE}appendix/glossary.html#term-padding) |" in out
    )
    assert (
        "![The outputs and h\\_n.](data:image/png;base64,iVBORw0KGgo=)" in out
    )
    assert "**Fig. 3.** The outputs and $h_n$." in out


def test_terms_pages_sections_figures_and_equations_become_links():
    out = convert(
        "{term}`Padding <padding>` and {term}`h_n`; {doc}`01_a`, "
        "{doc}`the first <01_a>`, {ref}`sec-pad`, {numref}`fig-01`, "
        "{numref}`Figure %s <fig-01>`."
    )
    glossary = f"{BASE}appendix/glossary.html"
    page = f"{BASE}chapters/01_a.html"
    assert out == (
        f"[Padding]({glossary}#term-padding) and "
        f"[h\\_n]({glossary}#term-h_n); "
        f"[First: \\`a\\` chapter]({page}), [the first]({page}), "
        f"[Padding, in short]({page}#sec-pad), [Fig. 3]({page}#fig-01), "
        f"[Figure 3]({page}#fig-01)."
    )


def test_citations_read_author_year_and_link_to_the_references():
    out = convert("{cite:t}`elman1990` and {cite:p}`elman1990,cho2014`.")
    assert out == (
        f"[Elman (1990)]({BASE}refs.html#id1) and "
        f"([Elman, 1990]({BASE}refs.html#id1); "
        f"[Cho et al., 2014]({BASE}refs.html#id2))."
    )


def test_tabs_become_sections_and_admonitions_quotes():
    out = convert("""
    ## Shapes

    ::::{tab-set}
    :::{tab-item} Keras
    :sync: keras
    Keras text.
    :::
    :::{tab-item} PyTorch
    PyTorch text.
    :::
    ::::

    :::{warning}
    Mind the {term}`padding`.

    Second paragraph.
    :::

    :::{admonition} On GPUs
    cuDNN.
    :::
    """)
    assert "### Keras\n\nKeras text.\n\n### PyTorch\n\nPyTorch text." in out
    assert (
        "> **Warning**\n>\n> Mind the "
        f"[padding]({BASE}appendix/glossary.html#term-padding).\n>\n"
        "> Second paragraph." in out
    )
    assert "> **On GPUs**\n>\n> cuDNN." in out


def test_targets_comments_exercises_and_macros():
    out = convert("""
    (sec-x)=
    ## Exercises

    % a comment for authors

    :::{exercise} Try it
    :label: ex-01-one
    Show that $x \\in \\R^n$, not `\\R`.
    :::
    """)
    assert out == (
        "## Exercises\n\n\n### Exercise 7 (Try it)\n\n"
        "Show that $x \\in \\mathbb{R}^n$, not `\\R`."
    )


def test_code_spans_and_fences_are_left_alone():
    text = "Write `{term}` or ``a `{doc}` b``.\n\n```python\n{term}`x`\n```"
    assert convert(text) == text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{kbd2}`x`", "the role {kbd2}"),
        (":::{card}\nx\n:::", "the directive {card}"),
        ("{glue:text}`missing`", "no glue value 'missing'"),
        ("{term}`nothing`", "no glossary entry"),
        ("{ref}`sec-none`", "no label 'sec-none'"),
        ("{cite:p}`nobody2000`", "['nobody2000'] not in references.bib"),
        ("- item {term}`padding`\n\n  :::{note}\n  x\n  :::", "not converted"),
    ],
)
def test_what_cannot_be_converted_stops_with_the_chapter_and_construct(
    text, expected
):
    with pytest.raises(C.ConversionError) as error:
        convert(text)
    assert str(error.value).startswith("chapters/01_a.md: ")
    assert expected in str(error.value)


def test_the_site_index_survives_json():
    site = synthetic_book().site
    again = C.SiteIndex.from_json(site.to_json(), BASE)
    assert again == site


def test_pages_url_follows_the_repository():
    assert C.pages_url("https://github.com/Org/repo") == (
        "https://org.github.io/repo/"
    )
    assert C.pages_url("https://github.com/org/org.github.io") == (
        "https://org.github.io/"
    )
    with pytest.raises(ValueError, match="GitHub address"):
        C.pages_url("https://gitlab.com/org/repo")


def test_colab_opens_the_reader_notebook_on_the_pages_branch():
    config = synthetic_book().config
    assert N.colab_url(
        config, "https://colab.research.google.com/", "03_x"
    ) == (
        "https://colab.research.google.com/github/org/repo/blob/"
        "gh-pages/notebooks/03_x.ipynb"
    )


# --------------------------------------------------------------------------
# (a) A synthetic chapter as a reader notebook

CHAPTER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter

Text with {glue:text}`n`.

```{code-cell} ipython3
import numpy as np
from rnnbook.display import glue

glue("n", 3, display=False)
```

```{code-cell} ipython3
---
mystnb:
  figure:
    caption: The outputs and {term}`padding`.
    name: fig-01
tags: [hide-input]
---
x = 1
```

## Exercises

:::{exercise} Try it
:label: ex-01-one
Set `answer`.
:::

:::{solution-start} ex-01-one
:class: dropdown
:::

```{code-cell} ipython3
### BEGIN SOLUTION
answer = 42
### END SOLUTION
```

Forty-two, of course.

:::{solution-end}
:::

```{code-cell} ipython3
:tags: [check]

assert answer == 42
```
"""


@pytest.fixture()
def synthetic_reader(tmp_path):
    (tmp_path / "chapters").mkdir()
    md = tmp_path / "chapters" / "01_a.md"
    md.write_text(CHAPTER)
    (tmp_path / "requirements.txt").write_text("numpy==2.4.6\ntorch==2\n")
    return N.reader_notebook(md, tmp_path, synthetic_book())


def test_the_first_cells_say_and_do_the_install(synthetic_reader):
    title, note, setup = synthetic_reader.cells[:3]
    assert title.source == "# A chapter"
    assert "`pip install git+https://github.com/org/repo@main`" in note.source
    assert setup.cell_type == "code"
    assert (
        'BOOK_PACKAGE = "git+https://github.com/org/repo@main"' in setup.source
    )
    assert 'os.environ.get("RNNBOOK_SOURCE", BOOK_PACKAGE)' in setup.source
    # only the libraries the chapter imports, with the pins
    assert '"numpy": "2.4.6"' in setup.source and "torch" not in setup.source
    assert all(len(line) <= 79 for line in setup.source.splitlines())


def test_the_solution_is_collapsed_and_the_rest_runs_as_written(
    synthetic_reader,
):
    cells = synthetic_reader.cells
    sources = [c.source for c in cells]
    heading = sources.index("#### Solution to Exercise 7")
    assert cells[heading].metadata["jp-MarkdownHeadingCollapsed"] is True
    assert synthetic_reader.metadata["colab"]["collapsed_sections"] == [
        cells[heading].metadata["id"]
    ]
    answer = cells[heading + 1]
    assert answer.source == "# @title Solution to Exercise 7\nanswer = 42"
    assert answer.metadata["jupyter"]["source_hidden"] is True
    assert answer.metadata["cellView"] == "form"
    assert sources[heading + 2] == "Forty-two, of course."
    assert sources[heading + 3] == "#### Check your answer (Exercise 7)"
    assert "jp-MarkdownHeadingCollapsed" not in cells[heading + 3].metadata
    assert sources[heading + 4] == "assert answer == 42"
    figure = sources.index("x = 1")
    assert cells[figure].metadata["jupyter"]["source_hidden"] is True
    assert "mystnb" not in cells[figure].metadata
    assert sources[figure + 1] == (
        f"**Fig. 3.** The outputs and [padding]({BASE}appendix/glossary"
        ".html#term-padding)."
    )
    assert "Text with 3." in sources
    assert markdown_cells_with_myst(synthetic_reader) == []
    assert "jupytext" not in synthetic_reader.metadata
    nbformat.validate(synthetic_reader)


def test_a_build_only_import_stops_the_export(tmp_path):
    (tmp_path / "chapters").mkdir()
    md = tmp_path / "chapters" / "01_a.md"
    md.write_text(CHAPTER.replace("from rnnbook.display", "from myst_nb"))
    (tmp_path / "requirements.txt").write_text("")
    with pytest.raises(
        C.ConversionError,
        match="chapters/01_a.md, code "
        r"cell \d+: imports \['myst_nb'\]",
    ):
        N.reader_notebook(md, tmp_path, synthetic_book())


# --------------------------------------------------------------------------
# (b) Every chapter, run in a kernel without the build's packages

GLUE_DUMP = """\
import json
from IPython.core.formatters import format_display_data
from rnnbook.display import GLUED
print(json.dumps({k: format_display_data(v)[0] for k, v in GLUED.items()}))
"""


@pytest.fixture(scope="session")
def kernel(tmp_path_factory):
    """The environment, and the first cell's install, once per worker."""
    made = ReaderKernel(tmp_path_factory.mktemp("reader-kernel"))
    first = synthetic_chapter_setup()
    ran = made.run(first)
    output = stream_text(ran.cells[1])
    assert "Installing the book's package rnnbook" in output, output
    assert (made.site / "rnnbook" / "__init__.py").exists()
    return made


def synthetic_chapter_setup():
    """The note, the first cell, and probes of the kernel."""
    book = synthetic_book()
    uses_numpy = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import numpy")]
    )
    cells = N.setup_cells(uses_numpy, book, "intro", ROOT)
    cells.append(
        nbformat.v4.new_code_cell(
            textwrap.dedent("""\
        import importlib.util
        for name in ("myst_nb", "sphinx", "jupyter_book", "docutils"):
            try:
                __import__(name)
            except ModuleNotFoundError as error:
                assert "blocked" in str(error)
            else:
                raise AssertionError(f"{name} can be imported")
        import rnnbook.display
        assert rnnbook.display._myst_nb_glue() is None
        print(rnnbook.__file__)
        """)
        )
    )
    notebook = nbformat.v4.new_notebook(cells=cells)
    return notebook


def stream_text(cell) -> str:
    return "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def test_the_first_cell_installs_only_when_missing(kernel):
    again = kernel.run(synthetic_chapter_setup())
    setup_output = stream_text(again.cells[1])
    assert "Installing" not in setup_output
    assert re.search(r"numpy\s+\S+\s+\(book checked with", setup_output)
    assert str(kernel.site) in stream_text(again.cells[-1])


def first_error(executed) -> str | None:
    for i, cell in enumerate(executed.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                trace = "\n".join(output.get("traceback", []))
                trace = re.sub(r"\x1b\[[0-9;]*m", "", trace)
                return f"cell {i}:\n{cell.source}\n{trace[-3000:]}"
    return None


def captured_glue(executed) -> dict:
    return json.loads(stream_text(executed.cells[-1]).strip().splitlines()[-1])


class StandInGlue(dict):
    """Any glue name, before the run has computed the real values."""

    def __missing__(self, name):
        return {
            "text/plain": "0",
            "text/markdown": "x",
            "image/png": "iVBORw0KGgo=",
        }

    def __contains__(self, name):
        return True


class AnySite(C.SiteIndex):
    """A site index that resolves every label: the links of a test run
    point nowhere; what is checked is that nothing is left as MyST."""

    def __init__(self, real: C.SiteIndex):
        self.__dict__.update(real.__dict__)
        for name in (
            "labels",
            "numbers",
            "terms",
            "citations",
            "titles",
            "equations",
        ):
            setattr(self, name, _Anything(name))


class _Anything(dict):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def __contains__(self, key):
        return True

    def get(self, key, default=None):
        return self[key]

    def __missing__(self, key):
        if self.kind in ("labels",):
            return ("page", key, "a title")
        if self.kind in ("terms", "equations"):
            return ("page", key)
        if self.kind == "numbers":
            return ("figure", "1")
        if self.kind == "citations":
            return C.Citation("Someone", "2000", "page", key)
        return "a title"


def book_for_tests(glue_by_doc) -> C.Book:
    book = C.Book(CONFIG, AnySite(C.SiteIndex(CONFIG.site_url)))
    book.glue = glue_by_doc
    return book


#: How a reader notebook's hidden solution cell starts (Colab's form title).
SOLUTION_TITLE = "# @title Solution to "


def bound_names(sources) -> list[str]:
    """The names the top-level statements of ``sources`` bind (a ``def``
    or ``class`` binds its name; what its body binds stays inside it)."""
    names = []
    for source in sources:
        for statement in ast.parse(source).body:
            if isinstance(
                statement,
                (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef),
            ):
                names.append(statement.name)
            elif isinstance(statement, (ast.Import, ast.ImportFrom)):
                names += [
                    (a.asname or a.name).partition(".")[0]
                    for a in statement.names
                ]
            else:
                names += [
                    node.id
                    for node in ast.walk(statement)
                    if isinstance(node, ast.Name)
                    and isinstance(node.ctx, ast.Store)
                ]
    return sorted(set(names))


SAVE = (
    "_saved_by_test = {{n: globals()[n] for n in {names!r} if n in globals()}}"
)
RESTORE = (
    "for _name in {names!r}:\n"
    "    globals().pop(_name, None)\n"
    "globals().update(_saved_by_test)\n"
    'globals().pop("_name", None)\n'
    "del _saved_by_test"
)


def student_with_answers(reader, md, name):
    """One notebook for one kernel run of a chapter: the reader notebook's
    set-up cell (it installs the book's package), then the student
    notebook, where after each exercise's check the reader's answer and the
    same check run too, between a cell that saves what the answer will
    rebind and one that puts it back (the student's stubs, no answer).
    Last, :data:`GLUE_DUMP`.

    The student notebook's cells run in order, as a student runs them,
    each in the state a student has. The reader's cells are the same code
    with the answers in their places, so the whole reader notebook runs
    too: one kernel start and one pass over the chapter instead of two.
    Returns the notebook, the student notebook and its exercises, and
    where in the run the student's cells and the reader's are."""
    chapter = A.read_chapter(md)
    student, exercises = A.student_notebook(chapter, name)
    answers, answer_exercises = A.student_notebook(chapter, name, True)
    codes = [i for i, c in enumerate(reader.cells) if c.cell_type == "code"]
    cells = [*reader.cells[: codes[0] + 1]]
    at = {"reader": list(range(len(cells))), "student": []}
    after = {max(e.check_cells): k for k, e in enumerate(exercises)}
    for i, cell in enumerate(student.cells):
        at["student"].append(len(cells))
        cells.append(cell)
        if i not in after:
            continue
        answer = answer_exercises[after[i]]
        names = bound_names(
            answers.cells[j].source for j in answer.solution_cells
        )
        cells.append(nbformat.v4.new_code_cell(SAVE.format(names=names)))
        for j in sorted(answer.solution_cells + answer.check_cells):
            at["reader"].append(len(cells))
            cells.append(answers.cells[j])
        cells.append(nbformat.v4.new_code_cell(RESTORE.format(names=names)))
    cells.append(nbformat.v4.new_code_cell(GLUE_DUMP))
    merged = nbformat.v4.new_notebook(metadata=reader.metadata)
    merged.cells = cells
    merged = nbformat.from_dict(json.loads(json.dumps(merged)))
    return merged, student, exercises, at


def student_view(executed, student, at):
    """The student notebook with the outputs of its cells in the run."""
    view = nbformat.from_dict(json.loads(json.dumps(student)))
    view.cells = [executed.cells[i] for i in at["student"]]
    return view


def reader_view(executed, exercises, at):
    """The cells of the run that make up the reader notebook: the set-up
    cell, the student's cells other than stubs and checks, and the
    reader's answers and checks."""
    stubs = {i for e in exercises for i in e.solution_cells + e.check_cells}
    chapter = [k for i, k in enumerate(at["student"]) if i not in stubs]
    view = nbformat.v4.new_notebook()
    view.cells = [executed.cells[k] for k in sorted([*at["reader"], *chapter])]
    return view


@dataclass
class Ran:
    """One chapter's run (:func:`student_with_answers`), seen three ways."""

    reader_part: object  # the executed cells that make up the reader notebook
    reader: object  # the reader notebook, unexecuted
    student_part: object  # the student notebook with its executed cells
    exercises: list
    executed: object  # the whole run


@pytest.fixture(scope="class")
def run(request, kernel):
    """The class's chapter: its reader notebook (glue values stood in for:
    the code is the same) and its student notebook, run once together
    (:func:`student_with_answers`), errors allowed (the stubs raise);
    a :class:`Ran`."""
    md = request.cls.chapter
    name = md.relative_to(ROOT).as_posix()
    docname = name.removesuffix(".md")
    stand_in = book_for_tests({docname: StandInGlue()})
    reader = N.reader_notebook(md, ROOT, stand_in)
    try:
        merged, student, exercises, at = student_with_answers(reader, md, name)
    except A.AssignmentError as error:
        pytest.fail(
            f"the exercises of {name} break the course format: {error}"
        )
    try:
        executed = kernel.run(merged, allow_errors=True)
    except Exception as error:  # nbclient's CellExecutionError, a timeout
        pytest.fail(
            f"{name}: the run of its notebooks failed:\n{error}"[:6000]
        )
    return Ran(
        reader_view(executed, exercises, at),
        reader,
        student_view(executed, student, at),
        exercises,
        executed,
    )


def test_one_run_gives_the_student_and_the_reader_verdicts(kernel, tmp_path):
    """:func:`student_with_answers` on a synthetic chapter: the student's
    stale check and the cell that needs an answer are found (the answer is
    put back to the stub after the reader's check), and every reader
    answer passes its check."""
    from test_assignments import EXERCISE_IN_DEF, VACUOUS

    (tmp_path / "chapters").mkdir()
    (tmp_path / "requirements.txt").write_text("")
    md = tmp_path / "chapters" / "99_a.md"
    front = CHAPTER.split("# A chapter")[0]
    md.write_text(front + EXERCISE_IN_DEF + VACUOUS)
    name = "chapters/99_a.md"
    reader = N.reader_notebook(md, tmp_path, book_for_tests({}))
    merged, student, exercises, at = student_with_answers(reader, md, name)
    executed = kernel.run(merged, allow_errors=True)
    view = student_view(executed, student, at)
    assert checks_passing_on_stubs(view, exercises) == ["ex-99-stale"]
    failing = other_cells_failing(view, exercises)
    assert len(failing) == 1 and "ex-99-last" in failing[0], failing
    answered = [A.cell_error(executed.cells[k]) for k in at["reader"]]
    assert len(answered) > 4 and answered == [None] * len(answered)


def _reader_run_class(md):
    name = md.relative_to(ROOT).as_posix()
    docname = name.removesuffix(".md")

    class ChapterRun:
        chapter = md

        def test_runs_top_to_bottom_without_the_build(self, run):
            error = first_error(run.reader_part)
            assert error is None, error

        def test_markdown_has_no_myst_with_the_computed_values(self, run):
            executed = run.executed
            book = book_for_tests({docname: captured_glue(executed)})
            reader = N.reader_notebook(md, ROOT, book)
            student, _ = A.student_notebook(
                A.read_chapter(md),
                name,
                False,
                C.Converter(book, docname, name).markdown,
            )
            for kind, notebook in (("reader", reader), ("student", student)):
                left = markdown_cells_with_myst(notebook)
                assert not left, f"{name}, {kind} notebook: {left}"

        def test_markdown_outputs_have_no_myst(self, run):
            executed = run.executed
            left = [
                f"cell {i}: {myst_syntax(''.join(o['data']['text/markdown']))}"
                for i, cell in enumerate(executed.cells)
                for o in cell.get("outputs", [])
                if "text/markdown" in o.get("data", {})
                and myst_syntax("".join(o["data"]["text/markdown"]))
            ]
            assert not left, f"{name}: Markdown outputs with MyST: {left}"

        def test_no_solution_is_visible(self, run):
            notebook = run.reader
            hidden = [
                c
                for c in notebook.cells
                if c.source.startswith(SOLUTION_TITLE)
            ]
            assert hidden and all(
                c.metadata["jupyter"]["source_hidden"] for c in hidden
            )
            assert "BEGIN SOLUTION" not in json.dumps(notebook)

        def test_every_check_fails_on_the_stubs(self, run):
            passing = checks_passing_on_stubs(run.student_part, run.exercises)
            assert not passing, (
                f"{name}: the check of exercise(s) {passing} passes in the "
                "student notebook, where the answer is `raise "
                "NotImplementedError`, so it grades nothing: make it test "
                "the answer (for a top-level answer, use a name not defined "
                "earlier in the chapter)"
            )

        def test_the_rest_of_the_chapter_runs_without_the_answers(self, run):
            failing = other_cells_failing(run.student_part, run.exercises)
            assert not failing, (
                f"{name}: in the student notebook, {failing} raise(s): a "
                "cell outside the exercises must "
                "not need an exercise's answer"
            )

    ChapterRun.__name__ = ChapterRun.__qualname__ = f"TestChapter_{md.stem}"
    return ChapterRun


for _md in CHAPTERS:
    globals()[f"TestChapter_{_md.stem}"] = _reader_run_class(_md)


# --------------------------------------------------------------------------
# (c) The Binder environment

#: Never in Binder: the tools that test or build the book.
TOOLS = re.compile(
    r"^(pytest.*|nbval|playwright|jupyter-book|jupyter-cache|sphinx.*|"
    r"myst-nb|myst-parser|ruff|coverage|execnet|docutils|pybtex.*|"
    r"pydata-sphinx-theme|accessible-pygments|nbgrader)$"
)


def pinned(path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of the ``==`` lines of a file."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            requirement = Requirement(line)
            version = str(requirement.specifier).removeprefix("==")
            found[canonicalize_name(requirement.name)] = version
    return found


BINDER = pinned(ROOT / "binder" / "requirements.txt")
ROOT_PINS = pinned(ROOT / "requirements.txt")


def test_binder_pins_are_the_books_pins():
    drift = {
        name: (version, ROOT_PINS.get(name))
        for name, version in BINDER.items()
        if ROOT_PINS.get(name) != version
    }
    assert not drift, (
        f"binder/requirements.txt differs from requirements.txt "
        f"(binder, root): {drift}"
    )


def test_binder_has_no_test_or_documentation_tool():
    tools = sorted(name for name in BINDER if TOOLS.match(name))
    assert not tools, f"binder/requirements.txt installs {tools}"
    for needed in (
        "jupytext",
        "jupyterlab",
        "jupyterlab-myst",
        "torch",
        "tensorflow",
        "keras",
        "tf-keras",
        "ipykernel",
    ):
        assert needed in BINDER, f"Binder needs {needed}"


def _requirements_of(name: str, extras=frozenset()) -> set[tuple]:
    """The dependencies ``name`` declares, with the extras asked of them
    (``jsonschema[format-nongpl]``), on Python 3.11 Linux, read from the
    installed metadata: ``{(dependency, extras)}``."""
    environment = default_environment() | {
        "python_version": "3.11",
        "sys_platform": "linux",
        "platform_system": "Linux",
    }
    found = set()
    for line in metadata.requires(name) or []:
        requirement = Requirement(line)
        wanted = requirement.marker is None or any(
            requirement.marker.evaluate(environment | {"extra": extra})
            for extra in {"", *extras}
        )
        if wanted:
            found.add(
                (
                    canonicalize_name(requirement.name),
                    frozenset(requirement.extras),
                )
            )
    return found


def test_binder_requirements_resolve_within_themselves():
    """Everything the Binder packages depend on is pinned there too (so
    pip installs nothing unpinned), and nothing is pinned that no Binder
    package needs; read from the installed packages' metadata, offline."""
    direct = {
        "ipykernel",
        "jupytext",
        "jupyterlab",
        "jupyterlab-myst",
        "keras",
        "matplotlib",
        "numpy",
        "onnx",
        "onnxruntime",
        "onnxscript",
        "setuptools",
        "tensorflow",
        "tf-keras",
        "torch",
    }
    needed, missing = set(), {}
    todo = [(name, frozenset()) for name in sorted(direct)]
    seen = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        needed.add(name)
        for dependency, wanted in _requirements_of(name, extras):
            if dependency not in BINDER:
                missing.setdefault(dependency, []).append(name)
            todo.append((dependency, wanted))
    assert not missing, f"unpinned in binder/requirements.txt: {missing}"
    unused = sorted(set(BINDER) - needed)
    assert not unused, f"binder/requirements.txt pins unused {unused}"


def test_binder_runtime_and_post_build():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == (
        "python-3.11"
    )
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK)
    assert re.search(r"pip install .*--no-deps .*\.", post_build.read_text())


def test_chapters_are_jupytext_pairs_binder_can_open():
    """Binder opens chapters/NN_name.ipynb (the launch button's path)."""
    for md in CHAPTERS:
        notebook = jupytext.read(md)
        assert notebook.metadata["kernelspec"]["name"] == "python3"
        assert md.with_suffix(".ipynb").exists()
