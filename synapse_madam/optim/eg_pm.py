"""EGPM: paired positive synapses w = w+ - w-, each moved by Madam's step (EG±); math in ``rule.eg_update``.

``PairedMadam`` is EGPM with log-space momentum 0.9: the rule that came closest to tuned Adam at
lr 0.01 in the issue-13 study (docs/accuracy.md)."""

from __future__ import annotations

import functools
import math

import torch

from .. import rule
from . import _elementwise as E

__all__ = ["EGPM", "PairedMadam"]


def _check(group: dict) -> None:
    E.check_common("EGPM", group["lr"], group["beta"], group["g_bound"], group["warmup"], group["total_steps"])
    E.check_real("EGPM", "offset", group["offset"], lambda x: math.isfinite(x) and x > 0, "a finite number > 0 (default 0.5)")
    E.check_real("EGPM", "p_scale", group["p_scale"], lambda x: x > 0, "> 0 (default 3; inf: no bound)")
    E.check_choice("EGPM", "normalize", group["normalize"], rule.EG_NORMALIZE)
    E.check_real("EGPM", "momentum", group["momentum"], lambda x: 0 <= x < 1, "in [0, 1) (default 0: off)")


def _foreach_step(params, grads, states, group) -> None:
    beta = group["beta"]
    vs, grads, ts = E.begin_foreach_step(grads, states, beta)
    nums = E.momentum_numerators(states, grads, ts, group["momentum"])
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


def _fused_multi_tensor_(params, wps, wms, vs, ms, grads, steps, w_maxs, lr, *, beta: float, momentum: float,
                         g_bound: float) -> None:
    """``rule.eg_update`` (normalize="none", bounded synapses, no built-in warm-up) over lists of
    tensors, written for ``torch.compile``: ``steps`` (already advanced) and ``lr`` are 0-dim
    tensors, so neither a new step nor an lr scheduler triggers a recompilation; ``ms`` is a list
    of None without momentum."""
    for p, wp, wm, v, m, g, t, w_max in zip(params, wps, wms, vs, ms, grads, steps, w_maxs):
        v.mul_(beta).addcmul_(g, g, value=1.0 - beta)
        num = g
        if momentum:
            m.mul_(momentum).add_(g, alpha=1.0 - momentum)
            num = m / (1.0 - torch.pow(momentum, t))
        denom = (v / (1.0 - torch.pow(beta, t))).clamp_min(torch.finfo(v.dtype).tiny).sqrt()
        step = lr * (num / denom).clamp(-g_bound, g_bound)
        wp.mul_(torch.exp(-step)).clamp_(max=w_max)
        wm.mul_(torch.exp(step)).clamp_(max=w_max)
        p.copy_(wp - wm)


@functools.cache
def _compiled_fused_step():
    return torch.compile(_fused_multi_tensor_)


def fused_supported(group: dict, states) -> bool:
    """The compiled path covers the plain rule: no per-neuron normalisation, no built-in warm-up,
    a bound on every synapse (p_scale finite). Other settings take the foreach path."""
    return (group["normalize"] == "none" and not group["warmup"] and not group["total_steps"]
            and all("w_max" in st for st in states))


def _fused_step(params, grads, states, group) -> None:
    from .madam_functional import _lr_tensor

    vs = [st["exp_avg_sq"] for st in states]
    grads = [g.to(v.dtype) for g, v in zip(grads, vs)]
    E.advance_steps(states)
    lr = _lr_tensor(group["lr"], params[0].device, torch.promote_types(vs[0].dtype, torch.float32))
    ms = [st.get("exp_avg") for st in states]
    _compiled_fused_step()(params, [st["w_plus"] for st in states], [st["w_minus"] for st in states], vs, ms, grads,
                           [st["step"].to(v.device) for st, v in zip(states, vs)], [st["w_max"] for st in states],
                           lr, beta=group["beta"], momentum=group["momentum"], g_bound=group["g_bound"])


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
    normalize ("none" | "neuron"), momentum (0: off), warmup, total_steps (0: off), maximize, foreach,
    fused (True: the multi-tensor step compiled by ``torch.compile`` into a few fused kernels, on
    any device, as Madam's ``fused`` on a GPU; 3.9x faster than the default foreach path on the
    CPU for ResNet-18-sized parameters, docs/optimizer_step_cpu.md; the first step compiles; for the plain rule only, see ``fused_supported``,
    other settings take the foreach path; exclusive with ``foreach=True``).
    """

    def __init__(self, params, lr=rule.DEFAULT_LR, *, offset: float = 0.5, p_scale: float = rule.DEFAULT_P_SCALE,
                 g_bound: float = rule.DEFAULT_G_BOUND, beta: float = rule.DEFAULT_BETA, normalize: str = "none",
                 momentum: float = 0.0, warmup: int = 0, total_steps: int = 0, maximize: bool = False,
                 foreach: bool | None = None, fused: bool | None = None):
        if foreach and fused:
            raise ValueError("EGPM: foreach=True and fused=True are exclusive; pick one path.")
        defaults = dict(lr=lr, offset=offset, p_scale=p_scale, g_bound=g_bound, beta=beta, normalize=normalize,
                        momentum=momentum, warmup=warmup, total_steps=total_steps, maximize=maximize, foreach=foreach,
                        fused=fused)
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

    @staticmethod
    def _foreach_step(params, grads, states, group) -> None:
        if group.get("fused") and fused_supported(group, states):
            _fused_step(params, grads, states, group)
        else:
            _foreach_step(params, grads, states, group)

    _loop_step = staticmethod(_loop_step)


class PairedMadam(EGPM):
    r"""Paired Madam: :class:`EGPM` with momentum 0.9 by default. Each connection is a pair of
    positive synapses, w = w+ - w-; each synapse takes Madam's multiplicative step
    w± <- w± exp(∓ lr g_hat), with g_hat Madam's clipped, normalised gradient computed from Adam's
    bias-corrected first moment (b1 = 0.9) of each synapse's gradient (``rule.eg_update``).

    Every synapse keeps its sign; a connection may change its own (registry:
    sign_preserving=False). Chosen in the issue-13 study (docs/accuracy.md) as the candidate closest
    to tuned Adam at lr 0.01 with nothing tuned per task; the published rule stays ``Madam``.
    Options and paths as :class:`EGPM` (foreach, fused, normalize, offset, p_scale, warmup, ...).
    """

    NAME = "PairedMadam"

    def __init__(self, params, lr=rule.DEFAULT_LR, *, momentum: float = 0.9, **kwargs):
        super().__init__(params, lr, momentum=momentum, **kwargs)
