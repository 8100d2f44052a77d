"""A backprop-free learning rule: node perturbation driving Madam's normalised log-space step.

Three factors per synapse j -> i, all available at the synapse or broadcast to it:

1. presynaptic activity r_j(t-1) (or the input u_j(t-1), for afferent synapses);
2. a postsynaptic perturbation xi_i(t): noise injected into neuron i's state x_i (the network's
   own variability, Fiete & Seung 2006, PRL 97:048104; Miconi 2017, eLife 6:e20899);
3. a reward prediction error delta = R - R_bar at the end of the trial, R = -(trial loss).

The eligibility trace e_ij = sum_t xi_i(t) r_j(t-1) accumulates during the trial; the update
direction is g_ij = -mean_trials(delta * e_ij), an unbiased estimate of sigma^2 dLoss/dW_ij for
small perturbations sigma (node perturbation; Williams 1992's REINFORCE for Gaussian units). It
replaces the gradient in Madam: the second moment, normalisation, multiplicative step and
magnitude bound are :func:`synapse_madam.rule.madam_update` itself, so every weight still moves
by a factor e^{+-lr} per step and no sign can flip (Dale's law holds with no projection). The
scale sigma^2 cancels in Madam's normalisation.

Readout synapses learn the same way from a perturbation of the output units, and so does the
readout bias (its "presynaptic activity" is the constant 1).

The rule's opt-in terms (:mod:`synapse_madam.rule`: log-space homeostasis ``restore``,
multiplicative fluctuations ``noise``, ``set_point``, ``bound``) apply to the synaptic tensors
``w_rec``, ``w_in``, ``w_out``; the readout bias takes the published step (it is not a synapse,
and a set point would pull it back to its initial value). The set point is per synapse group:
mu_g = ln(set_point * RMS of group g at the start) (:meth:`EIRateRNN.group_log_rms`), since
W_rec holds E and I synapses whose magnitudes differ 4x. The fluctuation of tensor k at step t
is ``hash_normal(noise_seed * 1000003 + k, t)`` (the shared convention of
:mod:`synapse_madam.hashnoise`), a function of the step count alone, so a resumed run draws
exactly the noise of the uninterrupted one.

Baselines R_bar: ``"antithetic"`` (default) runs each trial twice, with +xi and -xi (same
stimulus and input noise), and uses the mean reward of the pair, so delta = +-(R+ - R-)/2 — a
variance-reduced estimate (antithetic sampling); ``"running"`` uses an exponential running
average of the reward per trial condition (Miconi 2017), a single run per trial.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import rule
from ..hashnoise import hash_normal, stream_seed
from .tasks import trial_loss

__all__ = ["NodePerturbation", "eligibility"]

BASELINES = ("antithetic", "running")


def eligibility(pre: torch.Tensor, perturbation: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """sum_{t,b} delta_b xi_i(t, b) pre_j(t, b): the reward-modulated eligibility, shape (post, pre).

    ``pre`` (T, B, n_pre), ``perturbation`` (T, B, n_post), ``delta`` (B,)."""
    return torch.einsum("tbi,tbj,b->ij", perturbation, pre, delta)


class NodePerturbation:
    """Three-factor node-perturbation learner with Madam's step (see module docstring).

    Args:
        model: an :class:`~synapse_madam.rate.EIRateRNN`.
        lr: Madam's eta (default 0.01, the published value).
        sigma: std of the perturbation added to every neuron's state per step (default 0.1; it
            replaces the network's own noise during learning).
        sigma_out: std of the perturbation of the readout logits (default 0.1).
        baseline: "antithetic" (default) or "running" (see module docstring).
        baseline_decay: decay of the running baseline (default 0.9).
        beta, g_bound, p_scale: Madam's constants (defaults from :mod:`synapse_madam.rule`).
        restore, noise, set_point, bound: the rule's opt-in terms for the synaptic tensors
            (defaults: off, the published rule; see :func:`synapse_madam.rule.madam_update`).
        noise_seed: base seed of the fluctuation streams (default 0).
    """

    SYNAPTIC = ("w_rec", "w_in", "w_out")  # tensors that take the opt-in terms

    kind = "node_perturbation"

    def __init__(self, model, lr: float = rule.DEFAULT_LR, *, sigma: float = 0.1, sigma_out: float = 0.1,
                 baseline: str = "antithetic", baseline_decay: float = 0.9, beta: float = rule.DEFAULT_BETA,
                 g_bound: float = rule.DEFAULT_G_BOUND, p_scale: float = rule.DEFAULT_P_SCALE,
                 restore: float = rule.DEFAULT_RESTORE, noise: float = rule.DEFAULT_NOISE,
                 set_point: float = rule.DEFAULT_SET_POINT, bound: str = rule.DEFAULT_BOUND, noise_seed: int = 0):
        rule.validate_hyperparameters(lr, beta, g_bound, p_scale, restore=restore, noise=noise,
                                      set_point=set_point, bound=bound)
        if isinstance(noise_seed, bool) or not isinstance(noise_seed, int) or noise_seed < 0:
            raise ValueError(f"NodePerturbation: noise_seed must be an integer >= 0, got {noise_seed!r}.")
        if baseline not in BASELINES:
            raise ValueError(f"NodePerturbation: baseline={baseline!r}; allowed values: {', '.join(BASELINES)}.")
        for name, v in (("sigma", sigma), ("sigma_out", sigma_out)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"NodePerturbation: {name} must be a number > 0, got {v!r}.")
        if not 0 <= baseline_decay < 1:
            raise ValueError(f"NodePerturbation: baseline_decay must be in [0, 1), got {baseline_decay!r}.")
        self.model, self.lr, self.beta, self.g_bound = model, float(lr), beta, g_bound
        self.sigma, self.sigma_out = float(sigma), float(sigma_out)
        self.baseline, self.baseline_decay = baseline, float(baseline_decay)
        self.restore, self.noise, self.set_point, self.bound = float(restore), float(noise), float(set_point), bound
        self.noise_seed = noise_seed
        self.params = {"w_rec": model.w_rec, "w_in": model.w_in, "w_out": model.w_out}
        if getattr(model, "b_out", None) is not None:
            self.params["b_out"] = model.b_out
        self.state = {k: rule.init_state(p.detach(), p_scale, set_point) for k, p in self.params.items()}
        for k in self.SYNAPTIC:  # one set point per synapse group (E->E, E->I, I->E, I->I, in, out)
            mu = math.log(set_point) + model.group_log_rms(k)
            self.state[k] = self.state[k]._replace(log_set_point=mu)
        self.r_bar: dict[int, float] = {}

    @torch.no_grad()
    def step(self, trials, generator: torch.Generator) -> dict:
        model = self.model
        if self.baseline == "antithetic":
            trials = trials.repeat(2)
        steps, batch = trials.inputs.shape[:2]
        half = batch // 2 if self.baseline == "antithetic" else batch

        def draw(n, std):
            xi = torch.randn(steps, half, n, generator=generator) * std
            return (torch.cat([xi, -xi], 1) if self.baseline == "antithetic" else xi).to(trials.inputs.device)

        xi_rec, xi_out = draw(model.n_rec, self.sigma), draw(model.n_output, self.sigma_out)
        logits, rates = model(trials.inputs, noise=xi_rec, return_rates=True)
        logits = logits + xi_out
        reward = -trial_loss(logits, trials)
        delta = self._rpe(reward, trials.condition)
        r0 = model.f(torch.zeros(1, batch, model.n_rec, device=rates.device, dtype=rates.dtype))
        r_pre = torch.cat([r0, rates[:-1]])                     # r(t-1) drives x(t), perturbed by xi(t)
        u_pre = trials.inputs                                   # u(t-1) enters x(t) at the same step
        ones = torch.ones(steps, batch, 1, dtype=rates.dtype, device=rates.device)
        drive = {"w_rec": (r_pre, xi_rec), "w_in": (u_pre, xi_rec), "w_out": (rates, xi_out), "b_out": (ones, xi_out)}
        directions = {}
        for key in self.params:
            pre, xi = drive[key]
            g = -eligibility(pre, xi, delta) / batch             # descent direction on the loss
            directions[key] = g[:, 0] if key == "b_out" else g
        self.apply(directions)
        return {"loss": float(-reward.mean()), "crossed": 0}

    @torch.no_grad()
    def apply(self, directions: dict) -> None:
        """One step of :func:`synapse_madam.rule.madam_update` per tensor, with ``directions[key]``
        in place of the gradient, the opt-in terms on the synaptic tensors and their hash noise."""
        for k, (key, p) in enumerate(self.params.items()):
            terms = {}
            if key in self.SYNAPTIC:
                terms = {"restore": self.restore, "noise": self.noise, "bound": self.bound}
                if self.noise:
                    step = int(self.state[key].step) + 1
                    terms["xi"] = hash_normal(stream_seed(self.noise_seed, k), step, tuple(p.shape), like=p)
            w_new, self.state[key] = rule.madam_update(p.detach(), directions[key], self.state[key], self.lr,
                                                       self.beta, self.g_bound, **terms)
            p.copy_(w_new)

    def _rpe(self, reward: torch.Tensor, condition: np.ndarray) -> torch.Tensor:
        if self.baseline == "antithetic":
            half = reward.shape[0] // 2
            d = (reward[:half] - reward[half:]) / 2
            return torch.cat([d, -d])
        delta = torch.empty_like(reward)
        for c in np.unique(condition):
            idx = torch.as_tensor(np.flatnonzero(condition == c), device=reward.device)
            r = reward[idx]
            key = int(c)
            base = self.r_bar.get(key, float(r.mean()))
            delta[idx] = r - base
            self.r_bar[key] = self.baseline_decay * base + (1 - self.baseline_decay) * float(r.mean())
        return delta

    def state_dict(self) -> dict:
        return {"state": {k: s._asdict() for k, s in self.state.items()}, "r_bar": dict(self.r_bar)}

    def load_state_dict(self, state: dict) -> None:
        self.state = {k: rule.MadamState(**s) for k, s in state["state"].items()}
        self.r_bar = {int(k): float(v) for k, v in state["r_bar"].items()}

    def w_max(self) -> dict:
        """Madam's bound per parameter name (p_scale x the tensor's initial RMS) where it applies
        (with bound="none" the synaptic tensors have none: the restoring drift replaces it)."""
        return {k: float(s.w_max) for k, s in self.state.items() if not (self.bound == "none" and k in self.SYNAPTIC)}

    def describe(self) -> dict:
        return {"rule": "node_perturbation", "optimizer": "madam", "lr": self.lr, "sigma": self.sigma,
                "sigma_out": self.sigma_out, "baseline": self.baseline, "projection": "none",
                "restore": self.restore, "noise": self.noise, "set_point": self.set_point, "bound": self.bound,
                "noise_seed": self.noise_seed}
