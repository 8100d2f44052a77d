"""Shared pieces of the issue-13 optimizers (NeuronMadam, Nero, EGPM): their base class (the
torch plumbing of ``step`` and ``load_state_dict``), hyperparameter checks, group iteration, the lr
schedule and the multi-tensor normalised gradient.

Each optimizer keeps torch.optim conventions (param groups with their own hyperparameters,
``state_dict`` round trips, ``closure``); its math is in :mod:`synapse_madam.rule`, and every
path here is tested against it. ``step`` is a float32 0-dim tensor on the CPU (as torch's Adam
keeps it without ``capturable``), so bias corrections and schedules never sync a GPU.
"""

from __future__ import annotations

import math

import torch
from torch.optim import Optimizer

from .. import rule
from ._state import evaluate_closure


class ElementwiseOptimizer(Optimizer):
    """The torch plumbing the three share: ``step`` hands each group's (params, grads, states)
    to the subclass's multi-tensor ``_foreach_step`` or its one-tensor-at-a-time ``_loop_step``
    (``foreach=False``); every group's hyperparameters pass the subclass's ``_check`` (at
    construction and in ``add_param_group``); ``load_state_dict`` copies. A subclass sets ``NAME``
    (for error messages) and may override ``_state_of`` (lazily created state)."""

    NAME = "optimizer"

    def __init__(self, params, defaults: dict):
        self._check(defaults)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        self._check(self.param_groups[-1])
        check_params(self.NAME, self.param_groups[-1])

    def _check(self, group: dict) -> None:
        raise NotImplementedError

    def _state_of(self, p, group) -> dict:
        return self.state[p]

    def _foreach_step(self, params, grads, states, group) -> None:
        raise NotImplementedError

    def _loop_step(self, params, grads, states, group) -> None:
        raise NotImplementedError

    def load_state_dict(self, state_dict: dict) -> None:
        """torch semantics; the loaded state is a copy, never the saved tensors themselves."""
        load_state_dict_copying(self, state_dict)

    @torch.no_grad()
    def step(self, closure=None):
        """One step over every group; ``closure`` re-evaluates the model and returns the loss."""
        loss = evaluate_closure(closure)
        for group in self.param_groups:
            params, grads = grads_of(self.NAME, group, group["maximize"])
            if not params:
                continue
            states = [self._state_of(p, group) for p in params]
            if use_foreach(group):
                self._foreach_step(params, grads, states, group)
            else:
                self._loop_step(params, grads, states, group)
        return loss


def check_common(name: str, lr, beta: float, g_bound: float, warmup, total_steps) -> None:
    """ValueError/TypeError naming the first invalid shared hyperparameter."""
    rule.validate_hyperparameters(lr, beta, g_bound, rule.DEFAULT_P_SCALE)
    for key, val in (("warmup", warmup), ("total_steps", total_steps)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 0:
            raise ValueError(f"{name}: {key} must be an integer >= 0 (0: off), got {val!r}.")


def check_choice(name: str, key: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: invalid {key}={value!r}; {key} must be one of {allowed}.")


def check_real(name: str, key: str, value, ok, allowed: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: {key} must be a real number, got {value!r}.")
    if not ok(float(value)):
        raise ValueError(f"{name}: invalid {key}={value!r}; {key} must be {allowed}.")


def check_params(name: str, group: dict) -> None:
    for p in group["params"]:
        if torch.is_complex(p) or not torch.is_floating_point(p):
            raise TypeError(f"{name}: parameters must be real floating point, got dtype {p.dtype}.")


def grads_of(name: str, group: dict, maximize: bool):
    """(params with a gradient, their sanitised gradients, negated when maximising)."""
    params, grads = [], []
    for p in group["params"]:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            raise RuntimeError(f"{name} does not support sparse gradients; use a dense layer.")
        params.append(p)
        g = rule.sanitize_gradient(p.grad)
        grads.append(-g if maximize else g)
    return params, grads


def lr_factors(steps, warmup: int, total: int) -> list[float]:
    """rule.warmup_cosine at each tensor's (already incremented) step."""
    return [rule.warmup_cosine(float(t), warmup, total) for t in steps]


def normalized_gradients(nums, vs, ts, beta: float, g_bound: float):
    """g_hat = clip(n / sqrt(max(v / (1 - beta^t), tiny)), -g_bound, g_bound) over lists, with v
    per element or per neuron (broadcast), as rule.normalized_gradient."""
    denom = torch._foreach_div(vs, [1.0 - beta**t for t in ts])
    torch._foreach_clamp_min_(denom, [rule._tiny(d) for d in denom])
    torch._foreach_sqrt_(denom)
    denom = [d if d.shape == n.shape else d.expand_as(n) for d, n in zip(denom, nums)]
    g_hat = torch._foreach_div(nums, denom)
    if math.isfinite(g_bound):
        torch._foreach_clamp_min_(g_hat, -g_bound)
        torch._foreach_clamp_max_(g_hat, g_bound)
    return g_hat


def second_moments_(vs, grads, beta: float, per_neuron_sum: bool = False) -> None:
    """v <- beta v + (1 - beta) s in place, s = g^2 (v shaped like g), or the per-neuron mean of
    g^2 (v of shape (rows, 1, ...)), or its sum when ``per_neuron_sum`` (Nero's ||g_i||^2)."""
    sq = []
    for v, g in zip(vs, grads):
        if v.shape == g.shape:
            sq.append(g * g)
        else:
            s = rule.neuron_mean_square(g)
            sq.append(s * g[0].numel() if per_neuron_sum else s)
    torch._foreach_mul_(vs, beta)
    torch._foreach_add_(vs, sq, alpha=1.0 - beta)


def use_foreach(group: dict) -> bool:
    """The multi-tensor path (which also hosts a compiled ``fused`` step where an optimizer has one)."""
    return group["foreach"] is not False or bool(group.get("fused"))


def load_state_dict_copying(optimizer, state_dict: dict) -> None:
    """torch's ``Optimizer.load_state_dict``, then every state tensor copied (torch may hand back
    the saved tensors themselves, and the in-place updates would then also change the saved
    state); ``step`` stays a CPU float32 tensor."""
    torch.optim.Optimizer.load_state_dict(optimizer, state_dict)
    for state in optimizer.state.values():
        for key, value in state.items():
            if torch.is_tensor(value):
                state[key] = value.to(device="cpu", dtype=torch.float32, copy=True) if key == "step" else value.clone()


def fill_state(state: dict, **entries) -> dict:
    """A new parameter's state: ``step`` (CPU float32 0, as torch's Adam keeps it) and every entry
    that is not None (optional moments and bounds are left out, not stored as None)."""
    state["step"] = torch.zeros((), dtype=torch.float32)
    state.update((k, v) for k, v in entries.items() if v is not None)
    return state


def begin_foreach_step(grads, states, beta: float, per_neuron_sum: bool = False):
    """The opening of every multi-tensor step: gradients cast to the moments' dtype, ``step``
    advanced (a new tensor, never shared with a loaded state_dict) and the second moments updated.
    Returns (vs, grads, ts)."""
    vs = [st["exp_avg_sq"] for st in states]
    grads = [g.to(v.dtype) for g, v in zip(grads, vs)]
    advance_steps(states)
    ts = [float(st["step"]) for st in states]
    second_moments_(vs, grads, beta, per_neuron_sum=per_neuron_sum)
    return vs, grads, ts


def advance_steps(states) -> None:
    """``step`` + 1 in every state, as a new tensor (never shared with a loaded state_dict)."""
    for st in states:
        st["step"] = st["step"] + 1


def momentum_numerators(states, grads, ts, momentum: float):
    """The numerator of the normalised gradient: g itself without momentum; with momentum b1 > 0,
    Adam's first moment m <- b1 m + (1 - b1) g (updated in place in each state's ``exp_avg``)
    and its bias-corrected m / (1 - b1^t) (Kingma & Ba 2015), as rule.eg_update /
    rule.neuron_madam_update."""
    if not momentum:
        return grads
    ms = [st["exp_avg"] for st in states]
    torch._foreach_mul_(ms, momentum)
    torch._foreach_add_(ms, grads, alpha=1.0 - momentum)
    return torch._foreach_div(ms, [1.0 - momentum**t for t in ts])
