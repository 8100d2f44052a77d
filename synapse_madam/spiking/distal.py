"""The distal-reward task of Izhikevich (2007, Cereb Cortex 17:2443), as a Brian2 network.

**Network** (the paper's daspnet.m): n_exc = 800 regular-spiking and n_inh = 200 fast-spiking
Izhikevich neurons,

    dv/dt = (0.04 v^2 + 5 v + 140 - u + I) / ms,   du/dt = a (0.2 v - u) / ms,
    v >= 30: v <- -65, u <- u + u_jump             (E: a = 0.02, u_jump = 8; I: a = 0.1, u_jump = 2)

with a noise current I = noise (rand() - 1/2) drawn anew every 1 ms (noise = 13), time step 0.5 ms.
Every E neuron projects to n_out = 100 distinct random neurons (E or I), every I neuron to 100
random E neurons; a spike moves v of the target by w (mV) after a 1 ms delay. The E synapses are
plastic with a three-factor rule (``reward.madam_reward`` or ``reward.additive_reward``; w_init = 1,
w_max = 4 as in the paper); the I synapses are fixed at w_inh = -1.

**Task.** One synapse is chosen: from E neuron 0 to its first excitatory target n2. Every spike of
n2 that follows a spike of neuron 0 within ``interval`` (20 ms) schedules a reward of ``reward``
(0.5) at a uniformly random delay of 1-3 s; by then many other pre-post pairings have happened,
so the network must solve the credit-assignment problem with the eligibility traces (tau_c = 1 s).
The paper reports the chosen synapse at the bound after about 1 h of biological time with the
other synapses staying low. Unlike daspnet.m the chosen synapse starts at w_init like every other
(a multiplicative rule cannot move a zero weight), and there is no tonic dopamine (d is the
reward signal alone, see ``reward``).

**Reward delivery** (``reward.reward_operation``, every tick of the rule): a detector (Brian2
synapses from neuron 0 and from n2 onto a small bookkeeping group) counts the pairings in
compiled code; the operation draws each pairing's delay from ``numpy.random.default_rng((seed,
k))`` for the k-th pairing and keeps the due times in the bookkeeping group, so the whole task
state lives in Brian2 variables and ``Network.store`` / ``restore`` resume a run exactly.

**Selectivity** ``percentile``: the fraction of the other plastic synapses whose weight is below
the chosen one (ties count one half); the task is solved at the first recorded time from which
it stays >= ``solved_percentile`` (0.99) to the end of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: network_params of a distal-reward spec, with their defaults.
DEFAULTS = {"n_exc": 800, "n_inh": 200, "n_out": 100, "w_init": 1.0, "w_inh": -1.0, "noise": 13.0,
            "interval_ms": 20.0, "reward": 0.5, "delay_min_s": 1.0, "delay_max_s": 3.0,
            "solved_percentile": 0.99, "reward_slots": 64}

#: Izhikevich neuron (dimensionless v in mV, u; time constants in ms).
IZHIKEVICH = """
dv/dt = (0.04*v**2 + 5*v + 140 - u + I_noise) / ms : 1
du/dt = a * (0.2*v - u) / ms : 1
I_noise : 1
a : 1
u_jump : 1
n_spikes : 1
"""

#: Bookkeeping of the task: neuron 0 of this group holds the detector state, each one a reward slot.
DETECTOR = """
pre_spike_t : second
pairs : 1
total_pairs : 1
dropped : 1
pending : second
"""

NEVER = 1e9  # seconds: an empty reward slot / no spike yet


@dataclass
class DistalNetwork:
    """The Brian2 objects of the task and its chosen synapse."""

    network: object
    neurons: object
    plastic: object
    inhibitory: object
    detector: object
    chosen: int
    pre: int
    post: int
    params: dict = field(default_factory=dict)
    weight_unit = "mV"

    def plastic_groups(self) -> dict:
        return {"EE": self.plastic}

    def weights(self) -> dict[str, np.ndarray]:
        """Signed weights of the plastic E synapses (E -> E and E -> I), key "EE"."""
        return {"EE": np.array(self.plastic.w[:], dtype=float)}

    def spike_counts(self) -> np.ndarray:
        return np.array(self.neurons.n_spikes[:], dtype=float)


def percentile(w: np.ndarray, k: int) -> float:
    """Fraction of the entries of w other than w[k] that are below w[k] (ties count one half)."""
    w = np.asarray(w, dtype=float)
    others = np.delete(w, k)
    if others.size == 0:
        return float("nan")
    return float((np.sum(others < w[k]) + 0.5 * np.sum(others == w[k])) / others.size)


def solved_time(t, pct, threshold: float) -> float | None:
    """First t[i] from which pct stays >= threshold to the end; None if the last one is below."""
    t, pct = np.asarray(t, dtype=float), np.asarray(pct, dtype=float)
    if pct.size == 0 or not pct[-1] >= threshold:
        return None
    below = np.flatnonzero(~(pct >= threshold))
    return float(t[below[-1] + 1]) if below.size else float(t[0])


def _targets(rng, n_src: int, pool: int, n_out: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n_out distinct random targets in [offset, offset + pool) for each of n_src sources (no self-loops)."""
    if n_out >= pool:
        raise ValueError(f"network_params.n_out = {n_out} must be smaller than the target population ({pool}).")
    keys = rng.random((n_src, pool))
    if offset == 0:
        keys[np.arange(min(n_src, pool)), np.arange(min(n_src, pool))] = np.inf  # no self-connections
    j = np.argsort(keys, axis=1)[:, :n_out] + offset
    return np.repeat(np.arange(n_src), n_out), j.ravel()


def build_distal(rule, *, seed: int, n_exc: int = 800, n_inh: int = 200, n_out: int = 100, w_init: float = 1.0,
                 w_inh: float = -1.0, noise: float = 13.0, interval_ms: float = 20.0, reward: float = 0.5,
                 delay_min_s: float = 1.0, delay_max_s: float = 3.0, solved_percentile: float = 0.99,
                 reward_slots: int = 64) -> DistalNetwork:
    """Build the task network with the three-factor ``rule`` (see the module docstring)."""
    import brian2 as b2

    from .reward import reward_operation

    for name, v, lo in (("n_exc", n_exc, 2), ("n_inh", n_inh, 1), ("n_out", n_out, 1), ("reward_slots", reward_slots, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"network_params.{name} must be an integer >= {lo}, got {v!r}.")
    if not 0 < delay_min_s <= delay_max_s:
        raise ValueError(f"network_params: need 0 < delay_min_s <= delay_max_s, got {delay_min_s}, {delay_max_s}.")
    if not (w_init > 0 and w_inh < 0 and interval_ms > 0 and reward > 0):
        raise ValueError("network_params: need w_init > 0, w_inh < 0, interval_ms > 0 and reward > 0 "
                         f"(got {w_init}, {w_inh}, {interval_ms}, {reward}).")
    rng = np.random.default_rng(seed)
    n = n_exc + n_inh
    neurons = b2.NeuronGroup(n, IZHIKEVICH, threshold="v >= 30", reset="v = -65\nu += u_jump\nn_spikes += 1",
                             method="euler", name="izhikevich")
    neurons.v = -65.0
    neurons.u = -13.0  # 0.2 v
    neurons.a = np.r_[np.full(n_exc, 0.02), np.full(n_inh, 0.1)]
    neurons.u_jump = np.r_[np.full(n_exc, 8.0), np.full(n_inh, 2.0)]
    neurons.run_regularly(f"I_noise = {float(noise)!r} * (rand() - 0.5)", dt=1 * b2.ms, name="izhikevich_noise")
    i_e, j_e = _targets(rng, n_exc, n, n_out)
    i_i, j_i = _targets(rng, n_inh, n_exc, min(n_out, n_exc - 1))
    plastic = rule.connect(neurons[:n_exc], neurons, effect="v_post += w", i=i_e, j=j_e,
                           w=np.full(i_e.size, float(w_init)), delay=1 * b2.ms, name="plastic_e")
    inhibitory = b2.Synapses(neurons[n_exc:], neurons[:n_exc], "w : 1", on_pre="v_post += w", delay=1 * b2.ms,
                             name="fixed_i")
    inhibitory.connect(i=i_i, j=j_i)
    inhibitory.w = float(w_inh)
    post = int(j_e[np.flatnonzero(j_e[:n_out] < n_exc)[0]])  # neuron 0's first excitatory target
    syn_i, syn_j = np.asarray(plastic.i[:]), np.asarray(plastic.j[:])
    chosen = int(np.flatnonzero((syn_i == 0) & (syn_j == post))[0])

    detector = b2.NeuronGroup(int(reward_slots), DETECTOR, name="distal_detector")
    detector.pre_spike_t = -NEVER * b2.second
    detector.pending = NEVER * b2.second
    interval = float(interval_ms) * 1e-3
    from_pre = b2.Synapses(neurons, detector, on_pre="pre_spike_t_post = t", name="detect_pre")
    from_pre.connect(i=[0], j=[0])
    from_post = b2.Synapses(neurons, detector, on_pre=f"pairs_post += int(t - pre_spike_t_post < {interval!r}*second)",
                            name="detect_post")
    from_post.connect(i=[post], j=[0])

    dv = detector.variables
    pairs, total, dropped = (dv[k].get_value() for k in ("pairs", "total_pairs", "dropped"))
    pending = dv["pending"].get_value()

    def reward_fn(t: float):
        k = int(pairs[0])
        if k:
            pairs[0] = 0
            for _ in range(k):
                delay = np.random.default_rng((seed, int(total[0]))).uniform(delay_min_s, delay_max_s)
                total[0] += 1
                free = np.flatnonzero(pending >= NEVER)
                if free.size:
                    pending[free[0]] = t + delay
                else:
                    dropped[0] += 1
        due = pending <= t + 1e-9
        if due.any():
            pending[due] = NEVER
            return float(reward) * int(due.sum())
        return None

    op = reward_operation(plastic, reward_fn, rule.update_dt, name="distal_reward_delivery")
    net = b2.Network(neurons, plastic, inhibitory, detector, from_pre, from_post, op)
    params = {"n_exc": n_exc, "n_inh": n_inh, "n_out": n_out, "w_init": w_init, "w_inh": w_inh, "noise": noise,
              "interval_ms": interval_ms, "reward": reward, "delay_min_s": delay_min_s, "delay_max_s": delay_max_s,
              "solved_percentile": solved_percentile, "n_plastic": int(i_e.size), "chosen_pre": 0,
              "chosen_post": post, "chosen_index": chosen}
    return DistalNetwork(net, neurons, plastic, inhibitory, detector, chosen, 0, post, params)


def task_state(net: DistalNetwork) -> dict:
    """Pairings seen, rewards waiting, slots overflowed (read from the Brian2 bookkeeping group)."""
    d = net.detector
    return {"pairings": int(d.total_pairs[0]), "rewards_pending": int(np.sum(np.asarray(d.pending[:]) < NEVER)),
            "dropped": int(d.dropped[0])}


def chunk_row(net: DistalNetwork, t0: float, t1: float, counts_before: np.ndarray) -> dict:
    """One metrics line: rates since t0, the chosen weight, its percentile and the task counters."""
    w = np.asarray(net.plastic.w[:], dtype=float)
    counts = net.spike_counts()
    n_exc = net.params["n_exc"]
    dt = t1 - t0
    return {"t_s": t1, "exc_rate_hz": float((counts[:n_exc] - counts_before[:n_exc]).sum() / (n_exc * dt)),
            "inh_rate_hz": float((counts[n_exc:] - counts_before[n_exc:]).sum() / ((counts.size - n_exc) * dt)),
            "w_chosen": float(w[net.chosen]), "percentile": percentile(w, net.chosen),
            "w_mean": float(w.mean()), "w_p99": float(np.quantile(w, 0.99)), **task_state(net)}
