import os
import sys
from pathlib import Path

import pytest

# Let the tests import tests/toc.py as `toc`, and the book's machinery
# (code/booktools, which is not installed) as `booktools`.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "code"))


def pytest_addoption(parser):
    parser.addoption(
        "--sweep",
        action="store_true",
        default=False,
        help="run the seed sweeps (tests marked `sweep`; minutes each)",
    )


def pytest_collection_modifyitems(config, items):
    """Skip the seed sweeps (marker `sweep`) unless asked for with --sweep
    or RNNBOOK_SWEEP=1: `make sweep` runs them, `make test` does not."""
    if config.getoption("--sweep") or os.environ.get("RNNBOOK_SWEEP") == "1":
        return
    skip = pytest.mark.skip(
        reason="a seed sweep (minutes): run `make sweep` or pytest --sweep"
    )
    for item in items:
        if item.get_closest_marker("sweep"):
            item.add_marker(skip)
