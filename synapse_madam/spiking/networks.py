"""Two classic spiking networks with pluggable plasticity, returned as Brian2 objects.

(a) ``poisson_to_lif``: many Poisson inputs onto one conductance-based LIF neuron, the set-up of
    Song, Miller & Abbott (2000) with the parameters of Brian2's STDP example (1000 inputs at
    15 Hz, tau_m 10 ms, E_L -74 mV, threshold -54 mV, reset -60 mV, E_e 0 mV, tau_e 5 ms);
    optionally plus inhibitory Poisson inputs (Song et al. used 200) onto a conductance gi.
(b) ``brunel_network``: a sparse random E/I network of current-based LIF neurons with delta
    synapses in the asynchronous-irregular balanced regime of Brunel (2000, J Comput Neurosci
    8:183; model A, g = 5, nu_ext = 2 nu_thr, "state C"): N_I = N_E/4, connection probability
    epsilon, J_I = -g J, delay D, external Poisson drive, with plastic E->E and optionally I->E
    synapses (log-normal E->E weights sustain such activity: Teramae, Tsubo & Fukai 2012).

Both return a dataclass holding the ``Network`` and its parts, so users can add monitors or
groups and call ``.network.run(...)`` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .plasticity import PlasticityRule


@dataclass
class SongNetwork:
    """Network (a): ``network`` (brian2.Network), ``inputs`` (PoissonGroup), ``neuron``,
    ``synapses`` (plastic excitatory Synapses), ``inh_inputs``/``inh_synapses`` (or None),
    ``spikes`` (SpikeMonitor of the neuron), ``weight_trace`` (StateMonitor of a few w)."""

    network: object
    inputs: object
    neuron: object
    synapses: object
    spikes: object
    weight_trace: object
    inh_inputs: object = None
    inh_synapses: object = None
    params: dict = field(default_factory=dict)
    #: w is a conductance in units of the leak conductance (ge += w; dv/dt has ge (E_e - v)).
    weight_unit: ClassVar[str] = "g_leak"

    def plastic_groups(self) -> dict:
        """Plastic Synapses by group name: 'EE' (inputs -> neuron) and 'IE' if inhibition is plastic."""
        groups = {"EE": self.synapses}
        if self.params.get("inh_plastic"):
            groups["IE"] = self.inh_synapses
        return groups

    def weights(self) -> dict[str, np.ndarray]:
        """Signed weights per plastic group, for weights.npz: the synaptic effect's sign times the
        stored magnitude. A sign-preserving (``signed``) rule stores inhibitory weights as negative
        numbers and its effect is gi += -w, so the signed weight is w itself and a flip shows as a
        positive entry; other rules store |w| with effect gi += w, so the signed weight is -w."""
        out = {"EE": np.array(self.synapses.w[:], dtype=float)}
        if self.params.get("inh_plastic"):
            w = np.array(self.inh_synapses.w[:], dtype=float)
            out["IE"] = w if self.params.get("inh_signed") else -w
        return out


def poisson_to_lif(
    rule: PlasticityRule,
    *,
    n_inputs: int = 1000,
    rate=None,
    w=None,
    n_inhibitory: int = 0,
    inh_rate=None,
    inh_rule: PlasticityRule | None = None,
    inh_w=None,
    record_weights: int = 2,
    weight_dt=None,
    n_neurons: int = 1,
):
    """Network (a): ``n_inputs`` Poisson trains at ``rate`` (default 15 Hz) onto one
    conductance-based LIF neuron through synapses with ``rule`` (all-to-all, effect ge += w):

        tau_m dv/dt = ge (E_e - v) + gi (E_i - v) + E_L - v,   dge/dt = -ge/tau_e,  dgi/dt = -gi/tau_i

    ``w`` sets the initial weights (default: the rule's, uniform in [0, w_max] as in Brian2's
    example). With ``n_inhibitory`` > 0, inhibitory Poisson inputs (rate ``inh_rate``, default
    10 Hz) act on gi (E_i = -70 mV, tau_i 5 ms); they are plastic with ``inh_rule`` if given
    (a sign-preserving rule gets negative weights and the effect gi += -w), else fixed.

    ``n_neurons`` > 1 builds that many independent copies in one network (replicas for statistics
    at one compile): neuron k gets its own inputs k*n_inputs ... (k+1)*n_inputs - 1, so synapse
    index k*n_inputs + m is input m of neuron k (``w`` arrays follow that order). Inhibitory
    inputs are then not supported.
    """
    import brian2 as b2

    _check_count("n_inputs", n_inputs, 1)
    _check_count("n_inhibitory", n_inhibitory, 0)
    _check_count("n_neurons", n_neurons, 1)
    if n_neurons > 1 and n_inhibitory:
        raise ValueError("poisson_to_lif: n_neurons > 1 (independent replicas) does not support inhibitory inputs.")
    rate = 15 * b2.Hz if rate is None else rate
    eqs = """
    dv/dt = (ge * (E_e - v) + gi * (E_i - v) + E_L - v) / tau_m : volt
    dge/dt = -ge / tau_e : 1
    dgi/dt = -gi / tau_i : 1
    """
    ns = {"tau_m": 10 * b2.ms, "E_L": -74 * b2.mV, "E_e": 0 * b2.mV, "E_i": -70 * b2.mV,
          "tau_e": 5 * b2.ms, "tau_i": 5 * b2.ms, "v_t": -54 * b2.mV, "v_r": -60 * b2.mV}
    neuron = b2.NeuronGroup(n_neurons, eqs, threshold="v > v_t", reset="v = v_r", method="euler", namespace=ns, name="neuron")
    neuron.v = ns["v_r"]
    inputs = b2.PoissonGroup(n_inputs * n_neurons, rates=rate, name="inputs")
    if n_neurons == 1:
        syn = rule.connect(inputs, neuron, effect="ge_post += w", w=w, name="plastic")
    else:
        pre = np.arange(n_inputs * n_neurons)
        syn = rule.connect(inputs, neuron, effect="ge_post += w", i=pre, j=pre // n_inputs, w=w, name="plastic")
    objs = [inputs, neuron, syn]
    inh_inputs = inh_syn = None
    signed = False
    if n_inhibitory:
        inh_inputs = b2.PoissonGroup(n_inhibitory, rates=10 * b2.Hz if inh_rate is None else inh_rate, name="inh_inputs")
        if inh_rule is not None:
            signed = inh_rule.signed
            if signed:
                default = -0.5 * (rule.w_max or float(syn.namespace["w_max"]))
                iw = default if inh_w is None else -abs(np.asarray(inh_w, dtype=float))
                inh_syn = inh_rule.connect(inh_inputs, neuron, effect="gi_post += -w", w=iw, name="inh_plastic")
            else:
                inh_syn = inh_rule.connect(inh_inputs, neuron, effect="gi_post += w", w=inh_w, name="inh_plastic")
        else:
            inh_syn = b2.Synapses(inh_inputs, neuron, "w : 1", on_pre="gi_post += w", name="inh_fixed")
            inh_syn.connect()
            inh_syn.w = 0.5 * float(syn.namespace["w_max"]) if inh_w is None else inh_w
        objs += [inh_inputs, inh_syn]
    spikes = b2.SpikeMonitor(neuron, name="spikes")
    trace = b2.StateMonitor(syn, "w", record=list(range(min(record_weights, n_inputs * n_neurons))),
                            dt=100 * b2.ms if weight_dt is None else weight_dt, name="weight_trace")
    net = b2.Network(*objs, spikes, trace)
    params = {"n_inputs": n_inputs, "n_neurons": n_neurons, "rate_hz": float(rate), "n_inhibitory": n_inhibitory,
              "inh_signed": signed,
              "inh_plastic": bool(n_inhibitory and inh_rule is not None)}
    return SongNetwork(net, inputs, neuron, syn, spikes, trace, inh_inputs, inh_syn, params)


INITIAL_LAWS = ("uniform", "constant")


def initial_weights(law: str, n: int, w_hi: float, seed: int) -> np.ndarray:
    """Initial magnitudes of one RMS, w_hi / sqrt(3), under two laws: "uniform" on [0, w_hi]
    (Brian2's STDP example) or "constant" (all equal). sigma(ln w) starts at 1 and 0, so a
    stationary sigma reached from both is set by the rule, not by the initialisation."""
    if law not in INITIAL_LAWS:
        raise ValueError(f"initial weight law {law!r} is not known; allowed: {', '.join(INITIAL_LAWS)} "
                         "(or give a number for constant weights).")
    if not (isinstance(w_hi, (int, float)) and w_hi > 0):
        raise ValueError(f"initial weights {law!r} need an upper end w_hi > 0 (the rule's w_max), got {w_hi!r}.")
    if law == "uniform":
        return np.random.default_rng(seed).uniform(0.0, w_hi, n)
    return np.full(n, w_hi / np.sqrt(3.0))


@dataclass
class BrunelNetwork:
    """Network (b): ``network``, ``exc``/``inh`` NeuronGroups, ``synapses`` dict with keys
    'EE', 'EI', 'IE', 'II', spike monitors ``exc_spikes``/``inh_spikes``, and ``params``."""

    network: object
    exc: object
    inh: object
    synapses: dict
    exc_spikes: object
    inh_spikes: object
    params: dict = field(default_factory=dict)
    #: StateMonitors of a subsample of w per plastic group (``record_synapses`` > 0), else empty
    weight_monitors: dict = field(default_factory=dict)
    #: w is the jump of v in mV (delta synapses): the PSP amplitude, comparable with EPSPs in mV.
    weight_unit: ClassVar[str] = "mV"

    def plastic_groups(self) -> dict:
        """Plastic Synapses by group name ('EE', and 'IE' if plastic)."""
        return {key: self.synapses[key] for key in self.params["plastic"]}

    def weights(self) -> dict[str, np.ndarray]:
        """Signed weights in mV per plastic group ('EE', and 'IE' if plastic), for weights.npz.
        A sign-preserving rule on I->E stores negative weights (effect v += w), so they are
        returned as they are and a flip shows; other rules store |w| (effect v += -w): -w."""
        out = {}
        for key in self.params["plastic"]:
            w = np.array(self.synapses[key].w[:], dtype=float)
            out[key] = w if (not key.startswith("I") or self.params.get("signed", {}).get(key)) else -w
        return out

    def n_synapses(self) -> int:
        """Total number of recurrent synapses (known after the run for cpp_standalone)."""
        return int(sum(len(s) for s in self.synapses.values()))


def brunel_network(
    rule_ee: PlasticityRule | None,
    *,
    n_exc: int = 4000,
    epsilon: float = 0.1,
    g: float = 5.0,
    j_mv: float | None = None,
    nu_ext_ratio: float = 2.0,
    delay=None,
    rule_ie: PlasticityRule | None = None,
    w_ee=None,
    w_max_factor: float = 2.0,
    record_fraction: float = 1.0,
    ee_init: str = "constant",
    record_synapses: int = 0,
    record_dt=None,
    connectivity_seed: int | None = None,
):
    """Network (b): Brunel (2000) model A with plastic E->E (and optionally I->E) synapses.

        tau dV/dt = -V (unless refractory);  V > theta -> spike, V <- V_r;  refractory 2 ms
        tau = 20 ms, theta = 20 mV, V_r = 10 mV, N_I = N_E / 4, connection probability epsilon,
        C_E = epsilon N_E, E->* weight J, I->* weight -g J, delay D = 1.5 ms,
        external drive: C_E Poisson inputs of weight J at nu_ext = nu_ext_ratio * theta / (J C_E tau).

    ``j_mv`` defaults to 100 mV / C_E (J C_E = 100 mV, as Brunel's 0.1 mV with C_E = 1000), so
    nu_thr stays 10 Hz when the network is scaled. Plastic weights are dimensionless numbers in
    mV (effect v += w mV); a sign-preserving rule on I->E gets negative weights -g J.
    ``w_ee`` overrides the initial E->E weights; otherwise ``ee_init`` picks them with RMS J:
    "constant" (all J) or "uniform" (on [0, sqrt(3) J]). ``record_synapses`` > 0 records the
    weights of that many plastic synapses per group (a seeded random subsample; all if fewer)
    every ``record_dt`` (default 10 s) in StateMonitors ``weight_monitors[group]``; the plastic
    groups are then wired in numpy (Bernoulli(epsilon) per pair, like ``connect(p=epsilon)``,
    from ``connectivity_seed``) so that the subsample is known before a cpp_standalone run.
    Rules bounded to
    [0, w_max] get w_max = w_max_factor * J (E->E) or w_max_factor * g J (I->E); Madam-STDP gets
    its own p_scale * RMS(initial weights) unless the rule carries a w_max.
    """
    import brian2 as b2

    _check_count("n_exc", n_exc, 4)
    if not 0 < epsilon <= 1:
        raise ValueError(f"epsilon (connection probability) must be in (0, 1], got {epsilon!r}.")
    if not g > 0 or not nu_ext_ratio > 0:
        raise ValueError(f"g and nu_ext_ratio must be > 0, got g={g!r}, nu_ext_ratio={nu_ext_ratio!r}.")
    if ee_init not in EE_INITS:
        raise ValueError(f"ee_init must be one of {', '.join(EE_INITS)}, got {ee_init!r}.")
    _check_count("record_synapses", record_synapses, 0)
    n_inh = n_exc // 4
    c_e = max(1, int(round(epsilon * n_exc)))
    j = 100.0 / c_e if j_mv is None else float(j_mv)
    tau, theta, v_r = 20 * b2.ms, 20 * b2.mV, 10 * b2.mV
    delay = 1.5 * b2.ms if delay is None else delay
    nu_thr = theta / (j * b2.mV * c_e * tau)
    ns = {"tau": tau, "theta": theta, "v_r": v_r}
    make = lambda n, name: b2.NeuronGroup(  # noqa: E731
        n, "dv/dt = -v / tau : volt (unless refractory)", threshold="v > theta", reset="v = v_r",
        refractory=2 * b2.ms, method="exact", namespace=ns, name=name)
    exc, inh = make(n_exc, "exc"), make(n_inh, "inh")
    exc.v = "v_r * rand()"
    inh.v = "v_r * rand()"
    ext_e = b2.PoissonInput(exc, "v", c_e, nu_ext_ratio * nu_thr, weight=j * b2.mV)
    ext_i = b2.PoissonInput(inh, "v", c_e, nu_ext_ratio * nu_thr, weight=j * b2.mV)
    effect = "v_post += {sign}w * mV * int(not_refractory_post)"

    def fixed(src, tgt, weight, name):
        s = b2.Synapses(src, tgt, on_pre=f"v_post += {weight!r} * mV * int(not_refractory_post)",
                        delay=delay, name=name, namespace={"mV": b2.mV})
        s.connect(p=epsilon)
        return s

    rng = np.random.default_rng(connectivity_seed)
    wiring = {}
    if record_synapses or (ee_init != "constant" and w_ee is None):
        for key, n_src, n_tgt in (("EE", n_exc, n_exc), ("IE", n_inh, n_exc)):
            wiring[key] = bernoulli_pairs(n_src, n_tgt, epsilon, rng)
    syns = {}
    plastic = []
    if rule_ee is not None:
        if w_ee is None:  # RMS J under both laws: uniform on [0, sqrt(3) J] or all J
            w_ee = j if "EE" not in wiring else initial_weights(ee_init, wiring["EE"][0].size, np.sqrt(3.0) * j,
                                                                int(rng.integers(2**31)))
        w_max_ee = _bound(rule_ee, w_max_factor * j)
        conn = {"i": wiring["EE"][0], "j": wiring["EE"][1]} if "EE" in wiring else {"p": epsilon}
        syns["EE"] = rule_ee.connect(exc, exc, effect=effect.format(sign=""), w=w_ee, w_max=w_max_ee,
                                     delay=delay, name="EE", **conn)
        plastic.append("EE")
    else:
        syns["EE"] = fixed(exc, exc, j, "EE")
    syns["EI"] = fixed(exc, inh, j, "EI")
    if rule_ie is not None:
        signed = rule_ie.signed
        conn = {"i": wiring["IE"][0], "j": wiring["IE"][1]} if "IE" in wiring else {"p": epsilon}
        syns["IE"] = rule_ie.connect(inh, exc, effect=effect.format(sign="" if signed else "-"),
                                     w=-g * j if signed else g * j, w_max=_bound(rule_ie, w_max_factor * g * j),
                                     delay=delay, name="IE", **conn)
        plastic.append("IE")
    else:
        syns["IE"] = fixed(inh, exc, -g * j, "IE")
    syns["II"] = fixed(inh, inh, -g * j, "II")
    n_rec_e = max(1, int(round(record_fraction * n_exc)))
    n_rec_i = max(1, int(round(record_fraction * n_inh)))
    exc_spikes = b2.SpikeMonitor(exc[:n_rec_e], name="exc_spikes")
    inh_spikes = b2.SpikeMonitor(inh[:n_rec_i], name="inh_spikes")
    monitors = {}
    record_dt = 10 * b2.second if record_dt is None else record_dt
    for key in plastic if record_synapses else ():
        n_syn = wiring[key][0].size
        idx = np.sort(rng.choice(n_syn, size=min(record_synapses, n_syn), replace=False))
        monitors[key] = b2.StateMonitor(syns[key], "w", record=idx, dt=record_dt, name=f"{key}_weights")
    net = b2.Network(exc, inh, ext_e, ext_i, *syns.values(), exc_spikes, inh_spikes, *monitors.values())
    params = {"n_exc": n_exc, "n_inh": n_inh, "epsilon": epsilon, "c_e": c_e, "j_mv": j, "g": g,
              "nu_ext_hz": float(nu_ext_ratio * nu_thr), "nu_ext_ratio": nu_ext_ratio,
              "n_rec_exc": n_rec_e, "n_rec_inh": n_rec_i, "plastic": plastic,
              "signed": {"EE": bool(rule_ee is not None and rule_ee.signed),
                         "IE": bool(rule_ie is not None and rule_ie.signed)},
              "ee_init": ee_init, "record_synapses": int(record_synapses), "record_dt_s": float(record_dt)}
    return BrunelNetwork(net, exc, inh, syns, exc_spikes, inh_spikes, params, monitors)


EE_INITS = INITIAL_LAWS


def bernoulli_pairs(n_src: int, n_tgt: int, p: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of a random graph with each (source, target) pair present with probability p
    (autapses allowed, as Brian2's ``connect(p=p)``), sorted by source then target."""
    ii, jj = [], []
    for i in range(n_src):
        targets = np.flatnonzero(rng.random(n_tgt) < p)
        ii.append(np.full(targets.size, i, dtype=np.int32))
        jj.append(targets.astype(np.int32))
    return np.concatenate(ii), np.concatenate(jj)


def _bound(rule: PlasticityRule, default: float):
    """w_max for a synapse group: Madam-STDP without its own w_max uses p_scale*RMS (None here)."""
    if rule.signed:
        return None
    return default


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}.")
