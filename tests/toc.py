"""The chapters the book is made of, read from _toc.yml by booktools.toc.

``python tests/toc.py --notebooks`` prints the paired .ipynb of every chapter
in the toc: the Makefile hands that list to nbval, so a chapter is tested the
moment it is added to the toc.
"""

from __future__ import annotations

import sys
from pathlib import Path

from booktools import toc as _toc

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"


def toc_files() -> list[str]:
    """Every document in _toc.yml (root included), as paths without suffix,
    relative to the root."""
    return _toc.toc_files(ROOT)


def toc_chapters() -> list[Path]:
    """The chapter sources (chapters/*.md) that the toc lists, in toc order."""
    return _toc.toc_chapters(ROOT)


def chapter_files() -> list[Path]:
    """Every chapter source on disk (chapters/*.md)."""
    return sorted(CHAPTERS.glob("*.md"))


if __name__ == "__main__":
    if sys.argv[1:] != ["--notebooks"]:
        sys.exit("usage: python tests/toc.py --notebooks")
    print(
        " ".join(
            str(p.with_suffix(".ipynb").relative_to(ROOT))
            for p in toc_chapters()
        )
    )
