"""Bimodality of weight distributions: pile-up at the bounds and Hartigan's dip test.

Additive STDP with hard bounds drives weights to 0 and g_max (a bimodal distribution; Song,
Miller & Abbott 2000, Nat Neurosci 3:919); multiplicative rules give one skewed mode (van Rossum,
Bi & Turrigiano 2000; Gütig et al. 2003). Two measures tell them apart:

* :func:`fraction_near_bounds` — the fraction of |w| within ``rtol`` of the range from each bound;
* :func:`dip_test` — Hartigan's dip (Hartigan & Hartigan 1985, Ann. Statist. 13:70–84): the
  sup-distance from the empirical CDF to the nearest unimodal CDF, with a p-value by simulation
  from the uniform distribution (the least favourable unimodal null, as in the paper).

The dip is computed here from the published algorithm (greatest convex minorant / least concave
majorant iteration, Hartigan & Hartigan 1985 section 3); tests check it against a direct
linear-programming solution of the definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._checks import as_finite_1d
from ._sampling import MAX_RESAMPLE, subsample

__all__ = ["BoundsFraction", "DipResult", "Bimodality", "fraction_near_bounds", "dip_statistic", "dip_test",
           "assess_bimodality"]


@dataclass(frozen=True)
class BoundsFraction:
    """Fractions of values within ``rtol * (upper - lower)`` of the lower and the upper bound.

    Without a known upper bound, ``upper`` and ``at_upper`` are None and ``at_lower`` counts the
    values exactly at ``lower`` (the floor of a magnitude, 0: silent synapses)."""

    lower: float
    upper: float | None
    at_lower: float
    at_upper: float | None
    rtol: float

    @property
    def total(self) -> float:
        return self.at_lower + (self.at_upper or 0.0)

    @property
    def upper_known(self) -> bool:
        return self.upper is not None


@dataclass(frozen=True)
class DipResult:
    """Hartigan's dip D (in [1/(2n), 1/4]) and the simulated p-value of H0: unimodal."""

    dip: float
    p_value: float
    n: int
    n_sim: int
    n_tested: int | None = None  # values the dip was computed on (n, or a random subsample's size)


@dataclass(frozen=True)
class Bimodality:
    """Bimodality summary of one set of magnitudes (see :func:`assess_bimodality`)."""

    near_bounds: BoundsFraction
    dip_linear: DipResult
    dip_log: DipResult | None
    alpha: float

    @property
    def bimodal(self) -> bool:
        """Dip test rejects unimodality on the linear or the log scale (Bonferroni: alpha/2 each)."""
        ps = [self.dip_linear.p_value] + ([self.dip_log.p_value] if self.dip_log else [])
        return min(ps) < self.alpha / len(ps)


def fraction_near_bounds(x, lower: float = 0.0, upper: float | None = None, rtol: float = 0.01) -> BoundsFraction:
    """Fraction of values with x - lower <= rtol*(upper - lower) and with upper - x <= the same.

    ``upper`` is the *known* bound (e.g. g_max of additive STDP: with the hard bounds [0, g_max]
    of Song et al. 2000 a large share of the weights sits there; a log-normal puts little mass
    there). Without it (None) there is no upper bound to be at: max(x) is not one, and on a
    heavy-tailed sample "within 1 % of the range from 0" would take in most values. Then
    ``at_upper`` is None and ``at_lower`` counts the values exactly at ``lower``.
    """
    x = as_finite_1d(x, "fraction_near_bounds")
    if not 0 <= rtol < 0.5:
        raise ValueError(f"fraction_near_bounds: rtol={rtol!r}; must be in [0, 0.5).")
    if upper is None:
        return BoundsFraction(float(lower), None, float(np.mean(x <= lower)), None, rtol)
    upper = float(upper)
    if not upper > lower:
        raise ValueError(f"fraction_near_bounds: need upper > lower, got lower={lower}, upper={upper}.")
    tol = rtol * (upper - lower)
    return BoundsFraction(float(lower), upper, float(np.mean(x - lower <= tol)), float(np.mean(upper - x <= tol)), rtol)


# ----------------------------------------------------------------------------- the dip
def _hull(xs: np.ndarray, ys: np.ndarray, lower: bool) -> list[int]:
    """Vertex indices of the lower (convex minorant) or upper (concave majorant) hull; xs increasing."""
    sign = 1.0 if lower else -1.0
    X, Y = xs.tolist(), ys.tolist()  # Python floats: much faster than numpy scalars in this loop
    h: list[int] = []
    for k in range(len(X)):
        xk, yk = X[k], Y[k]
        while len(h) >= 2:
            i, j = h[-2], h[-1]
            # j stays only if it lies strictly below (lower hull) / above (upper) the chord i-k
            if sign * ((X[j] - X[i]) * (yk - Y[i]) - (Y[j] - Y[i]) * (xk - X[i])) <= 0:
                h.pop()
            else:
                break
        h.append(k)
    return h


def _dip_counts(u: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Twice the dip in count units for distinct sorted values u with ECDF counts a (left limit), b."""
    lo, hi, D = 0, u.size - 1, 0.0
    while True:
        xs = u[lo:hi + 1]
        g = np.asarray(_hull(xs, a[lo:hi + 1], lower=True)) + lo       # GCM contacts (lower corners)
        l = np.asarray(_hull(xs, b[lo:hi + 1], lower=False)) + lo      # LCM contacts (upper corners)
        G = lambda t: np.interp(t, u[g], a[g])  # noqa: E731
        L = lambda t: np.interp(t, u[l], b[l])  # noqa: E731
        dg = L(u[g]) - a[g]
        dl = b[l] - G(u[l])
        if dg.max() > dl.max():
            d = float(dg.max())
            new_lo = int(g[np.argmax(dg)])
            after = l[l > new_lo]
            new_hi = int(after[0]) if after.size else hi
        else:
            d = float(dl.max())
            new_hi = int(l[np.argmax(dl)])
            before = g[g < new_hi]
            new_lo = int(before[-1]) if before.size else lo
        if d <= D:
            return D
        left = np.arange(lo, new_lo + 1)
        right = np.arange(new_hi, hi + 1)
        D = max(D, float((b[left] - G(u[left])).max()), float((L(u[right]) - a[right]).max()))
        if (new_lo, new_hi) == (lo, hi):
            return D
        lo, hi = new_lo, new_hi


def dip_statistic(x) -> float:
    """Hartigan's dip: inf over unimodal CDFs G of sup_x |F_n(x) - G(x)|.

    Computed by the iteration of Hartigan & Hartigan (1985, section 3): on the current modal
    interval take the greatest convex minorant (GCM) and least concave majorant (LCM) of the
    empirical CDF, find the largest GCM–LCM gap at their contact points, shrink the interval to
    that gap and accumulate the largest departures outside it; stop when the gap no longer
    exceeds them. Ties are handled exactly (the ECDF jumps by the tie count). Range [1/(2n), 1/4].
    """
    x = np.sort(as_finite_1d(x, "dip_statistic", min_size=2))
    u, counts = np.unique(x, return_counts=True)
    if u.size < 2:
        raise ValueError("dip_statistic: all values are identical; the dip needs at least 2 distinct values.")
    b = np.cumsum(counts).astype(float)
    a = b - counts
    return _dip_counts(u, a, b) / (2 * x.size)


@lru_cache(maxsize=32)
def _null_dips(m: int, n_sim: int, seed: int | None) -> np.ndarray:
    """Dips of n_sim uniform samples of size m (cached: the null depends only on m)."""
    rng = np.random.default_rng(seed)
    return np.array([dip_statistic(rng.random(m)) for _ in range(n_sim)])


def dip_test(x, *, n_sim: int = 500, seed: int | None = 0, max_sim_size: int = 1000,
             max_size: int | None = MAX_RESAMPLE) -> DipResult:
    """Dip statistic with p-value P(D_null >= D) by simulation from U(0, 1) (Hartigan 1985).

    Above ``max_size`` values the test runs on a uniform random subsample of ``max_size`` of
    them (drawn with ``seed``; ``n_tested`` says how many): the dip's own algorithm is O(n) per
    pass in Python, and 10^5 values already detect any bimodality worth reporting. The null
    samples have size m = min(n_tested, ``max_sim_size``); the simulated dips are rescaled by
    sqrt(m/n_tested), using that sqrt(n) D converges in distribution under the uniform (Hartigan
    & Hartigan 1985, Theorem 5). p = (1 + #{D_sim >= D}) / (n_sim + 1).
    """
    if int(n_sim) != n_sim or n_sim < 1:
        raise ValueError(f"dip_test: n_sim={n_sim!r}; must be an integer >= 1.")
    x = as_finite_1d(x, "dip_test", min_size=4)
    n = x.size
    xs = subsample(x, max_size, np.random.default_rng(seed))
    if xs is not x and xs.min() == xs.max():  # a degenerate draw from nearly constant data: the dip
        xs = x                                 # works on distinct values, so all of x is cheap here
    d = dip_statistic(xs)
    m = min(xs.size, int(max_sim_size))
    sims = _null_dips(m, int(n_sim), seed) * math.sqrt(m / xs.size)  # read-only cached array
    p = float((1 + np.sum(sims >= d - 1e-12)) / (n_sim + 1))
    return DipResult(float(d), p, n, int(n_sim), xs.size)


def assess_bimodality(magnitudes, *, lower: float = 0.0, upper: float | None = None, rtol: float = 0.01,
                      alpha: float = 0.05, n_sim: int = 500, seed: int | None = 0,
                      max_size: int | None = MAX_RESAMPLE) -> Bimodality:
    """Pile-up at the bounds plus the dip test on |w| and on ln|w| (positive values only).

    The distribution is called bimodal when either dip test rejects unimodality at alpha/2
    (Bonferroni over the two scales). Exact zeros count for the bounds and the linear-scale dip.
    ``max_size``: the dip tests run on a random subsample of this many values (see :func:`dip_test`).
    """
    m = as_finite_1d(magnitudes, "assess_bimodality", min_size=4)
    if (m < 0).any():
        raise ValueError("assess_bimodality: expects magnitudes >= 0; split signed weights with split_by_sign first.")
    near = fraction_near_bounds(m, lower, upper, rtol)
    dip_lin = dip_test(m, n_sim=n_sim, seed=seed, max_size=max_size)
    pos = m[m > 0]
    two = pos.size >= 4 and pos.min() < pos.max()
    dip_log = dip_test(np.log(pos), n_sim=n_sim, seed=seed, max_size=max_size) if two else None
    return Bimodality(near, dip_lin, dip_log, alpha)
