"""Weight statistics of trained E/I rate networks, per group, with the shared statistics layer.

For every group ("EE", "EI", "IE", "II", "in", "out") of signed weights this reports the weight
digest (:func:`synapse_madam.biology.digest_weights`: counts, exact zeros — "silent" synapses
left by the rectifying projection of additive optimizers —, ln|w| moments, Dale's-law violations
against the group's prescribed sign, sign flips against the initial weights, and the fraction
of synapses at Madam's *known* bound w_max = p_scale x RMS(initial tensor), where weights above
it at the first step are clipped and pile up), plus, for the nonzero magnitudes, the log-normal
fit ln|w| ~ N(mu, sigma^2) with its bootstrap CI, sigma / sigma_ref and the KS distances to
Song et al. (2005, PLoS Biol 3:e68; sigma = 0.9355) from :func:`synapse_madam.biology.compare`,
and the best of the log-normal, normal, gamma and 2-log-normal-mixture fits by AIC
(:func:`synapse_madam.biology.compare_fits`).
"""

from __future__ import annotations

import numpy as np

from ..biology import compare, compare_fits
from ..biology.digest import digest_weights
from .train import EXPECTED_SIGN

__all__ = ["EXPECTED_SIGN", "weight_statistics", "group_statistics"]


def group_statistics(name: str, w, *, reference: str = "song2005", n_boot: int = 200, n_mc: int = 0,
                     seed: int = 0, initial=None, bounds=None) -> dict:
    """Statistics of one group of signed weights (see module docstring).

    ``initial``: the group's initial weights (sign flips); ``bounds``: the known (lo, hi) on |w|.
    ``n_mc`` Monte-Carlo samples for the goodness-of-fit p-values (0: statistics only, fast)."""
    w = np.asarray(w, dtype=float).ravel()
    sign = EXPECTED_SIGN.get(name)
    out = digest_weights(w, initial=initial, bounds=bounds, expected_sign=sign)
    out["sign_violations"] = int(np.sum(w * sign < 0)) if sign is not None else None
    mags = np.abs(w[w != 0])
    if mags.size < 4 or np.unique(mags).size < 2 or not np.all(np.isfinite(w)):
        return out  # too few values to fit, or a diverged run's non-finite weights (counted in n_nonfinite)
    cmp_ = compare(w, reference, zeros="drop", n_boot=n_boot, seed=seed)
    cls = max(cmp_.classes, key=lambda c: c.n)  # the group's own sign class (violators are few)
    fits = compare_fits(mags, n_boot=n_boot, n_mc=max(n_mc, 1), seed=seed)
    out.update({"mu": cls.mu, "sigma": cls.sigma, "sigma_ci": list(cls.sigma_ci), "sigma_ratio": cls.sigma_ratio,
                "ks_data_shape": cls.ks_data_shape,
                "ks_lognormal": fits["lognormal"].ks, "best_fit": fits.best.name,
                "delta_aic_lognormal": fits.delta_aic["lognormal"]})
    return out


def weight_statistics(weights: dict, model=None, *, initial: dict | None = None, bounds: dict | None = None,
                      **kwargs) -> dict:
    """``group_statistics`` for every group of ``weights`` (a dict name -> signed array, e.g.
    :meth:`EIRateRNN.weight_groups`), with each group's ``initial`` weights and known ``bounds``
    ({group: (lo, hi)}) where given; ``model`` is accepted for symmetry and unused."""
    initial, bounds = initial or {}, bounds or {}
    return {name: group_statistics(name, w, initial=initial.get(name), bounds=bounds.get(name), **kwargs)
            for name, w in weights.items()}
