"""The student notebooks (``python -m booktools.assignments``) and the proof
that the checks grade.

Three parts:

(a) unit tests of the transformation on small synthetic chapters, and of
    the grader;
(b) for every chapter in _toc.yml: the student notebook holds no solution
    text and has at least three exercises, each with a check cell (cheap:
    no kernel);
(c) the both-ways proof: every chapter's STUDENT notebook is executed and
    every check cell must raise (a check that passes on the stub grades
    nothing), and every other cell must run. The other half, every check
    passing on the reference answers, is the run of the chapter's reader
    notebook, which holds the answers. Both run in one kernel per chapter,
    in tests/test_notebooks.py (see ``student_with_answers`` there);
    this file proves on a synthetic chapter that the two verdicts catch a
    vacuous check and a cell that needs an answer.
"""

from __future__ import annotations

import json
import re
import textwrap

import jupytext
import nbformat
import pytest

from booktools import assignments as A
from booktools.commonmark import SITE_INDEX, SiteIndex
from reader_kernel import checks_passing_on_stubs, other_cells_failing
from toc import ROOT

CHAPTERS = A.toc_chapters(ROOT)


def chapter(text: str) -> nbformat.NotebookNode:
    """A synthetic chapter from MyST Markdown (read as jupytext reads the
    book's chapters)."""
    return jupytext.reads(textwrap.dedent(text), fmt="md:myst")


def sources(notebook) -> str:
    return "\n".join(cell.source for cell in notebook.cells)


EXERCISE_IN_DEF = """
# A chapter

```{code-cell} ipython3
import numpy as np
x = np.arange(6).reshape(2, 3, 1)
```

Some prose that stays.

:::{exercise} Last valid
:label: ex-99-last

Write `last(outputs, lengths)`.
:::

:::{solution-start} ex-99-last
:class: dropdown
:::

```{code-cell} ipython3
def last(outputs, lengths):
    \"\"\"Docstring that stays.\"\"\"
    ### BEGIN SOLUTION
    picked = outputs[np.arange(len(lengths)), np.asarray(lengths) - 1]
    return picked
    ### END SOLUTION
```

Fancy indexing picks one step per row, zebra-unicorn explanation.

:::{solution-end}
:::

```{code-cell} ipython3
:tags: [check]

# Check for exercise ex-99-last
assert last(x, [3, 1]).ravel().tolist() == [2, 3]
```

Text after the exercise stays.
"""


# --------------------------------------------------------------------------
# (a) The transformation on synthetic chapters


def test_markers_inside_a_def_keep_the_def_and_stub_the_body():
    student, exercises = A.student_notebook(
        chapter(EXERCISE_IN_DEF), "synthetic.md"
    )
    text = sources(student)
    assert [e.label for e in exercises] == ["ex-99-last"]
    solution = student.cells[exercises[0].solution_cells[0]]
    assert solution.source == (
        "def last(outputs, lengths):\n"
        '    """Docstring that stays."""\n'
        "    raise NotImplementedError("
        '"Exercise ex-99-last: write your answer here")'
    )
    check = student.cells[exercises[0].check_cells[0]]
    assert check.source.startswith("# Check for exercise ex-99-last")
    assert check.metadata.tags == ["check"]
    assert "picked" not in text and "SOLUTION" not in text
    # the prose of the solution and its directives are gone; the rest stays
    assert (
        "zebra-unicorn" not in text
        and "solution-start" not in text
        and "solution-end" not in text
    )
    for kept in (
        "Some prose that stays.",
        ":label: ex-99-last",
        "Text after the exercise stays.",
        "# A chapter",
    ):
        assert kept in text


def test_nbgrader_metadata_and_no_outputs():
    student, (exercise,) = A.student_notebook(
        chapter(EXERCISE_IN_DEF), "synthetic.md"
    )
    assert student.cells[exercise.solution_cells[0]].metadata.nbgrader == {
        "grade": False,
        "grade_id": "ex-99-last",
        "locked": False,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }
    assert student.cells[exercise.check_cells[0]].metadata.nbgrader == {
        "grade": True,
        "grade_id": "check-ex-99-last",
        "locked": True,
        "points": 1,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    graded = [c for c in student.cells if "nbgrader" in c.metadata]
    assert len(graded) == 2  # no other cell is touched
    assert all(
        c.outputs == [] and c.execution_count is None
        for c in student.cells
        if c.cell_type == "code"
    )
    assert (
        "jupytext" not in student.metadata
    )  # a student's Jupyter must not pair it with a .md
    nbformat.validate(student)


def test_every_other_cell_is_unchanged():
    source = chapter(EXERCISE_IN_DEF)
    student, _ = A.student_notebook(source, "synthetic.md")
    untouched = [
        c.source
        for c in source.cells
        if "SOLUTION" not in c.source and "solution" not in c.source
    ]
    assert untouched  # the import cell, the check cell
    student_sources = [c.source for c in student.cells]
    for text in untouched:
        assert text in student_sources


def test_top_level_markers_and_indentation():
    text = """
    :::{exercise} Two answers
    :label: ex-99-top

    Set `answer` and write `Model.step`.
    :::

    :::{solution-start} ex-99-top
    :class: dropdown
    :::

    ```{code-cell} ipython3
    setup = 1
    ### BEGIN SOLUTION
    answer = setup + 41
    ### END SOLUTION
    class Model:
        def step(self):
            if True:
                ### BEGIN SOLUTION
                return "secret-step"
                ### END SOLUTION
    after = 2
    ```

    :::{solution-end}
    :::

    ```{code-cell} ipython3
    :tags: [check]

    assert answer == 42 and Model().step() == "secret-step"
    ```
    """
    student, (exercise,) = A.student_notebook(chapter(text), "synthetic.md")
    stub = A.STUB.format(label="ex-99-top")
    assert student.cells[exercise.solution_cells[0]].source.splitlines() == [
        "setup = 1",
        stub,
        "class Model:",
        "    def step(self):",
        "        if True:",
        "            " + stub,
        "after = 2",
    ]
    # the check may repeat what it tests: only the solution block is removed
    assert "answer = setup + 41" not in sources(student)


def test_with_solutions_keeps_the_answers_but_not_the_prose():
    student, (exercise,) = A.student_notebook(
        chapter(EXERCISE_IN_DEF), "synthetic.md", with_solutions=True
    )
    solution = student.cells[exercise.solution_cells[0]].source
    assert "### BEGIN SOLUTION" in solution and "picked =" in solution
    assert "zebra-unicorn" not in sources(student)
    assert (
        student.cells[exercise.solution_cells[0]].metadata.nbgrader["solution"]
        is True
    )


def test_yaml_options_gated_exercise_and_several_cells():
    text = """
    ````{exercise-start}
    ---
    label: ex-99-gated
    ---
    ````

    Write `f` and `g`.

    ````{exercise-end}
    ````

    ::::{solution-start} ex-99-gated
    :class: dropdown
    ::::

    ```{code-cell} ipython3
    def f():
        ### BEGIN SOLUTION
        return 1
        ### END SOLUTION
    ```

    :::{note}
    nested-note-inside-the-solution
    :::

    ```{code-cell} ipython3
    def g():
        ### BEGIN SOLUTION
        return 2
        ### END SOLUTION
    ```

    ::::{solution-end}
    ::::

    Between the solution and its checks.

    ```{code-cell} ipython3
    :tags: [check]

    assert f() == 1
    ```

    ```{code-cell} ipython3
    :tags: [check]

    assert g() == 2
    ```
    """
    student, (exercise,) = A.student_notebook(chapter(text), "synthetic.md")
    assert exercise.label == "ex-99-gated"
    ids = [
        student.cells[i].metadata.nbgrader["grade_id"]
        for i in exercise.solution_cells + exercise.check_cells
    ]
    assert ids == [
        "ex-99-gated",
        "ex-99-gated-2",
        "check-ex-99-gated",
        "check-ex-99-gated-2",
    ]
    assert "nested-note-inside-the-solution" not in sources(student)
    assert "Between the solution and its checks." in sources(student)


def _broken(text, *expected):
    with pytest.raises(A.AssignmentError) as error:
        A.student_notebook(chapter(text), "chapters/99_broken.md")
    message = str(error.value)
    assert "chapters/99_broken.md" in message
    for part in expected:
        assert part in message, message


def _with_solution(code, check="assert f() == 1", check_tags=":tags: [check]"):
    return f"""
:::{{exercise}} E
:label: ex-99-broken

Write f.
:::

:::{{solution-start}} ex-99-broken
:class: dropdown
:::

```{{code-cell}} ipython3
{code}
```

:::{{solution-end}}
:::

```{{code-cell}} ipython3
{check_tags}

{check}
```
"""


@pytest.mark.parametrize(
    "code, expected",
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1", "never closed"),
        (
            "def f():\n    return 1\n    ### END SOLUTION",
            "without a '### BEGIN SOLUTION'",
        ),
        (
            "### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n"
            "### END SOLUTION\n### END SOLUTION",
            "nested",
        ),
        (
            "def f():\n    ## BEGIN SOLUTION\n    return 1\n"
            "    ## END SOLUTION",
            "looks like a solution marker",
        ),
        ("def f():\n    return 1", "has no '### BEGIN SOLUTION'"),
    ],
    ids=["begin-unclosed", "end-alone", "nested", "misspelt", "no-markers"],
)
def test_bad_markers_are_named(code, expected):
    _broken(_with_solution(code), "ex-99-broken", expected)


def test_a_solution_must_be_followed_by_a_check():
    code = (
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    )
    _broken(
        _with_solution(code, check_tags=""),
        "ex-99-broken",
        "not tagged 'check'",
    )
    _broken(
        _with_solution(code).rsplit("```{code-cell}", 1)[0],
        "ex-99-broken",
        "not followed by a check cell",
    )


def test_an_exercise_needs_a_label_and_a_solution():
    _broken(":::{exercise} No label\n\nText.\n:::\n", "no :label:")
    _broken(
        ":::{exercise} Alone\n:label: ex-99-alone\n\nText.\n:::\n\n"
        "More text.\n",
        "ex-99-alone",
        "has no solution",
    )
    _broken(
        ":::{exercise} Prose\n:label: ex-99-prose\n:::\n\n"
        ":::{solution} ex-99-prose\nThe answer.\n:::\n",
        "ex-99-prose",
        "gated",
    )
    _broken(
        ":::{exercise} Open\n:label: ex-99-open\n:::\n\n"
        ":::{solution-start} ex-99-open\n:::\n\n```{code-cell} "
        "ipython3\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n```\n",
        "ex-99-open",
        "never closed",
    )


def test_markers_and_checks_outside_an_exercise_are_errors():
    _broken(
        "```{code-cell} ipython3\n### BEGIN SOLUTION\nx = 1\n"
        "### END SOLUTION\n```\n",
        "outside",
    )
    _broken(
        "```{code-cell} ipython3\n:tags: [check]\n\nassert True\n```\n",
        "does not follow",
    )


def synthetic_book(root, labels):
    """A book folder with a _config.yml and a finished build's site index
    (the exercises numbered), as `make assignments` needs."""
    (root / "_config.yml").write_text(
        "repository:\n  url: https://github.com/org/repo\n"
    )
    site = SiteIndex(
        base_url="https://org.github.io/repo/",
        numbers={label: ("exercise", str(n)) for n, label in labels},
        numfig_format={"exercise": "Exercise %s"},
    )
    (root / "_build").mkdir()
    (root / "_build" / SITE_INDEX).write_text(site.to_json())


def test_no_solution_text_is_left(tmp_path):
    """Every distinctive answer string of a synthetic book is absent from
    the written notebook file, and its text is CommonMark."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: C\n"
        "    chapters:\n"
        "      - file: chapters/01_a\n      - file: chapters/02_b.md\n"
    )
    (tmp_path / "chapters" / "01_a.md").write_text(EXERCISE_IN_DEF)
    (tmp_path / "chapters" / "02_b.md").write_text(
        EXERCISE_IN_DEF.replace("ex-99-last", "ex-98-last")
    )
    synthetic_book(tmp_path, [(4, "ex-99-last"), (5, "ex-98-last")])
    written = A.write_assignments(tmp_path, tmp_path / "out")
    assert [p.name for p in written] == ["01_a.ipynb", "02_b.ipynb"]
    first = written[0].read_bytes()
    for secret in ("picked", "zebra-unicorn", "BEGIN SOLUTION", "dropdown"):
        assert secret not in first.decode()
    student = nbformat.reads(first.decode(), as_version=4)
    assert (
        "## Exercise 4 (Last valid)\n\nWrite `last(outputs, lengths)`."
        in sources(student)
    )
    assert ":::" not in sources(student) and ":label:" not in first.decode()
    again = A.write_assignments(tmp_path, tmp_path / "out")[0]
    assert again.read_bytes() == first  # stable output
    # and the command line does the same
    assert A.main([str(tmp_path / "cli"), "--root", str(tmp_path)]) == 0
    assert (tmp_path / "cli" / "01_a.ipynb").read_bytes() == first


def test_the_command_needs_a_build(tmp_path, capsys):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (tmp_path / "_config.yml").write_text(
        "repository:\n  url: https://github.com/org/repo\n"
    )
    assert A.main([str(tmp_path / "out"), "--root", str(tmp_path)]) == 1
    assert "build the book first (`make book`)" in capsys.readouterr().err


def test_a_broken_chapter_stops_the_command_with_its_name(tmp_path, capsys):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: chapters/01_a\n"
    )
    (tmp_path / "chapters" / "01_a.md").write_text(
        EXERCISE_IN_DEF.replace("### END SOLUTION", "")
    )
    synthetic_book(tmp_path, [(1, "ex-99-last")])
    assert A.main([str(tmp_path / "out"), "--root", str(tmp_path)]) == 1
    assert "chapters/01_a.md, exercise ex-99-last" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------
# (a) The grader


def _graded_notebook(tmp_path, answer, check_edit=None):
    """A student notebook of two exercises, answered with ``answer``,
    written to tmp_path."""
    text = EXERCISE_IN_DEF + textwrap.dedent("""
    :::{exercise} Forty-two
    :label: ex-99-answer

    Set `answer`.
    :::

    :::{solution-start} ex-99-answer
    :class: dropdown
    :::

    ```{code-cell} ipython3
    ### BEGIN SOLUTION
    answer = 42
    ### END SOLUTION
    ```

    :::{solution-end}
    :::

    ```{code-cell} ipython3
    :tags: [check]

    # Check for exercise ex-99-answer
    assert answer == 42
    ```
    """)
    student, exercises = A.student_notebook(chapter(text), "synthetic.md")
    release = tmp_path / "release.ipynb"
    nbformat.write(student, release)
    submitted = nbformat.read(release, as_version=4)
    submitted.cells[exercises[1].solution_cells[0]].source = answer
    if check_edit is not None:
        submitted.cells[exercises[1].check_cells[0]].source = check_edit
    path = tmp_path / "submitted.ipynb"
    nbformat.write(submitted, path)
    return release, path


def test_grade_runs_the_notebook_and_scores_it(tmp_path, capsys):
    """Exercise 1 left as the stub, exercise 2 answered wrongly but its
    check edited to pass: with the released checks restored, both fail; a
    right answer passes."""
    release, path = _graded_notebook(
        tmp_path, "answer = 41", check_edit="pass  # check-ex-99-answer"
    )
    assert A.main(["--grade", str(path), "--release", str(release)]) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"ex-99-last\s+FAIL  \(NotImplementedError: Exercise ex-99-last", out
    ), out
    assert re.search(r"ex-99-answer\s+FAIL  \(AssertionError", out), out
    assert "score: 0/2" in out
    # without --release the edited check is what runs (so instructors
    # should pass --release)
    right_release, right = _graded_notebook(tmp_path, "answer = 6 * 7")
    results = A.grade(right, release=right_release)
    assert [(check_id, error is None) for check_id, _, error in results] == [
        ("check-ex-99-last", False),
        ("check-ex-99-answer", True),
    ]


def test_grade_reads_stored_outputs_without_running(tmp_path):
    release, path = _graded_notebook(tmp_path, "answer = 42")
    notebook = nbformat.read(path, as_version=4)
    checks = [
        c
        for c in notebook.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    ]
    checks[0].outputs = [
        nbformat.v4.new_output(
            "error",
            ename="NameError",
            evalue="name 'last' is not defined",
            traceback=[],
        )
    ]
    checks[0].execution_count = 3
    checks[1].execution_count = 4
    nbformat.write(notebook, path)
    results = A.grade(path, run=False)
    assert results == [
        ("check-ex-99-last", 1, "NameError: name 'last' is not defined"),
        ("check-ex-99-answer", 1, None),
    ]
    # a check that never ran, or that the student deleted, fails
    del notebook.cells[notebook.cells.index(checks[1])]
    nbformat.write(notebook, path)
    assert A.grade(path, release=release, run=False)[-1] == (
        "check-ex-99-answer",
        1,
        "the check cell is missing",
    )


# --------------------------------------------------------------------------
# (b) Every chapter in the toc: no solution text, at least three
# exercises with checks


def _student(md):
    if not md.exists():
        pytest.skip(f"{md.name} does not exist (reported by test_book)")
    name = md.relative_to(ROOT).as_posix()
    try:
        return A.student_notebook(A.read_chapter(md), chapter=name)
    except A.AssignmentError as error:
        pytest.fail(
            f"the exercises of {name} break the course format: {error}"
        )


_FENCE = re.compile(r"^(:{3,}|`{3,})")


def _hidden_and_public_lines(md_text):
    """Read the .md directly (not through the tool): the lines a student
    must not see (the code between the markers, the prose between
    {solution-start} and {solution-end}), and the rest."""
    hidden, public = [], []
    in_solution = in_code = in_block = False
    for line in md_text.splitlines():
        s = line.strip()
        if re.match(r"^(:{3,}|`{3,})\{solution-start\}", s):
            in_solution = True
        elif re.match(r"^(:{3,}|`{3,})\{solution-end\}", s):
            in_solution = False
        elif s.startswith("```{code-cell}"):
            in_code = True
        elif in_code and s == "```":
            in_code = False
        elif s == "### BEGIN SOLUTION":
            in_block = True
        elif s == "### END SOLUTION":
            in_block = False
        elif in_block or (in_solution and not in_code):
            hidden.append(s)
        else:
            public.append(s)
    trivial = re.compile(
        r"^:[\w-]+:"
    )  # directive options such as `:class: dropdown`
    hidden = [
        s
        for s in hidden
        if re.search(r"[A-Za-z0-9]", s)
        and not trivial.match(s)
        and not _FENCE.match(s)
    ]
    return hidden, set(public)


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_student_notebook_has_no_solution_text(md):
    student, exercises = _student(md)
    md_text = md.read_text()
    hidden, public = _hidden_and_public_lines(md_text)
    student_lines = {
        line.strip()
        for cell in student.cells
        for line in cell.source.splitlines()
    }
    # A line the book also prints outside any solution
    # (`lengths = np.asarray(lengths)`, say) gives
    # nothing away; every other line of an answer must be gone.
    leaks = sorted(
        {s for s in hidden if s in student_lines and s not in public}
    )
    assert not leaks, (
        f"{md.name}: the student notebook still contains solution text: "
        f"{leaks}"
    )
    text = json.dumps(student)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, (
        f"{md.name}: a marker is left"
    )
    assert "solution-start" not in text and "solution-end" not in text, (
        f"{md.name}: a solution directive is left"
    )
    n_blocks = sum(line.strip() == A.BEGIN for line in md_text.splitlines())
    n_stubs = sum(
        line.strip().startswith("raise NotImplementedError(\"Exercise ")
        for line in "\n".join(c.source for c in student.cells).splitlines()
    )
    assert n_stubs == n_blocks, (
        f"{md.name}: {n_blocks} solution blocks in the book, {n_stubs} stubs"
    )
    assert all(
        not c.get("outputs") for c in student.cells if c.cell_type == "code"
    ), f"{md.name}: outputs left"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_a_check(md):
    student, exercises = _student(md)
    labels = re.findall(
        r"^:label:\s*(ex-[\w-]+)\s*$", md.read_text(), flags=re.MULTILINE
    )
    assert [e.label for e in exercises] == labels, (
        f"{md.name}: the exercises found differ from the labels in the .md"
    )
    assert len(exercises) >= 3, (
        f"{md.name} has {len(exercises)} exercise(s) ({labels}); the book "
        "asks for at least 3"
    )
    for exercise in exercises:
        assert exercise.check_cells, (
            f"{md.name}, exercise {exercise.label}: no check cell"
        )
        stubs = [student.cells[i].source for i in exercise.solution_cells]
        assert any(f"Exercise {exercise.label}:" in s for s in stubs), (
            f"{md.name}, {exercise.label}: no stub"
        )


# --------------------------------------------------------------------------
# (c) The proof that a check grades, on a synthetic chapter. Every chapter's
# student notebook is executed in tests/test_notebooks.py, in the same
# kernel run as its reader notebook.


#: An exercise whose check a stale value satisfies, and a cell that calls the
#: answer of EXERCISE_IN_DEF (tests/test_notebooks.py uses it too).
VACUOUS = textwrap.dedent("""
    ```{code-cell} ipython3
    total = 6
    ```

    :::{exercise} Stale
    :label: ex-99-stale

    Set `total` to 6.
    :::

    :::{solution-start} ex-99-stale
    :class: dropdown
    :::

    ```{code-cell} ipython3
    ### BEGIN SOLUTION
    total = 1 + 2 + 3
    ### END SOLUTION
    ```

    :::{solution-end}
    :::

    ```{code-cell} ipython3
    :tags: [check]

    assert total == 6
    ```

    ```{code-cell} ipython3
    print(last([[1]], [1]))
    ```
""")


def test_the_proof_catches_a_vacuous_check_and_a_cell_that_needs_an_answer():
    """Part (c) on a synthetic chapter: a check satisfied by a stale value,
    and a later cell that uses an answer, are both found; the honest
    exercise is not."""
    student, exercises = A.student_notebook(
        chapter(EXERCISE_IN_DEF + VACUOUS), "synthetic.md"
    )
    executed = A.execute(student, cwd=ROOT / "chapters", timeout=60)
    assert checks_passing_on_stubs(executed, exercises) == ["ex-99-stale"]
    failing = other_cells_failing(executed, exercises)
    assert (
        len(failing) == 1
        and "NotImplementedError: Exercise ex-99-last" in failing[0]
    ), failing
