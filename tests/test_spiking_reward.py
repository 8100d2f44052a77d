"""Three-factor rules (issue 14, item 1): Brian2 statements against a numpy re-simulation.

The re-simulation follows the discrete scheme of synapse_madam/spiking/reward.py event by event:
within one time step, a reward delivered before the step, then the clock tick (weight step with
the current c and d, then c and d decay), then presynaptic and then postsynaptic spikes. The
Madam weight step is rule.madam_update; the additive step is written out in numpy.
"""

import subprocess
import sys

import numpy as np
import pytest

b2 = pytest.importorskip("brian2")

from synapse_madam import rule as R  # noqa: E402
from synapse_madam.spiking import deliver_reward, make_rule  # noqa: E402
from synapse_madam.spiking import runner  # noqa: E402
from test_spiking_plasticity import DT as PLASTICITY_DT, _scripted_network, _spike_train  # noqa: E402

DT = 0.1 * b2.ms
assert DT == PLASTICITY_DT  # _spike_train draws per step of this length
N_STEPS = 10_000  # 1 s of biological time, 100 ticks of 10 ms
#: scripted rewards (time step, amount): between ticks, exactly on a tick (step 3000), negative
REWARDS = [(1250, 0.5), (3000, 0.5), (5470, -0.4), (8001, 0.8)]




def _scenario(seed, lo, hi, signed, n_pre=4, n_post=3):
    rng = np.random.default_rng(seed)
    pre_spk = _spike_train(rng, n_pre, 60.0, N_STEPS)
    post_spk = _spike_train(rng, n_post, 40.0, N_STEPS)
    w0 = rng.uniform(lo, hi, n_pre * n_post)
    if signed:
        w0[::3] *= -1  # inhibitory synapses among them
    return n_pre, n_post, pre_spk, post_spk, w0


def _run_brian(rule, n_pre, n_post, pre_spk, post_spk, w0, rewards, target, n_steps=N_STEPS, elig_ref=None):
    """Run in pieces; each reward is delivered between two runs, i.e. before its time step."""
    net, syn, mon = _scripted_network(rule, pre_spk, post_spk, n_pre, n_post, w0, target)
    if elig_ref is not None:
        syn.elig_ref = elig_ref
    done = 0
    for step, amount in sorted(rewards):
        if step > done:
            net.run((step - done) * DT)
            done = step
        deliver_reward(syn, amount)
    net.run((n_steps - done) * DT)
    w = np.asarray(mon.w)
    assert w.shape == (len(w0), n_steps)
    return np.asarray(syn.i[:]), np.asarray(syn.j[:]), w, float(syn.namespace["w_max"]), syn


def _reference(rule, weight_step, syn_i, syn_j, pre_spk, post_spk, w0, rewards, w_max, n_steps=N_STEPS,
               elig_ref=None):
    """Event-by-event numpy re-simulation; returns w after every time step, shape (n_syn, n_steps).

    Event kinds within one step, in this order: -2 reward (d += amount), -1 tick (weight step,
    c *= exp(-update_dt/tau_c), d *= exp(-update_dt/tau_d)), 0 pre spike, 1 post spike."""
    every = int(round(float(rule.update_dt) / float(DT)))
    c_decay = np.exp(-float(rule.update_dt) / float(rule.tau_c))
    d_decay = np.exp(-float(rule.update_dt) / float(rule.tau_d))
    tau_plus, tau_minus = float(rule.tau_plus), float(rule.tau_minus)
    ticks = [(k, -1, 0.0) for k in range(0, n_steps, every)]
    rew = [(k, -2, a) for k, a in rewards]
    traj = np.empty((len(syn_i), n_steps))
    for s in range(len(syn_i)):
        spikes = [(k, 0, 0.0) for k in pre_spk[1][pre_spk[0] == syn_i[s]]]
        spikes += [(k, 1, 0.0) for k in post_spk[1][post_spk[0] == syn_j[s]]]
        state = {"w": np.array([w0[s]]), "apre": 0.0, "apost": 0.0, "last": 0.0, "c": 0.0, "d": 0.0,
                 "madam": R.MadamState(np.zeros(1), 0, w_max)}
        cur = 0
        for k, kind, amount in sorted(spikes + ticks + rew):
            traj[s, cur:k] = state["w"][0]
            cur = k
            if kind == -2:
                state["d"] += amount
            elif kind == -1:
                weight_step(state)
                state["c"] *= c_decay
                state["d"] *= d_decay
            else:
                t = k * float(DT)
                state["apre"] *= np.exp(-(t - state["last"]) / tau_plus)
                state["apost"] *= np.exp(-(t - state["last"]) / tau_minus)
                state["last"] = t
                if kind == 0:
                    state["apre"] += 1.0
                    state["c"] -= rule.a_minus * state["apost"]
                else:
                    state["apost"] += 1.0
                    state["c"] += rule.a_plus * (state["apre"] - (0.0 if elig_ref is None else elig_ref[s]))
        traj[s, cur:] = state["w"][0]
    return traj


def _madam_step(rule, w_max, seen):
    """One rule.madam_update per tick with g = -(c d); counts the ticks that hit each clip."""
    def step(state):
        g = np.array([-(state["c"] * state["d"])])
        w_new, st = R.madam_update(state["w"], g, state["madam"], rule.lr, rule.beta, rule.g_bound)
        raw = g / np.sqrt(np.maximum(st.v / (1 - rule.beta ** st.step), np.finfo(float).tiny))
        seen["g_clip"] += int(abs(raw[0]) > rule.g_bound)
        free = R.multiplicative_step(state["w"], R.normalized_gradient(g, st.v, st.step, rule.beta, rule.g_bound),
                                     rule.lr)
        seen["w_clip"] += int(abs(free[0]) > w_max)
        state["w"], state["madam"] = w_new, st

    return step


def _additive_step(rule, w_max, seen):
    def step(state):
        w = state["w"] + rule.eta * float(rule.update_dt) * state["c"] * state["d"]
        seen["w_clip"] += int(w[0] < 0 or w[0] > w_max)
        state["w"] = np.clip(w, 0.0, w_max)

    return step


MADAM_CASES = [
    {},  # the published Madam defaults (rule.py) and Izhikevich 2007's tau_c, tau_d
    {"lr": 0.05, "beta": 0.9, "g_bound": 1.5, "w_max": 0.006},  # hits the g_bound and the w_max clips
]
ADDITIVE_CASES = [
    {},  # Izhikevich's daspnet.m values
    {"eta": 2000.0, "w_max": 2.0},  # hits both bounds, 0 and w_max
]


def _check_madam(params, target, seed, elig_ref=None):
    n_pre, n_post, pre_spk, post_spk, w0 = _scenario(seed, 0.002, 0.008, signed=True)
    rule = make_rule("madam_reward", **params)
    syn_i, syn_j, w_brian, w_max, _ = _run_brian(rule, n_pre, n_post, pre_spk, post_spk, w0, REWARDS, target,
                                                 elig_ref=elig_ref)
    seen = {"g_clip": 0, "w_clip": 0}
    ref = _reference(rule, _madam_step(rule, w_max, seen), syn_i, syn_j, pre_spk, post_spk, w0, REWARDS, w_max,
                     elig_ref=elig_ref)
    np.testing.assert_allclose(w_brian, ref, rtol=1e-9, atol=0)
    assert np.all(np.sign(w_brian) == np.sign(w0)[:, None]), "madam_reward must keep every weight's sign"
    assert np.all(np.abs(w_brian) <= w_max * (1 + 1e-12))
    # (from the first recorded step on: at tick 0 an initial |w| above an explicit w_max is clipped)
    steps = np.abs(np.diff(np.log(np.abs(w_brian)), axis=1))
    assert steps.max() <= rule.lr * rule.g_bound * (1 + 1e-9), "ln|w| moves by at most lr*g_bound per tick"
    moved = np.abs(np.log(np.abs(w_brian[:, -1]) / np.abs(w0)))
    assert np.all(moved > 1e-3), "every synapse had pairs and rewards, so every weight must have moved"
    return rule, w_max, seen, w0


@pytest.mark.parametrize("params", MADAM_CASES)
def test_madam_reward_matches_rule_py_numpy_target(params):
    rule, w_max, seen, w0 = _check_madam(params, "numpy", seed=1)
    if "w_max" in params:
        assert seen["g_clip"] > 0, "this case must reach g_bound"
        assert w_max == params["w_max"] and seen["w_clip"] > 0, "this case must hit the magnitude bound"
    else:
        assert w_max == pytest.approx(R.DEFAULT_P_SCALE * np.sqrt(np.mean(w0**2)))
        assert (rule.lr, rule.beta, rule.g_bound, rule.p_scale) == (
            R.DEFAULT_LR, R.DEFAULT_BETA, R.DEFAULT_G_BOUND, R.DEFAULT_P_SCALE)


def _check_additive(params, target, seed, elig_ref=None):
    n_pre, n_post, pre_spk, post_spk, w0 = _scenario(seed, 0.5, 1.9, signed=False)
    rule = make_rule("additive_reward", **params)
    syn_i, syn_j, w_brian, w_max, _ = _run_brian(rule, n_pre, n_post, pre_spk, post_spk, w0, REWARDS, target,
                                                 elig_ref=elig_ref)
    seen = {"g_clip": 0, "w_clip": 0}
    ref = _reference(rule, _additive_step(rule, w_max, seen), syn_i, syn_j, pre_spk, post_spk, w0, REWARDS, w_max,
                     elig_ref=elig_ref)
    # (this comparison also pins the order within a tick: Madam's normalisation cancels a common
    # factor of all gradients, so decaying d or c before the weight step would go unseen there)
    np.testing.assert_allclose(w_brian, ref, rtol=1e-9, atol=1e-12)
    assert np.all((w_brian >= 0) & (w_brian <= w_max))
    assert np.all(np.abs(w_brian[:, -1] - w0) > 1e-6), "every weight must have moved"
    return rule, w_max, seen, w_brian


@pytest.mark.parametrize("params", ADDITIVE_CASES)
def test_additive_reward_matches_reference_numpy_target(params):
    rule, w_max, seen, w = _check_additive(params, "numpy", seed=2)
    if "w_max" in params:
        assert np.any(w == 0.0) and np.any(w == w_max), "this case must hit both bounds"
    else:
        assert (w_max, rule.eta, rule.a_plus, rule.a_minus) == (4.0, 100.0, 0.1, 0.15)
        assert float(rule.tau_c) == pytest.approx(1.0) and float(rule.tau_d) == pytest.approx(0.2)


@pytest.mark.parametrize("name", ["madam_reward", "additive_reward"])
def test_centred_eligibility_matches_reference(name):
    """eligibility = "centred": c += a_plus (apre - elig_ref) at a post spike, per-synapse elig_ref
    (here 0.3 to 1.5 around the mean pre trace 60 Hz x 20 ms = 1.2), against the same numpy
    re-simulation (with a reference that large, many increments are negative)."""
    ref = np.linspace(0.3, 1.5, 12)
    if name == "madam_reward":
        rule, *_ = _check_madam({"eligibility": "centred"}, "numpy", seed=5, elig_ref=ref)
    else:
        rule, *_ = _check_additive({"eligibility": "centred", "w_max": 2.0}, "numpy", seed=5, elig_ref=ref)
    assert rule.eligibility == "centred"
    with pytest.raises(ValueError, match="eligibility is 'covariance'; allowed: hebbian, centred"):
        make_rule(name, eligibility="covariance")


@pytest.mark.parametrize("name", ["madam_reward", "additive_reward"])
def test_step_factor_scales_the_step_and_zero_freezes(name):
    """set_step_factor rescales the rule's step constant (Madam's lr, additive's eta update_dt)
    between runs without rebuilding; factor 0 keeps every weight where it is despite rewards."""
    n_pre, n_post, pre_spk, post_spk, w0 = _scenario(6, *((0.002, 0.008, True) if name == "madam_reward"
                                                          else (0.5, 1.9, False)))
    rule = make_rule(name)
    key = rule.step_key
    net, syn, mon = _scripted_network(rule, pre_spk, post_spk, n_pre, n_post, w0, "numpy")
    base = syn.namespace[key]
    rule.set_step_factor(syn, 0.25)
    assert syn.namespace[key] == pytest.approx(0.25 * base)
    rule.set_step_factor(syn, 0.0)
    start = np.array(syn.w[:])  # w0 as stored (madam_reward: sign and ln|w|, read back to 1 ulp)
    np.testing.assert_allclose(start, w0, rtol=1e-15, atol=0)
    net.run(5000 * DT)
    deliver_reward(syn, 1.0)
    net.run(1000 * DT)
    np.testing.assert_array_equal(np.asarray(syn.w[:]), start)
    rule.set_step_factor(syn, 1.0)
    assert syn.namespace[key] == base
    deliver_reward(syn, 1.0)
    net.run(1000 * DT)
    assert np.all(np.abs(np.asarray(syn.w[:]) / start - 1) > 1e-12)
    with pytest.raises(ValueError, match="step factor must be a number >= 0"):
        rule.set_step_factor(syn, -1.0)


@pytest.mark.parametrize("name", ["madam_reward", "additive_reward"])
def test_reward_rules_match_reference_cython_target(name):
    """The clip cases on the compiled target (the first run compiles, ~30 s each; then cached)."""
    if name == "madam_reward":
        _, _, seen, _ = _check_madam(MADAM_CASES[1], "cython", seed=3)
    else:
        _, _, seen, _ = _check_additive(ADDITIVE_CASES[1], "cython", seed=3)
    assert seen["w_clip"] > 0 and (name == "additive_reward" or seen["g_clip"] > 0)


@pytest.mark.parametrize("name,lo,hi,signed", [("madam_reward", 0.002, 0.008, True),
                                               ("additive_reward", 0.5, 1.9, False)])
def test_without_reward_no_weight_moves(name, lo, hi, signed):
    """d = 0: the eligibility trace fills, but w stays exactly where it started. For Madam every
    tick is a step with zero gradient: n counts the ticks, v stays 0, w does not move."""
    n_pre, n_post, pre_spk, post_spk, w0 = _scenario(4, lo, hi, signed)
    rule = make_rule(name)
    _, _, w, _, syn = _run_brian(rule, n_pre, n_post, pre_spk, post_spk, w0, [], "numpy")
    np.testing.assert_allclose(w[:, 0], w0, rtol=1e-15, atol=0)  # as stored (madam_reward: ln|w|)
    np.testing.assert_array_equal(w, np.repeat(w[:, :1], N_STEPS, axis=1))
    assert np.all(np.asarray(syn.elig_c[:]) != 0), "pairs happened, so c must be nonzero"
    assert float(syn.mod_d[:]) == 0.0
    if name == "madam_reward":
        assert np.all(np.asarray(syn.madam_n[:]) == N_STEPS // 100)
        assert np.all(np.asarray(syn.madam_v[:]) == 0.0)


def test_madam_reward_stores_sign_and_log_magnitude():
    """madam_reward keeps (w_sign, log_w = ln|w|) and reads w = w_sign exp(log_w) (a Brian2
    subexpression): the tick adds to ln|w| with no exp per synapse. A zero weight stays exactly 0
    through rewards; an initial expression is drawn once, and w_max = p_scale RMS of those very
    weights (before, the expression was drawn a second time after w_max was computed)."""
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = DT
    pre = b2.SpikeGeneratorGroup(2, [0, 1, 0, 1], np.array([100, 110, 400, 420]) * DT)
    post = b2.SpikeGeneratorGroup(2, [0, 1, 0, 1], np.array([150, 160, 450, 470]) * DT)
    w0 = np.array([0.004, -0.003, 0.0, 0.002])
    rule = make_rule("madam_reward", lr=0.05)
    syn = rule.connect(pre, post, effect="", w=w0)
    np.testing.assert_array_equal(syn.w_sign[:], np.sign(w0))
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(syn.log_w[:], np.log(np.abs(w0)))
    np.testing.assert_allclose(syn.w[:], w0, rtol=1e-15, atol=0)
    assert syn.namespace["log_w_max"] == np.log(syn.namespace["w_max"])
    net = b2.Network(pre, post, syn)
    net.run(200 * DT)
    deliver_reward(syn, 1.0)
    net.run(600 * DT)
    w = np.asarray(syn.w[:])
    assert w[2] == 0.0 and np.all(np.sign(w) == np.sign(w0))
    assert np.all(np.abs(np.log(np.abs(w[[0, 1, 3]] / w0[[0, 1, 3]]))) > 1e-3), "rewarded pairs must move w"
    for name in ("madam_reward", "madam"):
        b2.start_scope()
        group = b2.NeuronGroup(40, "v : 1", threshold="v > 1", reset="")
        syn = make_rule(name).connect(group, group, effect="", w="(rand() - 0.3) * 0.01")
        w = np.asarray(syn.w[:])
        assert np.any(w < 0) and np.any(w > 0)
        assert syn.namespace["w_max"] == pytest.approx(R.DEFAULT_P_SCALE * np.sqrt(np.mean(w ** 2)), rel=1e-12)


@pytest.mark.parametrize("amount", [1.0, -1.0])
def test_reward_sign_moves_weights_as_documented(amount):
    """One pre-before-post pair (c > 0), then a reward: c d > 0 makes an excitatory weight larger
    and an inhibitory weight less negative (gradient semantics, as MadamSTDP); a punishment
    (d < 0) does the opposite. Additive: w grows with c d > 0 and shrinks with c d < 0."""
    pre_spk = (np.array([0]), np.array([100]))
    post_spk = (np.array([0]), np.array([150]))
    rewards = [(300, amount)]
    w0 = np.array([0.005, -0.005])
    b2.prefs.codegen.target = "numpy"
    for name, w_init in (("madam_reward", w0), ("additive_reward", np.array([1.0, 2.0]))):
        b2.start_scope()
        b2.defaultclock.dt = DT
        pre = b2.SpikeGeneratorGroup(1, pre_spk[0], pre_spk[1] * DT)
        post = b2.SpikeGeneratorGroup(1, post_spk[0], post_spk[1] * DT)
        syn = make_rule(name).connect(pre, post, effect="", i=[0, 0], j=[0, 0], w=w_init)
        net = b2.Network(pre, post, syn)
        net.run(300 * DT)
        assert np.all(np.asarray(syn.elig_c[:]) > 0)
        np.testing.assert_allclose(syn.w[:], w_init, rtol=1e-15, atol=0)  # no reward yet
        deliver_reward(syn, amount)
        net.run(1000 * DT)
        w = np.asarray(syn.w[:])
        assert np.all(np.sign(w) == np.sign(w_init))
        grows = amount > 0
        if name == "madam_reward":
            assert (w[0] > w_init[0]) == grows and (abs(w[1]) < abs(w_init[1])) == grows
        else:
            assert np.all((w > w_init) == grows)


def test_spec_style_keys_and_runner_validation():
    rule = make_rule("madam_reward", tau_c_ms=500, tau_d_ms=100, update_dt_ms=5, tau_plus_ms=17, lr=0.02,
                     a_plus=1.0, a_minus=1.2)
    assert float(rule.tau_c) == pytest.approx(0.5) and float(rule.tau_d) == pytest.approx(0.1)
    assert float(rule.update_dt) == pytest.approx(0.005) and float(rule.tau_plus) == pytest.approx(0.017)
    assert rule.lr == 0.02 and rule.decays() == pytest.approx((np.exp(-0.01), np.exp(-0.05)))
    add = make_rule("additive_reward", eta=50, w_max=2, update_dt_ms=20)
    assert add.namespace()["reward_eta_dt"] == pytest.approx(1.0)
    spec = runner.validate({"rule": {"name": "madam_reward", "tau_c_ms": 500.0, "update_dt_ms": 5.0}}, "s.toml")
    assert spec["rule"]["lr"] == R.DEFAULT_LR
    built = make_rule(**spec["rule"])
    assert built.name == "madam_reward" and float(built.update_dt) == pytest.approx(0.005)
    with pytest.raises(ValueError, match="unknown key rule.noise_std"):
        runner.validate({"rule": {"name": "madam_reward", "noise_std": 0.1}}, "s.toml")


def test_user_errors_are_clear():
    with pytest.raises(TypeError, match="tau_c"):
        make_rule("madam_reward", tau_c=1.0)
    with pytest.raises(ValueError, match="tau_d"):
        make_rule("additive_reward", tau_d_ms=-5)
    with pytest.raises(ValueError, match="update_dt"):
        make_rule("madam_reward", update_dt_ms=0)
    with pytest.raises(ValueError, match="lr"):
        make_rule("madam_reward", lr=0)
    with pytest.raises(ValueError, match="eta"):
        make_rule("additive_reward", eta=-1.0)
    with pytest.raises(ValueError, match="a_minus"):
        make_rule("madam_reward", a_minus=float("nan"))
    with pytest.raises(ValueError, match="rule 'madam_reward'.*noise_std"):
        make_rule("madam_reward", noise_std=0.1)
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    g = b2.SpikeGeneratorGroup(2, [], [] * b2.ms)
    with pytest.raises(ValueError, match=">= 0"):
        make_rule("additive_reward").connect(g, g, effect="", w=-0.5)
    syn = make_rule("madam_reward").connect(g, g, effect="", w=0.005)
    with pytest.raises(ValueError, match="finite number"):
        deliver_reward(syn, float("nan"))
    with pytest.raises(ValueError, match="finite number"):
        deliver_reward(syn, "1")
    plain = make_rule("madam").connect(g, g, effect="", w=0.005)
    with pytest.raises(TypeError, match="not a Synapses group built by a reward rule"):
        deliver_reward(plain, 1.0)
    deliver_reward([syn], 0.25)
    assert float(syn.mod_d[:]) == 0.25


def test_cpp_standalone_is_refused_with_one_clear_error(tmp_path):
    code = (
        "import brian2 as b2\n"
        "from synapse_madam.spiking import make_rule\n"
        f"b2.set_device('cpp_standalone', directory={str(tmp_path / 'sa')!r}, build_on_run=False)\n"
        "g = b2.SpikeGeneratorGroup(2, [], [] * b2.ms)\n"
        "try:\n"
        "    make_rule('additive_reward').connect(g, g, effect='', w=1.0)\n"
        "except ValueError as e:\n"
        "    print('refused:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "refused: additive_reward.connect: reward rules run on the runtime targets" in out.stdout
    assert "TimedArray" in out.stdout


@pytest.mark.parametrize("name", ["madam_reward", "additive_reward"])
def test_reward_operation_matches_delivery_between_runs(name):
    """reward_operation (a NetworkOperation on the rule's ticks, before the weight step) gives
    exactly the trajectory of delivering each reward between two runs at its own time step: a
    reward due between ticks lands at the next tick, where d is first read (module docstring)."""
    from synapse_madam.spiking import reward_operation

    lo, hi, signed = (0.002, 0.008, True) if name == "madam_reward" else (0.5, 1.9, False)
    n_pre, n_post, pre_spk, post_spk, w0 = _scenario(5, lo, hi, signed)
    rule = make_rule(name)
    _, _, w_between, _, _ = _run_brian(rule, n_pre, n_post, pre_spk, post_spk, w0, REWARDS, "numpy")

    net, syn, mon = _scripted_network(rule, pre_spk, post_spk, n_pre, n_post, w0, "numpy")
    due = sorted((step * float(DT), amount) for step, amount in REWARDS)
    seen = []

    def reward_fn(t):
        seen.append(t)
        amount = sum(a for when, a in due if when <= t + 1e-12)
        due[:] = [(when, a) for when, a in due if when > t + 1e-12]
        return amount or None

    net.add(reward_operation(syn, reward_fn, rule.update_dt))
    net.run(N_STEPS * DT)
    np.testing.assert_allclose(np.asarray(mon.w), w_between, rtol=1e-12, atol=0)
    assert not due, "every reward must have been delivered"
    np.testing.assert_allclose(seen, np.arange(N_STEPS // 100) * float(rule.update_dt), atol=1e-12)
    assert np.any(np.abs(w_between[:, -1] - w0) > 1e-6), "the rewards must have moved weights"


def test_reward_operation_with_one_modulator_per_group():
    """A dict of groups: reward_fn returns {key: amount}, each group's d gets only its own."""
    from synapse_madam.spiking import reward_operation

    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = DT
    src = b2.SpikeGeneratorGroup(1, [0], [1 * b2.ms])
    rule = make_rule("additive_reward")
    groups = {k: rule.connect(src, src, effect="", w=1.0, name=f"g{k}") for k in (0, 1)}
    op = reward_operation(groups, lambda t: {1: 0.25} if t == 0 else None, rule.update_dt)
    net = b2.Network(src, *groups.values(), op)
    net.run(DT)
    # delivered before tick 0, then decayed by that tick (clock step 3)
    assert float(groups[0].mod_d[:]) == 0.0
    assert float(groups[1].mod_d[:]) == pytest.approx(0.25 * rule.decays()[1], rel=1e-12)
    b2.start_scope()
    src = b2.SpikeGeneratorGroup(1, [0], [1 * b2.ms])
    groups = {k: rule.connect(src, src, effect="", w=1.0, name=f"h{k}") for k in (0, 1)}
    bad = reward_operation(groups, lambda t: 0.5, rule.update_dt, name="bad_op")
    with pytest.raises(TypeError, match="must return a dict"):
        b2.Network(src, *groups.values(), bad).run(DT)
