"""NeuronMadam: Madam with the issue-13 options, every sign kept (math in ``rule.neuron_madam_update``)."""

from __future__ import annotations

import torch

from .. import rule
from . import _elementwise as E

__all__ = ["NeuronMadam"]


def _check(group: dict) -> None:
    E.check_common("NeuronMadam", group["lr"], group["beta"], group["g_bound"], group["warmup"], group["total_steps"])
    E.check_real("NeuronMadam", "p_scale", group["p_scale"], lambda x: x > 0, "> 0 (default 3)")
    E.check_real("NeuronMadam", "momentum", group["momentum"], lambda x: 0 <= x < 1, "in [0, 1) (default 0: off)")
    E.check_real("NeuronMadam", "scaling_rate", group["scaling_rate"], lambda x: 0 < x <= 1, "in (0, 1] (default 1)")
    E.check_choice("NeuronMadam", "grad_norm", group["grad_norm"], rule.GRAD_NORMS)
    E.check_choice("NeuronMadam", "scaling", group["scaling"], rule.SCALINGS)
    E.check_choice("NeuronMadam", "bound", group["bound"], rule.NEURON_BOUNDS)


def _for_loop_step(params, grads, states, group) -> None:
    """One tensor at a time, through the reference rule.neuron_madam_update."""
    for p, g, st in zip(params, grads, states):
        t = float(st["step"])
        s = rule.NeuronMadamState(st["exp_avg_sq"], st.get("exp_avg"), t, st.get("w_max"), st.get("target_norm"))
        f = rule.warmup_cosine(t + 1, group["warmup"], group["total_steps"])
        w, s = rule.neuron_madam_update(p, g, s, group["lr"], group["beta"], group["g_bound"],
                                        momentum=group["momentum"], grad_norm=group["grad_norm"],
                                        scaling=group["scaling"], scaling_rate=group["scaling_rate"],
                                        bound=group["bound"], lr_factor=f)
        p.copy_(w)
        st["exp_avg_sq"].copy_(s.v)
        if s.m is not None:
            st["exp_avg"].copy_(s.m)
        st["step"] = st["step"] + 1  # a new tensor: never shared with a loaded state_dict


def _foreach_step(params, grads, states, group) -> None:
    """The same step as multi-tensor ``torch._foreach_*`` ops (per-neuron parts per tensor)."""
    beta, momentum = group["beta"], group["momentum"]
    vs, grads, ts = E.begin_foreach_step(grads, states, beta)
    nums = E.momentum_numerators(states, grads, ts, momentum)
    g_hat = E.normalized_gradients(nums, vs, ts, beta, group["g_bound"])
    lrs = [-group["lr"] * f for f in E.lr_factors(ts, group["warmup"], group["total_steps"])]
    fac = torch._foreach_sign([p if p.dtype == v.dtype else p.to(v.dtype) for p, v in zip(params, vs)])
    torch._foreach_mul_(fac, g_hat)
    torch._foreach_mul_(fac, lrs)
    torch._foreach_exp_(fac)
    torch._foreach_mul_(params, fac)
    for p, st in zip(params, states):
        if group["scaling"] == "neuron" and p.ndim >= 2:
            p.copy_(rule.homeostatic_scaling(p, st["target_norm"], group["scaling_rate"]))
        if "w_max" in st:
            w_max = st["w_max"]
            torch.clamp(p, -w_max, w_max, out=p)


class NeuronMadam(E.ElementwiseOptimizer):
    r"""Sign-preserving multiplicative Madam with per-neuron options (``rule.neuron_madam_update``).

    For each tensor W with gradient g at step t::

        v      <- beta v + (1 - beta) g^2       (grad_norm="neuron": mean over each neuron's fan-in)
        m      <- b1 m + (1 - b1) g             (momentum b1 > 0: momentum of the log-space step)
        g_hat  <- clip(m_hat / sqrt(v_hat), -g_bound, g_bound)
        W      <- W * exp(-lr * f(t) * sign(W) * g_hat)     f: rule.warmup_cosine(t, warmup, total_steps)
        W_i    <- W_i * (rho_i / ||W_i||)^scaling_rate       (scaling="neuron": synaptic scaling
                                                             to each neuron's initial norm rho_i)
        W      <- clip(W, -w_max, w_max)        (bound: "tensor" = Madam's, "neuron" = per neuron, "none")

    Every factor applied to a weight is positive: no sign ever changes (Dale's law holds by
    construction). With the defaults (momentum 0, "element", "none", "tensor", no schedule) this
    is the published Madam rule (Bernstein et al. 2020). The per-neuron normalisation and scaling
    follow Nero (Liu, Bernstein, Meister & Yue, ICML 2021) in multiplicative, sign-keeping form;
    the scaling is Turrigiano et al.'s (Nature 1998) homeostatic synaptic scaling.

    Args: lr (default 0.01), p_scale (3: bound as a multiple of the initial RMS), g_bound (10),
    beta (0.999), momentum (0: off), grad_norm ("element" | "neuron"), scaling ("none" | "neuron"),
    scaling_rate (1: full projection each step), bound ("tensor" | "neuron" | "none"), warmup and
    total_steps (built-in linear warm-up over ``warmup`` steps and cosine decay to 0 at
    ``total_steps``; 0 = off), maximize, foreach (None/True: multi-tensor ``torch._foreach_*``
    path; False: one tensor at a time through ``rule.neuron_madam_update``).

    State per parameter: ``step`` (CPU float32 0-dim), ``exp_avg_sq`` (v), ``exp_avg`` (m, with
    momentum), ``w_max`` (without bound="none") and ``target_norm`` (ndim >= 2).
    """

    def __init__(self, params, lr=rule.DEFAULT_LR, *, p_scale: float = rule.DEFAULT_P_SCALE,
                 g_bound: float = rule.DEFAULT_G_BOUND, beta: float = rule.DEFAULT_BETA, momentum: float = 0.0,
                 grad_norm: str = "element", scaling: str = "none", scaling_rate: float = 1.0,
                 bound: str = "tensor", warmup: int = 0, total_steps: int = 0, maximize: bool = False,
                 foreach: bool | None = None):
        defaults = dict(lr=lr, p_scale=p_scale, g_bound=g_bound, beta=beta, momentum=momentum, grad_norm=grad_norm,
                        scaling=scaling, scaling_rate=scaling_rate, bound=bound, warmup=warmup,
                        total_steps=total_steps, maximize=maximize, foreach=foreach)
        super().__init__(params, defaults)

    def _check(self, group: dict) -> None:
        _check(group)

    def _state_of(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            s = rule.init_neuron_madam_state(p.detach(), group["p_scale"], grad_norm=group["grad_norm"],
                                             momentum=group["momentum"], bound=group["bound"])
            E.fill_state(state, exp_avg_sq=s.v, exp_avg=s.m, w_max=s.w_max, target_norm=s.target_norm)
        return state

    NAME = "NeuronMadam"

    _foreach_step = staticmethod(_foreach_step)
    _loop_step = staticmethod(_for_loop_step)

    def magnitude_bounds(self, p):
        """(0, w_max) of ``p`` when its bound is one number (bound="tensor"); None otherwise."""
        group = next((g for g in self.param_groups if any(q is p for q in g["params"])), None)
        w_max = self.state.get(p, {}).get("w_max")
        if group is None or group["bound"] != "tensor" or w_max is None:
            return None  # a per-neuron bound is not one number (the digest takes one bound per matrix)
        return 0.0, float(w_max)
