"""The deep backend runs where Brian2 is absent (e.g. a GPU machine with only torch installed)."""

import subprocess
import sys

CODE = """
import sys
sys.modules["brian2"] = None  # any `import brian2` now raises ImportError
import synapse_madam, synapse_madam.cli, synapse_madam.substrates, synapse_madam.plots
from synapse_madam.deep import data, nets, trainer, runner, sweep, demo, figures
from synapse_madam.cli import build_parser
build_parser()
print("ok")
"""


def test_deep_backend_imports_without_brian2():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
