"""EGPM: paired positive synapses w = w+ - w-, each moved by Madam's step (EG±); math in ``rule.eg_update``."""

from __future__ import annotations

import math

import torch

from .. import rule
from . import _elementwise as E

__all__ = ["EGPM"]


def _check(group: dict) -> None:
    E.check_common("EGPM", group["lr"], group["beta"], group["g_bound"], group["warmup"], group["total_steps"])
    E.check_real("EGPM", "offset", group["offset"], lambda x: math.isfinite(x) and x > 0, "a finite number > 0 (default 0.5)")
    E.check_real("EGPM", "p_scale", group["p_scale"], lambda x: x > 0, "> 0 (default 3; inf: no bound)")
    E.check_choice("EGPM", "normalize", group["normalize"], rule.EG_NORMALIZE)
    E.check_real("EGPM", "momentum", group["momentum"], lambda x: 0 <= x < 1, "in [0, 1) (default 0: off)")


def _foreach_step(params, grads, states, group) -> None:
    beta = group["beta"]
    vs, grads, ts = E.begin_foreach_step(grads, states, beta)
    nums, momentum = grads, group["momentum"]
    if momentum:
        ms = [st["exp_avg"] for st in states]
        torch._foreach_mul_(ms, momentum)
        torch._foreach_add_(ms, grads, alpha=1.0 - momentum)
        nums = torch._foreach_div(ms, [1.0 - momentum**t for t in ts])
    g_hat = E.normalized_gradients(nums, vs, ts, beta, group["g_bound"])
    etas = [group["lr"] * f for f in E.lr_factors(ts, group["warmup"], group["total_steps"])]
    down = torch._foreach_mul(g_hat, [-e for e in etas])
    up = torch._foreach_mul(g_hat, etas)
    torch._foreach_exp_(down)
    torch._foreach_exp_(up)
    wps, wms = [st["w_plus"] for st in states], [st["w_minus"] for st in states]
    torch._foreach_mul_(wps, down)
    torch._foreach_mul_(wms, up)
    for wp, wm, st in zip(wps, wms, states):
        if "target" in st:
            total = rule._per_row(wp, (wp + wm).reshape(wp.shape[0], -1).sum(dim=1))
            wp.mul_(st["target"] / total)
            wm.mul_(st["target"] / total)
        if "w_max" in st:
            wp.clamp_(max=st["w_max"])
            wm.clamp_(max=st["w_max"])
    torch._foreach_copy_(params, torch._foreach_sub(wps, wms))


def _loop_step(params, grads, states, group) -> None:
    for p, g, st in zip(params, grads, states):
        t = float(st["step"])
        f = rule.warmup_cosine(t + 1, group["warmup"], group["total_steps"])
        s = rule.EGState(st["w_plus"], st["w_minus"], st["exp_avg_sq"], t, st.get("w_max"), st.get("target"),
                         st.get("exp_avg"))
        w, s = rule.eg_update(g, s, group["lr"], group["beta"], group["g_bound"], lr_factor=f,
                              momentum=group["momentum"])
        p.copy_(w)
        st["w_plus"].copy_(s.w_plus)
        st["w_minus"].copy_(s.w_minus)
        st["exp_avg_sq"].copy_(s.v)
        if s.m is not None:
            st["exp_avg"].copy_(s.m)
        st["step"] = st["step"] + 1  # a new tensor: never shared with a loaded state_dict


class EGPM(E.ElementwiseOptimizer):
    r"""EG± (Kivinen & Warmuth, Inf. Comput. 1997) with Madam's normalised gradient: each weight is
    a pair of positive synapses, w = w+ - w- (``rule.eg_split``: w± = (|w| ± w)/2 + offset RMS(W)),
    and at every step (``rule.eg_update``)::

        v     <- beta v + (1 - beta) g^2,   g_hat = clip(g / sqrt(v_hat), -g_bound, g_bound)
        w+    <- w+ exp(-lr f(t) g_hat),    w- <- w- exp(+lr f(t) g_hat)
        (normalize="neuron": both scaled so that sum_j (w+_ij + w-_ij) keeps its initial value)
        w+, w- <- min(., w_max),  w_max = p_scale * RMS of the initial synapses;   W <- w+ - w-

    Every synapse keeps its (positive) sign forever; the connection W can change sign, so the
    registry declares sign_preserving=False for W. The parameter holds W; the synapses are the
    state ``w_plus`` / ``w_minus``, built from W at the first step.

    With ``momentum`` b1 > 0 the normalised gradient uses Adam's first moment m / (1 - b1^t)
    (Kingma & Ba 2015) in place of g: momentum of the log-space step of each synapse.

    Args: lr (0.01), offset (0.5), p_scale (3; inf: no bound), g_bound (10), beta (0.999),
    normalize ("none" | "neuron"), momentum (0: off), warmup, total_steps (0: off), maximize, foreach.
    """

    def __init__(self, params, lr=rule.DEFAULT_LR, *, offset: float = 0.5, p_scale: float = rule.DEFAULT_P_SCALE,
                 g_bound: float = rule.DEFAULT_G_BOUND, beta: float = rule.DEFAULT_BETA, normalize: str = "none",
                 momentum: float = 0.0, warmup: int = 0, total_steps: int = 0, maximize: bool = False, foreach: bool | None = None):
        defaults = dict(lr=lr, offset=offset, p_scale=p_scale, g_bound=g_bound, beta=beta, normalize=normalize,
                        momentum=momentum, warmup=warmup, total_steps=total_steps, maximize=maximize, foreach=foreach)
        super().__init__(params, defaults)

    def _check(self, group: dict) -> None:
        _check(group)

    def _state_of(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            s = rule.init_eg_state(p.detach(), group["offset"], group["p_scale"], group["normalize"], group["momentum"])
            E.fill_state(state, w_plus=s.w_plus, w_minus=s.w_minus, exp_avg_sq=s.v, exp_avg=s.m, w_max=s.w_max,
                         target=s.target)
        return state

    def magnitude_bounds(self, p):
        """None: no bound on |w| itself (the bound w_max is on each synapse w+, w-, not on w = w+ - w-)."""
        return None

    NAME = "EGPM"

    _foreach_step = staticmethod(_foreach_step)
    _loop_step = staticmethod(_loop_step)
