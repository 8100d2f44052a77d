"""Brian2 plasticity rules against numpy re-simulations (Madam-STDP via synapse_madam.rule)."""

import subprocess
import sys

import numpy as np
import pytest

b2 = pytest.importorskip("brian2")

from synapse_madam import rule as R  # noqa: E402
from synapse_madam.spiking import make_rule  # noqa: E402

DT = 0.1 * b2.ms


def _spike_train(rng, n, rate_hz, n_steps):
    """Scripted spikes: (indices, step numbers), at most one spike per neuron and step."""
    idx, steps = [], []
    for k in range(n):
        s = np.flatnonzero(rng.random(n_steps) < rate_hz * float(DT))
        idx += [k] * len(s)
        steps += list(s)
    return np.array(idx, dtype=int), np.array(steps, dtype=int)


def _scripted_network(rule, pre_spk, post_spk, n_pre, n_post, w0, target):
    """A Network of scripted pre/post spike generators joined by ``rule``'s synapses, with w
    recorded at the end of every step; returns (network, synapses, monitor)."""
    b2.prefs.codegen.target = target
    b2.start_scope()
    b2.defaultclock.dt = DT
    pre = b2.SpikeGeneratorGroup(n_pre, pre_spk[0], pre_spk[1] * DT)
    post = b2.SpikeGeneratorGroup(n_post, post_spk[0], post_spk[1] * DT)
    syn = rule.connect(pre, post, effect="", w=w0)
    mon = b2.StateMonitor(syn, "w", record=True, when="end")
    return b2.Network(pre, post, syn, mon), syn, mon


def _run_brian(rule, pre_spk, post_spk, n_pre, n_post, w0, n_steps, target):
    net, syn, mon = _scripted_network(rule, pre_spk, post_spk, n_pre, n_post, w0, target)
    net.run(n_steps * DT)
    return np.asarray(syn.i[:]), np.asarray(syn.j[:]), np.asarray(mon.w), float(syn.namespace["w_max"])


def _reference(update, syn_i, syn_j, pre_spk, post_spk, w0, n_steps, tau_plus, tau_minus, clock_every=0):
    """Event-by-event re-simulation; returns w after every time step, shape (n_syn, n_steps).

    Within one time step Brian2 runs the presynaptic pathway before the postsynaptic one.
    With ``clock_every`` = n > 0, a clock event (kind -1: the run_regularly statement, slot
    'start', so before the step's spikes) happens at steps 0, n, 2n, ..."""
    n_syn = len(syn_i)
    traj = np.empty((n_syn, n_steps))
    clock = [(k, -1) for k in range(0, n_steps, clock_every)] if clock_every else []
    for s in range(n_syn):
        pre_steps = pre_spk[1][pre_spk[0] == syn_i[s]]
        post_steps = post_spk[1][post_spk[0] == syn_j[s]]
        events = sorted([(k, 0) for k in pre_steps] + [(k, 1) for k in post_steps] + clock)
        state = {"w": np.array([w0[s]]), "apre": 0.0, "apost": 0.0, "last": 0.0, "v": np.zeros(1), "n": 0}
        cur = 0
        for k, kind in events:
            traj[s, cur:k] = state["w"][0]
            cur = k
            if kind == -1:
                update(state, kind)
                continue
            t = k * float(DT)
            elapsed = t - state["last"]
            state["apre"] *= np.exp(-elapsed / tau_plus)
            state["apost"] *= np.exp(-elapsed / tau_minus)
            state["last"] = t
            if kind == 0:
                state["apre"] += 1.0
            else:
                state["apost"] += 1.0
            update(state, kind)
        traj[s, cur:] = state["w"][0]
    return traj


def _madam_update(rule, w_max):
    def update(state, kind):
        g = np.array([rule.a_minus * state["apost"] if kind == 0 else -rule.a_plus * state["apre"]])
        state["n"] += 1
        state["v"] = R.second_moment(state["v"], g, rule.beta)
        g_hat = R.normalized_gradient(g, state["v"], state["n"], rule.beta, rule.g_bound)
        state["w"] = R.bound_magnitude(R.multiplicative_step(state["w"], g_hat, rule.lr), w_max)

    return update


def _madam_terms_update(rule, w_max, mu):
    """Madam events via rule.madam_update (bound as configured) and, at clock events, one
    rule.log_space_relaxation step with restore = theta * noise_dt (noise 0), then the hard clip."""
    dt = float(rule.noise_dt)

    def update(state, kind):
        if kind == -1:
            w = R.log_space_relaxation(state["w"], mu, rule.restore * dt, 0.0)
            state["w"] = R.bound_magnitude(w, w_max) if rule.bound == "hard" else w
            return
        g = np.array([rule.a_minus * state["apost"] if kind == 0 else -rule.a_plus * state["apre"]])
        st = R.MadamState(state["v"], state["n"], w_max, mu)
        state["w"], st = R.madam_update(state["w"], g, st, rule.lr, rule.beta, rule.g_bound, bound=rule.bound)
        state["v"], state["n"] = st.v, st.step

    return update


def _log_stdp_update(rule):
    """Gilson & Fukai (2011) log-STDP written out in numpy."""
    def update(state, kind):
        w = state["w"]
        if kind == 0:
            x = w / rule.w0
            f_minus = np.where(x <= 1, x, 1 + np.log(np.maximum(1 + rule.alpha * (x - 1), 1)) / rule.alpha)
            w = np.maximum(w - rule.eta * rule.c_minus * f_minus * state["apost"], 0)
        else:
            w = w + rule.eta * rule.c_plus * np.exp(-w / (rule.beta * rule.w0)) * state["apre"]
        state["w"] = w

    return update


def _weight_dependent_update(rule, w_max):
    def update(state, kind):
        w = state["w"]
        if kind == 0:
            w = w - rule.a_minus * w_max * (w / w_max) ** rule.mu_minus * state["apost"]
        else:
            w = w + rule.a_plus * w_max * (1 - w / w_max) ** rule.mu_plus * state["apre"]
        state["w"] = np.clip(w, 0, w_max)

    return update


def _scenario(seed, n_steps, signed):
    rng = np.random.default_rng(seed)
    n_pre, n_post = 3, 2
    pre_spk = _spike_train(rng, n_pre, 60.0, n_steps)
    post_spk = _spike_train(rng, n_post, 40.0, n_steps)
    w0 = rng.uniform(0.002, 0.008, n_pre * n_post)
    if signed:
        w0[::3] *= -1  # inhibitory synapses among them
    return n_pre, n_post, pre_spk, post_spk, w0


MADAM_CASES = [
    {},  # the published defaults, taken from synapse_madam.rule
    {"lr": 0.05, "beta": 0.9, "g_bound": 1.5, "w_max": 0.003},  # exercises both clips
]


@pytest.mark.parametrize("params", MADAM_CASES)
def test_madam_stdp_matches_rule_py_numpy_target(params):
    n_steps = 8000
    n_pre, n_post, pre_spk, post_spk, w0 = _scenario(1, n_steps, signed=True)
    rule = make_rule("madam", **params)
    syn_i, syn_j, w_brian, w_max = _run_brian(rule, pre_spk, post_spk, n_pre, n_post, w0, n_steps, "numpy")
    ref = _reference(_madam_update(rule, w_max), syn_i, syn_j, pre_spk, post_spk, w0, n_steps,
                     float(rule.tau_plus), float(rule.tau_minus))
    np.testing.assert_allclose(w_brian, ref, rtol=1e-9, atol=0)
    assert np.all(np.sign(w_brian) == np.sign(w0)[:, None]), "Madam-STDP must keep every weight's sign"
    moved = np.abs(np.log(np.abs(w_brian[:, -1]) / np.abs(w0)))
    assert np.all(moved > 1e-3), "every synapse saw pairs, so every weight must have moved"
    if "w_max" in params:
        assert np.any(np.abs(w_brian) >= w_max * (1 - 1e-12)), "this case must hit the magnitude bound"
        assert w_max == params["w_max"]
    else:
        assert w_max == pytest.approx(R.DEFAULT_P_SCALE * np.sqrt(np.mean(w0**2)))


def test_madam_stdp_matches_rule_py_cython_target():
    """The same on the compiled target (the first run compiles, ~30 s; then cached)."""
    n_steps = 5000
    n_pre, n_post, pre_spk, post_spk, w0 = _scenario(2, n_steps, signed=True)
    rule = make_rule("madam", lr=0.05, beta=0.9, g_bound=1.5)
    syn_i, syn_j, w_brian, w_max = _run_brian(rule, pre_spk, post_spk, n_pre, n_post, w0, n_steps, "cython")
    ref = _reference(_madam_update(rule, w_max), syn_i, syn_j, pre_spk, post_spk, w0, n_steps,
                     float(rule.tau_plus), float(rule.tau_minus))
    np.testing.assert_allclose(w_brian, ref, rtol=1e-9, atol=0)


@pytest.mark.parametrize("name,params", [("additive", {}), ("van_rossum", {}), ("gutig", {"mu": 0.4}),
                                          ("additive", {"a_plus": 0.2, "w_max": 0.008})])
def test_weight_dependent_stdp_matches_reference(name, params):
    n_steps = 6000
    n_pre, n_post, pre_spk, post_spk, w0 = _scenario(3, n_steps, signed=False)
    rule = make_rule(name, **params)
    syn_i, syn_j, w_brian, w_max = _run_brian(rule, pre_spk, post_spk, n_pre, n_post, w0, n_steps, "numpy")
    ref = _reference(_weight_dependent_update(rule, w_max), syn_i, syn_j, pre_spk, post_spk, w0, n_steps,
                     float(rule.tau_plus), float(rule.tau_minus))
    np.testing.assert_allclose(w_brian, ref, rtol=1e-9, atol=1e-15)
    assert np.all((w_brian >= 0) & (w_brian <= w_max))
    assert not np.allclose(w_brian[:, -1], w0)


def test_madam_noise_is_multiplicative_and_sign_preserving():
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.seed(4)
    silent = b2.SpikeGeneratorGroup(1, [], [] * b2.ms)
    rule = make_rule("madam", noise_std=0.5, noise_dt=50 * b2.ms, w_max=1.0)
    w0 = np.where(np.arange(400) % 2, 0.1, -0.1)
    syn = rule.connect(silent, silent, effect="", i=np.zeros(400, int), j=np.zeros(400, int), w=w0)
    b2.run(2 * b2.second)
    w = np.asarray(syn.w[:])
    assert np.all(np.sign(w) == np.sign(w0))
    log_step = np.log(np.abs(w) / 0.1)
    # 40 noise steps of std 0.5*sqrt(0.05) each: total std 0.5*sqrt(2 s) = 0.707
    assert np.std(log_step) == pytest.approx(0.5 * np.sqrt(2.0), rel=0.15)
    assert abs(np.mean(log_step)) < 0.15


def test_rule_defaults_come_from_rule_py():
    rule = make_rule("madam")
    assert (rule.lr, rule.beta, rule.g_bound, rule.p_scale) == (
        R.DEFAULT_LR, R.DEFAULT_BETA, R.DEFAULT_G_BOUND, R.DEFAULT_P_SCALE)
    add = make_rule("additive")
    assert add.w_max == 0.01 and add.a_minus == pytest.approx(1.05 * add.a_plus)


def test_user_errors_are_clear():
    with pytest.raises(ValueError, match="unknown plasticity rule"):
        make_rule("hebb")
    with pytest.raises(ValueError, match="lr"):
        make_rule("madam", lr=-1)
    with pytest.raises(TypeError, match="tau_plus"):
        make_rule("additive", tau_plus=20)
    with pytest.raises(ValueError, match="rule 'additive'"):
        make_rule("additive", lr=0.01)
    b2.start_scope()
    g = b2.SpikeGeneratorGroup(2, [], [] * b2.ms)
    with pytest.raises(ValueError, match=">= 0"):
        make_rule("additive").connect(g, g, effect="", w=-0.001)
    with pytest.raises(ValueError, match="w_max"):
        make_rule("madam").connect(g, g, effect="", w="rand()*w_max")


def test_import_without_brian2():
    code = (
        "import sys; sys.modules['brian2'] = None\n"
        "import synapse_madam, synapse_madam.spiking, synapse_madam.spiking.runner\n"
        "try:\n    synapse_madam.spiking.make_rule('madam')\nexcept ImportError as e:\n    print('ok', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


# --- opt-in terms of rule.py: log-space drift, fluctuations, soft/none bound ------------------

TERM_CASES = [
    ("numpy", {"restore": 2.0, "noise_dt": 20 * b2.ms}),  # drift only, published hard bound
    ("numpy", {"restore": 1.0, "set_point": 2.0, "lr": 0.05, "w_max": 0.006, "noise_dt": 10 * b2.ms}),
    ("numpy", {"restore": 1.0, "set_point": 2.0, "lr": 0.05, "w_max": 0.006, "bound": "soft",
               "noise_dt": 10 * b2.ms}),
    ("numpy", {"lr": 0.05, "w_max": 0.006, "bound": "soft"}),  # soft bound alone
    ("numpy", {"restore": 0.5, "lr": 0.05, "bound": "none", "noise_dt": 30 * b2.ms}),
    ("cython", {"restore": 1.0, "set_point": 2.0, "lr": 0.05, "w_max": 0.006, "bound": "soft",
                "noise_dt": 10 * b2.ms}),
]


@pytest.mark.parametrize("target,params", TERM_CASES)
def test_madam_stdp_terms_match_rule_py(target, params):
    """Events (rule.madam_update with the bound) and the clock-driven drift
    (rule.log_space_relaxation with restore = theta * noise_dt), re-simulated in numpy."""
    n_steps = 6000
    n_pre, n_post, pre_spk, post_spk, w0 = _scenario(5, n_steps, signed=True)
    rule = make_rule("madam", **params)
    syn_i, syn_j, w_brian, w_max = _run_brian(rule, pre_spk, post_spk, n_pre, n_post, w0, n_steps, target)
    mu = float(R.initial_log_set_point(w0, rule.set_point))
    every = int(round(float(rule.noise_dt) / float(DT))) if rule.restore else 0
    args = (syn_i, syn_j, pre_spk, post_spk, w0, n_steps, float(rule.tau_plus), float(rule.tau_minus))
    ref = _reference(_madam_terms_update(rule, w_max, mu), *args, clock_every=every)
    np.testing.assert_allclose(w_brian, ref, rtol=1e-9, atol=0)
    assert np.all(np.sign(w_brian) == np.sign(w0)[:, None]), "no weight may change sign"
    # the terms must matter: the published rule on the same spikes ends elsewhere
    published = _reference(_madam_update(make_rule("madam", lr=rule.lr, w_max=w_max), w_max), *args)
    assert np.max(np.abs(np.log(np.abs(ref[:, -1] / published[:, -1])))) > 1e-2
    if rule.bound == "soft":  # potentiation stops at w_max; only drift can carry |w| past it
        assert rule.restore or np.all(np.abs(w_brian) <= w_max * (1 + 1e-12))
        unbounded = make_rule("madam", **{**params, "bound": "none"})
        free = _reference(_madam_terms_update(unbounded, w_max, mu), *args, clock_every=every)
        assert np.max(np.abs(np.log(np.abs(ref[:, -1] / free[:, -1])))) > 1e-2, "the soft factor must act"
    if rule.bound == "hard":
        assert np.all(np.abs(w_brian) <= w_max * (1 + 1e-12))


def _silent_population(n, w0, seed, **params):
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = 1 * b2.ms
    b2.seed(seed)
    silent = b2.SpikeGeneratorGroup(1, [], [] * b2.ms)
    rule = make_rule("madam", **params)
    syn = rule.connect(silent, silent, effect="", i=np.zeros(n, int), j=np.zeros(n, int), w=w0)
    return rule, syn, b2.Network(silent, syn)


@pytest.mark.parametrize("init", ["uniform", "constant"])
def test_madam_stdp_fluctuations_reach_the_stationary_law(init):
    """No spikes: ln|w| is the exact-step OU process with stationary N(mu, noise_std^2 / (2 restore))
    (rule.stationary_log_moments), whatever the initial law of that RMS; signs never flip."""
    n, theta, s, dt = 20_000, 1.0, 0.4, 50 * b2.ms
    rng = np.random.default_rng(3)
    sign = np.where(rng.random(n) < 0.3, -1.0, 1.0)  # 30 % inhibitory
    mag = rng.uniform(0, 0.01, n) if init == "uniform" else np.full(n, 0.01 / np.sqrt(3))  # same RMS
    w0 = sign * mag
    rule, syn, net = _silent_population(n, w0, 11, restore=theta, noise_std=s, noise_dt=dt, set_point=0.5,
                                        bound="none")
    net.run(8 * b2.second)  # 8 relaxation times
    w = np.asarray(syn.w[:])
    assert np.all(np.sign(w) == sign)
    x = np.log(np.abs(w))
    mu, var = R.stationary_log_moments(R.initial_log_set_point(w0, 0.5), theta * float(dt),
                                       s * np.sqrt(float(dt)))
    assert var == pytest.approx(s**2 / (2 * theta))
    assert abs(x.mean() - mu) < 5 * np.sqrt(var / n)
    assert abs(x.var() - var) < 5 * var * np.sqrt(2 / n)


def test_seeded_brian2_fluctuations_reproduce():
    w0 = np.linspace(-0.01, 0.01, 501)
    w0 = w0[w0 != 0]
    finals = []
    for seed in (5, 5, 6):
        _, syn, net = _silent_population(w0.size, w0, seed, restore=0.5, noise_std=0.3, w_max=0.02)
        net.run(1 * b2.second)
        finals.append(np.asarray(syn.w[:]).copy())
    np.testing.assert_array_equal(finals[0], finals[1])
    assert not np.array_equal(finals[0], finals[2])
    assert np.all(np.abs(finals[0]) <= 0.02) and np.all(np.sign(finals[0]) == np.sign(w0))


def test_noise_without_restore_is_the_old_random_walk():
    """restore = 0 keeps the earlier noise_std statement (so older seeded runs reproduce)."""
    rule = make_rule("madam", noise_std=0.5, noise_dt=50 * b2.ms)
    assert rule.clock_statement() == "w = clip(w * exp(ou_sd * randn()), -w_max, w_max)"
    assert rule.ou_coefficients() == (1.0, pytest.approx(0.5 * np.sqrt(0.05)))
    assert make_rule("madam").clock_statement() is None


def test_log_stdp_matches_reference():
    n_steps = 6000
    n_pre, n_post, pre_spk, post_spk, _ = _scenario(3, n_steps, signed=False)
    w0 = np.linspace(0.001, 0.02, n_pre * n_post)  # both branches of f_minus (w0 = 0.005)
    rule = make_rule("log_stdp", eta=2e-3)
    syn_i, syn_j, w_brian, _ = _run_brian_unbounded(rule, pre_spk, post_spk, n_pre, n_post, w0, n_steps)
    ref = _reference(_log_stdp_update(rule), syn_i, syn_j, pre_spk, post_spk, w0, n_steps,
                     float(rule.tau_plus), float(rule.tau_minus))
    np.testing.assert_allclose(w_brian, ref, rtol=1e-9, atol=1e-15)
    assert np.all(w_brian >= 0) and not np.allclose(w_brian[:, -1], w0)


def _run_brian_unbounded(rule, pre_spk, post_spk, n_pre, n_post, w0, n_steps):
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = DT
    pre = b2.SpikeGeneratorGroup(n_pre, pre_spk[0], pre_spk[1] * DT)
    post = b2.SpikeGeneratorGroup(n_post, post_spk[0], post_spk[1] * DT)
    syn = rule.connect(pre, post, effect="", w=w0)
    mon = b2.StateMonitor(syn, "w", record=True, when="end")
    b2.run(n_steps * DT)
    return np.asarray(syn.i[:]), np.asarray(syn.j[:]), np.asarray(mon.w), None


def test_term_errors_are_clear():
    with pytest.raises(ValueError, match="bound"):
        make_rule("madam", bound="sticky")
    with pytest.raises(ValueError, match="restore"):
        make_rule("madam", restore=-1.0)
    with pytest.raises(ValueError, match="set_point"):
        make_rule("madam", set_point=0.0)
    b2.start_scope()
    g = b2.SpikeGeneratorGroup(2, [], [] * b2.ms)
    with pytest.raises(ValueError, match="set point"):
        make_rule("madam", restore=1.0, w_max=0.01).connect(g, g, effect="", w=0.0)
