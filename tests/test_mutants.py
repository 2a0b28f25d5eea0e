"""The mutation catalog (tests/mutants/) and its runner, booktools.mutants.

`make test` checks that every entry can be applied as written and that every
chapter has enough mutants; running them all is `make mutants` (in CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import deque

import pytest
from booktools import mutants as M
from toc import ROOT

CATALOG = M.load_catalog(ROOT / M.CATALOG)


def test_every_entry_applies_and_names_one_cell():
    problems = M.check_catalog(ROOT, CATALOG)
    assert not problems, "\n".join(problems)


def test_every_chapter_has_enough_mutants():
    problems = M.coverage_problems(ROOT, CATALOG)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------
# The runner, on a tiny book of one NumPy-only chapter

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

```{code-cell} ipython3
from tinypkg import double
x = double(2)
```

```{code-cell} ipython3
assert x == 4  # the expected cell
```

```{code-cell} ipython3
raise SystemExit("never reached: cells after the expected one are not run")
```
"""


@pytest.fixture
def tiny_book(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: chapters/01_a\n"
    )
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "01_a.md").write_text(CHAPTER)
    package = tmp_path / "code" / "tinypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def double(v):\n    return 2 * v\n")
    return tmp_path


def _mutant(**changes):
    fields = dict(
        id="m",
        chapter="chapters/01_a.md",
        file="code/tinypkg/__init__.py",
        find="return 2 * v",
        replace="return 3 * v",
        fails_at="the expected cell",
        why="test",
    )
    fields.update(changes)
    return M.Mutant(**fields)


def test_a_mutant_of_code_is_killed_at_its_cell(tiny_book):
    result = M.run_mutant(tiny_book, _mutant())
    assert (result.verdict, result.cell) == ("killed", 2), result


def test_a_mutant_that_changes_nothing_observable_survives(tiny_book):
    result = M.run_mutant(tiny_book, _mutant(replace="return v + v"))
    assert result.verdict == "survived", result


def test_a_mutant_caught_before_its_cell_is_reported_as_early(tiny_book):
    mutant = _mutant(replace="raise RuntimeError('boom')")
    result = M.run_mutant(tiny_book, mutant)
    assert (result.verdict, result.cell) == ("early", 1), result
    assert "RuntimeError: boom" in result.detail


def test_a_stale_entry_is_a_catalog_error(tiny_book):
    problems = M.check_catalog(tiny_book, [_mutant(find="return 5 * v")])
    assert problems and "exactly once" in problems[0]
    problems = M.check_catalog(tiny_book, [_mutant(fails_at="no such text")])
    assert problems and "exactly one code cell" in problems[0]


def test_a_thin_catalog_is_reported(tiny_book):
    problems = M.coverage_problems(tiny_book, [_mutant()])
    assert problems == [
        "chapters/01_a.md has 1 mutants in the catalog; "
        f"every chapter needs at least {M.MIN_PER_CHAPTER}"
    ]


def test_the_catalog_rejects_bad_entries(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text(
        textwrap.dedent("""\
        - id: a
          chapter: c
          file: f
          find: x
    """)
    )
    with pytest.raises(M.CatalogError, match="missing fields"):
        M.load_catalog(path)


# --------------------------------------------------------------------------
# The forked path: the tiny book's mutants in forks of one zygote (a spawned
# process, as in make mutants: the test session itself is never forked)

EXPECTED_CELL = "assert x == 4  # the expected cell"


def _chapter_mutant(replace, **changes):
    """A mutant of the chapter's expected cell."""
    return _mutant(
        file="chapters/01_a.md", find=EXPECTED_CELL, replace=replace, **changes
    )


def _run(book, *mutants, **options):
    results = M.run_catalog(
        book, list(mutants), jobs=1, report=lambda line: None, **options
    )
    return {result.id: result for result in results}


def test_forked_mutants_get_a_kernels_verdicts(tiny_book):
    mutants = [
        _mutant(id="code"),  # the zygote imported tinypkg before the fork
        _mutant(id="same", replace="return v + v"),
        _mutant(id="boom", replace="raise RuntimeError('boom')"),
    ]
    assert M.queues(tiny_book, mutants) == {
        M.KERNELS: deque(),
        "chapters/01_a.md": deque(mutants),
    }
    results = _run(tiny_book, *mutants)
    assert (results["code"].verdict, results["code"].cell) == ("killed", 2)
    assert results["same"].verdict == "survived", results["same"]
    assert (results["boom"].verdict, results["boom"].cell) == ("early", 1)
    assert "RuntimeError: boom" in results["boom"].detail


def test_forked_mutants_run_in_a_shell_not_a_kernel(tiny_book):
    # In a kernel ipykernel is imported and this mutant is killed.
    mutant = _chapter_mutant(
        "import sys\n"
        "assert 'ipykernel' not in sys.modules  # the expected cell"
    )
    assert _run(tiny_book, mutant)["m"].verdict == "survived"
    assert _run(tiny_book, mutant, kernel=True)["m"].verdict == "killed"


def test_a_figure_that_fails_to_draw_fails_its_cell_as_in_a_kernel(
    tiny_book,
):
    # The inline backend draws the figure after the cell's code has run;
    # a kernel reports the error it raises as the cell's error output.
    mutant = _chapter_mutant(
        "import matplotlib.pyplot as plt\n"
        "plt.figure().text(0, 0, '$\\\\frac{$')  # the expected cell"
    )
    result = _run(tiny_book, mutant)["m"]
    assert (result.verdict, result.cell) == ("killed", 2), result
    assert "ValueError" in result.detail


def test_a_first_cell_mutant_runs_in_a_kernel(tiny_book):
    first = _mutant(
        file="chapters/01_a.md", find="x = double(2)", replace="x = 3"
    )
    assert M.changes_first_cell(tiny_book, first)
    assert not M.changes_first_cell(tiny_book, _chapter_mutant("pass"))
    assert not M.changes_first_cell(tiny_book, _mutant())
    assert M.queues(tiny_book, [first]) == {M.KERNELS: deque([first])}
    result = _run(tiny_book, first)["m"]
    assert (result.verdict, result.cell) == ("killed", 2), result


def test_the_kernel_flag_runs_every_mutant_in_a_kernel(tiny_book):
    mutants = [_mutant(id="a"), _mutant(id="b")]
    queued = M.queues(tiny_book, mutants, kernel=True)
    assert queued == {M.KERNELS: deque(mutants)}


def test_a_forked_mutant_past_its_timeout_is_an_error(tiny_book):
    mutant = _chapter_mutant(
        "import time; time.sleep(60)  # the expected cell"
    )
    result = _run(tiny_book, mutant, timeout=3)["m"]
    assert result.verdict == "error", result
    assert "timed out after 3 s" in result.detail
    assert result.seconds < 30


def test_a_first_cell_that_starts_a_thread_runs_after_the_fork(tiny_book):
    chapter = tiny_book / "chapters" / "01_a.md"
    chapter.write_text(
        chapter.read_text().replace(
            "x = double(2)\n",
            "x = double(2)\nimport threading, time\n"
            "threading.Thread(target=time.sleep, args=(60,), daemon=True)"
            ".start()\n",
        )
    )
    worker = M.start_worker(tiny_book, "chapters/01_a.md", timeout=60)
    # statements 0-2 import and call double; statement 3 starts the thread
    assert worker.conn.recv() == M.Retry("chapters/01_a.md", 3)
    worker.process.join()
    # run_all then starts zygotes that stop before it
    result = _run(tiny_book, _mutant())["m"]
    assert (result.verdict, result.cell) == ("killed", 2), result


def test_a_cell_splits_into_its_top_level_statements():
    source = (
        "import os\n"
        "\n"
        "a = 1; b = 2\n"
        "@staticmethod\n"
        "def f():\n"
        "    return (\n"
        "        1)\n"
        "f()\n"
    )
    assert M.cell_statements(source) == [
        "import os\n",
        "a = 1; b = 2\n",
        "@staticmethod\ndef f():\n    return (\n        1)\n",
        "f()\n",
    ]
    assert M.cell_statements("x = (") == ["x = ("]


def test_a_first_cell_that_fails_in_the_zygote_sends_its_mutants_to_kernels(
    tiny_book,
):
    chapter = tiny_book / "chapters" / "01_a.md"
    chapter.write_text(
        chapter.read_text().replace(
            "x = double(2)\n",
            "x = double(2)\nimport sys\nassert 'ipykernel' in sys.modules\n",
        )
    )
    result = _run(tiny_book, _mutant())["m"]
    assert (result.verdict, result.cell) == ("killed", 2), result


def test_the_command_line_runs_a_catalog(tiny_book):
    # As make mutants runs it: the module is __main__ there, and what goes
    # to the workers must still unpickle once a zygote's shell exists.
    catalog = tiny_book / "catalog.yml"
    catalog.write_text(
        "- id: m\n"
        "  chapter: chapters/01_a.md\n"
        "  file: code/tinypkg/__init__.py\n"
        "  find: return 2 * v\n"
        "  replace: return 3 * v\n"
        "  fails_at: the expected cell\n"
        "  why: test\n"
    )
    command = [sys.executable, "-m", "booktools.mutants", "--root"]
    command += [str(tiny_book), "--catalog", str(catalog), "--id", "m"]
    command += ["--out", str(tiny_book / "out")]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "code"))
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "kill score: 1/1" in run.stdout


def test_a_free_worker_goes_where_the_most_seconds_wait():
    """The scheduler weighs chapters by what their mutants took so far: a
    slow chapter gets a second worker before a fast one with more mutants
    waiting, and a chapter with a few seconds left gets none."""
    queued = {
        M.KERNELS: deque(),
        "slow": deque("abcd"),
        "fast": deque("uvwxyz"),
    }
    busy = [M.Worker(None, None, "slow")]
    took = {"slow": [10.0], "fast": [1.0]}
    assert M._next_chapter(queued, busy, took) == "slow"
    took["slow"] = [1.0]
    assert M._next_chapter(queued, busy, took) == "fast"
    queued["fast"].clear()
    assert M._next_chapter(queued, busy, took) is None
    # a chapter not started yet goes before a second worker on one that is
    queued["new"] = deque("n")
    took["slow"] = [10.0]
    assert M._next_chapter(queued, busy, took) == "slow"
    took["slow"] = [1.0]
    assert M._next_chapter(queued, busy, took) == "new"
    del queued["new"]
    # before any has run, mutants count alike: the most waiting goes first
    queued["fast"].extend("uvwxyz")
    assert M._next_chapter(queued, [], {}) == "fast"
    assert M._next_chapter({M.KERNELS: deque()}, [], {}) is None


def test_the_bench_report_starts_the_slowest_chapters_first(tmp_path):
    """Before any mutant has run, the bench's report guesses each chapter's
    cost per mutant (half its time beyond the floor): the slow chapter
    with fewer mutants starts first. A missing report guesses nothing."""
    report = tmp_path / "bench.json"
    report.write_text(
        '[{"chapter": "09_slow", "seconds": 31.0, "floor_seconds": 8.0},'
        ' {"chapter": "04_fast", "seconds": 7.0, "floor_seconds": 3.0}]'
    )
    prior = M.costs_from_bench(report)
    assert prior == {"chapters/09_slow.md": 11.5, "chapters/04_fast.md": 2.0}
    assert M.costs_from_bench(tmp_path / "none.json") == {}
    queued = {
        M.KERNELS: deque(),
        "chapters/09_slow.md": deque("abc"),
        "chapters/04_fast.md": deque("uvwxyz"),
    }
    assert M._next_chapter(queued, [], {}, prior) == "chapters/09_slow.md"
    assert M._next_chapter(queued, [], {}) == "chapters/04_fast.md"
