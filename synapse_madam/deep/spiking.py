"""Spiking nets trained by surrogate gradients: LIF layers unrolled over T time steps.

A discrete-time leaky integrate-and-fire (LIF) neuron with membrane v, input current I,
decay ``beta`` = exp(-dt / tau_mem) and threshold theta::

    v[t] = beta * (v[t-1] - theta * s[t-1]) + I[t]       (reset by subtraction, then leak)
    s[t] = H(v[t] - theta)                                (H: Heaviside step, a spike)

H has derivative zero almost everywhere, so back-propagation through time sees no gradient. The
surrogate-gradient method (Neftci, Mostafa & Zenke, IEEE Signal Process. Mag. 2019; Zenke &
Ganguli, Neural Comput. 2018, "SuperSpike") keeps H in the forward pass and replaces dH/dx in
the backward pass by a smooth pseudo-derivative. Here it is the fast-sigmoid derivative::

    dH/dx  ~  h(x) = 1 / (1 + k |x|)^2,        x = v - theta,  k = ``slope``

which is the exact derivative of f(x) = x / (1 + k |x|) (for x > 0, f' = ((1 + kx) - kx) /
(1 + kx)^2; for x < 0 likewise with -x), peaks at 1 on the threshold and falls off as
1/(k x)^2. The reset term uses the spike's value but, by default, no gradient through it
(``detach_reset``; Zenke & Vogels, Neural Comput. 2021, found this helps).

Input over T = ``steps`` time steps (the images are standardised by the data loader; each
image is first mapped back to [0, 1] by its own min and max, which undoes any affine
standardisation):

* ``encoding="rate"``: each pixel is a Bernoulli spike train with p = its intensity per step
  (a Poisson-like rate code; drawn from torch's global RNG, which the trainer saves and
  restores, so resume stays exact);
* ``encoding="current"``: the intensity is injected as a constant current every step.

Readout: ``"membrane"``, a non-spiking leaky integrator (same beta) whose time-averaged
membrane potential are the logits; or ``"count"``, the output LIF layer's spike counts.

Dale's law (``dale=True``): every presynaptic unit (input pixel or hidden neuron) is
excitatory or inhibitory, drawn at init with P(E) = ``exc_fraction`` (torch's global RNG, seeded by build_net); the
weights of its column in every downstream matrix get its sign, and the inhibitory magnitudes
are scaled by ``inh_scale`` (default exc_fraction / (1 - exc_fraction), so the expected
excitatory and inhibitory drive balance). Nothing projects the signs back during training: an
optimizer that keeps signs (Madam: w <- w exp(-eta sign(w) g)) keeps Dale's law by itself; an
additive one (Adam) breaks it. :meth:`SpikingMLP.sign_masks` gives the prescribed signs.

The sign-constrained baseline (``dale_projection=True``, with ``dale``): after every optimizer
step the trainer calls :meth:`SpikingMLP.after_optimizer_step`, which sets each weight that left
its prescribed sign s to zero, w <- s max(s w, 0) (projected gradient descent onto the
sign-constrained set, as rate networks with Dale's law are commonly trained, e.g. Song, Yang &
Wang, PLoS Comput Biol 2016). With Madam it changes nothing (no sign ever flips); with Adam it
gives an additive baseline that keeps Dale's law.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["spike", "surrogate_derivative", "fast_sigmoid", "LIF", "SpikingMLP", "ENCODINGS", "READOUTS"]

ENCODINGS = ("rate", "current")
READOUTS = ("membrane", "count")


def surrogate_derivative(x: torch.Tensor, slope: float) -> torch.Tensor:
    """h(x) = 1 / (1 + slope |x|)^2, the fast-sigmoid pseudo-derivative of the spike nonlinearity."""
    return 1.0 / (1.0 + slope * x.abs()) ** 2


def fast_sigmoid(x: torch.Tensor, slope: float) -> torch.Tensor:
    """f(x) = x / (1 + slope |x|): the smooth function whose exact derivative is h (the surrogate)."""
    return x / (1.0 + slope * x.abs())


class _Spike(torch.autograd.Function):
    """Forward: H(x) (1.0 where x > 0). Backward: grad * h(x), h the fast-sigmoid derivative."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * surrogate_derivative(x, ctx.slope), None


def spike(x: torch.Tensor, slope: float = 10.0) -> torch.Tensor:
    """Heaviside spike of x = v - theta with the surrogate derivative h in the backward pass."""
    return _Spike.apply(x, float(slope))


class LIF(nn.Module):
    """A layer of LIF neurons driven by currents (T, B, N) -> spikes (T, B, N), unrolled over T.

    ``spiking=False`` makes a leaky integrator without threshold (the membrane readout); it then
    returns the membrane trace instead of spikes.
    """

    def __init__(self, beta: float = 0.9, threshold: float = 1.0, slope: float = 10.0,
                 detach_reset: bool = True, spiking: bool = True):
        super().__init__()
        self.beta, self.threshold, self.slope = float(beta), float(threshold), float(slope)
        self.detach_reset, self.spiking = bool(detach_reset), bool(spiking)

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        if current.dtype in (torch.float16, torch.bfloat16):
            current = current.float()  # membranes integrate in float32 even under bf16 autocast
        v = torch.zeros_like(current[0])
        out = []
        for t in range(current.shape[0]):
            v = torch.add(current[t], v, alpha=self.beta)  # beta * v + I[t], one kernel
            if not self.spiking:
                out.append(v)
                continue
            s = spike(v - self.threshold, self.slope)
            out.append(s)
            v = torch.sub(v, s.detach() if self.detach_reset else s, alpha=self.threshold)
        return torch.stack(out)

    def extra_repr(self) -> str:
        return (f"beta={self.beta}, threshold={self.threshold}, slope={self.slope}, "
                f"detach_reset={self.detach_reset}, spiking={self.spiking}")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError("SpikingMLP: " + msg)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class SpikingMLP(nn.Module):
    """Feed-forward spiking net: input code -> ``depth`` LIF layers of ``width`` -> readout, over ``steps``.

    Output: logits (B, classes). Every weight matrix is an ``nn.Linear`` (no bias by default),
    so Madam, Adam and the weight digest treat it like any deep net's.
    """

    def __init__(self, input_shape, num_classes: int, width: int = 256, depth: int = 1, steps: int = 25,
                 encoding: str = "rate", readout: str = "membrane", beta: float = 0.9, threshold: float = 1.0,
                 slope: float = 10.0, detach_reset: bool = True, gain: float = 1.0, out_gain: float = 1.0,
                 bias: bool = False,
                 dale: bool = False, exc_fraction: float = 0.8, inh_scale: float | None = None,
                 dale_projection: bool = False):
        super().__init__()
        _check(isinstance(dale_projection, bool), f"dale_projection must be true or false, got {dale_projection!r}.")
        _check(not dale_projection or dale, "dale_projection needs dale = true (it projects onto Dale's signs).")
        _check(_is_int(width) and width >= 1, f"width must be an integer >= 1, got {width!r}.")
        _check(_is_int(depth) and depth >= 1, f"depth must be an integer >= 1, got {depth!r}.")
        _check(_is_int(steps) and steps >= 1, f"steps must be an integer >= 1, got {steps!r}.")
        _check(encoding in ENCODINGS, f"encoding {encoding!r} unknown; allowed values: {', '.join(ENCODINGS)}.")
        _check(readout in READOUTS, f"readout {readout!r} unknown; allowed values: {', '.join(READOUTS)}.")
        _check(isinstance(beta, (int, float)) and 0.0 <= beta < 1.0, f"beta must be in [0, 1), got {beta!r}.")
        for key, val in (("threshold", threshold), ("slope", slope), ("gain", gain), ("out_gain", out_gain)):
            _check(isinstance(val, (int, float)) and not isinstance(val, bool) and val > 0 and math.isfinite(val),
                   f"{key} must be a positive number, got {val!r}.")
        _check(isinstance(exc_fraction, (int, float)) and 0.0 < exc_fraction < 1.0,
               f"exc_fraction must be in (0, 1), got {exc_fraction!r}.")
        if inh_scale is None:
            inh_scale = exc_fraction / (1.0 - exc_fraction)
        _check(isinstance(inh_scale, (int, float)) and inh_scale > 0, f"inh_scale must be > 0, got {inh_scale!r}.")
        self.steps, self.encoding, self.readout, self.dale = steps, encoding, readout, bool(dale)
        self.dale_projection = dale_projection
        n_in = math.prod(input_shape)
        sizes = [n_in] + [width] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(width, num_classes, bias=bias)
        lif = dict(beta=beta, threshold=threshold, slope=slope, detach_reset=detach_reset)
        self.lifs = nn.ModuleList(LIF(**lif) for _ in range(depth))
        self.lif_out = LIF(**lif, spiking=readout == "count")
        with torch.no_grad():
            for lin in (*self.layers, self.out):
                lin.weight.mul_(gain)
            self.out.weight.mul_(out_gain)
        if self.dale:
            # one sign per presynaptic unit; a buffer, so a checkpoint carries the E/I identity
            for i, lin in enumerate((*self.layers, self.out)):
                n = lin.weight.shape[1]
                sign = torch.where(torch.rand(n) < exc_fraction, 1.0, -1.0)
                self.register_buffer(f"presyn_sign_{i}", sign)
                with torch.no_grad():
                    scale = torch.where(sign > 0, 1.0, float(inh_scale))
                    lin.weight.copy_(lin.weight.abs() * (sign * scale)[None, :])

    def linears(self) -> list[nn.Linear]:
        return [*self.layers, self.out]

    def sign_masks(self) -> dict[str, torch.Tensor] | None:
        """{parameter name: the prescribed sign of every entry} under Dale's law; None without it."""
        if not self.dale:
            return None
        names = {id(p): n for n, p in self.named_parameters()}
        return {names[id(lin.weight)]: getattr(self, f"presyn_sign_{i}")[None, :].expand_as(lin.weight)
                for i, lin in enumerate(self.linears())}

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        """With ``dale_projection``: w <- s max(s w, 0) for every weight matrix (s: the prescribed
        sign of each entry), i.e. a weight that crossed zero is set to zero. Otherwise nothing."""
        if not self.dale_projection:
            return
        for i, lin in enumerate(self.linears()):
            sign = getattr(self, f"presyn_sign_{i}")[None, :]
            lin.weight.copy_(sign * (sign * lin.weight).clamp_min(0.0))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, ...) -> input per step (T, B, n_in): rate-coded spikes or a constant current."""
        x = x.reshape(len(x), -1).float()
        lo, hi = x.min(1, keepdim=True).values, x.max(1, keepdim=True).values
        p = (x - lo) / (hi - lo).clamp_min(1e-12)
        if self.encoding == "current":
            return p.expand(self.steps, *p.shape)
        return torch.bernoulli(p.expand(self.steps, *p.shape).contiguous())

    def forward(self, x: torch.Tensor, *, return_spikes: bool = False):
        h = self.encode(x)
        spikes = []
        for lin, lif in zip(self.layers, self.lifs):
            if self.encoding == "current" and lin is self.layers[0]:
                cur = lin(h[0]).expand(self.steps, -1, -1)  # constant input: one matmul
            else:
                cur = lin(h)
            h = lif(cur)
            spikes.append(h)
        o = self.lif_out(self.out(h))
        logits = o.sum(0) if self.readout == "count" else o.mean(0)
        return (logits, spikes) if return_spikes else logits
