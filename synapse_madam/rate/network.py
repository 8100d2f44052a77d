"""Continuous-time excitatory/inhibitory rate networks whose weights keep Dale's law.

The model is the E/I rate RNN of Song, Yang & Wang (2016, PLoS Comput Biol 12:e1004792),
Euler-discretised with step dt and time constant tau (alpha = dt / tau)::

    tau dx/dt = -x + W_rec r + W_in u + b + sqrt(2 tau) sigma_rec xi(t)
    x_{t+1}   = (1 - alpha) x_t + alpha (W_rec r_t + W_in u_t + b) + sqrt(2 alpha) sigma_rec N(0, 1)
    r_t       = f(x_t),      z_t = W_out r_t + b_out      (readout logits)

Dale's law: each presynaptic neuron is excitatory (the first ``round(frac_exc * n)``, 80 % by
default) or inhibitory, and all its outgoing recurrent weights share that sign. Afferent input
weights are excitatory (w >= 0) and the readout comes from excitatory neurons only, with w >= 0
(as in Song et al. 2016: long-range projections are excitatory).

The trainable parameters are the *signed weights themselves* (``w_rec``, ``w_in``, ``w_out``):
there is no hidden sign mask or rectification in the forward pass. Their signs are set once at
initialisation. Madam's multiplicative step w <- w exp(-eta sign(w) g_hat) can never flip them.
An additive optimizer (SGD, Adam) can, so the model offers :meth:`EIRateRNN.project_`, the usual
projection onto the Dale-consistent set, applied after each additive step and counted.

Absent synapses (no autapses by default; optional random sparsity ``p_connect``) are structural
zeros: the forward pass multiplies by a 0/1 connectivity mask, so they receive no gradient and
stay exactly 0 under every optimizer. The mask encodes *which* synapses exist, never their sign.

Weight groups (``weight_groups``), named post-pre like the spiking substrate: "EE" = E->E
(W_rec[E, E]), "EI" = E->I (W_rec[I, E]), "IE" = I->E (W_rec[E, I], negative), "II" = I->I
(W_rec[I, I], negative), "in" (positive), "out" (positive, from E neurons). Each holds the signed
weights of the synapses that exist, as a 1-D array.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["ACTIVATIONS", "INITS", "EIRateRNN", "GROUPS"]

ACTIVATIONS = {
    "relu": torch.relu,                                      # rectified linear (Song et al. 2016)
    "softplus": nn.functional.softplus,                      # smooth rectification log(1 + e^x)
    "rect_tanh": lambda x: torch.relu(torch.tanh(x)),        # saturating, rates in [0, 1)
    "sigmoid": torch.sigmoid,                                # rates in (0, 1)
}
INITS = ("gamma", "lognormal", "constant")
GROUPS = ("EE", "EI", "IE", "II", "in", "out")
PROJECTIONS = ("zero", "floor")


def _check(name, value, ok, allowed):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"EIRateRNN: {name} must be a number, got {value!r} ({type(value).__name__}).")
    if not ok(value):
        raise ValueError(f"EIRateRNN: invalid {name}={value!r}; {name} must be {allowed}.")


def draw_magnitudes(shape, init: str, rng: np.random.Generator, *, gamma_shape: float = 2.0,
                    lognormal_sigma: float = 1.0) -> torch.Tensor:
    """Positive magnitudes with mean 1 (float32): gamma with shape k and scale 1/k (Song et al.
    2016 drew initial weights from a gamma distribution), or log-normal with
    ln|w| ~ N(-sigma^2/2, sigma^2) (the shape of cortical EPSPs; sigma = 0.9355 is Song et al.
    2005's spread)."""
    if init == "gamma":
        x = rng.gamma(gamma_shape, 1.0 / gamma_shape, size=shape)
    elif init == "lognormal":
        s = float(lognormal_sigma)
        x = np.exp(rng.standard_normal(shape) * s - s * s / 2)
    else:
        raise ValueError(f"EIRateRNN: init={init!r}; allowed values: {', '.join(INITS)}.")
    return torch.as_tensor(x, dtype=torch.float32)


def _constant_magnitudes(w_rec, conn, n_exc, w_in, w_out, b_rec):
    """Every group's magnitudes replaced by that group's RMS (signs and structure kept)."""
    def rms_fill(w, where):
        out = torch.zeros_like(w)
        if where.any():
            out[where] = torch.sqrt(torch.mean(w[where] ** 2)) * torch.sign(w[where])
        return out
    e, n = n_exc, w_rec.shape[0]
    rec = torch.zeros_like(w_rec)
    for rows, cols in ((slice(0, e), slice(0, e)), (slice(e, n), slice(0, e)), (slice(0, e), slice(e, n)),
                       (slice(e, n), slice(e, n))):
        block = w_rec[rows, cols]
        rec[rows, cols] = rms_fill(block, conn[rows, cols].bool())
    out = torch.zeros_like(w_out)
    out[:, :e] = rms_fill(w_out[:, :e], torch.ones_like(w_out[:, :e], dtype=torch.bool))
    return (rec, rms_fill(w_in, torch.ones_like(w_in, dtype=torch.bool)), out,
            None if b_rec is None else rms_fill(b_rec, torch.ones_like(b_rec, dtype=torch.bool)))


class EIRateRNN(nn.Module):
    """Batched E/I rate RNN with Dale's law (see module docstring for the equations).

    Args:
        n_input, n_output: input channels and readout units.
        n_rec: recurrent neurons (default 100); ``frac_exc``: excitatory fraction (default 0.8).
        tau_ms, dt_ms: time constant and Euler step (defaults 100 ms and 20 ms, Song et al. 2016).
        activation: one of ``ACTIVATIONS`` (default "relu").
        sigma_rec: recurrent noise sigma_rec (default 0.05, Song et al. 2016 used 0.15 for some tasks).
        init: magnitude distribution "gamma" (default, shape ``gamma_shape``), "lognormal"
            (``lognormal_sigma``), or "constant": every synapse of a group ("EE", "EI", "IE",
            "II", "in", "out") and every background drive gets the same magnitude, the RMS that
            group has under the gamma init of the same seed (a control initialisation with
            sigma(ln|w|) = 0 and the gamma init's RMS). Gamma and log-normal groups have mean
            magnitude 1 before scaling.
        spectral_radius: W_rec is scaled to this spectral radius after balancing (default 1.5,
            Song et al. 2016).
        p_connect: connection probability of recurrent synapses (default 1: all-to-all).
        autapses: keep self-connections (default False).
        input_scale, readout_scale: mean magnitude of input weights (default 1) and readout
            weights (default 4 / n_exc, initial logits of a few units).
        background: mean of a tonic, positive, trainable background drive b added to every
            neuron's input (default 0.5; 0 disables it). It stands for excitatory input from
            outside the network, keeps it away from the silent fixed point x = 0 when the task
            inputs are off (delay and decision epochs), and is kept >= 0 like an afferent synapse.
        readout_bias: initial value of the trainable readout bias b_out, the same for every
            output unit (default 1; 0 disables it). Equal biases leave the initial softmax
            unchanged; the bias is positive so that Madam, which keeps signs and cannot move an
            exact zero, can grow or shrink each unit's offset (only differences matter to the
            softmax). It is not a synapse: Dale's law and the weight groups do not include it.
        seed: seed of the initial weights.

    Balanced scaling: inhibitory magnitudes are multiplied by n_exc / n_inh, so that the
    expected excitatory and inhibitory input to every neuron cancel (the row sums of W_rec are
    zero in expectation), then W_rec is scaled to ``spectral_radius``.
    """

    def __init__(self, n_input: int, n_output: int, n_rec: int = 100, *, frac_exc: float = 0.8,
                 tau_ms: float = 100.0, dt_ms: float = 20.0, activation: str = "relu", sigma_rec: float = 0.05,
                 init: str = "gamma", gamma_shape: float = 2.0, lognormal_sigma: float = 1.0,
                 spectral_radius: float = 1.5, p_connect: float = 1.0, autapses: bool = False,
                 input_scale: float = 1.0, readout_scale: float | None = None, background: float = 0.5,
                 readout_bias: float = 1.0, seed: int = 0):
        super().__init__()
        for name, v in (("n_input", n_input), ("n_output", n_output), ("n_rec", n_rec)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"EIRateRNN: {name} must be an integer >= 1, got {v!r}.")
        _check("frac_exc", frac_exc, lambda x: 0 < x < 1, "in (0, 1) (default 0.8)")
        _check("tau_ms", tau_ms, lambda x: x > 0, "> 0")
        _check("dt_ms", dt_ms, lambda x: 0 < x <= tau_ms, f"in (0, tau_ms={tau_ms}]")
        _check("sigma_rec", sigma_rec, lambda x: x >= 0, ">= 0")
        _check("spectral_radius", spectral_radius, lambda x: x > 0, "> 0")
        _check("p_connect", p_connect, lambda x: 0 < x <= 1, "in (0, 1]")
        _check("gamma_shape", gamma_shape, lambda x: x > 0, "> 0")
        _check("lognormal_sigma", lognormal_sigma, lambda x: x > 0, "> 0")
        _check("input_scale", input_scale, lambda x: x > 0, "> 0")
        _check("background", background, lambda x: x >= 0, ">= 0 (0: no background drive)")
        _check("readout_bias", readout_bias, lambda x: math.isfinite(x) and x >= 0, ">= 0 (0: no readout bias)")
        if activation not in ACTIVATIONS:
            raise ValueError(f"EIRateRNN: activation={activation!r}; allowed values: {', '.join(ACTIVATIONS)}.")
        if init not in INITS:
            raise ValueError(f"EIRateRNN: init={init!r}; allowed values: {', '.join(INITS)}.")
        n_exc = int(round(frac_exc * n_rec))
        if not 1 <= n_exc <= n_rec - 1:
            raise ValueError(f"EIRateRNN: n_rec={n_rec}, frac_exc={frac_exc} leave no E or no I neuron; "
                             "use more neurons or a frac_exc further from 0 and 1.")
        self.n_input, self.n_output, self.n_rec, self.n_exc = n_input, n_output, n_rec, n_exc
        self.n_inh = n_rec - n_exc
        self.tau_ms, self.dt_ms, self.alpha = float(tau_ms), float(dt_ms), float(dt_ms) / float(tau_ms)
        self.activation, self.sigma_rec = activation, float(sigma_rec)
        self.f = ACTIVATIONS[activation]
        rng = np.random.default_rng(int(seed))
        draw = "gamma" if init == "constant" else init  # constant: gamma first, then each group's RMS
        mags = lambda shape: draw_magnitudes(shape, draw, rng, gamma_shape=gamma_shape,  # noqa: E731
                                             lognormal_sigma=lognormal_sigma)

        # presynaptic sign per neuron: +1 for E, -1 for I (Dale's law)
        pre_sign = torch.cat([torch.ones(n_exc), -torch.ones(self.n_inh)])
        conn = torch.as_tensor(rng.random((n_rec, n_rec)) < p_connect, dtype=torch.float32)
        if not autapses:
            conn.fill_diagonal_(0.0)
        w = mags((n_rec, n_rec))
        w[:, n_exc:] *= n_exc / self.n_inh                         # balance: E and I input cancel on average
        w = w * pre_sign[None, :] * conn
        radius = torch.linalg.eigvals(w).abs().max().item()
        w *= spectral_radius / radius if radius > 0 else 1.0
        w_in = mags((n_rec, n_input)) * input_scale
        readout_scale = 4.0 / n_exc if readout_scale is None else readout_scale
        _check("readout_scale", readout_scale, lambda x: x > 0, "> 0")
        out_conn = torch.zeros(n_output, n_rec)
        out_conn[:, :n_exc] = 1.0                                  # readout from E neurons only
        w_out = mags((n_output, n_rec)) * readout_scale * out_conn
        b_rec = mags((n_rec,)) * background if background > 0 else None
        if init == "constant":
            w, w_in, w_out, b_rec = _constant_magnitudes(w, conn, n_exc, w_in, w_out, b_rec)

        self.w_rec = nn.Parameter(w)
        self.w_in = nn.Parameter(w_in)
        self.w_out = nn.Parameter(w_out)
        # tonic excitatory background drive per neuron (positive, trainable; 0 disables it)
        self.b_rec = nn.Parameter(b_rec) if b_rec is not None else None
        # readout bias (trainable, free of Dale's law; 0 disables it)
        self.b_out = nn.Parameter(torch.full((n_output,), float(readout_bias))) if readout_bias > 0 else None
        # structure (which synapses exist) and the prescribed sign of each; never used as a sign mask
        self.register_buffer("conn_rec", conn)
        self.register_buffer("conn_out", out_conn)
        self.register_buffer("sign_rec", pre_sign[None, :] * conn)
        self.register_buffer("sign_in", torch.ones(n_rec, n_input))
        self.register_buffer("sign_out", out_conn.clone())
        self.register_buffer("floor_rec", torch.tensor(0.0))  # set by project_(mode="floor")

    # ------------------------------------------------------------------ dynamics
    @property
    def noise_std(self) -> float:
        """Std of the per-step recurrent noise term: sqrt(2 alpha) sigma_rec."""
        return math.sqrt(2 * self.alpha) * self.sigma_rec

    def forward(self, u: torch.Tensor, *, noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                x0: torch.Tensor | None = None, return_rates: bool = False):
        """Run the network on inputs ``u`` of shape (T, B, n_input).

        Returns the readout logits z of shape (T, B, n_output), and with ``return_rates`` also
        the rates r (T, B, n_rec) that produced them (r_t = f(x_t), z_t = W_out r_t, where x_t
        already includes the input u_{t-1}; x_0 = 0 unless ``x0`` is given).
        ``noise``: the additive noise term of every step, (T, B, n_rec), used as given (node
        perturbation draws it itself); otherwise N(0, noise_std^2) is drawn from ``generator``.
        """
        if u.dim() != 3 or u.shape[-1] != self.n_input:
            raise ValueError(f"EIRateRNN: inputs must have shape (T, B, {self.n_input}), got {tuple(u.shape)}.")
        steps, batch = u.shape[:2]
        if noise is None:
            noise = (torch.randn(steps, batch, self.n_rec, generator=generator, device="cpu").to(u.device)
                     * self.noise_std if self.noise_std > 0 else None)
        elif noise.shape != (steps, batch, self.n_rec):
            raise ValueError(f"EIRateRNN: noise must have shape {(steps, batch, self.n_rec)}, got {tuple(noise.shape)}.")
        w_rec = self.w_rec * self.conn_rec
        w_out = self.w_out * self.conn_out
        drive = u @ self.w_in.T                                      # (T, B, N), all steps at once
        if self.b_rec is not None:
            drive = drive + self.b_rec
        x = torch.zeros(batch, self.n_rec, dtype=u.dtype, device=u.device) if x0 is None else x0
        a = self.alpha
        rates = []
        for t in range(steps):
            r = self.f(x)
            x = (1 - a) * x + a * (r @ w_rec.T + drive[t])
            if noise is not None:
                x = x + noise[t]
            rates.append(self.f(x))
        r_all = torch.stack(rates)
        z = r_all @ w_out.T
        if self.b_out is not None:
            z = z + self.b_out
        return (z, r_all) if return_rates else z

    # ------------------------------------------------------------------ Dale's law
    def _signed(self):
        out = [(self.w_rec, self.sign_rec), (self.w_in, self.sign_in), (self.w_out, self.sign_out)]
        if self.b_rec is not None:
            out.append((self.b_rec, torch.ones_like(self.b_rec)))
        return tuple(out)

    def sign_violations(self) -> int:
        """Number of existing synapses whose weight has the wrong sign (Dale's law broken)."""
        with torch.no_grad():
            return int(sum(((w * s < 0) & (s != 0)).sum().item() for w, s in self._signed()))

    def n_silent(self) -> int:
        """Number of existing synapses whose weight is exactly 0 ("silent" synapses)."""
        with torch.no_grad():
            return int(sum(((w == 0) & (s != 0)).sum().item() for w, s in self._signed()))

    @torch.no_grad()
    def project_(self, mode: str = "zero", floor: float = 1e-6) -> int:
        """Project onto Dale's law after an additive step; returns how many synapses crossed zero.

        ``mode="zero"``: a weight whose sign is wrong is set to exactly 0 (the rectification of
        Song et al. 2016, W = [W+]_+ D): the synapse becomes silent, and an additive optimizer
        may regrow it later. ``mode="floor"``: it is set to ``floor`` x (its tensor's RMS) with
        the prescribed sign, so it stays a (tiny) synapse of the right sign that a
        multiplicative rule could still move. Weights already exactly 0 are not counted.
        Madam never needs this: its step cannot change a sign.
        """
        if mode not in PROJECTIONS:
            raise ValueError(f"project_: mode={mode!r}; allowed values: {', '.join(PROJECTIONS)}.")
        crossed = 0
        for w, s in self._signed():
            bad = (w * s < 0) & (s != 0)
            crossed += int(bad.sum().item())
            if mode == "zero":
                w[bad] = 0.0
            else:
                rms = torch.sqrt(torch.mean(w[s != 0] ** 2))
                w[bad] = (s * floor * rms)[bad]
        return crossed

    # ------------------------------------------------------------------ weights out
    @torch.no_grad()
    def weight_groups(self) -> dict:
        """Signed weights of the existing synapses per group ("EE", "EI", "IE", "II", "in", "out"),
        as 1-D numpy arrays (post-pre naming, see module docstring)."""
        e, n = self.n_exc, self.n_rec
        w, c = self.w_rec.detach().cpu(), self.conn_rec.detach().cpu().bool()
        blocks = {"EE": (slice(0, e), slice(0, e)), "EI": (slice(e, n), slice(0, e)),
                  "IE": (slice(0, e), slice(e, n)), "II": (slice(e, n), slice(e, n))}
        out = {k: w[b][c[b]].numpy().copy() for k, b in blocks.items()}
        out["in"] = self.w_in.detach().cpu().numpy().ravel().copy()
        out["out"] = self.w_out.detach().cpu()[:, :e].numpy().ravel().copy()
        return out

    @torch.no_grad()
    def group_log_rms(self, name: str) -> torch.Tensor:
        """ln RMS of the synapse group each entry of tensor ``name`` belongs to, in that tensor's
        shape (float32): for ``w_rec`` the four blocks E->E, E->I, I->E, I->I, each over its
        existing synapses; for ``w_in`` and ``w_out`` (one group each) over theirs. Absent
        synapses get their block's value (they are 0 and never move).

        Per-group set points of the rule's log-space homeostasis are built from it: one set point
        per tensor would pull E and I synapses (whose magnitudes differ 4x under balanced
        scaling) to one magnitude and undo the E/I balance; synaptic scaling acts per synapse type.
        """
        def log_rms(w, where):
            return torch.log(torch.sqrt(torch.mean(w[where] ** 2)))
        e, n = self.n_exc, self.n_rec
        if name == "w_rec":
            w, c = self.w_rec.detach(), self.conn_rec.bool()
            out = torch.empty_like(w)
            for rows, cols in ((slice(0, e), slice(0, e)), (slice(e, n), slice(0, e)), (slice(0, e), slice(e, n)),
                               (slice(e, n), slice(e, n))):
                out[rows, cols] = log_rms(w[rows, cols], c[rows, cols])
            return out
        if name == "w_in":
            return torch.full_like(self.w_in, float(log_rms(self.w_in.detach(), self.w_in != 0)))
        if name == "w_out":
            return torch.full_like(self.w_out, float(log_rms(self.w_out.detach(), self.conn_out.bool())))
        raise ValueError(f"group_log_rms: name must be one of w_rec, w_in, w_out, got {name!r}.")

    def config(self) -> dict:
        """Sizes and constants (for summaries)."""
        return {"n_rec": self.n_rec, "n_exc": self.n_exc, "n_inh": self.n_inh, "n_input": self.n_input,
                "n_output": self.n_output, "tau_ms": self.tau_ms, "dt_ms": self.dt_ms,
                "activation": self.activation, "sigma_rec": self.sigma_rec,
                "readout_bias": self.b_out is not None}
