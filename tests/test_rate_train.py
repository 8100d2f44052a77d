"""Training: BPTT learners, node perturbation, metrics, checkpoints, exact resume, divergence, runner, CLI."""

import numpy as np
import pytest
import torch

from synapse_madam import rule
from synapse_madam import substrates
from synapse_madam.cli import main
from synapse_madam.io import read_jsonl
from synapse_madam.rate import EIRateRNN
from synapse_madam.rate.local import NodePerturbation, eligibility
from synapse_madam.rate.tasks import make_task
from synapse_madam.rate.train import BPTT, make_learner, steps_to_fraction, train

SMALL_TASK = {"stimulus_ms": [100, 200], "delay_ms": 0, "decision_ms": 200}


def _setup(opt="madam", seed=0, **kw):
    task = make_task("perceptual_dm", **SMALL_TASK)
    net = EIRateRNN(task.n_input, task.n_output, 30, seed=seed)
    return task, net, make_learner(net, kw.pop("rule", "bptt"), **({"optimizer": opt} if opt else {}), **kw)


def _run(tmp, steps, resume=False, opt="madam", **kw):
    task, net, learner = _setup(opt, **kw)
    res = train(net, task, learner, steps=steps, batch_size=8, seed=3, run_dir=tmp, eval_every=2, eval_trials=24,
                final_eval_trials=24, checkpoint_every=2, resume=resume, progress=False)
    return net, res


@pytest.mark.parametrize("opt", ["madam", "adam"])
def test_resume_is_exact(tmp_path, opt):
    full, res_full = _run(tmp_path / "a", 6, opt=opt)
    _run(tmp_path / "b", 4, opt=opt)
    resumed, res = _run(tmp_path / "b", 6, resume=True, opt=opt)
    for p, q in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    assert res["crossed_total"] == res_full["crossed_total"]
    rows = read_jsonl(tmp_path / "b" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [0, 2, 4, 6]
    assert rows == read_jsonl(tmp_path / "a" / "metrics.jsonl") or [r["accuracy"] for r in rows] == \
        [r["accuracy"] for r in read_jsonl(tmp_path / "a" / "metrics.jsonl")]


def test_metrics_and_summary_record_dale(tmp_path):
    net, res = _run(tmp_path, 4, opt="sgd", lr=5.0)
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert {"accuracy", "eval_loss", "sign_violations", "n_silent", "crossed_total", "weights"} <= set(rows[-1])
    assert set(rows[-1]["weights"]) == {"EE", "EI", "IE", "II", "in", "out"}
    assert res["sign_violations"] == 0          # projected after every step
    assert res["crossed_total"] > 0 and res["n_silent"] > 0
    _, res_m = _run(tmp_path / "m", 4, opt="madam")
    assert res_m["crossed_total"] == 0 and res_m["sign_violations"] == 0 and res_m["n_silent"] == 0


def test_divergence_is_recorded_not_raised(tmp_path):
    _, res = _run(tmp_path, 6, opt="sgd", lr=1e12, projection="none")
    assert res["diverged"] and res["accuracy"] is None
    assert read_jsonl(tmp_path / "metrics.jsonl")[-1]["diverged"] is True


def test_bptt_validation():
    task, net, _ = _setup()
    with pytest.raises(ValueError, match="projection"):
        BPTT(net, "adam", projection="clip")
    with pytest.raises(ValueError, match="unknown optimizer"):
        BPTT(net, "rmsprop2")
    with pytest.raises(ValueError, match="learning rule"):
        make_learner(net, "hebb")
    assert steps_to_fraction([{"step": 0, "accuracy": 0.1}, {"step": 5, "accuracy": 0.9}, {"step": 9, "accuracy": 0.95}]) == 5


def test_eligibility_is_reward_weighted_outer_product():
    pre, xi, d = torch.rand(4, 3, 5), torch.randn(4, 3, 2), torch.randn(3)
    expect = sum(d[b] * xi[t, b][:, None] * pre[t, b][None, :] for t in range(4) for b in range(3))
    assert torch.allclose(eligibility(pre, xi, d), expect, atol=1e-6)


def test_node_perturbation_uses_the_madam_rule_and_keeps_signs():
    task, net, learner = _setup(None, rule="node_perturbation", lr=0.05)
    assert isinstance(learner, NodePerturbation)
    signs = {k: np.sign(v) for k, v in net.weight_groups().items()}
    w0 = net.w_rec.detach().clone()
    st0 = learner.state["w_rec"]
    trials = task.generate(8, np.random.default_rng(0))
    learner.step(trials, torch.Generator().manual_seed(1))
    # the update equals rule.madam_update on the three-factor signal: |log ratio| <= lr * g_bound
    w1 = net.w_rec.detach()
    w_max = float(st0.w_max)
    assert float(w1.abs().max()) <= w_max + 1e-7                       # Madam's magnitude bound
    free = (w0 != 0) & (w1.abs() < w_max * (1 - 1e-6))                  # not clipped by the bound
    ratio = (w1 / w0)[free]
    assert torch.all(ratio > 0) and float(torch.log(ratio).abs().max()) <= rule.max_log_step(0.05) + 1e-5
    assert int(learner.state["w_rec"].step) == int(st0.step) + 1
    for _ in range(3):
        learner.step(task.generate(8, np.random.default_rng(1)), torch.Generator().manual_seed(2))
    for k, v in net.weight_groups().items():
        assert np.array_equal(np.sign(v), signs[k]), k


def test_node_perturbation_gradient_estimate_aligns_with_backprop():
    """The antithetic NP estimate of dLoss/dW_out points the same way as the true gradient."""
    torch.manual_seed(0)
    task, net, learner = _setup(None, rule="node_perturbation", sigma=1e-3, sigma_out=0.01)
    trials = task.generate(64, np.random.default_rng(0)).repeat(1)
    from synapse_madam.rate.tasks import trial_loss
    z = net(trials.inputs, noise=torch.zeros(*trials.inputs.shape[:2], net.n_rec))
    trial_loss(z, trials).sum().backward()
    true = net.w_out.grad[:, : net.n_exc].flatten()
    est = torch.zeros_like(true)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(20):
            t2 = trials.repeat(2)
            T, B = t2.inputs.shape[:2]
            xi = torch.randn(T, B // 2, 3, generator=g) * 0.01
            xi = torch.cat([xi, -xi], 1)
            z, r = net(t2.inputs, noise=torch.zeros(T, B, net.n_rec), return_rates=True)
            rew = -trial_loss(z + xi, t2)
            d = (rew[: B // 2] - rew[B // 2:]) / 2
            est += -eligibility(r, xi, torch.cat([d, -d]))[:, : net.n_exc].flatten()
    cos = float(torch.dot(est, true) / (est.norm() * true.norm()))
    assert cos > 0.8


def test_runner_validate_and_cli(tmp_path, capsys):
    from pathlib import Path
    models = Path(__file__).resolve().parents[1] / "models"
    for name in ("rate_perceptual_dm", "rate_context_dm", "rate_parametric_wm"):
        s = substrates.load_spec(models / f"{name}.toml")
        assert substrates.validate(s, name)["substrate"] == "rate"
    s = substrates.load_spec(models / "rate_perceptual_dm.toml")
    for bad, msg in ((["task=\"go\""], "allowed values"), (["network.n_units=3"], "unknown \\[network\\]"),
                     (["learning.optimizer=\"rmsprop2\""], "unknown optimizer"),
                     (["learning.rule=\"node_perturbation\"", "learning.optimizer=\"adam\""], "always takes Madam"),
                     (["learning.rule=\"node_perturbation\"", "learning.projection=\"zero\""], "unknown \\[learning\\]"),
                     (["network.activation=\"gelu\""], "activation")):
        with pytest.raises(ValueError, match=msg):
            substrates.validate(substrates.apply_overrides(s, bad), "spec")
    np_spec = substrates.validate(substrates.apply_overrides(s, ["learning.rule=\"node_perturbation\""]), "spec")
    assert np_spec["learning"] == {"rule": "node_perturbation", "lr": 0.01}
    out = tmp_path / "run"
    args = ["run", str(models / "rate_perceptual_dm.toml"), "--out", str(out), "--set", "steps=3",
            "--set", "eval_every=3", "--set", "eval_trials=24", "--set", "final_eval_trials=24",
            "--set", "batch_size=8", "--set", "network.n_rec=20", "--set", "task_params.stimulus_ms=100"]
    assert main(args) == 0
    assert "accuracy" in capsys.readouterr().out  # the rate substrate's headline
    for f in ("spec.toml", "metrics.jsonl", "summary.json", "weights.npz", "weights_init.npz", "model.pt",
              "learning_curve.png", "psychometric.png", "weights.png"):
        assert (out / f).is_file(), f
    w = np.load(out / "weights.npz")
    assert sorted(w.files) == sorted(["EE", "EI", "IE", "II", "in", "out"])
    assert (w["IE"] < 0).all() and (w["EE"] > 0).all()
    from synapse_madam.rate.runner import load_model
    model = load_model(out)
    assert np.array_equal(model.weight_groups()["EE"], w["EE"])
    assert main(["run", str(models / "rate_perceptual_dm.toml"), "--set", "task=\"nope\""]) == 2
    assert main(["stats", str(out), "--no-figures", "--n-boot", "50", "--n-sim", "20"]) == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("rule_name", ["bptt", "node_perturbation"])
def test_trains_on_gpu(rule_name):
    task = make_task("perceptual_dm", **SMALL_TASK)
    net = EIRateRNN(task.n_input, task.n_output, 30, seed=0)
    signs = {k: np.sign(v) for k, v in net.weight_groups().items()}
    learner = make_learner(net, rule_name, **({"optimizer": "madam"} if rule_name == "bptt" else {}))
    res = train(net, task, learner, steps=3, batch_size=8, eval_every=3, eval_trials=24, final_eval_trials=24,
                progress=False, device="cuda")
    assert net.w_rec.is_cuda and not res["diverged"] and res["sign_violations"] == 0
    for k, v in net.weight_groups().items():
        assert np.array_equal(np.sign(v), signs[k])


@pytest.mark.parametrize("opt", ["madam", "adam"])
def test_runner_records_a_huge_lr_as_diverged_and_failed(tmp_path, opt):
    """The issue's case: lr 100 ended at loss 2.9e21 and accuracy 0 with "diverged": false."""
    from pathlib import Path
    import json

    spec = Path(__file__).resolve().parents[1] / "models" / "rate_perceptual_dm.toml"
    out = tmp_path / "run"
    assert main(["run", str(spec), "--out", str(out), "--set", "steps=20", "--set", "eval_every=10",
                 "--set", "eval_trials=24", "--set", "final_eval_trials=24", "--set", "batch_size=8",
                 "--set", "network.n_rec=20", "--set", "learning.lr=100", "--set", f'learning.optimizer="{opt}"',
                 "--set", "progress=false"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["diverged"] is True and s["failed"] is True and s["divergence"]
    assert read_jsonl(out / "metrics.jsonl")[-1]["diverged"] is True


def test_bounds_reported_only_where_the_optimizer_bounds_w_itself():
    """Madam's w_max bounds |w| and is reported; EG± pairs keep a w_max per synapse w+, w- (not a
    bound of w = w+ - w-), so none is reported for them (it used to be read from their state)."""
    task, net, madam = _setup("madam")
    madam.step(task.generate(8, np.random.default_rng(0)), torch.Generator().manual_seed(0))
    assert madam.w_max() and all(v > 0 for v in madam.w_max().values())
    task, net, paired = _setup("paired_madam")
    paired.step(task.generate(8, np.random.default_rng(0)), torch.Generator().manual_seed(0))
    assert any("w_max" in st for st in paired.optimizer.state.values())
    assert paired.w_max() == {}
