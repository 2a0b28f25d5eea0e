"""The book's chapter list, read from ``_toc.yml`` (the one place chapters
are listed)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["toc_files", "toc_chapters"]


def _files(entries):
    for entry in entries or []:
        if "file" in entry:
            yield entry["file"]
        yield from _files(entry.get("sections"))


def toc_files(root) -> list[str]:
    """Every document in ``root/_toc.yml`` (the root page included), without
    suffix, in toc order."""
    import yaml

    path = Path(root) / "_toc.yml"
    if not path.exists():
        raise ValueError(
            f"no _toc.yml in {Path(root).resolve()}: pass the book's root "
            "folder"
        )
    toc = yaml.safe_load(path.read_text())
    files = [toc["root"], *_files(toc.get("chapters"))]
    for part in toc.get("parts", []):
        files += _files(part.get("chapters"))
    return [
        f[: -len(Path(f).suffix)] if Path(f).suffix in {".md", ".ipynb"} else f
        for f in files
    ]


def toc_chapters(root) -> list[Path]:
    """The chapter sources (``chapters/*.md``) in the toc, in toc order."""
    return [
        Path(root) / f"{f}.md"
        for f in toc_files(root)
        if f.startswith("chapters/")
    ]
