"""Compare synaptic weights with a measured log-normal, per sign class (E and I).

Log-normality is a property of magnitudes within a sign class: under Dale's principle a neuron's
outgoing weights share one sign, and measured log-normals (Song et al. 2005, PLoS Biol 3:e68) are
of excitatory EPSP amplitudes. So signed weights are split into E = {w > 0} and I = {|w| : w < 0}
and each class is fitted and compared on its own.

For each class, with the fitted ln|w| ~ N(mu, sigma^2) and the reference N(mu_ref, sigma_ref^2):

* ``sigma_ratio`` = sigma / sigma_ref (with the bootstrap CI of sigma divided by sigma_ref; the
  reference's own sampling error is not published with it and is treated as zero). It is
  unit-free: rescaling the weights only shifts mu. 1 means the same spread as cortex.
* ``ks_fit`` = KS distance between ln x and the normal with ln x's own mean and sd: the data
  against their fitted log-normal, i.e. whether they are log-normal at all (0 = exactly). (The
  KS distance between the fitted and the reference log-normal at equal medians, which this
  module reported as "KS shape" before, is a function of sigma / sigma_ref only: it cannot see
  a bimodal or clipped distribution, so it is no longer reported.)
* ``ks_data_shape`` = KS distance between the data and the reference log-normal moved to the
  data's median (the data, not the fit, against the reference shape).
* ``ks_raw`` = KS distance between the fitted and the reference log-normal as they are; only
  computed when the weights carry the reference's unit (e.g. ``unit="mV"`` for Song 2005), else
  None: in arbitrary units the location mu has no meaning.
* ``median_ratio`` = exp(mu - mu_ref), the scale of the weights in reference units (same caveat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import numpy as np
from scipy import stats
from scipy.special import ndtr

from ._checks import as_finite_1d, check_choice
from .fitting import LogNormalFit, fit_lognormal, ks_ad_statistics
from .references import LogNormalReference, reference_distribution

__all__ = ["split_by_sign", "ks_distance_normals", "compare_class", "ClassComparison", "Comparison", "compare"]

SIGN_CLASSES = ("E", "I")


def split_by_sign(w, *, zeros: str = "error", name: str = "weights") -> tuple[dict[str, np.ndarray], int]:
    """Split signed weights into magnitudes per sign class: ({"E": w[w>0], "I": -w[w<0]}, n_zero).

    Classes with no members are left out. ``zeros="error"`` raises on exact zeros (a weight of 0
    has no sign class and no logarithm); ``zeros="drop"`` drops them and returns their count.
    """
    check_choice("zeros", zeros, ("error", "drop"))
    w = as_finite_1d(w, name)
    n_zero = int((w == 0).sum())
    if n_zero and zeros == "error":
        raise ValueError(f"{name}: {n_zero} of {w.size} weights are exactly 0 (no sign class, no logarithm); "
                         f"pass zeros='drop' to drop and count them.")
    out = {"E": w[w > 0], "I": -w[w < 0]}
    out = {k: v for k, v in out.items() if v.size}
    if not out:
        raise ValueError(f"{name}: no nonzero weights to analyse.")
    return out, n_zero


def ks_distance_normals(m1: float, s1: float, m2: float, s2: float) -> float:
    """sup_x |Phi((x-m1)/s1) - Phi((x-m2)/s2)|, exactly.

    The supremum of a difference of two smooth CDFs sits where their densities are equal: the
    (at most two) roots of (x-m1)^2/(2 s1^2) - (x-m2)^2/(2 s2^2) = ln(s2/s1).
    """
    if not (s1 > 0 and s2 > 0):
        raise ValueError(f"ks_distance_normals: standard deviations must be > 0, got {s1}, {s2}.")
    a = 1 / (2 * s1**2) - 1 / (2 * s2**2)
    b = -m1 / s1**2 + m2 / s2**2
    c = m1**2 / (2 * s1**2) - m2**2 / (2 * s2**2) - math.log(s2 / s1)
    if abs(a) < 1e-14 * (1 / s1**2):
        roots = [-c / b] if b != 0 else []
    else:
        disc = b * b - 4 * a * c
        roots = [(-b + sg * math.sqrt(max(disc, 0.0))) / (2 * a) for sg in (1, -1)] if disc >= 0 else []
    return max([0.0] + [abs(stats.norm.cdf(x, m1, s1) - stats.norm.cdf(x, m2, s2)) for x in roots])


@dataclass(frozen=True)
class ClassComparison:
    """One sign class of one weight group against the reference (see module docstring)."""

    sign_class: str
    n: int
    mu: float
    mu_ci: tuple[float, float]
    sigma: float
    sigma_ci: tuple[float, float]
    sigma_ratio: float
    sigma_ratio_ci: tuple[float, float]
    ks_fit: float
    ks_data_shape: float
    ks_raw: float | None
    median_ratio: float | None


@dataclass(frozen=True)
class Comparison:
    """Per-class comparison of weights with a log-normal reference."""

    reference: LogNormalReference
    unit: str
    n_zero: int
    classes: tuple[ClassComparison, ...]
    fits: dict

    def rows(self) -> list[dict]:
        """One flat dict per sign class (for tables, JSON, pandas)."""
        return [asdict(c) | {"reference": self.reference.name, "unit": self.unit} for c in self.classes]

    def __str__(self) -> str:
        ref = self.reference
        head = (f"reference {ref.name}: ln x ~ N({ref.mu:.3f}, {ref.sigma:.4f}^2) in {ref.unit} "
                f"[{ref.citation.short}]; weights in {self.unit}; {self.n_zero} exact zeros dropped")
        lines = [head, f"{'class':5} {'n':>7} {'mu [CI]':>24} {'sigma [CI]':>22} {'sigma/ref [CI]':>22} "
                       f"{'KS fit':>8} {'KS data':>8} {'KS raw':>7}"]
        for c in self.classes:
            raw = "n/a" if c.ks_raw is None else f"{c.ks_raw:.3f}"
            lines.append(f"{c.sign_class:5} {c.n:7d} {_ci(c.mu, c.mu_ci):>24} {_ci(c.sigma, c.sigma_ci):>22} "
                         f"{_ci(c.sigma_ratio, c.sigma_ratio_ci):>22} {c.ks_fit:8.3f} {c.ks_data_shape:8.3f} {raw:>7}")
        return "\n".join(lines)


def _ci(v, ci) -> str:
    return f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def compare_class(name: str, x: np.ndarray, fit: LogNormalFit, ref: LogNormalReference,
                  same_unit: bool) -> ClassComparison:
    """Compare magnitudes ``x`` of one sign class (with their log-normal ``fit``) to ``ref``."""
    y = np.log(x)
    med = float(np.median(y))
    sorted_ = y.size < 2 or bool(np.all(y[1:] >= y[:-1]))  # analyze passes x sorted: no re-sorting
    cdf = lambda m, sd: ndtr((y - m) / sd) if sorted_ else np.sort(ndtr((y - m) / sd))  # noqa: E731
    ks_data = float(ks_ad_statistics(cdf(med, ref.sigma))[0])
    ks_fit = float(ks_ad_statistics(cdf(fit.mu, fit.sigma))[0])
    ratio_ci = (fit.sigma_ci[0] / ref.sigma, fit.sigma_ci[1] / ref.sigma)
    return ClassComparison(
        name, fit.n, fit.mu, fit.mu_ci, fit.sigma, fit.sigma_ci, fit.sigma / ref.sigma, ratio_ci,
        ks_fit, ks_data,
        ks_distance_normals(fit.mu, fit.sigma, ref.mu, ref.sigma) if same_unit else None,
        math.exp(fit.mu - ref.mu) if same_unit else None)


def compare(weights, reference: str | LogNormalReference = "song2005", *, unit: str = "a.u.",
            zeros: str = "error", ci_level: float = 0.95, n_boot: int = 1000, seed: int | None = 0) -> Comparison:
    """Fit a log-normal to each sign class of ``weights`` and compare it with ``reference``.

    ``weights``: signed weights (array, tensor, any shape); E = w > 0, I = |w| for w < 0.
    ``reference``: a name from :func:`available_references` (e.g. ``"song2005"``) or a
    :class:`LogNormalReference`. ``unit``: the unit of the weights; location-dependent numbers
    (``ks_raw``, ``median_ratio``) are computed only when it equals the reference's unit.
    A class with fewer than 2 distinct values is skipped.
    """
    ref = reference_distribution(reference)
    classes, n_zero = split_by_sign(weights, zeros=zeros)
    rows, fits = [], {}
    for name in SIGN_CLASSES:
        if name not in classes or np.unique(classes[name]).size < 2:
            continue
        fit = fit_lognormal(classes[name], ci_level=ci_level, n_boot=n_boot, seed=seed)
        fits[name] = fit
        rows.append(compare_class(name, classes[name], fit, ref, unit == ref.unit))
    if not rows:
        raise ValueError("compare: no sign class has 2 or more weights to fit.")
    return Comparison(ref, unit, n_zero, tuple(rows), fits)
