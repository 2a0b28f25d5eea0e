import sys
from pathlib import Path

# Let the tests import tests/toc.py as `toc`.
sys.path.insert(0, str(Path(__file__).resolve().parent))
