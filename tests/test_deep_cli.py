"""The deep substrate through the command line: run, resume, sweep, demo, and clear spec errors."""

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from synapse_madam import substrates
from synapse_madam.cli import main
from synapse_madam.deep import runner
from synapse_madam.deep.sweep import read_sweep_csv
from synapse_madam.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--set", "epochs=2", "--set", "train_subset=300", "--set", "progress=false"]


def test_run_writes_the_run_folder(tmp_path):
    out = tmp_path / "r"
    assert main(["run", str(ROOT / "models/digits_mlp.toml"), "--out", str(out), *SMALL]) == 0
    for f in ("spec.toml", "metrics.jsonl", "summary.json", "weights.npz", "checkpoint.pt", "curves.png", "weights.png"):
        assert (out / f).is_file(), f
    spec = tomllib.loads((out / "spec.toml").read_text())
    assert spec["epochs"] == 2 and spec["train_subset"] == 300 and spec["net_options"]["depth"] == 3
    assert runner.validate(spec, "spec.toml") == spec  # the resolved spec is a valid spec
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_completed"] == 2 and len(read_jsonl(out / "metrics.jsonl")) == 2
    w = np.load(out / "weights.npz")
    assert "net.1.weight" in w.files and w["net.1.weight"].shape == (128, 64)
    assert (w["net.1.weight"] < 0).any() and (w["net.1.weight"] > 0).any()  # signed weights



def test_paired_madam_from_the_cli_keeps_every_synapse_positive(tmp_path):
    """Issue 13's chosen rule by its registry name from the CLI: it trains, and the checkpoint's
    optimizer state holds positive synapses w+, w- whose difference is the weight."""
    import torch

    out = tmp_path / "p"
    assert main(["run", str(ROOT / "models/digits_mlp.toml"), "--out", str(out), *SMALL,
                 "--set", "optimizer=paired_madam"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final_test_acc"] > 0.25  # 2 epochs on 300 images; chance is 0.1
    state = torch.load(out / "checkpoint.pt", weights_only=False)["optimizer"]["state"]
    for st in state.values():
        assert bool((st["w_plus"] > 0).all() and (st["w_minus"] > 0).all())

def test_resume_from_the_cli(tmp_path):
    out = tmp_path / "r"
    args = ["run", str(ROOT / "models/digits_mlp.toml"), "--out", str(out), *SMALL]
    assert main(args) == 0
    first = read_jsonl(out / "metrics.jsonl")
    assert main(args + ["--set", "epochs=2", "--resume"]) == 0
    assert read_jsonl(out / "metrics.jsonl") == first  # finished: nothing retrained


@pytest.mark.parametrize("override,message", [
    ("optimizer=rmsprop", "key 'optimizer' is 'rmsprop'; allowed values: madam, sgd, sgd_momentum, adam, adamw"),
    ("net=vgg", "key 'net' is 'vgg'; allowed values: mlp, cnn, resnet, transformer"),
    ("dataset=cifar", "key 'dataset' is 'cifar'; allowed values: digits, fashion_mnist, fortunes"),
    ("schedule=linear", "key 'schedule' is 'linear'; allowed values: constant, step, cosine, warmup_cosine"),
    ("epoch=3", "unknown key(s) 'epoch'; allowed keys:"),
    ("net_options.widht=3", "key 'net_options.widht' is not an option of net 'mlp'; allowed: width, depth"),
    ("net=transformer", "does not fit dataset 'digits'"),
    ("lr=0", "lr must be a positive number"),
])
def test_invalid_specs_name_the_file_key_and_allowed_values(tmp_path, capsys, override, message):
    spec = str(ROOT / "models/digits_mlp.toml")
    assert main(["run", spec, "--out", str(tmp_path), "--set", override]) == 2
    err = capsys.readouterr().err
    assert "digits_mlp.toml" in err and message in err
    assert not (tmp_path / "metrics.jsonl").exists()


def test_every_shipped_spec_is_valid():
    specs = sorted((ROOT / "models").glob("*.toml"))
    deep = [p for p in specs if substrates.load_spec(p).get("substrate") == "deep"]
    assert len(deep) >= 5
    for p in deep:
        substrates.validate(substrates.load_spec(p), str(p))


def test_sweep_writes_table_csv_and_figure_and_reuses_points(tmp_path, capsys):
    out = tmp_path / "sw"
    args = ["sweep", str(ROOT / "models/digits_mlp.toml"), "--optimizers", "madam,adam", "--lrs", "0.1,0.01",
            "--seeds", "2", "--out", str(out), "--set", "epochs=1", "--set", "train_subset=200", "--no-progress"]
    assert main(args) == 0
    rows = read_sweep_csv(out / "sweep.csv")
    assert len(rows) == 8 and {r["optimizer"] for r in rows} == {"madam", "adam"}
    assert {r["seed"] for r in rows} == {0, 1}
    table = (out / "sweep.md").read_text()
    assert "| madam |" in table and "lr 0.1" in table and "Untuned Madam (lr 0.01)" in table
    assert (out / "sweep.png").stat().st_size > 1000
    stamp = (out / "madam_lr0.1_seed0" / "summary.json").stat().st_mtime_ns
    assert main(args) == 0  # a second call reuses finished points
    assert (out / "madam_lr0.1_seed0" / "summary.json").stat().st_mtime_ns == stamp
    assert "| adam |" in capsys.readouterr().out


def test_sweep_rejects_bad_lists(tmp_path, capsys):
    spec = str(ROOT / "models/digits_mlp.toml")
    assert main(["sweep", spec, "--lrs", "0.1,abc", "--out", str(tmp_path)]) == 2
    assert "'abc' is not a valid float" in capsys.readouterr().err
    assert main(["sweep", spec, "--optimizers", "madam,lion", "--out", str(tmp_path)]) == 2
    assert "'lion'" in capsys.readouterr().err


def test_deep_demo_small(tmp_path):
    from synapse_madam.deep.demo import run_deep_demo

    res = run_deep_demo(tmp_path, epochs=1, progress=False, lrs={"madam": [0.01], "adam": [0.01, 0.001], "sgd": [0.1]},
                        print_fn=lambda *a: None)
    assert set(res["best"]) == {"madam", "adam", "sgd"}
    for f in ("report.md", "deep_table.md", "deep_accuracy_vs_lr.png", "deep_curves.png", "deep_weights.png"):
        assert (tmp_path / f).is_file(), f
    assert "Untuned Madam" in (tmp_path / "report.md").read_text()


def test_lns_demo_small(tmp_path):
    from synapse_madam.deep.demo import LNS_DEMO_POINTS, run_lns_demo

    res = run_lns_demo(tmp_path, epochs=1, progress=False, lrs=[0.01, 0.001], print_fn=lambda *a: None)
    assert [label for label, _ in res["results"]] == [p[0] for p in LNS_DEMO_POINTS]
    bytes_per_param = {label: s["state_bytes_per_param"] for label, s in res["results"]}
    assert bytes_per_param["LNSMadam 8 bits"] == pytest.approx(3.0, abs=0.05)  # int8 codes + bf16 moment
    assert "| LNSMadam 5 bits |" in res["report"]
    assert "same lrs (0.01, 0.001) with stochastic rounding" in res["report"]


def test_lns_demo_gives_the_uniform_baseline_the_same_lrs_and_rounding():
    from synapse_madam.deep.demo import LNS_DEMO_POINTS

    rounding = {label: options.get("rounding") for label, _opt, options in LNS_DEMO_POINTS}
    assert set(rounding.values()) == {"stochastic"}, rounding
    assert all(len(p) == 3 for p in LNS_DEMO_POINTS), "no per-format lr: every format runs the shared grid"


@pytest.mark.slow
def test_full_demo_command(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "report.md").is_file()


def test_ctrl_c_then_resume_reproduces_the_uninterrupted_run(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    base = [sys.executable, "-m", "synapse_madam.cli", "run", str(ROOT / "models/digits_mlp.toml"),
            "--set", "epochs=12", "--set", "train_subset=300", "--set", "net_options.width=64", "--set", "progress=false"]
    subprocess.run(base + ["--out", str(tmp_path / "full")], check=True, capture_output=True, timeout=300)
    metrics = tmp_path / "part" / "metrics.jsonl"
    proc = subprocess.Popen(base + ["--out", str(tmp_path / "part")], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (metrics.is_file() and len(read_jsonl(metrics)) >= 2):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, err[-2000:]  # interrupted, with a hint how to go on
    assert "--resume" in err and 2 <= len(read_jsonl(metrics)) < 12
    subprocess.run(base + ["--out", str(tmp_path / "part"), "--resume"], check=True, capture_output=True, timeout=300)
    strip = lambda f: [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in read_jsonl(f)]  # noqa: E731
    assert strip(metrics) == strip(tmp_path / "full" / "metrics.jsonl") and len(strip(metrics)) == 12
    assert np.array_equal(np.load(tmp_path / "part" / "weights.npz")["net.1.weight"],
                          np.load(tmp_path / "full" / "weights.npz")["net.1.weight"])
