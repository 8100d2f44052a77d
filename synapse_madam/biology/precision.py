"""Synaptic precision: distinguishable strength levels and bits.

Bartol et al. (2015, eLife 4:e10778) measured pairs of synapses sharing the same axon and the same
dendrite, whose spine-head sizes should encode the same strength, and used their coefficient of
variation (CV) as the resolution with which a size can be set. Sizes are spread over a range
R = s_max / s_min; levels separated by a fixed *relative* step are distinguishable, so the levels
are log-spaced. The formula used here:

    levels = ln(R) / (k * CV),   bits = log2(levels)

with bin width k = 2 CV in ln-size (CV approximates the SD of ln s for small CV). With the fact
sheet's R ≈ 60 and CV ≈ 0.083 (both unconfirmed, tag M) this gives ln 60 / 0.166 = 24.7 levels =
4.6 bits, near Bartol's 26 levels / 4.7 bits. ``log_sd=True`` uses the exact SD of ln s for
log-normal scatter, sqrt(ln(1 + CV^2)), instead of CV.

A logarithmic number system (LNS) does the same in hardware: |w| = w_max * base^(-k) with integer
k in [0, 2^(B-1) - 1] (one of the B bits is the sign; Madam paper's integer Madam, LNS-Madam by
Zhao et al. 2022). Its levels are log-spaced with step ln(base), so it spans a dynamic range
base^(levels - 1) with constant relative precision — Bartol's "non-uniform quantization".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..lns import LNSFormat
from ._checks import as_positive_1d

__all__ = ["Precision", "LNSPrecision", "levels_from_range_cv", "levels_from_sizes", "lns_precision",
           "lns_format_for"]


@dataclass(frozen=True)
class Precision:
    """Distinguishable levels in a size range at a given pairwise CV."""

    size_range: float
    cv: float
    bin_width: float   # in ln-size
    levels: float

    @property
    def bits(self) -> float:
        return math.log2(self.levels) if self.levels > 0 else 0.0


@dataclass(frozen=True)
class LNSPrecision:
    """Levels, dynamic range and relative step of a B-bit LNS format with a given base."""

    bits: int
    base: float
    signed: bool
    levels: int            # magnitude codes
    dynamic_range: float   # largest / smallest nonzero magnitude = base^(levels-1)
    ln_step: float         # ln(base): spacing of levels in ln|w|

    @property
    def magnitude_bits(self) -> float:
        return math.log2(self.levels)

    @property
    def equivalent_cv(self) -> float:
        """The pairwise CV at which Bartol's bins (width 2 CV) match this grid: ln(base) / 2."""
        return self.ln_step / 2


def _positive(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
        raise TypeError(f"{name} must be a finite number, got {v!r}.")
    if not v > 0:
        raise ValueError(f"{name} must be > 0, got {v!r}.")


def levels_from_range_cv(size_range: float, cv: float, *, bin_width_cvs: float = 2.0, log_sd: bool = False) -> Precision:
    """levels = ln(size_range) / (bin_width_cvs * s), s = cv (or sqrt(ln(1 + cv^2)) if log_sd).

    Bartol et al. 2015 (eLife 4:e10778): the pair CV sets the resolution; log-spaced bins of width
    2 CV across the observed range give the number of distinguishable sizes (≥ 26, 4.7 bits).
    """
    _positive("size_range", size_range)
    _positive("cv", cv)
    _positive("bin_width_cvs", bin_width_cvs)
    if size_range < 1:
        raise ValueError(f"size_range is largest/smallest and must be >= 1, got {size_range!r}.")
    s = math.sqrt(math.log1p(cv * cv)) if log_sd else cv
    width = bin_width_cvs * s
    return Precision(float(size_range), float(cv), width, math.log(size_range) / width)


def levels_from_sizes(sizes, cv: float, *, quantiles: tuple[float, float] = (0.0, 1.0), **kwargs) -> Precision:
    """Bartol levels for measured sizes (or weight magnitudes): range = q_hi / q_lo of ``sizes``.

    ``quantiles=(0.005, 0.995)`` makes the range robust to single outliers.
    """
    x = as_positive_1d(sizes, "levels_from_sizes")
    lo, hi = quantiles
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"quantiles must satisfy 0 <= lo < hi <= 1, got {quantiles!r}.")
    q = np.quantile(x, [lo, hi])
    return levels_from_range_cv(float(q[1] / q[0]), cv, **kwargs)


def lns_precision(bits: int, base: float, *, signed: bool = True) -> LNSPrecision:
    """A B-bit LNS: levels = 2^(B-1) magnitude codes (2^B unsigned), range = base^(levels-1).

    E.g. Madam's integer code, base e^0.001 with 4096 levels: range e^4.095 ≈ 60; LNS-Madam's
    base 2^(1/8) at 8 bits: 128 levels, range 2^(127/8) ≈ 6.0e4.
    """
    if isinstance(bits, bool) or int(bits) != bits:
        raise TypeError(f"bits must be an integer, got {bits!r}.")
    _positive("base", base)
    if signed:  # the format the LNSMadam optimizer trains in
        fmt = LNSFormat(int(bits), base=float(base))
        return LNSPrecision(fmt.bits, fmt.base, True, fmt.n_levels, fmt.dynamic_range, fmt.log_base)
    if not base > 1:
        raise ValueError(f"base must be > 1 (|w| = w_max * base^-k), got {base!r}.")
    if bits < 1:
        raise ValueError(f"bits={bits} is too few: an unsigned LNS needs >= 1.")
    levels = 2 ** int(bits)
    ln_step = math.log(base)
    return LNSPrecision(int(bits), float(base), signed, levels, math.exp(ln_step * (levels - 1)), ln_step)


def lns_format_for(size_range: float, cv: float, *, signed: bool = True) -> LNSPrecision:
    """The smallest LNS holding Bartol's levels: base = exp(2 cv), bits = ceil(log2(levels + 1)) (+1 sign)."""
    p = levels_from_range_cv(size_range, cv)
    bits = math.ceil(math.log2(math.floor(p.levels) + 1)) + (1 if signed else 0)
    return lns_precision(bits, math.exp(p.bin_width), signed=signed)
