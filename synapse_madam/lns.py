"""Logarithmic number system (LNS) for weights: a sign bit plus an unsigned exponent code.

A B-bit LNS weight is ``w = sign * scale * base**(-k)`` with integer ``k`` in ``[0, 2**(B-1) - 1]``
(Zhao et al., "LNS-Madam: Low-precision training in logarithmic number system using
multiplicative weight update", IEEE Trans. Computers 2022, arXiv:2106.13914; the integer Madam of
Bernstein et al., NeurIPS 2020). Levels are log-uniform: adjacent magnitudes differ by the factor
``base``, so the *relative* precision is the same at every size — the "constant precision over the
dynamic range" Bartol et al. (eLife 2015) found in hippocampal synapses (~26 levels, 4.7 bits).

``base`` is set directly or as ``2**(1/gamma)`` (LNS-Madam's gamma, e.g. 8). ``scale`` (one per
tensor) is the largest magnitude, code 0; under Madam it is the magnitude bound w_max.

Packed storage: the sign and k share one B-bit two's-complement integer, ``k`` for positive and
``~k = -1 - k`` for negative weights, so every code fits int8 (B <= 8) or int16 (B <= 16). There is no
zero: exact zeros (and magnitudes below the range) encode to the smallest level, with sign +.
Functions take numpy arrays or torch tensors and return the same kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._arrays import is_torch
from .hashnoise import hash_uniform  # noqa: F401  (re-exported: stochastic rounding noise)

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

ROUNDING_MODES = ("nearest", "stochastic")
MAX_BITS = 16
DEFAULT_DYNAMIC_RANGE = 2.0 ** (127 / 8)  # LNS-Madam: 8 bits, gamma = 8
MAX_LOG2_RANGE = 120  # largest/smallest level must stay inside float32's normal range (2^-126..2^128)


@dataclass(frozen=True)
class LNSFormat:
    """A B-bit LNS format: ``LNSFormat(bits, base=...)`` or ``LNSFormat(bits, gamma=...)``.

    At most one of ``base`` (> 1) and ``gamma`` (> 0, base = 2**(1/gamma)) is given; with neither,
    the levels span LNS-Madam's 8-bit dynamic range 2**(127/8) ~ 6e4 (gamma = 8 at 8 bits,
    finer at more bits, coarser at fewer). ``LNSFormat.for_range(bits, dynamic_range)`` picks the base
    whose levels span ``dynamic_range`` = largest/smallest magnitude.

    ``magnitudes`` (optional, 2 .. 2**(bits-1)) keeps only the first ``magnitudes`` levels per sign,
    k = 0 .. magnitudes - 1: a format whose level count is not a power of two, e.g. Bartol et al.
    2015's 26 distinguishable synapse sizes (``LNSFormat(6, base=math.exp(2 * 0.083), magnitudes=26)``:
    log2(26) = 4.7 bits of magnitude, stored in a 6-bit code with the sign). Without ``base`` or
    ``gamma`` the levels then span the default dynamic range.
    """

    bits: int
    base: float | None = None
    gamma: float | None = None
    magnitudes: int | None = None

    def __post_init__(self):
        check_bits(self.bits, "LNSFormat")
        if self.base is not None and self.gamma is not None:
            raise ValueError("LNSFormat: give base or gamma, not both (base = 2**(1/gamma)).")
        if self.gamma is not None:
            if not (isinstance(self.gamma, (int, float)) and math.isfinite(self.gamma) and self.gamma > 0):
                raise ValueError(f"LNSFormat: gamma must be a finite number > 0, got {self.gamma!r}.")
            object.__setattr__(self, "base", 2.0 ** (1.0 / self.gamma))
        m = self.magnitudes
        if m is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer))
                              or not 2 <= m <= 2 ** (int(self.bits) - 1)):
            raise ValueError(f"LNSFormat: magnitudes must be an integer in [2, 2**(bits-1) = {2 ** (int(self.bits) - 1)}], "
                             f"got {m!r}; use more bits for more levels.")
        if self.gamma is None and self.base is None:  # LNS-Madam's 8-bit dynamic range, 2^(127/8), at every width
            k_max = (int(m) if m is not None else 2 ** (int(self.bits) - 1)) - 1
            object.__setattr__(self, "base", DEFAULT_DYNAMIC_RANGE ** (1.0 / k_max) if k_max else 2.0)
        if not (isinstance(self.base, (int, float)) and math.isfinite(self.base) and self.base > 1):
            raise ValueError(f"LNSFormat: base must be a finite number > 1, got {self.base!r}.")
        object.__setattr__(self, "bits", int(self.bits))
        object.__setattr__(self, "base", float(self.base))
        object.__setattr__(self, "magnitudes", None if m in (None, 2 ** (self.bits - 1)) else int(m))
        if self.k_max * math.log2(self.base) > MAX_LOG2_RANGE:
            raise ValueError(
                f"LNSFormat: {self.bits} bits with base {self.base:.6g} span 2^{self.k_max * math.log2(self.base):.0f}, "
                f"more than float32 can hold (2^{MAX_LOG2_RANGE}); use fewer bits or a base closer to 1."
            )

    @classmethod
    def for_range(cls, bits: int, dynamic_range: float) -> "LNSFormat":
        """The format whose 2**(bits-1) levels span largest/smallest = ``dynamic_range`` (> 1)."""
        if not (math.isfinite(dynamic_range) and dynamic_range > 1):
            raise ValueError(f"LNSFormat.for_range: dynamic_range must be a finite number > 1, got {dynamic_range!r}.")
        probe = cls(bits, base=2.0)  # validates bits
        return cls(bits, base=dynamic_range ** (1.0 / probe.k_max)) if probe.k_max else probe

    # --- the grid -------------------------------------------------------------------------
    @property
    def n_levels(self) -> int:
        """Magnitude levels per sign: ``magnitudes`` when given, else 2**(bits-1)."""
        return self.magnitudes if self.magnitudes is not None else 2 ** (self.bits - 1)

    @property
    def magnitude_bits(self) -> float:
        """log2(n_levels): the information in a weight's magnitude (the sign is one more bit)."""
        return math.log2(self.n_levels)

    @property
    def k_max(self) -> int:
        return self.n_levels - 1

    @property
    def log_base(self) -> float:
        """ln(base): the spacing of the levels in log-magnitude (nats)."""
        return math.log(self.base)

    @property
    def relative_spacing(self) -> float:
        """base - 1: the relative difference between adjacent magnitudes."""
        return self.base - 1.0

    @property
    def dynamic_range(self) -> float:
        """Largest / smallest magnitude: base**k_max."""
        return self.base**self.k_max

    @property
    def storage_dtype(self):
        """numpy dtype of the packed codes: int8 for <= 8 bits, int16 above."""
        return np.dtype(np.int8) if self.bits <= 8 else np.dtype(np.int16)

    @property
    def torch_storage_dtype(self):
        return torch.int8 if self.bits <= 8 else torch.int16

    def magnitude_range(self, scale: float) -> tuple[float, float]:
        """(smallest, largest) representable magnitude for this ``scale``."""
        _check_scale(scale)
        return scale * self.base ** (-self.k_max), float(scale)

    def levels(self, scale: float = 1.0) -> np.ndarray:
        """All representable magnitudes, largest first (k = 0, 1, ..., k_max)."""
        _check_scale(scale)
        return scale * self.base ** (-np.arange(self.n_levels, dtype=np.float64))

    # --- codes ----------------------------------------------------------------------------
    def exponent(self, w, scale):
        """Real-valued exponent k* = log_base(scale / |w|) (inf for w = 0), before rounding."""
        if is_torch(w):
            return (math.log(scale) if not is_torch(scale) else torch.log(scale)) / self.log_base - torch.log(w.abs()) / self.log_base
        return (np.log(scale) - np.log(np.abs(w))) / self.log_base

    def round_exponent(self, k_real, rounding: str = "nearest", uniform=None):
        """Integer k in [0, k_max] nearest to k_real (or stochastically rounded); inf -> k_max."""
        k = round_to_integer(k_real, rounding, uniform)
        if is_torch(k):
            return torch.clamp(torch.nan_to_num(k, posinf=self.k_max), 0, self.k_max)
        return np.clip(np.nan_to_num(k, posinf=self.k_max), 0, self.k_max)

    def pack(self, sign, k):
        """One B-bit integer per weight: k for sign >= 0, ~k = -1-k for sign < 0."""
        if is_torch(k):
            k = k.to(self.torch_storage_dtype)
            return torch.where(sign < 0, -1 - k, k)
        k = k.astype(self.storage_dtype)
        return np.where(sign < 0, -1 - k, k).astype(self.storage_dtype)

    def unpack(self, codes):
        """(sign in {-1, +1}, k) of packed codes."""
        if is_torch(codes):
            negative = codes < 0
            return torch.where(negative, -1, 1), torch.where(negative, -1 - codes, codes)
        negative = codes < 0
        return np.where(negative, -1, 1), np.where(negative, -1 - codes, codes)

    def encode(self, w, scale, rounding: str = "nearest", uniform=None):
        """Packed codes of weights ``w`` (magnitudes clipped to the representable range)."""
        _check_finite(w)
        _check_scale(scale)
        sign = torch.where(w < 0, -1, 1) if is_torch(w) else np.where(w < 0, -1, 1)
        return self.pack(sign, self.round_exponent(self.exponent(w, scale), rounding, uniform))

    def decode(self, codes, scale, dtype=None):
        """Weights sign * scale * base**(-k) of packed codes (float32 unless ``dtype`` is given)."""
        sign, k = self.unpack(codes)
        if is_torch(codes):
            dtype = dtype or torch.float32
            magnitude = scale * torch.exp(-self.log_base * k.to(torch.float64)).to(dtype)
            return (sign.to(dtype) * magnitude).to(dtype)
        dtype = dtype or np.float32
        return (sign * (scale * np.exp(-self.log_base * k.astype(np.float64)))).astype(dtype)


def round_to_integer(x, rounding: str = "nearest", uniform=None):
    """Round-to-nearest (half to even), or stochastic rounding floor(x + u) with u ~ U[0, 1),
    which is unbiased: E[floor(x + u)] = x, so steps far smaller than one level still add up."""
    check_rounding(rounding)
    if rounding == "stochastic":
        if uniform is None:
            raise ValueError("stochastic rounding needs `uniform` noise in [0, 1) of the same shape.")
        return torch.floor(x + uniform) if is_torch(x) else np.floor(x + uniform)
    return torch.round(x) if is_torch(x) else np.round(x)


def check_bits(bits, who: str) -> None:
    """ValueError unless ``bits`` is an integer in [2, MAX_BITS] (1 sign bit + at least 1 more)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= MAX_BITS:
        raise ValueError(f"{who}: bits must be an integer in [2, {MAX_BITS}] (1 sign bit + magnitude bits), got {bits!r}.")


def check_rounding(rounding: str) -> None:
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}.")


def _check_scale(scale) -> None:
    """The scale (the largest magnitude, level k = 0) must be a finite number > 0: with 0, a
    negative or NaN scale every weight would silently get code 0."""
    ok = bool(torch.all(torch.isfinite(scale) & (scale > 0))) if is_torch(scale) else \
        bool(np.all(np.isfinite(np.asarray(scale, dtype=float)) & (np.asarray(scale, dtype=float) > 0)))
    if not ok:
        raise ValueError(f"LNS: scale must be a finite number > 0 (the largest magnitude), got {scale!r}.")


def _check_finite(w) -> None:
    finite = bool(torch.isfinite(w).all()) if is_torch(w) else bool(np.isfinite(w).all())
    if not finite:
        raise ValueError("LNS encode: weights contain NaN or inf; only finite values can be encoded.")
