"""Student notebooks made from the book's chapters, and a small grader.

Every chapter ends with exercises written in one fixed form
(sphinx-exercise, gated solutions)::

    :::{exercise} Title
    :label: ex-NN-name
    The task.
    :::

    :::{solution-start} ex-NN-name
    :class: dropdown
    :::

    ```{code-cell} ipython3
    def answer(...):
        ### BEGIN SOLUTION
        ...the reference answer...
        ### END SOLUTION
    ```

    The explanation of the answer.

    :::{solution-end}
    :::

    ```{code-cell} ipython3
    :tags: [check]
    assert ...   # grades the answer
    ```

:func:`exercise_parts` reads a chapter in that form into its parts (text,
solution, check), checking the form; the student notebook and the reader
notebook (:mod:`booktools.notebooks`) are both made from those parts.

The student version of a chapter (:func:`student_notebook`) is the chapter
with

* every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block replaced by
  one line ``raise NotImplementedError("Exercise ex-NN-name: write your
  answer here")`` at the indentation of the ``BEGIN`` marker (the ``def``
  line around it stays);
* the prose of every solution (the markdown between ``{solution-start}``
  and ``{solution-end}``, directives included) removed;
* nbgrader metadata on the solution cells and on the check cells
  (``grade_id`` is the exercise label, ``check-<label>`` for the check), so
  nbgrader can grade them; nothing here needs nbgrader;
* its markdown in plain CommonMark (:mod:`booktools.commonmark`: the
  numbers the build computed, links to the site), no outputs; everything
  else unchanged.

Command line::

    python -m booktools.assignments OUTDIR                  # every chapter
    python -m booktools.assignments OUTDIR --with-solutions # nbgrader source
    python -m booktools.assignments --grade submitted.ipynb \\
        [--release OUTDIR/NN_name.ipynb]

Writing the notebooks needs a finished build (``make book``), whose values
and numbers the text quotes. A chapter that breaks the form (markers
unbalanced or nested, a solution not followed by a check cell, an exercise
without a solution, ...) stops the run with an :class:`AssignmentError`
naming the chapter and the exercise.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from .toc import toc_chapters

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CHECK_TAG = "check"
STUB = 'raise NotImplementedError("Exercise {label}: write your answer here")'

# Anything that looks like a solution marker; a misspelt one would
# otherwise leave an answer in.
_MARKER_LIKE = re.compile(r"#+\s*(BEGIN|END)\s+SOLUTION", re.IGNORECASE)
# A MyST directive opener: ':::{name} argument' or '```{name} argument'
# (up to 3 spaces of indent).
_OPENER = re.compile(
    r"^ {0,3}(?P<fence>:{3,}|`{3,})\{(?P<name>[A-Za-z][\w-]*)\}"
    r"\s*(?P<arg>.*?)\s*$"
)
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$")

STUDENT_NOTE = (
    "**Student version.** The answers of the exercises are removed: each "
    "one's code cell raises `NotImplementedError` where your answer goes. "
    "Replace that line with your answer and run the check cell below it "
    "(the one starting with `# Check for exercise ...`): it passes without "
    "error when your answer is right. Run the notebook from the top so the "
    "cells the exercises use are defined."
)

#: Roles of the parts of a chapter.
TEXT, SOLUTION, CHECK = "text", "solution", "check"


class AssignmentError(ValueError):
    """A chapter whose exercises do not follow the book's exercise form."""


@dataclass
class Exercise:
    """An exercise, and where its cells are in a notebook made from it."""

    label: str
    title: str = ""
    solution_cells: list[int] = field(default_factory=list)
    check_cells: list[int] = field(default_factory=list)


@dataclass
class Part:
    """A cell of a chapter (or the piece of a markdown cell outside or
    inside a solution) and its role: text, solution or check."""

    cell: nbformat.NotebookNode
    role: str = TEXT
    label: str | None = None


# --------------------------------------------------------------------------
# The chapters


def read_chapter(path: str | Path) -> nbformat.NotebookNode:
    """A chapter (MyST ``.md`` through jupytext, or ``.ipynb``)."""
    path = Path(path)
    if path.suffix == ".ipynb":
        return nbformat.read(path, as_version=4)
    import jupytext

    return jupytext.read(path)


def stub_solutions(
    source: str, label: str, where: str = "the cell"
) -> tuple[str, int]:
    """Replace each marked block of ``source`` by the stub; return the new
    source and the number of blocks."""
    out: list[str] = []
    inside = False
    blocks = 0
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise AssignmentError(
                    f"{where}: line {number} opens {BEGIN!r} inside "
                    "another (nested markers)"
                )
            inside = True
            blocks += 1
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + STUB.format(label=label))
        elif stripped == END:
            if not inside:
                raise AssignmentError(
                    f"{where}: line {number} has {END!r} without a "
                    f"{BEGIN!r} before it"
                )
            inside = False
        elif _MARKER_LIKE.search(line):
            raise AssignmentError(
                f"{where}: line {number} looks like a solution marker but "
                f"is not exactly {BEGIN!r} or {END!r}: {stripped!r}"
            )
        elif not inside:
            out.append(line)
    if inside:
        raise AssignmentError(
            f"{where}: {BEGIN!r} is never closed by {END!r} "
            "(unbalanced markers)"
        )
    return "\n".join(out), blocks


def _directive_end(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the directive opened at ``start`` (a
    fence of the same kind, at least as long)."""
    closing = re.compile(
        r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$"
    )
    for i in range(start + 1, len(lines)):
        if closing.match(lines[i]):
            return i
    return len(lines) - 1


def _label_of(lines: list[str], start: int, end: int) -> str | None:
    """The ``label`` option of the directive opened at ``lines[start]``
    (a ``:label:`` line or a YAML block)."""
    i = start + 1
    if i < end and lines[i].strip() == "---":
        for j in range(i + 1, end):
            if lines[j].strip() == "---":
                break
            key, _, value = lines[j].partition(":")
            if key.strip() == "label":
                return value.strip() or None
        return None
    while i < end:
        match = _OPTION.match(lines[i].strip())
        if not match:
            break
        if match["key"] == "label":
            return match["value"] or None
        i += 1
    return None


def _exercise_label(line: str) -> str | None:
    match = re.search(r"\bex-[\w-]+", line)
    return match.group(0) if match else None


def _has_markers(source: str) -> bool:
    return any(_MARKER_LIKE.search(line) for line in source.splitlines())


# --------------------------------------------------------------------------
# Reading the exercises of a chapter


class _ExerciseReader:
    """Reads a chapter cell by cell into :class:`Part` s, checking the
    exercise form; each method handles one kind of cell or directive."""

    def __init__(self, chapter: str):
        self.chapter = chapter
        self.parts: list[Part] = []
        self.exercises: dict[str, Exercise] = {}
        self.solution_code: dict[str, int] = {}  # label -> marked cells
        self.in_solution: str | None = None  # the solution being read
        self.awaiting_check: str | None = None  # solution ended, no check
        self.checks_of: str | None = None  # the checks being read

    def fail(self, message: str, label: str | None = None) -> None:
        what = f"{self.chapter}, exercise {label}" if label else self.chapter
        raise AssignmentError(f"{what}: {message}")

    # ---- code cells

    def code_cell(self, cell, number: int) -> None:
        tags = cell.get("metadata", {}).get("tags", [])
        if self.in_solution is not None:
            self.solution_code_cell(cell, number, tags)
        elif _has_markers(cell.source):
            # a malformed marker is the better message, if there is one
            where = f"{self.chapter}, code cell {number}"
            stub_solutions(cell.source, "?", where)
            self.fail(
                f"code cell {number} has solution markers outside a "
                "{solution-start} ... {solution-end} block: put the cell "
                "inside its exercise's solution"
            )
        elif CHECK_TAG in tags:
            self.check_cell(cell, number)
        else:
            self.plain_code_cell(cell, number)

    def solution_code_cell(self, cell, number: int, tags) -> None:
        label = self.in_solution
        if CHECK_TAG in tags:
            self.fail(
                f"code cell {number} is tagged '{CHECK_TAG}' but sits "
                "inside the solution (between {solution-start} and "
                "{solution-end}): move it after {solution-end}",
                label,
            )
        if not _has_markers(cell.source):
            self.fail(
                f"code cell {number} inside the solution has no {BEGIN!r} "
                f"... {END!r} block, so the student version would show the "
                "answer: mark the answer or move the cell out of the "
                "solution",
                label,
            )
        where = f"{self.chapter}, exercise {label}, code cell {number}"
        stub_solutions(cell.source, label, where)  # checks the markers
        self.solution_code[label] += 1
        self.parts.append(Part(cell, SOLUTION, label))

    def check_cell(self, cell, number: int) -> None:
        label = self.awaiting_check or self.checks_of
        if label is None:
            self.fail(
                f"code cell {number} is tagged '{CHECK_TAG}' but does not "
                "follow an exercise's {solution-end} (only markdown may "
                "come between a solution and its check)"
            )
        self.awaiting_check, self.checks_of = None, label
        self.parts.append(Part(cell, CHECK, label))

    def plain_code_cell(self, cell, number: int) -> None:
        if self.awaiting_check is not None:
            self.fail(
                f"its solution is followed by code cell {number}, which is "
                f"not tagged '{CHECK_TAG}': each solution must be followed "
                "by the check cell that grades it",
                self.awaiting_check,
            )
        self.checks_of = None
        self.parts.append(Part(cell))

    # ---- markdown cells

    def markdown_cell(self, cell, number: int) -> None:
        """Split the cell at the solution directives, which are dropped:
        each piece is text, or prose inside a solution."""
        lines = cell.source.splitlines()
        piece: list[str] = []
        role, label = self._markdown_role()
        i = 0
        while i < len(lines):
            opener = _OPENER.match(lines[i])
            name = opener["name"] if opener else None
            if name in ("solution-start", "solution-end"):
                self._add_piece(cell, piece, role, label)
                piece = []
                handle = (
                    self.solution_start
                    if name == "solution-start"
                    else self.solution_end
                )
                i = handle(opener, lines, i, number)
                role, label = self._markdown_role()
                continue
            if self.in_solution is None:
                self._directive(opener, lines, i, number)
            elif name == "solution":
                self._nested_solution(number)
            piece.append(lines[i])
            i += 1
        self._add_piece(cell, piece, role, label)

    def _markdown_role(self) -> tuple[str, str | None]:
        if self.in_solution is not None:
            return SOLUTION, self.in_solution
        return TEXT, None

    def _add_piece(self, cell, lines, role, label) -> None:
        if not "\n".join(lines).strip():
            return
        piece = copy.copy(cell)
        piece.metadata = copy.deepcopy(cell.metadata)
        piece.source = "\n".join(lines).strip("\n")
        self.parts.append(Part(piece, role, label))

    def _directive(self, opener, lines, i, number) -> None:
        name = opener["name"] if opener else None
        if name in ("exercise", "exercise-start"):
            self.exercise(opener, lines, i, number)
        elif name == "solution":
            self.fail(
                f"cell {number} uses the {{solution}} directive; the course "
                "tooling needs the gated form ({solution-start} ... code "
                "cell with markers ... {solution-end}) followed by a check "
                "cell",
                _exercise_label(opener["arg"]),
            )

    def exercise(self, opener, lines, i, number) -> None:
        end = (
            _directive_end(lines, i, opener["fence"])
            if opener["name"] == "exercise"
            else len(lines)
        )
        label = _label_of(lines, i, end)
        if not label:
            self.fail(
                f"the exercise {opener['arg']!r} in cell {number} has no "
                ":label: (the course tooling names exercises by label)"
            )
        if label in self.exercises:
            self.fail(f"label used twice (cell {number})", label)
        if self.awaiting_check is not None:
            self.fail(
                f"its solution is followed by exercise {label}, not by a "
                "check cell",
                self.awaiting_check,
            )
        self.exercises[label] = Exercise(label, opener["arg"])
        self.checks_of = None

    def solution_start(self, opener, lines, i, number) -> int:
        if self.in_solution is not None:
            self._nested_solution(number)
        label = _exercise_label(opener["arg"]) or opener["arg"]
        if label not in self.exercises:
            self.fail(
                f"{{solution-start}} in cell {number} names "
                f"{opener['arg']!r}, which is not the label of an exercise "
                "before it",
                label or None,
            )
        if label in self.solution_code:
            self.fail(f"a second solution starts in cell {number}", label)
        if self.awaiting_check is not None:
            self.fail(
                f"its solution is followed by the solution of {label}, not "
                "by a check cell",
                self.awaiting_check,
            )
        self.solution_code[label] = 0
        self.in_solution, self.checks_of = label, None
        return _directive_end(lines, i, opener["fence"]) + 1

    def solution_end(self, opener, lines, i, number) -> int:
        label = self.in_solution
        if label is None:
            self.fail(
                f"cell {number} has {{solution-end}} without a "
                "{solution-start} before it"
            )
        if not self.solution_code[label]:
            self.fail(
                f"its solution (ending in cell {number}) has no code cell "
                f"with a {BEGIN!r} ... {END!r} block for the check to grade",
                label,
            )
        self.in_solution, self.awaiting_check = None, label
        return _directive_end(lines, i, opener["fence"]) + 1

    def _nested_solution(self, number: int) -> None:
        self.fail(
            f"a new solution starts in cell {number} before {{solution-end}}"
            " closes this one (nested or unclosed solution)",
            self.in_solution,
        )

    # ---- the end of the chapter

    def finish(self) -> None:
        if self.in_solution is not None:
            self.fail(
                "{solution-start} is never closed by {solution-end}",
                self.in_solution,
            )
        if self.awaiting_check is not None:
            self.fail(
                "its solution is not followed by a check cell (the chapter "
                "ends first)",
                self.awaiting_check,
            )
        for label in self.exercises:
            if label not in self.solution_code:
                self.fail(
                    "the exercise has no solution ({solution-start} ... "
                    "{solution-end} with a marked code cell)",
                    label,
                )


def exercise_parts(
    notebook: nbformat.NotebookNode, chapter: str = "the chapter"
) -> tuple[list[Part], list[Exercise]]:
    """The chapter's cells as parts (text, solution or check), and its
    exercises in order; raises :class:`AssignmentError` (naming
    ``chapter`` and the exercise) where the exercises break the form."""
    reader = _ExerciseReader(chapter)
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type == "code":
            reader.code_cell(cell, number)
        elif cell.cell_type == "markdown":
            reader.markdown_cell(cell, number)
        else:
            reader.parts.append(Part(cell))
    reader.finish()
    return reader.parts, list(reader.exercises.values())


# --------------------------------------------------------------------------
# The student notebook


def nbgrader_solution(grade_id: str) -> dict:
    """nbgrader's metadata of an answer cell."""
    return {
        "grade": False,
        "grade_id": grade_id,
        "locked": False,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }


def nbgrader_check(grade_id: str) -> dict:
    """nbgrader's metadata of a graded test cell worth one point."""
    return {
        "grade": True,
        "grade_id": grade_id,
        "locked": True,
        "points": 1,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }


def numbered_id(base: str, count: int) -> str:
    """``base`` for the first cell of an exercise, ``base-2`` after it."""
    return base if count == 1 else f"{base}-{count}"


def fresh_code_cell(cell) -> nbformat.NotebookNode:
    """A copy of a code cell without outputs."""
    new = copy.deepcopy(cell)
    new.outputs = []
    new.execution_count = None
    return new


def student_cell(part: Part, exercise: Exercise, with_solutions: bool):
    """The student version of a solution or check cell, with nbgrader
    metadata; records its index-to-be in ``exercise``."""
    new = fresh_code_cell(part.cell)
    if part.role == SOLUTION:
        count = len(exercise.solution_cells) + 1
        if not with_solutions:
            new.source = stub_solutions(new.source, part.label)[0]
        new.metadata["nbgrader"] = nbgrader_solution(
            numbered_id(part.label, count)
        )
    else:
        count = len(exercise.check_cells) + 1
        new.metadata["nbgrader"] = nbgrader_check(
            numbered_id(f"check-{part.label}", count)
        )
    return new


def converted_markdown(cell, convert: Callable[[str], str] | None):
    """A markdown cell in CommonMark, or None when nothing is left."""
    if convert is None:
        return copy.deepcopy(cell)
    text = convert(cell.source)
    if not text.strip():
        return None
    new = copy.deepcopy(cell)
    new.source = text
    return new


def notebook_like(
    notebook: nbformat.NotebookNode, cells: list
) -> nbformat.NotebookNode:
    """A notebook with ``notebook``'s metadata (not jupytext's pairing,
    which a student's Jupyter must not follow) and ``cells``."""
    out = copy.deepcopy(notebook)
    out.cells = cells
    out.metadata.pop("jupytext", None)
    out.nbformat = 4
    out.nbformat_minor = max(5, notebook.get("nbformat_minor", 5))
    return out


def set_stable_ids(notebook: nbformat.NotebookNode) -> None:
    """Cell ids from position and source: one chapter, one file."""
    for i, cell in enumerate(notebook.cells):
        digest = hashlib.sha1(f"{i}\0{cell.source}".encode()).hexdigest()
        cell["id"] = f"{digest[:8]}-{i}"


def student_notebook(
    notebook: nbformat.NotebookNode,
    chapter: str = "the chapter",
    with_solutions: bool = False,
    convert: Callable[[str], str] | None = None,
) -> tuple[nbformat.NotebookNode, list[Exercise]]:
    """The student version of a chapter notebook, and its exercises.

    ``convert`` turns the chapter's markdown into CommonMark (a
    :class:`booktools.commonmark.Converter`'s ``markdown``); without it the
    markdown is kept as written. ``with_solutions=True`` keeps the answers
    (markers included) and drops only the solution prose: the version an
    nbgrader instructor puts in ``source/``. Raises
    :class:`AssignmentError` if the exercises break the form.
    """
    parts, exercises = exercise_parts(notebook, chapter)
    by_label = {exercise.label: exercise for exercise in exercises}
    cells: list = (
        [] if with_solutions else [nbformat.v4.new_markdown_cell(STUDENT_NOTE)]
    )
    for part in parts:
        if part.cell.cell_type == "code" and part.role != TEXT:
            exercise = by_label[part.label]
            where = (
                exercise.solution_cells
                if part.role == SOLUTION
                else exercise.check_cells
            )
            cell = student_cell(part, exercise, with_solutions)
            where.append(len(cells))
        elif part.cell.cell_type == "code":
            cell = fresh_code_cell(part.cell)
        elif part.role == SOLUTION:
            continue  # the written explanation of an answer
        else:
            cell = converted_markdown(part.cell, convert)
        if cell is not None:
            cells.append(cell)
    out = notebook_like(notebook, cells)
    set_stable_ids(out)
    nbformat.validate(out)
    return out, exercises


def write_assignments(
    root: str | Path,
    outdir: str | Path,
    with_solutions: bool = False,
    book=None,
) -> list[Path]:
    """Write the student notebook of every chapter in ``root/_toc.yml``
    into ``outdir``; return the paths. ``book`` (a
    :class:`booktools.commonmark.Book`) is read from ``root/_build`` when
    not given."""
    from .commonmark import Book, Converter

    root, outdir = Path(root), Path(outdir)
    book = book or Book.from_build(root, root / "_build")
    results = []
    for md in toc_chapters(root):  # check every chapter before writing
        name = md.relative_to(root).as_posix()
        if not md.exists():
            raise AssignmentError(
                f"{name} is listed in _toc.yml but does not exist"
            )
        convert = Converter(book, name.removesuffix(".md"), name).markdown
        notebook, _ = student_notebook(
            read_chapter(md), name, with_solutions, convert
        )
        results.append((md, notebook))
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for md, notebook in results:
        path = outdir / f"{md.stem}.ipynb"
        nbformat.write(notebook, path)
        written.append(path)
    return written


# --------------------------------------------------------------------------
# Running and grading


def execute(
    notebook: nbformat.NotebookNode, cwd: str | Path, timeout: int = 120
) -> nbformat.NotebookNode:
    """Run every cell in ``cwd`` (a cell that raises does not stop the
    run); return the executed notebook."""
    from nbclient import NotebookClient

    notebook = copy.deepcopy(notebook)
    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    ).execute()
    return notebook


def cell_error(cell: nbformat.NotebookNode) -> str | None:
    """``"Name: message"`` of the error a code cell raised, else None."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name = output.get("ename", "Error")
            return f"{name}: {output.get('evalue', '')}".strip()
    return None


def _check_id(cell: nbformat.NotebookNode) -> str | None:
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    if nbgrader.get("grade") and nbgrader.get("grade_id"):
        return nbgrader["grade_id"]
    if CHECK_TAG in cell.get("metadata", {}).get("tags", []):
        label = _exercise_label(cell.source)
        return f"check-{label}" if label else None
    return None


def _restore_released_checks(notebook, release) -> dict:
    """Put the released check cells back in place of the submitted ones
    (by grade_id); return the released checks by grade_id."""
    expected: dict[str, nbformat.NotebookNode] = {}
    for cell in nbformat.read(release, as_version=4).cells:
        if cell.cell_type == "code" and _check_id(cell):
            expected[_check_id(cell)] = cell
    for i, cell in enumerate(notebook.cells):
        check_id = cell.cell_type == "code" and _check_id(cell)
        if check_id in expected:
            restored = copy.deepcopy(expected[check_id])
            restored.outputs = cell.get("outputs", [])
            restored.execution_count = cell.get("execution_count")
            restored["id"] = cell.get("id", restored.get("id"))
            notebook.cells[i] = restored
    return expected


def grade(
    submission: str | Path,
    release: str | Path | None = None,
    run: bool = True,
    timeout: int = 120,
) -> list[tuple[str, int, str | None]]:
    """Grade a student notebook: ``[(check grade_id, points, error or
    None), ...]`` in notebook order.

    ``run=True`` executes the notebook (in its own folder, errors allowed)
    before reading the check cells; ``run=False`` reads the outputs it
    already has (a check cell that never ran fails). ``release`` (the
    notebook handed out) restores the check cells by grade_id, so a check
    edited by the student grades as released; a check missing from the
    submission fails.
    """
    submission = Path(submission)
    notebook = nbformat.read(submission, as_version=4)
    expected = {}
    if release is not None:
        expected = _restore_released_checks(notebook, release)
    if run:
        notebook = execute(notebook, submission.parent, timeout)
    results = []
    seen = set()
    for cell in notebook.cells:
        check_id = cell.cell_type == "code" and _check_id(cell)
        if not check_id:
            continue
        seen.add(check_id)
        points = cell.get("metadata", {}).get("nbgrader", {}).get("points", 1)
        error = cell_error(cell)
        if error is None and cell.get("execution_count") is None:
            error = "the check cell did not run"
        results.append((check_id, points, error))
    for check_id, cell in expected.items():
        if check_id not in seen:
            points = cell.metadata.get("nbgrader", {}).get("points", 1)
            results.append((check_id, points, "the check cell is missing"))
    return results


def _report(path: Path, results: list[tuple[str, int, str | None]]) -> str:
    lines = [f"{path}:"]
    for check_id, points, error in results:
        verdict = (
            "pass"
            if error is None
            else f"FAIL  ({error.splitlines()[0][:120]})"
        )
        lines.append(f"  {check_id.removeprefix('check-'):40s} {verdict}")
    score = sum(p for _, p, e in results if e is None)
    total = sum(p for _, p, _ in results)
    lines.append(f"  score: {score}/{total}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m booktools.assignments",
        description="Write a student notebook for every chapter in "
        "_toc.yml (solutions replaced by stubs, check cells kept), or "
        "grade submitted notebooks.",
    )
    parser.add_argument(
        "outdir",
        nargs="?",
        help="folder for the student notebooks (e.g. _build/assignments)",
    )
    parser.add_argument(
        "--root",
        default=".",
        help="the book's root, where _toc.yml is (default: .)",
    )
    parser.add_argument(
        "--build",
        help="the finished build whose values the text quotes "
        "(default: ROOT/_build)",
    )
    parser.add_argument(
        "--with-solutions",
        action="store_true",
        help="keep the answers and their markers (for nbgrader's source/ "
        "folder); never hand these out",
    )
    parser.add_argument(
        "--grade",
        nargs="+",
        metavar="NOTEBOOK",
        help="grade these submitted notebooks",
    )
    parser.add_argument(
        "--release",
        help="with --grade: the student notebook handed out; its check "
        "cells replace the submitted ones before grading",
    )
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="with --grade: read the outputs already in the notebook "
        "instead of running it",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=120,
        help="seconds per cell when grading (default 120)",
    )
    return parser


def _grade_all(args) -> int:
    for path in args.grade:
        results = grade(
            path,
            release=args.release,
            run=not args.no_execute,
            timeout=args.timeout,
        )
        print(_report(Path(path), results))
    return 0


def main(argv: list[str] | None = None) -> int:
    from .commonmark import Book, ConversionError

    parser = _parser()
    args = parser.parse_args(argv)
    if args.grade:
        return _grade_all(args)
    if not args.outdir:
        parser.error(
            "give OUTDIR (where to write the student notebooks) or "
            "--grade NOTEBOOK"
        )
    try:
        build = args.build or Path(args.root) / "_build"
        book = Book.from_build(args.root, build)
        written = write_assignments(
            args.root, args.outdir, args.with_solutions, book
        )
    except (AssignmentError, ConversionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    kind = (
        "notebooks with solutions (do not hand out)"
        if args.with_solutions
        else "student notebooks"
    )
    print(f"wrote {len(written)} {kind} into {args.outdir}:")
    for path in written:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
