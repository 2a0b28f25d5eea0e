"""Checks of the book as a whole: the toc and the .md/.ipynb pairs (the
strict HTML build is in test_site.py)."""

from __future__ import annotations

import jupytext
import nbformat
import pytest

from toc import ROOT, chapter_files, toc_chapters, toc_files


def test_every_chapter_file_is_in_the_toc():
    listed = set(toc_chapters())
    missing = [
        p.relative_to(ROOT).as_posix()
        for p in chapter_files()
        if p not in listed
    ]
    assert not missing, (
        f"chapter file(s) {missing} are in chapters/ but not in _toc.yml, "
        "so they would be neither "
        "built nor tested: add each to _toc.yml (or delete it)"
    )


def test_every_toc_entry_exists():
    absent = [f for f in toc_files() if not (ROOT / f"{f}.md").exists()]
    assert not absent, f"_toc.yml lists {absent}, but no such .md file exists"


def test_the_toc_has_chapters():
    assert toc_chapters(), "_toc.yml lists no chapter: nothing would be tested"


def _cells(notebook):
    """What a reader sees of a notebook: each cell's type and source
    (outputs and ids ignored)."""
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


@pytest.mark.parametrize("md", chapter_files(), ids=lambda p: p.name)
def test_chapter_pair_has_not_drifted(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), (
        f"{md.name} has no paired {ipynb.name}: run `make sync` and commit it"
    )
    from_md = jupytext.read(md)
    from_ipynb = nbformat.read(ipynb, as_version=4)
    assert _cells(from_md) == _cells(from_ipynb), (
        f"{md.name} and {ipynb.name} differ: edit the .md, then run "
        "`make sync` and commit both"
    )
    assert (
        from_ipynb.metadata.get("jupytext", {}).get("formats")
        == "ipynb,md:myst"
    ), (
        f"{ipynb.name} is not paired with its .md (jupytext formats "
        "'ipynb,md:myst' expected in its metadata)"
    )


@pytest.mark.parametrize("md", chapter_files(), ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs(md):
    """Stored outputs would go stale; notebooks on Colab and Binder start
    clean."""
    ipynb = md.with_suffix(".ipynb")
    if not ipynb.exists():
        pytest.skip("no .ipynb (reported by the pairing test)")
    notebook = nbformat.read(ipynb, as_version=4)
    dirty = [
        i
        for i, c in enumerate(notebook.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, (
        f"{ipynb.name}: cells {dirty} carry outputs; run `make sync` from "
        "the .md"
    )
