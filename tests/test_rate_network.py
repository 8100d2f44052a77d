"""E/I rate network: Dale's law by construction, projection for additive optimizers, shapes."""

import warnings

import numpy as np
import pytest
import torch

from synapse_madam.optim import ZeroParameterWarning, make_optimizer
from synapse_madam.rate import EIRateRNN
from synapse_madam.rate.analysis import EXPECTED_SIGN


def _net(**kw):
    return EIRateRNN(3, 3, kw.pop("n_rec", 40), seed=kw.pop("seed", 0), **kw)


def test_signs_follow_presynaptic_type():
    net = _net()
    w = (net.w_rec * net.conn_rec).detach()
    e = net.n_exc
    assert e == 32 and net.n_inh == 8
    assert (w[:, :e][net.conn_rec[:, :e].bool()] > 0).all()
    assert (w[:, e:][net.conn_rec[:, e:].bool()] < 0).all()
    assert torch.all(torch.diagonal(w) == 0)  # no autapses by default
    assert (net.w_in > 0).all() and (net.w_out[:, :e] > 0).all() and (net.w_out[:, e:] == 0).all()
    groups = net.weight_groups()
    assert set(groups) == set(EXPECTED_SIGN)
    for name, sign in EXPECTED_SIGN.items():
        assert np.all(groups[name] * sign > 0), name
    assert groups["EE"].size == e * (e - 1) and groups["IE"].size == e * net.n_inh


def test_balanced_scaling_and_spectral_radius():
    net = _net(n_rec=200, spectral_radius=1.2)
    w = (net.w_rec * net.conn_rec).detach()
    assert float(torch.linalg.eigvals(w).abs().max()) == pytest.approx(1.2, rel=1e-4)
    # expected E and I input cancel: the mean row sum is small compared with the E input alone
    e_in = w[:, : net.n_exc].sum(1)
    assert abs(float(w.sum(1).mean())) < 0.2 * float(e_in.mean())


def test_init_is_seeded_and_lognormal_option():
    a, b, c = _net(seed=3), _net(seed=3), _net(seed=4)
    assert torch.equal(a.w_rec, b.w_rec) and not torch.equal(a.w_rec, c.w_rec)
    ln = EIRateRNN(3, 3, 400, init="lognormal", lognormal_sigma=0.9355, seed=0)
    sd = np.log(np.abs(ln.weight_groups()["EE"])).std()
    assert sd == pytest.approx(0.9355, rel=0.05)


def test_forward_shapes_noise_and_validation():
    net = _net()
    u = torch.rand(10, 5, 3)
    z, r = net(u, return_rates=True, generator=torch.Generator().manual_seed(0))
    assert z.shape == (10, 5, 3) and r.shape == (10, 5, 40) and (r >= 0).all()
    z1 = net(u, noise=torch.zeros(10, 5, 40))
    z2 = net(u, noise=torch.zeros(10, 5, 40))
    assert torch.equal(z1, z2)
    with pytest.raises(ValueError, match="inputs must have shape"):
        net(torch.rand(10, 5, 4))
    with pytest.raises(ValueError, match="activation"):
        _net(activation="gelu")
    with pytest.raises(ValueError, match="frac_exc"):
        _net(frac_exc=1.5)


def _train_steps(net, name, lr, steps=30, project=False):
    opt = make_optimizer(name, list(net.parameters()), lr)
    crossed = 0
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        u = torch.rand(15, 8, 3, generator=g)
        loss = net(u).pow(2).mean() - net(u)[..., 0].mean() * 5  # pushes weights around strongly
        opt.zero_grad()
        loss.backward()
        with warnings.catch_warnings():  # absent synapses (autapses) are exact zeros by design
            warnings.simplefilter("ignore", ZeroParameterWarning)
            opt.step()
        if project:
            crossed += net.project_("zero")
    return crossed


def test_madam_never_breaks_dale_without_projection():
    net = _net()
    before = {k: v.copy() for k, v in net.weight_groups().items()}
    _train_steps(net, "madam", 0.1)
    after = net.weight_groups()
    assert net.sign_violations() == 0 and net.n_silent() == 0
    assert any(not np.allclose(before[k], after[k]) for k in before)  # it did learn
    for k in before:
        assert np.array_equal(np.sign(before[k]), np.sign(after[k]))


def test_adam_breaks_dale_unless_projected():
    net = _net()
    _train_steps(net, "adam", 0.05)
    assert net.sign_violations() > 0
    net = _net()
    crossed = _train_steps(net, "adam", 0.05, project=True)
    assert crossed > 0 and net.sign_violations() == 0 and net.n_silent() > 0


def test_project_floor_keeps_synapses_alive():
    net = _net()
    with torch.no_grad():
        net.w_rec[0, 1] = -0.5      # E synapse made negative
        net.w_rec[0, -1] = 0.3      # I synapse made positive
        net.w_rec[0, 0] = -1.0      # absent synapse (autapse): not counted, stays masked
    assert net.sign_violations() == 2
    assert net.project_("floor") == 2
    assert net.sign_violations() == 0 and net.n_silent() == 0
    w = net.w_rec.detach()
    assert 0 < float(w[0, 1]) < 1e-5 and -1e-5 < float(w[0, -1]) < 0
    with torch.no_grad():
        net.w_rec[0, 1] = -0.5
    assert net.project_("zero") == 1 and float(net.w_rec.detach()[0, 1]) == 0.0 and net.n_silent() == 1
    with pytest.raises(ValueError, match="mode"):
        net.project_("clip")


def test_absent_synapses_get_no_gradient():
    net = _net(p_connect=0.5)
    net(torch.rand(5, 4, 3)).sum().backward()
    assert torch.all(net.w_rec.grad[net.conn_rec == 0] == 0)
    assert torch.all(net.w_out.grad[:, net.n_exc:] == 0)


def test_group_statistics_counts_zeros_violations_and_pile_at_max():
    from synapse_madam.rate.analysis import group_statistics

    rng = np.random.default_rng(0)
    w = -np.exp(rng.normal(-1, 0.9, 2000))
    w[:10] = 0.0
    w[10:15] = 0.5                       # wrong sign for an inhibitory group
    w[15:215] = -np.abs(w).max() * 1.0   # 200 weights at the largest magnitude
    hi = float(np.abs(w).max())
    s = group_statistics("IE", w, n_boot=20, bounds=(0.0, hi))
    assert s["n"] == 2000 and s["n_zero"] == 10 and s["sign_violations"] == 5
    assert s["frac_wrong_sign"] == pytest.approx(5 / 2000)
    assert s["frac_at_upper"] == pytest.approx(np.mean(np.abs(np.abs(w) - hi) <= 1e-3 * hi))
    assert s["frac_at_upper"] >= 200 / 2000
    # without a known bound there is no "at the bound" (max|w| is not a bound)
    assert group_statistics("IE", w, n_boot=20)["frac_at_upper"] is None
    assert s["sigma"] > 0 and s["best_fit"] in ("lognormal", "lognormal_mixture", "gamma", "normal")
