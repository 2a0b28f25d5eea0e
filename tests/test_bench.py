"""booktools.bench: the floor it builds, the numbers it reads, the budgets it
enforces."""

from __future__ import annotations

import json

import jupytext
import nbformat
import pytest

from booktools import bench


def _chapter(*sources):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return notebook


def test_floor_keeps_imports_and_environment_lines_in_chapter_order():
    notebook = _chapter(
        'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\n'
        "import numpy as np\nx = np.zeros(3)",
        "from rnnbook import (rnn_forward,\n    lstm_forward)\n"
        "import numpy as np\ndef f():\n    import json\n"
        "%matplotlib inline\nfrom math import pi",
        "this is not python (",
    )
    assert bench.floor_source(notebook).splitlines() == [
        "import os",
        'os.environ["TF_USE_LEGACY_KERAS"] = "1"',
        "import numpy as np",
        "from rnnbook import (rnn_forward,",
        "    lstm_forward)",
        "from math import pi",
    ]
    assert bench.floor_source(_chapter("x = 1")) == "pass"


def _book(tmp_path, cell_source):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: chapters/a\n"
    )
    chapter = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            }
        }
    )
    chapter.cells = [
        nbformat.v4.new_markdown_cell("# A"),
        nbformat.v4.new_code_cell(cell_source),
    ]
    jupytext.write(chapter, tmp_path / "chapters" / "a.md", fmt="md:myst")
    return tmp_path


def test_a_small_chapter_is_measured_and_within_budget(tmp_path):
    root = _book(
        tmp_path,
        "import json\nblock = b\"x\" * (200 * 2**20)  # 200 MB, written",
    )
    (row,) = bench.bench(root)
    assert row["chapter"] == "a"
    assert row["seconds"] > 0 and row["floor_seconds"] > 0
    assert row["peak_mb"] > row["floor_mb"] + 150, (
        "the 200 MB the chapter allocates must show in its peak"
    )
    assert row["within_budget"] is True
    bench.write_reports([row], tmp_path / "out")
    assert (
        json.loads((tmp_path / "out" / "bench.json").read_text())[0]["chapter"]
        == "a"
    )
    assert (
        (tmp_path / "out" / "bench.csv")
        .read_text()
        .startswith("chapter,seconds,floor_seconds")
    )
    assert (tmp_path / "out" / "bench.png").stat().st_size > 1000


def test_over_budget_exits_non_zero(tmp_path, monkeypatch, capsys):
    root = _book(tmp_path, "x = 1")
    monkeypatch.setattr(bench, "PEAK_MB_BUDGET", 1.0)
    monkeypatch.setattr(bench, "MEASUREMENTS", 2)
    assert (
        bench.main(["--root", str(root), "--out", str(tmp_path / "out")]) == 1
    )
    out = capsys.readouterr().out
    assert out.count("a: over budget (") == 1  # measured twice, then fails
    assert "OVER BUDGET: a" in out


def test_a_root_without_a_toc_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no _toc.yml"):
        bench.bench(tmp_path)


def test_an_executed_chapter_is_left_in_the_builds_cache(tmp_path):
    """With ``cache``, the build finds the chapter executed (the cache is
    keyed by the code cells, as myst-nb looks it up), with the chapter's
    outputs and without the cell the bench added."""
    from jupyter_cache import get_cache

    root = _book(tmp_path, "print('ran in the bench')")
    bench.bench(root, cache=tmp_path / "cache")
    chapter = jupytext.read(root / "chapters" / "a.md")
    cache = get_cache(str(tmp_path / "cache"))
    _, merged = cache.merge_match_into_notebook(chapter)
    (code,) = [c for c in merged.cells if c.cell_type == "code"]
    assert code.outputs[0]["text"] == "ran in the bench\n"
    assert "BENCH_VMHWM" not in json.dumps(merged)


def test_two_at_a_time_each_chapter_has_a_core_of_its_own(tmp_path):
    """With ``jobs`` 2 the rows still come in toc order, and each chapter
    runs on one core (read from its output in the cache)."""
    from jupyter_cache import get_cache

    (tmp_path / "chapters").mkdir()
    names = ["b", "a"]
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n"
        + "".join(f"  - file: chapters/{name}\n" for name in names)
    )
    probe = "import os\nprint(len(os.sched_getaffinity(0)))"
    for name in names:
        chapter = _chapter(probe)
        chapter.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        jupytext.write(chapter, tmp_path / "chapters" / f"{name}.md")
    rows = bench.bench(tmp_path, cache=tmp_path / "cache", jobs=2)
    assert [row["chapter"] for row in rows] == names
    cache = get_cache(str(tmp_path / "cache"))
    for name in names:
        chapter = jupytext.read(tmp_path / "chapters" / f"{name}.md")
        _, merged = cache.merge_match_into_notebook(chapter)
        assert merged.cells[0].outputs[0]["text"] == "1\n", name


def test_jobs_must_be_positive(tmp_path):
    root = _book(tmp_path, "x = 1")
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        bench.bench(root, jobs=0)


def test_without_pinning_the_chapters_run_one_at_a_time(monkeypatch):
    """Where processes cannot be pinned to a core (macOS), ``jobs`` 2 runs
    the chapters in this process, one after the other."""
    monkeypatch.delattr(bench.os, "sched_setaffinity", raising=False)
    ran = []

    def fake(md, chapter):
        ran.append(md)
        return {"chapter": md}, chapter

    monkeypatch.setattr(bench, "measure_until_within", fake)
    chapters = [("a", "A"), ("b", "B")]
    assert list(bench.measure_all(chapters, 2)) == [
        ("a", {"chapter": "a"}, "A"),
        ("b", {"chapter": "b"}, "B"),
    ]
    assert ran == ["a", "b"]
