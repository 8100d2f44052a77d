"""LogAdam: Adam (or SGD) on log-magnitudes, w = s * exp(theta) - the additive control for Madam."""

from __future__ import annotations

import math
import warnings

import torch
from torch.optim import Optimizer

from .. import rule
from ..hashnoise import hash_normal, stream_seed
from ._state import evaluate_closure, load_state_dict_keeping_dtypes
from .madam import ZeroParameterWarning

__all__ = ["LogAdam", "METHODS"]

METHODS = ("adam", "sgd")


class LogAdam(Optimizer):
    r"""An additive optimizer on log-weights: w = s * exp(theta), s = sign(w_0) fixed, theta trained.

    Madam moves ln|w| by -lr * sign(w) * g / sqrt(v_hat), the raw gradient normalised by its own
    running RMS. The textbook alternative is to reparametrise w = s * e^theta and run a standard
    additive optimizer on theta, whose gradient is dL/dtheta = w * dL/dw:

        adam: m <- b1 m + (1 - b1) g_th,  u <- b2 u + (1 - b2) g_th^2,
              theta <- theta - lr * (m / (1 - b1^t)) / (sqrt(u / (1 - b2^t)) + eps)
        sgd:  theta <- theta - lr * g_th   (optionally with momentum)

    Signs never change and |w| > 0 always, like Madam; unlike Madam the step uses momentum and
    w * dL/dw (so large weights get larger gradients), and there is no magnitude bound. That makes
    it the control that isolates what is specific to Madam (issue 11; "additive optimizer on
    log-weights"). The decoupled log-space terms of :mod:`synapse_madam.rule` act on theta after
    the step (an exact OU step towards mu = ln(set_point * RMS(W_0)))::

        theta <- mu + (theta - mu) * exp(-restore) + noise * sqrt((1 - exp(-2 restore)) / (2 restore)) * xi

    with xi = hash_normal(seed * 1000003 + position, t) as in :class:`synapse_madam.Madam`.

    Args:
        params: tensors, ``(name, tensor)`` pairs or param-group dicts.
        lr: step of theta (= ln|w|) per step; 0.01 makes Adam's steps ~1 % of |w|, as Madam's.
        method: "adam" (default) or "sgd".
        betas, eps: Adam's (default (0.9, 0.999), 1e-8).
        momentum: SGD momentum (default 0; ignored by "adam").
        restore, noise, set_point, seed: the log-space terms above (default off).

    State per parameter: ``theta`` (ln|w|, the parameter's dtype; the weights are written from it
    after every step), ``sign`` (s), ``step`` (0-dim float32), ``exp_avg``/``exp_avg_sq`` (adam) or
    ``momentum_buffer`` (sgd with momentum), ``log_set_point`` (0-dim) and ``seed`` (0-dim int64).
    """

    sign_preserving = True

    def __init__(self, params, lr: float = 0.01, *, method: str = "adam", betas=(0.9, 0.999), eps: float = 1e-8,
                 momentum: float = 0.0, restore: float = rule.DEFAULT_RESTORE, noise: float = rule.DEFAULT_NOISE,
                 set_point: float = rule.DEFAULT_SET_POINT, seed: int = 0):
        defaults = dict(lr=lr, method=method, betas=tuple(betas), eps=eps, momentum=momentum, restore=restore,
                        noise=noise, set_point=set_point, seed=seed)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group; its hyperparameters are validated."""
        super().add_param_group(param_group)
        g = self.param_groups[-1]
        rule.validate_hyperparameters(g["lr"], 0.0, 1.0, 1.0, 0.0, restore=g["restore"], noise=g["noise"],
                                      set_point=g["set_point"])
        if g["method"] not in METHODS:
            raise ValueError(f"LogAdam: method must be one of {METHODS}, got {g['method']!r}.")
        b1, b2 = g["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"LogAdam: betas must lie in [0, 1), got {g['betas']!r}.")
        if not (math.isfinite(g["eps"]) and g["eps"] >= 0):
            raise ValueError(f"LogAdam: eps must be a finite number >= 0, got {g['eps']!r}.")
        if not 0.0 <= g["momentum"] < 1.0:
            raise ValueError(f"LogAdam: momentum must lie in [0, 1), got {g['momentum']!r}.")
        if isinstance(g["seed"], bool) or not isinstance(g["seed"], int) or g["seed"] < 0:
            raise TypeError(f"LogAdam: seed must be an integer >= 0, got {g['seed']!r}.")
        for p in g["params"]:
            if not torch.is_floating_point(p):
                raise TypeError(f"LogAdam: parameters must be real floating point, got dtype {p.dtype}.")

    def _init_state(self, p, group, position: int, name: str | None) -> None:
        state = self.state[p]
        w = p.detach()
        state["sign"] = torch.sign(w)
        with torch.no_grad():
            state["theta"] = torch.log(torch.abs(w))  # -inf for exact zeros, which then stay 0
        state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
        if group["method"] == "adam":
            state["exp_avg"] = torch.zeros_like(w)
            state["exp_avg_sq"] = torch.zeros_like(w)
        state["log_set_point"] = rule.initial_log_set_point(w, group["set_point"])
        state["seed"] = torch.tensor(stream_seed(group["seed"], position), dtype=torch.int64, device=p.device)
        n_zero = int((w == 0).sum())
        if n_zero:
            warnings.warn(f"LogAdam: {name or tuple(p.shape)} holds {n_zero} exact zeros, which have no "
                          "log-magnitude and stay 0; re-initialise them (synapse_madam.reinit_zero_tensors).",
                          ZeroParameterWarning, stacklevel=4)

    def load_state_dict(self, state_dict: dict) -> None:
        """Load state (torch semantics), keeping the integer seeds as saved."""
        load_state_dict_keeping_dtypes(self, state_dict, ("seed", "log_set_point"))

    @torch.no_grad()
    def step(self, closure=None):
        """One step on theta, the optional OU step, then w <- s * exp(theta)."""
        loss = evaluate_closure(closure)
        position = 0
        for group in self.param_groups:
            names = group.get("param_names")
            decay, sd = rule.ou_coefficients(group["restore"], group["noise"])
            for i, p in enumerate(group["params"]):
                position += 1  # this parameter's position is position - 1 (0-based, as in Madam)
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LogAdam does not support sparse gradients; use a dense layer.")
                state = self.state[p]
                if not state:
                    self._init_state(p, group, position - 1, names[i] if names else None)
                theta = state["theta"]
                # dL/dtheta = dL/dw * dw/dtheta = g * w; non-finite entries count as 0 (as in rule.py)
                g = rule.sanitize_gradient(p.grad).to(theta.dtype) * (state["sign"] * torch.exp(theta))
                state["step"] += 1
                if group["method"] == "adam":
                    _adam_(theta, g, state, group)
                else:
                    _sgd_(theta, g, state, group)
                if decay != 1.0:
                    theta.sub_(state["log_set_point"]).mul_(decay).add_(state["log_set_point"])
                if sd:
                    theta.add_(hash_normal(state["seed"], state["step"], p.shape, like=p).to(theta.dtype), alpha=sd)
                p.copy_(state["sign"] * torch.exp(theta))
        return loss


def _adam_(theta, g, state, group) -> None:
    """Adam's update of theta in place (Kingma & Ba 2015), bias-corrected."""
    b1, b2 = group["betas"]
    t = state["step"].to(torch.promote_types(theta.dtype, torch.float32))
    state["exp_avg"].mul_(b1).add_(g, alpha=1.0 - b1)
    state["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1.0 - b2)
    denom = (state["exp_avg_sq"] / (1.0 - b2**t)).sqrt_().add_(group["eps"])
    if not group["eps"]:  # 0/0 -> 0, as in rule.normalized_gradient
        denom.clamp_min_(torch.finfo(denom.dtype).tiny)
    theta.addcdiv_(state["exp_avg"] / (1.0 - b1**t), denom, value=-group["lr"])


def _sgd_(theta, g, state, group) -> None:
    """SGD (with optional heavy-ball momentum) on theta in place."""
    if group["momentum"]:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = g.clone()
        else:
            buf.mul_(group["momentum"]).add_(g)
        g = buf
    theta.add_(g, alpha=-group["lr"])
