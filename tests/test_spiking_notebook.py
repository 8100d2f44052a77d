"""The spiking notebook runs end to end at a small size (numpy target, short runs)."""

from pathlib import Path

import pytest

pytest.importorskip("brian2")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "spiking_plasticity.ipynb"


def test_spiking_notebook_executes_small(tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    monkeypatch.setenv("SYNAPSE_MADAM_SMALL", "1")
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "sign kept" in text and "Synapse statistics of" in text and "madam" in text
    assert "weights in mV" in text, "network (b)'s weights are compared with Song et al. 2005 in their unit"
    assert "'frac_sign_kept': 1.0" in text
