"""The naive low-precision baseline: uniform fixed-point weights updated additively, then rounded.

Weights live on a B-bit uniform grid ``w = q * delta``, ``q`` an integer in ``[-(2**(B-1) - 1),
2**(B-1) - 1]``, ``delta = scale / (2**(B-1) - 1)``, one ``scale`` per tensor (p_scale * initial
RMS, the same bound Madam uses). Any torch optimizer (SGD, Adam, ...) takes its usual additive
step and the weights are rounded back onto the grid. With round-to-nearest every update smaller
than delta/2 is lost — the failure that a logarithmic grid plus a multiplicative step avoids,
because there every step is a fixed fraction of the weight (Zhao et al. 2022, LNS-Madam).
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from .. import rule
from ..hashnoise import hash_uniform_keys, segment_keys, stream_seed
from ..lns import check_bits, check_rounding, hash_uniform, round_to_integer
from . import native
from ._state import WrapsInner, copy_split_

__all__ = ["uniform_grid_step", "quantize_uniform", "UniformQuantized"]


def uniform_grid_step(bits: int, scale):
    """Grid spacing delta = scale / (2**(bits-1) - 1)."""
    check_bits(bits, "uniform fixed point")
    return scale / (2 ** (bits - 1) - 1)


def quantize_uniform(w: torch.Tensor, bits: int, scale, rounding: str = "nearest", uniform=None) -> torch.Tensor:
    """w rounded onto the B-bit uniform grid of spacing scale/(2**(B-1)-1), clipped to [-scale, scale]."""
    delta = uniform_grid_step(bits, scale)
    q = torch.clamp(round_to_integer(w / delta, rounding, uniform), -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1)
    return (q * delta).to(w.dtype)


class UniformQuantized(WrapsInner):
    """Wrap ``inner`` (any torch optimizer) so that its weights stay on a B-bit uniform grid.

    ``param_groups`` are the inner optimizer's own (lr schedulers drive them as usual);
    ``state_dict`` holds the inner optimizer's state plus the per-tensor grid scales.
    ``rounding`` is "nearest" (the naive baseline, default) or "stochastic".
    """

    GRID_KEYS = ("seed",)  # grid-state tensors loaded in their saved dtypes

    def __init__(self, inner: Optimizer, bits: int = 8, *, p_scale: float = rule.DEFAULT_P_SCALE,
                 rounding: str = "nearest", seed: int = 0):
        uniform_grid_step(bits, 1.0)
        check_rounding(rounding)
        if not p_scale > 0:
            raise ValueError(f"UniformQuantized: p_scale must be > 0, got {p_scale!r}.")
        self.inner = inner
        super().__init__([p for g in inner.param_groups for p in g["params"]],
                         dict(bits=bits, p_scale=p_scale, rounding=rounding, seed=seed))
        for group in inner.param_groups:
            group.setdefault("bits", bits)
            group.setdefault("p_scale", p_scale)
            group.setdefault("rounding", rounding)
            group.setdefault("seed", seed)
        self.param_groups = inner.param_groups  # one set of hyperparameters, shared with inner
        self._quantize_all(initial=True)

    @torch.no_grad()
    def _quantize_all(self, initial: bool = False) -> None:
        """Round every weight onto its grid (to nearest at construction, then with the group's
        rounding). Float32 CPU tensors of a group go through the native kernel in one call
        (:func:`synapse_madam.optim.native.uniform_quantize_native`), the rest through
        :func:`quantize_uniform`; both give the same grid values."""
        position = 0
        for group in self.param_groups:
            fast, flat = [], []
            if not initial:
                torch._foreach_add_([self.state[p]["step"] for p in group["params"] if self.state[p]], 1.0)
            for p in group["params"]:
                position += 1
                state = self.state[p]
                if not state:
                    scale = rule.initial_w_max(p.detach(), group["p_scale"]).to(torch.float32)
                    state["scale"] = scale if scale > 0 else torch.ones((), device=p.device)
                    state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                    state["seed"] = torch.tensor(stream_seed(group["seed"], position), dtype=torch.int64)
                rounding = "nearest" if initial else group["rounding"]
                if (p.device.type == "cpu" and p.dtype == torch.float32 and p.is_contiguous()
                        and state["scale"].dtype == torch.float32 and native.available()):
                    fast.append(p)
                    continue
                if not initial and p.dtype == torch.float32:
                    flat.append(p)
                    continue
                uniform = None
                if rounding == "stochastic":
                    uniform = hash_uniform(state["seed"], state["step"], p.shape, p.device)
                p.copy_(quantize_uniform(p.detach(), group["bits"], state["scale"], rounding, uniform))
            if len(flat) == 1 or len({p.device for p in flat}) > 1:
                for p in flat:
                    state = self.state[p]
                    uniform = None
                    if group["rounding"] == "stochastic":
                        uniform = hash_uniform(state["seed"], state["step"], p.shape, p.device)
                    p.copy_(quantize_uniform(p.detach(), group["bits"], state["scale"], group["rounding"], uniform))
            elif flat:
                self._quantize_flat(flat, group)
            if fast:
                states = [self.state[p] for p in fast]
                native.uniform_quantize_native(
                    fast, [uniform_grid_step(group["bits"], s["scale"]) for s in states], [s["seed"] for s in states],
                    [s["step"] for s in states], q_max=2 ** (group["bits"] - 1) - 1,
                    stochastic=(not initial and group["rounding"] == "stochastic"))

    def _quantize_flat(self, params, group) -> None:
        """The rounding of ``params`` laid end to end (one pass, a few kernel launches; the same
        noise and grid values as tensor by tensor, :func:`synapse_madam.hashnoise.segment_keys`)."""
        states = [self.state[p] for p in params]
        sizes = [p.numel() for p in params]
        cache = self.__dict__.setdefault("_flat_cache", {})
        key = tuple(id(p) for p in params)
        if key not in cache:
            counts = torch.as_tensor(sizes, device=params[0].device)
            cache[key] = (segment_keys([s["seed"] for s in states], sizes, params[0].device), counts,
                          torch.repeat_interleave(torch.stack([s["scale"].reshape(()) for s in states]), counts,
                                                  output_size=sum(sizes)))
        keys, counts, scale = cache[key]
        uniform = None
        if group["rounding"] == "stochastic":
            step = torch.repeat_interleave(torch.stack([s["step"] for s in states]), counts, output_size=keys.numel())
            uniform = hash_uniform_keys(keys, step)
        w = quantize_uniform(torch.cat([p.detach().reshape(-1) for p in params]), group["bits"], scale,
                             group["rounding"], uniform)
        copy_split_(list(params), w)

    @torch.no_grad()
    def step(self, closure=None):
        """The inner optimizer's step, then rounding of every weight back onto the grid."""
        loss = self.inner.step(closure)
        self._quantize_all()
        return loss
