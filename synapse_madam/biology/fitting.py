"""Fit candidate distributions to synaptic weight magnitudes and compare them.

Candidates (all on x > 0, log-likelihoods on the same scale so they compare directly):

* log-normal: ln x ~ N(mu, sigma^2). MLE mu = mean(ln x), sigma = std(ln x) (ddof 0), with
  percentile-bootstrap confidence intervals. The model of measured cortex (Song et al. 2005,
  PLoS Biol 3:e68; Loewenstein et al. 2011, J Neurosci 31:9481) and of multiplicative (Madam)
  learning, whose steps are additive in ln|w|.
* normal: x ~ N(m, s^2) (what additive updates of many small terms tend to).
* gamma: shape k, scale theta, location fixed at 0 (MLE by scipy).
* two-component log-normal mixture: ln x ~ p N(mu1, s1^2) + (1-p) N(mu2, s2^2), fitted by EM on
  ln x. Dorkenwald et al. (2022, eLife 11:e76120) found this "binary + analog" model fits cortical
  synapse sizes better than one log-normal.

Models are ranked by AIC = 2k - 2 lnL (BIC = k ln n - 2 lnL is reported too). Goodness of fit:
Kolmogorov–Smirnov D and Anderson–Darling A^2 against the fitted distribution. For the normal and
log-normal the p-values come from a parametric bootstrap of the same statistic with re-estimated
parameters (the statistics are pivotal for location-scale families, so simulating from N(0, 1) is
exact up to Monte Carlo error); this avoids the too-large p-values of the textbook KS test with
estimated parameters (Lilliefors 1967). For the gamma and the mixture only the statistics are
reported (``p = None``).

Large samples (n above ``max_resample``, default 10^5): the bootstrap CIs come from an
m-out-of-n bootstrap on a random subsample of m values, its spread rescaled by sqrt(m/n)
(Bickel, Götze & van Zwet 1997, Statist. Sinica 7:1); the null of the KS/AD p-values is
simulated at size m, with D rescaled by sqrt(m/n) (sqrt(n) D and A^2 converge in distribution,
Stephens 1974); the mixture's EM starts on the subsample and is refined on all values. Every
point estimate, lnL, AIC and statistic uses all n values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from functools import lru_cache

import numpy as np
from scipy import special, stats
from scipy.special import ndtr

from ._checks import as_positive_1d
from ._sampling import MAX_RESAMPLE, subsample

__all__ = ["LogNormalFit", "DistributionFit", "FitComparison", "fit_lognormal", "fit_normal", "fit_gamma",
           "fit_lognormal_mixture", "compare_fits", "ks_ad_statistics", "lognormal_gof"]


@dataclass(frozen=True)
class LogNormalFit:
    """MLE of ln x ~ N(mu, sigma^2) with bootstrap confidence intervals."""

    mu: float
    sigma: float
    n: int
    mu_ci: tuple[float, float]
    sigma_ci: tuple[float, float]
    ci_level: float
    n_boot: int
    loglik: float
    boot_size: int | None = None  # values the bootstrap resampled (n, or the subsample's size)

    @property
    def median(self) -> float:
        return math.exp(self.mu)

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    @property
    def mode(self) -> float:
        return math.exp(self.mu - self.sigma**2)


@dataclass(frozen=True)
class DistributionFit:
    """One fitted candidate: parameters, lnL, AIC, BIC, KS and Anderson–Darling results."""

    name: str
    params: dict
    n_params: int
    n: int
    loglik: float
    ks: float
    ad: float
    ks_p: float | None = None
    ad_p: float | None = None

    @property
    def aic(self) -> float:
        return 2 * self.n_params - 2 * self.loglik

    @property
    def bic(self) -> float:
        return self.n_params * math.log(self.n) - 2 * self.loglik

    def cdf(self, x):
        """CDF of the fitted distribution at x > 0."""
        return _cdf(self.name, self.params, np.asarray(x, dtype=float))

    def pdf(self, x):
        """Density of the fitted distribution at x > 0."""
        return _pdf(self.name, self.params, np.asarray(x, dtype=float))


@dataclass(frozen=True)
class FitComparison:
    """All candidate fits, best (lowest AIC) first, with delta-AIC to the best."""

    fits: tuple[DistributionFit, ...]
    lognormal: LogNormalFit
    delta_aic: dict = field(default_factory=dict)

    @property
    def best(self) -> DistributionFit:
        return self.fits[0]

    def __getitem__(self, name: str) -> DistributionFit:
        for f in self.fits:
            if f.name == name:
                return f
        raise KeyError(f"no fit named {name!r}; have {[f.name for f in self.fits]}.")


# ----------------------------------------------------------------------------- densities
def _mixture_parts(params):
    return np.asarray(params["weights"]), np.asarray(params["mus"]), np.asarray(params["sigmas"])


def _cdf(name, p, x):
    if name == "lognormal":
        return ndtr((np.log(x) - p["mu"]) / p["sigma"])
    if name == "normal":
        return ndtr((x - p["mean"]) / p["std"])
    if name == "gamma":
        return special.gammainc(p["shape"], x / p["scale"])  # the regularised lower incomplete gamma
    if name == "lognormal_mixture":
        w, m, s = _mixture_parts(p)
        lx = np.log(x)
        return sum(wi * ndtr((lx - mi) / si) for wi, mi, si in zip(w, m, s))
    raise ValueError(f"unknown distribution {name!r}")


def _pdf(name, p, x):
    if name == "lognormal":
        return stats.norm.pdf(np.log(x), p["mu"], p["sigma"]) / x
    if name == "normal":
        return stats.norm.pdf(x, p["mean"], p["std"])
    if name == "gamma":
        return stats.gamma.pdf(x, p["shape"], scale=p["scale"])
    if name == "lognormal_mixture":
        w, m, s = _mixture_parts(p)
        return sum(wi * stats.norm.pdf(np.log(x), mi, si) for wi, mi, si in zip(w, m, s)) / x
    raise ValueError(f"unknown distribution {name!r}")


# ----------------------------------------------------------------------------- GOF statistics
def ks_ad_statistics(u_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KS D and Anderson–Darling A^2 from sorted probability-integral transforms u = F(x).

    Works on the last axis (batches allowed). D = max_i max(i/n - u_i, u_i - (i-1)/n);
    A^2 = -n - (1/n) sum_i (2i - 1) [ln u_i + ln(1 - u_{n+1-i})]  (Anderson & Darling 1954).
    """
    n = u_sorted.shape[-1]
    i = np.arange(1, n + 1)
    d = np.maximum((i / n - u_sorted).max(-1), (u_sorted - (i - 1) / n).max(-1))
    u = np.clip(u_sorted, 1e-300, 1 - 1e-16)
    a2 = -n - ((2 * i - 1) * (np.log(u) + np.log1p(-u[..., ::-1]))).sum(-1) / n
    return d, a2


def _sorted(a: np.ndarray) -> np.ndarray:
    """``a`` sorted (returned as is when it already is: the fits sort the data once)."""
    return a if a.size < 2 or bool(np.all(a[1:] >= a[:-1])) else np.sort(a)


@lru_cache(maxsize=32)
def _normal_null(m: int, n_mc: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """KS D and AD A^2 of ``n_mc`` standard-normal samples of size m against N(mean, std^2)
    re-estimated from each (the Lilliefors null; pivotal, so it depends only on m). Cached: the
    normal and the log-normal candidate, and every class of the same size, share it."""
    rng = np.random.default_rng(seed)
    ks_sim, ad_sim = [], []
    batch = max(1, min(n_mc, 2_000_000 // m))
    done = 0
    while done < n_mc:
        k = min(batch, n_mc - done)
        z = np.sort(rng.standard_normal((k, m)), axis=1)
        z = (z - z.mean(1, keepdims=True)) / z.std(1, keepdims=True)
        d, a = ks_ad_statistics(ndtr(z))
        ks_sim.append(d)
        ad_sim.append(a)
        done += k
    ks_sim, ad_sim = np.concatenate(ks_sim), np.concatenate(ad_sim)
    ks_sim.flags.writeable = ad_sim.flags.writeable = False
    return ks_sim, ad_sim


def _normal_family_gof(y: np.ndarray, n_mc: int, seed: int | None, max_sim_size: int | None = MAX_RESAMPLE):
    """KS and AD of y against N(mean(y), std(y)^2), p-values by parametric bootstrap.

    The null is simulated at size m = min(n, ``max_sim_size``); for n > m the simulated D are
    rescaled by sqrt(m/n) (sqrt(n) D has a limit law) and A^2 is used as is (it has one too).
    """
    n = y.size
    ks, ad = ks_ad_statistics(ndtr((_sorted(y) - y.mean()) / y.std()))
    if n_mc <= 0:
        return float(ks), float(ad), None, None
    m = n if max_sim_size is None else min(n, int(max_sim_size))
    ks_sim, ad_sim = _normal_null(m, int(n_mc), seed)
    ks_sim = ks_sim * math.sqrt(m / n)
    p = lambda sim, obs: float((1 + np.sum(sim >= obs)) / (n_mc + 1))  # noqa: E731
    return float(ks), float(ad), p(ks_sim, ks), p(ad_sim, ad)


def _stats_vs(name, params, x):
    return tuple(float(v) for v in ks_ad_statistics(_sorted(_cdf(name, params, x))))


# ----------------------------------------------------------------------------- fits
def _check_ci(ci_level, n_boot):
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level={ci_level!r}; must be in (0, 1), e.g. 0.95.")
    if int(n_boot) != n_boot or n_boot < 0:
        raise ValueError(f"n_boot={n_boot!r}; must be an integer >= 0 (0 skips the bootstrap).")


def fit_lognormal(x, *, ci_level: float = 0.95, n_boot: int = 1000, seed: int | None = 0,
                  max_resample: int | None = MAX_RESAMPLE) -> LogNormalFit:
    """Maximum-likelihood log-normal fit with percentile-bootstrap confidence intervals.

    mu_hat = mean(ln x), sigma_hat = sqrt(mean((ln x - mu_hat)^2)) (the MLE, ddof 0). The CIs are
    the (1 -/+ ci_level)/2 quantiles of the estimates over ``n_boot`` resamples of x with
    replacement (Efron & Tibshirani 1993; ``scipy.stats.bootstrap``, percentile method). Above
    ``max_resample`` values the resamples are of a random subsample of m values and each CI
    end is theta_hat + sqrt(m/n) (q_m - theta_hat_m): the m-out-of-n bootstrap (Bickel, Götze &
    van Zwet 1997). ``n_boot=0`` gives the normal-theory intervals mu +/- z sigma/sqrt(n) and
    sigma(1 +/- z/sqrt(2n)) instead.
    """
    _check_ci(ci_level, n_boot)
    y = np.log(as_positive_1d(x, "fit_lognormal"))
    n = y.size
    mu, sigma = float(y.mean()), float(y.std())
    if not sigma > 0:
        raise ValueError("fit_lognormal: all values are identical (sigma = 0); a log-normal needs spread.")
    lo_q, hi_q = (1 - ci_level) / 2, (1 + ci_level) / 2
    boot_size = None
    if n_boot:
        rng = np.random.default_rng(seed)
        ys = subsample(y, max_resample, rng)
        m = boot_size = ys.size
        res = stats.bootstrap((ys,), _mean_std, n_resamples=int(n_boot), confidence_level=ci_level,
                              method="percentile", vectorized=True, batch=max(1, min(int(n_boot), 4_000_000 // m)),
                              random_state=rng)
        lo, hi = res.confidence_interval
        scale, est = math.sqrt(m / n), _mean_std(ys, axis=-1)
        lo, hi = est + scale * (lo - est), est + scale * (hi - est)  # m-out-of-n; the identity when m == n
        mu_ci, sigma_ci = (mu + lo[0] - est[0], mu + hi[0] - est[0]), (sigma + lo[1] - est[1], sigma + hi[1] - est[1])
        mu_ci, sigma_ci = tuple(float(v) for v in mu_ci), tuple(float(v) for v in sigma_ci)
    else:
        z = stats.norm.ppf(hi_q)
        mu_ci = (mu - z * sigma / math.sqrt(n), mu + z * sigma / math.sqrt(n))
        sigma_ci = (sigma * (1 - z / math.sqrt(2 * n)), sigma * (1 + z / math.sqrt(2 * n)))
    # sum (y - mu)^2 = n sigma^2 at the MLE; fsum: the same lnL whatever the order of x
    loglik = float(-0.5 * n * math.log(2 * math.pi * sigma**2) - 0.5 * n - math.fsum(y))
    return LogNormalFit(mu, sigma, n, mu_ci, sigma_ci, ci_level, int(n_boot), loglik, boot_size)


def _mean_std(a, axis=-1):
    return np.stack([a.mean(axis), a.std(axis)])


def fit_normal(x, *, n_mc: int = 500, seed: int | None = 0, max_resample: int | None = MAX_RESAMPLE) -> DistributionFit:
    """Normal MLE (mean, std with ddof 0) with KS/AD and bootstrap p-values."""
    x = as_positive_1d(x, "fit_normal")
    m, s = float(x.mean()), float(x.std())
    ks, ad, ks_p, ad_p = _normal_family_gof(x, n_mc, seed, max_resample)
    ll = float(-0.5 * x.size * math.log(2 * math.pi * s**2) - 0.5 * x.size)  # the MLE: sum (x-m)^2 = n s^2
    return DistributionFit("normal", {"mean": m, "std": s}, 2, x.size, ll, ks, ad, ks_p, ad_p)


def _lognormal_candidate(x, fit: LogNormalFit, n_mc, seed, max_resample=MAX_RESAMPLE) -> DistributionFit:
    ks, ad, ks_p, ad_p = _normal_family_gof(np.log(x), n_mc, seed, max_resample)
    return DistributionFit("lognormal", {"mu": fit.mu, "sigma": fit.sigma}, 2, x.size, fit.loglik, ks, ad, ks_p, ad_p)


def lognormal_gof(x, *, n_mc: int = 500, seed: int | None = 0) -> DistributionFit:
    """The log-normal MLE as a :class:`DistributionFit` with its goodness of fit.

    KS D and Anderson–Darling A^2 of ln x against N(mu_hat, sigma_hat^2); with ``n_mc > 0`` their
    p-values by parametric bootstrap (Lilliefors-corrected, see the module docstring), with
    ``n_mc=0`` the statistics only (cheap for millions of weights). The same numbers as the
    "lognormal" entry of :func:`compare_fits`, without fitting the other candidates.
    """
    x = np.sort(as_positive_1d(x, "lognormal_gof"))  # as compare_fits: the same numbers to the last bit
    return _lognormal_candidate(x, fit_lognormal(x, n_boot=0), n_mc, seed)


def fit_gamma(x) -> DistributionFit:
    """Gamma MLE (shape k, scale theta; location 0) with KS/AD statistics (no p-values)."""
    x = as_positive_1d(x, "fit_gamma")
    k, _, theta = stats.gamma.fit(x, floc=0)
    p = {"shape": float(k), "scale": float(theta)}
    n = x.size  # lnL = (k - 1) sum ln x - sum x / theta - n k ln theta - n ln Gamma(k)
    ll = float((k - 1) * math.fsum(np.log(x)) - math.fsum(x) / theta - n * k * math.log(theta) - n * special.gammaln(k))
    return DistributionFit("gamma", p, 2, x.size, ll, *_stats_vs("gamma", p, x))


def _log_components(y, w, mu, var):
    """ln(p_k N(y_i; mu_k, var_k)) as a (K, n) array (one contiguous row per component)."""
    return (np.log(w) - 0.5 * np.log(2 * np.pi * var))[:, None] - (y[None, :] - mu[:, None]) ** 2 / (2 * var[:, None])


def _mixture_loglik(logp):
    """Per-point ln sum_k p_k N(y_i; ...) from :func:`_log_components`, computed stably."""
    top = logp.max(0)
    return top + np.log(np.exp(logp - top).sum(0))


def _em(y, w, mu, var, var_floor, max_iter, tol):
    """EM iterations for a 1-D Gaussian mixture from (w, mu, var); stops when lnL gains < tol."""
    prev = -np.inf
    ll = prev
    for _ in range(max_iter):
        logp = _log_components(y, w, mu, var)
        ll_i = _mixture_loglik(logp)
        ll = float(ll_i.sum())
        if ll - prev < tol:
            break
        prev = ll
        r = np.exp(logp - ll_i)
        nk = r.sum(1) + 1e-300
        w = nk / y.size
        mu = (r @ y) / nk
        var = np.maximum(np.einsum("kn,kn->k", r, (y[None, :] - mu[:, None]) ** 2) / nk, var_floor)
    return ll, w, mu, var


def fit_lognormal_mixture(x, *, n_components: int = 2, n_init: int = 3, max_iter: int = 300,
                          tol: float = 1e-7, max_init_size: int = 20000, max_resample: int | None = MAX_RESAMPLE,
                          seed: int | None = 0) -> DistributionFit:
    """Mixture of log-normals fitted by EM on y = ln x (Dempster, Laird & Rubin 1977).

    E-step: responsibilities r_ik = p_k N(y_i; mu_k, s_k^2) / sum_j p_j N(y_i; mu_j, s_j^2);
    M-step: p_k = mean_i r_ik, mu_k = weighted mean, s_k^2 = weighted variance (floored at
    1e-6 var(y) to keep the likelihood bounded). ``n_init`` starts (the first at quantiles of y,
    the rest random) run on a random subsample of at most ``max_init_size`` values; the best one
    is refined on a subsample of at most ``max_resample`` values, then on all data until lnL gains
    less than ``tol * n`` per iteration (so AIC is accurate to about 2 tol n). lnL is on the x
    scale (minus sum ln x). Components are sorted by mu.
    """
    if int(n_components) != n_components or n_components < 1:
        raise ValueError(f"n_components={n_components!r}; must be an integer >= 1.")
    x = as_positive_1d(x, "fit_lognormal_mixture", min_size=max(2, 2 * n_components))
    y = np.log(x)
    K, n = int(n_components), y.size
    var_floor = 1e-6 * max(float(y.var()), 1e-300)
    rng = np.random.default_rng(seed)
    ys = y if n <= max_init_size else rng.choice(y, max_init_size, replace=False)
    best = None
    for start in range(max(1, n_init)):
        mu = np.quantile(ys, (np.arange(K) + 0.5) / K) if start == 0 else rng.choice(ys, K, replace=False)
        var = np.full(K, max(float(ys.var()) / K, var_floor))
        fit = _em(ys, np.full(K, 1.0 / K), mu, var, var_floor, max_iter, tol * ys.size)
        if best is None or fit[0] > best[0]:
            best = fit
    if ys is not y:  # refine on a larger subsample first (cheap iterations), then on all values
        mid = subsample(y, max_resample, rng)
        if mid is not y and mid.size > ys.size:
            best = _em(mid, *best[1:], var_floor, max_iter, tol * mid.size)
        best = _em(y, *best[1:], var_floor, max_iter, tol * n)
    ll, w, mu, var = best
    # the mixture nests one log-normal (all components equal): never report a worse lnL than it,
    # which EM stopped early on a flat likelihood ridge could otherwise do
    one = (np.full(K, 1.0 / K), np.full(K, y.mean()), np.full(K, max(float(y.var()), var_floor)))
    if _em(y, *one, var_floor, 1, np.inf)[0] > ll:
        w, mu, var = one
    order = np.argsort(mu)
    w, mu, var = w[order], mu[order], var[order]
    p = {"weights": w.tolist(), "mus": mu.tolist(), "sigmas": np.sqrt(var).tolist()}
    loglik = float(_mixture_loglik(_log_components(y, w, mu, var)).sum() - y.sum())
    return DistributionFit("lognormal_mixture", p, 3 * K - 1, n, loglik, *_stats_vs("lognormal_mixture", p, x))


def compare_fits(x, *, ci_level: float = 0.95, n_boot: int = 1000, n_mc: int = 500,
                 seed: int | None = 0, max_resample: int | None = MAX_RESAMPLE) -> FitComparison:
    """Fit log-normal, normal, gamma and a 2-component log-normal mixture; rank by AIC.

    Returns a :class:`FitComparison` whose ``fits`` are sorted by AIC (best first) and whose
    ``delta_aic[name]`` = AIC(name) - AIC(best); a difference above ~10 is decisive (Burnham &
    Anderson 2002). ``max_resample``: above this many values the bootstrap, the p-values' null
    and the mixture's first EM passes use a random subsample (module docstring).
    """
    x = _sorted(as_positive_1d(x, "compare_fits", min_size=4))  # sorted once: every KS/AD statistic needs it
    ln = fit_lognormal(x, ci_level=ci_level, n_boot=n_boot, seed=seed, max_resample=max_resample)
    fits = [_lognormal_candidate(x, ln, n_mc, seed, max_resample),
            fit_normal(x, n_mc=n_mc, seed=seed, max_resample=max_resample), fit_gamma(x),
            fit_lognormal_mixture(x, seed=seed, max_resample=max_resample)]
    fits.sort(key=lambda f: f.aic)
    delta = {f.name: f.aic - fits[0].aic for f in fits}
    return FitComparison(tuple(fits), ln, delta)
