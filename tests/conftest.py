import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The book's kernels use the IPython profile in code/booktools/ipython (as
# under the Makefile): what TensorFlow's C++ side prints at start-up stays
# out of the notebooks' outputs. Every kernel the tests start inherits this.
PROFILE = ROOT / "code" / "booktools" / "ipython"
os.environ.setdefault("IPYTHONDIR", str(PROFILE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Let the tests import tests/toc.py as `toc`, and the book's machinery
# (code/booktools, which is not installed) as `booktools`.
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(1, str(ROOT / "code"))


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
