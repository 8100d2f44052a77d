"""The Madam rule as pure functions on arrays: the single source of truth for the math.

Madam (Bernstein, Zhao, Meister, Liu, Anandkumar, Yue, "Learning compositional functions via
multiplicative weight updates", NeurIPS 2020, arXiv:2006.14560) updates every weight w of a tensor W with
gradient g at step t = 1, 2, ... as

    v_t   = beta * v_{t-1} + (1 - beta) * g^2                       (second moment, v_0 = 0)
    v_hat = v_t / (1 - beta^t)                                       (bias correction)
    g_hat = clip(g / sqrt(v_hat), -g_bound, g_bound),  0/0 -> 0      (normalised gradient)
    w    <- w * exp(-eta * sign(w) * g_hat)                          (multiplicative step)
    w    <- clip(w, -w_max, w_max),  w_max = p_scale * RMS(W_1)      (magnitude bound)

so log|w| moves by -eta * sign(w) * g_hat, at most eta * g_bound per step, and sign(w) never
changes. Defaults are the published ones: eta = 0.01, beta = 0.999, g_bound = 10, p_scale = 3.

Opt-in terms (all off by default, so the defaults are the published rule exactly). With
x = ln|w| and mu = ln(set_point * RMS(W_1)) the per-tensor log-space set point:

    x <- x - eta * sign(w) * g_hat * s(w)                          (Madam step; s = 1, or the soft bound)
    x <- mu + (x - mu) * exp(-theta) + noise * sqrt((1 - exp(-2 theta)) / (2 theta)) * xi
                                                                     (log-space homeostasis + fluctuation)
    w <- sign(w) * exp(x), then the bound                          (hard: clip at w_max; soft/none: no clip)

* **Log-space homeostasis** (restoring rate theta = ``restore`` per step): ln|w| relaxes towards mu.
  It is multiplicative synaptic scaling (Turrigiano et al., Nature 1998: one factor for all of a
  neuron's synapses is a common shift of ln w), and the proximal step of a log-normal prior on |w|.
* **Multiplicative fluctuations** (amplitude ``noise`` per sqrt(step), xi ~ N(0, 1)): Langevin
  dynamics in ln|w|, i.e. spine-size fluctuations proportional to size (Loewenstein, Kuras &
  Rumpel, J Neurosci 2011; the Kesten process of Statman et al., PLoS Comput Biol 2014).
* Together they are the exact discretisation of the Ornstein-Uhlenbeck process
  dx = -theta (x - mu) dt + noise dW: with zero gradient ln|w| is stationary N(mu, noise^2 / (2 theta)),
  so |w| is log-normal with sigma = noise / sqrt(2 theta) (``stationary_log_moments``).
  theta = 0 leaves a pure random walk of ln|w| (x += noise * xi).
* **Soft bound** (``bound="soft"``): a potentiating step (one that grows |w|) is scaled by
  s(w) = max(0, 1 - |w| / w_max), the multiplicative weight dependence of van Rossum, Bi &
  Turrigiano (J Neurosci 2000) and Guetig et al. (J Neurosci 2003, mu = 1) written in log space;
  depressing steps are unscaled and nothing is clipped. ``bound="none"`` removes the bound.

The noise xi is passed in, so every function stays pure; ``synapse_madam.hashnoise.hash_normal``
makes it a function of (seed, step), which numpy and torch share and which resumes exactly.

Every function accepts numpy arrays or torch tensors (never a mix) and returns the same kind,
so the torch optimizer, the rate networks and the spiking models are all tested against this
file. Nothing here mutates its inputs.

Details beyond the paper's text, chosen to keep the published numbers unchanged:
* 0/0 -> 0 is implemented by flooring v_hat at the smallest normal number of its dtype. For any
  v_hat that is a normal number this is bit-identical to the published "NaN -> 0" mapping, and no
  NaN can arise, also in float16/bfloat16.
* Non-finite gradient entries (NaN, +-inf) are treated as 0: they neither enter v nor move w.
  (In the published code one NaN gradient poisons v forever and freezes that weight.)
* ``eps`` (default 0, as published) is an opt-in Adam-style term: g_hat = g / (sqrt(v_hat) + eps).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ._arrays import is_torch as _is_torch

try:  # torch is a dependency, but the rule itself only needs numpy
    import torch
except ImportError:  # pragma: no cover
    torch = None

DEFAULT_LR = 0.01
DEFAULT_BETA = 0.999
DEFAULT_G_BOUND = 10.0
DEFAULT_P_SCALE = 3.0
DEFAULT_RESTORE = 0.0  # theta: off (published rule)
DEFAULT_NOISE = 0.0  # fluctuation amplitude of ln|w| per sqrt(step): off
DEFAULT_SET_POINT = 1.0  # mu = ln(set_point * RMS(W_1))
DEFAULT_BOUND = "hard"  # the published clip at w_max
BOUNDS = ("hard", "soft", "none")

Array = Any  # numpy.ndarray or torch.Tensor


def _tiny(x) -> float:
    """Smallest positive normal number of x's floating dtype."""
    return float(torch.finfo(x.dtype).tiny) if _is_torch(x) else float(np.finfo(x.dtype).tiny)


def _bias_correction(beta: float, step, like):
    """1 - beta^t, as a scalar (numpy) or a 0-dim tensor in at least float32 (torch)."""
    if _is_torch(like):
        dtype = torch.promote_types(like.dtype, torch.float32)
        t = step.to(dtype) if _is_torch(step) else torch.tensor(float(step), dtype=dtype)
        return (1.0 - beta**t).to(like.dtype)
    return like.dtype.type(1.0 - beta ** float(step))


def state_dtype(w: Array):
    """dtype of the second moment v for weights w: float32 for float16 weights (g^2 overflows
    float16 above |g| = 256, which would freeze the weight), otherwise w's own dtype."""
    if _is_torch(w):
        return torch.float32 if w.dtype == torch.float16 else w.dtype
    return np.dtype(np.float32) if w.dtype == np.float16 else w.dtype


def _cast(x: Array, dtype) -> Array:
    if _is_torch(x):
        return x if x.dtype == dtype else x.to(dtype)
    return x if x.dtype == dtype else x.astype(dtype)


def sanitize_gradient(g: Array) -> Array:
    """g with every non-finite entry (NaN, +-inf) replaced by 0."""
    if _is_torch(g):
        return torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
    return np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)


def second_moment(v: Array, g: Array, beta: float = DEFAULT_BETA) -> Array:
    """Exponential moving average of the squared gradient: beta*v + (1-beta)*g^2."""
    return beta * v + (1.0 - beta) * (g * g)


def normalized_gradient(
    g: Array,
    v: Array,
    step,
    beta: float = DEFAULT_BETA,
    g_bound: float = DEFAULT_G_BOUND,
    eps: float = 0.0,
) -> Array:
    """g_hat = clip(g / (sqrt(v / (1 - beta^step)) + eps), -g_bound, g_bound), with 0/0 -> 0.

    ``v`` is the second moment *after* this step's update and ``step`` counts from 1.
    """
    v_hat = v / _bias_correction(beta, step, v)
    if _is_torch(g):
        denom = torch.sqrt(torch.clamp(v_hat, min=_tiny(v_hat)))
        return torch.clamp(g / (denom + eps) if eps else g / denom, -g_bound, g_bound)
    denom = np.sqrt(np.maximum(v_hat, _tiny(v_hat)))
    return np.clip(g / (denom + eps) if eps else g / denom, -g_bound, g_bound)


def multiplicative_step(w: Array, g_hat: Array, lr: float = DEFAULT_LR) -> Array:
    """w * exp(-lr * sign(w) * g_hat): log|w| moves by -lr*sign(w)*g_hat, the sign is kept.

    Weights that are exactly 0 stay 0 (sign(0) = 0).
    """
    if _is_torch(w):
        return w * torch.exp(-lr * torch.sign(w) * g_hat)
    return w * np.exp(-lr * np.sign(w) * g_hat)


def initial_w_max(w: Array, p_scale: float = DEFAULT_P_SCALE) -> Array:
    """w_max = p_scale * RMS(W) of the whole tensor, computed in at least float32.

    Returns a 0-dim tensor (torch) or a scalar (numpy) of w's dtype. An all-zero W gives 0.
    """
    if _is_torch(w):
        acc = torch.promote_types(w.dtype, torch.float32)
        rms = torch.sqrt(torch.mean(w.to(acc) ** 2)) if w.numel() else torch.zeros((), dtype=acc)
        return (p_scale * rms).to(w.dtype)
    acc = np.promote_types(w.dtype, np.float32)
    rms = np.sqrt(np.mean(w.astype(acc) ** 2)) if w.size else acc.type(0.0)
    return w.dtype.type(p_scale * rms)


def bound_magnitude(w: Array, w_max) -> Array:
    """clip(w, -w_max, w_max): |w| <= w_max, sign kept."""
    if _is_torch(w):
        return torch.clamp(w, -w_max, w_max)
    return np.clip(w, -w_max, w_max)


def initial_log_set_point(w: Array, set_point: float = DEFAULT_SET_POINT) -> Array:
    """mu = ln(set_point * RMS(W)) of the whole tensor, in at least float32 (0-dim tensor or scalar).

    Keyed on the RMS, like w_max, so initialisations of one RMS but different shapes (uniform,
    constant magnitude, log-normal) share a set point. An all-zero W gives -inf (nothing moves).
    """
    if _is_torch(w):
        acc = torch.promote_types(w.dtype, torch.float32)
        rms = torch.sqrt(torch.mean(w.to(acc) ** 2)) if w.numel() else torch.zeros((), dtype=acc)
        return torch.log(set_point * rms)
    acc = np.promote_types(w.dtype, np.float32)
    rms = np.sqrt(np.mean(w.astype(acc) ** 2)) if w.size else acc.type(0.0)
    with np.errstate(divide="ignore"):
        return np.log(acc.type(set_point) * rms)


def soft_bound_factor(w: Array, g_hat: Array, w_max) -> Array:
    """s(w) = max(0, 1 - |w|/w_max) for steps that grow |w| (sign(w) * g_hat < 0), else 1."""
    if _is_torch(w):
        grows = torch.sign(w) * g_hat < 0
        return torch.where(grows, torch.clamp(1.0 - torch.abs(w) / w_max, min=0.0), torch.ones_like(g_hat))
    grows = np.sign(w) * g_hat < 0
    return np.where(grows, np.maximum(1.0 - np.abs(w) / w_max, 0.0), 1.0)


def ou_coefficients(restore: float, noise: float) -> tuple[float, float]:
    """(decay, sd) of one exact OU step in ln|w|: decay = exp(-theta), sd = noise*sqrt((1-decay^2)/(2 theta)).

    theta -> 0 gives (1, noise): a random walk. Scalars, so callers can precompute them.
    """
    if restore == 0.0:
        return 1.0, float(noise)
    decay = math.exp(-restore)
    return decay, float(noise) * math.sqrt(-math.expm1(-2.0 * restore) / (2.0 * restore))


def log_space_relaxation(w: Array, log_set_point, restore: float = DEFAULT_RESTORE,
                         noise: float = DEFAULT_NOISE, xi: Array | None = None) -> Array:
    """One exact Ornstein-Uhlenbeck step of x = ln|w| towards mu = ``log_set_point``; sign kept.

        x <- mu + (x - mu) * exp(-theta) + noise * sqrt((1 - exp(-2 theta)) / (2 theta)) * xi

    ``xi`` (standard normal, w's shape) is needed when noise > 0. Exact zeros stay 0.
    """
    decay, sd = ou_coefficients(restore, noise)
    if decay == 1.0 and sd == 0.0:
        return w
    if sd and xi is None:
        raise ValueError("log_space_relaxation: noise > 0 needs xi (standard normal noise of w's shape).")
    if _is_torch(w):
        acc = torch.promote_types(w.dtype, torch.float32)
        x = torch.log(torch.abs(w.to(acc)))
        x = log_set_point + (x - log_set_point) * decay if decay != 1.0 else x
        if sd:
            x = x + sd * xi.to(acc)
        return (torch.sign(w) * torch.exp(x)).to(w.dtype)
    acc = np.promote_types(w.dtype, np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(np.abs(w.astype(acc)))
        x = log_set_point + (x - log_set_point) * decay if decay != 1.0 else x
        if sd:
            x = x + sd * xi
        return (np.sign(w) * np.exp(x)).astype(w.dtype)


def stationary_log_moments(log_set_point: float, restore: float, noise: float) -> tuple[float, float]:
    """(mean, variance) of ln|w| in the stationary state of the OU terms with zero gradient:
    (mu, noise^2 / (2 theta)). Needs theta > 0 (with theta = 0 there is no stationary state)."""
    if not restore > 0:
        raise ValueError("stationary_log_moments: restore (theta) must be > 0 for a stationary state.")
    return float(log_set_point), float(noise) ** 2 / (2.0 * float(restore))


class MadamState(NamedTuple):
    """Per-tensor state of the rule: second moment v, step count t, magnitude bound w_max, and the
    log-space set point mu = ln(set_point * RMS(W_1)) (used only when restore > 0)."""

    v: Array
    step: Any
    w_max: Any
    log_set_point: Any = None


def init_state(w: Array, p_scale: float = DEFAULT_P_SCALE, set_point: float = DEFAULT_SET_POINT) -> MadamState:
    """State before the first step: v = 0, t = 0, w_max = p_scale * RMS(w), mu = ln(set_point * RMS(w))."""
    mu = initial_log_set_point(w, set_point)
    if _is_torch(w):
        step = torch.zeros((), dtype=torch.float32, device=w.device)
        return MadamState(torch.zeros_like(w, dtype=state_dtype(w)), step, initial_w_max(w, p_scale), mu)
    return MadamState(np.zeros_like(w, dtype=state_dtype(w)), 0, initial_w_max(w, p_scale), mu)


def madam_update(
    w: Array,
    g: Array,
    state: MadamState,
    lr: float = DEFAULT_LR,
    beta: float = DEFAULT_BETA,
    g_bound: float = DEFAULT_G_BOUND,
    eps: float = 0.0,
    *,
    restore: float = DEFAULT_RESTORE,
    noise: float = DEFAULT_NOISE,
    bound: str = DEFAULT_BOUND,
    xi: Array | None = None,
) -> tuple[Array, MadamState]:
    """One full Madam step on one tensor: returns (new w, new state). Pure; see module doc.

    With restore = noise = 0 and bound = "hard" this is the published rule, bit for bit. ``xi``
    (standard normal, w's shape) is required when noise > 0; pass
    ``hashnoise.hash_normal(seed, step, w.shape, like=w)`` with step the new step count to get the
    noise the optimizers draw.
    g and g_hat are computed in v's dtype (see ``state_dtype``); the new w has w's dtype.
    """
    g = _cast(sanitize_gradient(g), state.v.dtype)
    step = state.step + 1
    v = second_moment(state.v, g, beta)
    g_hat = normalized_gradient(g, v, step, beta, g_bound, eps)
    if bound == "soft":
        g_hat = g_hat * soft_bound_factor(_cast(w, g_hat.dtype), g_hat, state.w_max)
    w_new = multiplicative_step(w, g_hat, lr)
    if restore or noise:
        mu = state.log_set_point
        if mu is None:
            raise ValueError("madam_update: restore/noise need state.log_set_point; build the state with init_state.")
        w_new = log_space_relaxation(_cast(w_new, g_hat.dtype), mu, restore, noise, xi)
    if bound == "hard":
        w_new = bound_magnitude(w_new, state.w_max)
    return _cast(w_new, w.dtype), MadamState(v, step, state.w_max, state.log_set_point)


def max_log_step(lr: float = DEFAULT_LR, g_bound: float = DEFAULT_G_BOUND) -> float:
    """Largest change of log|w| in one step: lr * g_bound (before the magnitude bound)."""
    return lr * g_bound


def validate_hyperparameters(lr, beta, g_bound, p_scale, eps=0.0, *, restore=DEFAULT_RESTORE,
                             noise=DEFAULT_NOISE, set_point=DEFAULT_SET_POINT, bound=DEFAULT_BOUND) -> None:
    """Raise ValueError/TypeError naming the first invalid hyperparameter and its allowed range."""
    if _is_torch(lr):
        if lr.numel() != 1:
            raise ValueError(f"Madam: lr must be a number or a 1-element tensor, got shape {tuple(lr.shape)}.")
        lr = float(lr.detach().cpu())
    rules = [
        ("lr", lr, lambda x: math.isfinite(x) and x > 0, "a finite number > 0 (default 0.01)"),
        ("beta", beta, lambda x: 0.0 <= x < 1.0, "in [0, 1) (default 0.999)"),
        ("g_bound", g_bound, lambda x: math.isfinite(x) and x > 0, "a finite number > 0 (default 10)"),
        ("p_scale", p_scale, lambda x: x > 0, "> 0 (default 3; float('inf') disables the bound)"),
        ("eps", eps, lambda x: math.isfinite(x) and x >= 0, ">= 0 (default 0, as published)"),
        ("restore", restore, lambda x: math.isfinite(x) and x >= 0,
         ">= 0, the log-space restoring rate per step (default 0: off)"),
        ("noise", noise, lambda x: math.isfinite(x) and x >= 0,
         ">= 0, the ln|w| fluctuation per sqrt(step) (default 0: off)"),
        ("set_point", set_point, lambda x: math.isfinite(x) and x > 0,
         "a finite number > 0, the |w| set point as a multiple of the initial RMS (default 1)"),
    ]
    for name, value, ok, allowed in rules:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"Madam: {name} must be a real number, got {value!r} ({type(value).__name__}).")
        if not ok(float(value)):
            raise ValueError(f"Madam: invalid {name}={value!r}; {name} must be {allowed}.")
    if bound not in BOUNDS:
        raise ValueError(f"Madam: invalid bound={bound!r}; bound must be one of {BOUNDS} (default 'hard').")


# ------------------------------------------------------------------------------------------------
# Candidates for closing the accuracy gap at lr 0.01 (issue 13). Pure functions, numpy or torch,
# like everything above; the optimizers in synapse_madam.optim.{neuron_madam,nero,eg_pm} are tested
# against them. A "neuron" is one row of a weight tensor with ndim > 1 (its fan-in, flattened:
# a Linear layer's output unit, a conv layer's output channel); 1-D tensors (biases, norm gains)
# have no neurons and get the per-element / per-tensor form.

GRAD_NORMS = ("element", "neuron")
SCALINGS = ("none", "neuron")
NEURON_BOUNDS = ("tensor", "neuron", "none")
EG_NORMALIZE = ("none", "neuron")


def warmup_cosine(step, warmup: int = 0, total: int = 0) -> float:
    """lr factor at optimizer step t = 1, 2, ...: linear warm-up, then cosine decay to 0.

        f(t) = min(1, t / warmup) * (1 + cos(pi * p)) / 2,   p = clip((t - warmup) / (total - warmup), 0, 1)

    (Goyal et al. 2017 warm-up; Loshchilov & Hutter 2017 cosine decay.) warmup = 0: no warm-up;
    total = 0: no decay (the factor stays 1 after the warm-up).
    """
    t = float(step)
    warm = min(1.0, t / warmup) if warmup > 0 else 1.0
    if total <= 0:
        return warm
    prog = min(max((t - warmup) / max(total - warmup, 1), 0.0), 1.0)
    return warm * 0.5 * (1.0 + math.cos(math.pi * prog))


def _per_row(x: Array, values: Array) -> Array:
    """``values`` (one per row of x) reshaped to broadcast against x: shape (rows, 1, ..., 1)."""
    return values.reshape((x.shape[0],) + (1,) * (x.ndim - 1))


def neuron_mean_square(x: Array) -> Array:
    """Mean of x^2 over each neuron's fan-in, shape (rows, 1, ..., 1); x^2 itself for ndim < 2."""
    if x.ndim < 2:
        return x * x
    r = x.reshape(x.shape[0], -1)
    return _per_row(x, (r * r).mean(dim=1) if _is_torch(x) else (r * r).mean(axis=1))


def neuron_norm(x: Array) -> Array:
    """Euclidean norm of each neuron's weight vector, shape (rows, 1, ..., 1) (ndim >= 2)."""
    r = x.reshape(x.shape[0], -1)
    if _is_torch(x):
        return _per_row(x, torch.sqrt((r * r).sum(dim=1)))
    return _per_row(x, np.sqrt((r * r).sum(axis=1)))


def homeostatic_scaling(w: Array, target_norm: Array, rate: float = 1.0) -> Array:
    """Multiplicative synaptic scaling of every neuron towards the norm ``target_norm``:

        w_i <- w_i * (rho_i / ||w_i||)^rate,   i.e.   ln|w_ij| <- ln|w_ij| - rate * (ln||w_i|| - ln rho_i)

    one positive factor per neuron (Turrigiano, Leslie, Desai, Rutherford & Nelson, Nature 1998:
    all of a neuron's synapses scale by one factor), so every sign is kept. rate = 1 puts each
    neuron back on the sphere ||w_i|| = rho_i, the normalisation Nero uses (Liu et al. 2021) minus
    Nero's centring, which would flip signs. A neuron of norm 0 is left alone. ndim < 2: unchanged.
    """
    if w.ndim < 2:
        return w
    norm = neuron_norm(w)
    if _is_torch(w):
        safe = torch.where(norm > 0, norm, torch.ones_like(norm))
        factor = torch.where(norm > 0, (target_norm / safe) ** rate, torch.ones_like(norm))
    else:
        safe = np.where(norm > 0, norm, 1.0)
        factor = np.where(norm > 0, (target_norm / safe) ** rate, 1.0)
    return w * factor


def initial_neuron_w_max(w: Array, p_scale: float = DEFAULT_P_SCALE) -> Array:
    """Per-neuron magnitude bound p_scale * RMS(w_i) (shape (rows, 1, ..., 1)); per tensor for ndim < 2."""
    if w.ndim < 2:
        return initial_w_max(w, p_scale)
    return p_scale * neuron_mean_square(w) ** 0.5


class NeuronMadamState(NamedTuple):
    """State of :func:`neuron_madam_update`: second moment ``v`` (per element, or per neuron with
    grad_norm="neuron"), log-space momentum ``m`` (None without momentum), ``step``, the bound
    ``w_max`` (per tensor, per neuron, or None) and each neuron's set-point norm ``target_norm``
    (its initial norm; None for ndim < 2)."""

    v: Array
    m: Any
    step: Any
    w_max: Any
    target_norm: Any


def init_neuron_madam_state(w: Array, p_scale: float = DEFAULT_P_SCALE, *, grad_norm: str = "element",
                            momentum: float = 0.0, bound: str = "tensor") -> NeuronMadamState:
    """State before the first step (v = 0, m = 0, t = 0; bounds and set points from w now)."""
    dt = state_dtype(w)
    per_neuron = grad_norm == "neuron" and w.ndim >= 2
    if _is_torch(w):
        shape = (w.shape[0],) + (1,) * (w.ndim - 1) if per_neuron else w.shape
        v = torch.zeros(shape, dtype=dt, device=w.device)
        m = torch.zeros_like(w, dtype=dt) if momentum else None
    else:
        shape = (w.shape[0],) + (1,) * (w.ndim - 1) if per_neuron else w.shape
        v = np.zeros(shape, dtype=dt)
        m = np.zeros_like(w, dtype=dt) if momentum else None
    w_max = {"tensor": lambda: initial_w_max(w, p_scale), "neuron": lambda: initial_neuron_w_max(w, p_scale),
             "none": lambda: None}[bound]()
    target = neuron_norm(w) if w.ndim >= 2 else None
    return NeuronMadamState(v, m, 0, w_max, target)


def neuron_madam_update(w: Array, g: Array, state: NeuronMadamState, lr: float = DEFAULT_LR,
                        beta: float = DEFAULT_BETA, g_bound: float = DEFAULT_G_BOUND, *,
                        momentum: float = 0.0, grad_norm: str = "element", scaling: str = "none",
                        scaling_rate: float = 1.0, bound: str = "tensor", lr_factor: float = 1.0):
    """One sign-preserving Madam step with the issue-13 options; returns (new w, new state).

        v     <- beta v + (1 - beta) g^2            (grad_norm="element": Madam)
        v_i   <- beta v_i + (1 - beta) mean_j g_ij^2 (grad_norm="neuron": one second moment per
                                                     neuron, Nero's normalisation, Liu et al. 2021)
        m     <- b1 m + (1 - b1) g,  n = m / (1 - b1^t)   (momentum b1 > 0: Adam's first moment,
                                                     Kingma & Ba 2015, driving the log-space step)
        g_hat  = clip(n / sqrt(v / (1 - beta^t)), -g_bound, g_bound)   (n = g without momentum)
        w     <- w exp(-lr * lr_factor * sign(w) g_hat)              (Madam's multiplicative step)
        w_i   <- w_i (rho_i / ||w_i||)^scaling_rate                  (scaling="neuron": homeostatic
                                                     synaptic scaling to the initial norm rho_i)
        w     <- clip(w, -w_max, w_max)    (bound: "tensor" = Madam's p_scale RMS(W_1); "neuron" =
                                            p_scale RMS(w_i,1) per neuron; "none")

    ``lr_factor`` carries a schedule (:func:`warmup_cosine`). Every factor applied to w is positive,
    so no sign ever changes. Defaults (b1 = 0, "element", "none", "tensor") are Madam exactly.
    """
    g = _cast(sanitize_gradient(g), state.v.dtype)
    step = state.step + 1
    sq = neuron_mean_square(g) if (grad_norm == "neuron" and w.ndim >= 2) else g * g
    v = beta * state.v + (1.0 - beta) * sq
    m = state.m
    num = g
    if momentum:
        m = momentum * m + (1.0 - momentum) * g
        num = m / _bias_correction(momentum, step, m)
    g_hat = normalized_gradient(num, v, step, beta, g_bound)
    w_new = multiplicative_step(w, g_hat, lr * lr_factor)
    if scaling == "neuron":
        w_new = homeostatic_scaling(w_new, state.target_norm, scaling_rate)
    if bound != "none":
        w_new = bound_magnitude(w_new, state.w_max)
    return _cast(w_new, w.dtype), NeuronMadamState(v, m, step, state.w_max, state.target_norm)


class NeroState(NamedTuple):
    """State of :func:`nero_update`: second moment ``v`` (per neuron for ndim >= 2, per element
    otherwise), ``step`` and the step ``scale``."""

    v: Array
    step: Any
    scale: Any


def nero_project(w: Array) -> Array:
    """Nero's constraint set (Liu, Bernstein, Meister & Yue, "Learning by Turning: Neural
    Architecture Aware Optimisation", ICML 2021, arXiv:2102.07227): each neuron centred and of
    unit norm, w_i <- (w_i - mean(w_i)) / ||w_i - mean(w_i)||. ndim < 2: unchanged; a neuron of
    zero spread is only centred."""
    if w.ndim < 2:
        return w
    r = w.reshape(w.shape[0], -1)
    if _is_torch(w):
        r = r - r.mean(dim=1, keepdim=True)
        n = torch.sqrt((r * r).sum(dim=1, keepdim=True))
        r = r / torch.where(n > 0, n, torch.ones_like(n))
    else:
        r = r - r.mean(axis=1, keepdims=True)
        n = np.sqrt((r * r).sum(axis=1, keepdims=True))
        r = r / np.where(n > 0, n, 1.0)
    return r.reshape(w.shape)


def init_nero_state(w: Array) -> NeroState:
    """v = 0, t = 0 and Nero's scale: the mean neuron norm (ndim >= 2; 1 once projected) or the
    mean |w| of a 1-D tensor (0.01 when that is 0). ``w`` is the (projected) initial tensor."""
    if w.ndim >= 2:
        scale = float(neuron_norm(w).mean())
        shape = (w.shape[0],) + (1,) * (w.ndim - 1)
    else:
        scale = float(abs(w).mean()) if (w.numel() if _is_torch(w) else w.size) else 0.0
        shape = w.shape
    scale = scale if scale > 0 else 0.01
    if _is_torch(w):
        return NeroState(torch.zeros(shape, dtype=state_dtype(w), device=w.device), 0, scale)
    return NeroState(np.zeros(shape, dtype=state_dtype(w)), 0, scale)


def nero_update(w: Array, g: Array, state: NeroState, lr: float = DEFAULT_LR, beta: float = DEFAULT_BETA,
                lr_factor: float = 1.0):
    """One Nero step (Liu et al. 2021, Algorithm 1), returns (new w, new state):

        v_i  <- beta v_i + (1 - beta) ||g_i||^2          (per neuron; per element for ndim < 2)
        w_i  <- w_i - lr * scale * g_i / sqrt(v_i / (1 - beta^t))   (0/0 -> 0, no eps)
        w_i  <- (w_i - mean w_i) / ||w_i - mean w_i||     (re-projection, ndim >= 2 only)

    Each neuron turns by an angle of about lr per step. The step is additive and the projection
    centres each neuron, so **signs are not kept**: Nero is the accuracy baseline, not a candidate
    for sign-constrained (Dale's law) networks.
    """
    g = _cast(sanitize_gradient(g), state.v.dtype)
    step = state.step + 1
    if w.ndim >= 2:
        sq = neuron_mean_square(g) * (g.reshape(g.shape[0], -1).shape[1])
    else:
        sq = g * g
    v = beta * state.v + (1.0 - beta) * sq
    g_hat = normalized_gradient(g, v, step, beta, math.inf)
    w_new = nero_project(w - (lr * lr_factor * state.scale) * g_hat)
    return _cast(w_new, w.dtype), NeroState(v, step, state.scale)


class EGState(NamedTuple):
    """State of :func:`eg_update`: the two positive synapses ``w_plus``, ``w_minus`` (w = w+ - w-),
    the second moment ``v``, ``step``, the bound ``w_max`` on each synapse (None: none) and the
    per-neuron total ``target`` = sum_j (w+_ij + w-_ij) at the start (None unless normalised)."""

    w_plus: Array
    w_minus: Array
    v: Array
    step: Any
    w_max: Any
    target: Any
    m: Any = None


def eg_split(w: Array, offset: float = 0.5) -> tuple[Array, Array]:
    """Split signed weights into two positive synapses with w+ - w- = w:

        w+ = (|w| + w) / 2 + c,   w- = (|w| - w) / 2 + c,   c = offset * RMS(W)

    so both are >= c > 0 (for a tensor with RMS > 0) and w+ + w- = |w| + 2c."""
    c = offset * initial_w_max(w, 1.0)
    a = abs(w)
    return (a + w) / 2 + c, (a - w) / 2 + c


def init_eg_state(w: Array, offset: float = 0.5, p_scale: float = DEFAULT_P_SCALE,
                  normalize: str = "none", momentum: float = 0.0) -> EGState:
    """EG± state before the first step; w_max = p_scale * RMS of the initial synapses (both halves)."""
    wp, wm = eg_split(w, offset)
    if _is_torch(w):
        v = torch.zeros_like(w, dtype=state_dtype(w))
        both = torch.cat([wp.reshape(-1), wm.reshape(-1)])
    else:
        v = np.zeros_like(w, dtype=state_dtype(w))
        both = np.concatenate([wp.ravel(), wm.ravel()])
    w_max = initial_w_max(both, p_scale) if math.isfinite(p_scale) else None
    target = None
    if normalize == "neuron" and w.ndim >= 2:
        s = (wp + wm).reshape(w.shape[0], -1)
        target = _per_row(w, s.sum(dim=1) if _is_torch(w) else s.sum(axis=1))
    m = (torch.zeros_like(v) if _is_torch(w) else np.zeros_like(v)) if momentum else None
    return EGState(wp, wm, v, 0, w_max, target, m)


def eg_update(g: Array, state: EGState, lr: float = DEFAULT_LR, beta: float = DEFAULT_BETA,
              g_bound: float = DEFAULT_G_BOUND, lr_factor: float = 1.0, momentum: float = 0.0):
    """One EG± step (Kivinen & Warmuth, "Exponentiated gradient versus gradient descent for linear
    predictors", Inf. Comput. 132(1), 1997) with Madam's normalised gradient; returns (w, state).

        v    <- beta v + (1 - beta) g^2,   g_hat = clip(n / sqrt(v / (1 - beta^t)), +-g_bound)
               n = g, or with momentum b1 > 0: m <- b1 m + (1 - b1) g, n = m / (1 - b1^t)
        w+   <- w+ exp(-lr g_hat),   w- <- w- exp(+lr g_hat)     (dL/dw+ = g, dL/dw- = -g)
        w+_i, w-_i <- * U_i / sum_j (w+_ij + w-_ij)              (normalize="neuron": EG±'s
                                                                   normalisation, per neuron)
        w+, w- <- clip(., 0, w_max);   w = w+ - w-

    Each synapse w+, w- is positive forever (every factor is positive) and moves by Madam's
    multiplicative step; the connection w = w+ - w- can change its sign. The effective step is
    about -lr g_hat (w+ + w-) = -lr g_hat (|w| + 2c): small weights still move.
    """
    g = _cast(sanitize_gradient(g), state.v.dtype)
    step = state.step + 1
    v = second_moment(state.v, g, beta)
    m, num = state.m, g
    if momentum:
        m = momentum * m + (1.0 - momentum) * g
        num = m / _bias_correction(momentum, step, m)
    g_hat = normalized_gradient(num, v, step, beta, g_bound)
    eta = lr * lr_factor
    wp = multiplicative_step(state.w_plus, g_hat, eta)
    wm = multiplicative_step(state.w_minus, -g_hat, eta)
    if state.target is not None:
        s = (wp + wm).reshape(wp.shape[0], -1)
        total = _per_row(wp, s.sum(dim=1) if _is_torch(wp) else s.sum(axis=1))
        wp, wm = wp * (state.target / total), wm * (state.target / total)
    if state.w_max is not None:
        wp, wm = bound_magnitude(wp, state.w_max), bound_magnitude(wm, state.w_max)
    return wp - wm, EGState(wp, wm, v, step, state.w_max, state.target, m)
