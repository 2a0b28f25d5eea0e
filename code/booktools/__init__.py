"""booktools: the machinery that builds, grades and measures the book.

Nothing here is taught, and nothing in the chapters imports it: a student who
installs the book's package (``rnnbook``) to run a chapter does not get it.

* :mod:`booktools.toc` -- the chapter list, read from ``_toc.yml``;
* :mod:`booktools.assignments` -- student notebooks and the grader;
* :mod:`booktools.bench` -- each chapter's time and memory against its floor;
* :mod:`booktools.mutants` -- the mutation catalog runner (``make mutants``);
* :mod:`booktools.sweeps` -- a chapter rerun once per seed: every glued
  threshold's worst seed and margin (``make sweep``);
* :mod:`booktools.notebooks` and :mod:`booktools.commonmark` -- the reader
  notebooks (``make notebooks``).

The Makefile puts ``code/`` on ``PYTHONPATH`` to run these; the tests do the
same in ``tests/conftest.py``. The book's kernels run with the IPython profile
in ``code/booktools/ipython`` (:func:`kernel_environment`).
"""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

PROFILE = Path(__file__).resolve().parent / "ipython"


def kernel_environment() -> None:
    """Give the kernels this process starts the book's settings, unless the
    caller chose others: the IPython profile that keeps C-level start-up
    output out of notebooks, and no TensorFlow C++ log lines."""
    os.environ.setdefault("IPYTHONDIR", str(PROFILE))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` worker processes that are spawned, not forked: the
    caller (pytest, with kernels and their threads already running) may hold
    a lock at fork time, and a forked child then waits on it for ever (seen:
    a test session hung)."""
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn")
    )
