"""The chapters the book is made of, read from _toc.yml (the single list of chapters).

``python tests/toc.py --notebooks`` prints the paired .ipynb of every chapter in
the toc: the Makefile hands that list to nbval, so a chapter is tested the
moment it is added to the toc.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"


def _files(entries):
    for entry in entries or []:
        if "file" in entry:
            yield entry["file"]
        yield from _files(entry.get("sections"))
        for part in entry.get("parts", []):
            yield from _files(part.get("chapters"))


def toc_files() -> list[str]:
    """Every document in _toc.yml (root included), as paths without suffix, relative to the root."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    files += _files(toc.get("chapters"))
    for part in toc.get("parts", []):
        files += _files(part.get("chapters"))
    return [str(Path(f).with_suffix("")) if Path(f).suffix in {".md", ".ipynb"} else f for f in files]


def toc_chapters() -> list[Path]:
    """The chapter sources (chapters/*.md) that the toc lists, in toc order."""
    return [ROOT / f"{f}.md" for f in toc_files() if f.startswith("chapters/")]


def chapter_files() -> list[Path]:
    """Every chapter source on disk (chapters/*.md)."""
    return sorted(CHAPTERS.glob("*.md"))


if __name__ == "__main__":
    if sys.argv[1:] != ["--notebooks"]:
        sys.exit("usage: python tests/toc.py --notebooks")
    print(" ".join(str(p.with_suffix(".ipynb").relative_to(ROOT)) for p in toc_chapters()))
