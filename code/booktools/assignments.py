"""Student notebooks made from the book's chapters, and a small grader for them.

Every chapter ends with exercises written in one fixed form (sphinx-exercise, gated solutions)::

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

The student version of a chapter (:func:`student_notebook`) is the chapter with

* every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block replaced by one line
  ``raise NotImplementedError("Exercise ex-NN-name: write your answer here")`` at the
  indentation of the ``BEGIN`` marker (the ``def`` line around it stays);
* the prose of every solution (the markdown between ``{solution-start}`` and
  ``{solution-end}``, directives included) removed;
* nbgrader metadata on the solution cells and on the check cells (``grade_id`` is the
  exercise label, ``check-<label>`` for the check), so nbgrader can grade them; nothing here
  needs nbgrader;
* no outputs; everything else unchanged.

Command line::

    python -m booktools.assignments OUTDIR                  # one student notebook per chapter in _toc.yml
    python -m booktools.assignments OUTDIR --with-solutions # the same with the answers kept (nbgrader's source/)
    python -m booktools.assignments --grade submitted.ipynb [--release OUTDIR/NN_name.ipynb]

A chapter that breaks the form (markers unbalanced or nested, a solution not followed by a
check cell, an exercise without a solution, ...) stops the run with an
:class:`AssignmentError` naming the chapter and the exercise.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .toc import toc_chapters

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CHECK_TAG = "check"
STUB = 'raise NotImplementedError("Exercise {label}: write your answer here")'

# Anything that looks like a solution marker; a misspelt one would otherwise leave an answer in.
_MARKER_LIKE = re.compile(r"#+\s*(BEGIN|END)\s+SOLUTION", re.IGNORECASE)
# A MyST directive opener: ':::{name} argument' or '```{name} argument' (up to 3 spaces of indent).
_OPENER = re.compile(
    r"^ {0,3}(?P<fence>:{3,}|`{3,})\{(?P<name>[A-Za-z][\w-]*)\}\s*(?P<arg>.*?)\s*$"
)
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$")

STUDENT_NOTE = (
    "**Student version.** The answers of the exercises are removed: each one's code cell raises "
    "`NotImplementedError` where your answer goes. Replace that line with your answer and run the "
    "check cell below it (the one starting with `# Check for exercise ...`): it passes without error "
    "when your answer is right. Run the notebook from the top so the cells the exercises use are defined."
)


class AssignmentError(ValueError):
    """A chapter whose exercises do not follow the book's exercise form."""


@dataclass
class Exercise:
    label: str
    title: str = ""
    solution_cells: list[int] = field(
        default_factory=list
    )  # indices in the output notebook
    check_cells: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# The chapters


def read_chapter(path: str | Path) -> nbformat.NotebookNode:
    """A chapter (MyST ``.md`` read through jupytext, or an ``.ipynb``) as a notebook."""
    path = Path(path)
    if path.suffix == ".ipynb":
        return nbformat.read(path, as_version=4)
    import jupytext

    return jupytext.read(path)


# --------------------------------------------------------------------------------------------
# The transformation


def stub_solutions(
    source: str, label: str, where: str = "the cell"
) -> tuple[str, int]:
    """Replace each marked block of ``source`` by the stub; return the new source and the block count."""
    out: list[str] = []
    inside = False
    blocks = 0
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise AssignmentError(
                    f"{where}: line {number} opens {BEGIN!r} inside another (nested markers)"
                )
            inside = True
            blocks += 1
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + STUB.format(label=label))
        elif stripped == END:
            if not inside:
                raise AssignmentError(
                    f"{where}: line {number} has {END!r} without a {BEGIN!r} before it"
                )
            inside = False
        elif _MARKER_LIKE.search(line):
            raise AssignmentError(
                f"{where}: line {number} looks like a solution marker but is not exactly "
                f"{BEGIN!r} or {END!r}: {stripped!r}"
            )
        elif not inside:
            out.append(line)
    if inside:
        raise AssignmentError(
            f"{where}: {BEGIN!r} is never closed by {END!r} (unbalanced markers)"
        )
    return "\n".join(out), blocks


def _directive_end(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the directive opened at ``start`` (a fence of the same kind, at least as long)."""
    char = fence[0]
    closing = re.compile(
        r"^ {0,3}" + re.escape(char) + "{" + str(len(fence)) + r",}\s*$"
    )
    for i in range(start + 1, len(lines)):
        if closing.match(lines[i]):
            return i
    return len(lines) - 1


def _label_of(lines: list[str], start: int, end: int) -> str | None:
    """The ``label`` option of the directive whose opener is ``lines[start]`` (``:label:`` or YAML block)."""
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


def student_notebook(
    notebook: nbformat.NotebookNode,
    chapter: str = "the chapter",
    with_solutions: bool = False,
) -> tuple[nbformat.NotebookNode, list[Exercise]]:
    """The student version of a chapter notebook, and its exercises in order.

    ``with_solutions=True`` keeps the answers (markers included) and drops only the solution
    prose: the version an nbgrader instructor puts in ``source/`` for ``nbgrader generate_assignment``.
    Raises :class:`AssignmentError` (naming ``chapter`` and the exercise) if the exercises break the form.
    """
    exercises: dict[str, Exercise] = {}
    cells_out: list[nbformat.NotebookNode] = []
    in_solution: str | None = None  # label of the solution being read
    solution_code: dict[
        str, int
    ] = {}  # label -> code cells with markers in its solution
    awaiting_check: str | None = (
        None  # label whose solution ended and whose check must come next
    )
    checks_of: str | None = None  # label whose check cells are being read

    def fail(message: str, label: str | None = None) -> None:
        what = f"{chapter}, exercise {label}" if label else chapter
        raise AssignmentError(f"{what}: {message}")

    for index, cell in enumerate(notebook.cells):
        number = index + 1
        if cell.cell_type == "code":
            tags = cell.get("metadata", {}).get("tags", [])
            has_markers = any(
                _MARKER_LIKE.search(line) for line in cell.source.splitlines()
            )
            new = copy.deepcopy(cell)
            new.outputs = []
            new.execution_count = None
            if in_solution is not None:
                label = in_solution
                if CHECK_TAG in tags:
                    fail(
                        f"code cell {number} is tagged '{CHECK_TAG}' but sits inside the solution "
                        "(between {solution-start} and {solution-end}): move it after {solution-end}",
                        label,
                    )
                if not has_markers:
                    fail(
                        f"code cell {number} inside the solution has no {BEGIN!r} ... {END!r} block, so "
                        "the student version would show the answer: mark the answer or move the cell out "
                        "of the solution",
                        label,
                    )
                source, blocks = stub_solutions(
                    cell.source,
                    label,
                    f"{chapter}, exercise {label}, code cell {number}",
                )
                if not with_solutions:
                    new.source = source
                count = solution_code.get(label, 0) + 1
                solution_code[label] = count
                new.metadata["nbgrader"] = {
                    "grade": False,
                    "grade_id": label if count == 1 else f"{label}-{count}",
                    "locked": False,
                    "schema_version": 3,
                    "solution": True,
                    "task": False,
                }
                exercises[label].solution_cells.append(len(cells_out))
                cells_out.append(new)
                continue
            if has_markers:
                stub_solutions(
                    cell.source, "?", f"{chapter}, code cell {number}"
                )  # a malformed marker reads better
                fail(
                    f"code cell {number} has solution markers outside a {{solution-start}} ... "
                    "{solution-end} block: put the cell inside its exercise's solution"
                )
            if CHECK_TAG in tags:
                label = awaiting_check or checks_of
                if label is None:
                    fail(
                        f"code cell {number} is tagged '{CHECK_TAG}' but does not follow an exercise's "
                        "{solution-end} (only markdown may come between a solution and its check)"
                    )
                awaiting_check, checks_of = None, label
                count = len(exercises[label].check_cells) + 1
                new.metadata["nbgrader"] = {
                    "grade": True,
                    "grade_id": f"check-{label}"
                    if count == 1
                    else f"check-{label}-{count}",
                    "locked": True,
                    "points": 1,
                    "schema_version": 3,
                    "solution": False,
                    "task": False,
                }
                exercises[label].check_cells.append(len(cells_out))
                cells_out.append(new)
                continue
            if awaiting_check is not None:
                fail(
                    f"its solution is followed by code cell {number}, which is not tagged '{CHECK_TAG}': "
                    "each solution must be followed by the check cell that grades it",
                    awaiting_check,
                )
            checks_of = None
            cells_out.append(new)
            continue

        # Markdown (and raw) cells: read line by line, dropping what lies inside a solution.
        lines = cell.source.splitlines()
        kept: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            opener = (
                _OPENER.match(line) if cell.cell_type == "markdown" else None
            )
            name = opener["name"] if opener else None
            if in_solution is not None:
                if name == "solution-end":
                    label = in_solution
                    if not solution_code.get(label):
                        fail(
                            f"its solution (ending in cell {number}) has no code cell with a "
                            f"{BEGIN!r} ... {END!r} block for the check to grade",
                            label,
                        )
                    i = _directive_end(lines, i, opener["fence"]) + 1
                    in_solution, awaiting_check = None, label
                    continue
                if name in {"solution-start", "solution"}:
                    fail(
                        f"a new solution starts in cell {number} before {{solution-end}} closes this one "
                        "(nested or unclosed solution)",
                        in_solution,
                    )
                i += 1  # solution prose: dropped
                continue
            if name in {"exercise", "exercise-start"}:
                end = (
                    _directive_end(lines, i, opener["fence"])
                    if name == "exercise"
                    else len(lines)
                )
                label = _label_of(lines, i, end)
                if not label:
                    fail(
                        f"the exercise {opener['arg']!r} in cell {number} has no :label: "
                        "(the course tooling names exercises by label)"
                    )
                if label in exercises:
                    fail(f"label used twice (cell {number})", label)
                if awaiting_check is not None:
                    fail(
                        f"its solution is followed by exercise {label}, not by a check cell",
                        awaiting_check,
                    )
                exercises[label] = Exercise(label, opener["arg"])
                checks_of = None
            elif name == "solution-start":
                label = _exercise_label(opener["arg"]) or opener["arg"]
                if label not in exercises:
                    fail(
                        f"{{solution-start}} in cell {number} names {opener['arg']!r}, which is not the "
                        "label of an exercise before it",
                        label or None,
                    )
                if label in solution_code:
                    fail(f"a second solution starts in cell {number}", label)
                if awaiting_check is not None:
                    fail(
                        f"its solution is followed by the solution of {label}, not by a check cell",
                        awaiting_check,
                    )
                solution_code[label] = 0
                in_solution, checks_of = label, None
                i = _directive_end(lines, i, opener["fence"]) + 1
                continue
            elif name == "solution":
                fail(
                    f"cell {number} uses the {{solution}} directive; the course tooling needs the gated "
                    "form ({solution-start} ... code cell with markers ... {solution-end}) followed by a "
                    "check cell",
                    _exercise_label(opener["arg"]),
                )
            elif name == "solution-end":
                fail(
                    f"cell {number} has {{solution-end}} without a {{solution-start}} before it"
                )
            kept.append(line)
            i += 1
        if len(kept) == len(lines):
            cells_out.append(copy.deepcopy(cell))  # nothing dropped: unchanged
        elif "\n".join(kept).strip():
            new = copy.deepcopy(cell)
            new.source = "\n".join(kept).strip("\n")
            cells_out.append(new)

    if in_solution is not None:
        fail("{solution-start} is never closed by {solution-end}", in_solution)
    if awaiting_check is not None:
        fail(
            "its solution is not followed by a check cell (the chapter ends first)",
            awaiting_check,
        )
    for label in exercises:
        if label not in solution_code:
            fail(
                "the exercise has no solution ({solution-start} ... {solution-end} with a marked code cell)",
                label,
            )

    out = copy.deepcopy(notebook)
    out.cells = cells_out
    out.metadata.pop(
        "jupytext", None
    )  # a student's Jupyter must not pair it with a .md
    if not with_solutions:
        note = nbformat.v4.new_markdown_cell(STUDENT_NOTE)
        out.cells.insert(0, note)
        for exercise in exercises.values():
            exercise.solution_cells = [i + 1 for i in exercise.solution_cells]
            exercise.check_cells = [i + 1 for i in exercise.check_cells]
    out.nbformat, out.nbformat_minor = (
        4,
        max(5, notebook.get("nbformat_minor", 5)),
    )
    for i, cell in enumerate(
        out.cells
    ):  # stable ids: the same chapter gives the same file
        cell["id"] = (
            hashlib.sha1(f"{i}\0{cell.source}".encode()).hexdigest()[:8]
            + f"-{i}"
        )
    nbformat.validate(out)
    return out, list(exercises.values())


def write_assignments(
    root: str | Path, outdir: str | Path, with_solutions: bool = False
) -> list[Path]:
    """Write the student notebook of every chapter in ``root/_toc.yml`` into ``outdir``; return the paths."""
    root, outdir = Path(root), Path(outdir)
    chapters = toc_chapters(root)
    results = []
    for md in chapters:  # check every chapter before writing anything
        name = md.relative_to(root).as_posix()
        if not md.exists():
            raise AssignmentError(
                f"{name} is listed in _toc.yml but does not exist"
            )
        results.append(
            (
                md,
                student_notebook(
                    read_chapter(md),
                    chapter=name,
                    with_solutions=with_solutions,
                ),
            )
        )
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for md, (notebook, _) in results:
        path = outdir / f"{md.stem}.ipynb"
        nbformat.write(notebook, path)
        written.append(path)
    return written


# --------------------------------------------------------------------------------------------
# Running and grading


def execute(
    notebook: nbformat.NotebookNode, cwd: str | Path, timeout: int = 120
) -> nbformat.NotebookNode:
    """Run every cell (a cell that raises does not stop the run), in ``cwd``; return the executed notebook."""
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
    """``"Name: message"`` of the error a code cell raised when it ran, else None."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
    return None


def _check_id(cell: nbformat.NotebookNode) -> str | None:
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    if nbgrader.get("grade") and nbgrader.get("grade_id"):
        return nbgrader["grade_id"]
    if CHECK_TAG in cell.get("metadata", {}).get("tags", []):
        label = _exercise_label(cell.source)
        return f"check-{label}" if label else None
    return None


def grade(
    submission: str | Path,
    release: str | Path | None = None,
    run: bool = True,
    timeout: int = 120,
) -> list[tuple[str, int, str | None]]:
    """Grade a student notebook: ``[(check grade_id, points, error or None), ...]`` in notebook order.

    ``run=True`` executes the notebook (in its own folder, errors allowed) before reading the
    check cells; ``run=False`` reads the outputs it already has (a check cell that never ran fails).
    ``release`` (the notebook handed out) restores the check cells by grade_id, so a check edited
    by the student grades as released; a check missing from the submission fails.
    """
    submission = Path(submission)
    notebook = nbformat.read(submission, as_version=4)
    expected: dict[str, nbformat.NotebookNode] = {}
    if release is not None:
        for cell in nbformat.read(release, as_version=4).cells:
            if cell.cell_type == "code" and _check_id(cell):
                expected[_check_id(cell)] = cell
        for i, cell in enumerate(notebook.cells):
            check_id = cell.cell_type == "code" and _check_id(cell)
            if check_id in expected:
                restored = copy.deepcopy(expected[check_id])
                restored.outputs, restored.execution_count = (
                    cell.get("outputs", []),
                    cell.get("execution_count"),
                )
                restored["id"] = cell.get("id", restored.get("id"))
                notebook.cells[i] = restored
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
            results.append(
                (
                    check_id,
                    cell.metadata.get("nbgrader", {}).get("points", 1),
                    "the check cell is missing",
                )
            )
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booktools.assignments",
        description="Write a student notebook for every chapter in _toc.yml (solutions replaced by stubs, "
        "check cells kept), or grade submitted notebooks.",
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
        "--with-solutions",
        action="store_true",
        help="keep the answers and their markers (for nbgrader's source/ folder); "
        "never hand these out",
    )
    parser.add_argument(
        "--grade",
        nargs="+",
        metavar="NOTEBOOK",
        help="grade these submitted notebooks",
    )
    parser.add_argument(
        "--release",
        help="with --grade: the student notebook handed out; its check cells "
        "replace the submitted ones before grading",
    )
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="with --grade: read the outputs already in the notebook instead of running it",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=120,
        help="seconds per cell when grading (default 120)",
    )
    args = parser.parse_args(argv)

    try:
        if args.grade:
            for path in args.grade:
                results = grade(
                    path,
                    release=args.release,
                    run=not args.no_execute,
                    timeout=args.timeout,
                )
                print(_report(Path(path), results))
            return 0
        if not args.outdir:
            parser.error(
                "give OUTDIR (where to write the student notebooks) or --grade NOTEBOOK"
            )
        written = write_assignments(
            args.root, args.outdir, with_solutions=args.with_solutions
        )
    except AssignmentError as error:
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
