"""Statistics of spiking runs: the per-group statistics (computed by synapse_madam.biology, with
the one weight digest) and spike-train statistics (no Brian2 needed)."""

import numpy as np
import pytest

from synapse_madam import biology
from synapse_madam.spiking import analysis as A


def test_group_statistics_is_the_biology_layer_with_song2005():
    rng = np.random.default_rng(0)
    w = -rng.lognormal(mean=-0.702, sigma=0.9355, size=5000)  # inhibitory: class I, |w| fitted
    d = A.group_statistics(w, unit="mV")
    assert d["n_negative"] == 5000 and set(d["classes"]) == {"I"}
    c = d["classes"]["I"]
    ref = biology.reference_distribution("song2005")
    cmp_ = biology.compare(w, "song2005", unit="mV", n_boot=0).classes[0]
    assert c["sigma"] == cmp_.sigma and c["sigma_ratio"] == pytest.approx(cmp_.sigma / ref.sigma)
    assert c["sigma_ratio"] == pytest.approx(1.0, rel=0.05) and c["ks_raw"] < 0.03
    assert c["ks"] == biology.lognormal_gof(-w, n_mc=0).ks < 0.03
    assert not c["bimodal"]
    assert A.group_statistics(w)["classes"]["I"]["ks_raw"] is None, "location needs the reference's unit"
    uniform = A.group_statistics(rng.uniform(0.01, 1.0, 5000))["classes"]["E"]
    assert uniform["ks"] > 3 * c["ks"]
    assert A.reference_info() == {"name": "song2005", "mu": ref.mu, "sigma": ref.sigma, "unit": "mV",
                                  "measure": ref.measure, "citation": ref.citation.short}


def test_group_statistics_bimodality_counts_zeros_at_the_bound():
    rng = np.random.default_rng(1)
    w_max = 0.01
    piled = np.concatenate([np.zeros(300), rng.uniform(0, 0.005 * w_max, 200), np.full(400, w_max),
                            rng.uniform(0, w_max, 100)])
    d = A.group_statistics(piled, w_max=w_max)
    assert d["n_zero"] == 300 and d["w_max"] == w_max
    e = d["classes"]["E"]
    assert e["n"] == 700 and e["bimodal"]
    assert e["frac_at_lower"] == pytest.approx(0.5, abs=0.01) and e["frac_at_upper"] >= 0.4
    logn = np.clip(rng.lognormal(np.log(0.3 * w_max), 0.5, 1000), 0, w_max)
    assert not A.group_statistics(logn, w_max=w_max)["classes"]["E"]["bimodal"]


def test_group_statistics_without_enough_weights_has_no_classes():
    assert A.group_statistics(np.zeros(10))["classes"] == {}
    d = A.group_statistics(np.r_[np.zeros(5), [0.1, 0.1, 0.1, 0.1]])
    assert d["classes"] == {} and d["n_zero"] == 5


def test_group_statistics_see_one_flipped_sign_against_the_initial_weights():
    rng = np.random.default_rng(3)
    w0 = -rng.lognormal(-1, 0.5, 400)  # inhibitory, as a sign-preserving rule stores them
    same = A.group_statistics(w0.copy(), initial=w0, expected_sign=-1, n_sim=20)
    assert same["sign_flips"] == 0 and same["frac_wrong_sign"] == 0.0
    w1 = w0.copy()
    w1[123] = abs(w1[123])
    flipped = A.group_statistics(w1, initial=w0, expected_sign=-1, n_sim=20)
    assert flipped["sign_flips"] == 1 and flipped["frac_wrong_sign"] == pytest.approx(1 / 400)
    # no known bound: no fraction "at the bound" (max|w| is not one)
    assert flipped["frac_at_upper"] is None and flipped["classes"]["I"]["frac_at_upper"] is None


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
