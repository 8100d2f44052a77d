"""notebooks/low_precision.ipynb runs end to end at a small size."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "low_precision.ipynb"


def test_low_precision_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNAPSE_MADAM_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "LNSMadam 8 bits" in text and "SGD uniform 4 bits" in text
    assert "median relative error" in text
