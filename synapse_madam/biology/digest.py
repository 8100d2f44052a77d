"""The one weight digest every substrate logs: ln|w| moments, signs, bounds and stationarity.

A multiplicative update w <- w exp(-eta sign(w) g) moves ln|w| additively, so the natural
coordinates of a weight group are the moments of ln|w| (Bernstein et al. 2020; Loewenstein,
Kuras & Rumpel 2011 measured log-normal spine sizes whose ln-size performs such a walk).
:func:`digest_weights` summarises one group of signed weights in those coordinates:

* ``mean_ln``, ``sigma_ln``, ``skew_ln``: mean, standard deviation (ddof 0) and skewness of
  ln|w| over the nonzero entries;
* ``ks_D``: Kolmogorov-Smirnov distance between ln|w| and the normal with ln|w|'s own mean and
  sd (the distance of |w| from its log-normal fit; scipy.stats.kstest);
* ``frac_at_lower`` / ``frac_at_upper`` / ``frac_at_bounds``: fraction of entries whose |w| lies
  within ``rel_tol`` (relative) of a *known* bound (lo, hi) on |w|. Without known bounds these are
  None: the largest observed |w| is not a bound (a log-normal sample has no bound at all);
* ``corr_init``: Pearson correlation of ln|w| with the *initial* ln|w| (entries nonzero in
  both): how much of its initialisation the group remembers (1: magnitudes ranked as at the
  start, 0: forgotten; None when the initial magnitudes are all equal, e.g. a constant init);
* ``sign_flips``: entries whose sign differs from the *initial* weights' (a nonzero weight
  that became zero counts as a flip: it lost its sign);
* ``frac_wrong_sign``: fraction of entries whose sign is not the group's expected sign
  (+1 excitatory, -1 inhibitory; Dale's law). Zeros are not wrong-signed; they are ``n_zero``.

:func:`stationarity` says whether a series of sigma_ln values logged during a run has stopped
moving: (max - min) / mean over its last third below a tolerance.

Works on numpy arrays and torch tensors (any shape, any float dtype).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["digest_weights", "stationarity", "corr_init", "DIGEST_KEYS"]

DIGEST_KEYS = ("n", "n_zero", "mean_ln", "sigma_ln", "skew_ln", "ks_D", "frac_at_lower", "frac_at_upper",
               "frac_at_bounds", "sign_flips", "corr_init", "frac_wrong_sign")


def _as_numpy(w, name: str) -> np.ndarray:
    if hasattr(w, "detach"):  # torch tensor
        w = w.detach().float().cpu().numpy()
    try:
        a = np.asarray(w, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"digest_weights: {name} must be an array of numbers, got {type(w).__name__}.") from None
    return a


def _float(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def digest_weights(w, *, initial=None, bounds=None, expected_sign=None, rel_tol: float = 1e-3) -> dict:
    """Digest of one group of signed weights ``w`` (see the module docstring for every key).

    ``initial``: the group's weights at the start of the run (same size) for ``sign_flips``.
    ``bounds``: ``(lo, hi)`` on |w| (lo = 0 means no lower bound; hi None or inf: no upper bound).
    ``expected_sign``: +1 or -1 for ``frac_wrong_sign``. ``rel_tol``: how close (relative to the
    bound) counts as "at" a bound. Moments of ln|w| are None with fewer than 2 nonzero entries.
    """
    a = _as_numpy(w, "w")
    if not (isinstance(rel_tol, (int, float)) and rel_tol >= 0):
        raise ValueError(f"digest_weights: rel_tol must be a number >= 0, got {rel_tol!r}.")
    n = int(a.size)
    nonfinite = ~np.isfinite(a)
    out: dict = {"n": n, "n_zero": int(np.sum(a == 0)), "n_nonfinite": int(np.sum(nonfinite)),
                 "mean_ln": None, "sigma_ln": None, "skew_ln": None, "ks_D": None,
                 "frac_at_lower": None, "frac_at_upper": None, "frac_at_bounds": None,
                 "sign_flips": None, "corr_init": None, "frac_wrong_sign": None}
    mags = np.abs(a[(a != 0) & ~nonfinite])
    if mags.size >= 2:
        from scipy import stats

        ln = np.log(mags)
        mu, sd = float(ln.mean()), float(ln.std())
        out["mean_ln"], out["sigma_ln"] = _float(mu), _float(sd)
        if sd > 1e-12 * max(1.0, abs(mu)):
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # nearly equal values: skew is noise
                out["skew_ln"] = _float(stats.skew(ln))
            out["ks_D"] = _float(ks_distance_normal(ln, mu, sd))
        else:
            out["skew_ln"], out["ks_D"] = 0.0, None
    if bounds is not None:
        out.update(_at_bounds(np.abs(a[~nonfinite]), bounds, rel_tol, n))
    if initial is not None:
        a0 = _as_numpy(initial, "initial")
        if a0.size != n:
            raise ValueError(f"digest_weights: initial has {a0.size} entries but w has {n}; give the same group's "
                             "initial weights.")
        out["sign_flips"] = int(np.sum(np.sign(a0) != np.sign(a)))
        out["corr_init"] = corr_init(a, a0)
    if expected_sign is not None:
        if expected_sign not in (1, -1):
            raise ValueError(f"digest_weights: expected_sign must be +1 or -1, got {expected_sign!r}.")
        out["frac_wrong_sign"] = float(np.mean(a * expected_sign < 0)) if n else None
    return out


def ks_distance_normal(x: np.ndarray, mu: float, sd: float) -> float:
    """Kolmogorov-Smirnov distance sup_x |F_n(x) - Phi((x - mu) / sd)| of the sample ``x``.

    scipy.stats.kstest(x, "norm", args=(mu, sd)).statistic; where that call breaks (scipy 1.18.1 with
    numpy 2.5.2 passed three arguments to ``ndtr``, seen on a lent GPU machine), the same statistic
    from its definition: D = max_i max(i/n - F(x_(i)), F(x_(i)) - (i-1)/n).
    """
    from scipy import special, stats

    try:
        return float(stats.kstest(x, "norm", args=(mu, sd)).statistic)
    except TypeError:
        xs = np.sort(np.asarray(x, dtype=np.float64))
        n = xs.size
        cdf = special.ndtr((xs - mu) / sd)
        i = np.arange(1, n + 1)
        return float(max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n)))


def _at_bounds(mags: np.ndarray, bounds, rel_tol: float, n: int) -> dict:
    try:
        lo, hi = bounds
    except (TypeError, ValueError):
        raise ValueError(f"digest_weights: bounds must be (lo, hi) on |w|, got {bounds!r}.") from None
    lo = 0.0 if lo is None else float(lo)
    hi = math.inf if hi is None else float(hi)
    if lo < 0 or not hi > lo:
        raise ValueError(f"digest_weights: bounds (lo, hi) need 0 <= lo < hi, got {bounds!r}.")
    if n == 0:
        return {"frac_at_lower": None, "frac_at_upper": None, "frac_at_bounds": None}
    at_lo = np.abs(mags - lo) <= rel_tol * lo if lo > 0 else np.zeros(mags.shape, bool)
    at_hi = np.abs(mags - hi) <= rel_tol * hi if math.isfinite(hi) else np.zeros(mags.shape, bool)
    return {"frac_at_lower": float(at_lo.sum() / n), "frac_at_upper": float(at_hi.sum() / n),
            "frac_at_bounds": float((at_lo | at_hi).sum() / n)}


def corr_init(w, w0) -> float | None:
    """Pearson correlation of ln|w| and ln|w0| over entries nonzero and finite in both; None with
    fewer than 3 such entries or when either side has (numerically) one magnitude only."""
    a, b = np.abs(np.asarray(w, dtype=float).ravel()), np.abs(np.asarray(w0, dtype=float).ravel())
    keep = (a > 0) & (b > 0) & np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        return None
    x, y = np.log(a[keep]), np.log(b[keep])
    if x.std() < 1e-9 or y.std() < 1e-9:
        return None
    return _float(np.corrcoef(x, y)[0, 1])


def stationarity(sigma_series, *, last_fraction: float = 1 / 3, tol: float = 0.05) -> dict:
    """Has sigma(t) (the sigma_ln values logged during a run, in time order) stopped moving?

    Over the last ``last_fraction`` of the points (at least 2): ``rel_change`` =
    (max - min) / mean, and ``stationary`` = rel_change < ``tol``. None values (not yet
    defined) are skipped. With fewer than 3 usable points both are None: too short to tell.
    """
    if not 0 < last_fraction <= 1:
        raise ValueError(f"stationarity: last_fraction must be in (0, 1], got {last_fraction!r}.")
    s = np.asarray([float(x) for x in sigma_series if x is not None], dtype=float)
    s = s[np.isfinite(s)]
    out = {"n_points": int(s.size), "rel_change": None, "stationary": None}
    if s.size < 3:
        return out
    tail = s[-max(2, int(math.ceil(last_fraction * s.size))):]
    mean = float(np.mean(tail))
    if mean == 0:
        return out
    rel = float((tail.max() - tail.min()) / abs(mean))
    out.update(rel_change=rel, stationary=bool(rel < tol))
    return out
