import os
import sys
from pathlib import Path

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
