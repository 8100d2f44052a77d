"""One rule for CPU threads (synapse_madam.threads) and the ``threads`` key of every spec."""

import json
from pathlib import Path

import pytest
import torch

from synapse_madam.cli import main
from synapse_madam.deep import runner as deep_runner
from synapse_madam.spiking import runner as spiking_runner
from synapse_madam.threads import SERIAL_BELOW, choose_threads

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--set", "epochs=1", "--set", "train_subset=200", "--set", "progress=false"]


def test_the_rule():
    assert choose_threads(3, 10) == 3  # an explicit request wins
    assert choose_threads(0, SERIAL_BELOW - 1, cores=8) == 1  # small steps: one thread
    assert choose_threads(0, SERIAL_BELOW, cores=8) == 8  # large steps: every core
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads must be an integer >= 0"):
            choose_threads(bad, 10)


@pytest.mark.parametrize("requested,expected", [(0, 1), (2, 2)])
def test_a_deep_run_uses_and_records_its_threads(tmp_path, requested, expected):
    """The digits MLP (64-128-128-10 weights x batch 128, about 4e6 < 2**24) is small: auto = 1."""
    before = torch.get_num_threads()
    try:
        out = tmp_path / "r"
        assert main(["run", str(ROOT / "models/digits_mlp.toml"), "--out", str(out), *SMALL,
                     "--set", f"threads={requested}"]) == 0
        assert json.loads((out / "summary.json").read_text())["threads"] == expected
        assert torch.get_num_threads() == expected
        # threads may change on --resume: it changes the speed, not the run
        assert main(["run", str(ROOT / "models/digits_mlp.toml"), "--out", str(out), *SMALL,
                     "--set", f"threads={requested + 1}", "--resume"]) == 0
    finally:
        torch.set_num_threads(before)


def test_bad_threads_are_one_clear_error():
    with pytest.raises(ValueError, match="key 'threads': threads must be an integer >= 0"):
        deep_runner.validate({"threads": -2}, "x.toml")
    with pytest.raises(ValueError, match="threads = 2 needs target = \"cpp_standalone\""):
        spiking_runner.validate({"threads": 2}, "s.toml")
    with pytest.raises(ValueError, match="key 'threads' must be an integer >= 1"):
        spiking_runner.validate({"threads": 0}, "s.toml")
    assert spiking_runner.validate({"threads": 2, "target": "cpp_standalone"}, "s.toml")["threads"] == 2


def test_auto_leaves_an_explicit_omp_num_threads_alone(monkeypatch):
    """torchrun sets OMP_NUM_THREADS=1 per worker; threads = 0 must not raise it (N ranks x all cores
    would oversubscribe the machine)."""
    from synapse_madam.threads import use_threads

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert use_threads(0, 10 * SERIAL_BELOW) == 1 and torch.get_num_threads() == 1
        assert use_threads(2, 10) == 2  # an explicit request still wins
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert use_threads(0, 10) == 1
    finally:
        torch.set_num_threads(before)
