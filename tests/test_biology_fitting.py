"""Distribution fits on synthetic data with known answers, and bad input."""

import numpy as np
import pytest
from scipy import stats

from synapse_madam.biology import (compare_fits, fit_gamma, fit_lognormal, fit_lognormal_mixture, fit_normal,
                                   lognormal_gof)
from synapse_madam.biology.fitting import ks_ad_statistics


def test_lognormal_mle_matches_scipy():
    x = np.random.default_rng(0).lognormal(0.3, 0.8, 500)
    f = fit_lognormal(x, n_boot=0)
    s, loc, scale = stats.lognorm.fit(x, floc=0)
    assert f.sigma == pytest.approx(s, rel=1e-4)
    assert f.mu == pytest.approx(np.log(scale), rel=1e-4)
    assert f.loglik == pytest.approx(stats.lognorm.logpdf(x, s, scale=scale).sum(), rel=1e-6)


def test_bootstrap_ci_covers_truth_at_about_the_nominal_rate():
    mu, sigma, hits, reps = -0.702, 0.9355, [0, 0], 40
    for seed in range(reps):
        x = np.random.default_rng(100 + seed).lognormal(mu, sigma, 300)
        f = fit_lognormal(x, n_boot=300, seed=seed)
        hits[0] += f.mu_ci[0] <= mu <= f.mu_ci[1]
        hits[1] += f.sigma_ci[0] <= sigma <= f.sigma_ci[1]
        assert f.mu_ci[0] < f.mu < f.mu_ci[1] and f.sigma_ci[0] < f.sigma < f.sigma_ci[1]
    # nominal 95 %; 40 replicates: P(coverage < 0.85) is below 1 % for a correct interval
    assert hits[0] / reps >= 0.85 and hits[1] / reps >= 0.85


def test_ci_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = fit_lognormal(rng.lognormal(0, 1, 100), n_boot=300)
    large = fit_lognormal(rng.lognormal(0, 1, 10000), n_boot=300)
    assert np.diff(large.sigma_ci)[0] < np.diff(small.sigma_ci)[0] / 5


def test_lognormal_sample_prefers_lognormal_and_is_not_rejected():
    x = np.random.default_rng(2).lognormal(-0.702, 0.9355, 2000)
    c = compare_fits(x, n_boot=200, n_mc=300)
    assert c.delta_aic["lognormal"] < 4          # the 2-component mixture may tie, never beats it clearly
    assert c.delta_aic["normal"] > 100 and c.delta_aic["gamma"] > 10
    assert c["lognormal"].ad_p > 0.05 and c["lognormal"].ks_p > 0.05


def test_normal_sample_is_rejected_as_lognormal():
    x = np.random.default_rng(3).normal(10.0, 2.0, 2000)
    assert x.min() > 0
    c = compare_fits(x, n_boot=100, n_mc=300)
    assert c.best.name == "normal"
    assert c["lognormal"].ad_p < 0.01 and c["lognormal"].ks_p < 0.05
    assert c["normal"].ad_p > 0.05


def test_gamma_sample_prefers_gamma():
    x = np.random.default_rng(4).gamma(2.0, 1.5, 3000)
    c = compare_fits(x, n_boot=100, n_mc=100)
    assert c.best.name == "gamma"
    g = fit_gamma(x)
    assert g.params["shape"] == pytest.approx(2.0, rel=0.1) and g.params["scale"] == pytest.approx(1.5, rel=0.1)


def test_mixture_recovers_binary_plus_analog_components():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.lognormal(-2.0, 0.3, 1000), rng.lognormal(0.0, 0.5, 3000)])
    m = fit_lognormal_mixture(x)
    assert m.params["weights"] == pytest.approx([0.25, 0.75], abs=0.03)
    assert m.params["mus"] == pytest.approx([-2.0, 0.0], abs=0.06)
    assert m.params["sigmas"] == pytest.approx([0.3, 0.5], abs=0.05)
    assert compare_fits(x, n_boot=50, n_mc=50).best.name == "lognormal_mixture"


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_ks_ad_formulas_match_scipy():
    x = np.random.default_rng(6).normal(size=200)
    d, _ = ks_ad_statistics(np.sort(stats.norm.cdf(x)))
    assert d == pytest.approx(stats.kstest(x, "norm").statistic, rel=1e-10)
    z = (x - x.mean()) / x.std(ddof=1)
    _, a2 = ks_ad_statistics(np.sort(stats.norm.cdf(z)))
    assert a2 == pytest.approx(stats.anderson(x, "norm").statistic, rel=1e-6)


def test_normal_fit_values():
    x = np.random.default_rng(7).normal(5, 1, 1000)
    f = fit_normal(x, n_mc=0)
    assert f.params["mean"] == pytest.approx(x.mean()) and f.ks_p is None
    assert f.aic == pytest.approx(4 - 2 * stats.norm.logpdf(x, x.mean(), x.std()).sum())


@pytest.mark.parametrize("bad, err, msg", [
    ([], ValueError, "at least"),
    ([1.0, 0.0, 2.0], ValueError, "exactly 0"),
    ([1.0, -1.0, 2.0], ValueError, "split_by_sign"),
    ([1.0, np.nan, 2.0], ValueError, "NaN"),
    ([1.0, np.inf, 2.0], ValueError, "NaN or infinite"),
    ([2.0, 2.0, 2.0], ValueError, "identical"),
    (["a", "b"], TypeError, "numbers"),
])
def test_bad_input_fails_clearly(bad, err, msg):
    with pytest.raises(err, match=msg):
        fit_lognormal(bad, n_boot=10)


@pytest.mark.parametrize("kwargs", [{"ci_level": 1.5}, {"n_boot": -1}, {"n_boot": 2.5}])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        fit_lognormal([1.0, 2.0, 3.0], **kwargs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mixture_never_worse_than_the_single_lognormal_it_nests(seed):
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0, 1, 30000)  # above max_init_size: starts on a subsample, refined on all
    assert fit_lognormal_mixture(x, max_init_size=5000).loglik >= fit_lognormal(x, n_boot=0).loglik - 1e-6


def test_lognormal_gof_is_the_lognormal_entry_of_compare_fits():
    rng = np.random.default_rng(11)
    x = rng.lognormal(0.3, 0.8, 400)
    gof = lognormal_gof(x, n_mc=100, seed=3)
    entry = compare_fits(x, n_boot=0, n_mc=100, seed=3)["lognormal"]
    assert (gof.ks, gof.ad, gof.ks_p, gof.ad_p, gof.loglik) == (entry.ks, entry.ad, entry.ks_p, entry.ad_p, entry.loglik)
    cheap = lognormal_gof(x, n_mc=0)
    assert cheap.ks == gof.ks and cheap.ks_p is None
