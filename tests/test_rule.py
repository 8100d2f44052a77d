"""The Madam rule (synapse_madam.rule) on numpy and torch: known values and invariants."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from synapse_madam import rule


def run_numpy(w, grads, **hyper):
    state = rule.init_state(w, hyper.pop("p_scale", rule.DEFAULT_P_SCALE))
    for g in grads:
        w, state = rule.madam_update(w, g, state, **hyper)
    return w, state


def test_first_step_moves_log_magnitude_by_exactly_lr():
    # At t=1, v_hat = g^2, so g_hat = sign(g) and log|w| moves by -lr*sign(w)*sign(g).
    rng = np.random.default_rng(0)
    w = rng.normal(size=100)
    g = rng.normal(size=100)
    state = rule.init_state(w, p_scale=np.inf)
    w1, _ = rule.madam_update(w, g, state, lr=0.01)
    np.testing.assert_allclose(np.log(np.abs(w1)) - np.log(np.abs(w)), -0.01 * np.sign(w) * np.sign(g), atol=1e-12)
    assert np.all(np.sign(w1) == np.sign(w))


def test_second_moment_bias_correction_matches_closed_form():
    g = np.array([2.0, -3.0])
    v = np.zeros(2)
    for _ in range(5):
        v = rule.second_moment(v, g, beta=0.9)
    # constant g: v_t = (1 - 0.9^t) g^2, so v_hat = g^2 and g_hat = sign(g)
    np.testing.assert_allclose(v, (1 - 0.9**5) * g**2)
    np.testing.assert_allclose(rule.normalized_gradient(g, v, 5, beta=0.9), np.sign(g))


def test_zero_over_zero_is_zero_and_clip_applies():
    z = np.zeros(3, dtype=np.float32)
    assert np.array_equal(rule.normalized_gradient(z, z, 1), z)
    # a tiny v with a large g saturates at g_bound
    out = rule.normalized_gradient(np.array([1.0, -1.0]), np.array([1e-12, 1e-12]), 1, g_bound=10.0)
    np.testing.assert_array_equal(out, [10.0, -10.0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_gradient_is_skipped(bad):
    w = np.array([0.5, -0.2, 1.0])
    g = np.array([bad, 0.3, -0.1])
    w1, state = rule.madam_update(w, g, rule.init_state(w))
    assert np.all(np.isfinite(w1)) and np.all(np.isfinite(state.v))
    assert w1[0] == w[0] and state.v[0] == 0.0


def test_zero_weights_never_move_and_all_zero_tensor_has_zero_bound():
    w = np.zeros(4)
    state = rule.init_state(w)
    assert state.w_max == 0.0
    w1, _ = rule.madam_update(w, np.ones(4), state)
    assert np.array_equal(w1, w)


def test_w_max_is_p_scale_times_initial_rms_and_bounds_weights():
    w = np.array([1.0, -1.0, 1.0, -1.0])
    state = rule.init_state(w, p_scale=1.5)
    assert state.w_max == pytest.approx(1.5)
    for _ in range(300):  # always push magnitudes up
        w, state = rule.madam_update(w, -np.sign(w), state, lr=0.1)
    np.testing.assert_allclose(np.abs(w), 1.5)
    assert np.array_equal(np.sign(w), [1, -1, 1, -1])


def test_eps_is_opt_in_and_changes_the_normalisation():
    g, v = np.array([1e-3]), np.array([1e-6])
    late = 100_000  # bias correction 1 - beta^t ~ 1
    assert rule.normalized_gradient(g, v, late, eps=0.0)[0] == pytest.approx(1.0)
    assert rule.normalized_gradient(g, v, late, eps=1e-3)[0] == pytest.approx(0.5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_numpy_and_torch_give_the_same_trajectory(dtype):
    rng = np.random.default_rng(1)
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    w = rng.normal(size=(7, 5)).astype(np_dtype)
    grads = [rng.normal(scale=10.0 ** rng.uniform(-3, 2), size=w.shape).astype(np_dtype) for _ in range(100)]
    w_np, st_np = run_numpy(w, grads)
    tw, ts = torch.from_numpy(w.copy()), rule.init_state(torch.from_numpy(w.copy()))
    for g in grads:
        tw, ts = rule.madam_update(tw, torch.from_numpy(g), ts)
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(tw.numpy(), w_np, rtol=rtol)
    np.testing.assert_allclose(ts.v.numpy(), st_np.v, rtol=rtol)
    assert float(ts.step) == st_np.step == 100


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_never_produces_nan(dtype):
    torch.manual_seed(0)
    w = torch.randn(64).to(dtype)
    state = rule.init_state(w)
    for scale in [0.0, 1e-8, 1.0, 1e4, 0.0, float("nan")]:
        g = (torch.randn(64) * scale).to(dtype)
        w, state = rule.madam_update(w, g, state)
        assert torch.isfinite(w).all() and torch.isfinite(state.v).all()


def test_invalid_hyperparameters_raise_clear_errors():
    for kwargs, word in [
        (dict(lr=0.0), "lr"), (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"),
        (dict(beta=1.0), "beta"), (dict(beta=-0.1), "beta"),
        (dict(g_bound=0.0), "g_bound"), (dict(p_scale=0.0), "p_scale"), (dict(eps=-1.0), "eps"),
    ]:
        args = dict(lr=0.01, beta=0.999, g_bound=10.0, p_scale=3.0, eps=0.0) | kwargs
        with pytest.raises(ValueError, match=word):
            rule.validate_hyperparameters(**args)
    with pytest.raises(TypeError, match="lr"):
        rule.validate_hyperparameters(lr="0.01", beta=0.999, g_bound=10.0, p_scale=3.0)


finite_weights = arrays(
    np.float64, st.integers(1, 40),
    elements=st.floats(1e-6, 1e3).flatmap(lambda m: st.sampled_from([m, -m])),
)


@settings(max_examples=60, deadline=None)
@given(w=finite_weights, seed=st.integers(0, 2**31 - 1), steps=st.integers(1, 20),
       lr=st.floats(1e-4, 0.5), log_scale=st.floats(-8, 8))
def test_invariants_hold_for_any_gradients(w, seed, steps, lr, log_scale):
    """Sign never flips; |w| <= w_max; one step moves log|w| by at most lr*g_bound (or onto
    the bound); NaN/inf/zero gradients never produce NaN weights."""
    rng = np.random.default_rng(seed)
    state = rule.init_state(w)
    for _ in range(steps):
        g = rng.normal(scale=10.0**log_scale, size=w.shape)
        g[rng.random(w.shape) < 0.1] = 0.0
        g[rng.random(w.shape) < 0.05] = rng.choice([np.nan, np.inf, -np.inf])
        w_new, state = rule.madam_update(w, g, state, lr=lr)
        assert np.all(np.isfinite(w_new))
        assert np.array_equal(np.sign(w_new), np.sign(w))
        assert np.all(np.abs(w_new) <= state.w_max)
        up = np.log(np.abs(w_new)) - np.log(np.abs(w))
        bound = rule.max_log_step(lr, rule.DEFAULT_G_BOUND) * (1 + 1e-9)
        assert np.all(up <= bound)
        assert np.all((up >= -bound) | (np.abs(w_new) == state.w_max))
        w = w_new


def test_log_magnitudes_of_random_walk_become_normal():
    """With zero-mean random gradients, log|w| performs a random walk: from a constant start,
    |w| becomes log-normal (the biology claim), not normal."""
    from scipy import stats

    rng = np.random.default_rng(3)
    w = np.full(4000, 0.1)
    state = rule.init_state(w, p_scale=np.inf)
    for _ in range(400):
        w, state = rule.madam_update(w, rng.normal(size=w.shape), state, lr=0.02)
    log_w = np.log(np.abs(w))
    assert stats.normaltest(log_w).pvalue > 1e-3
    assert stats.normaltest(np.abs(w)).pvalue < 1e-6
    assert math.isclose(np.std(log_w), 0.02 * math.sqrt(400), rel_tol=0.15)
