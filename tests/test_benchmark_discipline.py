"""The timing discipline of the benchmarks (benchmarks/timing.py) and the GPU script's no-GPU path."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import timing  # noqa: E402


def test_a_loaded_machine_may_not_write_docs_unless_forced(monkeypatch, tmp_path):
    busy = (0.8 * os.cpu_count() + 0.5,) * 3
    monkeypatch.setattr(timing.os, "getloadavg", lambda: busy)
    with pytest.raises(SystemExit, match="above 0.75 x .* cores.*--force"):
        timing.guard(ROOT / "docs" / "optimizer_step_cpu.md", force=False)
    banner = timing.guard(ROOT / "docs" / "optimizer_step_cpu.md", force=True)
    assert banner.startswith("**Measured under load")
    assert timing.guard(tmp_path / "mine.md", force=False).startswith("**Measured under load")  # outside docs/


def test_a_quiet_machine_writes_without_a_banner(monkeypatch):
    monkeypatch.setattr(timing.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    assert timing.guard(ROOT / "docs" / "x.md", force=False) == ""


def test_contenders_are_interleaved_and_summarised():
    calls = []
    times = timing.interleave({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4 and all(len(t) == 3 for t in times.values())
    s = timing.summary({"base": [2.0, 1.0, 3.0], "x": [1.0, 1.0, 4.0]}, "base")
    assert s["base"]["ratio"] == 1.0 and s["x"]["ratio"] == 0.5 and s["x"]["min"] == 1.0 and s["x"]["ratio_min"] == 1.0


def test_gpu_script_without_a_gpu_says_so_and_measures_nothing(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the script would measure")
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path)], capture_output=True,
                          text=True, env={**os.environ, "PY": sys.executable}, timeout=120)
    assert done.returncode == 0 and "no CUDA device here; nothing measured" in done.stdout
    assert not list(tmp_path.iterdir())


def test_spiking_benchmark_repeats_a_standalone_run_in_fresh_folders(tmp_path):
    """Regression: the second cpp_standalone repeat reused the first one's run folder, which the
    run-folder contract refuses ('already holds results')."""
    import spiking

    for rep in range(2):
        summary, _ = spiking.run_song("additive", "cpp_standalone", 0.05, 1, tmp_path, rep)
        assert summary["duration_s"] == 0.05
