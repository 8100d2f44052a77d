"""Weight statistics of trained E/I rate networks, per group, with the shared statistics layer.

For every group ("EE", "EI", "IE", "II", "in", "out") of signed weights this reports: the count
of synapses, of exact zeros ("silent" synapses, left by the rectifying projection of additive
optimizers) and of Dale's-law violations (weights of the wrong sign for their presynaptic
neuron), and for the nonzero magnitudes the log-normal fit ln|w| ~ N(mu, sigma^2) with its
bootstrap CI, sigma / sigma_ref and the KS distances to Song et al. (2005, PLoS Biol 3:e68;
sigma = 0.9355) from :func:`synapse_madam.biology.compare`, and the best of the log-normal,
normal, gamma and 2-log-normal-mixture fits by AIC (:func:`synapse_madam.biology.compare_fits`),
and the fraction of synapses within 5 % of the group's largest magnitude (Madam's bound w_max
binding: weights above it at the first step are clipped to it and pile up there).
"""

from __future__ import annotations

import numpy as np

from ..biology import compare, compare_fits

__all__ = ["EXPECTED_SIGN", "weight_statistics", "group_statistics"]

# prescribed sign of each group (post-pre naming; I->E and I->I are inhibitory)
EXPECTED_SIGN = {"EE": 1, "EI": 1, "IE": -1, "II": -1, "in": 1, "out": 1}
NEAR_MAX = 0.95


def group_statistics(name: str, w, *, reference: str = "song2005", n_boot: int = 200, n_mc: int = 0,
                     seed: int = 0) -> dict:
    """Statistics of one group of signed weights (see module docstring).

    ``n_mc`` Monte-Carlo samples for the goodness-of-fit p-values (0: statistics only, fast)."""
    w = np.asarray(w, dtype=float).ravel()
    sign = EXPECTED_SIGN.get(name)
    out = {"n": int(w.size), "n_zero": int(np.sum(w == 0)),
           "sign_violations": int(np.sum(w * sign < 0)) if sign is not None else None}
    mags = np.abs(w[w != 0])
    # fraction of synapses within 5 % of the group's largest magnitude: Madam clips |w| at
    # w_max = p_scale x RMS(initial tensor) and the clipped weights pile up just below it
    out["frac_near_max"] = float(np.mean(mags >= NEAR_MAX * mags.max())) if mags.size else 0.0
    if mags.size < 4 or np.unique(mags).size < 2:
        return out
    cmp_ = compare(w, reference, zeros="drop", n_boot=n_boot, seed=seed)
    cls = max(cmp_.classes, key=lambda c: c.n)  # the group's own sign class (violators are few)
    fits = compare_fits(mags, n_boot=n_boot, n_mc=max(n_mc, 1), seed=seed)
    out.update({"mu": cls.mu, "sigma": cls.sigma, "sigma_ci": list(cls.sigma_ci), "sigma_ratio": cls.sigma_ratio,
                "ks_data_shape": cls.ks_data_shape,
                "ks_lognormal": fits["lognormal"].ks, "best_fit": fits.best.name,
                "delta_aic_lognormal": fits.delta_aic["lognormal"]})
    return out


def weight_statistics(weights: dict, model=None, **kwargs) -> dict:
    """``group_statistics`` for every group of ``weights`` (a dict name -> signed array, e.g.
    :meth:`EIRateRNN.weight_groups`); ``model`` is accepted for symmetry and unused."""
    return {name: group_statistics(name, w, **kwargs) for name, w in weights.items()}
