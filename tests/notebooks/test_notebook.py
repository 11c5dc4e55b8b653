"""The model-development notebook runs top to bottom without errors, so that it cannot rot.

It runs on the file named by DIAMONDS_DATA, else on the customer's file next to the repository
(../shared/data/diamonds.csv) when it exists, else on the embedded public data set. The executed
copy goes to a temporary folder; the committed notebook is never overwritten here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "diamonds.ipynb"
PAIRED_SCRIPT = ROOT / "notebooks" / "diamonds.py"
CUSTOMER_FILE = ROOT.parent / "shared" / "data" / "diamonds.csv"
TIMEOUT_SECONDS = 300


def _data_setting() -> str | None:
    if os.environ.get("DIAMONDS_DATA"):
        return os.environ["DIAMONDS_DATA"]
    if CUSTOMER_FILE.is_file():
        return str(CUSTOMER_FILE)
    return None  # the notebook falls back to the embedded public data


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_SECONDS + 60)
def test_notebook_runs_without_errors(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("matplotlib")
    pytest.importorskip("ipykernel")

    setting = _data_setting()
    if setting is not None:
        monkeypatch.setenv("DIAMONDS_DATA", setting)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - started
    nbformat.write(notebook, tmp_path / NOTEBOOK.name)

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    assert seconds < TIMEOUT_SECONDS


def test_notebook_is_paired_with_its_script():
    """The reviewable percent-format script holds the same cells as the notebook."""
    nbformat = pytest.importorskip("nbformat")
    jupytext = pytest.importorskip("jupytext")

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    script = jupytext.read(PAIRED_SCRIPT)
    assert [(c.cell_type, c.source) for c in notebook.cells] == [
        (c.cell_type, c.source) for c in script.cells
    ]


def test_committed_outputs_hold_no_machine_paths():
    nbformat = pytest.importorskip("nbformat")

    text = NOTEBOOK.read_text(encoding="utf-8")
    notebook = nbformat.reads(text, as_version=4)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            shown = str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
            shown += str(output.get("data", {}).get("text/markdown", ""))
            for marker in (str(ROOT), str(Path.home()), "/tmp/", "site-packages"):
                assert marker not in shown, f"machine path {marker!r} in a saved output"
