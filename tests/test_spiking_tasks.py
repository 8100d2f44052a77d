"""Reward-learning tasks of the spiking substrate (issue 14): distal reward and digits.

Tiny networks on the numpy target (no compiler): the specs run through the CLI and write the
run-folder files, the reward bookkeeping does what the docstrings say, bad specs give one line,
and an interrupted run resumes to exactly the uninterrupted result.
"""

import gc
import json

import numpy as np
import pytest

b2 = pytest.importorskip("brian2")

from synapse_madam import cli, substrates  # noqa: E402
from synapse_madam.spiking import distal, digits, make_rule, runner  # noqa: E402

TINY_DISTAL = ['target="numpy"', "duration_s=2.0", "chunk_s=1.0", "network_params.n_exc=40",
               "network_params.n_inh=10", "network_params.n_out=8"]
TINY_DIGITS = ['target="numpy"', "network_params.n_train=12", "network_params.n_test=6", "network_params.epochs=2",
               "network_params.n_per_class=2", "network_params.n_inh=3", "network_params.present_ms=30.0",
               "network_params.rest_ms=10.0", "network_params.teacher_ms=10.0"]

#: numpy deprecates float() of a one-element array; the reward operation must not do it
NO_ARRAY_TO_SCALAR = "error:Conversion of an array with ndim > 0 to a scalar:DeprecationWarning"


def _spec(name, sets):
    spec = substrates.apply_overrides(substrates.load_spec(name), sets)
    return runner.validate(spec, name)


@pytest.mark.parametrize("spec_name, sets, task", [
    ("spiking_distal_madam", TINY_DISTAL, "distal_reward"),
    ("spiking_distal_additive", TINY_DISTAL, "distal_reward"),
    ("spiking_digits_madam", TINY_DIGITS, "digits"),
    ("spiking_digits_additive", TINY_DIGITS, "digits"),
])
def test_task_spec_runs_tiny_through_the_cli(spec_name, sets, task, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", f"models/{spec_name}.toml", "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    assert cli.main(args) == 0
    headline = capsys.readouterr().out
    madam = "madam" in spec_name
    assert "sign flips 0" in headline or not madam  # additive weights may end at 0, which the digest counts
    for f in ("spec.toml", "metrics.jsonl", "summary.json", "weights.npz", "weights_init.npz", "weights.png",
              "task.png"):
        assert (out / f).is_file(), f
    assert not (out / "checkpoint.b2").exists()
    summary = json.loads((out / "summary.json").read_text())
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["weights"]["EE"]["frac_wrong_sign"] == 0 for r in rows)
    assert all(r["weights"]["EE"]["sign_flips"] == 0 for r in rows) or not madam
    ee = summary["weights"]["EE"]
    assert (ee["sign_flips"] == 0 or not madam) and ee["frac_wrong_sign"] == 0.0
    assert summary["results"]["task"] == task and summary["wall_per_bio_s"] > 0
    with np.load(out / "weights.npz") as z, np.load(out / "weights_init.npz") as z0:
        assert z["EE"].shape == z0["EE"].shape == (summary["params"]["n_plastic"],)
        assert np.all(z["EE"] > 0) if madam else np.all(z["EE"] >= 0)
    if task == "distal_reward":
        r = summary["results"]
        assert "chosen synapse percentile" in headline
        assert len(r["percentile"]) == 2 and 0 <= r["final_percentile"] <= 1
        assert summary["duration_s"] == 2.0
    else:
        blocks = summary["results"]["blocks"]
        assert [b["epoch"] for b in blocks] == [1, 2] and "test accuracy" in headline
        assert all(0 <= b["test_accuracy"] <= 1 for b in blocks)
        assert summary["duration_s"] == pytest.approx(2 * (12 + 6) * 0.04)


@pytest.mark.filterwarnings(NO_ARRAY_TO_SCALAR)  # reward_operation read the clock as float(t[:])
def test_distal_rewards_follow_each_pairing_after_1_to_3_s():
    """The bookkeeping of the reward operation: every counted pairing schedules one reward of
    `reward` at a delay drawn from default_rng((seed, k)), delivered at the first tick at or after it."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    rule = make_rule("additive_reward")
    net = distal.build_distal(rule, seed=7, n_exc=20, n_inh=5, n_out=4)
    op = next(o for o in net.network.objects if o.name == "distal_reward_delivery")
    net.detector.variables["pairs"].get_value()[0] = 2
    tick = float(rule.update_dt)
    deliveries = []
    for k in range(400):  # 4 s of ticks, called as the network would (the ticks that decay d do not run)
        before = float(net.plastic.mod_d[:])
        op.function(np.asarray([k * tick]))
        if float(net.plastic.mod_d[:]) != before:
            deliveries.append((k * tick, float(net.plastic.mod_d[:]) - before))
    delays = [np.random.default_rng((7, k)).uniform(1.0, 3.0) for k in range(2)]
    expected = sorted(np.ceil(np.array(delays) / tick - 1e-9) * tick)
    assert [t for t, _ in deliveries] == pytest.approx(expected) and all(a == 0.5 for _, a in deliveries)
    assert all(1.0 <= t <= 3.0 + tick for t, _ in deliveries)
    assert distal.task_state(net) == {"pairings": 2, "rewards_pending": 0, "dropped": 0}


def test_distal_detector_counts_the_pairings_of_the_chosen_synapse():
    """Pairings counted in compiled code = n2 spikes with a spike of neuron 0 less than 20 ms earlier."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.5 * b2.ms
    b2.seed(3)
    net = distal.build_distal(make_rule("additive_reward"), seed=3, n_exc=10, n_inh=3, n_out=3, noise=40.0)
    mon = b2.SpikeMonitor(net.neurons)
    net.network.add(mon)
    net.network.run(3 * b2.second)
    t, i = np.asarray(mon.t[:]), np.asarray(mon.i[:])
    t_pre, t_post = t[i == 0], t[i == net.post]
    assert t_pre.size > 10 and t_post.size > 10

    def count(strict):
        n = 0
        for tp in t_post:
            earlier = t_pre[t_pre < tp] if strict else t_pre[t_pre <= tp]
            n += bool(earlier.size) and tp - earlier[-1] < 0.02
        return n

    total = int(net.detector.total_pairs[0]) + int(net.detector.pairs[0])
    assert count(True) <= total <= count(False) and total > 0


def test_percentile_and_solved_time():
    assert distal.percentile(np.array([1.0, 2.0, 3.0, 3.0]), 2) == pytest.approx((2 + 0.5) / 3)
    assert distal.solved_time([1, 2, 3, 4], [0.5, 0.995, 0.98, 0.999], 0.99) == 4
    assert distal.solved_time([1, 2, 3], [0.995, 0.999, 0.992], 0.99) == 1
    assert distal.solved_time([1, 2], [0.999, 0.5], 0.99) is None


def test_digits_split_and_schedule():
    x_tr, y_tr, x_te, y_te = digits.load_split()
    assert (len(y_tr), len(y_te)) == (1347, 450) and x_tr.min() >= 0 and x_tr.max() <= 1
    assert np.ptp(np.bincount(y_te)) <= 3  # stratified: every class about a quarter of its images
    rates = digits.encode(x_tr[:3], 50.0)
    np.testing.assert_allclose(rates.sum(axis=1), 64 * 50.0)  # on/off code: the same total rate
    s = digits.make_schedule(y_tr[:5], y_te[:3], epochs=2, seed=1)
    assert s["train"].tolist() == [True] * 5 + [False] * 3 + [True] * 5 + [False] * 3
    assert sorted(s["index"][:5]) == list(range(5)) and s["index"][5:8].tolist() == [0, 1, 2]


def test_digits_validation_split_never_touches_the_test_images():
    x_tr, y_tr, x_te, y_te = digits.load_split()
    x_fit, y_fit, x_val, y_val = digits.load_split(validation_fraction=0.25)
    assert len(y_fit) + len(y_val) == len(y_tr) and len(y_val) == pytest.approx(0.25 * len(y_tr), abs=1)
    rows = {tuple(r) for r in x_tr}
    assert all(tuple(r) in rows for r in x_val) and all(tuple(r) in rows for r in x_fit)
    assert np.ptp(np.bincount(y_val)) <= 3  # stratified
    p = {**digits.DEFAULTS, "validation_fraction": 0.25, "epochs": 1}
    assert digits.duration_s(p) == pytest.approx(len(y_tr) * digits.period_s(p))
    with pytest.raises(ValueError, match="validation_fraction must be in"):
        digits._check({**digits.DEFAULTS, "validation_fraction": 1.0})


def test_digits_step_schedule_and_centred_eligibility():
    """step_schedule = "cosine": the rule's step constant is scaled by (1 + cos(pi e / E)) / 2 in
    block e, set from t before each run; eligibility = "centred": elig_ref = tau_plus times the
    input's mean rate over the training images."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    rule = make_rule("madam_reward", w_max=0.18, eligibility="centred", lr=0.004)
    net = digits.build_digits(rule, seed=1, n_train=4, n_test=2, epochs=3, n_per_class=2, n_inh=2,
                              present_ms=30.0, rest_ms=10.0, step_schedule="cosine")
    assert [net.step_factor(e) for e in range(3)] == pytest.approx([1.0, 0.75, 0.25])
    assert all(g.namespace["lr"] == pytest.approx(0.004) for g in net.plastic)
    block = 6 * 0.04
    net.before_chunk(block)
    assert all(g.namespace["lr"] == pytest.approx(0.003) for g in net.plastic)
    net.before_chunk(2 * block)
    assert all(g.namespace["lr"] == pytest.approx(0.001) for g in net.plastic)
    x_tr = digits.load_split(n_train=4, n_test=2)[0]
    mean_rate = digits.encode(x_tr, digits.DEFAULTS["rate_max_hz"]).mean(axis=0)
    g = net.plastic[3]
    np.testing.assert_allclose(np.asarray(g.elig_ref[:]), 0.02 * mean_rate[np.asarray(g.i[:])])
    b2.start_scope()
    plain = digits.build_digits(make_rule("additive_reward", w_max=1.0, eta=2.0), seed=1, n_train=4, n_test=2,
                                epochs=3, n_per_class=2, n_inh=2, present_ms=30.0, rest_ms=10.0)
    plain.before_chunk(2 * block)
    assert plain.step_factor(2) == 1.0 and plain.plastic[0].namespace["reward_eta_dt"] == pytest.approx(0.02)
    assert "elig_ref" not in plain.plastic[0].variables


@pytest.mark.filterwarnings(NO_ARRAY_TO_SCALAR)  # reward_operation read the clock as float(t[:])
def test_digits_answers_and_rewards_at_the_end_of_each_presentation():
    """The reward operation sets the image's rates at the start of a slot, reads the populations'
    spike counts at the end of the presentation, stores the answer and delivers the teaching signal."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    rule = make_rule("additive_reward", w_max=1.0)
    net = digits.build_digits(rule, seed=1, n_train=4, n_test=2, epochs=1, n_per_class=2, n_inh=2,
                              present_ms=30.0, rest_ms=10.0)
    op = next(o for o in net.network.objects if o.name == "digit_reward_delivery")
    rate = net.inputs.variables["rate"].get_value()
    count = net.outputs.variables["count"].get_value()
    label = int(net.schedule["label"][0])

    def call(t):
        """The operation at time t; returns {population: amount delivered} (d only changes here)."""
        before = np.array([float(g.mod_d[:]) for g in net.plastic])
        op.function(np.asarray([t]))
        delta = np.array([float(g.mod_d[:]) for g in net.plastic]) - before
        return {int(c): pytest.approx(float(delta[c])) for c in np.flatnonzero(delta)}

    assert call(0.0) == {} and rate.sum() == pytest.approx(64 * digits.DEFAULTS["rate_max_hz"])
    wrong = (label + 1) % 10
    count[:] = 0
    count[2 * wrong] = 3  # population `wrong` wins
    assert call(0.03) == {label: 1.0, wrong: -1.0}
    assert rate.sum() == 0.0 and net.book.answer[0] == wrong
    call(0.04)  # slot 1 starts: counts cleared
    assert count.sum() == 0.0
    count[2 * int(net.schedule["label"][1])] = 1  # correct answer: reward minus the expected reward
    r_bar = float(net.book.r_bar[:])
    assert call(0.07) == {int(net.schedule["label"][1]): pytest.approx(1.0 - r_bar)}
    call(0.08)
    assert call(0.11) == {}  # silence: no answer, nothing to credit
    assert net.book.answer[2] == -1


def test_digits_teacher_comes_after_the_answer_and_only_in_training():
    """teacher_mv > 0: in the last teacher_ms of a training presentation the label's population
    gets the teaching input (and no other population does); the answer that the reward judges is
    the one counted before the teacher came on; test presentations have no teacher."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    rule = make_rule("additive_reward", w_max=1.0)
    net = digits.build_digits(rule, seed=1, n_train=4, n_test=2, epochs=1, n_per_class=2, n_inh=2,
                              present_ms=30.0, rest_ms=10.0, teacher_mv=2.5, teacher_ms=10.0)
    op = next(o for o in net.network.objects if o.name == "digit_reward_delivery")
    count = net.outputs.variables["count"].get_value()
    teach = net.outputs.variables["teach"].get_value()
    label = int(net.schedule["label"][0])
    wrong = (label + 1) % 10

    def call(t):
        before = np.array([float(g.mod_d[:]) for g in net.plastic])
        op.function(np.asarray([t]))
        delta = np.array([float(g.mod_d[:]) for g in net.plastic]) - before
        return {int(c): pytest.approx(float(delta[c])) for c in np.flatnonzero(delta)}

    assert call(0.0) == {} and not teach.any()
    count[2 * wrong] = 3  # `wrong` leads when the teacher comes on (20 ms)
    assert call(0.02) == {} and net.book.answer[0] == wrong
    on = np.zeros(20, bool)
    on[2 * label:2 * label + 2] = True
    np.testing.assert_array_equal(teach, np.where(on, 2.5, 0.0))
    count[2 * label] = 10  # the taught population overtakes: the answer stays the one given before
    assert call(0.03) == {label: 1.0, wrong: -1.0}
    assert net.book.answer[0] == wrong and not teach.any()
    for t in np.arange(4, 6) * 0.04:  # test slots (4, 5): no teacher at any tick
        for dt in (0.0, 0.01, 0.02, 0.03):
            count[:] = 0
            count[0] = 1
            assert call(t + dt) == {} and not teach.any()
    assert net.book.answer[4] == 0
    b2.start_scope()
    plain = digits.build_digits(rule, seed=1, n_train=4, n_test=2, epochs=1, n_per_class=2, n_inh=2,
                                present_ms=30.0, rest_ms=10.0)
    assert "teach" not in plain.outputs.variables


def test_digits_teacher_drives_the_label_population():
    """A 2 mV teaching input makes the label's population win a clear majority of the training
    presentations' teacher windows (numpy target, a few presentations, no learning)."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 1 * b2.ms
    rule = make_rule("additive_reward", eta=1e-9, w_max=0.18, a_minus=0.01, tau_c_ms=100.0, tau_d_ms=10.0)
    net = digits.build_digits(rule, seed=1, n_train=8, n_test=1, epochs=1, teacher_mv=2.0, teacher_ms=100.0)
    spikes = b2.SpikeMonitor(net.outputs)
    net.network.add(spikes)
    net.network.run(8 * 0.25 * b2.second)
    t, i = np.asarray(spikes.t[:]), np.asarray(spikes.i[:])
    wins = []
    for k in range(8):
        within = (t >= k * 0.25 + 0.1) & (t < k * 0.25 + 0.2)
        counts = np.bincount(i[within] // 20, minlength=10)
        wins.append(int(np.argmax(counts)) == int(net.schedule["label"][k]))
    assert np.mean(wins) >= 0.75


def test_digits_step_decay_and_per_class_baseline():
    """step_schedule = "step": factor step_decay^e in block e. reward_baseline = "class": the
    expected reward is a running mean per label, so a correct answer for a label that is always
    answered correctly earns less than one for a label that is not."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    rule = make_rule("additive_reward", w_max=1.0, eta=2.0)
    net = digits.build_digits(rule, seed=1, n_train=6, n_test=2, epochs=3, n_per_class=2, n_inh=2,
                              present_ms=30.0, rest_ms=10.0, step_schedule="step", step_decay=0.4,
                              reward_baseline="class", baseline_n=2.0)
    assert [net.step_factor(e) for e in range(3)] == pytest.approx([1.0, 0.4, 0.16])
    net.before_chunk(2 * 8 * 0.04)
    assert net.plastic[0].namespace["reward_eta_dt"] == pytest.approx(0.02 * 0.16)
    op = next(o for o in net.network.objects if o.name == "digit_reward_delivery")
    count = net.outputs.variables["count"].get_value()
    labels = [int(v) for v in net.schedule["label"][:6]]
    baseline = net.network["digit_class_baselines"].r_bar_class

    def answer_correctly(k):
        before = np.array([float(g.mod_d[:]) for g in net.plastic])
        op.function(np.asarray([k * 0.04]))
        count[:] = 0
        count[2 * labels[k]] = 1
        op.function(np.asarray([k * 0.04 + 0.03]))
        return (np.array([float(g.mod_d[:]) for g in net.plastic]) - before)[labels[k]]

    first = answer_correctly(0)
    assert first == pytest.approx(1.0) and baseline[labels[0]] == pytest.approx(0.5)
    others = [c for c in range(10) if c != labels[0]]
    assert np.all(np.asarray(baseline[:])[others] == 0.0)
    assert float(net.book.r_bar[:]) == 0.0  # the global baseline is not used
    k2 = next(k for k in range(1, 6) if labels[k] == labels[0]) if labels.count(labels[0]) > 1 else None
    if k2 is not None:
        for k in range(1, k2):
            answer_correctly(k)
        assert answer_correctly(k2) == pytest.approx(0.5)


@pytest.mark.parametrize("sets, match", [
    (['target="cpp_standalone"'], "needs target"),
    (["rule.name=\"madam\""], "reward task"),
    (["network_params.n_hidden=3"], "unknown network_params n_hidden"),
    (["network_params.n_out=900"], "must be smaller"),
])
def test_bad_distal_specs_fail_with_one_line(sets, match, tmp_path, capsys):
    args = ["run", "models/spiking_distal_madam.toml", "--out", str(tmp_path / "r")]
    for s in TINY_DISTAL[1:] + sets:
        args += ["--set", s]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err


@pytest.mark.parametrize("sets, match", [
    (["duration_s=5.0"], "follows from the schedule"),
    (['network_params.reward_mode="oracle"'], "reward_mode"),
    (["network_params.present_ms=25.0"], "multiple of the rule's update_dt"),
    (["network_params.teacher_mv=-1.0"], "teacher_mv must be a number >= 0"),
    (["network_params.teacher_mv=1.0", "network_params.teacher_ms=30.0"], "teacher_ms must be a number in"),
    (["network_params.teacher_mv=1.0", "network_params.teacher_ms=15.0"], "multiple of the rule's update_dt"),
    (["network_params.step_decay=0.0"], "step_decay must be in (0, 1]"),
    (['network_params.step_schedule="linear"'], "allowed: constant, cosine, step"),
    (['network_params.reward_baseline="label"'], "reward_baseline is 'label'; allowed: global, class"),
])
def test_bad_digits_specs_fail_with_one_line(sets, match, tmp_path, capsys):
    args = ["run", "models/spiking_digits_madam.toml", "--out", str(tmp_path / "r")]
    for s in TINY_DIGITS + sets:
        args += ["--set", s]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err


class _Stop(Exception):
    pass


@pytest.mark.parametrize("spec_name, sets", [
    ("spiking_distal_madam", TINY_DISTAL),
    ("spiking_digits_additive", TINY_DIGITS),
    # the step schedule follows from t, so the resumed block gets the same step size
    ("spiking_digits_madam", TINY_DIGITS + ['network_params.step_schedule="cosine"', 'rule.eligibility="centred"']),
    # the teacher, the per-class reward baseline (a Brian2 variable, stored) and the step decay
    ("spiking_digits_madam", TINY_DIGITS + ["network_params.teacher_mv=2.0", 'network_params.reward_baseline="class"',
                                           'network_params.step_schedule="step"']),
])
def test_interrupted_task_resumes_exactly(spec_name, sets, tmp_path):
    spec = _spec(spec_name, sets)
    b2.start_scope()
    full, data_full = runner.simulate(spec, tmp_path / "full", log=lambda *_: None)

    def stop_after_first_chunk(line):
        raise _Stop(line)

    gc.collect()  # Brian2 names the clocks of run_regularly after the free names; restore matches by name
    b2.start_scope()
    with pytest.raises(_Stop) as info:
        runner.simulate(spec, tmp_path / "cut", log=stop_after_first_chunk)
    del info  # its traceback holds the interrupted network (a resumed run is a new process in practice)
    gc.collect()
    assert (tmp_path / "cut" / "checkpoint.b2").is_file()
    b2.start_scope()
    said = []
    resumed, data_resumed = runner.simulate(spec, tmp_path / "cut", resume=True, log=said.append)
    assert said[0].startswith("resumed from") and len(said) == 2  # the message, then the second chunk
    a, b = ([{k: v for k, v in json.loads(x).items() if k != "wall_s"}
             for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()] for d in ("full", "cut"))
    assert len(a) == 2 and a == b
    np.testing.assert_array_equal(data_full["weights"]["EE"], data_resumed["weights"]["EE"])
    np.testing.assert_array_equal(data_full["initial"]["EE"], data_resumed["initial"]["EE"])
    assert full["results"] == resumed["results"]

