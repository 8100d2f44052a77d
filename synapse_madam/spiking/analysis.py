"""Weight-distribution and spike-train statistics for the spiking substrate (numpy + scipy.stats).

Interim module: the shared statistics layer (synapse_madam.biology) is being built on another
branch; when it lands, the distribution fits here should be switched to it. Kept to what the
spiking runner, benchmark and notebook need.

Reference numbers: Song, Sjoestroem, Reigl, Nelson & Chklovskii (2005, PLoS Biol 3:e68), rat
visual cortex L5 EPSPs: ln(EPSP/mV) has mu = -0.702, sigma = 0.9355 (log-normal). sigma is
scale-free (sigma of ln(c w) = sigma of ln w), so it can be compared with weights in any unit
whenever the EPSP amplitude is proportional to the weight (delta synapses; small conductances).
"""

from __future__ import annotations

import numpy as np

SONG_2005_MU = -0.702
SONG_2005_SIGMA = 0.9355


def lognormal_fit(w) -> dict:
    """Fit a log-normal to |w| (nonzero entries): mu, sigma = mean, std of ln|w| (the maximum-
    likelihood fit), the Kolmogorov-Smirnov distance D and p-value against that fit
    (scipy.stats.kstest; the p-value is optimistic because the parameters are fitted), and
    sigma / 0.9355 (Song et al. 2005)."""
    from scipy import stats

    a = np.abs(np.asarray(w, dtype=float).ravel())
    a = a[a > 0]
    if a.size < 3:
        raise ValueError(f"lognormal_fit needs at least 3 nonzero weights, got {a.size}.")
    logs = np.log(a)
    mu, sigma = float(np.mean(logs)), float(np.std(logs))
    if sigma == 0:
        return {"n": int(a.size), "mu": mu, "sigma": 0.0, "ks_d": float("nan"), "ks_p": float("nan"),
                "sigma_over_song2005": 0.0}
    ks = stats.kstest(logs, "norm", args=(mu, sigma))
    return {"n": int(a.size), "mu": mu, "sigma": sigma, "ks_d": float(ks.statistic), "ks_p": float(ks.pvalue),
            "sigma_over_song2005": sigma / SONG_2005_SIGMA}


def bimodality(w, w_max: float, edge: float = 0.05) -> dict:
    """How much of |w| sits at the bounds of a hard-bounded rule: fractions within ``edge`` *
    w_max of 0 and of w_max, and Sarle's bimodality coefficient
    b = (skew^2 + 1) / (excess kurtosis + 3 (n-1)^2 / ((n-2)(n-3))) (b > 5/9 suggests bimodal;
    a uniform distribution gives 5/9). Additive STDP (Song et al. 2000) piles weights at both
    bounds."""
    from scipy import stats

    a = np.abs(np.asarray(w, dtype=float).ravel())
    if a.size < 4:
        raise ValueError(f"bimodality needs at least 4 weights, got {a.size}.")
    if not w_max > 0:
        raise ValueError(f"w_max must be > 0, got {w_max!r}.")
    n = a.size
    skew = float(stats.skew(a))
    kurt = float(stats.kurtosis(a))  # excess
    coeff = (skew**2 + 1) / (kurt + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    return {
        "frac_near_zero": float(np.mean(a <= edge * w_max)),
        "frac_near_max": float(np.mean(a >= (1 - edge) * w_max)),
        "bimodality_coefficient": float(coeff),
        "bimodal": bool(coeff > 5 / 9 and np.mean(a <= edge * w_max) > 0.1 and np.mean(a >= (1 - edge) * w_max) > 0.1),
    }


def sign_preservation(w_initial, w_final) -> dict:
    """Fraction of synapses whose final weight has the same nonzero sign as the initial one, and
    the fraction that ended at exactly 0 (a hard lower bound at 0 silences them; Madam-STDP's
    multiplicative step cannot)."""
    w0 = np.asarray(w_initial, dtype=float).ravel()
    w1 = np.asarray(w_final, dtype=float).ravel()
    if w0.shape != w1.shape:
        raise ValueError(f"initial and final weights differ in size: {w0.size} vs {w1.size}.")
    kept = (np.sign(w1) == np.sign(w0)) & (w1 != 0)
    return {"frac_sign_kept": float(np.mean(kept)) if w0.size else float("nan"),
            "frac_zero": float(np.mean(w1 == 0)) if w0.size else float("nan")}


def weight_summary(w, w_max: float | None = None) -> dict:
    """Everything reported per weight group: size, mean, sign counts, the log-normal fit, and the
    bimodality measures when the rule has a bound."""
    w = np.asarray(w, dtype=float).ravel()
    out = {"n": int(w.size), "mean": float(np.mean(w)) if w.size else float("nan"),
           "n_positive": int(np.sum(w > 0)), "n_negative": int(np.sum(w < 0)), "n_zero": int(np.sum(w == 0))}
    if np.sum(w != 0) >= 3:
        out["lognormal"] = lognormal_fit(w)
    if w_max is not None and w.size >= 4:
        out["bimodality"] = bimodality(w, w_max)
    return out


def spike_statistics(i, t, n_neurons: int, t_start: float, t_stop: float, n_windows: int = 5,
                     max_rate_hz: float = 100.0, max_change: float = 3.0) -> dict:
    """Rates and irregularity of a population between t_start and t_stop (seconds).

    Returns the mean rate (Hz), the mean coefficient of variation of the inter-spike intervals
    (CV = std/mean of ISIs, over neurons with >= 3 spikes; ~1 for Poisson-like firing, as in the
    asynchronous-irregular state of Brunel 2000), the rate in ``n_windows`` equal windows, and
    ``stable``: every window rate below ``max_rate_hz`` and the last window within a factor
    ``max_change`` of the first (no run-away excitation and no silencing).
    """
    i = np.asarray(i, dtype=int)
    t = np.asarray(t, dtype=float)
    if not t_stop > t_start:
        raise ValueError(f"t_stop ({t_stop}) must be after t_start ({t_start}).")
    keep = (t >= t_start) & (t < t_stop)
    i, t = i[keep], t[keep]
    duration = t_stop - t_start
    rate = i.size / (n_neurons * duration)
    order = np.lexsort((t, i))
    i_s, t_s = i[order], t[order]
    cvs = []
    bounds = np.searchsorted(i_s, np.arange(n_neurons + 1))
    for k in range(n_neurons):
        ts = t_s[bounds[k]:bounds[k + 1]]
        if ts.size >= 3:
            isi = np.diff(ts)
            if isi.mean() > 0:
                cvs.append(isi.std() / isi.mean())
    edges = np.linspace(t_start, t_stop, n_windows + 1)
    counts, _ = np.histogram(t, bins=edges)
    window_rates = counts / (n_neurons * np.diff(edges))
    first, last = window_rates[0], window_rates[-1]
    stable = bool(np.all(window_rates < max_rate_hz) and first > 0 and last > 0
                  and 1 / max_change <= last / first <= max_change)
    return {"rate_hz": float(rate), "cv_isi": float(np.mean(cvs)) if cvs else float("nan"),
            "n_cv_neurons": len(cvs), "window_rates_hz": [float(r) for r in window_rates], "stable": stable}
