"""ARIA fixes in HTML that Sphinx extensions write (issue 19: axe-core).

Two things the browser test's axe-core run flags, both written by Python
code that runs during the build, so fixed here rather than in the page:

- **The references list** (``aria-required-children``, critical). Docutils
  writes a citation list as ``<div role="list">`` whose items carry
  ``role="doc-biblioentry"``; ARIA 1.2 deprecates that role and a list's
  children must be ``listitem``\\s, so a screen reader announces a broken
  list. Each citation is written with ``role="listitem"`` instead.
- **"Show code cell source"** (``label-content-name-mismatch``, serious).
  myst-nb writes each hidden input's toggle as
  ``<summary aria-label="Toggle hidden content">``, a name that does not
  contain the visible words, so a speech-input user who says "click Show
  code cell source" cannot reach it. The toggle is written without the
  ``aria-label``: its accessible name is then its visible text.

The template overrides in ``_templates/`` fix the theme's buttons the same
way; ``tests/test_site.py`` runs axe-core on every page.
"""

from __future__ import annotations

import types
from html import escape


class _CitationListItems:
    """Mixed into the HTML translator: citations are list items."""

    def visit_citation(self, node):
        if not isinstance(node.previous_sibling(), type(node)):
            self.body.append('<div role="list" class="citation-list">\n')
        self.body.append(
            self.starttag(node, "div", classes=[node.tagname], role="listitem")
        )


def _use_citation_list_items(app):
    """Wrap whichever HTML translator is registered (the theme wraps
    Sphinx's own the same way, in its `builder-inited`)."""
    if app.builder.format != "html":
        return
    translators = dict(app.registry.translators) or {
        app.builder.name: app.builder.default_translator_class
    }
    for name, base in translators.items():
        mixed = types.new_class(
            "AccessibleHTMLTranslator", (_CitationListItems, base), {}
        )
        app.set_translator(name, mixed, override=True)


def visit_hidden_input(self, node):
    """myst-nb's visitor for a hidden cell input, minus the aria-label."""
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n')
    self.body.append("<summary>\n")
    for state, prompt in (
        ("collapsed", node["prompt_show"]),
        ("expanded", node["prompt_hide"]),
    ):
        self.body.append(
            f'<p class="{state} admonition-title">{escape(prompt)}</p>\n'
        )
    self.body.append("</summary>\n")


def setup(app):
    app.setup_extension("myst_nb")  # registers the node this overrides
    from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput

    app.add_node(
        HideCodeCellNode,
        override=True,
        html=(visit_hidden_input, depart_HideCellInput),
    )
    # after the theme's translator (pydata-sphinx-theme, priority 500)
    app.connect("builder-inited", _use_citation_list_items, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
