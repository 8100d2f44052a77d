"""Data-parallel training: torchrun --nproc_per_node=2 with the gloo backend on the CPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synapse_madam.cli import main

SPEC = """
substrate = "deep"
dataset = "digits"
net = "mlp"
optimizer = "{optimizer}"
lr = {lr}
epochs = 2
batch_size = 64
train_subset = 512
progress = false
[net_options]
width = 16
depth = 2
"""


def torchrun(spec, out, nproc=2):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
           f"--nproc_per_node={nproc}", "-m", "synapse_madam.cli", "run", str(spec), "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    failures = []
    for attempt in range(2):  # one retry: on a busy shared machine the rendezvous port can be taken
        if attempt:  # a failed attempt may have written results: the retry starts the folder over
            cmd = cmd + ["--overwrite"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
        if proc.returncode == 0:
            break
        failures.append(proc.stdout[-1500:] + proc.stderr[-2500:])
    else:
        raise AssertionError("torchrun failed twice:\n" + "\n-----\n".join(failures))
    if failures:
        print("first torchrun attempt failed:\n" + failures[0])
    return json.loads((Path(out) / "summary.json").read_text())


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.1), ("madam", 0.01)])
def test_two_process_ddp_matches_one_process(tmp_path, optimizer, lr):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(optimizer=optimizer, lr=lr))
    ddp = torchrun(spec, tmp_path / "ddp")
    assert ddp["world_size"] == 2 and ddp["epochs_completed"] == 2
    assert ddp["ranks_max_param_diff"] == 0.0  # both ranks end with identical parameters
    assert main(["run", str(spec), "--out", str(tmp_path / "single")]) == 0
    single = json.loads((tmp_path / "single" / "summary.json").read_text())
    assert single["world_size"] == 1
    # 2 ranks x 32 examples with averaged gradients = one process with batches of 64
    w_ddp, w_one = np.load(tmp_path / "ddp" / "weights.npz"), np.load(tmp_path / "single" / "weights.npz")
    assert sorted(w_ddp.files) == sorted(w_one.files)
    for k in w_one.files:
        np.testing.assert_allclose(w_ddp[k], w_one[k], rtol=1e-4, atol=1e-5)
    assert abs(ddp["final_test_loss"] - single["final_test_loss"]) < 1e-4
