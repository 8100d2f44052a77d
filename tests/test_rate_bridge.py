"""Rate networks and the bridge (issue 11): the rule's opt-in terms under node perturbation and
BPTT, the explicit go cue of parametric WM, the readout bias, the constant-magnitude init, and the
weight digest logged during a run."""

import numpy as np
import pytest
import torch

from synapse_madam import rule
from synapse_madam.hashnoise import hash_normal
from synapse_madam.io import read_jsonl
from synapse_madam.rate import EIRateRNN
from synapse_madam.rate.local import NodePerturbation
from synapse_madam.rate.runner import validate
from synapse_madam.rate.tasks import make_task
from synapse_madam.rate.train import make_learner, train

SMALL_TASK = {"stimulus_ms": [100, 200], "delay_ms": 0, "decision_ms": 200}
SMALL_WM = {"f1_ms": 100, "delay_ms": [100, 200], "f2_ms": 100, "decision_ms": 200}
TERMS = {"restore": 0.05, "noise": 0.03, "set_point": 0.8}


# ---------------------------------------------------------------- parametric WM: explicit go cue
def test_go_cue_is_on_exactly_in_the_decision_epoch():
    task = make_task("parametric_wm")
    assert task.go_cue and task.n_input == 4
    tr = task.generate(32, np.random.default_rng(0))
    go = tr.inputs[..., 3].numpy()
    decision = tr.decision.numpy()
    assert np.array_equal(go, decision.astype(np.float32))      # 1 in the decision epoch, 0 before and after
    assert decision.sum() > 0 and (go[decision] == 1).all()
    # fixation channel still turns off at the go cue; the f channels are unchanged by the cue
    assert (tr.inputs[..., 0].numpy()[decision] == 0).all()
    off = make_task("parametric_wm", go_cue=False)
    tr_off = off.generate(32, np.random.default_rng(0))
    assert off.n_input == 3 and torch.equal(tr_off.inputs, tr.inputs[..., :3])
    assert make_task("perceptual_dm").n_input == 3                 # other tasks keep their inputs
    assert make_task("perceptual_dm", go_cue=True).n_input == 4
    with pytest.raises(ValueError, match="go_cue"):
        make_task("parametric_wm", go_cue="yes")


# ---------------------------------------------------------------- readout bias, constant init
def test_readout_has_a_trainable_bias():
    net = EIRateRNN(4, 3, 30, seed=0)
    assert isinstance(net.b_out, torch.nn.Parameter) and net.b_out.shape == (3,)
    assert any(p is net.b_out for p in net.parameters())
    u = torch.rand(7, 2, 4)
    z0 = net(u, noise=torch.zeros(7, 2, 30))
    with torch.no_grad():
        net.b_out += torch.tensor([0.5, -0.25, 1.0])
    z1 = net(u, noise=torch.zeros(7, 2, 30))
    assert torch.allclose(z1 - z0, torch.tensor([0.5, -0.25, 1.0]).expand_as(z0), atol=1e-6)
    assert EIRateRNN(4, 3, 30, readout_bias=0.0, seed=0).b_out is None
    # the bias is not a synapse: Dale's-law projection and sign counts leave it alone
    with torch.no_grad():
        net.b_out.copy_(torch.tensor([-1.0, 0.5, -0.2]))
    assert net.project_("zero") == 0 and net.sign_violations() == 0
    assert torch.equal(net.b_out, torch.tensor([-1.0, 0.5, -0.2]))


def test_constant_init_has_one_magnitude_per_group_and_the_gamma_rms():
    gamma = EIRateRNN(3, 3, 50, seed=2).weight_groups()
    const_net = EIRateRNN(3, 3, 50, init="constant", seed=2)
    const = const_net.weight_groups()
    for key, w in const.items():
        assert np.all(np.sign(w) == np.sign(gamma[key])), key
        assert np.unique(np.abs(w)).size == 1, key
        assert np.sqrt(np.mean(w ** 2)) == pytest.approx(np.sqrt(np.mean(gamma[key] ** 2)), rel=1e-5), key
    assert torch.unique(const_net.b_rec).numel() == 1


# ---------------------------------------------------------------- node perturbation + the terms
@pytest.mark.parametrize("bound", ["hard", "soft"])
def test_node_perturbation_step_equals_the_numpy_rule_with_hash_noise(bound):
    task = make_task("perceptual_dm", **SMALL_TASK)
    net = EIRateRNN(task.n_input, task.n_output, 20, seed=1)
    np_ = NodePerturbation(net, lr=0.05, bound=bound, noise_seed=7, **TERMS)
    ref = {k: p.detach().numpy().copy() for k, p in np_.params.items()}
    states = {k: rule.init_state(w, 3.0, TERMS["set_point"]) for k, w in ref.items()}
    for k in ("w_rec", "w_in", "w_out"):   # per-group set points (see the next test)
        mu = np.log(TERMS["set_point"]) + net.group_log_rms(k).numpy()
        states[k] = states[k]._replace(log_set_point=mu.astype(np.float32))
    rng = np.random.default_rng(0)
    for _ in range(3):
        dirs = {k: rng.standard_normal(w.shape).astype(np.float32) for k, w in ref.items()}
        np_.apply({k: torch.from_numpy(d) for k, d in dirs.items()})
        for i, key in enumerate(np_.params):
            if key == "b_out":   # the bias takes the published step
                kw = {}
            else:
                xi = hash_normal(7 * 1000003 + i, states[key].step + 1, ref[key].shape)
                kw = {"restore": TERMS["restore"], "noise": TERMS["noise"], "bound": bound, "xi": xi}
            ref[key], states[key] = rule.madam_update(ref[key], dirs[key], states[key], 0.05, **kw)
    for key, p in np_.params.items():
        np.testing.assert_allclose(p.detach().numpy(), ref[key], rtol=2e-5, atol=1e-7, err_msg=key)
    assert net.sign_violations() == 0


def test_restore_pulls_each_synapse_group_to_its_own_set_point():
    """One set point per group: E->E, E->I, I->E, I->I relax to set_point x their own initial RMS,
    so the 4x larger inhibitory magnitudes (balanced scaling) stay 4x larger."""
    net = EIRateRNN(3, 3, 40, seed=0)
    rms0 = {k: np.sqrt(np.mean(w ** 2)) for k, w in net.weight_groups().items()}
    learner = NodePerturbation(net, restore=0.2, set_point=0.5, bound="none")
    zero = {k: torch.zeros_like(p) for k, p in learner.params.items()}
    for _ in range(120):
        learner.apply(zero)
    for k, w in net.weight_groups().items():
        np.testing.assert_allclose(np.abs(w), 0.5 * rms0[k], rtol=1e-4, err_msg=k)
    assert rms0["IE"] > 3 * rms0["EE"]
    assert net.sign_violations() == 0


def test_node_perturbation_terms_off_is_the_published_rule():
    task = make_task("perceptual_dm", **SMALL_TASK)
    nets = [EIRateRNN(task.n_input, task.n_output, 20, seed=1) for _ in range(2)]
    plain = NodePerturbation(nets[0])
    explicit = NodePerturbation(nets[1], restore=0.0, noise=0.0, bound="hard", noise_seed=5)
    for seed in range(3):
        tr = task.generate(8, np.random.default_rng(seed))
        plain.step(tr, torch.Generator().manual_seed(seed))
        explicit.step(tr, torch.Generator().manual_seed(seed))
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(p, q)


def _np_run(tmp, steps, resume=False, **terms):
    task = make_task("perceptual_dm", **SMALL_TASK)
    net = EIRateRNN(task.n_input, task.n_output, 20, seed=0)
    learner = make_learner(net, "node_perturbation", noise_seed=3, **terms)
    res = train(net, task, learner, steps=steps, batch_size=6, seed=3, run_dir=tmp, eval_every=2, eval_trials=16,
                final_eval_trials=16, checkpoint_every=2, resume=resume, progress=False)
    return net, res


def test_node_perturbation_with_noise_resumes_exactly_and_logs_the_digest(tmp_path):
    full, _ = _np_run(tmp_path / "a", 6, **TERMS)
    _np_run(tmp_path / "b", 4, **TERMS)
    resumed, _ = _np_run(tmp_path / "b", 6, resume=True, **TERMS)
    for p, q in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    other, _ = _np_run(tmp_path / "c", 6, **{**TERMS, "noise": 0.0})
    assert not torch.equal(full.w_rec, other.w_rec)          # the noise is really applied
    rows = read_jsonl(tmp_path / "b" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [0, 2, 4, 6]
    d = rows[-1]["weights"]
    assert set(d) == {"EE", "EI", "IE", "II", "in", "out"}
    for key, g in d.items():
        assert g["sigma_ln"] > 0 and g["sign_flips"] == 0 and g["frac_wrong_sign"] == 0, key
        assert g["frac_at_bounds"] is not None, key           # the hard bound is known to the digest
    # with bound="none" there is no bound to be at
    _, res = _np_run(tmp_path / "d", 2, **TERMS, bound="none")
    assert all(g["frac_at_bounds"] is None for g in res["history"][-1]["weights"].values())


# ---------------------------------------------------------------- BPTT through torch Madam's options
def test_bptt_terms_reach_the_synapses_only_and_keep_dale(tmp_path):
    task = make_task("parametric_wm", **SMALL_WM)
    net = EIRateRNN(task.n_input, task.n_output, 20, seed=0)
    b_out0 = net.b_out.detach().clone()
    learner = make_learner(net, "bptt", optimizer="madam", noise_seed=2, **TERMS)
    groups = learner.optimizer.param_groups
    assert groups[0]["restore"] == TERMS["restore"] and groups[0]["noise"] == TERMS["noise"]
    assert {id(p) for p in groups[0]["params"]} == {id(net.w_rec), id(net.w_in), id(net.w_out)}
    assert groups[1]["restore"] == 0 and groups[1]["noise"] == 0
    train(net, task, learner, steps=5, batch_size=6, seed=1, eval_every=5, eval_trials=14, final_eval_trials=14,
          progress=False)
    assert net.sign_violations() == 0 and net.n_silent() == 0
    assert not torch.equal(net.b_out, b_out0) and (net.b_out > 0).all()
    with pytest.raises(ValueError, match="terms of Madam"):
        make_learner(net, "bptt", optimizer="adam", restore=0.1)


@pytest.mark.parametrize("bound", ["none", "hard"])
def test_bptt_step_equals_the_numpy_rule_with_group_set_points(bound):
    """Each BPTT step is rule.madam_update on the gradient, with the terms, per-group set points
    and the hash noise of tensor k = hash_normal(noise_seed * 1000003 + k, t)."""
    task = make_task("perceptual_dm", **SMALL_TASK)
    net = EIRateRNN(task.n_input, task.n_output, 20, seed=0)
    learner = make_learner(net, "bptt", optimizer="madam", noise_seed=5, bound=bound, **TERMS)
    named = dict(net.named_parameters())
    ref = {k: p.detach().numpy().copy() for k, p in named.items()}
    states = {k: rule.init_state(w, 3.0, TERMS["set_point"] if k in ("w_rec", "w_in", "w_out") else 1.0)
              for k, w in ref.items()}
    for k in ("w_rec", "w_in", "w_out"):
        mu = np.log(TERMS["set_point"]) + net.group_log_rms(k).numpy()
        states[k] = states[k]._replace(log_set_point=mu.astype(np.float32))
    gen = torch.Generator().manual_seed(0)
    for step in range(3):
        learner.step(task.generate(6, np.random.default_rng(step)), gen)
        for i, (k, p) in enumerate(named.items()):
            g = p.grad.detach().numpy()
            if k in ("w_rec", "w_in", "w_out"):
                xi = hash_normal(5 * 1000003 + i, states[k].step + 1, ref[k].shape)
                kw = {"restore": TERMS["restore"], "noise": TERMS["noise"], "bound": bound, "xi": xi}
            else:
                kw = {}
            ref[k], states[k] = rule.madam_update(ref[k], g, states[k], 0.01, **kw)
            # compare with the network's own weights, then continue from them (float32 paths may differ
            # in the last bit; the comparison is per step)
            np.testing.assert_allclose(p.detach().numpy(), ref[k], rtol=3e-5, atol=1e-7, err_msg=f"{k} step {step}")
            ref[k] = p.detach().numpy().copy()
    assert net.sign_violations() == 0


def test_bptt_with_noise_resumes_exactly(tmp_path):
    def run(d, steps, resume=False):
        task = make_task("perceptual_dm", **SMALL_TASK)
        net = EIRateRNN(task.n_input, task.n_output, 20, seed=0)
        learner = make_learner(net, "bptt", optimizer="madam", noise_seed=4, **TERMS)
        train(net, task, learner, steps=steps, batch_size=6, seed=3, run_dir=d, eval_every=2, eval_trials=16,
              final_eval_trials=16, checkpoint_every=2, resume=resume, progress=False)
        return net
    full = run(tmp_path / "a", 6)
    run(tmp_path / "b", 4)
    resumed = run(tmp_path / "b", 6, resume=True)
    for p, q in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(p, q)


# ---------------------------------------------------------------- spec keys
def test_runner_validates_and_passes_the_terms():
    base = {"substrate": "rate", "task": "perceptual_dm", "network": {"n_rec": 20}, "task_params": SMALL_TASK}
    spec = validate({**base, "learning": {"rule": "node_perturbation", "restore": 0.01, "noise": 0.01,
                                          "bound": "soft"}}, "t.toml")
    from synapse_madam.rate.runner import build
    _, _, learner = build(spec)
    assert (learner.restore, learner.noise, learner.bound, learner.noise_seed) == (0.01, 0.01, "soft", spec["seed"])
    with pytest.raises(ValueError, match="learning.noise is a term of Madam"):
        validate({**base, "learning": {"optimizer": "adam", "noise": 0.01}}, "t.toml")
    with pytest.raises(ValueError, match="bound"):
        validate({**base, "learning": {"rule": "node_perturbation", "bound": "elastic"}}, "t.toml")
    with pytest.raises(ValueError, match="restore"):
        validate({**base, "learning": {"restore": -1.0}}, "t.toml")


def test_bridge_spec_runs_from_the_cli_and_reports_stationarity(tmp_path):
    import json
    from pathlib import Path

    from synapse_madam.cli import main
    spec = Path(__file__).resolve().parents[1] / "models" / "rate_bridge.toml"
    out = tmp_path / "run"
    assert main(["run", str(spec), "--out", str(out), "--set", "progress=false", "--set", "steps=8", "--set", "eval_every=2",
                 "--set", "eval_trials=16", "--set", "final_eval_trials=16", "--set", "batch_size=6",
                 "--set", "network.n_rec=20", "--set", "task_params.stimulus_ms=100"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["learner"]["restore"] == 0.0025 and summary["learner"]["noise"] == 0.03
    assert set(summary["sigma_stationarity"]) == {"EE", "EI", "IE", "II", "in", "out"}
    assert summary["sigma_stationarity"]["EE"]["n_points"] == 5
    assert summary["weights"]["EE"]["sign_flips"] == 0 and summary["sign_violations"] == 0
    rows = read_jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [0, 2, 4, 6, 8] and all("sigma_ln" in r["weights"]["EE"] for r in rows)
