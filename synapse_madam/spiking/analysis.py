"""Statistics of spiking runs: activity (rates, CV of ISIs, stability) and a per-group summary of
the final weights computed by the shared layers.

The weight digest itself (ln|w| moments, sign flips against the initial weights, wrong-signed
fraction, fraction at the *known* bound w_max) is :func:`synapse_madam.biology.digest_weights`;
the distribution statistics (log-normal fit, KS / Anderson–Darling, sigma against a measured
reference such as Song et al. 2005, bimodality) live in :mod:`synapse_madam.biology`.
:func:`group_statistics` calls them with settings cheap enough for millions of synapses
(normal-theory CIs, test statistics without bootstrap p-values) and flattens the result for
summary.json. ``synapse-madam stats runs/NAME`` gives the full report (bootstrap CIs and
p-values, all candidate fits, levels/bits) on the same weights.
"""

from __future__ import annotations

import numpy as np

from .. import biology
from ..biology.digest import digest_weights

REFERENCE = "song2005"


def _num(v):
    """Plain floats (or a list of them, or None) for JSON."""
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        return [float(x) for x in v]
    return float(v)


def _class_statistics(x: np.ndarray, n_zero_here: int, cmp_row, w_max: float | None, n_sim: int, seed) -> dict:
    """One sign class: log-normal fit and GOF, reference comparison, bimodality (biology layer)."""
    gof = biology.lognormal_gof(x, n_mc=0)
    c = cmp_row
    out = {"n": int(x.size), "mu": _num(c.mu), "sigma": _num(c.sigma), "sigma_ci": _num(c.sigma_ci),
           "sigma_ratio": _num(c.sigma_ratio), "sigma_ratio_ci": _num(c.sigma_ratio_ci), "ks": _num(gof.ks),
           "ad": _num(gof.ad), "ks_data_shape": _num(c.ks_data_shape), "ks_raw": _num(c.ks_raw), "median_ratio": _num(c.median_ratio)}
    # exact zeros sit at the lower bound of a one-signed group: they count for the bounds and the
    # linear-scale dip, as in biology.analyze
    m = np.concatenate([x, np.zeros(n_zero_here)]) if n_zero_here else x
    if m.size >= 4 and np.unique(m).size > 1:
        b = biology.assess_bimodality(m, upper=w_max, n_sim=n_sim, seed=seed)
        out.update({"bimodal": b.bimodal, "dip_p": b.dip_linear.p_value,
                    "dip_log_p": b.dip_log.p_value if b.dip_log else None,
                    # fractions at the bounds only where the bound is known (max|w| is not a bound)
                    "frac_at_lower": b.near_bounds.at_lower if w_max is not None else None,
                    "frac_at_upper": b.near_bounds.at_upper if w_max is not None else None})
    return out


def group_statistics(w, *, unit: str = "a.u.", w_max: float | None = None, initial=None,
                     expected_sign: int | None = None, reference: str = REFERENCE, n_sim: int = 500,
                     seed: int | None = 0) -> dict:
    """The weight digest of one group plus, per sign class (E: w > 0, I: |w| of w < 0), the
    distribution statistics.

    Top level: every key of :func:`synapse_madam.biology.digest_weights` (with ``initial`` for
    ``sign_flips``, ``expected_sign`` for ``frac_wrong_sign`` and ``bounds`` = (0, ``w_max``)
    when the bound is known), ``unit``, ``w_max``, ``mean``, ``n_positive``, ``n_negative``.
    Per class, from :mod:`synapse_madam.biology`: ``mu``, ``sigma`` of ln|w| (MLE) with a
    normal-theory CI, ``sigma_ratio`` = sigma / sigma_ref (unit-free; 1 = the spread of cortex for
    Song et al. 2005), ``ks`` / ``ad`` = Kolmogorov–Smirnov D and Anderson–Darling A^2 of the
    data against its own log-normal fit, ``ks_data_shape`` = KS distance of the data to the reference log-normal moved to the data's median,
    ``ks_raw`` / ``median_ratio`` (only when ``unit`` is the reference's, e.g. "mV"), and the
    bimodality measures: Hartigan's dip test on |w| and ln|w| (``bimodal`` = either rejects
    unimodality at 0.05/2) and, when ``w_max`` is known, the fractions within 1% of 0 and of
    ``w_max``. Exact zeros are dropped from the fits and counted (``n_zero``). Classes with fewer
    than 4 weights or a single distinct value get no statistics.
    """
    w = np.asarray(w, dtype=float).ravel()
    out = digest_weights(w, initial=initial, expected_sign=expected_sign,
                         bounds=None if w_max is None else (0.0, w_max))
    out.update({"unit": unit, "w_max": w_max, "mean": float(np.mean(w)) if w.size else float("nan"),
                "n_positive": int(np.sum(w > 0)), "n_negative": int(np.sum(w < 0)), "classes": {}})
    nonzero = w[w != 0]
    if nonzero.size == 0:
        return out
    classes, n_zero = biology.split_by_sign(w, zeros="drop")
    ok = {k: x for k, x in classes.items() if x.size >= 4 and np.unique(x).size > 1}
    if not ok:
        return out
    cmp_ = biology.compare(w, reference, unit=unit, zeros="drop", n_boot=0)
    for row in cmp_.classes:
        if row.sign_class in ok:
            zeros_here = n_zero if len(classes) == 1 else 0
            out["classes"][row.sign_class] = _class_statistics(ok[row.sign_class], zeros_here, row, w_max, n_sim, seed)
    return out


def reference_info(reference: str = REFERENCE) -> dict:
    """Name, mu, sigma, unit and citation of a log-normal reference, for summary.json."""
    r = biology.reference_distribution(reference)
    return {"name": r.name, "mu": r.mu, "sigma": r.sigma, "unit": r.unit, "measure": r.measure,
            "citation": r.citation.short}


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
