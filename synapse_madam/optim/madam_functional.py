"""Implementations of one Madam step over a list of tensors, all equal to ``synapse_madam.rule``.

``madam`` is the functional entry point (as torch.optim's functional ``adam``) and, through
``choose_path``, the one place that decides which implementation runs:

* ``native`` (:mod:`.native`): a C kernel doing the whole published step in one pass over
  memory; the CPU default.
* ``madam_foreach``: the rule as in-place ``torch._foreach_*`` multi-tensor ops (few kernel
  launches on GPU), written op by op in the order ``rule.madam_update`` uses; the CUDA default.
* ``madam_for_loop``: the same in-place ops, one tensor at a time.
* ``madam_fused``: ``madam_foreach`` compiled by ``torch.compile`` (``fused=True`` on a GPU).

The implementations expect the tensors of one device and one dtype (``madam`` groups them).
Every path updates ``params``, ``exp_avg_sqs`` and ``steps`` in place and never writes ``.grad``.
"""

from __future__ import annotations

import functools

import torch
from torch.utils._foreach_utils import _group_tensors_by_device_and_dtype

from .. import rule
from ..hashnoise import hash_normal
from . import native

__all__ = ["madam", "choose_path", "madam_for_loop", "madam_foreach", "madam_fused"]


def _madam_tensor_(p, g, v, step, w_max, lr, beta, g_bound, eps, maximize):
    """Apply rule.madam_update to one tensor in place."""
    if maximize:
        g = -g
    w_new, state = rule.madam_update(p, g, rule.MadamState(v, step, w_max), lr, beta, g_bound, eps)
    p.copy_(w_new)
    v.copy_(state.v)
    step.copy_(state.step)


def madam_for_loop(params, grads, exp_avg_sqs, steps, w_maxs, *, lr, beta, g_bound, eps, maximize,
                   terms=None):
    """Single-tensor path: the in-place ops of ``madam_foreach`` applied to one tensor at a time
    (each tensor's passes stay in cache; on CPU this beats one op over all tensors)."""
    for i, tensors in enumerate(zip(params, grads, exp_avg_sqs, steps, w_maxs)):
        one_terms = None if terms is None else terms.select(i)
        madam_foreach(*([t] for t in tensors), lr=lr, beta=beta, g_bound=g_bound, eps=eps, maximize=maximize,
                      terms=one_terms)


class Terms:
    """The opt-in terms of ``rule.madam_update`` for a list of tensors: restoring rate ``restore``
    (theta), fluctuation amplitude ``noise``, ``bound`` ("hard", "soft", "none"), and per tensor the
    log-space set point (0-dim tensors ``log_set_points``) and noise seed (0-dim int64 ``seeds``)."""

    def __init__(self, restore, noise, bound, log_set_points, seeds):
        self.restore, self.noise, self.bound = float(restore), float(noise), bound
        self.log_set_points, self.seeds = log_set_points, seeds

    @property
    def published(self) -> bool:
        """True when the terms are off: the published rule (the original in-place ops)."""
        return self.restore == 0.0 and self.noise == 0.0 and self.bound == "hard"

    def select(self, i: int) -> "Terms":
        return Terms(self.restore, self.noise, self.bound, [self.log_set_points[i]], [self.seeds[i]])


def _apply_terms(params, g_hat, factor, steps, w_maxs, terms: Terms, dtype):
    """The multiplicative step, then the log-space OU step and the bound, op for op as
    ``rule.madam_update`` with terms on: the soft bound scales g_hat, w is stepped in v's dtype,
    relaxed in ln|w| towards mu with noise hash_normal(seed, step), clipped only if bound="hard"."""
    if terms.bound == "soft":
        # g_hat <- g_hat * rule.soft_bound_factor(w in g_hat's dtype, g_hat, w_max)
        g_hat = [g * rule.soft_bound_factor(p.to(dtype), g, w_max) for p, g, w_max in zip(params, g_hat, w_maxs)]
    # factor <- exp(-lr * sign(w) * g_hat), computed as in madam_foreach
    torch._foreach_mul_(factor, g_hat)
    torch._foreach_exp_(factor)
    w_new = torch._foreach_mul([p.to(dtype) for p in params] if params[0].dtype != dtype else params, factor)
    decay, sd = rule.ou_coefficients(terms.restore, terms.noise)
    if decay != 1.0 or sd:
        acc = torch.promote_types(dtype, torch.float32)
        w_acc = [w.to(acc) for w in w_new] if acc != dtype else w_new
        x = torch._foreach_abs(w_acc)
        torch._foreach_log_(x)
        if decay != 1.0:  # x <- mu + (x - mu) * exp(-theta)
            torch._foreach_sub_(x, terms.log_set_points)
            torch._foreach_mul_(x, decay)
            torch._foreach_add_(x, terms.log_set_points)
        if sd:  # x <- x + sd * xi, xi = hash_normal(seed, step)
            xi = [hash_normal(seed, step, p.shape, like=p).to(acc) for seed, step, p in zip(terms.seeds, steps, params)]
            torch._foreach_mul_(xi, sd)
            torch._foreach_add_(x, xi)
        torch._foreach_exp_(x)
        signs = torch._foreach_sign(w_acc)
        torch._foreach_mul_(x, signs)
        w_new = [w.to(dtype) for w in x] if acc != dtype else x
    if terms.bound == "hard":
        torch._foreach_clamp_max_(w_new, w_maxs)
        torch._foreach_clamp_min_(w_new, torch._foreach_neg(w_maxs))
    torch._foreach_copy_(params, w_new)


def madam_foreach(params, grads, exp_avg_sqs, steps, w_maxs, *, lr, beta, g_bound, eps, maximize, terms=None):
    """Multi-tensor path: the rule as ``torch._foreach_*`` ops (tensors of one device/dtype).

    ``terms`` (a :class:`Terms`, or None for the published rule) adds the opt-in terms of
    ``rule.madam_update``: restore, noise, soft/no bound."""
    if not params:
        return
    # g <- g with non-finite entries zeroed, in v's dtype (a new list: .grad is never written)
    dtype = exp_avg_sqs[0].dtype
    grads = [torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0) for g in grads]
    if grads[0].dtype != dtype:
        grads = [g.to(dtype) for g in grads]
    if maximize:
        torch._foreach_neg_(grads)
    torch._foreach_add_(steps, 1.0)
    # v <- beta*v + (1-beta)*g^2
    torch._foreach_mul_(exp_avg_sqs, beta)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1.0 - beta)
    # v_hat <- v / (1 - beta^t), floored at the smallest normal number (0/0 -> 0)
    pow_dtype = torch.promote_types(dtype, torch.float32)  # as rule._bias_correction
    bias_corrections = torch._foreach_pow(beta, steps if pow_dtype == torch.float32 else [s.to(pow_dtype) for s in steps])
    torch._foreach_neg_(bias_corrections)
    torch._foreach_add_(bias_corrections, 1.0)
    if dtype != pow_dtype:
        bias_corrections = [b.to(dtype) for b in bias_corrections]
    denom = torch._foreach_div(exp_avg_sqs, bias_corrections)
    torch._foreach_clamp_min_(denom, torch.finfo(dtype).tiny)
    torch._foreach_sqrt_(denom)
    if eps:
        torch._foreach_add_(denom, eps)
    # g_hat <- clip(g / sqrt(v_hat), -g_bound, g_bound)
    g_hat = torch._foreach_div(grads, denom)
    torch._foreach_clamp_min_(g_hat, -g_bound)
    torch._foreach_clamp_max_(g_hat, g_bound)
    # w <- clip(w * exp(-lr*sign(w)*g_hat), -w_max, w_max)
    factor = torch._foreach_sign(params)
    if params[0].dtype != dtype:  # float16 weights: compute the factor in v's float32
        factor = [f.to(dtype) for f in factor]
    torch._foreach_mul_(factor, -lr)  # lr: a float or a 0-dim tensor (compiled path)
    if terms is not None and not terms.published:
        _apply_terms(params, g_hat, factor, steps, w_maxs, terms, dtype)
        return
    torch._foreach_mul_(factor, g_hat)
    torch._foreach_exp_(factor)
    torch._foreach_mul_(params, factor)
    torch._foreach_clamp_max_(params, w_maxs)
    torch._foreach_clamp_min_(params, torch._foreach_neg(w_maxs))


@functools.cache
def _compiled_multi_tensor_step():
    return torch.compile(madam_foreach)


_LR_TENSORS: dict = {}


def _lr_tensor(lr, device, dtype) -> torch.Tensor:
    """lr as a 0-dim tensor on ``device``, reused across steps and refilled in place (no host-to-
    device copy that would synchronise a GPU each step, no recompilation when lr changes)."""
    if isinstance(lr, torch.Tensor):
        return lr.to(device=device, dtype=dtype)
    t = _LR_TENSORS.get((device, dtype))
    if t is None:
        t = _LR_TENSORS[(device, dtype)] = torch.empty((), device=device, dtype=dtype)
    return t.fill_(lr)


def madam_fused(params, grads, exp_avg_sqs, steps, w_maxs, *, lr, beta, g_bound, eps, maximize):
    """Compiled path (the GPU's single-pass option): ``madam_foreach`` compiled by ``torch.compile``
    as one graph per group of tensors; inductor fuses the foreach ops into a few horizontally
    fused kernels (few launches: what a GPU needs). Compiled once per set of shapes; lr is passed
    as a tensor so that an lr scheduler never triggers a recompilation. On the CPU the native
    kernel (:mod:`.native`) is the single-pass path instead."""
    if not params:
        return
    device, dtype = params[0].device, exp_avg_sqs[0].dtype
    lr_t = _lr_tensor(lr, device, torch.promote_types(dtype, torch.float32))
    _compiled_multi_tensor_step()(params, grads, exp_avg_sqs, steps, w_maxs, lr=lr_t, beta=beta,
                                  g_bound=g_bound, eps=eps, maximize=maximize)


def choose_path(device: torch.device, *, foreach: bool | None, fused: bool | None, terms_on: bool,
                compiling: bool = False) -> str:
    """The one place that picks how a Madam step runs: "native", "fused", "foreach" or "for_loop".

    * a log-space term on: "foreach" if asked for (or None on CUDA), else "for_loop" (the native
      and compiled kernels are the published rule only);
    * ``foreach=True``: "foreach"; ``foreach=False``: "for_loop";
    * ``fused=True``: "native" on the CPU, "fused" (torch.compile) elsewhere;
    * neither given (the default): "foreach" on CUDA and while torch.compile traces the step (the
      native kernel is opaque to it), "native" on the CPU: one pass over memory, measured at
      0.3-0.4x Adam(foreach)'s step time (docs/optimizer_step_cpu.md).
    "native" falls back to "for_loop" per tensor where the kernel is unavailable or unsupported.
    """
    if terms_on:
        return "foreach" if foreach or (foreach is None and device.type == "cuda") else "for_loop"
    if foreach is not None and not fused:
        return "foreach" if foreach else "for_loop"
    if fused:
        return "native" if device.type == "cpu" else "fused"
    if device.type == "cuda" or compiling:
        return "foreach"
    return "native" if device.type == "cpu" else "for_loop"


def madam(params, grads, exp_avg_sqs, steps, w_maxs, *, lr, beta, g_bound, eps=0.0, maximize=False,
          foreach: bool | None = None, fused: bool | None = None, terms: Terms | None = None) -> None:
    """Functional Madam (as ``torch.optim.adam.adam`` is to ``Adam``): one step over lists of tensors.

    ``params`` are updated in place, ``exp_avg_sqs`` (v) likewise, ``steps`` (0-dim float32
    tensors) are incremented, ``w_maxs`` are the 0-dim magnitude bounds (``rule.initial_w_max``);
    ``grads`` are never written. ``terms`` (a :class:`Terms`) adds the opt-in log-space terms.
    The path follows :func:`choose_path`; every path computes ``rule.madam_update``.
    """
    if not params:
        return
    terms_on = terms is not None and not terms.published
    compiling = torch.compiler.is_compiling()
    hyper = dict(lr=lr, beta=beta, g_bound=g_bound, eps=eps, maximize=maximize)
    grouped = _group_tensors_by_device_and_dtype([params, grads, exp_avg_sqs, steps, w_maxs], with_indices=True)
    for (device, _dtype), (tensors, indices) in grouped.items():
        one_terms = None if not terms_on else Terms(terms.restore, terms.noise, terms.bound,
                                                     [terms.log_set_points[i] for i in indices],
                                                     [terms.seeds[i] for i in indices])
        path = choose_path(device, foreach=foreach, fused=fused, terms_on=terms_on, compiling=compiling)
        if path == "native" and native.available():
            ok = [native.supports(p, g, v) for p, g, v in zip(*tensors[:3])]
            native.madam_native(*([t for t, k in zip(ts, ok) if k] for ts in tensors), **hyper)
            rest = [[t for t, k in zip(ts, ok) if not k] for ts in tensors]
            madam_for_loop(*rest, **hyper)
        elif path == "fused":
            madam_fused(*tensors, **hyper)
        elif path == "foreach":
            madam_foreach(*tensors, **hyper, terms=one_terms)
        else:
            madam_for_loop(*tensors, **hyper, terms=one_terms)
