import sys
from pathlib import Path

# Let the tests import tests/toc.py as `toc`, and the book's machinery
# (code/booktools, which is not installed) as `booktools`.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "code"))
