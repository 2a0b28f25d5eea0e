"""Showing computed values in the book and in plain Jupyter alike.

The chapters put numbers, tables and figures into their prose with
:func:`glue`. In the book build (myst-nb installed) it is myst-nb's ``glue``:
``{glue:text}`name``` in the text shows the value. In a plain Jupyter or
Colab kernel, where myst-nb is absent, it shows the value inline when asked
to (``display=True``) and otherwise only remembers it in :data:`GLUED`; the
reader notebooks carry the build's values in their text already.

:func:`claim` asserts a trained model's number against its threshold and
glues both, so that the book's seed sweep can read every claim back.
"""

from __future__ import annotations

__all__ = ["claim", "glue", "GLUED"]

#: Every value glued in this kernel, by name (also when myst-nb is present).
GLUED: dict = {}


def _myst_nb_glue():
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return None
    return myst_glue


def glue(name: str, variable, display: bool = True) -> None:
    """Record ``variable`` under ``name`` for the text, as myst-nb's ``glue``.

    Args:
        name: the key the text refers to (``{glue:text}`name```); a
            non-empty string.
        variable: a number, string, figure or any displayable object.
        display: also show it here, in the cell's output.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"glue needs a non-empty string name; got {name!r}")
    GLUED[name] = variable
    myst_glue = _myst_nb_glue()
    if myst_glue is not None:
        myst_glue(name, variable, display=display)
    elif display:
        from IPython.display import display as show

        show(variable)


def claim(name: str, metric, op: str, threshold) -> None:
    """Assert ``metric > threshold`` (``op`` ``">"``) or ``metric <
    threshold`` (``op`` ``"<"``).

    The metric, the threshold and the direction are glued first, as
    ``metric-NAME``, ``threshold-NAME`` and ``direction-NAME``: the text
    quotes them, and the book's seed sweep reads them back from every
    seed's run, also from a run whose claim failed.
    """
    if op not in (">", "<"):
        raise ValueError(f"claim {name!r}: op must be '>' or '<'; got {op!r}")
    glue(f"metric-{name}", float(metric), display=False)
    glue(f"threshold-{name}", float(threshold), display=False)
    glue(f"direction-{name}", op, display=False)
    holds = metric > threshold if op == ">" else metric < threshold
    assert holds, f"{name}: {metric:.3f} is not {op} {threshold}"
