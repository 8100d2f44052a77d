"""The run folder (runs.py): lock, overwrite refusal, resume / sweep spec comparison, data
checksums, permissions, one-line errors; and the CLI that uses it for every substrate."""

import json
import multiprocessing as mp
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from synapse_madam import io, runs
from synapse_madam.cli import main
from synapse_madam.runs import RunFolder, RunFolderError, spec_diff

DEEP = """
substrate = "deep"
dataset = "digits"
net = "mlp"
optimizer = "madam"
lr = 0.01
epochs = 2
batch_size = 64
train_subset = 256
test_subset = 100
progress = false
[net_options]
width = 16
depth = 2
"""


@pytest.fixture
def spec(tmp_path):
    f = tmp_path / "deep.toml"
    f.write_text(DEEP)
    return f


def one_line_error(capsys, *texts):
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for t in texts:
        assert t in err, err
    return err


# ------------------------------------------------------------------------------ the folder alone


def _hold_lock(path, ready, release):
    with RunFolder.open(path, {"a": 1}):
        ready.set()
        release.wait(30)


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_lock, args=(tmp_path / "run", ready, release))
    p.start()
    try:
        assert ready.wait(30)
        with pytest.raises(RunFolderError, match=f"in use by another run \\(pid {p.pid}\\)"):
            RunFolder.open(tmp_path / "run", {"a": 1}, resume=True)
    finally:
        release.set()
        p.join(30)
    with RunFolder.open(tmp_path / "run", {"a": 1}, resume=True):  # free again once the holder is gone
        pass


def test_fresh_start_over_results_is_refused_and_overwrite_deletes_them(tmp_path):
    with RunFolder.open(tmp_path, {"a": 1}) as f:
        f.append_metrics({"epoch": 1})
        f.save_checkpoint({"epoch": 1})
    (tmp_path / "curves.png").write_bytes(b"png")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match=r"already holds results \(metrics.jsonl, checkpoint.pt\).*--overwrite"):
        RunFolder.open(tmp_path, {"a": 1})
    assert (tmp_path / "checkpoint.pt").is_file() and (tmp_path / "metrics.jsonl").is_file()  # nothing lost
    with RunFolder.open(tmp_path, {"a": 2}, overwrite=True) as f:
        assert not f.resuming
    assert not (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "metrics.jsonl").exists()
    assert not (tmp_path / "curves.png").exists() and (tmp_path / "notes.txt").read_text() == "mine"
    assert "a = 2" in (tmp_path / "spec.toml").read_text()


def test_resume_compares_the_stored_spec_and_names_the_keys(tmp_path):
    old = {"lr": 0.01, "train_subset": 500, "progress": True, "net_options": {"width": 16, "activation": "relu"}}
    with RunFolder.open(tmp_path, old) as f:
        f.append_metrics({"epoch": 1})
    new = {**old, "train_subset": 1000, "progress": False, "net_options": {"width": 16, "activation": "tanh"}}
    with pytest.raises(RunFolderError) as exc:
        RunFolder.open(tmp_path, new, resume=True, free_keys={"progress"})
    msg = str(exc.value)
    assert "train_subset (500 -> 1000)" in msg and "net_options.activation ('relu' -> 'tanh')" in msg
    assert "progress" not in msg
    assert "train_subset = 500" in (tmp_path / "spec.toml").read_text()  # the stored spec is untouched
    with RunFolder.open(tmp_path, {**old, "progress": False}, resume=True, free_keys={"progress"}) as f:
        assert f.resuming


def test_spec_diff():
    assert spec_diff({"a": 1, "t": {"b": [1, 2]}}, {"a": 1, "t": {"b": (1, 2)}}) == []
    assert spec_diff({"a": 1}, {"a": 1.5, "c": True}) == [("a", 1, 1.5), ("c", None, True)]
    assert spec_diff({"a": True}, {"a": 1}) == [("a", True, 1)]
    assert spec_diff({"t": {"x": 1}}, {"t": {"x": 2}}, free={"t"}) == []


def test_truncate_metrics_to_the_checkpoint(tmp_path):
    with RunFolder.open(tmp_path) as f:
        for e in (1, 2, 3):
            f.append_metrics({"epoch": e})
        assert [r["epoch"] for r in f.truncate_metrics("epoch", 2)] == [1, 2]
    assert [r["epoch"] for r in io.read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2]


def test_data_files_are_recorded_with_sha256_and_checked_on_resume(tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"abc")
    run = tmp_path / "run"
    with RunFolder.open(run, {"a": 1}) as f:
        rec = f.record_data_files([data])
        f.append_metrics({"epoch": 1})
    assert rec == [{"path": str(data.resolve()), "bytes": 3,
                    "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]
    assert json.loads((run / "data_files.json").read_text())["files"] == rec
    data.write_bytes(b"abd")
    with RunFolder.open(run, {"a": 1}, resume=True) as f:
        with pytest.raises(RunFolderError, match="data files differ"):
            f.record_data_files([data])


def test_result_files_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        io.atomic_write_text(tmp_path / "a.txt", "x")
        io.atomic_save_npz(tmp_path / "w.npz", w=np.ones(3))
        io.atomic_write_with(tmp_path / "c.bin", lambda name: Path(name).write_bytes(b"1"))
    finally:
        os.umask(old)
    for name in ("a.txt", "w.npz", "c.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_reusable_summary(tmp_path):
    assert runs.reusable_summary(tmp_path / "none", {"a": 1}) is None
    with RunFolder.open(tmp_path / "p", {"a": 1, "progress": True}):
        pass  # a spec.toml but no results (a run that died at once): not a conflict
    assert runs.reusable_summary(tmp_path / "p", {"a": 2}) is None
    with RunFolder.open(tmp_path / "p", {"a": 1, "progress": True}, overwrite=True) as f:
        f.write_summary({"acc": 0.5})
    assert runs.reusable_summary(tmp_path / "p", {"a": 1, "progress": False}) == {"acc": 0.5}
    with pytest.raises(RunFolderError, match="a \\(1 -> 2\\)"):
        runs.reusable_summary(tmp_path / "p", {"a": 2, "progress": True})
    assert runs.reusable_summary(tmp_path / "p", {"a": 2}, overwrite=True) is None
    assert runs.reusable_summary(tmp_path / "p", {"a": 1, "e": 3}, free_keys={"e"}) is None  # extend: resume


def test_stats_output_names_follow_the_input(tmp_path):
    (tmp_path / "run").mkdir()
    assert runs.stats_output_names(tmp_path / "run")["json"] == tmp_path / "run" / "stats_weights.json"
    assert runs.stats_output_names(tmp_path / "a.npz")["json"] == tmp_path / "stats_a.json"
    assert runs.stats_output_names(tmp_path / "b.csv", tmp_path / "o")["md"] == tmp_path / "o" / "stats_b.md"


def test_outcome_and_divergence():
    assert runs.divergence(float("nan")) == "non-finite loss"
    assert runs.divergence(2.9e21, 2.3) and runs.divergence(2.0, 2.3) is None
    o = runs.outcome(None, 0.1, 0.1, 1000)
    assert o["failed"] and not o["diverged"] and "chance" in o["failure"]
    assert not runs.outcome(None, 0.9, 0.1, 1000)["failed"]


# ------------------------------------------------------------------------------ through the CLI


def test_cli_refuses_a_fresh_run_over_results_then_overwrite_and_resume(spec, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(spec), "--out", str(out)]) == 0
    first = out.joinpath("metrics.jsonl").read_text()
    assert main(["run", str(spec), "--out", str(out), "--set", 'optimizer="adam"']) == 2
    one_line_error(capsys, "already holds results", "--overwrite")
    assert out.joinpath("metrics.jsonl").read_text() == first and out.joinpath("checkpoint.pt").is_file()
    assert main(["run", str(spec), "--out", str(out), "--resume", "--set", "train_subset=512"]) == 2
    one_line_error(capsys, "train_subset (256 -> 512)")
    assert main(["run", str(spec), "--out", str(out), "--resume", "--set", "net_options.activation=\"tanh\""]) == 2
    one_line_error(capsys, "net_options.activation")
    assert json.loads(out.joinpath("summary.json").read_text())["optimizer"] == "madam"
    assert main(["run", str(spec), "--out", str(out), "--overwrite", "--set", 'optimizer="adam"']) == 0
    assert json.loads(out.joinpath("summary.json").read_text())["optimizer"] == "adam"
    with pytest.raises(SystemExit):  # argparse: --resume and --overwrite exclude each other
        main(["run", str(spec), "--out", str(out), "--resume", "--overwrite"])


def test_cli_second_run_into_a_locked_folder_is_one_line(spec, tmp_path, capsys):
    from synapse_madam import substrates

    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    out = tmp_path / "run"
    resolved = substrates.validate(substrates.load_spec(spec), str(spec))
    p = ctx.Process(target=_hold_lock_with, args=(out, resolved, ready, release))
    p.start()
    try:
        assert ready.wait(30)
        assert main(["run", str(spec), "--out", str(out), "--resume"]) == 2
        one_line_error(capsys, "in use by another run", str(out))
        assert not (out / "metrics.jsonl").exists()  # the second run wrote nothing
    finally:
        release.set()
        p.join(30)


def _hold_lock_with(path, spec, ready, release):
    with RunFolder.open(path, spec):
        ready.set()
        release.wait(30)


def test_cli_prints_the_substrate_headline(spec, tmp_path, capsys):
    assert main(["run", str(spec), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "epochs 2/2" in out


@pytest.mark.parametrize("args, texts", [
    (["--set", "optimizer_options.bogus=1"], ["unknown option(s) bogus", "allowed: p_scale, g_bound"]),
    (["--bits", "5"], ["optimizer 'madam'", "unknown option(s) bits"]),
    (["--set", 'dataset="fashion_mnist"', "--set", 'data_options.data_dir="/nonexistent"'], ["/nonexistent"]),
])
def test_bad_options_are_one_line_before_anything_is_written(spec, tmp_path, capsys, args, texts):
    out = tmp_path / "run"
    assert main(["run", str(spec), "--out", str(out)] + args) == 2
    one_line_error(capsys, *texts)
    assert not (out / "spec.toml").exists() or "/nonexistent" in texts[0]


@pytest.mark.parametrize("make_out", ["file", "under_file"])
def test_unusable_out_is_one_line(spec, tmp_path, capsys, make_out):
    blocker = tmp_path / "f"
    blocker.write_text("x")
    out = blocker if make_out == "file" else blocker / "run"
    assert main(["run", str(spec), "--out", str(out)]) == 2
    one_line_error(capsys, str(out))


def test_sweep_refuses_reusing_points_made_with_another_spec(spec, tmp_path, capsys):
    out = tmp_path / "sweep"
    base = ["sweep", str(spec), "--optimizers", "madam", "--lrs", "0.01", "--out", str(out), "--no-progress"]
    assert main(base) == 0
    point = out / "madam_lr0.01_seed0"
    acc = json.loads((point / "summary.json").read_text())["final_test_acc"]
    assert main(base) == 0  # the same spec: reused
    assert main(base + ["--set", "train_subset=512"]) == 2
    one_line_error(capsys, "train_subset (256 -> 512)", "--overwrite")
    assert "train_subset = 256" in (point / "spec.toml").read_text()
    assert main(base + ["--set", "train_subset=512", "--overwrite"]) == 0
    summary = json.loads((point / "summary.json").read_text())
    assert summary["train_examples"] == 512 and "train_subset = 512" in (point / "spec.toml").read_text()
    assert summary["final_test_acc"] != acc or summary["final_train_loss"] is not None


def test_the_resolved_spec_names_the_lr_each_substrate_runs_with():
    from synapse_madam import substrates
    from synapse_madam.optim import OPTIMIZERS

    deep = substrates.validate({"substrate": "deep", "optimizer": "adam"}, "x")
    assert deep["lr"] == OPTIMIZERS["adam"].default_lr == 1e-3
    rate = substrates.validate({"substrate": "rate", "task": "perceptual_dm", "learning": {"optimizer": "sgd"},
                                "network": {"n_rec": 10}}, "x")
    assert rate["learning"]["lr"] == OPTIMIZERS["sgd"].default_lr == 0.05
    spiking = substrates.validate({"substrate": "spiking", "rule": {"name": "madam"}}, "x")
    assert spiking["rule"]["lr"] == 0.01 and spiking["rule"]["bound"] == "hard"


def test_registry_metadata_replaces_name_tests():
    from synapse_madam.optim import OPTIMIZERS, check_options

    assert {n for n, i in OPTIMIZERS.items() if i.sign_preserving} == {
        "madam", "lns_madam", "log_adam", "log_sgd", "madam_float", "neuron_madam", "madam_neuron_bound", "madam_scaling",
        "madam_nero", "madam_momentum"}
    assert "restore" in OPTIMIZERS["madam"].options and "bits" in OPTIMIZERS["lns_madam"].options
    with pytest.raises(ValueError, match="unknown option\\(s\\) bits; allowed: p_scale"):
        check_options("madam", {"bits": 5})


def test_rate_projection_follows_sign_preservation_not_the_name():
    from synapse_madam.rate import EIRateRNN
    from synapse_madam.rate.train import BPTT

    net = EIRateRNN(3, 3, 10, seed=0)
    assert BPTT(net, "log_adam").projection == "none"  # sign-preserving, no "madam" in its name
    assert BPTT(net, "adam").projection == "zero"
