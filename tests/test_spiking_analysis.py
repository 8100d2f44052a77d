"""Weight and spike-train statistics of the spiking substrate (no Brian2 needed)."""

import numpy as np
import pytest

from synapse_madam.spiking import analysis as A


def test_lognormal_fit_recovers_sigma_and_ks_separates():
    rng = np.random.default_rng(0)
    w = rng.lognormal(mean=-0.702, sigma=0.9355, size=5000)
    fit = A.lognormal_fit(-w)  # signs are ignored: |w| is fitted
    assert fit["sigma"] == pytest.approx(0.9355, rel=0.05)
    assert fit["mu"] == pytest.approx(-0.702, abs=0.05)
    assert fit["sigma_over_song2005"] == pytest.approx(1.0, rel=0.05)
    assert fit["ks_d"] < 0.03
    uniform = A.lognormal_fit(rng.uniform(0.01, 1.0, 5000))
    assert uniform["ks_d"] > 3 * fit["ks_d"]


def test_bimodality_flags_additive_like_but_not_lognormal():
    rng = np.random.default_rng(1)
    w_max = 0.01
    piled = np.concatenate([rng.uniform(0, 0.03 * w_max, 500), rng.uniform(0.97 * w_max, w_max, 400),
                            rng.uniform(0, w_max, 100)])
    assert A.bimodality(piled, w_max)["bimodal"]
    logn = np.clip(rng.lognormal(np.log(0.3 * w_max), 0.5, 1000), 0, w_max)
    assert not A.bimodality(logn, w_max)["bimodal"]
    with pytest.raises(ValueError, match="w_max"):
        A.bimodality(piled, 0)


def test_sign_preservation_counts_flips_and_zeros():
    out = A.sign_preservation([-1, -1, -1, 1], [-0.5, 0.0, 0.2, 3.0])
    assert out == {"frac_sign_kept": 0.5, "frac_zero": 0.25}
    with pytest.raises(ValueError, match="differ in size"):
        A.sign_preservation([1, 2], [1])


def test_spike_statistics_cv_and_stability():
    rng = np.random.default_rng(2)
    n, T = 50, 20.0
    i_p, t_p = [], []
    for k in range(n):  # Poisson at 5 Hz: CV ~ 1
        t = np.cumsum(rng.exponential(0.2, 200))
        t = t[t < T]
        i_p += [k] * len(t)
        t_p += list(t)
    s = A.spike_statistics(i_p, t_p, n, 0.0, T)
    assert s["rate_hz"] == pytest.approx(5.0, rel=0.1)
    assert s["cv_isi"] == pytest.approx(1.0, abs=0.1)
    assert s["stable"]
    reg_t = np.tile(np.arange(0, T, 0.1), n)  # clock-like: CV 0
    reg_i = np.repeat(np.arange(n), len(np.arange(0, T, 0.1)))
    assert A.spike_statistics(reg_i, reg_t, n, 0.0, T)["cv_isi"] < 1e-6
    # a run-away: rate grows 10x from the first to the last window
    t_run = np.concatenate([np.linspace(0, 4, 100), np.linspace(16, 20, 1000)])
    assert not A.spike_statistics(np.zeros(t_run.size, int), t_run, 1, 0.0, 20.0)["stable"]
