"""The trainer: learning, exact resume after an interruption, divergence as a result, schedules."""

import math

import numpy as np
import pytest
import torch

from synapse_madam.deep.data import load_dataset
from synapse_madam.deep.nets import build_net
from synapse_madam.deep.trainer import LRSchedule, TrainConfig, train
from synapse_madam.io import read_jsonl

TIME_KEYS = {"epoch_time_s"}


def digits(n=600):
    return load_dataset("digits", train_subset=n, test_subset=200)


def mlp(ds, seed=0, **kw):
    return build_net("mlp", ds.input_shape, ds.num_classes, seed=seed, **{"width": 32, "depth": 2, **kw})


def test_madam_learns_digits():
    ds = digits()
    s = train(mlp(ds), ds, TrainConfig(optimizer="madam", lr=0.01, epochs=10, batch_size=32, progress=False))
    assert not s["diverged"] and s["epochs_completed"] == 10
    assert s["final_test_acc"] > 0.8  # chance is 0.1


class Interrupt(Exception):
    pass


def stop_after(epoch):
    def cb(record):
        if record["epoch"] == epoch:
            raise Interrupt
    return cb


@pytest.mark.parametrize("optimizer,schedule", [("madam", "cosine"), ("adam", "step"), ("sgd_momentum", "constant")])
def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path, optimizer, schedule):
    ds = digits(300)
    cfg = TrainConfig(optimizer=optimizer, lr=0.01, epochs=4, batch_size=32, schedule=schedule, progress=False)
    # dropout makes the global RNG state matter as well
    full_model = mlp(ds, dropout=0.2)
    train(full_model, ds, cfg, tmp_path / "full")
    part_model = mlp(ds, dropout=0.2)
    with pytest.raises(Interrupt):
        train(part_model, ds, cfg, tmp_path / "part", callbacks=[stop_after(2)])
    assert len(read_jsonl(tmp_path / "part" / "metrics.jsonl")) == 2
    torch.manual_seed(1234)  # a resumed process starts with whatever RNG state it has
    resumed_model = mlp(ds, seed=99, dropout=0.2)  # and a freshly initialised model
    train(resumed_model, ds, cfg, tmp_path / "part", resume=True)
    full = [{k: v for k, v in r.items() if k not in TIME_KEYS} for r in read_jsonl(tmp_path / "full" / "metrics.jsonl")]
    part = [{k: v for k, v in r.items() if k not in TIME_KEYS} for r in read_jsonl(tmp_path / "part" / "metrics.jsonl")]
    assert part == full and len(full) == 4
    for p, q in zip(full_model.parameters(), resumed_model.parameters()):
        assert torch.equal(p, q)


def test_resume_drops_records_written_after_the_checkpoint(tmp_path):
    ds = digits(200)
    cfg = TrainConfig(epochs=3, batch_size=50, progress=False)
    with pytest.raises(Interrupt):
        train(mlp(ds), ds, cfg, tmp_path, callbacks=[stop_after(1)])
    with open(tmp_path / "metrics.jsonl", "a") as f:  # a crash between the two writes
        f.write('{"epoch": 2, "test_acc": 0.0}\n{"epoch": 3, "te')
    s = train(mlp(ds), ds, cfg, tmp_path, resume=True)
    assert [r["epoch"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2, 3]
    assert s["epochs_completed"] == 3


def test_a_finished_run_resumes_to_itself(tmp_path):
    ds = digits(200)
    cfg = TrainConfig(epochs=2, batch_size=50, progress=False)
    a = train(mlp(ds), ds, cfg, tmp_path)
    b = train(mlp(ds, seed=7), ds, cfg, tmp_path, resume=True)
    assert a["final_test_acc"] == b["final_test_acc"] and b["epochs_completed"] == 2


def test_divergence_is_a_result_not_a_crash(tmp_path):
    ds = digits(300)
    s = train(mlp(ds), ds, TrainConfig(optimizer="sgd", lr=1e6, epochs=5, batch_size=32, progress=False), tmp_path)
    assert s["diverged"] is True and s["epochs_completed"] < 5
    last = read_jsonl(tmp_path / "metrics.jsonl")[-1]
    assert last["diverged"] is True and last["train_loss"] is None


def test_madam_cannot_diverge_to_nan_at_a_huge_lr():
    # |w| is bounded by p_scale * initial RMS, so even lr = 1 keeps the loss finite
    ds = digits(300)
    s = train(mlp(ds), ds, TrainConfig(optimizer="madam", lr=1.0, epochs=2, batch_size=32, progress=False))
    assert not s["diverged"] and math.isfinite(s["final_test_loss"])


def test_schedules():
    assert [LRSchedule("constant", 100)(s) for s in (0, 99)] == [1.0, 1.0]
    assert [LRSchedule("step", 100)(s) for s in (0, 49, 50, 74, 75, 99)] == [1, 1, 0.1, 0.1, 0.01, 0.01]
    cos = LRSchedule("cosine", 100)
    assert cos(0) == 1.0 and abs(cos(50) - 0.5) < 1e-12 and cos(100) < 1e-12
    with pytest.raises(ValueError, match="allowed values: constant, step, cosine, warmup_cosine"):
        LRSchedule("linear", 10)


def test_recorded_lr_follows_the_step_schedule(tmp_path):
    ds = digits(320)  # 10 steps per epoch at batch 32
    train(mlp(ds), ds, TrainConfig(lr=0.01, epochs=4, batch_size=32, schedule="step", progress=False), tmp_path)
    lrs = [r["lr"] for r in read_jsonl(tmp_path / "metrics.jsonl")]
    np.testing.assert_allclose(lrs, [0.01, 0.001, 0.0001, 0.0001])


def test_every_optimizer_runs_through_the_same_loop():
    ds = digits(200)
    for name in ("madam", "sgd", "sgd_momentum", "adam", "adamw"):
        s = train(mlp(ds), ds, TrainConfig(optimizer=name, lr=0.01, epochs=1, batch_size=50, progress=False))
        assert s["optimizer"] == name and s["epochs_completed"] == 1


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="optimizer 'rmsprop' unknown; allowed values: madam"):
        TrainConfig(optimizer="rmsprop").validate()
    with pytest.raises(ValueError, match="batch_size must be an integer"):
        TrainConfig(batch_size=0).validate()
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp="fp8").validate()


def test_cpu_bf16_autocast_trains():
    ds = digits(200)
    s = train(mlp(ds), ds, TrainConfig(epochs=2, batch_size=50, amp="bf16", device="cpu", progress=False))
    assert s["bf16_autocast"] and math.isfinite(s["final_test_loss"])


def test_resume_refuses_other_settings(tmp_path):
    ds = digits(200)
    cfg = TrainConfig(epochs=2, batch_size=50, schedule="cosine", progress=False)
    train(mlp(ds), ds, cfg, tmp_path)
    with pytest.raises(ValueError, match="lr: 0.01 -> 0.1"):
        train(mlp(ds), ds, TrainConfig(epochs=2, batch_size=50, lr=0.1, schedule="cosine", progress=False), tmp_path, resume=True)
    with pytest.raises(ValueError, match="epochs"):
        train(mlp(ds), ds, TrainConfig(epochs=3, batch_size=50, schedule="cosine", progress=False), tmp_path, resume=True)
    with pytest.raises(ValueError, match="do not fit this net"):
        train(mlp(ds, width=8), ds, cfg, tmp_path, resume=True)


def test_constant_lr_run_can_be_extended(tmp_path):
    ds = digits(200)
    train(mlp(ds), ds, TrainConfig(epochs=2, batch_size=50, progress=False), tmp_path)
    s = train(mlp(ds), ds, TrainConfig(epochs=3, batch_size=50, progress=False), tmp_path, resume=True)
    assert s["epochs_completed"] == 3 and len(read_jsonl(tmp_path / "metrics.jsonl")) == 3


def test_madam_through_the_trainer_keeps_signs_and_bounds_log_steps():
    # Madam changes each |w| by a factor exp(+-lr * g_hat), |g_hat| <= g_bound = 10, and never flips a sign
    ds = digits(400)
    model = mlp(ds)
    before = [p.detach().clone() for p in model.parameters()]
    records = []
    train(model, ds, TrainConfig(optimizer="madam", lr=0.01, epochs=3, batch_size=20, progress=False),
          callbacks=[records.append])
    steps = records[-1]["step"]
    assert steps == 60
    matrices = {n for n, p in model.named_parameters() if p.ndim > 1}
    for r in records:  # the weight digest of every matrix, each epoch: sigma(t), flips against the start
        assert set(r["weights"]) == matrices
        for d in r["weights"].values():
            assert d["sigma_ln"] > 0 and d["sign_flips"] == 0 and d["frac_at_upper"] is not None
    for w0, w1 in zip(before, model.parameters()):
        assert torch.equal(torch.sign(w0), torch.sign(w1.detach()))
        dlog = (w1.detach().abs().log() - w0.abs().log()).abs()
        assert float(dlog.max()) <= steps * 0.01 * 10 + 1e-5
        assert float(dlog.max()) > 0


def test_chance_level_accuracy_is_recorded_as_failed():
    ds = digits(200)
    s = train(mlp(ds), ds, TrainConfig(optimizer="sgd", lr=1e-7, epochs=1, batch_size=50, progress=False))
    assert not s["diverged"] and s["failed"] and "chance" in s["failure"]
    assert s["chance_acc"] == pytest.approx(float(ds.y_test.bincount().max()) / len(ds.y_test))
    good = train(mlp(ds), ds, TrainConfig(optimizer="madam", lr=0.01, epochs=5, batch_size=20, progress=False))
    assert not good["failed"] and good["failure"] is None
