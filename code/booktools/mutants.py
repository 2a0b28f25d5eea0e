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

Each mutant gets its own scratch copy of ``chapters/`` and ``code/`` with
the mutation applied, and its chapter runs there only up to the expected
cell (with the scratch ``code/`` imported first). The mutant is *killed*
when that cell raises and no cell before it did.

Two ways to run a mutant give the same verdicts:

* in a fresh kernel (:func:`run_mutant`, through nbclient), as the book
  build runs a chapter. Starting the kernel and importing the frameworks
  costs 3-7 s a mutant.
* in a fork of a *zygote* (:func:`run_forked`), the default. ``--jobs``
  worker processes at a time (spawned, never forked from the caller) each
  serve one chapter (:func:`run_all`): a worker takes that chapter's
  mutants one by one until none is left, then ends, and a fresh one starts
  for the chapter with the most seconds of mutants waiting per worker
  (measured from its mutants so far; before that, guessed from the bench's
  report when there is one, so the slowest chapters start first). A
  worker, the
  zygote, creates an IPython shell set up as a kernel's (the inline Matplotlib
  backend; a traceback it shows counts as the cell's error, as a kernel's
  error output does) and runs the chapter's first code cell, unmutated:
  its environment settings and imports. Then, one mutant at a time, it
  forks a child that applies the mutation in its own scratch copy, drops
  every module imported from ``code/`` (the mutation may be there), and
  runs the chapter's code cells from the first up to the expected one in
  the inherited shell, whose imports are already done. The zygote waits
  for the child's verdict, or kills it after ``--timeout`` seconds
  (verdict ``error``).

  A fork is taken only while the zygote has no thread beyond NumPy's BLAS
  pool (OpenBLAS stops its pool around a fork): a statement of the first
  cell that starts a thread (a thread pool of TensorFlow, PyTorch's OpenMP,
  ONNX Runtime) ends the worker, and that chapter's zygotes then run the
  first cell only up to that statement; the children still run all of
  it. If the first cell fails in the zygote, its worker runs kernels.

A mutation of the chapter's first code cell would be missed by a zygote
(it ran that cell before the mutation existed): such a mutant runs in a
fresh kernel, as every mutant does with ``--kernel``.

Command line (``make mutants``)::

    python -m booktools.mutants [--jobs 2] [--chapter 02] [--id ID ...]
                                [--timeout 300] [--kernel]

prints one line per mutant and the kill score, writes
``_build/mutants/report.json``, and exits non-zero unless every mutant is
killed at its expected cell.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import json
import multiprocessing
import os
import pickle
import select
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from multiprocessing import connection
from pathlib import Path

from . import kernel_environment
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
# Running one mutant in a fresh kernel


def _scratch_copy(root: Path, scratch: Path) -> None:
    ignore = shutil.ignore_patterns(
        "__pycache__", "*.egg-info", ".ipynb_checkpoints", "*.ipynb"
    )
    for folder in ("chapters", "code"):
        shutil.copytree(root / folder, scratch / folder, ignore=ignore)


def _code_first(code: str, pythonpath: str | None) -> str:
    """``PYTHONPATH`` with the scratch ``code`` folder before the rest."""
    return os.pathsep.join([code] + [p for p in [pythonpath] if p])


def mutated_copy(root: Path, mutant: Mutant, scratch: Path):
    """Copy the book to ``scratch`` and apply ``mutant`` there; return the
    mutated chapter as a notebook and the index of its expected cell."""
    _scratch_copy(root, scratch)
    (scratch / mutant.file).write_text(mutated_text(root, mutant))
    notebook = read_notebook(scratch / mutant.chapter)
    return notebook, expected_cell(notebook, mutant)


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
            notebook, target = mutated_copy(root, mutant, scratch)
        except CatalogError as error:
            return Result(mutant.id, "error", None, None, 0.0, str(error))
        # Every cell after the expected one is left out: a mutant costs
        # only the chapter up to the cell that must fail.
        notebook.cells = notebook.cells[: target + 1]
        env = dict(os.environ)
        code = str(scratch / "code")
        env["PYTHONPATH"] = _code_first(code, env.get("PYTHONPATH"))
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
    detail = "" if failed is None else _error_text(notebook.cells[failed])
    return _verdict(mutant, failed, target, seconds, detail)


def _verdict(mutant: Mutant, failed, target, seconds, detail) -> Result:
    """``killed`` when the first failing cell is the expected one."""
    if failed is None:
        return Result(mutant.id, "survived", None, target, seconds)
    verdict = "killed" if failed == target else "early"
    return Result(mutant.id, verdict, failed, target, seconds, detail)


# --------------------------------------------------------------------------
# Running a chapter's mutants in forks of one warmed-up process
#
# A fresh kernel spends 3-7 s importing NumPy, Matplotlib, TensorFlow, Keras
# and PyTorch before the chapter's first line runs. A *zygote* pays that once
# for several mutants of one chapter: it runs the chapter's first code cell
# (its environment settings and imports) in an IPython shell, then forks one
# child per mutant. Forking a process that has threads is only safe when no
# thread can hold a lock the child needs: the zygote forks with no thread
# beyond those it had once NumPy was imported (OpenBLAS's pool, which
# OpenBLAS itself shuts down around a fork).


@dataclass(frozen=True)
class Retry:
    """A zygote's answer when the first cell's statement ``stop_before``
    started a thread: that chapter's zygotes must stop their warm-up before
    that statement (the children still run the whole cell)."""

    chapter: str
    stop_before: int


@dataclass
class Zygote:
    """A warmed-up IPython shell to fork children from."""

    shell: object
    code: Path  # the copy of ``code/`` the warm-up imported from
    threads: int  # how many threads it may have when it forks
    tracebacks: list  # (name, value) of each error shown, as a kernel would


def _first_code_source(notebook) -> str | None:
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    return cells[0].source if cells else None


@functools.cache
def _first_cell_span(path: Path) -> tuple[int, int] | None:
    """Where the chapter's first code cell's source lies in its text."""
    source = _first_code_source(read_notebook(path))
    start = path.read_text().find(source) if source else -1
    return (start, start + len(source)) if start >= 0 else None


def changes_first_cell(root: str | Path, mutant: Mutant) -> bool:
    """True when the mutation touches the chapter's first code cell: the
    zygote runs that cell before the mutation exists, so such a mutant runs
    in a fresh kernel instead."""
    if mutant.file != mutant.chapter:
        return False
    path = Path(root).resolve() / mutant.chapter
    span = _first_cell_span(path)
    if span is None:  # not found verbatim: compare the parsed cells
        import jupytext

        mutated = jupytext.reads(mutated_text(root, mutant), fmt="md:myst")
        before = _first_code_source(read_notebook(path))
        return _first_code_source(mutated) != before
    start = path.read_text().find(mutant.find)
    return start <= span[1] and start + len(mutant.find) >= span[0]


def cell_statements(source: str) -> list[str]:
    """A cell's top-level statements, each as source text to run alone
    (statements that share a line stay together); the whole cell as one
    when it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [source]
    lines = source.splitlines(keepends=True)
    spans: list[list[int]] = []
    for node in tree.body:
        decorators = getattr(node, "decorator_list", [])
        first = min([node.lineno] + [d.lineno for d in decorators])
        if spans and first <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], node.end_lineno)
        else:
            spans.append([first, node.end_lineno])
    return ["".join(lines[a - 1 : b]) for a, b in spans]


def _thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def _silence_output(path: str) -> None:
    """Send this process's standard output and error (Python's and the C
    libraries') to ``path``, and read standard input from nothing."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _new_shell():
    """An IPython shell as a kernel has one: the inline Matplotlib backend,
    no history (its database has a thread), and every traceback it shows
    recorded (a kernel sends each as an error output, e.g. a figure that
    fails to draw after its cell ran)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    # What ipykernel sets, unless the caller chose a backend.
    os.environ.setdefault(
        "MPLBACKEND", "module://matplotlib_inline.backend_inline"
    )
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    tracebacks = []
    show = shell._showtraceback

    def record(etype, evalue, stb):
        tracebacks.append((etype.__name__, str(evalue)))
        show(etype, evalue, stb)

    shell._showtraceback = record
    return shell, tracebacks


def _run_cell(shell, tracebacks, source) -> str | None:
    """Run one cell; the first error it showed (``Name: value``, as a
    kernel's error output says it), or None."""
    tracebacks.clear()
    result = shell.run_cell(source, store_history=False)
    error = result.error_before_exec or result.error_in_exec
    if error is not None and not tracebacks:
        tracebacks.append((type(error).__name__, str(error)))
    if not tracebacks:
        return None
    name, value = tracebacks[0]
    return " ".join(f"{name}: {value}".split())[:300]


def start_zygote(root: Path, scratch: Path, chapter: str, stop_before):
    """Copy the book to ``scratch``, run the first ``stop_before`` (all when
    None) statements of the chapter's first code cell there, unmutated;
    return a :class:`Zygote`, a :class:`Retry` (a statement started a
    thread) or None (a statement failed: use kernels)."""
    _scratch_copy(root, scratch)
    os.chdir(scratch / "chapters")  # Matplotlib reads ./matplotlibrc
    code = scratch / "code"
    sys.path.insert(0, str(code))
    _silence_output(os.devnull)
    import numpy  # noqa: F401  (its BLAS threads are fork-safe)

    threads = _thread_count()
    shell, tracebacks = _new_shell()
    source = _first_code_source(read_notebook(scratch / chapter)) or ""
    statements = cell_statements(shell.transform_cell(source))
    for k, statement in enumerate(statements[:stop_before]):
        if _run_cell(shell, tracebacks, statement) is not None:
            return None
        if _thread_count() > threads:
            return Retry(chapter, k)
    shell.reset(new_session=False)  # each child starts with no variables
    return Zygote(shell, code, threads, tracebacks)


def _use_scratch_code(zygote: Zygote, code: Path) -> None:
    """Import the book's modules from ``code`` (the mutated copy) from now
    on: every module the zygote imported from its own copy is dropped."""
    own = str(zygote.code)
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file.startswith(own + os.sep):
            del sys.modules[name]
    sys.path[:] = [str(code)] + [p for p in sys.path if p != own]
    os.environ["PYTHONPATH"] = _code_first(
        str(code), os.environ.get("PYTHONPATH")
    )
    importlib.invalidate_caches()


def run_in_child(zygote: Zygote, root: Path, mutant: Mutant, scratch: Path):
    """In a forked child: apply ``mutant`` in ``scratch`` and run its
    chapter's cells up to the expected one in the zygote's shell."""
    try:
        notebook, target = mutated_copy(root, mutant, scratch)
    except CatalogError as error:
        return Result(mutant.id, "error", None, None, 0.0, str(error))
    _use_scratch_code(zygote, scratch / "code")
    os.chdir(scratch / "chapters")
    for k, cell in enumerate(notebook.cells[: target + 1]):
        if cell.cell_type != "code":
            continue
        error = _run_cell(zygote.shell, zygote.tracebacks, cell.source)
        if error is not None:
            return _verdict(mutant, k, target, 0.0, error)
    return _verdict(mutant, None, target, 0.0, "")


def _child(zygote, root, mutant, scratch, write_fd) -> None:
    """The forked child's whole life: run the mutant, send the result
    through ``write_fd``, exit without running the parent's exit handlers."""
    try:
        os.setpgid(0, 0)  # its own group: a timeout kills its children too
        _silence_output(str(scratch / "output.txt"))
        result = run_in_child(zygote, root, mutant, scratch)
    except BaseException as error:  # noqa: BLE001  (reported, not raised)
        detail = f"{type(error).__name__}: {error}"[:300]
        result = Result(mutant.id, "error", None, None, 0.0, detail)
    try:
        with os.fdopen(write_fd, "wb") as pipe:
            pickle.dump(result, pipe)
    finally:
        os._exit(0)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_for_child(pid: int, read_fd: int, timeout: float):
    """What the child sent, once it has exited; None when it ran past
    ``timeout`` seconds (it is killed, with its own children)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            _kill_group(pid)
            os.waitpid(pid, 0)
            return None
        ready, _, _ = select.select([read_fd], [], [], min(left, 0.5))
        chunk = os.read(read_fd, 1 << 16) if ready else b""
        data += chunk
        if ready and not chunk:  # end of file: the child is exiting
            os.waitpid(pid, 0)
            break
        if not ready and os.waitpid(pid, os.WNOHANG)[0]:
            data += _read_available(read_fd)  # it exited; a process it
            break  # started may still hold the pipe open
    _kill_group(pid)  # anything it started and left running
    return data


def _read_available(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return b""


def _output_tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f"; its last output: {lines[-1]}" if lines else ""


def run_forked(zygote: Zygote, root: Path, mutant: Mutant, timeout) -> Result:
    """Fork a child of ``zygote`` to run ``mutant``; wait for its verdict
    (``error`` when it dies or runs past ``timeout`` seconds)."""
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=f"mutant-{mutant.id}-"))
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(zygote, root, mutant, scratch, write_fd)
    os.close(write_fd)
    try:
        data = _wait_for_child(pid, read_fd, timeout)
        tail = _output_tail(scratch / "output.txt")
    finally:
        os.close(read_fd)
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.perf_counter() - start
    if data is None:
        detail = f"timed out after {timeout} s{tail}"
        return Result(mutant.id, "error", None, None, seconds, detail[:300])
    try:
        result = pickle.loads(data)
    except Exception:  # noqa: BLE001  (it died before sending a result)
        detail = f"the forked child died{tail}"
        return Result(mutant.id, "error", None, None, seconds, detail[:300])
    result.seconds = seconds
    return result


def _run_job(zygote: Zygote | None, root: Path, mutant: Mutant, timeout):
    if zygote is None or _thread_count() > zygote.threads:
        return run_mutant(root, mutant, timeout)
    return run_forked(zygote, root, mutant, timeout)


def serve(conn, root, chapter: str, timeout: int, stop_before) -> None:
    """A worker process's life (spawned, never forked from the caller):
    warm a zygote up for ``chapter`` (none for :data:`KERNELS`), send
    ``"ready"`` (or a :class:`Retry`), then run each mutant received and
    send its result, until None is received."""
    root = Path(root)
    with tempfile.TemporaryDirectory(prefix="mutants-zygote-") as tmp:
        zygote = None
        if chapter != KERNELS:
            zygote = start_zygote(root, Path(tmp), chapter, stop_before)
        if isinstance(zygote, Retry):
            conn.send(zygote)
            return
        conn.send("ready")  # with no zygote (its first cell failed): kernels
        while (mutant := conn.recv()) is not None:
            conn.send(_run_job(zygote, root, mutant, timeout))


# --------------------------------------------------------------------------
# The whole catalog

#: The queue of the mutants that run in fresh kernels: those of a first
#: code cell (every one with ``--kernel``).
KERNELS = ""

#: A chapter that has a zygote gets another only when each would still
#: have about this many seconds of its mutants to run (a warm-up costs
#: 2-8 s).
MIN_SHARE_SECONDS = 15.0

#: What a mutant is taken to cost before any of its chapter has run.
PRIOR_SECONDS = 3.0


def queues(root, mutants, kernel=False) -> dict[str, deque]:
    """The mutants to run, by chapter, and those for fresh kernels under
    :data:`KERNELS`."""
    queued: dict[str, deque] = {KERNELS: deque()}
    for mutant in mutants:
        if kernel or changes_first_cell(root, mutant):
            queued[KERNELS].append(mutant)
        else:
            queued.setdefault(mutant.chapter, deque()).append(mutant)
    return queued


@dataclass
class Worker:
    """A spawned worker process, the chapter it serves, its mutant now."""

    process: object
    conn: object
    chapter: str
    mutant: Mutant | None = None


def start_worker(root, chapter: str, timeout: int, stop_before=None):
    """A spawned process running :func:`serve` for ``chapter``."""
    context = multiprocessing.get_context("spawn")
    conn, theirs = context.Pipe()
    args = (theirs, str(root), chapter, timeout, stop_before)
    process = context.Process(target=serve, args=args, daemon=True)
    process.start()
    theirs.close()
    return Worker(process, conn, chapter)


def _expected_seconds(chapter: str, spent, prior=None) -> float:
    """What one more mutant of ``chapter`` should take: the mean of its
    mutants so far, else its ``prior`` (from the bench,
    :func:`costs_from_bench`), else the mean of all mutants so far, else
    :data:`PRIOR_SECONDS`."""
    mine = spent.get(chapter)
    if mine:
        return sum(mine) / len(mine)
    if prior and chapter in prior:
        return prior[chapter]
    everyone = [s for seconds in spent.values() for s in seconds]
    if everyone:
        return sum(everyone) / len(everyone)
    return PRIOR_SECONDS


def costs_from_bench(path: Path) -> dict[str, float]:
    """A first guess at each chapter's cost per mutant from a bench report
    (``bench.json`` of ``make bench``): half of what the chapter costs
    beyond its floor, since a mutant runs the chapter up to the cell that
    must fail. {} when there is no report or it cannot be read."""
    try:
        rows = json.loads(Path(path).read_text())
        return {
            f"chapters/{row['chapter']}.md": max(
                0.5, (row["seconds"] - row["floor_seconds"]) / 2
            )
            for row in rows
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _next_chapter(queued, workers, spent=None, prior=None) -> str | None:
    """The chapter a new worker should serve: the most seconds of mutants
    waiting per worker already on it, from the seconds its mutants took
    so far (``spent``: {chapter: [seconds, ...]}) or else its ``prior``;
    None when none is worth a warm-up. A chapter with no worker yet is
    always worth one, so the slowest chapters start first and the last,
    slow chapter gets both workers."""
    on = Counter(w.chapter for w in workers)
    spent = spent or {}

    def share(chapter):
        each = _expected_seconds(chapter, spent, prior)
        return len(queued[chapter]) * each / (on[chapter] + 1)

    worth = [
        chapter
        for chapter in queued
        if queued[chapter]
        and (not on[chapter] or share(chapter) >= MIN_SHARE_SECONDS)
    ]
    return max(worth, key=share) if worth else None


def _died(worker: Worker, queued) -> Result | None:
    """A worker that died: its mutant is an error; if it died warming up,
    its chapter's mutants go to kernels."""
    worker.process.join()
    code = worker.process.exitcode
    if worker.mutant is None:
        if worker.chapter != KERNELS:
            queued[KERNELS].extend(queued[worker.chapter])
            queued[worker.chapter].clear()
        return None
    detail = f"the mutants worker died (exit code {code})"
    return Result(worker.mutant.id, "error", None, None, 0.0, detail)


def _feed(worker: Worker, queued) -> bool:
    """Send ``worker`` its chapter's next mutant, or None (it then ends);
    False when it got None."""
    waiting = queued[worker.chapter]
    worker.mutant = waiting.popleft() if waiting else None
    worker.conn.send(worker.mutant)
    return worker.mutant is not None


def run_all(root, mutants, jobs=2, timeout=300, kernel=False, prior=None):
    """Yield each mutant's result as it arrives. ``jobs`` worker processes
    at a time each serve one chapter, taking its mutants one by one until
    none is left; then the process ends and a new one starts for the
    chapter with the most seconds of mutants waiting per worker (so the
    last, slow chapter gets both workers)."""
    queued = queues(root, mutants, kernel)
    stop_before: dict[str, int] = {}
    spent: dict[str, list[float]] = {}  # each chapter's mutants' seconds
    workers: dict = {}  # by connection
    try:
        while any(queued.values()) or workers:
            while len(workers) < jobs:
                chapter = _next_chapter(queued, workers.values(), spent, prior)
                if chapter is None:
                    break
                stop = stop_before.get(chapter)
                worker = start_worker(root, chapter, timeout, stop)
                workers[worker.conn] = worker
            for conn in connection.wait(list(workers)):
                worker = workers[conn]
                try:
                    message = conn.recv()
                except EOFError:
                    del workers[conn]
                    result = _died(worker, queued)
                    if result is not None:
                        yield result
                    continue
                if isinstance(message, Retry):
                    stop = stop_before.get(worker.chapter, message.stop_before)
                    stop_before[worker.chapter] = min(
                        stop, message.stop_before
                    )
                if isinstance(message, Result):
                    spent.setdefault(worker.chapter, []).append(
                        message.seconds
                    )
                    yield message
                if isinstance(message, Retry) or not _feed(worker, queued):
                    del workers[conn]
                    worker.process.join()
    finally:
        for worker in workers.values():
            worker.process.kill()


def run_catalog(
    root, mutants, jobs=2, timeout=300, report=print, kernel=False, prior=None
):
    """Run every mutant, ``jobs`` processes at a time (with ``kernel``,
    each in a fresh kernel; ``prior``: :func:`costs_from_bench`); call
    ``report`` with each line as results arrive; return the results in
    catalog order."""
    results = {}
    for result in run_all(root, mutants, jobs, timeout, kernel, prior):
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


# TensorFlow's thread pools, unless the caller sized them: one thread each.
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def one_thread_each() -> None:
    """Give every mutant one TensorFlow thread. ``--jobs`` mutants run at
    once, one per core: a TensorFlow pool of one thread per core in each of
    them only makes them wait on each other (measured on 2 cores: chapter
    5's 39 mutants took 83 s with the default pools, 70 s with one thread,
    every verdict the same). The chapters' own thread settings still
    apply; only TensorFlow's default changes."""
    for name, value in ONE_THREAD.items():
        os.environ.setdefault(name, value)


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
    parser.add_argument(
        "--kernel",
        action="store_true",
        help="run every mutant in a fresh kernel (slower; no zygotes)",
    )
    parser.add_argument("--out", default=Path("_build") / "mutants", type=Path)
    parser.add_argument(
        "--costs",
        default=None,
        type=Path,
        help="a bench report (bench.json) to start the slowest chapters "
        "first; only the order changes (default: ROOT/_build/bench/"
        "bench.json when it exists)",
    )
    args = parser.parse_args(argv)

    kernel_environment()
    one_thread_each()
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

    prior = costs_from_bench(
        args.costs or root / "_build" / "bench" / "bench.json"
    )
    start = time.perf_counter()
    results = run_catalog(
        root, mutants, args.jobs, args.timeout, kernel=args.kernel, prior=prior
    )
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
    # Run as booktools.mutants, not as __main__: the mutants and results
    # that go to and from the workers are pickled by their module's name,
    # and in a zygote ``__main__`` is the IPython shell's namespace.
    from booktools.mutants import main as run

    sys.exit(run())
