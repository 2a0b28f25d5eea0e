"""Style rules the book keeps everywhere: every code line fits 79 characters.

A code box on the site shows about 79 characters; a longer line scrolls
sideways inside its box. The rule covers the chapters' code cells, code/ and
tests/. `make format` (ruff, configured in pyproject.toml) wraps most lines;
comments and strings are wrapped by hand.
"""

from __future__ import annotations

import jupytext
import pytest

from toc import ROOT, chapter_files

WIDTH = 79

# TEMPORARY: files still being revised this round; each leaves the list when
# its revision lands.
PENDING: set[str] = set()


def _long_lines(lines):
    return [
        f"line {k}: {len(line)} characters: {line[:60]}..."
        for k, line in enumerate(lines, start=1)
        if len(line) > WIDTH
    ]


def _python_files():
    for folder in ("code", "tests"):
        yield from sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize(
    "path", list(_python_files()), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_python_lines_fit(path):
    name = path.relative_to(ROOT).as_posix()
    if name in PENDING:
        pytest.skip("being revised this round")
    long = _long_lines(path.read_text().splitlines())
    assert not long, f"{name}: lines over {WIDTH} characters:\n" + "\n".join(
        long
    )


@pytest.mark.parametrize("md", chapter_files(), ids=lambda p: p.name)
def test_chapter_code_lines_fit(md):
    name = md.relative_to(ROOT).as_posix()
    if name in PENDING:
        pytest.skip("being revised this round")
    long = []
    for k, cell in enumerate(jupytext.read(md).cells):
        if cell.cell_type == "code":
            long += [
                f"cell {k}, {line}"
                for line in _long_lines(cell.source.splitlines())
            ]
    assert not long, f"{name}: code lines over {WIDTH} characters:\n" + (
        "\n".join(long)
    )
