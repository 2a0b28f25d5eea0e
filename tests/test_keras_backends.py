"""The Keras chapter on its second backend (issue 13, "Scope").

`make test` runs every chapter under nbval with the default Keras backend
(TensorFlow: the chapter sets it unless the environment chose one). Keras 3
also runs on PyTorch, which is installed here, so this test executes the Keras
chapter's paired notebook once more, in a fresh kernel whose environment sets
``KERAS_BACKEND=torch``. Every claim the chapter asserts is thereby executed
on both backends; where the backends differ, the chapter asserts each one's
behaviour (its cells branch on ``keras.backend.backend()``).

A failure names the chapter, the backend, the cell and the error. The test
also checks that the kernel really ran on the backend asked for (the
chapter's "Verified on" line), and that no output a reader would see shows a
warning, a traceback or a machine path (the same check as the site's).
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest

from test_site import noise_in_notebook
from toc import ROOT

#: The chapters that run on more than one Keras backend, and the backends
#: other than the default one that nbval already runs.
KERAS_CHAPTERS = ["chapters/03_keras_return_sequences_and_state.ipynb"]
OTHER_BACKENDS = ["torch"]

# Native (C++) log lines TensorFlow writes to the process's stderr when it is
# imported, before any Python code can silence them; the book build removes
# stderr (`stderr_output: remove`), so they never reach a page. Everything
# else on stderr is checked like the other outputs.
_NATIVE_LOG = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r" are written to STDERR|[IWE]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] .*"
    r"|To enable the following instructions: .*)$"
)


def _without_native_logs(notebook):
    """The notebook with TensorFlow's import-time native log lines removed
    from its stderr outputs (empty outputs dropped)."""
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get(
                "name"
            ) == ("stderr"):
                lines = output["text"].splitlines(keepends=True)
                text = "".join(
                    line
                    for line in lines
                    if not _NATIVE_LOG.match(line.strip())
                )
                if not text.strip():
                    continue
                output["text"] = text
            kept.append(output)
        if cell.cell_type == "code":
            cell.outputs = kept
    return notebook


def execute(path, env, workdir):
    """Run the notebook at ``path`` in a fresh kernel with ``env``; return it
    executed (errors kept in the outputs, not raised)."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    # IPC: no port to find, and no "running over TCP" notice from the kernel
    km = KernelManager(
        kernel_name="python3",
        transport="ipc",
        connection_file=str(workdir / "kernel.json"),
    )
    client = NotebookClient(
        notebook,
        km=km,
        timeout=600,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute(env=env)
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return notebook


def first_error(notebook):
    """``(cell index, 'Name: message')`` of the first cell that raised, or
    ``None``."""
    for k, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                message = " ".join(
                    f"{output.get('ename')}: {output.get('evalue')}".split()
                )
                return k, message[:500]
    return None


def shown_text(notebook):
    """Everything the cells show on stdout or as rich output."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                if output.get("name") == "stdout":
                    parts.append(output["text"])
            for value in (output.get("data") or {}).values():
                parts.append(value if isinstance(value, str) else str(value))
    return "\n".join(parts)


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
@pytest.mark.parametrize("chapter", KERAS_CHAPTERS)
def test_keras_chapter_runs_on_the_other_backend(chapter, backend, tmp_path):
    path = ROOT / chapter
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = execute(path, env, tmp_path)

    error = first_error(notebook)
    assert error is None, (
        f"{path.name} fails with KERAS_BACKEND={backend}: cell {error[0]} "
        f"raised {error[1]}"
    )
    assert f"with the `{backend}` backend" in shown_text(notebook), (
        f"{path.name} did not run on the {backend} backend: its 'Verified on' "
        "line does not name it (does the chapter overwrite KERAS_BACKEND "
        "instead of using os.environ.setdefault?)"
    )
    executed = tmp_path / path.name
    nbformat.write(_without_native_logs(notebook), executed)
    noise = noise_in_notebook(executed)
    assert not noise, (
        f"{path.name} with KERAS_BACKEND={backend} shows:\n" + "\n".join(noise)
    )


def test_native_log_filter_keeps_python_warnings():
    """The filter drops TensorFlow's import-time native lines only."""
    cell = nbformat.v4.new_code_cell("import keras")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stderr",
            text="WARNING: All log messages before absl::InitializeLog() is "
            "called are written to STDERR\n"
            "I0000 00:00:1795460085.908645   27269 port.cc:153] oneDNN "
            "custom operations are on.\n"
            "UserWarning: Layer 'conv1d' was passed an input with a mask\n",
        )
    ]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    text = _without_native_logs(notebook).cells[0].outputs[0]["text"]
    assert (
        text == "UserWarning: Layer 'conv1d' was passed an input with a mask\n"
    )
