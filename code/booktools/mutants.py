"""The mutation catalog: proof that the book's asserts bite.

Every entry of the catalog (``tests/mutants/*.yml``, one file per chapter)
is one *semantic* mutation
of a chapter's code or of ``code/rnnbook``: a string that must occur exactly
once in one file, and what to put in its place. Each entry also names the
cell that must fail once the mutation is in, by a line of that cell's source
(``fails_at``). An entry looks like::

    - id: ch02-no-sequence-length
      chapter: chapters/02_tensorflow1_dynamic_rnn.md
      file: chapters/02_tensorflow1_dynamic_rnn.md   # or code/rnnbook/...
      find: "x, sequence_length=lengths, dtype=tf.float32"
      replace: "x, dtype=tf.float32"
      fails_at: "np.testing.assert_array_equal(state, last_valid)"
      why: without sequence_length the state is read after the padding

:func:`run_mutant` copies ``chapters/`` and ``code/`` to a scratch folder,
applies the mutation there, and executes the chapter in a fresh kernel (with
the scratch ``code/`` first on ``PYTHONPATH``) only up to the expected cell.
The mutant is *killed* when that cell raises and no cell before it did.

Command line (``make mutants``)::

    python -m booktools.mutants [--jobs 2] [--chapter 02] [--id ID ...]

prints one line per mutant and the kill score, writes
``_build/mutants/report.json``, and exits non-zero unless every mutant is
killed at its expected cell.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import kernel_environment, worker_pool
from .toc import toc_chapters

CATALOG = Path("tests") / "mutants"
MIN_PER_CHAPTER = 5
FIELDS = ("id", "chapter", "file", "find", "replace", "fails_at", "why")


class CatalogError(ValueError):
    """A catalog entry that cannot be applied as written."""


@dataclass(frozen=True)
class Mutant:
    """One mutation: replace ``find`` by ``replace`` in ``file``; the
    chapter must then fail at the code cell containing ``fails_at``."""

    id: str
    chapter: str
    file: str
    find: str
    replace: str
    fails_at: str
    why: str


@dataclass
class Result:
    """What happened when a mutant's chapter ran up to its expected cell.

    ``verdict`` is ``killed`` (the expected cell raised, none before it),
    ``early`` (an earlier cell raised), ``survived`` (no cell raised) or
    ``error`` (the mutant could not be run: the reason is in ``detail``).
    """

    id: str
    verdict: str
    cell: int | None
    expected_cell: int | None
    seconds: float
    detail: str = ""


# --------------------------------------------------------------------------
# Reading and checking the catalog


def load_catalog(path: str | Path) -> list[Mutant]:
    """The catalog's entries (from one YAML file, or every ``*.yml`` in a
    folder, in name order), each with every field a non-empty string
    (``replace`` may be empty); ids are unique."""
    import yaml

    path = Path(path)
    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    entries = []
    for file in files:
        loaded = yaml.safe_load(file.read_text()) or []
        if not isinstance(loaded, list):
            raise CatalogError(f"{file}: expected a list of mutants")
        entries += loaded
    mutants, seen = [], set()
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise CatalogError(f"{path}: entry {k} is not a mapping")
        missing = [f for f in FIELDS if f not in entry]
        extra = sorted(set(entry) - set(FIELDS))
        if missing or extra:
            raise CatalogError(
                f"{path}: entry {entry.get('id', k)!r} has missing fields "
                f"{missing} and unknown fields {extra}; expected {FIELDS}"
            )
        values = {f: entry[f] for f in FIELDS}
        bad = [f for f, v in values.items() if not isinstance(v, str)]
        empty = [f for f, v in values.items() if f != "replace" and not v]
        if bad or empty:
            raise CatalogError(
                f"{path}: entry {values['id']!r}: fields {bad + empty} "
                "must be non-empty strings (only replace may be empty)"
            )
        if values["id"] in seen:
            raise CatalogError(
                f"{path}: the id {values['id']!r} is used twice"
            )
        seen.add(values["id"])
        mutants.append(Mutant(**values))
    return mutants


def mutated_text(root: Path, mutant: Mutant) -> str:
    """The mutated file's text; ``find`` must occur in it exactly once."""
    path = Path(root) / mutant.file
    if not path.is_file():
        raise CatalogError(f"{mutant.id}: no file {mutant.file}")
    text = path.read_text()
    count = text.count(mutant.find)
    if count != 1:
        raise CatalogError(
            f"{mutant.id}: 'find' must occur exactly once in {mutant.file}; "
            f"it occurs {count} times: {mutant.find!r}"
        )
    if mutant.find == mutant.replace:
        raise CatalogError(f"{mutant.id}: 'replace' equals 'find'")
    return text.replace(mutant.find, mutant.replace)


def read_notebook(path: Path):
    """A chapter's MyST source as a notebook (through jupytext)."""
    import jupytext

    return jupytext.read(path)


def expected_cell(notebook, mutant: Mutant) -> int:
    """The index of the one code cell whose source contains ``fails_at``."""
    hits = [
        k
        for k, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and mutant.fails_at in cell.source
    ]
    if len(hits) != 1:
        raise CatalogError(
            f"{mutant.id}: 'fails_at' must be in exactly one code cell of "
            f"{mutant.chapter}; found in {len(hits)}: {mutant.fails_at!r}"
        )
    return hits[0]


def check_catalog(root: str | Path, mutants: list[Mutant]) -> list[str]:
    """Every problem that would stop a mutant from being run as written."""
    root = Path(root)
    problems = []
    for mutant in mutants:
        try:
            text = mutated_text(root, mutant)
            chapter = root / mutant.chapter
            if not chapter.is_file():
                raise CatalogError(f"{mutant.id}: no chapter {mutant.chapter}")
            if mutant.file == mutant.chapter:
                import jupytext

                notebook = jupytext.reads(text, fmt="md:myst")
            else:
                notebook = read_notebook(chapter)
            expected_cell(notebook, mutant)
        except CatalogError as error:
            problems.append(str(error))
    return problems


def coverage_problems(root: str | Path, mutants: list[Mutant]) -> list[str]:
    """Every toc chapter with fewer than ``MIN_PER_CHAPTER`` mutants."""
    root = Path(root)
    problems = []
    counts = {}
    for mutant in mutants:
        counts[mutant.chapter] = counts.get(mutant.chapter, 0) + 1
    for chapter in toc_chapters(root):
        name = chapter.relative_to(root).as_posix()
        if counts.get(name, 0) < MIN_PER_CHAPTER:
            problems.append(
                f"{name} has {counts.get(name, 0)} mutants in the catalog; "
                f"every chapter needs at least {MIN_PER_CHAPTER}"
            )
    return problems


# --------------------------------------------------------------------------
# Running one mutant


def _scratch_copy(root: Path, scratch: Path) -> None:
    ignore = shutil.ignore_patterns(
        "__pycache__", "*.egg-info", ".ipynb_checkpoints", "*.ipynb"
    )
    for folder in ("chapters", "code"):
        shutil.copytree(root / folder, scratch / folder, ignore=ignore)


def _first_error(notebook, upto: int) -> int | None:
    for k, cell in enumerate(notebook.cells[: upto + 1]):
        if cell.cell_type != "code":
            continue
        if any(
            o.get("output_type") == "error" for o in cell.get("outputs", [])
        ):
            return k
    return None


def _error_text(cell) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = f"{output.get('ename')}: {output.get('evalue')}"
            return " ".join(text.split())[:300]
    return ""


def run_mutant(root: str | Path, mutant: Mutant, timeout: int = 300) -> Result:
    """Apply ``mutant`` in a scratch copy and run its chapter up to the
    expected cell in a fresh kernel; return the verdict."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    root = Path(root).resolve()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.id}-") as tmp:
        scratch = Path(tmp)
        try:
            _scratch_copy(root, scratch)
            text = mutated_text(root, mutant)
            (scratch / mutant.file).write_text(text)
            notebook = read_notebook(scratch / mutant.chapter)
            target = expected_cell(notebook, mutant)
        except CatalogError as error:
            return Result(mutant.id, "error", None, None, 0.0, str(error))
        # Every cell after the expected one is left out: a mutant costs
        # only the chapter up to the cell that must fail.
        notebook.cells = notebook.cells[: target + 1]
        env = dict(os.environ)
        code = str(scratch / "code")
        env["PYTHONPATH"] = os.pathsep.join(
            [code] + [p for p in [env.get("PYTHONPATH")] if p]
        )
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # IPC (a socket file in the scratch folder), not TCP: no port to
        # find and no "running over TCP without encryption" warning.
        km = KernelManager(
            kernel_name="python3",
            transport="ipc",
            connection_file=str(scratch / "kernel.json"),
        )
        client = NotebookClient(
            notebook,
            km=km,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(scratch / "chapters")}},
        )
        try:
            client.execute(env=env)
        except Exception as error:  # a timeout or a dead kernel
            seconds = time.perf_counter() - start
            return Result(
                mutant.id,
                "error",
                None,
                target,
                seconds,
                f"{type(error).__name__}: {error}"[:300],
            )
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)
        seconds = time.perf_counter() - start
        failed = _first_error(notebook, target)
    if failed is None:
        return Result(mutant.id, "survived", None, target, seconds)
    detail = _error_text(notebook.cells[failed])
    verdict = "killed" if failed == target else "early"
    return Result(mutant.id, verdict, failed, target, seconds, detail)


# --------------------------------------------------------------------------
# The whole catalog


def _run_one(args) -> Result:
    root, mutant, timeout = args
    return run_mutant(root, mutant, timeout)


def run_catalog(root, mutants, jobs=2, timeout=300, report=print):
    """Run every mutant, ``jobs`` at a time; call ``report`` with each line
    as results arrive; return the results in catalog order."""
    results = {}
    with worker_pool(jobs) as pool:
        work = [(str(root), m, timeout) for m in mutants]
        for result in pool.map(_run_one, work):
            results[result.id] = result
            report(format_result(result))
    return [results[m.id] for m in mutants]


def format_result(result: Result) -> str:
    where = {
        "killed": f"cell {result.cell}",
        "early": f"cell {result.cell}, expected {result.expected_cell}",
        "survived": f"no cell failed up to cell {result.expected_cell}",
        "error": result.detail,
    }[result.verdict]
    tail = (
        f"  {result.detail}" if result.verdict in {"killed", "early"} else ""
    )
    line = f"{result.verdict:8s} {result.seconds:6.1f} s  {result.id}: {where}"
    return (line + tail)[:240]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booktools.mutants",
        description="Run the mutation catalog: every mutant must fail its "
        "chapter at the expected cell.",
    )
    parser.add_argument("--root", default=".", type=Path)
    parser.add_argument("--catalog", default=None, type=Path)
    parser.add_argument("--jobs", "-j", default=2, type=int)
    parser.add_argument("--timeout", default=300, type=int)
    parser.add_argument(
        "--chapter",
        action="append",
        default=[],
        help="only mutants of chapters whose name has this",
    )
    parser.add_argument(
        "--id",
        action="append",
        default=[],
        help="only the mutant with this id (repeatable)",
    )
    parser.add_argument("--out", default=Path("_build") / "mutants", type=Path)
    args = parser.parse_args(argv)

    kernel_environment()
    root = args.root.resolve()
    mutants = load_catalog(args.catalog or root / CATALOG)
    problems = check_catalog(root, mutants)
    if problems:
        print(
            "the mutation catalog cannot be run as written:", file=sys.stderr
        )
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        return 2
    thin = coverage_problems(root, mutants)
    if args.chapter:
        mutants = [
            m for m in mutants if any(c in m.chapter for c in args.chapter)
        ]
    if args.id:
        unknown = sorted(set(args.id) - {m.id for m in mutants})
        if unknown:
            print(f"no mutant with id {unknown}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m.id in args.id]
    if args.chapter or args.id:
        thin = []  # a partial run says nothing about the catalog's coverage

    start = time.perf_counter()
    results = run_catalog(root, mutants, jobs=args.jobs, timeout=args.timeout)
    killed = sum(r.verdict == "killed" for r in results)
    elapsed = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(
        json.dumps([asdict(r) for r in results], indent=1)
    )
    print(
        f"kill score: {killed}/{len(results)} mutants killed at their "
        f"expected cell ({elapsed:.0f} s, {args.jobs} jobs)"
    )
    for result in results:
        if result.verdict != "killed":
            print("NOT KILLED AS EXPECTED: " + format_result(result))
    for problem in thin:
        print("CATALOG TOO THIN: " + problem)
    return 0 if killed == len(results) and not thin else 1


if __name__ == "__main__":
    sys.exit(main())
