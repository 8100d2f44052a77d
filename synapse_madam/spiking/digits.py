"""Digit classification with a reward-modulated spiking network (Brian2): scikit-learn's 8x8 digits.

**Data.** ``sklearn.datasets.load_digits`` (1797 images of 8x8 pixels with values 0..16, shipped
with scikit-learn), split once into a stratified training and a held-out test part
(``test_fraction`` = 0.25, ``split_seed`` = 0: 1347 / 450 images; the same split for every seed).

**Input.** Each pixel x drives two Poisson neurons (on/off code): rate_max * x/16 and
rate_max * (1 - x/16) (rate_max = 200 Hz), so every image gives the same total input rate and a
blank pixel is evidence too. Presentation ``present_ms`` (200 ms), then ``rest_ms`` (50 ms) without input.

**Network** (Dale's law: every neuron is excitatory or inhibitory in all its synapses). Ten output
populations of ``n_per_class`` (20) excitatory current-based LIF neurons (tau_m = 20 ms, threshold
15 mV above rest plus a homeostatic offset theta, reset to rest, refractory 2 ms; theta += 0.02 mV
at each spike and drifts down by 0.02 mV * target_hz (5 Hz), so that no neuron falls silent for
good) and one population of ``n_inh`` inhibitory LIF neurons: every E output neuron excites every I neuron (w_ei), every I neuron inhibits every E
output neuron (w_ie < 0), a soft winner-take-all. The initial input weights (w_init = 0.06 times
U(0.5, 1.5)) put the mean drive (256 w_init mV) just under the threshold, where a neuron's rate is
most sensitive to its input. What the network can hold (``python benchmarks/spiking_learning.py
oracle``: the weights of a logistic regression on the same code, 97.6 % test accuracy, put into the
network without plasticity; first 100 test images): 93 % with these defaults, 94 % without
homeostasis, but 65 % with a ten times faster homeostasis (theta_step_mv = 0.2), which equalises
the neurons' rates within a few presentations and so erases their preferences. Whether a rule
finds such weights is the question.

**Answer and reward.** The answer is the population with the most spikes during the
presentation (a tie or silence: no answer). At the end of each training presentation the reward
operation (``reward.reward_operation``) turns the answer into neuromodulator pulses. Each output
population has its own plastic Synapses group and so its own modulator d_k. With r = 1 for the
correct answer and 0 otherwise, and the expected reward r_bar (a running mean over ~baseline_n
presentations, r_bar <- r_bar + (r - r_bar) / baseline_n):

* ``reward_mode = "population"`` (default), a teaching signal per population: after a correct
  answer the winner gets d_k += reward (1 - r_bar), so the reinforcement fades as the answers
  become reliable; after a wrong answer (or a tie) the correct population gets d += reward and the
  population that answered wrongly d -= reward. This is a reward-gated perceptron rule on the
  Hebbian eligibility (the modulator reaches the chosen output, as in attention-gated
  reinforcement learning, Roelfsema & van Ooyen 2005, Neural Comput 17:2176, and here also the
  correct one). It is supervised in the sense that the label picks the population.
* ``reward_mode = "global"``: one reward-prediction error r - r_bar for every population (one
  dopamine-like signal; Fremaux, Sprekeler & Gerstner 2010, J Neurosci 30:13326).

The eligibility traces of the presentation turn the pulses into weight changes (active inputs of
an active population grow with d > 0 and shrink with d < 0). After a silent presentation nothing
is delivered (there is nothing to credit). No reward is delivered during the test blocks, so no
weight moves there.

**Learning options** (each off by default, so that the published-rule settings stay
reproducible; docs/spiking_learning.md says which the specs in models/ use and why):

* ``[rule] eligibility = "centred"`` (reward.py): the pre trace minus its expected value, set
  here to tau_plus times the input's mean rate over the training images. With the Hebbian
  eligibility every reward also moves the population's total drive (all its inputs are active
  at some rate), which the winner-take-all turns into a bias towards recently rewarded classes.
* ``step_schedule = "cosine"``: the rule's step size (lr or eta) decays over the blocks,
  block e of E at (1 + cos(pi e / E)) / 2 of its value (set from t before each block);
  ``"step"``: block e at step_decay^e of it (a step decay per block).
* ``teacher_mv`` > 0, a teaching input during training presentations only: for the last
  ``teacher_ms`` (50 ms) of each training presentation the label's population gets a constant
  input of teacher_mv (its membrane relaxes to teacher_mv instead of 0), as the supervising
  input of supervised Hebbian and spike-timing learning (e.g. ReSuMe, Ponulak & Kasinski 2010,
  Neural Comput 22:467). The answer that the
  reward judges is the one counted *before* the teacher comes on, so the reward still reports
  the network's own answer; the teacher only makes the correct population fire, so that its
  (post-spike-gated) eligibility forms even when the winner-take-all would have kept it silent.
  Test presentations never have a teacher.
* ``reward_baseline = "class"``: the expected reward r_bar is kept per label (one running mean
  per class) instead of one for all, so a class that is already answered reliably is reinforced
  less than one that is not (a stimulus-specific reward prediction, which Fremaux et al. 2010 found
  R-STDP to need when several stimuli are learned at once).
* ``validation_fraction`` > 0: model selection on a validation part carved from the training
  split (``load_split``); the test images are then not used at all, and the "test" slots of
  each block present the validation images.

**Schedule.** ``epochs`` blocks; block e presents the training images in the order of
``numpy.random.default_rng((seed, e))`` and then every test image once. The input rates, the
spike counts and the answers live in Brian2 variables and the schedule is a function of t, so
``Network.store`` / ``restore`` resume a run exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: network_params of a digits spec, with their defaults.
DEFAULTS = {"n_per_class": 20, "n_inh": 20, "rate_max_hz": 200.0, "present_ms": 200.0, "rest_ms": 50.0,
            "epochs": 3, "n_train": 0, "n_test": 0, "test_fraction": 0.25, "split_seed": 0,
            "w_init": 0.06, "w_ei": 2.0, "w_ie": -3.0, "tau_m_ms": 20.0, "threshold_mv": 15.0,
            "reward": 1.0, "baseline_n": 20.0, "reward_mode": "population", "target_hz": 5.0, "theta_step_mv": 0.02,
            "validation_fraction": 0.0, "step_schedule": "constant", "step_decay": 0.5, "teacher_mv": 0.0,
            "teacher_ms": 50.0, "reward_baseline": "global"}

N_CLASSES = 10
REWARD_MODES = ("population", "global")
STEP_SCHEDULES = ("constant", "cosine", "step")
REWARD_BASELINES = ("global", "class")
LIF = """
dv/dt = -v / tau_m : 1 (unless refractory)
count : 1
n_spikes : 1
"""
#: Output neurons: LIF with a homeostatic threshold offset theta (mV): +theta_step at each spike,
#: a constant drift of -theta_step * target_hz otherwise, so each neuron's mean rate tends to
#: target_hz (intrinsic plasticity; the adaptive thresholds of Diehl & Cook 2015, Front Comput
#: Neurosci 9:99, here also going down so that a silenced neuron recovers).
LIF_OUT = LIF + "dtheta/dt = -theta_step * target_rate : 1\n"
#: teacher_mv > 0: the output neurons with a teaching input ``teach`` (mV; the membrane relaxes to
#: teach instead of 0), set to teacher_mv for the label's population during training presentations.
LIF_OUT_TAUGHT = LIF_OUT.replace("dv/dt = -v / tau_m", "dv/dt = (teach - v) / tau_m") + "teach : 1\n"


def load_split(test_fraction: float = 0.25, split_seed: int = 0, n_train: int = 0, n_test: int = 0,
               validation_fraction: float = 0.0):
    """(x_train, y_train, x_test, y_test): pixel intensities in [0, 1], stratified split; n_train /
    n_test > 0 keep the first that many of each part (for small runs).

    ``validation_fraction`` > 0: model selection without the test split. The training split is
    split again (stratified, the same split_seed) into a smaller training part and a validation
    part of that fraction, which is returned in place of the test split; the test images are not
    used at all (n_train / n_test then cut the training and the validation part)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = data.data / 16.0
    x_tr, x_te, y_tr, y_te = train_test_split(x, data.target, test_size=test_fraction, stratify=data.target,
                                              random_state=split_seed)
    if validation_fraction:
        x_tr, x_te, y_tr, y_te = train_test_split(x_tr, y_tr, test_size=validation_fraction, stratify=y_tr,
                                                  random_state=split_seed)
    if n_train:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    if n_test:
        x_te, y_te = x_te[:n_test], y_te[:n_test]
    return x_tr, y_tr, x_te, y_te


def split_for(params: dict):
    """``load_split`` with a task's network_params (DEFAULTS for the keys not given)."""
    p = {**DEFAULTS, **params}
    return load_split(p["test_fraction"], p["split_seed"], p["n_train"], p["n_test"], p["validation_fraction"])


def encode(x: np.ndarray, rate_max_hz: float) -> np.ndarray:
    """On/off Poisson rates (Hz) of images x in [0, 1], shape (n, 2 * n_pixels)."""
    return rate_max_hz * np.concatenate([x, 1.0 - x], axis=1)


@dataclass
class DigitsNetwork:
    network: object
    inputs: object
    outputs: object
    inhibitory: object
    plastic: object
    book: object
    schedule: dict
    params: dict = field(default_factory=dict)
    rule: object = None
    weight_unit = "mV"

    def step_factor(self, block: int) -> float:
        """The step-size factor of block ``block`` (0, 1, ...; ``step_schedule``): 1 throughout
        ("constant"), or the cosine decay over the blocks (Loshchilov & Hutter 2017, SGDR, ICLR;
        rule.warmup_cosine without warm-up): (1 + cos(pi e / E)) / 2 for block e of E, so 1 in the
        first block and > 0 in the last; or a step decay ("step"): step_decay^e in block e."""
        if self.params["step_schedule"] == "constant":
            return 1.0
        if self.params["step_schedule"] == "step":
            return float(self.params["step_decay"]) ** block
        from ..rule import warmup_cosine

        return warmup_cosine(block, 0, int(self.params["epochs"]))

    def before_chunk(self, t_s: float) -> None:
        """Set the rule's step size of the block that starts at t_s (called before each run; the
        factor follows from t alone, so a resumed run gets the same)."""
        block = int(np.floor(t_s / (self.schedule["block_slots"] * self.params["period_s"]) + 1e-6))
        for g in self.plastic:
            self.rule.set_step_factor(g, self.step_factor(block))

    def plastic_groups(self) -> dict:
        """The first population's group stands for all ten (they share the rule's w_max)."""
        return {"EE": self.plastic[0]}

    def weights(self) -> dict[str, np.ndarray]:
        """All input -> output E weights (population by population), key "EE"."""
        return {"EE": np.concatenate([np.asarray(g.w[:], dtype=float) for g in self.plastic])}


def make_schedule(y_train, y_test, epochs: int, seed: int) -> dict:
    """Per slot: the image index, its label, and whether it is a training (1) or test (0) slot."""
    idx, lab, train, block = [], [], [], []
    for e in range(epochs):
        order = np.random.default_rng((seed, e)).permutation(len(y_train))
        idx += [order, np.arange(len(y_test))]
        lab += [np.asarray(y_train)[order], np.asarray(y_test)]
        train += [np.ones(len(order), bool), np.zeros(len(y_test), bool)]
        block += [np.full(len(order) + len(y_test), e)]
    return {"index": np.concatenate(idx), "label": np.concatenate(lab), "train": np.concatenate(train),
            "epoch": np.concatenate(block), "block_slots": len(y_train) + len(y_test)}


def _check(params: dict) -> None:
    ints = {"n_per_class": 1, "n_inh": 1, "epochs": 1, "n_train": 0, "n_test": 0, "split_seed": 0}
    for k, lo in ints.items():
        v = params[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"network_params.{k} must be an integer >= {lo}, got {v!r}.")
    for k in ("target_hz", "theta_step_mv"):
        v = params[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"network_params.{k} must be a number >= 0 (0: no homeostasis), got {v!r}.")
    v = params["teacher_mv"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
        raise ValueError(f"network_params.teacher_mv must be a number >= 0 (0: no teacher), got {v!r}.")
    v = params["teacher_ms"]
    if params["teacher_mv"] and (isinstance(v, bool) or not isinstance(v, (int, float))
                                 or not 0 < v < params["present_ms"]):
        raise ValueError(f"network_params.teacher_ms must be a number in (0, present_ms) (the teacher's part at "
                         f"the end of a training presentation), got {v!r}.")
    v = params["step_decay"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
        raise ValueError(f"network_params.step_decay must be in (0, 1] (the step factor per block of "
                         f"step_schedule = \"step\"), got {v!r}.")
    if params["reward_baseline"] not in REWARD_BASELINES:
        raise ValueError(f"network_params.reward_baseline is {params['reward_baseline']!r}; allowed: "
                         f"{', '.join(REWARD_BASELINES)}.")
    for k in ("rate_max_hz", "present_ms", "rest_ms", "w_init", "w_ei", "tau_m_ms", "threshold_mv", "reward"):
        v = params[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise ValueError(f"network_params.{k} must be a number > 0, got {v!r}.")
    if not params["w_ie"] < 0:
        raise ValueError(f"network_params.w_ie (I -> E) must be < 0 (Dale's law), got {params['w_ie']!r}.")
    if isinstance(params["baseline_n"], bool) or not isinstance(params["baseline_n"], (int, float)) \
            or not params["baseline_n"] >= 1:
        raise ValueError(f"network_params.baseline_n must be a number >= 1, got {params['baseline_n']!r}.")
    if params["reward_mode"] not in REWARD_MODES:
        raise ValueError(f"network_params.reward_mode is {params['reward_mode']!r}; allowed: {', '.join(REWARD_MODES)}.")
    if params["step_schedule"] not in STEP_SCHEDULES:
        raise ValueError(f"network_params.step_schedule is {params['step_schedule']!r}; allowed: "
                         f"{', '.join(STEP_SCHEDULES)}.")
    if not 0 < params["test_fraction"] < 1:
        raise ValueError(f"network_params.test_fraction must be in (0, 1), got {params['test_fraction']!r}.")
    v = params["validation_fraction"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
        raise ValueError(f"network_params.validation_fraction must be in [0, 1) (0: evaluate on the test split), "
                         f"got {v!r}.")


def period_s(params: dict) -> float:
    return (params["present_ms"] + params["rest_ms"]) * 1e-3


def duration_s(params: dict) -> float:
    """Biological time of the whole schedule (every block: the training images, then the test images)."""
    p = {**DEFAULTS, **params}
    _, y_tr, _, y_te = split_for(p)
    return p["epochs"] * (len(y_tr) + len(y_te)) * period_s(p)


def build_digits(rule, *, seed: int, **params) -> DigitsNetwork:
    """Build the task network with the three-factor ``rule`` (module docstring)."""
    import brian2 as b2

    from .reward import reward_operation

    p = {**DEFAULTS, **params}
    _check(p)
    tick = float(rule.update_dt)
    for k in ("present_ms", "rest_ms") + (("teacher_ms",) if p["teacher_mv"] else ()):
        if abs(p[k] * 1e-3 / tick - round(p[k] * 1e-3 / tick)) > 1e-9:
            raise ValueError(f"network_params.{k} = {p[k]} must be a multiple of the rule's update_dt "
                             f"({tick * 1e3:g} ms): answers and rewards happen on its ticks.")
    x_tr, y_tr, x_te, y_te = split_for(p)
    rates = {True: encode(x_tr, p["rate_max_hz"]), False: encode(x_te, p["rate_max_hz"])}
    sched = make_schedule(y_tr, y_te, p["epochs"], seed)
    n_in, n_out = rates[True].shape[1], N_CLASSES * p["n_per_class"]
    rng = np.random.default_rng(seed)

    inputs = b2.NeuronGroup(n_in, "rate : Hz", threshold="rand() < rate * dt", name="digit_inputs")
    ns = {"tau_m": p["tau_m_ms"] * b2.ms}
    ns_out = {**ns, "theta_step": float(p["theta_step_mv"]), "target_rate": float(p["target_hz"]) * b2.Hz}
    taught = p["teacher_mv"] > 0
    outputs = b2.NeuronGroup(n_out, LIF_OUT_TAUGHT if taught else LIF_OUT, threshold=f"v > {float(p['threshold_mv'])!r} + theta",
                             reset="v = 0\ntheta += theta_step\ncount += 1\nn_spikes += 1", refractory=2 * b2.ms,
                             method="euler", namespace=ns_out, name="digit_outputs")
    inhibitory = b2.NeuronGroup(p["n_inh"], LIF, threshold=f"v > {float(p['threshold_mv'])!r}",
                                reset="v = 0\nn_spikes += 1", refractory=2 * b2.ms, method="exact", namespace=ns,
                                name="digit_inh")
    w0 = p["w_init"] * rng.uniform(0.5, 1.5, (N_CLASSES, n_in * p["n_per_class"]))
    npc = p["n_per_class"]
    # one Synapses group per output population, so that each can carry its own neuromodulator
    plastic = [rule.connect(inputs, outputs[c * npc:(c + 1) * npc], effect="v_post += w", w=w0[c],
                            name=f"digit_plastic_{c}") for c in range(N_CLASSES)]
    if getattr(rule, "eligibility", "hebbian") == "centred":
        # the expected pre trace at a post spike: tau_plus times the input's mean rate over the
        # training images (the on/off code keeps sum_i rate_i fixed, so the centred increments of
        # one post spike sum to about 0 over the inputs and do not move the neuron's mean drive)
        ref = float(rule.tau_plus) * rates[True].mean(axis=0)
        for g in plastic:
            g.elig_ref = ref[np.asarray(g.i[:])]
    e_to_i = b2.Synapses(outputs, inhibitory, on_pre=f"v_post += {float(p['w_ei'])!r}", name="digit_ei")
    e_to_i.connect()
    i_to_e = b2.Synapses(inhibitory, outputs, on_pre=f"v_post += {float(p['w_ie'])!r}", name="digit_ie")
    i_to_e.connect()
    book = b2.NeuronGroup(len(sched["label"]), "answer : 1\nr_bar : 1 (shared)", name="digit_answers")
    book.answer = -2  # not presented yet
    # the expected reward per label (reward_baseline = "class"): a Brian2 variable, so store/restore keep it
    per_class = p["reward_baseline"] == "class"
    baselines = b2.NeuronGroup(N_CLASSES, "r_bar_class : 1", name="digit_class_baselines") if per_class else None

    rate_view = inputs.variables["rate"].get_value()
    count_view = outputs.variables["count"].get_value()
    answer_view = book.variables["answer"].get_value()
    r_bar = book.variables["r_bar"].get_value()
    r_bar_class = baselines.variables["r_bar_class"].get_value() if per_class else None
    teach_view = outputs.variables["teach"].get_value() if taught else None
    period, present = period_s(p), p["present_ms"] * 1e-3
    teach_on = present - p["teacher_ms"] * 1e-3  # a taught training presentation's answer is counted before it
    n_slots = len(sched["label"])
    heard = [False]  # whether any output neuron spiked in the answer window (silence: nothing to credit)

    def reward_fn(t: float):
        k = int(np.floor(t / period + 1e-6))
        within = t - k * period
        amount = None
        taught_slot = taught and k < n_slots and sched["train"][k]
        if taught_slot and abs(within - teach_on) < 1e-6:  # the answer so far; then the teacher comes on
            answer_view[k], heard[0] = _answer(count_view)
            lab = int(sched["label"][k])
            teach_view[lab * npc:(lab + 1) * npc] = float(p["teacher_mv"])
        if abs(within - present) < 1e-6 and k < n_slots:  # presentation k ends: its answer, its reward
            if not taught_slot:
                answer_view[k], heard[0] = _answer(count_view)
            ans = int(answer_view[k])
            if sched["train"][k] and heard[0]:  # silence: no answer, no reward
                label = int(sched["label"][k])
                r = 1.0 if ans == label else 0.0
                # the expected reward: one running mean, or one per label (reward_baseline)
                expected = r_bar_class[label:label + 1] if per_class else r_bar
                rpe = float(p["reward"]) * (r - float(expected[0]))
                expected[0] += (r - float(expected[0])) / float(p["baseline_n"])
                if p["reward_mode"] == "global":
                    amount = dict.fromkeys(range(N_CLASSES), rpe)
                elif r:
                    amount = {ans: rpe}
                else:
                    amount = {label: float(p["reward"])}
                    if ans >= 0:
                        amount[ans] = -float(p["reward"])
            rate_view[:] = 0.0
            if taught:
                teach_view[:] = 0.0
        if abs(within) < 1e-6 and k < n_slots:  # a new presentation starts
            rate_view[:] = rates[bool(sched["train"][k])][sched["index"][k]]
            count_view[:] = 0.0
        return amount or None

    op = reward_operation(dict(enumerate(plastic)), reward_fn, rule.update_dt, name="digit_reward_delivery")
    net = b2.Network(inputs, outputs, inhibitory, *plastic, e_to_i, i_to_e, book, op)
    if per_class:
        net.add(baselines)
    info = {**p, "n_inputs": n_in, "n_outputs": n_out, "n_plastic": int(n_in * n_out), "w_max": float(plastic[0].namespace["w_max"]), "n_train_images": len(y_tr),
            "n_test_images": len(y_te), "period_s": period}
    out = DigitsNetwork(net, inputs, outputs, inhibitory, plastic, book, sched, info, rule)
    out.before_chunk(0.0)
    return out


def _answer(count_view) -> tuple[int, bool]:
    """(the population with the most spikes so far, -1 for a tie or silence; whether any spiked)."""
    counts = count_view.reshape(N_CLASSES, -1).sum(axis=1)
    top = np.flatnonzero(counts == counts.max())
    heard = bool(counts.max() > 0)
    return (int(top[0]) if heard and top.size == 1 else -1), heard


def block_accuracies(net: DigitsNetwork) -> list[dict]:
    """Per finished block: the training accuracy (answers given while learning) and the test accuracy."""
    ans = np.asarray(net.book.answer[:])
    s = net.schedule
    out = []
    for e in range(int(s["epoch"].max()) + 1):
        sel = s["epoch"] == e
        if np.any(ans[sel] == -2):
            break
        tr, te = sel & s["train"], sel & ~s["train"]
        out.append({"epoch": e + 1, "train_accuracy": float(np.mean(ans[tr] == s["label"][tr])),
                    "test_accuracy": float(np.mean(ans[te] == s["label"][te])),
                    "test_no_answer": float(np.mean(ans[te] == -1))})
    return out


def chunk_row(net: DigitsNetwork, t0: float, t1: float, counts_before: dict) -> dict:
    """One metrics line per block: accuracies and the mean rates of the output and I populations."""
    acc = block_accuracies(net)
    row = {"t_s": t1, **(acc[-1] if acc else {})}
    for key, grp in (("out_rate_hz", net.outputs), ("inh_rate_hz", net.inhibitory)):
        n = np.asarray(grp.n_spikes[:], dtype=float)
        row[key] = float((n.sum() - counts_before.get(key, 0.0)) / (n.size * (t1 - t0)))
    return row
