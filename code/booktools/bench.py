"""Measure what each chapter costs, next to its floor, and enforce the budgets.

``python -m booktools.bench [--out _build/bench] [--chapter NN] [--jobs N]``
executes every chapter listed in ``_toc.yml`` in a fresh kernel and records

* ``seconds``: wall time from kernel start to the last cell's end;
* ``peak_mb``: the kernel's peak resident memory (its own high-water mark, or
  the sampled memory of the kernel with its child processes, whichever is
  larger);

and the same two numbers for the chapter's **floor**: a notebook that only
starts a kernel and runs the chapter's own top-level ``import`` lines (and the
``os.environ`` lines before them, which choose the Keras flavour). The
difference is what the chapter's own work costs.

With ``--jobs 2`` (``make bench``) two chapters are measured at a time, each
worker process pinned to a core of its own (``sched_setaffinity``; the
kernels it starts inherit it): a chapter and its floor always run on one core
that nothing else of the bench uses, so both are measured alike, and the
whole bench takes about 40 % less time (chapters that train are the
longest, so two cores do not halve it). Before any measurement, one
unmeasured kernel imports everything the floors import.

Budgets (exit status 1 when one is exceeded): peak memory under 1.5 GB per
chapter (Binder gives 2 GB), and time under ``2 × floor + 20 s``; a chapter
over budget is measured again, up to three times, and the last measurement
stands. Writes
``bench.csv``, ``bench.json`` and ``bench.png`` into the output folder.

With ``--cache _build/.jupyter_cache`` (``make bench``) each executed chapter
is also stored in the book build's execution cache, exactly as the build
stores a chapter it executes (jupyter-cache, keyed by the code cells): the
kernel, the working folder and the environment are the build's, so a later
``make book`` or ``make test`` renders those outputs instead of running the
chapter a second time. CI runs ``make bench`` first for that reason.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import jupytext
import nbformat
import psutil
from nbclient import NotebookClient

from . import kernel_environment
from .toc import toc_chapters

PEAK_MB_BUDGET = 1500.0
TIME_FACTOR, TIME_SLACK_S = 2.0, 20.0

_PEAK_CELL = (
    "print('BENCH_VMHWM', open('/proc/self/status').read()"
    ".split('VmHWM:')[1].split()[0])"
)


class _TreeSampler(threading.Thread):
    """Samples the resident memory of a process and all its descendants
    every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.process, self.interval, self.peak_bytes = (
            psutil.Process(pid),
            interval,
            0,
        )
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            total = 0
            try:
                tree = [self.process, *self.process.children(recursive=True)]
            except psutil.Error:
                return
            for proc in tree:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak_bytes


def _is_setup(statement: ast.stmt) -> bool:
    """An import, or a statement that sets ``os.environ`` (it may choose
    the Keras flavour)."""
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return True
    text = ast.unparse(statement)
    return text.startswith(
        ("os.environ[", "os.environ.setdefault(", "os.environ.update(")
    )


def floor_source(notebook) -> str:
    """The chapter's top-level imports and ``os.environ`` settings, in
    chapter order, as one cell."""
    statements = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        python = "\n".join(
            line
            for line in cell.source.splitlines()
            if not line.lstrip().startswith(("%", "!"))
        )
        try:
            tree = ast.parse(python)
        except SyntaxError:
            # not Python (a magic the filter missed): nothing to import
            continue
        for statement in tree.body:
            text = ast.get_source_segment(python, statement)
            if _is_setup(statement) and text not in statements:
                statements.append(text)
    return "\n".join(statements) or "pass"


def run_notebook(notebook, cwd: Path, timeout: int = 600) -> dict:
    """Execute ``notebook`` in a fresh kernel; return its seconds, its peak
    MB and the executed notebook (``"executed"``, without the cell that
    reads the peak).

    The peak is the larger of the kernel's own high-water mark (``VmHWM``,
    exact) and the sampled resident memory of the kernel with its child
    processes (a chapter that starts a subprocess pays for both at once).
    ``ru_maxrss`` is not used: on Linux it survives ``exec``, so a kernel
    launched from a large process would report that process's size.
    """
    notebook = nbformat.from_dict(notebook)  # a copy
    notebook.cells.append(nbformat.v4.new_code_cell(_PEAK_CELL))
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    start = time.perf_counter()
    with client.setup_kernel():
        sampler = _TreeSampler(client.km.provisioner.pid)
        sampler.start()
        try:
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
        finally:
            tree_peak = sampler.stop()
    seconds = time.perf_counter() - start
    text = "".join(
        o.get("text", "")
        for o in notebook.cells[-1].outputs
        if o.get("output_type") == "stream"
    )
    kernel_peak_kb = int(text.split("BENCH_VMHWM", 1)[1].split()[0])
    notebook.cells.pop()
    return {
        "seconds": seconds,
        "peak_mb": max(kernel_peak_kb * 1024, tree_peak) / 2**20,
        "executed": notebook,
    }


def store_in_cache(cache_path: Path, md: Path, chapter, executed, seconds):
    """Put ``chapter`` (read from ``md``) into the build's jupyter-cache at
    ``cache_path`` with the outputs of its run ``executed``, as myst-nb
    does after executing it. The cache is keyed by the code cells and
    their metadata, so the outputs go into a copy of ``chapter``: nbclient
    adds timing metadata to the cells it runs."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    filled = nbformat.from_dict(chapter)  # a copy
    for cell, ran in zip(filled.cells, executed.cells, strict=True):
        if cell.cell_type == "code":
            cell.outputs = ran.outputs
            cell.execution_count = ran.execution_count
    bundle = CacheBundleIn(
        filled, str(md.resolve()), data={"execution_seconds": seconds}
    )
    get_cache(str(cache_path)).cache_notebook_bundle(
        bundle, check_validity=False, overwrite=True
    )


def warm_up_source(notebooks) -> str:
    """One cell that imports every module the chapters' floors import,
    each import on its own (one that fails is passed over)."""
    imports = []
    for notebook in notebooks:
        tree = ast.parse(floor_source(notebook))
        for statement in tree.body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                text = ast.unparse(statement)
                if text not in imports:
                    imports.append(text)
    return "".join(
        f"try:\n    {text}\nexcept Exception:\n    pass\n" for text in imports
    )


def measure(md: Path, chapter) -> tuple[dict, object]:
    """Run the floor of ``chapter`` (read from ``md``), then the chapter,
    each in a fresh kernel; return its row and the executed chapter."""
    floor = nbformat.v4.new_notebook(metadata=chapter.metadata)
    floor.cells.append(nbformat.v4.new_code_cell(floor_source(chapter)))
    floor_run = run_notebook(floor, md.parent)
    chapter_run = run_notebook(chapter, md.parent)
    time_budget = TIME_FACTOR * floor_run["seconds"] + TIME_SLACK_S
    row = {
        "chapter": md.stem,
        "seconds": round(chapter_run["seconds"], 2),
        "floor_seconds": round(floor_run["seconds"], 2),
        "ratio": round(chapter_run["seconds"] / floor_run["seconds"], 2),
        "time_budget_seconds": round(time_budget, 2),
        "peak_mb": round(chapter_run["peak_mb"], 1),
        "floor_mb": round(floor_run["peak_mb"], 1),
    }
    row["within_budget"] = bool(
        chapter_run["seconds"] <= time_budget
        and chapter_run["peak_mb"] <= PEAK_MB_BUDGET
    )
    return row, chapter_run["executed"]


def _pin_to_a_core(cores) -> None:
    """A bench worker's initializer: take one core of ``cores`` (a queue)
    for this process and the kernels it starts."""
    os.sched_setaffinity(0, {cores.get()})


#: How many times a chapter over budget is measured before it fails: a
#: wall-clock time on a shared 2-core machine varies by up to a third from
#: run to run (chapter 9: 25 to 36 s in four runs of the same code).
MEASUREMENTS = 3


def measure_until_within(md: Path, chapter) -> tuple[dict, object]:
    """:func:`measure`, again while the chapter is over budget, at most
    :data:`MEASUREMENTS` times: the last measurement stands, so a chapter
    fails only when every measurement is over budget."""
    for attempt in range(1, MEASUREMENTS + 1):
        row, executed = measure(md, chapter)
        if row["within_budget"] or attempt == MEASUREMENTS:
            return row, executed
        print(
            f"{md.stem}: over budget ({row['seconds']} s, "
            f"{row['peak_mb']} MB); measuring it again",
            flush=True,
        )


def measure_all(chapters, jobs: int):
    """Yield ``(md, row, executed)`` for each of ``chapters`` (``(md,
    notebook)`` pairs) as it finishes: one at a time with ``jobs`` 1, else
    ``jobs`` spawned workers, each pinned to a core of its own, so every
    chapter and its floor run on one core that nothing else uses. Where a
    process cannot be pinned (macOS has no ``sched_setaffinity``), or
    there is one core, one at a time."""
    pinnable = hasattr(os, "sched_setaffinity")
    cores = sorted(os.sched_getaffinity(0)) if pinnable else []
    if jobs == 1 or len(cores) < 2 or len(chapters) < 2:
        for md, chapter in chapters:
            yield (md, *measure_until_within(md, chapter))
        return
    jobs = min(jobs, len(cores), len(chapters))
    context = multiprocessing.get_context("spawn")
    free = context.Queue()
    for core in cores[:jobs]:
        free.put(core)
    with ProcessPoolExecutor(
        jobs, context, initializer=_pin_to_a_core, initargs=(free,)
    ) as pool:
        running = {
            pool.submit(measure_until_within, md, chapter): md
            for md, chapter in chapters
        }
        for done in as_completed(running):
            yield (running[done], *done.result())


def bench(
    root: Path,
    only: list[str] | None = None,
    cache: Path | None = None,
    jobs: int = 1,
) -> list[dict]:
    """One row per chapter in the toc (or those matching ``only``), in toc
    order: chapter, seconds, floor_seconds, ratio, peak_mb, floor_mb,
    within_budget; ``jobs`` chapters at a time (:func:`measure_all`). With
    ``cache``, each executed chapter is stored in that jupyter-cache
    (:func:`store_in_cache`)."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    chapters = [
        (md, jupytext.read(md))
        for md in toc_chapters(root)
        if not only or any(part in md.stem for part in only)
    ]
    # Unmeasured: the first import of each module after `make setup` reads
    # it from disk; that one-time cost must not count against the first
    # chapter that imports it.
    warm_up = nbformat.v4.new_notebook()
    warm_up.cells.append(
        nbformat.v4.new_code_cell(warm_up_source(c for _, c in chapters))
    )
    if chapters:
        run_notebook(warm_up, chapters[0][0].parent)
    notebooks = dict(chapters)
    rows = {}
    for md, row, executed in measure_all(chapters, jobs):
        if cache is not None:
            store_in_cache(cache, md, notebooks[md], executed, row["seconds"])
        rows[md] = row
        print(_format_row(row), flush=True)
    return [rows[md] for md, _ in chapters]


_COLUMNS = [
    "chapter",
    "seconds",
    "floor_seconds",
    "ratio",
    "time_budget_seconds",
    "peak_mb",
    "floor_mb",
    "within_budget",
]
_WIDTHS = [40, 8, 14, 6, 20, 8, 9, 13]


def _format_row(row: dict) -> str:
    return "".join(str(row[c]).ljust(w) for c, w in zip(_COLUMNS, _WIDTHS))


def write_reports(rows: list[dict], out: Path) -> None:
    """``bench.csv``, ``bench.json`` and ``bench.png``: time and memory per
    chapter, with the floor and the budgets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "bench.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "bench.json").write_text(json.dumps(rows, indent=2))

    names = [r["chapter"] for r in rows]
    y = range(len(rows))
    fig, (ax_t, ax_m) = plt.subplots(
        1,
        2,
        figsize=(11, 0.5 * len(rows) + 1.8),
        layout="constrained",
        sharey=True,
    )
    ax_t.barh(
        y, [r["seconds"] for r in rows], color="tab:blue", label="chapter"
    )
    ax_t.barh(
        y,
        [r["floor_seconds"] for r in rows],
        color="tab:gray",
        alpha=0.7,
        label="floor (imports only)",
    )
    ax_t.scatter(
        [r["time_budget_seconds"] for r in rows],
        y,
        marker="|",
        s=300,
        color="tab:red",
        label="budget",
    )
    ax_t.set_yticks(list(y), names)
    ax_t.invert_yaxis()
    ax_t.set_xlabel("wall time (s)")
    ax_t.legend(loc="lower right", fontsize=8)
    ax_m.barh(
        y, [r["peak_mb"] for r in rows], color="tab:green", label="chapter"
    )
    ax_m.barh(
        y,
        [r["floor_mb"] for r in rows],
        color="tab:gray",
        alpha=0.7,
        label="floor (imports only)",
    )
    ax_m.axvline(PEAK_MB_BUDGET, color="tab:red", label="budget")
    ax_m.set_xlabel("peak resident memory of the kernel (MB)")
    ax_m.legend(loc="lower right", fontsize=8)
    fig.suptitle("Cost of each chapter, executed alone in a fresh kernel")
    fig.savefig(out / "bench.png", dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path.cwd(),
        help="the book's root (with _toc.yml)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report folder (default: ROOT/_build/bench)",
    )
    parser.add_argument(
        "--chapter",
        action="append",
        default=[],
        help="only the chapters whose name contains this (repeatable)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="also store each executed chapter in this jupyter-cache (the "
        "build's, _build/.jupyter_cache), so the build does not run it again",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        help="chapters measured at a time, each on a core of its own",
    )
    args = parser.parse_args(argv)
    out = args.out or args.root / "_build" / "bench"
    kernel_environment()
    print(_format_row({c: c for c in _COLUMNS}))
    rows = bench(args.root, args.chapter, args.cache, args.jobs)
    write_reports(rows, out)
    over = [r["chapter"] for r in rows if not r["within_budget"]]
    print(
        f"\nReports: {out / 'bench.csv'}, {out / 'bench.json'}, "
        f"{out / 'bench.png'}"
    )
    print(
        f"Budgets: peak < {PEAK_MB_BUDGET:.0f} MB; time < {TIME_FACTOR:g} x "
        f"floor + {TIME_SLACK_S:g} s."
    )
    if over:
        print(f"OVER BUDGET: {', '.join(over)}")
        return 1
    print("All chapters are within budget.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
