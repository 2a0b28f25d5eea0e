"""A Jupyter kernel as a student's Jupyter or Colab has it, for the tests.

:class:`ReaderKernel` makes a Python environment with the test run's
packages, minus the book build's (a meta-path finder, installed by a
``.pth`` file of the environment, blocks them when the kernel starts) and
minus ``rnnbook``, which a reader notebook's first cell installs from a
copy of this checkout (``RNNBOOK_SOURCE``) instead of the repository's URL.
Used by tests/test_notebooks.py, which runs every chapter's student and
reader notebooks in it; the verdicts on a student notebook at the end of
this file are shared with tests/test_assignments.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from booktools import assignments as A
from booktools import notebooks as N
from toc import ROOT

BLOCKER = '''\
"""Installed by tests/reader_kernel.py: the book build's packages cannot
be imported in this environment, as in a student's Jupyter or Colab."""
import importlib.abc
import sys

BLOCKED = {blocked!r}


class BuildToolsBlocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(
                f"No module named {{name!r}} (blocked: only the book "
                "build has it)",
                name=name,
            )
        return None


sys.meta_path.insert(0, BuildToolsBlocked())
'''


class ReaderKernel:
    """A Python environment for the reader notebooks: the test run's
    packages minus the build's (blocked) and minus rnnbook (which the
    first cell installs from a copy of this checkout)."""

    NAME = "rnnbook-reader"

    def __init__(self, folder: Path):
        self.folder = folder
        self.venv = folder / "venv"
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(self.venv)],
            check=True,
        )
        self.site = next((self.venv / "lib").glob("python3*/site-packages"))
        self._share_packages()
        self._block_build_tools()
        self.source = self._copy_of_the_package()
        self.kernels = self._kernel_spec()

    def _share_packages(self) -> None:
        shared = [p for p in sys.path if p.endswith("site-packages")]
        (self.site / "book_environment.pth").write_text("\n".join(shared))

    def _block_build_tools(self) -> None:
        code = BLOCKER.format(blocked=sorted(N.BUILD_ONLY))
        (self.site / "_block_build_tools.py").write_text(code)
        (self.site / "zz_block_build_tools.pth").write_text(
            "import _block_build_tools\n"
        )

    def _copy_of_the_package(self) -> Path:
        """What ``pip install git+URL`` would clone: pyproject.toml and
        code/rnnbook (a copy, so pip's build folder stays out of the
        checkout)."""
        source = self.folder / "rnnbook-source"
        shutil.copytree(
            ROOT / "code" / "rnnbook",
            source / "code" / "rnnbook",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        shutil.copy(ROOT / "pyproject.toml", source)
        return source

    @property
    def environment(self) -> dict[str, str]:
        """The kernel's environment variables."""
        return {
            N.SOURCE_VARIABLE: str(self.source),
            "PIP_NO_INDEX": "1",  # offline: numpy is already there
            "PIP_NO_BUILD_ISOLATION": "0",  # i.e. --no-build-isolation
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }

    def _kernel_spec(self) -> Path:
        kernels = self.folder / "kernels"
        spec = kernels / self.NAME
        spec.mkdir(parents=True)
        env = self.environment
        python = self.venv / "bin" / "python"
        argv = [
            str(python),
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ]
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": argv,
                    "display_name": "reader notebook test",
                    "language": "python",
                    "env": env,
                }
            )
        )
        return kernels

    def run(self, notebook, timeout: int = 300, allow_errors=False):
        """Execute ``notebook`` top to bottom (a cell that raises stops
        the run, unless tagged ``raises-exception`` or ``allow_errors``)
        in a folder of its own, as Colab runs it; return the executed
        notebook."""
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager
        from nbclient import NotebookClient

        workdir = self.folder / "work"
        workdir.mkdir(exist_ok=True)
        manager = KernelManager(
            kernel_name=self.NAME,
            kernel_spec_manager=KernelSpecManager(
                kernel_dirs=[str(self.kernels)]
            ),
        )
        notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
        NotebookClient(
            notebook,
            km=manager,
            timeout=timeout,
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(workdir)}},
        ).execute()
        return notebook


# The verdicts on an executed student notebook (tests/test_notebooks.py runs
# every chapter's; tests/test_assignments.py proves them on a synthetic one)


def checks_passing_on_stubs(executed, exercises):
    """The labels of the exercises with a check cell that ran without error."""
    return [
        e.label
        for e in exercises
        for i in e.check_cells
        if A.cell_error(executed.cells[i]) is None
    ]


def other_cells_failing(executed, exercises):
    """The code cells outside the exercises (not a solution, not a check)
    that raised."""
    exercise_cells = {
        i for e in exercises for i in e.solution_cells + e.check_cells
    }
    return [
        f"cell {i} ({A.cell_error(cell)})"
        for i, cell in enumerate(executed.cells)
        if cell.cell_type == "code"
        and i not in exercise_cells
        and A.cell_error(cell)
    ]
