"""The rule's opt-in log-space terms: homeostasis (restore), fluctuations (noise), soft bound.

Stationary law (module doc of synapse_madam.rule): with zero gradient, ln|w| is an exact-step
Ornstein-Uhlenbeck process with stationary N(mu, noise^2 / (2 theta)).
"""

import math

import numpy as np
import pytest
import torch

from synapse_madam import rule
from synapse_madam.hashnoise import hash_normal


def simulate(w, steps, *, grads=None, seed=0, state=None, start=0, **terms):
    """Run rule.madam_update with hash noise keyed on (seed, step): the optimizers' convention."""
    state = state if state is not None else rule.init_state(w, terms.pop("p_scale", rule.DEFAULT_P_SCALE),
                                                            terms.pop("set_point", 1.0))
    terms.pop("p_scale", None), terms.pop("set_point", None)
    for t in range(start, start + steps):
        g = np.zeros_like(w) if grads is None else grads(t)
        xi = hash_normal(seed, t + 1, w.shape, like=w) if terms.get("noise") else None
        w, state = rule.madam_update(w, g, state, xi=xi, **terms)
    return w, state


@pytest.mark.parametrize("theta,noise", [(0.05, 0.1), (0.2, 0.3)])
def test_zero_gradient_stationary_law_matches_closed_form(theta, noise):
    n = 40_000
    rng = np.random.default_rng(1)
    w0 = rng.uniform(-1, 1, n)
    w, state = simulate(w0, int(25 / theta), restore=theta, noise=noise, bound="none")
    x = np.log(np.abs(w))
    mu, var = rule.stationary_log_moments(state.log_set_point, theta, noise)
    # sampling error of a mean and a variance of n independent normals
    assert abs(x.mean() - mu) < 5 * math.sqrt(var / n)
    assert abs(x.var() - var) < 5 * var * math.sqrt(2 / n)
    assert np.all(np.sign(w) == np.sign(w0))


def test_two_initialisations_of_one_rms_reach_the_same_law():
    n, theta, noise = 40_000, 0.1, 0.2
    rng = np.random.default_rng(2)
    uniform = rng.uniform(-1, 1, n)
    constant = np.sign(rng.uniform(-1, 1, n)) * math.sqrt(np.mean(uniform**2))  # same RMS
    xs = [np.log(np.abs(simulate(w0, 300, restore=theta, noise=noise, bound="none", seed=s)[0]))
          for s, w0 in enumerate((uniform, constant))]
    var = noise**2 / (2 * theta)
    assert abs(xs[0].mean() - xs[1].mean()) < 6 * math.sqrt(2 * var / n)
    assert abs(xs[0].std() / xs[1].std() - 1) < 0.03
    # the initial laws were far apart: sigma(ln|w|) of a uniform is 1, of a constant 0
    assert abs(np.log(np.abs(uniform)).std() - 1) < 0.02


def test_without_noise_ln_w_relaxes_to_the_set_point_exactly():
    w0 = np.array([0.5, -2.0, 1e-3, -7.0])
    state = rule.init_state(w0, set_point=1.0)
    w, _ = simulate(w0, 1, restore=0.3, bound="none", state=state)
    mu = state.log_set_point
    np.testing.assert_allclose(np.log(np.abs(w)) - mu, (np.log(np.abs(w0)) - mu) * math.exp(-0.3), rtol=1e-12)
    assert np.all(np.sign(w) == np.sign(w0))


def test_terms_off_is_the_published_rule_bit_for_bit():
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=200)
    grads = [rng.normal(size=200) for _ in range(50)]
    a, b = w0, w0
    sa, sb = rule.init_state(w0), rule.init_state(w0)
    for g in grads:
        a, sa = rule.madam_update(a, g, sa)
        b, sb = rule.madam_update(b, g, sb, restore=0.0, noise=0.0, bound="hard")
    assert np.array_equal(a, b)


def test_no_sign_ever_flips_with_large_noise_and_gradients():
    rng = np.random.default_rng(4)
    w0 = rng.normal(size=5000)
    w, _ = simulate(w0, 200, grads=lambda t: rng.normal(size=5000) * 100, restore=0.01, noise=1.0,
                    bound="soft", lr=0.5)
    assert np.all(np.sign(w) == np.sign(w0))
    assert np.all(w != 0)


def test_seeded_noise_resumes_exactly():
    rng = np.random.default_rng(5)
    w0 = rng.normal(size=1000)
    g = [rng.normal(size=1000) for _ in range(40)]
    kw = dict(grads=lambda t: g[t], restore=0.02, noise=0.05, bound="soft", seed=9)
    full, s_full = simulate(w0, 40, **kw)
    half, s_half = simulate(w0, 17, **kw)
    resumed, s_res = simulate(half, 23, state=s_half, start=17, **kw)
    assert np.array_equal(full, resumed)
    assert np.array_equal(s_full.v, s_res.v) and s_full.step == s_res.step
    other, _ = simulate(w0, 40, **{**kw, "seed": 10})
    assert not np.array_equal(full, other)


def test_numpy_and_torch_draw_the_same_noise_and_agree():
    rng = np.random.default_rng(6)
    w0 = rng.normal(size=300)
    g = [rng.normal(size=300) for _ in range(30)]
    kw = dict(restore=0.05, noise=0.1, bound="soft")
    a, _ = simulate(w0, 30, grads=lambda t: g[t], **kw)
    b, _ = simulate(torch.tensor(w0), 30, grads=lambda t: torch.tensor(g[t]), **kw)
    np.testing.assert_allclose(b.numpy(), a, rtol=1e-12, atol=0)


def test_soft_bound_stops_growth_at_w_max_and_never_clips():
    w0 = np.array([0.1, 0.9, -0.5])
    state = rule.init_state(w0, p_scale=1.0)  # w_max = RMS(w0)
    w_max = float(state.w_max)
    w, _ = simulate(w0, 3000, grads=lambda t: -np.sign(w0), state=state, bound="soft", lr=0.05)
    below = np.abs(w[[0, 2]])
    assert np.all(below <= w_max) and np.all(below > 0.99 * w_max)  # growth slows to a halt at w_max
    assert w[1] == 0.9  # a weight above w_max neither grows nor is clipped
    # depression is unscaled: the first step of a weight at the bound moves by exactly lr
    s2 = rule.init_state(w0, p_scale=1.0)
    w1, _ = rule.madam_update(w0, np.sign(w0), s2, lr=0.05, bound="soft")
    np.testing.assert_allclose(np.log(np.abs(w0 / w1)), 0.05, rtol=1e-12)


def test_noise_without_xi_and_bad_terms_get_one_clear_error():
    w = np.ones(3)
    with pytest.raises(ValueError, match="needs xi"):
        rule.madam_update(w, w, rule.init_state(w), noise=0.1)
    with pytest.raises(ValueError, match="bound must be one of"):
        rule.validate_hyperparameters(0.01, 0.999, 10, 3, bound="elastic")
    with pytest.raises(ValueError, match="restore"):
        rule.validate_hyperparameters(0.01, 0.999, 10, 3, restore=-1)
    with pytest.raises(ValueError, match="restore .theta. must be > 0"):
        rule.stationary_log_moments(0.0, 0.0, 0.1)
