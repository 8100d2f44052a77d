"""The one weight digest (biology/digest.py): moments of ln|w|, sign flips, known bounds, stationarity."""

import numpy as np
import pytest
import torch

from synapse_madam.biology import digest_weights, stationarity


def test_lognormal_moments_and_ks():
    rng = np.random.default_rng(0)
    w = np.exp(rng.normal(-1.0, 0.7, 20000))
    d = digest_weights(w)
    assert d["n"] == 20000 and d["n_zero"] == 0
    assert d["mean_ln"] == pytest.approx(-1.0, abs=0.02)
    assert d["sigma_ln"] == pytest.approx(0.7, abs=0.02)
    assert abs(d["skew_ln"]) < 0.1
    assert d["ks_D"] < 0.02
    # a uniform |w| is far from log-normal
    assert digest_weights(rng.uniform(0.01, 1, 20000))["ks_D"] > 0.05


def test_no_bounds_means_no_fraction_at_bounds():
    """A pure log-normal sample has no bound; max|w| is not one (the issue's 73 % 'at bounds')."""
    w = np.exp(np.random.default_rng(1).normal(0, 1, 5000))
    d = digest_weights(w)
    assert d["frac_at_bounds"] is None and d["frac_at_upper"] is None and d["frac_at_lower"] is None


def test_fraction_at_known_bounds():
    w = np.array([1.0, 0.9995, 0.5, 0.2, 0.01, -1.0, -0.3, 0.0100001])
    d = digest_weights(w, bounds=(0.01, 1.0), rel_tol=1e-3)
    assert d["frac_at_upper"] == pytest.approx(3 / 8)
    assert d["frac_at_lower"] == pytest.approx(2 / 8)
    assert d["frac_at_bounds"] == pytest.approx(5 / 8)
    d0 = digest_weights(w, bounds=(0, 1.0))
    assert d0["frac_at_lower"] == 0.0 and d0["frac_at_upper"] == pytest.approx(3 / 8)


def test_one_flipped_sign_is_seen():
    rng = np.random.default_rng(2)
    w0 = -np.exp(rng.normal(0, 1, 1000))  # an inhibitory group
    assert digest_weights(w0.copy(), initial=w0, expected_sign=-1)["sign_flips"] == 0
    w1 = w0.copy()
    w1[17] = -w1[17]
    d = digest_weights(w1, initial=w0, expected_sign=-1)
    assert d["sign_flips"] == 1
    assert d["frac_wrong_sign"] == pytest.approx(1 / 1000)
    # a weight that reached zero lost its sign
    w2 = w0.copy()
    w2[3] = 0.0
    assert digest_weights(w2, initial=w0)["sign_flips"] == 1


def test_torch_and_numpy_agree():
    t = torch.randn(30, 40)
    a = digest_weights(t, initial=t, bounds=(0, 3.0), expected_sign=1)
    b = digest_weights(t.numpy(), initial=t.numpy(), bounds=(0, 3.0), expected_sign=1)
    assert a == b


def test_bad_inputs_raise_one_line():
    with pytest.raises(ValueError, match="initial has 3"):
        digest_weights(np.ones(4), initial=np.ones(3))
    with pytest.raises(ValueError, match="expected_sign"):
        digest_weights(np.ones(4), expected_sign=2)
    with pytest.raises(ValueError, match="bounds"):
        digest_weights(np.ones(4), bounds=(1.0, 0.5))


def test_too_few_nonzero():
    d = digest_weights(np.array([0.0, 0.0, 2.0]))
    assert d["n_zero"] == 2 and d["mean_ln"] is None and d["sigma_ln"] is None


def test_stationarity():
    flat = [1.0 + 0.001 * (i % 2) for i in range(30)]
    s = stationarity(flat)
    assert s["stationary"] is True and s["n_points"] == 30 and s["rel_change"] < 0.01
    growing = list(np.linspace(0.5, 2.0, 30))
    s = stationarity(growing)
    assert s["stationary"] is False and s["rel_change"] > 0.2
    assert stationarity([1.0, None, 1.0])["stationary"] is None  # too short to tell


def test_ks_distance_fallback_equals_scipy(monkeypatch):
    """The KS distance from its definition (used where scipy's kstest breaks) equals kstest's."""
    import numpy as np
    from scipy import stats

    from synapse_madam.biology import digest

    x = np.random.default_rng(3).standard_t(5, size=2001)
    mu, sd = float(x.mean()), float(x.std())
    want = stats.kstest(x, "norm", args=(mu, sd)).statistic

    def broken(*args, **kwargs):
        raise TypeError("ndtr() takes from 1 to 2 positional arguments but 3 were given")

    assert digest.ks_distance_normal(x, mu, sd) == pytest.approx(want, abs=1e-12)
    monkeypatch.setattr(stats, "kstest", broken)
    assert digest.ks_distance_normal(x, mu, sd) == pytest.approx(want, abs=1e-12)
    assert digest.digest_weights(np.exp(x))["ks_D"] == pytest.approx(want, abs=1e-12)
