"""Plastic inhibition with a target rate: the Madam form of Vogels et al. (2011) inhibitory STDP.

Vogels, Sprekeler, Zenke, Clopath & Gerstner (Science 334:1569, 2011) let every inhibitory
synapse onto an excitatory neuron follow a symmetric STDP rule with two traces (time constant
tau_stdp = 20 ms, +1 per spike):

    presynaptic (I) spike:    |w| += eta (x_post - alpha)
    postsynaptic (E) spike:   |w| += eta x_pre,              alpha = 2 rho0 tau_stdp

For uncorrelated pre/post Poisson trains at rates r_pre, r_post the expected drive per unit
time is eta r_pre (2 r_post tau_stdp - alpha), zero exactly at r_post = rho0: a neuron firing
above the target rate gets more inhibition, one below it less, so the rule is a homeostat of the
postsynaptic rate with fixed point rho0.

**Madam form.** The Vogels drive d (the bracket above, per event) is read as the negative
gradient of the inhibitory magnitude |w|, i.e. as the gradient g = -sign(w) d of the signed
weight, and applied by one per-synapse Madam step at every pre or post event (the same step as
``MadamSTDP``, from ``synapse_madam.rule``):

    n <- n + 1,  v <- beta v + (1 - beta) g^2,  g_hat = clip(g / sqrt(v / (1 - beta^n)), -g_bound, g_bound)
    w <- clip(w exp(-lr sign(w) g_hat), -w_max, w_max)          =>  ln|w| += lr d / sqrt(v_hat)

so ln|w| moves by at most lr g_bound per event, the sign of w never changes, and eta cancels in
the normalisation (only alpha, i.e. rho0, matters). The running second moment is common to both
kinds of event, so the expected log step keeps the sign of E[d]: the fixed point is still the
target rate rho0. Inhibitory weights are negative numbers (effect ``v_post += w``), as for the
sign-preserving ``MadamSTDP`` in ``networks.brunel_network``; w_max = p_scale * RMS(initial w).
"""

from __future__ import annotations

import numpy as np

from .. import rule as madam_rule
from .plasticity import RULES, MadamSTDP, _brian2, _positive, _time

#: Vogels drive d at a presynaptic (inhibitory) spike and at a postsynaptic spike, in trace units
#: (apre = x_pre, apost = x_post; both traces share tau_stdp); g = -sign(w) d.
VOGELS_PRE_DRIVE = "apost - vogels_alpha"
VOGELS_POST_DRIVE = "apre"


def vogels_alpha(rho0_hz: float, tau_stdp_s: float) -> float:
    """alpha = 2 rho0 tau_stdp (dimensionless): the depression offset that puts the fixed point at rho0."""
    return 2.0 * float(rho0_hz) * float(tau_stdp_s)


def expected_drive_rate(r_pre_hz, r_post_hz, rho0_hz: float, tau_stdp_s: float):
    """E[d] per second for independent Poisson trains: r_pre (2 r_post tau - alpha) = 2 r_pre tau (r_post - rho0)."""
    return np.asarray(r_pre_hz) * (2.0 * np.asarray(r_post_hz) * tau_stdp_s - vogels_alpha(rho0_hz, tau_stdp_s))


def vogels_madam_step(w, d, state: madam_rule.MadamState, lr: float = madam_rule.DEFAULT_LR,
                      beta: float = madam_rule.DEFAULT_BETA, g_bound: float = madam_rule.DEFAULT_G_BOUND):
    """One Madam step of the rule for drive d (numpy): ``rule.madam_update`` with g = -sign(w) d.

    The reference the Brian2 statements are tested against; returns (new w, new state)."""
    return madam_rule.madam_update(w, -np.sign(w) * d, state, lr, beta, g_bound)


class VogelsMadam(MadamSTDP):
    """Madam-form inhibitory STDP of Vogels et al. (2011) with target rate ``rho0_hz`` (see module doc).

    Parameters: ``rho0_hz`` target postsynaptic rate (default 5 Hz), ``tau_stdp`` trace time
    constant (default 20 ms, Vogels et al.), and Madam's ``lr``, ``beta``, ``g_bound``,
    ``p_scale``/``w_max`` (defaults from ``synapse_madam.rule``, the published values).
    """

    name = "vogels_madam"
    signed = True

    def __init__(self, rho0_hz: float = 5.0, lr: float = madam_rule.DEFAULT_LR,
                 beta: float = madam_rule.DEFAULT_BETA, g_bound: float = madam_rule.DEFAULT_G_BOUND,
                 p_scale: float = madam_rule.DEFAULT_P_SCALE, w_max=None, tau_stdp=None):
        b2 = _brian2()
        tau = _time("tau_stdp", 20 * b2.ms if tau_stdp is None else tau_stdp)
        super().__init__(lr=lr, beta=beta, g_bound=g_bound, p_scale=p_scale, w_max=w_max,
                         tau_plus=tau, tau_minus=tau)
        self.tau_stdp = tau
        self.rho0_hz = _positive("rho0_hz", rho0_hz)
        self.alpha = vogels_alpha(self.rho0_hz, float(tau))

    def _potentiation(self) -> str:  # at a postsynaptic spike: MadamSTDP's step with the Vogels drive
        return self._step(f"-sign(w) * ({VOGELS_POST_DRIVE})")

    def _depression(self) -> str:  # at a presynaptic spike
        return self._step(f"-sign(w) * ({VOGELS_PRE_DRIVE})")

    def namespace(self) -> dict:
        ns = super().namespace()
        for key in ("a_plus", "a_minus"):
            ns.pop(key, None)
        ns["vogels_alpha"] = self.alpha
        return ns


# registered here: plasticity.py cannot import this module (it imports plasticity); importing
# synapse_madam.spiking (any of its modules) runs this line via the package __init__
RULES.setdefault("vogels_madam", VogelsMadam)
