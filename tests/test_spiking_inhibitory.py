"""Madam-form Vogels inhibitory STDP: equivalence with rule.py, sign preservation, fixed point at the target rate."""

import numpy as np
import pytest

b2 = pytest.importorskip("brian2")

from synapse_madam import rule as R  # noqa: E402
from synapse_madam.spiking import make_rule  # noqa: E402
from synapse_madam.spiking.inhibitory import (  # noqa: E402
    VogelsMadam,
    expected_drive_rate,
    vogels_alpha,
    vogels_madam_step,
)

DT = 0.1 * b2.ms


def _spike_train(rng, n, rate_hz, n_steps):
    idx, steps = [], []
    for k in range(n):
        s = np.flatnonzero(rng.random(n_steps) < rate_hz * float(DT))
        idx += [k] * len(s)
        steps += list(s)
    return np.array(idx, dtype=int), np.array(steps, dtype=int)


def _run_brian(rule, pre_spk, post_spk, n_pre, n_post, w0, n_steps):
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = DT
    pre = b2.SpikeGeneratorGroup(n_pre, pre_spk[0], pre_spk[1] * DT)
    post = b2.SpikeGeneratorGroup(n_post, post_spk[0], post_spk[1] * DT)
    syn = rule.connect(pre, post, effect="", w=w0)
    b2.run(n_steps * DT)
    return np.asarray(syn.i[:]), np.asarray(syn.j[:]), np.asarray(syn.w[:], dtype=float), float(syn.namespace["w_max"])


def _numpy_restatement(rule, syn_i, syn_j, pre_spk, post_spk, w0, w_max):
    """Event-by-event re-simulation built from rule.py (via vogels_madam_step = rule.madam_update
    with g = -sign(w) d): Vogels drive d = x_post - alpha at a pre spike, d = x_pre at a post spike;
    pre events before post events within a time step, as Brian2 runs its pathways."""
    tau = float(rule.tau_stdp)
    out = np.empty(len(syn_i))
    for s in range(len(syn_i)):
        events = sorted([(k, 0) for k in pre_spk[1][pre_spk[0] == syn_i[s]]]
                        + [(k, 1) for k in post_spk[1][post_spk[0] == syn_j[s]]])
        w = np.array([w0[s]])
        state = R.MadamState(np.zeros(1), 0, w_max)
        x_pre = x_post = last = 0.0
        for k, kind in events:
            t = k * float(DT)
            x_pre *= np.exp(-(t - last) / tau)
            x_post *= np.exp(-(t - last) / tau)
            last = t
            if kind == 0:
                x_pre += 1.0
                d = x_post - rule.alpha
            else:
                x_post += 1.0
                d = x_pre
            w, state = vogels_madam_step(w, np.array([d]), state, rule.lr, rule.beta, rule.g_bound)
        out[s] = w[0]
    return out


@pytest.mark.parametrize("params", [{}, {"rho0_hz": 12.0, "lr": 0.05, "beta": 0.9, "g_bound": 1.5, "w_max": 0.006}])
def test_step_matches_numpy_restatement_from_rule_py(params):
    rng = np.random.default_rng(3)
    n_steps, n_pre, n_post = 6000, 3, 2
    pre_spk = _spike_train(rng, n_pre, 50.0, n_steps)
    post_spk = _spike_train(rng, n_post, 30.0, n_steps)
    w0 = -rng.uniform(0.002, 0.005, n_pre * n_post)
    w0[::4] *= -1  # the rule acts on |w| whatever the sign convention of the synapse
    rule = make_rule("vogels_madam", **params)
    syn_i, syn_j, w, w_max = _run_brian(rule, pre_spk, post_spk, n_pre, n_post, w0, n_steps)
    ref = _numpy_restatement(rule, syn_i, syn_j, pre_spk, post_spk, w0, w_max)
    np.testing.assert_allclose(w, ref, rtol=1e-9, atol=0)
    assert np.all(np.sign(w) == np.sign(w0)), "no inhibitory (or excitatory) weight may change sign"
    assert np.all(np.abs(np.log(np.abs(w) / np.abs(w0))) > 1e-3), "every synapse saw events and must move"
    if "w_max" in params:
        assert np.any(np.abs(w) >= w_max * (1 - 1e-12)), "this case must reach the magnitude bound"


def test_alpha_and_expected_drive():
    assert vogels_alpha(5.0, 0.02) == pytest.approx(0.2)
    # zero drive exactly at the target rate, positive above, negative below
    assert expected_drive_rate(20.0, 5.0, 5.0, 0.02) == pytest.approx(0.0)
    assert expected_drive_rate(20.0, 8.0, 5.0, 0.02) > 0 > expected_drive_rate(20.0, 2.0, 5.0, 0.02)
    rule = VogelsMadam(rho0_hz=3.0, tau_stdp=10 * b2.ms)
    assert rule.alpha == pytest.approx(0.06) and rule.namespace()["vogels_alpha"] == pytest.approx(0.06)
    assert rule.lr == R.DEFAULT_LR and rule.beta == R.DEFAULT_BETA and rule.p_scale == R.DEFAULT_P_SCALE


@pytest.mark.parametrize("bad", [{"rho0_hz": 0.0}, {"rho0_hz": -1.0}, {"lr": -0.1}, {"tau_stdp": 5.0}])
def test_bad_parameters_are_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        VogelsMadam(**bad)


def _driven_population(rho0_hz: float, drive_ratio: float, duration_s: float, w_inh: float, seed: int = 5):
    """40 LIF neurons (Brunel's model: tau 20 ms, theta 20 mV, reset 10 mV) driven by Poisson input
    at drive_ratio x threshold rate, inhibited by 25 Poisson interneurons at 20 Hz through plastic
    VogelsMadam synapses (all-to-all, initial w_inh mV). Returns (rate first second, rate last
    second, mean ln|w| initial, mean ln|w| final, final w)."""
    b2.prefs.codegen.target = "cython"
    b2.start_scope()
    b2.seed(seed)
    b2.defaultclock.dt = DT
    ns = {"tau": 20 * b2.ms, "theta": 20 * b2.mV, "v_r": 10 * b2.mV}
    exc = b2.NeuronGroup(40, "dv/dt = -v / tau : volt (unless refractory)", threshold="v > theta",
                         reset="v = v_r", refractory=2 * b2.ms, method="exact", namespace=ns)
    c_e, j = 100, 0.2
    nu_thr = 20.0 / (j * c_e * 0.02)
    ext = b2.PoissonInput(exc, "v", c_e, drive_ratio * nu_thr * b2.Hz, weight=j * b2.mV)
    inh = b2.PoissonGroup(25, 20 * b2.Hz)
    rule = make_rule("vogels_madam", rho0_hz=rho0_hz, lr=0.05, w_max=6.0)
    syn = rule.connect(inh, exc, effect="v_post += w * mV * int(not_refractory_post)", w=w_inh)
    syn.namespace["mV"] = b2.mV
    spikes = b2.SpikeMonitor(exc)
    w0 = np.asarray(syn.w[:], dtype=float).copy()
    b2.run(duration_s * b2.second)
    t = np.asarray(spikes.t[:], dtype=float)
    first = np.sum(t < 1.0) / 40.0
    last = np.sum(t >= duration_s - 1.0) / 40.0
    w = np.asarray(syn.w[:], dtype=float)
    return first, last, np.mean(np.log(np.abs(w0))), np.mean(np.log(np.abs(w))), w


def test_inhibition_moves_the_rate_towards_the_target_from_above_and_below():
    """The fixed point of the rule is the target rate: a population firing above rho0 gains
    inhibition, one below loses it, and both end closer to rho0 than they started."""
    rho0 = 5.0
    # above: strong drive, weak inhibition -> ~20-40 Hz at first
    f_hi, l_hi, m0_hi, m1_hi, w_hi = _driven_population(rho0, 1.6, 5.0, -0.3)
    # below: weak drive, strong inhibition -> ~0-1 Hz at first
    f_lo, l_lo, m0_lo, m1_lo, w_lo = _driven_population(rho0, 1.3, 5.0, -3.0)
    assert f_hi > 2 * rho0 and f_lo < rho0 / 2, (f_hi, f_lo)  # the two start on either side of rho0
    assert m1_hi > m0_hi + 0.2, "firing above the target must strengthen inhibition"
    assert m1_lo < m0_lo - 0.2, "firing below the target must weaken inhibition"
    assert abs(np.log(l_hi / rho0)) < abs(np.log(f_hi / rho0)) and abs(np.log(l_lo / rho0)) < abs(np.log(max(f_lo, 1e-3) / rho0))
    assert rho0 / 2.5 < l_hi < rho0 * 2.5 and rho0 / 2.5 < l_lo < rho0 * 2.5, (l_hi, l_lo)
    assert np.all(w_hi < 0) and np.all(w_lo < 0), "inhibitory weights keep their sign"
