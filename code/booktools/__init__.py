"""booktools: the machinery that builds, grades and measures the book.

Nothing here is taught, and nothing in the chapters imports it: a student who
installs the book's package (``rnnbook``) to run a chapter does not get it.

* :mod:`booktools.toc` -- the chapter list, read from ``_toc.yml``;
* :mod:`booktools.assignments` -- student notebooks and the grader;
* :mod:`booktools.bench` -- each chapter's time and memory against its floor;
* :mod:`booktools.mutants` -- the mutation catalog runner (``make mutants``).

The Makefile puts ``code/`` on ``PYTHONPATH`` to run these; the tests do the
same in ``tests/conftest.py``.
"""
