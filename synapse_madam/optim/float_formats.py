"""Low-precision float weights: FP8 (e4m3, e5m2) and bfloat16, the modern baselines of the LNS study.

A binary float format with ``m`` mantissa bits, smallest normal exponent ``e_min`` and largest
finite value ``max`` holds, for |x| >= 2**e_min, the multiples of ulp(x) = 2**(floor(log2|x|) - m)
and below 2**e_min the subnormal multiples of 2**(e_min - m) (IEEE 754; the OCP FP8 formats of
Micikevicius et al. 2022, "FP8 formats for deep learning", arXiv:2209.05433):

==================  ===  =======  ==============
format              m    e_min    max
==================  ===  =======  ==============
float8_e4m3fn       3    -6       448
float8_e5m2         2    -14      57344
bfloat16            7    -126     3.39e38
==================  ===  =======  ==============

:func:`quantize_float` rounds onto that grid: to nearest (ties to even, what ``x.to(dtype)``
does) or stochastically, floor(|x|/ulp + u)*ulp with u ~ U[0, 1) (unbiased, like LNSMadam's
rounding), saturating at +-max (the FP8 recipes clip, e4m3fn has no infinity). Neither mode ever
flips a sign: a value rounds to one of its two neighbours on its own side of zero (or to 0).

:class:`FloatQuantized` wraps any torch optimizer so that its weights are stored in such a format,
with one rounding step per update. FP8 weights get one scale per tensor, fixed at construction:
s = p_scale * RMS(W_0) / max (the bound Madam and the uniform grid use maps to the format's
largest value; FP8 recipes scale per tensor); bfloat16 needs none (s = 1). Two recipes:

* ``master=False``: the low-precision codes *are* the weights (no master copy): each step
  w <- s * round((w + step) / s). This is Madam's recipe (Bernstein et al. 2020 train B-bit
  weights with no full-precision copy) and pure-bf16 training (Zamirai et al. 2020, "Revisiting
  BFloat16 training", arXiv:2010.06192, who round stochastically); the fair comparison at equal
  bits for LNSMadam, which has no master copy either.
* ``master=True``: Micikevicius et al. 2022's FP8 recipe (and NVIDIA Transformer Engine's): the
  optimizer updates an FP32 master copy, the forward pass uses its FP8 cast (round to nearest).
  Its persistent state holds the FP32 master, so it is not a low-bit weight format.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.optim import Optimizer

from .. import rule
from ..hashnoise import hash_uniform_keys, segment_keys, stream_seed
from ..lns import check_rounding, hash_uniform
from ._state import WrapsInner, copy_split_

__all__ = ["FloatGrid", "FLOAT_FORMATS", "float_grid", "quantize_float", "FloatQuantized"]


@dataclass(frozen=True)
class FloatGrid:
    """The representable values of a binary float format (see the module docstring)."""

    name: str
    mantissa_bits: int
    e_min: int
    max: float
    dtype: torch.dtype
    scaled: bool  # one scale per tensor maps the weight bound to ``max`` (FP8), else s = 1

    @property
    def bits(self) -> int:
        return 8 * torch.tensor([], dtype=self.dtype).element_size()


FLOAT_FORMATS = {g.name: g for g in (
    FloatGrid("float8_e4m3fn", 3, -6, 448.0, torch.float8_e4m3fn, True),
    FloatGrid("float8_e5m2", 2, -14, 57344.0, torch.float8_e5m2, True),
    FloatGrid("bfloat16", 7, -126, float(torch.finfo(torch.bfloat16).max), torch.bfloat16, False),
)}


def float_grid(name: str) -> FloatGrid:
    """The grid called ``name`` (one of FLOAT_FORMATS); ValueError listing them otherwise."""
    if name not in FLOAT_FORMATS:
        raise ValueError(f"float format {name!r} unknown; choose one of: {', '.join(FLOAT_FORMATS)}.")
    return FLOAT_FORMATS[name]


def quantize_float(x: torch.Tensor, grid: FloatGrid, rounding: str = "nearest", uniform=None) -> torch.Tensor:
    """``x`` (float32) rounded onto ``grid``'s values, saturating at +-grid.max (float32 result)."""
    check_rounding(rounding)
    x = x.to(torch.float32)
    if rounding == "nearest":
        return torch.clamp(x, -grid.max, grid.max).to(grid.dtype).to(torch.float32)
    if uniform is None:
        raise ValueError("quantize_float: stochastic rounding needs `uniform` noise in [0, 1) of x's shape.")
    a = x.abs()
    # floor(log2|x|) exactly (frexp: |x| = f * 2**e, f in [0.5, 1)), floored at e_min: subnormals
    # share the smallest normal spacing
    e = torch.clamp(torch.frexp(a).exponent - 1, min=grid.e_min)
    ulp = torch.exp2((e - grid.mantissa_bits).to(torch.float32))
    mag = torch.clamp(torch.floor(a / ulp + uniform) * ulp, max=grid.max)
    return torch.copysign(mag, x)


class FloatQuantized(WrapsInner):
    """Wrap ``inner`` (any torch optimizer) so that its weights are stored in ``format``.

    ``format``: "float8_e4m3fn", "float8_e5m2" or "bfloat16"; ``rounding``: "stochastic"
    (default) or "nearest"; ``master``: keep an FP32 master copy (see the module docstring for
    which published recipe uses which). State per parameter: ``codes`` (the weights in
    ``format``'s torch dtype), ``scale`` (0-dim float32), ``step``, ``seed`` and, with a master,
    ``master`` (float32). The parameter tensors are the decoded s * codes, a cache for the
    forward pass. Noise for stochastic rounding is a hash of (seed, step, index): runs are
    deterministic under a seed and resume exactly.
    """

    GRID_KEYS = ("seed", "codes", "master")  # grid-state tensors loaded in their saved dtypes

    weight_state_keys = ("codes", "scale", "master")

    def __init__(self, inner: Optimizer, format: str = "float8_e4m3fn", *, master: bool = False,
                 rounding: str = "stochastic", p_scale: float = rule.DEFAULT_P_SCALE, seed: int = 0):
        float_grid(format)
        check_rounding(rounding)
        if not isinstance(master, bool):
            raise TypeError(f"FloatQuantized: master must be true or false, got {master!r}.")
        if not p_scale > 0:
            raise ValueError(f"FloatQuantized: p_scale must be > 0, got {p_scale!r}.")
        self.inner = inner
        super().__init__([p for g in inner.param_groups for p in g["params"]],
                         dict(format=format, master=master, rounding=rounding, p_scale=p_scale, seed=seed))
        for group in inner.param_groups:
            for key, value in (("format", format), ("master", master), ("rounding", rounding),
                               ("p_scale", p_scale), ("seed", seed)):
                group.setdefault(key, value)
        self.param_groups = inner.param_groups
        self._store_all(initial=True)

    @torch.no_grad()
    def _store_all(self, initial: bool = False) -> None:
        """Round every weight into the format (to nearest at construction, then with the group's
        rounding), keep the codes, write the decoded weights back into the parameters. After
        construction a group's tensors are rounded laid end to end (:meth:`_store_flat`: the same
        noise and values as tensor by tensor, a few kernel launches instead of a few per tensor)."""
        position = 0
        for group in self.param_groups:
            grid = float_grid(group["format"])
            params = []
            for p in group["params"]:
                position += 1
                state = self.state[p]
                if not state:
                    w_max = rule.initial_w_max(p.detach(), group["p_scale"]).to(torch.float32)
                    scale = w_max / grid.max if grid.scaled and w_max > 0 else torch.ones((), device=p.device)
                    state["scale"] = scale.to(device=p.device, dtype=torch.float32)
                    state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                    state["seed"] = torch.tensor(stream_seed(group["seed"], position), dtype=torch.int64)
                    if group["master"]:
                        state["master"] = p.detach().to(torch.float32).clone()
                params.append(p)
            if not initial:
                torch._foreach_add_([self.state[p]["step"] for p in params], 1.0)
                if len({p.device for p in params}) == 1 and len(params) >= 2:
                    self._store_flat(params, grid, group)
                    continue
            for p in params:
                state = self.state[p]
                source = state["master"] if group["master"] else p.detach()
                rounding = "nearest" if (initial or group["master"]) else group["rounding"]
                uniform = None
                if rounding == "stochastic":
                    uniform = hash_uniform(state["seed"], state["step"], p.shape, p.device)
                q = quantize_float(source.to(torch.float32) / state["scale"], grid, rounding, uniform)
                state["codes"] = q.to(grid.dtype)
                p.copy_((q * state["scale"]).to(p.dtype))

    def _store_flat(self, params, grid: FloatGrid, group: dict) -> None:
        states = [self.state[p] for p in params]
        sizes = [p.numel() for p in params]
        cache = self.__dict__.setdefault("_flat_cache", {})
        key = tuple(id(p) for p in params)
        device = params[0].device
        if key not in cache:
            counts = torch.as_tensor(sizes, device=device)
            cache[key] = (segment_keys([s["seed"] for s in states], sizes, device), counts,
                          torch.repeat_interleave(torch.stack([s["scale"].reshape(()) for s in states]), counts,
                                                  output_size=sum(sizes)))
        keys, counts, scale = cache[key]
        sources = [s["master"] for s in states] if group["master"] else [p.detach() for p in params]
        x = torch.cat([t.reshape(-1).to(torch.float32) for t in sources]) / scale
        rounding = "nearest" if group["master"] else group["rounding"]
        uniform = None
        if rounding == "stochastic":
            step = torch.repeat_interleave(torch.stack([s["step"] for s in states]), counts, output_size=keys.numel())
            uniform = hash_uniform_keys(keys, step)
        q = quantize_float(x, grid, rounding, uniform)
        for s, c, p in zip(states, q.to(grid.dtype).split(sizes), params):  # views: no copy, no launch
            s["codes"] = c.view_as(p)
        copy_split_(list(params), q * scale)

    @torch.no_grad()
    def step(self, closure=None):
        """The inner optimizer's step (on the master copy where there is one), then one rounding."""
        swapped = [p for group in self.param_groups if group["master"] for p in group["params"]
                   if "master" in self.state[p]]
        for p in swapped:
            p.copy_(self.state[p]["master"])
        loss = self.inner.step(closure)
        for p in swapped:
            self.state[p]["master"].copy_(p)
        self._store_all()
        return loss

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    st = self.state[p]
                    if "codes" in st:
                        p.copy_((st["codes"].to(torch.float32) * st["scale"]).to(p.dtype))
