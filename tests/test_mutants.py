"""The mutation catalog (tests/mutants/) and its runner, booktools.mutants.

`make test` checks that every entry can be applied as written and that every
chapter has enough mutants; running them all is `make mutants` (in CI).
"""

from __future__ import annotations

import textwrap

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
