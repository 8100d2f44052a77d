"""Every ```python block of README.md runs as it stands (each on its own, in a fresh process)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUNNER = r"""
import sys, traceback
blocks = {blocks!r}
failed = []
for i, code in enumerate(blocks):
    try:
        exec(compile(code, f"README.md python block {{i + 1}}", "exec"), {{"__name__": "__main__"}})
    except Exception:
        failed.append(i + 1)
        traceback.print_exc()
sys.exit(1 if failed else 0)
"""


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_python_blocks():
    blocks = python_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 5


def test_readme_python_blocks_run_as_they_stand(tmp_path):
    blocks = python_blocks((ROOT / "README.md").read_text())
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, "-c", RUNNER.format(blocks=blocks)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
