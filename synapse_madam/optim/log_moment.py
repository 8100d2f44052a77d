r"""An 8-bit logarithmic code for the second moment v of Madam / Adam: 1 byte per parameter.

Adam's second moment (Kingma & Ba, ICLR 2015) v_t = beta v_{t-1} + (1 - beta) g_t^2 enters the
step only through sqrt(v), the denominator of g_hat = g / sqrt(v / (1 - beta^t)). A relative error
of v is what matters, so the levels are log-spaced. Dettmers et al. 2022 ("8-bit Optimizers via
Block-wise Quantization", ICLR 2022) showed 8-bit optimizer state can train as well as 32-bit; the
format here is derived from the EMA's own arithmetic below, not taken from that work.

Format ``"log8"``: one uint8 code k per element and one integer exponent E per tensor (stored as
a 0-dim float32, exact for |E| < 2^24)::

    v(0) = 0                                       (never a nonzero gradient)
    v(k) = 2 ** ((E + k - K) / S),  k = 1 .. K     K = 255 codes, S = 8 levels per octave

* **Resolution.** Adjacent levels differ by the factor 2^(1/S) = 1.0905: one level is 9.05 % of v
  and 4.4 % of sqrt(v).
* **Range.** The nonzero levels span 2^((K - 1)/S) = 2^31.75 = 3.6e9 in v, i.e. 6e4 in the RMS
  gradient sqrt(v): the same span as LNSMadam's default weight format.
* **Scale.** After each update the exponent is E = ceil(S log2 max(v)), so the top code covers the
  tensor's largest v and the range reaches 31.75 octaves below it. Re-coding under a new E is part
  of the same encode (the codes are written afresh from the float v of the step).

**Rounding: stochastic, unbiased in v.** An EMA moves v by (1 - beta)|g^2 - v| per step, ~0.1 % of v at
beta = 0.999, far below half a level (4.5 %): rounding to nearest would freeze v unless g^2 left
it by more than (level / 2) / (1 - beta) ~ 45 v. Between levels L_j <= x < L_{j+1} the code is
j + 1 with probability (x - L_j) / (L_{j+1} - L_j), so E[decode(encode(x))] = x: the stored v is
an unbiased random EMA. (Unbiased in v, not in log v: the EMA is linear in v.) The uniform
noise is the counter-based hash of :mod:`synapse_madam.hashnoise` keyed on (tensor seed + V_STREAM,
step), so a resumed run rounds exactly as an uninterrupted one.

**Below the range** (0 < x < L_1) the code is 1 (rounded up, a bias towards smaller steps): a v
rounded to 0 would turn the element's next small gradient into a full g_bound step. x = 0 keeps
code 0.

**Accumulated error** (derived, checked in tests/test_log_moment.py). With the stored v a level
L, the new x = L (1 + eps), eps = (1 - beta)(g^2 / L - 1), and one rounding adds variance
L^2 |eps| (D - |eps|) (D = 2^(1/S) - 1 upwards, D / (1 + D) downwards, mean ~0.0866 at S = 8).
The relative error e_t = v~_t / v_t - 1 against the float EMA of the same gradients follows
e_t ~ beta e_{t-1} + eta_t, Var(eta) = (1 - beta) c D - (1 - beta)^2 c2, c = E|g^2 / v - 1| and
c2 = E(g^2 / v - 1)^2 (4 phi(1) = 0.968 and 2 for Gaussian gradients), so its stationary sd is
sqrt((c D - (1 - beta) c2) / (1 + beta)) = 0.202 in v at beta = 0.999 (~0.10 in sqrt(v), the
step's denominator; 0.179 at beta = 0.99), mean 0. The float v has its own sampling noise
sqrt((1 - beta) / 2 * Var(g^2)) / v ~ 3 % for Gaussian gradients; the 8-bit code adds a
slowly varying (correlation time 1 / (1 - beta) steps) per-element factor of ~10 % sd on the
step size, and, by Jensen, makes the mean step ~(3/8) * 0.042 ~ 1.6 % larger.

**Cost.** The tensor's exponent needs its largest new v before any element can be coded, so a
step reads g and the codes twice (max, then step + encode); the native CPU kernel
(``madam_kernel.c``, ``lns_madam_step_i8_log8``) does both passes with exact table levels and
gives the torch step's bits. It is slower per step than the float32-v kernel (scalar loops with
a table gather and a float64 rounding test per element); memory traffic is lower.
"""

from __future__ import annotations

import math

import torch

__all__ = ["LOG8", "CODES", "LEVELS_PER_OCTAVE", "V_STREAM", "decode", "encode", "level_ratio",
           "dynamic_range", "stationary_relative_sd"]

LOG8 = "log8"
CODES = 255                 # K: the nonzero codes 1..K
LEVELS_PER_OCTAVE = 8       # S
# seed offset of the v-rounding noise stream (the weights' rounding uses the tensor's seed, the
# fluctuations seed + NOISE_STREAM): among the first 200 tensors' seeds the hash keys of this stream
# meet those of the other two only at counters more than 3.2 million steps apart.
V_STREAM = 0x5AA991EE


def level_ratio() -> float:
    """2^(1/S): the ratio of adjacent levels (one level = 9.05 % of v)."""
    return 2.0 ** (1.0 / LEVELS_PER_OCTAVE)


def dynamic_range() -> float:
    """Largest / smallest nonzero level: 2^((K - 1) / S) = 2^31.75."""
    return 2.0 ** ((CODES - 1) / LEVELS_PER_OCTAVE)


def stationary_relative_sd(beta: float, c: float = 4.0 / math.sqrt(2.0 * math.pi * math.e), c2: float = 2.0) -> float:
    """Predicted stationary sd of v~ / v - 1 (the coded against the float EMA of the same
    gradients): sqrt((c D - (1 - beta) c2) / (1 + beta)), D the mean of the up and down level
    widths, c = E|g^2/v - 1| and c2 = E(g^2/v - 1)^2 (defaults: Gaussian gradients, 4 phi(1)
    and 2). One rounding of x = L (1 + eps) between L and its neighbour at L (1 + D) has variance
    L^2 |eps| (D - |eps|); the second term is the -eps^2 part."""
    up = level_ratio() - 1.0
    width = 0.5 * (up + up / (1.0 + up))
    return math.sqrt((c * width - (1.0 - beta) * c2) / (1.0 + beta))


# 2^(r/S), r = 0..S-1, in float64: every level is FRACTIONS[n mod S] * 2^(n div S), exact (ldexp), so
# the torch path and the native kernel (which takes this table) decode to the same bits
FRACTIONS = tuple(2.0 ** (r / LEVELS_PER_OCTAVE) for r in range(LEVELS_PER_OCTAVE))


def _level(n: torch.Tensor) -> torch.Tensor:
    """2^(n / S) in float64 for an integer tensor n (int64): FRACTIONS[n mod S] times 2^(n div S),
    the power of two built from its bits (exact; C's ldexp gives the same)."""
    q = torch.div(n, LEVELS_PER_OCTAVE, rounding_mode="floor")
    fractions = torch.tensor(FRACTIONS, dtype=torch.float64, device=n.device)
    power = ((torch.clamp(q, -1022, 1023) + 1023) << 52).view(torch.float64)
    return fractions[n - LEVELS_PER_OCTAVE * q] * power


def level_index(x: torch.Tensor) -> torch.Tensor:
    """The integer n with 2^(n/S) <= x < 2^((n+1)/S) for x > 0 (int64; 0 where x = 0): with
    x = m 2^e, m in [1, 2) (frexp), n = S e + #{r >= 1: FRACTIONS[r] <= m}. Exact: no log2."""
    positive = x > 0
    mantissa, e = torch.frexp(torch.where(positive, x, 1.0))  # x = mantissa 2^e, mantissa in [0.5, 1)
    fractions = torch.tensor(FRACTIONS, dtype=torch.float64, device=x.device)
    r = torch.bucketize(2.0 * mantissa, fractions, right=True) - 1
    n = LEVELS_PER_OCTAVE * (e.to(torch.int64) - 1) + r
    return torch.where(positive, n, 0)


def decode(codes: torch.Tensor, exponent: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """v of uint8 ``codes`` under the tensor's ``exponent`` (0 for code 0)."""
    n = exponent.to(torch.int64) + codes.to(torch.int64) - CODES
    return torch.where(codes == 0, 0.0, _level(n)).to(dtype)


def top_exponent(top: torch.Tensor) -> torch.Tensor:
    """E = ceil(S log2 top) for top > 0: the smallest integer with 2^(E/S) >= top (exact, int64)."""
    n = level_index(top.to(torch.float64).reshape(1))
    return torch.where(_level(n) < top, n + 1, n).reshape(())


def encode(v: torch.Tensor, uniform: torch.Tensor, exponent_out: torch.Tensor) -> torch.Tensor:
    """uint8 codes of ``v`` (finite, >= 0) with unbiased stochastic rounding (``uniform`` in [0, 1),
    same shape); the tensor's new exponent E = ceil(S log2 max v) is written into ``exponent_out``
    (0-dim; left as it is when v is all zero)."""
    x = v.to(torch.float64)
    top = x.max() if x.numel() else x.new_zeros(())
    if top > 0:
        exponent_out.copy_(top_exponent(top))
    n = level_index(x)
    lower, upper = _level(n), _level(n + 1)
    j = n - exponent_out.to(torch.int64) + CODES          # code of the level just below x (<= K)
    p = (x - lower) / (upper - lower)                     # in [0, 1): P(round up), unbiased in v
    codes = j + (uniform.to(torch.float64) < p).to(torch.int64)
    codes = torch.where(j >= CODES, CODES, codes)         # x = the top level (x <= 2^(E/S) always)
    codes = torch.where(j < 1, 1, codes)                  # below the range: up to code 1
    return torch.where(x > 0, codes, 0).to(torch.uint8)
