"""Seed sweeps (booktools.sweeps): every trained-model threshold of a
chapter holds for every seed, with a margin.

Two parts:

(a) the sweep of each chapter in ``SWEEPS`` (marker ``sweep``): the chapter
    runs once per seed in a fresh kernel, two at a time, and every threshold
    it asserts must hold for every seed with at least the stated margin. The
    table (worst seed and margin per threshold) is printed and written to
    ``_build/sweeps/``. These are slow (minutes) and are skipped unless
    pytest is given ``--sweep`` (or ``RNNBOOK_SWEEP=1`` is set): ``make
    sweep`` runs them, ``make test`` does not.
(b) unit tests of the machinery on a tiny NumPy-only chapter (seconds; they
    run in ``make test``).

A chapter joins the sweep by following the convention in the docstring of
``booktools.sweeps`` and adding a line to ``SWEEPS``.
"""

from __future__ import annotations

import json
import os
import textwrap
import time

import pytest
from booktools import sweeps as S
from toc import ROOT

# chapter file name: (number of seeds, the margin every threshold must keep)
SWEEPS = {
    "06_which_one_do_i_use": (20, 0.02),
    "09_attention_and_generation": (20, 0.02),
    "10_carrying_the_state": (20, 0.02),
}
OUT = ROOT / "_build" / "sweeps"


@pytest.mark.sweep
@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_every_threshold_holds_for_every_seed(name):
    seeds, min_margin = SWEEPS[name]
    seeds = int(os.environ.get("RNNBOOK_SWEEP_SEEDS", seeds))
    chapter = ROOT / "chapters" / f"{name}.md"
    start = time.perf_counter()
    runs = S.sweep(
        chapter,
        range(seeds),
        jobs=2,
        report=lambda run: print(
            f"{name} seed {run.seed:3d}: {run.seconds:5.1f} s"
            + (f", {len(run.errors)} errors" if run.errors else ""),
            flush=True,
        ),
    )
    claims = S.summarize(runs)
    S.write_reports(name, runs, claims, OUT)
    print(f"\n{name}: {seeds} seeds in {time.perf_counter() - start:.0f} s")
    print(S.markdown_table(claims))
    found = S.problems(runs, claims, min_margin)
    assert not found, "\n".join(found)


# --------------------------------------------------------------------------
# The machinery, on a tiny chapter whose "training" is a seeded draw

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
import os

import numpy as np
from rnnbook.display import glue

SEED = int(os.environ.get("RNNBOOK_SEED", "0"))
```

```{code-cell} ipython3
score = np.random.default_rng(SEED).uniform(0.5, 1.0)
glue("metric-score", score, display=False)
glue("threshold-score", THRESHOLD, display=False)
glue("direction-score", ">", display=False)
glue("metric-error", 1 - score, display=False)
glue("threshold-error", 0.6, display=False)
glue("direction-error", "<", display=False)
assert score > THRESHOLD
```

```{code-cell} ipython3
glue("after", 1.0, display=False)
```
"""


def _chapter(tmp_path, threshold):
    path = tmp_path / "chapters" / "01_a.md"
    path.parent.mkdir()
    path.write_text(CHAPTER.replace("THRESHOLD", str(threshold)))
    return path


def _score(seed):
    import numpy as np

    return np.random.default_rng(seed).uniform(0.5, 1.0)


def test_a_sweep_reads_back_every_seeds_claims(tmp_path):
    chapter = _chapter(tmp_path, 0.4)
    runs = S.sweep(chapter, [3, 1], jobs=2, code=ROOT / "code")
    assert [r.seed for r in runs] == [1, 3]
    assert all(not r.errors for r in runs), [r.errors for r in runs]
    claims = {c.name: c for c in S.summarize(runs)}
    assert set(claims) == {"score", "error"}
    score = claims["score"]
    worst = min([1, 3], key=_score)
    assert (score.worst_seed, score.direction) == (worst, ">")
    assert score.worst_metric == pytest.approx(_score(worst))
    assert score.margin == pytest.approx(_score(worst) - 0.4)
    error = claims["error"]
    assert error.margin == pytest.approx(0.6 - (1 - _score(worst)))
    assert not S.problems(runs, list(claims.values()), 0.01)
    paths = S.write_reports("01_a", runs, list(claims.values()), tmp_path)
    assert json.loads(paths[0].read_text())["seeds"] == [1, 3]
    assert "| score | > 0.4 |" in paths[2].read_text()


def test_a_failing_seed_is_reported_with_its_number(tmp_path):
    # with seed 0 the score is about 0.82: a threshold of 0.9 fails
    chapter = _chapter(tmp_path, 0.9)
    run = S.run_chapter(chapter, 0, code=ROOT / "code")
    assert len(run.errors) == 1 and "AssertionError" in run.errors[0]
    assert run.glued["after"] == 1.0  # the cells after the failure ran
    claims = S.summarize([run])
    score = {c.name: c for c in claims}["score"]
    assert score.failed_seeds == [0]
    assert score.margin == pytest.approx(_score(0) - 0.9)
    found = S.problems([run], claims, 0.0)
    assert any("AssertionError" in f for f in found)
    assert any(f.startswith("score:") for f in found)


def test_a_broken_convention_is_an_error():
    with pytest.raises(ValueError, match="direction-x"):
        S.claims_of({"metric-x": 1.0, "threshold-x": 0.5})
    with pytest.raises(ValueError, match="direction-x"):
        S.claims_of({"metric-x": 1.0, "threshold-x": 0.5, "direction-x": ">="})
    assert S.claims_of({"other": 1.0}) == {}


def test_a_missing_claim_and_a_small_margin_are_problems():
    runs = [
        S.Run(
            0, 1.0, {"metric-a": 0.95, "threshold-a": 0.9, "direction-a": ">"}
        ),
        S.Run(1, 1.0, {}),
    ]
    claims = S.summarize(runs)
    assert claims[0].missing == [1]
    found = S.problems(runs, claims, 0.1)
    assert any("not reported by seeds [1]" in f for f in found)
    assert any("margin 0.0500 < 0.1" in f for f in found)


def test_the_sweeps_are_skipped_unless_asked(request):
    """tests/conftest.py skips every test marked `sweep` unless pytest was
    given --sweep (or RNNBOOK_SWEEP=1): `make test` runs none of them."""
    asked = bool(
        request.config.getoption("--sweep")
        or os.environ.get("RNNBOOK_SWEEP") == "1"
    )
    markers = request.config.getini("markers")
    assert any(m.startswith("sweep:") for m in markers), markers
    collected = [
        item
        for item in request.session.items
        if item.get_closest_marker("sweep")
    ]
    for item in collected:
        assert (item.get_closest_marker("skip") is None) == asked, item


CHAPTER = textwrap.dedent(CHAPTER)


def test_claim_glues_its_three_values_before_it_asserts():
    """rnnbook.display.claim, the chapters' side of the convention: the
    metric, threshold and direction are glued even when the claim fails."""
    from rnnbook.display import GLUED, claim

    claim("unit-ok", 0.9, ">", 0.5)
    with pytest.raises(AssertionError, match="unit-low: 0.100 is not > 0.5"):
        claim("unit-low", 0.1, ">", 0.5)
    assert S.claims_of(GLUED)["unit-low"] == (0.1, 0.5, ">")
    claim("unit-under", 0.1, "<", 0.5)
    with pytest.raises(AssertionError):
        claim("unit-over", 0.9, "<", 0.5)
    with pytest.raises(ValueError, match="op must be '>' or '<'"):
        claim("unit-bad", 0.9, ">=", 0.5)
