"""Optimizers by name: Madam and the torch.optim baselines it is compared with."""

from __future__ import annotations

from typing import Callable

import torch

from .fixed_point import UniformQuantized
from .lns_madam import LNSMadam
from .log_adam import LogAdam
from .madam import Madam

__all__ = ["OPTIMIZERS", "make_optimizer"]

# name -> (constructor(params, lr, **kwargs), one-line description)
OPTIMIZERS: dict[str, tuple[Callable, str]] = {
    "madam": (lambda params, lr, **kw: Madam(params, lr=lr, **kw), "Madam, multiplicative Adam (default lr 0.01; options: p_scale, g_bound, beta, eps, "
              "restore, noise, set_point, bound=hard|soft|none, seed)"),
    "sgd": (lambda params, lr, **kw: torch.optim.SGD(params, lr=lr, **kw), "plain SGD"),
    "sgd_momentum": (
        lambda params, lr, **kw: torch.optim.SGD(params, lr=lr, **{"momentum": 0.9, **kw}),
        "SGD with momentum 0.9",
    ),
    "adam": (lambda params, lr, **kw: torch.optim.Adam(params, lr=lr, **kw), "Adam"),
    "adamw": (lambda params, lr, **kw: torch.optim.AdamW(params, lr=lr, **kw), "AdamW (weight decay 0.01)"),
    "lns_madam": (
        lambda params, lr, **kw: LNSMadam(params, lr=lr, **kw),
        "LNSMadam: B-bit log-number-system weights, integer-code steps (options: bits, rounding, ..., "
        "restore, noise, set_point, bound, seed)",
    ),
    "log_adam": (
        lambda params, lr, **kw: LogAdam(params, lr=lr, **kw),
        "control: Adam on theta with w = sign(w0)*exp(theta) (options: betas, eps, restore, noise, set_point, seed)",
    ),
    "log_sgd": (
        lambda params, lr, **kw: LogAdam(params, lr=lr, **{"method": "sgd", **kw}),
        "control: SGD on theta with w = sign(w0)*exp(theta) (options: momentum, restore, noise, set_point, seed)",
    ),
    "sgd_uniform": (
        lambda params, lr, bits=8, rounding="nearest", **kw: UniformQuantized(
            torch.optim.SGD(params, lr=lr, **kw), bits, rounding=rounding),
        "baseline: SGD on B-bit uniform fixed-point weights (options: bits, rounding)",
    ),
    "adam_uniform": (
        lambda params, lr, bits=8, rounding="nearest", **kw: UniformQuantized(
            torch.optim.Adam(params, lr=lr, **kw), bits, rounding=rounding),
        "baseline: Adam on B-bit uniform fixed-point weights (options: bits, rounding)",
    ),
}


def make_optimizer(name: str, params, lr: float, **kwargs) -> torch.optim.Optimizer:
    """Build the optimizer called ``name`` (see OPTIMIZERS) over ``params`` with learning rate ``lr``."""
    key = name.lower().replace("-", "_").replace("+", "_")
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}.")
    return OPTIMIZERS[key][0](params, lr, **kwargs)
