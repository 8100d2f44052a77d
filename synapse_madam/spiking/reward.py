"""Three-factor (reward-modulated) plasticity for Brian2: Madam form and its additive baseline.

A three-factor rule gates Hebbian pre/post coincidences by a third, global signal (Fremaux &
Gerstner 2016, Front Neural Circuits 9:85): the pairs are stored in a per-synapse *eligibility
trace* c and turned into a weight change only when a neuromodulator d (dopamine-like reward or
reward-prediction error) arrives. Izhikevich (2007, Cereb Cortex 17:2443) writes it as

    dc/dt = -c / tau_c + STDP(pairs),   dd/dt = -d / tau_d + rewards,   dw/dt = c d

with tau_c = 1 s and tau_d = 0.2 s; Florian (2007, Neural Comput 19:1468) derives the same form
(MSTDPET) from reinforcement learning. Both are additive in w. This module gives that additive
rule (the baseline) and a Madam form of it that moves w multiplicatively and keeps every sign.

**Eligibility trace** (per synapse; the pair-STDP traces apre, apost of ``plasticity``,
event-driven, +1 per spike, time constants tau_plus, tau_minus):

    post spike:  c <- c + a_plus  * apre       (pre-before-post pairs)
    pre spike:   c <- c - a_minus * apost      (post-before-pre pairs)

**Centred eligibility** (``eligibility = "centred"``; default ``"hebbian"``, as above): at a post
spike c <- c + a_plus (apre - elig_ref), with a per-synapse constant elig_ref (a ``Synapses``
variable the task sets; 0 unless set) = the expected pre trace, e.g. tau_plus times the input's
mean rate. An input firing at its usual rate then leaves c unchanged; one firing above (below) it
makes c grow (shrink). This is the presynaptic covariance form of Hebbian learning (Sejnowski
1977, J Math Biol 4:303; Dayan & Abbott 2001, Theoretical Neuroscience, ch. 8): the product
of reward and eligibility then follows the covariance of reward with the input's deviation from
its mean, the condition under which a reward-modulated rule follows the reward gradient
(Loewenstein & Seung 2006, PNAS 103:15224; Fremaux & Gerstner 2016). Where the inputs' total
rate is fixed (the on/off code of digits.py), the centred increments of one post spike sum to
about 0 over the inputs, so learning does not move a neuron's total drive.

**Step-size factor.** ``set_step_factor(syn, f)`` scales the group's step constant (Madam's lr,
additive's eta) by f for the following runs, e.g. for a decay over blocks (digits.py).

**Neuromodulator** d: one number per ``Synapses`` group (a shared variable), raised by
``deliver_reward(syn, amount)`` (amount < 0 is a punishment / negative prediction error).

**Clock** (every ``update_dt``, at t = 0, update_dt, 2 update_dt, ... in Brian2's 'start' slot,
so before the spikes of that time step and after a reward delivered just before it). In order:

    1. weight step with the current (c, d)           (the rule's own, below)
    2. c <- c * exp(-update_dt / tau_c)               (per synapse)
    3. d <- d * exp(-update_dt / tau_d)               (per group)

Between ticks c only jumps at spikes and d only at rewards; the decays are exact at the tick
times. This is the discrete scheme of Izhikevich's daspnet.m (a 10 ms tick with c *= 0.99 and
w += (0.002 + DA) c; there the dopamine also decays between ticks, here a reward is used
undecayed at the next tick: at most a factor exp(-update_dt / tau_d) = 0.95 at 10 ms).

**additive_reward** (Izhikevich 2007; Florian 2007), the Euler step of dw/dt = eta c d:

    w <- clip(w + eta * update_dt * c * d, 0, w_max)

eta is per second, so a shorter update_dt integrates the same ODE. Defaults from daspnet.m:
a_plus = 0.1, a_minus = 0.15, w_max = 4, eta * update_dt = 1 per 10 ms tick (eta = 100 / s).
The tonic 0.002 of daspnet.m is not included (d is the modulator alone).

**madam_reward** (three-factor Madam): the same drive c d read as the negative gradient,
g = -(c d), and one Madam step (Bernstein et al. 2020) of ``rule.madam_update`` per tick, written
by ``plasticity.MadamSTDP``'s template (MADAM_STEP, one place):

    n <- n + 1,  v <- beta v + (1 - beta) g^2
    g_hat = clip(g / sqrt(max(v / (1 - beta^n), tiny)), -g_bound, g_bound)
    w <- clip(w exp(-lr sign(w) g_hat), -w_max, w_max),   w_max = p_scale * RMS(initial w)

so ln|w| moves by at most lr * g_bound per tick and sign(w) never changes: excitatory (w > 0) and
inhibitory (w < 0) synapses keep their sign. As in MadamSTDP the drive acts on the signed weight:
a positive c d makes an excitatory w larger and an inhibitory w less negative. A tick with
d = 0 (or c = 0) is a Madam step with zero gradient: n grows and v decays, w does not move.
The scale of c d cancels in the normalisation; only a_minus / a_plus matters (and so does the
order of clock steps 1-3 for this rule: decaying c or d first would scale every gradient by the
same factor; for additive_reward the order matters).

*Storage.* A Madam step is additive in ln|w|, so madam_reward stores each weight as its sign
w_sign (a constant) and log_w = ln|w|; w = w_sign exp(log_w) is a Brian2 subexpression,
evaluated only where it is read (at a presynaptic spike, by a monitor, by ``syn.w[:]``). The tick
then does log_w <- min(log_w - lr sign(w) g_hat, ln w_max), the same step and bound as above with
no exp per synapse and tick (an exp per transmitted spike instead; far fewer in these networks).
A weight of 0 is log_w = -inf and stays 0. Write initial weights through ``connect(w=...)``;
``syn.w`` cannot be assigned afterwards (set ``syn.log_w`` and ``syn.w_sign``).

*lr and update_dt.* lr is per tick, as Madam's lr is per step (default rule.DEFAULT_LR = 0.01,
beta = 0.999, g_bound = 10, p_scale = 3, the published values). In biological time ln|w| can move
by up to lr * g_bound / update_dt per second, and v averages g^2 over update_dt / (1 - beta)
(10 s at the default update_dt = 10 ms, i.e. over many rewards). To keep the same behaviour per
second with another update_dt, scale lr and (1 - beta) in proportion to update_dt; nothing does
that automatically. 10 ms is daspnet.m's tick: 20 ticks per tau_d resolve a reward's time course,
and a tick costs one pass over the synapses per 100 time steps of 0.1 ms.

**Targets.** Rewards are delivered from Python (between runs, or from a ``network_operation``
with when='start' and order < 0 so that it lands before that step's tick: ``reward_operation``
builds one), so the runtime targets numpy and cython are supported. cpp_standalone would need the reward schedule as a TimedArray
and is not supported yet: ``connect`` and ``deliver_reward`` refuse it with one clear error.

The Brian2 statements are tested event by event against a numpy re-simulation that calls
``synapse_madam.rule`` (tests/test_spiking_reward.py).
"""

from __future__ import annotations

import math

import numpy as np

from .. import rule as madam_rule
from .plasticity import (LOG_WEIGHT_MODEL, MADAM_LOG_EVENT, RULES, STORED_WEIGHT, MadamSTDP, PlasticityRule,
                         _brian2, _lines, _positive, _time)

#: Per-synapse eligibility trace c and the group's neuromodulator d (shared: one value per Synapses).
THREE_FACTOR_MODEL = "elig_c : 1  # eligibility trace c\nmod_d : 1 (shared)  # neuromodulator d\n"

#: Eligibility increments at a post spike (pre-before-post pairs) and at a pre spike.
ELIG_POST = "elig_c += a_plus * apre"
#: eligibility = "centred": the pre trace minus its expected value elig_ref (a per-synapse
#: constant set by the task, 0 unless set), so an input at its mean rate leaves c unchanged.
ELIG_POST_CENTRED = "elig_c += a_plus * (apre - elig_ref)"
CENTRED_MODEL = "elig_ref : 1 (constant)  # expected pre trace at a post spike\n"
ELIGIBILITIES = ("hebbian", "centred")
ELIG_PRE = "elig_c -= a_minus * apost"

#: Clock steps 2 and 3 (step 1 is the rule's weight step, in the same operation as step 2).
ELIG_DECAY = "elig_c = elig_c * elig_decay"
MOD_DECAY = "mod_d = mod_d * mod_decay"

#: The Madam gradient of the three-factor drive.
MADAM_REWARD_GRAD = "-(elig_c * mod_d)"
#: madam_reward's step count: one shared number per group (all its synapses step at the same ticks);
#: the statements run once per tick, before the per-synapse loop.
PER_SYNAPSE_COUNT = "madam_n : 1  # Madam steps taken\n"
SHARED_COUNT = "madam_n : 1 (shared)  # Madam steps taken (the group's ticks)\n"
MADAM_TICK_COUNT = "madam_n += 1\nmadam_bias = 1 / (1 - beta**madam_n)"
ADDITIVE_REWARD_STEP = "w = clip(w + reward_eta_dt * elig_c * mod_d, 0, w_max)"

_NOT_STANDALONE = (
    "{what}: reward rules run on the runtime targets (numpy, cython) only; rewards are delivered "
    "from Python while the network runs, and cpp_standalone would need the reward schedule as a "
    "TimedArray, which is not supported yet. Use brian2.set_device('runtime')."
)


def _require_runtime(what: str) -> None:
    b2 = _brian2()
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    if isinstance(b2.get_device(), CPPStandaloneDevice):
        raise ValueError(_NOT_STANDALONE.format(what=what))


def deliver_reward(synapses, amount) -> None:
    """d <- d + amount for one Synapses group built by a reward rule, or for each of a list of them.

    amount is any finite number (negative: punishment or a negative prediction error). It acts
    at the next clock tick (see the module docstring). Runtime targets only.
    """
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(amount)):
        raise ValueError(f"deliver_reward: amount must be a finite number, got {amount!r}.")
    groups = list(synapses) if isinstance(synapses, (list, tuple)) else [synapses]
    for syn in groups:
        variables = getattr(syn, "variables", None)
        if variables is None or "mod_d" not in variables:
            raise TypeError(
                f"deliver_reward: {getattr(syn, 'name', syn)!r} is not a Synapses group built by a reward "
                f"rule ('madam_reward' or 'additive_reward'); build it with rule.connect(...)."
            )
    _require_runtime("deliver_reward")
    for syn in groups:
        syn.mod_d = float(syn.mod_d[:]) + float(amount)


def reward_operation(synapses, reward_fn, update_dt, name: str = "reward_delivery"):
    """A Brian2 ``NetworkOperation`` that delivers task-dependent rewards while a network runs.

    Every ``update_dt`` (the rule's tick), in the 'start' slot with order -1 (so before the tick's
    weight step, which has order 0), it calls ``reward_fn(t)`` with the time t in seconds (float)
    and hands the returned amount to :func:`deliver_reward` (None or 0: nothing). Because d is
    only read at ticks and is held undecayed until the next tick, a reward delivered here at the
    tick t_k acts exactly like one delivered between t_{k-1} and t_k (tested against delivery
    between runs in tests/test_spiking_reward.py). ``synapses``: one reward-rule group or a list
    of them (all get the amount), or a dict {key: group} when ``reward_fn`` returns a dict
    {key: amount} (one neuromodulator per group, e.g. per output population). Add the returned
    object to the Network. Runtime targets only.
    """
    b2 = _brian2()
    _require_runtime("reward_operation")
    update_dt = _time("update_dt", update_dt)
    keyed = isinstance(synapses, dict)

    def deliver(t):
        amount = reward_fn(np.asarray(t[:], dtype=float).item())  # t: the clock time, 0-d or one element
        if amount is None:
            return
        if keyed:
            if not isinstance(amount, dict):
                raise TypeError("reward_operation: with a dict of groups, reward_fn must return a dict "
                                f"{{key: amount}}, got {amount!r}.")
            for key, a in amount.items():
                if a:
                    deliver_reward(synapses[key], a)
        elif amount:
            deliver_reward(synapses, amount)

    return b2.NetworkOperation(deliver, dt=update_dt, when="start", order=-1, name=name)


class _ThreeFactor:
    """Eligibility trace, neuromodulator and the clock of the module docstring.

    Mixed in before a PlasticityRule subclass that provides ``_weight_step()`` (step 1).
    """

    def _init_three_factor(self, tau_c, tau_d, update_dt, eligibility="hebbian") -> None:
        b2 = _brian2()
        if eligibility not in ELIGIBILITIES:
            raise ValueError(f"{self.name}: eligibility is {eligibility!r}; allowed: {', '.join(ELIGIBILITIES)}.")
        self.eligibility = eligibility
        self.tau_c = _time("tau_c", 1 * b2.second if tau_c is None else tau_c)
        self.tau_d = _time("tau_d", 200 * b2.ms if tau_d is None else tau_d)
        self.update_dt = _time("update_dt", 10 * b2.ms if update_dt is None else update_dt)

    def decays(self) -> tuple[float, float]:
        """(exp(-update_dt / tau_c), exp(-update_dt / tau_d)): the factors of clock steps 2 and 3."""
        dt = float(self.update_dt)
        return math.exp(-dt / float(self.tau_c)), math.exp(-dt / float(self.tau_d))

    @property
    def model(self) -> str:
        return super().model + THREE_FACTOR_MODEL + (CENTRED_MODEL if self.eligibility == "centred" else "")

    def _potentiation(self) -> str:
        return ELIG_POST_CENTRED if self.eligibility == "centred" else ELIG_POST

    def _depression(self) -> str:
        return ELIG_PRE

    def _weight_step(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def tick_statement(self) -> str:
        """Clock steps 1 and 2 (weight step, then the decay of c); step 3 runs after it."""
        return _lines(self._weight_step(), ELIG_DECAY)

    def namespace(self) -> dict:
        c_decay, d_decay = self.decays()
        return {**super().namespace(), "a_plus": self.a_plus, "a_minus": self.a_minus,
                "elig_decay": c_decay, "mod_decay": d_decay}

    #: the namespace constant that sets the size of the weight step (the rule's lr or eta * update_dt)
    step_key = ""

    def set_step_factor(self, syn, factor: float) -> None:
        """Scale this group's step size by ``factor`` >= 0 (Madam's lr, or additive's eta) for the
        following runs; a schedule over the run (e.g. cosine decay per block, digits.py) calls it
        between ``Network.run`` calls. Brian2 reads namespace constants at the start of each run,
        so nothing is recompiled; factor 1 restores the rule's own value."""
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 0:
            raise ValueError(f"{self.name}: the step factor must be a number >= 0, got {factor!r}.")
        syn.namespace[self.step_key] = self.namespace()[self.step_key] * float(factor)

    def _attach(self, syn) -> None:
        _require_runtime(f"{self.name}.connect")
        # both in the 'start' slot of the same ticks; order puts d's decay after the weight step
        # (Brian2 cannot write the shared d after the vector w within one code block)
        syn.run_regularly(self.tick_statement(), dt=self.update_dt, when="start", order=0,
                          name=syn.name + "_reward_step")
        syn.run_regularly(MOD_DECAY, dt=self.update_dt, when="start", order=1, name=syn.name + "_reward_decay")


class MadamReward(_ThreeFactor, MadamSTDP):
    """Three-factor Madam: g = -(c d), one Madam step per ``update_dt`` tick (module docstring).

    Parameters: Madam's ``lr`` (per tick), ``beta``, ``g_bound``, ``p_scale`` / ``w_max``
    (defaults from ``synapse_madam.rule``; w_max = p_scale * RMS(initial w) unless given),
    ``a_plus``/``a_minus`` (eligibility increments; only their ratio matters, default 0.15/0.1 as
    in Izhikevich's daspnet.m), ``tau_c`` (1 s), ``tau_d`` (200 ms), ``update_dt`` (10 ms),
    ``tau_plus``/``tau_minus`` (20 ms). Weights may be negative (inhibitory); signs never change.
    """

    name = "madam_reward"
    signed = True
    step_key = "lr"

    def __init__(self, lr: float = madam_rule.DEFAULT_LR, beta: float = madam_rule.DEFAULT_BETA,
                 g_bound: float = madam_rule.DEFAULT_G_BOUND, p_scale: float = madam_rule.DEFAULT_P_SCALE,
                 w_max=None, a_plus: float = 0.1, a_minus: float = 0.15, tau_c=None, tau_d=None,
                 update_dt=None, tau_plus=None, tau_minus=None, eligibility: str = "hebbian"):
        MadamSTDP.__init__(self, lr=lr, beta=beta, g_bound=g_bound, p_scale=p_scale, w_max=w_max,
                           a_plus=a_plus, a_minus=a_minus, tau_plus=tau_plus, tau_minus=tau_minus)
        self._init_three_factor(tau_c, tau_d, update_dt, eligibility)

    @property
    def model(self) -> str:
        # every synapse of the group takes its Madam step at the same ticks, so the step count is
        # one shared number and the bias correction 1 / (1 - beta^n) is computed once per tick
        # (and the weight is stored as ln|w| and its sign: see _store_weights)
        base = super().model
        if PER_SYNAPSE_COUNT not in base or not base.lstrip().startswith(STORED_WEIGHT):  # pragma: no cover
            raise RuntimeError("MadamReward: MadamSTDP's model no longer declares w and madam_n as expected.")
        return base.replace(PER_SYNAPSE_COUNT, SHARED_COUNT).replace(STORED_WEIGHT, LOG_WEIGHT_MODEL, 1)

    def _weight_step(self) -> str:
        # MadamSTDP's MADAM_STEP (hard bound) on log-magnitude storage, with the step count and
        # bias correction hoisted
        return _lines(MADAM_TICK_COUNT, self._step(MADAM_REWARD_GRAD, update=MADAM_LOG_EVENT).replace(
            "madam_n += 1\n", "").replace("/ (1 - beta**madam_n)", "* madam_bias"))

    def _store_weights(self, syn, w) -> None:
        """Store w as (w_sign, log_w = ln|w|). An expression is evaluated once: its values pass
        through w_sign before they are split (w = 0 gives log_w = -inf and w_sign = 0)."""
        if isinstance(w, str):
            syn.w_sign = w
            syn.log_w = "log(abs(w_sign))"
            syn.w_sign = "sign(w_sign)"
            return
        arr = np.asarray(w, dtype=np.float64)
        with np.errstate(divide="ignore"):
            syn.log_w = np.log(np.abs(arr))
        syn.w_sign = np.sign(arr)

    def _initialize(self, syn, w) -> None:
        super()._initialize(syn, w)
        syn.namespace["log_w_max"] = math.log(float(syn.namespace["w_max"]))


class AdditiveReward(_ThreeFactor, PlasticityRule):
    """Additive reward-modulated STDP (Izhikevich 2007; Florian 2007): w <- clip(w + eta update_dt c d, 0, w_max).

    Parameters: ``eta`` (per second; default 100 / s, i.e. 1 per 10 ms tick as in daspnet.m),
    ``a_plus`` = 0.1, ``a_minus`` = 0.15, ``w_max`` = 4 (daspnet.m's bound), ``tau_c`` (1 s),
    ``tau_d`` (200 ms), ``update_dt`` (10 ms), ``tau_plus``/``tau_minus`` (20 ms). w >= 0.
    """

    name = "additive_reward"
    step_key = "reward_eta_dt"

    def __init__(self, eta: float = 100.0, a_plus: float = 0.1, a_minus: float = 0.15, w_max=4.0,
                 tau_c=None, tau_d=None, update_dt=None, tau_plus=None, tau_minus=None,
                 eligibility: str = "hebbian"):
        super().__init__(tau_plus, tau_minus, w_max)
        self.eta = _positive("eta", eta)
        self.a_plus = _positive("a_plus", a_plus)
        self.a_minus = _positive("a_minus", a_minus)
        self._init_three_factor(tau_c, tau_d, update_dt, eligibility)

    def _weight_step(self) -> str:
        return ADDITIVE_REWARD_STEP

    def namespace(self) -> dict:
        return {**super().namespace(), "reward_eta_dt": self.eta * float(self.update_dt)}


# registered here, as inhibitory.py does: importing synapse_madam.spiking runs these lines
RULES.setdefault("madam_reward", MadamReward)
RULES.setdefault("additive_reward", AdditiveReward)
