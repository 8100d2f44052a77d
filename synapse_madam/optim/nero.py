"""Nero (Liu, Bernstein, Meister & Yue, ICML 2021), the per-neuron baseline; math in ``rule.nero_update``."""

from __future__ import annotations

import torch

from .. import rule
from . import _elementwise as E

__all__ = ["Nero"]


def _foreach_step(params, grads, states, group) -> None:
    beta = group["beta"]
    vs, grads, ts = E.begin_foreach_step(grads, states, beta, per_neuron_sum=True)
    g_hat = E.normalized_gradients(grads, vs, ts, beta, float("inf"))
    f = E.lr_factors(ts, group["warmup"], group["total_steps"])
    torch._foreach_mul_(g_hat, [-group["lr"] * fi * st["scale"] for fi, st in zip(f, states)])
    torch._foreach_add_(params, g_hat)
    for p in params:
        if p.ndim >= 2:
            p.copy_(rule.nero_project(p))


def _loop_step(params, grads, states, group) -> None:
    for p, g, st in zip(params, grads, states):
        t = float(st["step"])
        f = rule.warmup_cosine(t + 1, group["warmup"], group["total_steps"])
        w, s = rule.nero_update(p, g, rule.NeroState(st["exp_avg_sq"], t, st["scale"]), group["lr"],
                                group["beta"], lr_factor=f)
        p.copy_(w)
        st["exp_avg_sq"].copy_(s.v)
        st["step"] = st["step"] + 1  # a new tensor: never shared with a loaded state_dict


class Nero(E.ElementwiseOptimizer):
    r"""Nero, "Learning by Turning: Neural Architecture Aware Optimisation" (arXiv:2102.07227),
    implemented from the paper's equations (``rule.nero_update``). A neuron is a row of a tensor
    with ndim >= 2::

        at construction:  W_i <- (W_i - mean W_i) / ||W_i - mean W_i||         (the constraint set)
        v_i   <- beta v_i + (1 - beta) ||g_i||^2
        W_i   <- W_i - lr * f(t) * scale * g_i / sqrt(v_i / (1 - beta^t))
        W_i   <- (W_i - mean W_i) / ||W_i - mean W_i||                          (re-projection)

    scale is the mean neuron norm (1) for ndim >= 2; 1-D tensors (biases) take per-element v, no
    projection and scale = their initial mean |b| (0.01 if 0). f(t) = rule.warmup_cosine(t, warmup,
    total_steps) (1 by default). **Nero does not keep signs**: the step is additive and the
    centring moves every weight. It is a baseline for accuracy, not a sign-constrained learner
    (``registry``: sign_preserving=False). The constructor projects the weights in place.

    Args: lr (0.01), beta (0.999), warmup, total_steps (0: off), maximize, foreach (None/True:
    ``torch._foreach_*`` path; False: one tensor at a time through ``rule.nero_update``).
    """

    def __init__(self, params, lr=rule.DEFAULT_LR, *, beta: float = rule.DEFAULT_BETA, warmup: int = 0,
                 total_steps: int = 0, maximize: bool = False, foreach: bool | None = None):
        defaults = dict(lr=lr, beta=beta, warmup=warmup, total_steps=total_steps, maximize=maximize, foreach=foreach)
        super().__init__(params, defaults)

    def _check(self, group: dict) -> None:
        E.check_common("Nero", group["lr"], group["beta"], 1.0, group["warmup"], group["total_steps"])

    def add_param_group(self, param_group: dict) -> None:
        """Checked as every group is; then the weights are projected onto Nero's constraint set."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        with torch.no_grad():
            for p in group["params"]:
                p.copy_(rule.nero_project(p))
                s = rule.init_nero_state(p.detach())
                E.fill_state(self.state[p], exp_avg_sq=s.v, scale=s.scale)

    def magnitude_bounds(self, p):
        """None: no bound on |w| itself."""
        return None

    NAME = "Nero"

    _foreach_step = staticmethod(_foreach_step)
    _loop_step = staticmethod(_loop_step)
