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


def pytest_terminal_summary(terminalreporter):
    """One line at the end of the run: what axe-core found on the site
    (tests/test_site.py records it per page and colour mode), including the
    findings excluded as the theme's (AXE_EXCLUSIONS), so none is hidden."""
    runs, counts, excluded, version = 0, {}, {}, "?"
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, value in getattr(report, "user_properties", []):
                if key != "axe" or getattr(report, "when", "") != "call":
                    continue
                runs += 1
                version = value["version"]
                for impact, n in value["counts"].items():
                    counts[impact] = counts.get(impact, 0) + n
                for what, n in value["excluded"].items():
                    excluded[what] = excluded.get(what, 0) + n
    if not runs:
        return
    found = ", ".join(
        f"{counts.get(impact, 0)} {impact}"
        for impact in ("critical", "serious", "moderate", "minor")
    )
    kept_out = "; ".join(f"{w}: {n}" for w, n in excluded.items())
    terminalreporter.write_line(
        f"axe-core {version}: {runs} page views (light and dark): {found}; "
        f"{sum(excluded.values())} excluded as the theme's"
        + (f" ({kept_out})" if kept_out else "")
    )
