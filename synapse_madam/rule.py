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


class MadamState(NamedTuple):
    """Per-tensor state of the rule: second moment v, step count t, magnitude bound w_max."""

    v: Array
    step: Any
    w_max: Any


def init_state(w: Array, p_scale: float = DEFAULT_P_SCALE) -> MadamState:
    """State before the first step: v = 0, t = 0, w_max = p_scale * RMS(w)."""
    if _is_torch(w):
        step = torch.zeros((), dtype=torch.float32, device=w.device)
        return MadamState(torch.zeros_like(w, dtype=state_dtype(w)), step, initial_w_max(w, p_scale))
    return MadamState(np.zeros_like(w, dtype=state_dtype(w)), 0, initial_w_max(w, p_scale))


def madam_update(
    w: Array,
    g: Array,
    state: MadamState,
    lr: float = DEFAULT_LR,
    beta: float = DEFAULT_BETA,
    g_bound: float = DEFAULT_G_BOUND,
    eps: float = 0.0,
) -> tuple[Array, MadamState]:
    """One full Madam step on one tensor: returns (new w, new state). Pure; see module doc.

    g and g_hat are computed in v's dtype (see ``state_dtype``); the new w has w's dtype.
    """
    g = _cast(sanitize_gradient(g), state.v.dtype)
    step = state.step + 1
    v = second_moment(state.v, g, beta)
    g_hat = normalized_gradient(g, v, step, beta, g_bound, eps)
    w_new = bound_magnitude(multiplicative_step(w, g_hat, lr), state.w_max)
    return _cast(w_new, w.dtype), MadamState(v, step, state.w_max)


def max_log_step(lr: float = DEFAULT_LR, g_bound: float = DEFAULT_G_BOUND) -> float:
    """Largest change of log|w| in one step: lr * g_bound (before the magnitude bound)."""
    return lr * g_bound


def validate_hyperparameters(lr, beta, g_bound, p_scale, eps=0.0) -> None:
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
    ]
    for name, value, ok, allowed in rules:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"Madam: {name} must be a real number, got {value!r} ({type(value).__name__}).")
        if not ok(float(value)):
            raise ValueError(f"Madam: invalid {name}={value!r}; {name} must be {allowed}.")
