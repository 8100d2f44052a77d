"""Tasks: trial structure, masks, targets, psychometric grids, loss and evaluation."""

import numpy as np
import pytest
import torch

from synapse_madam.rate import EIRateRNN
from synapse_madam.rate.tasks import TASKS, decisions, evaluate, make_task, masked_loss, psychometric, trial_loss


@pytest.mark.parametrize("name", list(TASKS))
def test_trial_structure(name):
    task = make_task(name)
    tr = task.generate(16, np.random.default_rng(0))
    T, B = tr.targets.shape
    assert tr.inputs.shape == (T, B, task.n_input) and tr.mask.shape == (T, B)
    for b in range(B):
        dec = tr.decision[:, b].numpy()
        idx = np.flatnonzero(dec)
        assert idx.size == round(300 / task.dt_ms) and np.all(np.diff(idx) == 1)   # one contiguous epoch
        assert np.all(tr.targets[idx, b].numpy() == 1 + tr.choice[b])
        assert np.all(tr.targets[: idx[0], b].numpy() == 0)                        # fixate before
        assert np.all(tr.inputs[: idx[0], b, 0].numpy() == 1) and np.all(tr.inputs[idx, b, 0].numpy() == 0)
        grace = round(task.grace_ms / task.dt_ms)
        assert np.all(tr.mask[idx[:grace], b].numpy() == 0)
        assert np.all(tr.mask[idx[grace:], b].numpy() == task.decision_weight)
        assert np.all(tr.mask[idx[-1] + 1:, b].numpy() == 0)                        # padding
    assert set(np.unique(tr.choice)) <= {0, 1}


def test_choice_follows_evidence():
    dm = make_task("perceptual_dm", sigma_in=0.0)
    tr = dm.generate(64, np.random.default_rng(1))
    stim = tr.inputs[..., 1] - tr.inputs[..., 2]
    assert np.all(np.sign(stim.sum(0).numpy()) == np.where(tr.choice == 0, 1, -1))
    wm = make_task("parametric_wm", sigma_in=0.0)
    tr = wm.generate(64, np.random.default_rng(1))
    assert np.all((tr.extra["f1"] > tr.extra["f2"]) == (tr.choice == 0))
    ctx = make_task("context_dm")
    tr = ctx.generate(200, np.random.default_rng(2))
    rel = np.where(tr.extra["context"] == 0, tr.extra["motion"], tr.extra["colour"])
    assert np.all((rel > 0) == (tr.choice == 0))


def test_conditions_and_errors():
    dm = make_task("perceptual_dm")
    tr = dm.generate(4, np.random.default_rng(0), conditions={"coherence": np.array([0.32, -0.32, 0.01, -0.01])})
    assert list(tr.choice) == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="unknown task"):
        make_task("go_nogo")
    with pytest.raises(ValueError, match="unknown parameter"):
        make_task("perceptual_dm", response_ms=100)
    with pytest.raises(ValueError, match="min <= max"):
        make_task("perceptual_dm", stimulus_ms=[500, 100])
    with pytest.raises(ValueError, match="coherences"):
        make_task("perceptual_dm", coherences=[0.0])


def test_loss_is_masked_and_decisions():
    dm = make_task("perceptual_dm")
    tr = dm.generate(8, np.random.default_rng(0))
    perfect = torch.nn.functional.one_hot(tr.targets, 3).float() * 50
    assert float(masked_loss(perfect, tr)) < 1e-6
    assert torch.all(trial_loss(perfect, tr) < 1e-6)
    junk = perfect.clone()
    junk[tr.mask == 0] = torch.tensor([0.0, 0.0, 50.0])   # wrong where the mask is 0: no loss
    assert float(masked_loss(junk, tr)) < 1e-6
    assert np.array_equal(decisions(perfect, tr), tr.choice)
    assert np.all(decisions(torch.zeros_like(perfect) + torch.tensor([9.0, 0, 0]), tr) == -1)


def test_psychometric_and_evaluate():
    p = psychometric(np.array([-1, -1, 1, 1]), np.array([1, 0, 0, 0]))
    assert p["x"] == [-1, 1] and p["p_choice0"] == [0.5, 1.0]
    ctx = make_task("context_dm")
    net = EIRateRNN(ctx.n_input, ctx.n_output, 30, seed=0)
    ev = evaluate(net, ctx, n_trials=200)
    assert set(ev["psychometric"]) == {"0", "1"} and 0 <= ev["accuracy"] <= 1
    assert ev == evaluate(net, ctx, n_trials=200)  # fixed seed: comparable across training
