"""Seed sweeps: does every trained-model threshold of a chapter hold for
every seed, and by how much?

A chapter that trains models asserts thresholds on what it measures ("the
tagger scores more than 0.95"). One seed passing proves little: the sweep
reruns the whole chapter once per seed and reports, for each threshold, the
worst seed and its margin.

The convention a chapter follows to take part (any chapter can):

* it reads its seed from the environment variable ``RNNBOOK_SEED``
  (default 0) and draws every random number (data, initial weights, batch
  order) from it;
* for every threshold it asserts, it glues three values with
  ``rnnbook.display.glue(..., display=False)``, under one name ``X``:

  ``metric-X``
      the measured number (a float);
  ``threshold-X``
      the bound the chapter asserts (a float);
  ``direction-X``
      ``">"`` when the chapter asserts ``metric > threshold``, ``"<"``
      when it asserts ``metric < threshold``.

  Glue them *before* the assert, so a seed that fails still reports its
  number. :func:`rnnbook.display.claim` does both, and the chapters call
  it: ``claim("tag-outputs", accuracy, ">", 0.9)``.

The *margin* of a claim for one seed is how far the metric is on the right
side of its threshold (``metric - threshold`` for ``>``, ``threshold -
metric`` for ``<``); negative means the claim failed for that seed.

:func:`run_chapter` executes a chapter (a MyST ``.md``, through jupytext) in
a fresh kernel with ``RNNBOOK_SEED`` set, lets every cell run even after an
error, and reads back :data:`rnnbook.display.GLUED` (every value glued in the
kernel) with one injected last cell that prints it as JSON. :func:`sweep`
does that for many seeds, ``jobs`` kernels at a time; :func:`summarize` turns
the runs into one row per claim (worst seed, worst metric, margin, mean); and
:func:`write_reports` writes ``NAME.json``, ``NAME.csv`` and ``NAME.md``.

Command line (``make sweep`` runs ``tests/test_seed_sweeps.py`` instead,
which calls the same functions and asserts the margins)::

    python -m booktools.sweeps --chapter 06 [--seeds 20] [--jobs 2]
        [--margin 0.02] [--out _build/sweeps]

prints the table and exits non-zero when a cell failed for some seed, when a
claim is missing from some seed's run, or when a margin is below
``--margin``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import worker_pool

SEED_VARIABLE = "RNNBOOK_SEED"
DIRECTIONS = (">", "<")
_MARK = "RNNBOOK_SWEEP_GLUED "
# The injected last cell: every glued number and string, as one JSON line.
_READ_BACK = f"""\
import json as _json, numbers as _numbers
from rnnbook.display import GLUED as _GLUED
print({_MARK!r} + _json.dumps({{
    _k: (float(_v) if isinstance(_v, _numbers.Real) else _v)
    for _k, _v in _GLUED.items()
    if isinstance(_v, (_numbers.Real, str))
}}))
"""


@dataclass
class Run:
    """One execution of a chapter with one seed.

    ``glued`` holds every glued number and string; ``errors`` one line per
    cell that raised (``cell K: Name: message``); ``seconds`` the wall time
    from kernel start to the last cell.
    """

    seed: int
    seconds: float
    glued: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)


@dataclass
class Claim:
    """One threshold of a chapter, over every seed of a sweep."""

    name: str
    direction: str
    threshold: float
    seeds: int  # runs that reported this claim
    missing: list  # seeds whose run did not report it
    worst_seed: int
    worst_metric: float
    margin: float  # the worst seed's margin (negative: the claim failed)
    mean_metric: float
    failed_seeds: list  # seeds for which the claim does not hold


def claims_of(glued: dict) -> dict:
    """The claims in one run's glued values: ``{X: (metric, threshold,
    direction)}`` for every ``X`` with all three of ``metric-X``,
    ``threshold-X`` and ``direction-X``. A ``metric-X`` without its
    threshold or direction, or a direction other than ``>`` and ``<``, is a
    ``ValueError``: the chapter broke the convention."""
    claims = {}
    for key, metric in glued.items():
        if not key.startswith("metric-"):
            continue
        name = key[len("metric-") :]
        threshold = glued.get(f"threshold-{name}")
        direction = glued.get(f"direction-{name}")
        if threshold is None or direction not in DIRECTIONS:
            raise ValueError(
                f"metric-{name} needs threshold-{name} (a number) and "
                f"direction-{name} ('>' or '<'); got {threshold!r} and "
                f"{direction!r}"
            )
        claims[name] = (float(metric), float(threshold), direction)
    return claims


def margin(metric: float, threshold: float, direction: str) -> float:
    """How far ``metric`` is on the right side of ``threshold``."""
    if direction == ">":
        return metric - threshold
    if direction == "<":
        return threshold - metric
    raise ValueError(f"direction must be '>' or '<', not {direction!r}")


def _error_lines(notebook) -> list[str]:
    lines = []
    for k, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                text = f"{output.get('ename')}: {output.get('evalue')}"
                lines.append(f"cell {k}: " + " ".join(text.split())[:300])
    return lines


def run_chapter(
    chapter: str | Path,
    seed: int,
    timeout: int = 600,
    code: str | Path | None = None,
) -> Run:
    """Execute ``chapter`` once with ``RNNBOOK_SEED=seed`` in a fresh kernel
    (every cell runs, even after an error) and return what it glued.

    ``code`` is put first on the kernel's ``PYTHONPATH`` (default: the
    ``code/`` folder beside the chapter's folder, so that the checkout's
    ``rnnbook`` is the one imported)."""
    import jupytext
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    chapter = Path(chapter).resolve()
    code = Path(code) if code else chapter.parent.parent / "code"
    notebook = jupytext.read(chapter)
    notebook.cells.append(nbformat.v4.new_code_cell(_READ_BACK))
    env = dict(os.environ)
    env[SEED_VARIABLE] = str(seed)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(code)] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"sweep-{seed}-") as tmp:
        # IPC (a socket file in the scratch folder), not TCP: no port to
        # find and no "running over TCP without encryption" warning.
        km = KernelManager(
            kernel_name="python3",
            transport="ipc",
            connection_file=str(Path(tmp) / "kernel.json"),
        )
        client = NotebookClient(
            notebook,
            km=km,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(chapter.parent)}},
        )
        # The kernel's own stderr (TensorFlow's start-up log lines) goes to a
        # file, not to the terminal of `make sweep`; its tail is kept when
        # the kernel dies.
        log = Path(tmp) / "kernel-stderr.txt"
        try:
            with open(log, "w") as stderr:
                client.execute(env=env, stderr=stderr)
        except Exception as error:  # noqa: BLE001 (a timeout, a dead kernel)
            tail = " ".join(log.read_text().split()[-40:])
            return Run(
                seed,
                time.perf_counter() - start,
                errors=[f"{type(error).__name__}: {error}"[:300], tail],
            )
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    seconds = time.perf_counter() - start
    errors = _error_lines(notebook)
    printed = "".join(
        o.get("text", "")
        for o in notebook.cells[-1].get("outputs", [])
        if o.get("output_type") == "stream"
    )
    if _MARK not in printed:
        errors.append("the glued values could not be read back")
        return Run(seed, seconds, errors=errors)
    glued = json.loads(printed.split(_MARK, 1)[1].splitlines()[0])
    return Run(seed, seconds, glued=glued, errors=errors)


def _run_one(args) -> Run:
    return run_chapter(*args)


def sweep(
    chapter: str | Path,
    seeds,
    jobs: int = 2,
    timeout: int = 600,
    report=None,
    code: str | Path | None = None,
) -> list[Run]:
    """``run_chapter`` for every seed, ``jobs`` kernels at a time; calls
    ``report(run)`` as each finishes; returns the runs in seed order."""
    seeds = list(seeds)
    work = [(str(chapter), seed, timeout, code) for seed in seeds]
    runs = []
    with worker_pool(jobs) as pool:
        for run in pool.map(_run_one, work):
            runs.append(run)
            if report:
                report(run)
    return sorted(runs, key=lambda r: r.seed)


def summarize(runs: list[Run]) -> list[Claim]:
    """One :class:`Claim` per claim name seen in any run, worst margin
    first."""
    per_claim: dict[str, dict[int, tuple]] = {}
    for run in runs:
        for name, values in claims_of(run.glued).items():
            per_claim.setdefault(name, {})[run.seed] = values
    rows = []
    for name, by_seed in per_claim.items():
        thresholds = {(t, d) for _, t, d in by_seed.values()}
        if len(thresholds) != 1:
            raise ValueError(
                f"claim {name!r} changes its threshold or direction with "
                f"the seed: {sorted(thresholds)}"
            )
        ((threshold, direction),) = thresholds
        margins = {
            seed: margin(metric, threshold, direction)
            for seed, (metric, _, _) in by_seed.items()
        }
        worst = min(margins, key=lambda s: (margins[s], s))
        metrics = [m for m, _, _ in by_seed.values()]
        rows.append(
            Claim(
                name=name,
                direction=direction,
                threshold=threshold,
                seeds=len(by_seed),
                missing=sorted(r.seed for r in runs if r.seed not in by_seed),
                worst_seed=worst,
                worst_metric=by_seed[worst][0],
                margin=margins[worst],
                mean_metric=sum(metrics) / len(metrics),
                failed_seeds=sorted(s for s, m in margins.items() if m <= 0),
            )
        )
    return sorted(rows, key=lambda c: (c.margin, c.name))


def problems(runs: list[Run], claims: list[Claim], min_margin: float):
    """Every reason the sweep fails: a cell that raised for some seed, a
    claim missing from some seed's run, a margin below ``min_margin``, or
    no claim at all."""
    found = []
    for run in runs:
        for error in run.errors:
            found.append(f"seed {run.seed}: {error}")
    if not claims:
        found.append("the chapter glued no metric-X/threshold-X/direction-X")
    for claim in claims:
        if claim.missing:
            found.append(
                f"{claim.name}: not reported by seeds {claim.missing}"
            )
        if claim.margin < min_margin:
            found.append(
                f"{claim.name}: {claim.worst_metric:.4f} "
                f"{claim.direction} {claim.threshold:g} with seed "
                f"{claim.worst_seed}: margin {claim.margin:.4f} < "
                f"{min_margin:g}"
            )
    return found


_COLUMNS = [
    "claim",
    "threshold",
    "worst seed",
    "worst value",
    "margin",
    "mean",
    "seeds",
]


def _table_rows(claims: list[Claim]) -> list[list[str]]:
    return [
        [
            c.name,
            f"{c.direction} {c.threshold:g}",
            str(c.worst_seed),
            f"{c.worst_metric:.3f}",
            f"{c.margin:.3f}",
            f"{c.mean_metric:.3f}",
            str(c.seeds),
        ]
        for c in claims
    ]


def markdown_table(claims: list[Claim]) -> str:
    """The claims as a Markdown table, worst margin first."""
    lines = [
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "---|" * len(_COLUMNS),
    ]
    for row in _table_rows(claims):
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_reports(
    name: str, runs: list[Run], claims: list[Claim], out: str | Path
) -> list[Path]:
    """``NAME.json`` (every run and claim), ``NAME.csv`` and ``NAME.md``
    (the table) in ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.{ext}" for ext in ("json", "csv", "md")]
    paths[0].write_text(
        json.dumps(
            {
                "seeds": [r.seed for r in runs],
                "seconds": [round(r.seconds, 2) for r in runs],
                "claims": [asdict(c) for c in claims],
                "runs": [asdict(r) for r in runs],
            },
            indent=1,
        )
    )
    with open(paths[1], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(_COLUMNS)
        writer.writerows(_table_rows(claims))
    seconds = [r.seconds for r in runs]
    paths[2].write_text(
        markdown_table(claims)
        + f"\n\n{len(runs)} seeds ({min(r.seed for r in runs)} to "
        f"{max(r.seed for r in runs)}); one run took "
        f"{min(seconds):.0f} to {max(seconds):.0f} s.\n"
    )
    return paths


def find_chapter(root: str | Path, part: str) -> Path:
    """The one chapter in the toc whose file name contains ``part``."""
    from .toc import toc_chapters

    hits = [md for md in toc_chapters(Path(root)) if part in md.stem]
    if len(hits) != 1:
        raise ValueError(
            f"{part!r} names {len(hits)} chapters in the toc, not one: "
            f"{[h.stem for h in hits]}"
        )
    return hits[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booktools.sweeps",
        description="Rerun a chapter once per seed and report the margin of "
        "every threshold it asserts.",
    )
    parser.add_argument("--root", default=".", type=Path)
    parser.add_argument(
        "--chapter", required=True, help="a part of the chapter's file name"
    )
    parser.add_argument("--seeds", default=20, type=int)
    parser.add_argument("--first-seed", default=0, type=int)
    parser.add_argument("--jobs", "-j", default=2, type=int)
    parser.add_argument("--margin", default=0.02, type=float)
    parser.add_argument("--timeout", default=600, type=int)
    parser.add_argument("--out", default=Path("_build") / "sweeps", type=Path)
    args = parser.parse_args(argv)

    chapter = find_chapter(args.root, args.chapter)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    start = time.perf_counter()

    def report(run: Run) -> None:
        state = "errors" if run.errors else "ok"
        print(f"seed {run.seed:3d}: {run.seconds:5.1f} s, {state}", flush=True)

    runs = sweep(
        chapter, seeds, jobs=args.jobs, timeout=args.timeout, report=report
    )
    claims = summarize(runs)
    write_reports(chapter.stem, runs, claims, args.out)
    print(markdown_table(claims))
    print(
        f"{len(runs)} seeds in {time.perf_counter() - start:.0f} s "
        f"({args.jobs} jobs); reports in {args.out}"
    )
    found = problems(runs, claims, args.margin)
    for problem in found:
        print("FAILED: " + problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
