"""Plasticity rules as Brian2 synapse models: additive, weight-dependent and Madam STDP.

Every rule is the pair-based STDP of Song, Miller & Abbott (2000) written with two
event-driven traces (Brian2 updates them analytically at the synapse's own events only):

    d apre/dt  = -apre / tau_plus     apre  += 1 at each presynaptic spike
    d apost/dt = -apost / tau_minus   apost += 1 at each postsynaptic spike

so at a postsynaptic spike ``apre`` = sum_k exp(-(t - t_pre_k)/tau_plus) (pre-before-post pairs)
and at a presynaptic spike ``apost`` = sum_k exp(-(t - t_post_k)/tau_minus). The rules differ in
what the pairs do to the weight w (a dimensionless number; the ``effect`` statement of
``connect`` gives it its unit, e.g. ``ge_post += w`` or ``v_post += w*mV``):

* AdditiveSTDP (Song et al. 2000; the parameters of Brian2's STDP example): at a post spike
  w += A+ w_max apre, at a pre spike w -= A- w_max apost, hard bounds [0, w_max].
  Drives the weights to the bounds (bimodal distribution).
* WeightDependentSTDP (Guetig, Aharonov, Rotter & Sompolinsky 2003): the same with
  F+(w) = A+ w_max (1 - w/w_max)^mu_plus and F-(w) = A- w_max (w/w_max)^mu_minus.
  mu = 0 is additive, mu = 1 multiplicative; ``van_rossum_stdp()`` is additive potentiation with
  multiplicative depression (van Rossum, Bi & Turrigiano 2000); ``gutig_stdp(mu)`` sets both.
  Gives unimodal, skewed distributions.
* MadamSTDP: the STDP drive d is used as the (negative) gradient of Madam (Bernstein et al. 2020):
  g = -d with d = +A+ apre at a post spike (potentiation) and d = -A- apost at a pre spike
  (depression). Each event at a synapse is one Madam step of that synapse, using the functions of
  ``synapse_madam.rule`` (same math, same defaults):

      n  <- n + 1                                        (per-synapse step count)
      v  <- beta v + (1 - beta) g^2                      (per-synapse second moment)
      g_hat = clip(g / sqrt(max(v / (1 - beta^n), tiny)), -g_bound, g_bound)
      w  <- clip(w exp(-lr sign(w) g_hat), -w_max, w_max)

  i.e. w <- w exp(lr sign(w) d_hat): log|w| moves by at most lr g_bound per event and sign(w)
  never changes, so excitatory (w > 0) and inhibitory (w < 0) synapses keep their sign (Dale).
  Because the drive is normalised, only the ratio A-/A+ matters, not the amplitudes.
  Opt-in terms of ``synapse_madam.rule`` (all off by default = the published rule), in
  continuous time: the restoring rate ``restore`` is theta per *second* (not per Madam step:
  a synapse's step count depends on its firing rates, the clock does not), ``noise_std`` is the
  ln|w| fluctuation per sqrt(second). Every ``noise_dt`` = Delta, one exact Ornstein-Uhlenbeck
  step of x = ln|w| towards mu = ln(set_point * RMS(initial w)) (rule.initial_log_set_point):

      x <- mu + (x - mu) exp(-theta Delta) + noise_std sqrt((1 - exp(-2 theta Delta)) / (2 theta)) N(0, 1)

  which is rule.log_space_relaxation with restore = theta Delta and noise = noise_std sqrt(Delta),
  so with no spikes ln|w| is stationary N(mu, noise_std^2 / (2 theta)) (rule.stationary_log_moments).
  theta = 0 leaves the random walk log|w| += noise_std sqrt(Delta) N(0, 1) (spine-size
  fluctuations, Loewenstein, Kuras & Rumpel 2011). ``bound`` is "hard" (the published clip at
  w_max, after events and after the OU step), "soft" (a potentiating step is scaled by
  max(0, 1 - |w|/w_max), rule.soft_bound_factor; no clip) or "none".
* LogSTDP (Gilson & Fukai 2011, PLoS ONE 6:e25339): additive-in-time pair STDP whose LTD grows
  only logarithmically with w above w0 and whose LTP saturates softly, giving long-tailed weights
  without an upper bound (see the class).

The Brian2 statements are produced from the templates below (one place), and tests check the
Madam statements against a numpy re-simulation that calls ``synapse_madam.rule``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import rule as madam_rule

#: Trace equations shared by all rules (event-driven: no per-time-step cost).
TRACE_MODEL = """
w : 1
dapre/dt = -apre / tau_plus : 1 (event-driven)
dapost/dt = -apost / tau_minus : 1 (event-driven)
"""

#: One Madam step of rule.madam_update written as Brian2 abstract code (per-synapse state
#: madam_v = second moment v, madam_n = step count t; named so as not to clash with a neuron's v). ``{grad}`` is the
#: gradient g (= minus the STDP drive) at this event. Mirrors rule.second_moment,
#: rule.normalized_gradient (0/0 -> 0 by flooring v_hat at the smallest normal float),
#: rule.multiplicative_step and rule.bound_magnitude.
MADAM_STEP = """
madam_g = {grad}
madam_n += 1
madam_v = beta * madam_v + (1 - beta) * (madam_g * madam_g)
madam_ghat = clip(madam_g / sqrt(clip(madam_v / (1 - beta**madam_n), v_floor, inf)), -g_bound, g_bound)
{soft}
{update}
"""

#: rule.soft_bound_factor: a step that grows |w| (sign(w) * g_hat < 0) is scaled by max(0, 1 - |w|/w_max).
MADAM_SOFT = "madam_ghat = madam_ghat * (1 + int(sign(w) * madam_ghat < 0) * (clip(1 - abs(w) / w_max, 0, inf) - 1))"

#: rule.multiplicative_step (the Madam event) and rule.log_space_relaxation (the clock-driven OU
#: step, every noise_dt; with restore = 0 the random walk w * exp(sd * N(0, 1))), before the bound.
MADAM_EVENT = "w * exp(-lr * sign(w) * madam_ghat)"
#: The same event on log-magnitude storage (w = w_sign exp(log_w), w_sign fixed): ln|w| moves by
#: -lr sign(w) g_hat and the hard bound |w| <= w_max is log_w <= ln(w_max) (reward.MadamReward).
MADAM_LOG_EVENT = "log_w = clip(log_w - lr * w_sign * madam_ghat, -inf, log_w_max)"
#: Log-magnitude storage of the weight: TRACE_MODEL's stored ``w`` becomes a subexpression, so
#: every reader (on_pre, monitors, ``syn.w[:]``) sees w while the tick adds to ln|w| without exp.
STORED_WEIGHT = "w : 1\n"
LOG_WEIGHT_MODEL = ("log_w : 1  # ln|w| (-inf for w = 0)\nw_sign : 1 (constant)  # sign of w, never changes\n"
                    "w = w_sign * exp(log_w) : 1  # the weight\n")
MADAM_WALK = "w * exp(ou_sd * randn())"
MADAM_OU = "sign(w) * exp(madam_mu + (log(abs(w)) - madam_mu) * ou_decay{noise})"


def _brian2():
    try:
        import brian2
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ImportError(
            "synapse_madam.spiking needs Brian2 (pip install brian2==2.9.0; it is in the "
            "package's dependencies)."
        ) from exc
    return brian2


def _time(name: str, value):
    """Check that value is a Brian2 time Quantity > 0 and return it."""
    b2 = _brian2()
    if not isinstance(value, b2.Quantity) or value.dim != b2.second.dim:
        raise TypeError(f"{name} must be a Brian2 time quantity such as 20*ms, got {value!r}.")
    if not float(value) > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}.")
    return value


def _positive(name: str, value, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}.")
    return value


def _lines(*blocks: str) -> str:
    return "\n".join(line.strip() for b in blocks for line in b.strip().splitlines() if line.strip())


class PlasticityRule:
    """Base class: pair-based STDP traces; subclasses give the weight update.

    Attributes ``model``, ``on_pre(effect)``, ``on_post()`` and ``namespace()`` are everything
    Brian2 needs; ``connect`` builds the configured ``Synapses`` in one call.
    """

    name = "base"
    signed = False  # True if the rule allows negative (inhibitory) weights

    def __init__(self, tau_plus=None, tau_minus=None, w_max=None):
        b2 = _brian2()
        self.tau_plus = _time("tau_plus", 20 * b2.ms if tau_plus is None else tau_plus)
        self.tau_minus = _time("tau_minus", 20 * b2.ms if tau_minus is None else tau_minus)
        self.w_max = None if w_max is None else _positive("w_max", w_max)

    # -- what Brian2 needs ------------------------------------------------------------------
    @property
    def model(self) -> str:
        """Synapses model equations (weight w, traces, rule state)."""
        return TRACE_MODEL

    def on_pre(self, effect: str = "ge_post += w") -> str:
        """Statements at a presynaptic spike: the effect on the target first (with the weight
        before this event's update, as in Brian2's STDP example), then the pre trace and the
        depression update."""
        return _lines(effect, "apre += 1", self._depression())

    def on_post(self) -> str:
        """Statements at a postsynaptic spike: the post trace and the potentiation update."""
        return _lines("apost += 1", self._potentiation())

    def namespace(self) -> dict:
        """Constants used by the statements, with units."""
        ns = {"tau_plus": self.tau_plus, "tau_minus": self.tau_minus}
        if self.w_max is not None:
            ns["w_max"] = self.w_max
        return ns

    def _depression(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _potentiation(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- one call ---------------------------------------------------------------------------
    def connect(
        self,
        source,
        target,
        *,
        effect: str = "ge_post += w",
        condition=None,
        p=None,
        i=None,
        j=None,
        w=None,
        w_max=None,
        delay=None,
        name: str | None = None,
    ):
        """Return a Brian2 ``Synapses`` from source to target with this rule, connected and
        initialised.

        Connectivity follows ``Synapses.connect``: ``condition``/``p`` (string or number), or
        explicit ``i``/``j`` arrays; nothing given means all-to-all. ``w`` is the initial weight:
        a number, an array (one value per synapse), or a Brian2 expression string such as
        ``'rand()*w_max'``; default: the rule's ``default_w``. ``w_max`` overrides the rule's
        bound for this synapse group (Madam default: p_scale * RMS of the initial weights,
        as in rule.initial_w_max). ``effect`` is what a presynaptic spike does to the target,
        e.g. ``'ge_post += w'`` (conductance) or ``'v_post += w*mV'`` (current-based).
        """
        b2 = _brian2()
        if not isinstance(effect, str):
            raise TypeError(f"effect must be a Brian2 statement string such as 'ge_post += w', got {effect!r}.")
        ns = self.namespace()
        if w_max is not None:
            ns["w_max"] = _positive("w_max", w_max)
        ns.update(self._extra_namespace())
        kwargs = {"name": name} if name else {}
        syn = b2.Synapses(
            source, target, model=self.model, on_pre=self.on_pre(effect), on_post=self.on_post(),
            namespace=ns, delay=delay, **kwargs,
        )
        conn = {k: v for k, v in (("condition", condition), ("i", i), ("j", j), ("p", p)) if v is not None}
        syn.connect(**conn)
        self._initialize(syn, self.default_w if w is None else w)
        self._attach(syn)
        return syn

    default_w = "rand() * w_max"

    def _extra_namespace(self) -> dict:
        return {}

    def _initialize(self, syn, w) -> None:
        if "w_max" not in syn.namespace:
            raise ValueError(f"{self.name}: w_max is required (give it to the rule or to connect()).")
        if not isinstance(w, str):
            arr = np.asarray(w, dtype=float)
            if not self.signed and np.any(arr < 0):
                raise ValueError(
                    f"{self.name}: initial weights must be >= 0 (this rule bounds w to [0, w_max]); "
                    "for inhibitory synapses use a positive magnitude and an effect like 'gi_post += w', "
                    "or use the sign-preserving 'madam' rule with negative weights."
                )
            w = arr
        self._store_weights(syn, w)

    def _store_weights(self, syn, w) -> None:
        """Write the initial weights (array, number or Brian2 expression string) into ``syn``."""
        syn.w = w

    def _attach(self, syn) -> None:
        """Hook for extra operations on the synapses (e.g. noise)."""


class WeightDependentSTDP(PlasticityRule):
    """Weight-dependent pair STDP (Guetig et al. 2003; van Rossum et al. 2000 for mu_plus=0,
    mu_minus=1; additive Song et al. 2000 for mu = 0), hard bounds [0, w_max]:

        post spike: w <- clip(w + A+ w_max (1 - w/w_max)^mu_plus apre, 0, w_max)
        pre spike:  w <- clip(w - A- w_max (w/w_max)^mu_minus apost, 0, w_max)

    Defaults are those of Brian2's STDP example (from Song et al. 2000): tau = 20 ms,
    A+ = 0.01, A- = 1.05 A+ tau_plus/tau_minus, w_max = 0.01.
    """

    name = "weight_dependent"

    def __init__(self, mu_plus=1.0, mu_minus=1.0, a_plus=0.01, a_minus=None, w_max=0.01, tau_plus=None, tau_minus=None):
        super().__init__(tau_plus, tau_minus, w_max)
        self.mu_plus = _positive("mu_plus", mu_plus, allow_zero=True)
        self.mu_minus = _positive("mu_minus", mu_minus, allow_zero=True)
        self.a_plus = _positive("a_plus", a_plus)
        ratio = float(self.tau_plus / self.tau_minus)
        self.a_minus = _positive("a_minus", 1.05 * self.a_plus * ratio if a_minus is None else a_minus)

    @staticmethod
    def _power(base: str, mu: float) -> str:
        if mu == 0:
            return ""
        return f" * ({base})" if mu == 1 else f" * ({base})**{mu!r}"

    def _potentiation(self) -> str:
        return f"w = clip(w + a_plus * w_max{self._power('1 - w / w_max', self.mu_plus)} * apre, 0, w_max)"

    def _depression(self) -> str:
        return f"w = clip(w - a_minus * w_max{self._power('w / w_max', self.mu_minus)} * apost, 0, w_max)"

    def namespace(self) -> dict:
        return {**super().namespace(), "a_plus": self.a_plus, "a_minus": self.a_minus}


class AdditiveSTDP(WeightDependentSTDP):
    """Additive STDP of Song, Miller & Abbott (2000) with the parameters of Brian2's STDP example:
    w += A+ w_max apre at post spikes, w -= A- w_max apost at pre spikes, clipped to [0, w_max]
    (A+ = 0.01, A- = 1.05 A+, tau = 20 ms, w_max = 0.01). Drives weights to 0 and w_max."""

    name = "additive"

    def __init__(self, a_plus=0.01, a_minus=None, w_max=0.01, tau_plus=None, tau_minus=None):
        super().__init__(0.0, 0.0, a_plus, a_minus, w_max, tau_plus, tau_minus)


def van_rossum_stdp(**kwargs) -> WeightDependentSTDP:
    """Additive potentiation with multiplicative depression (van Rossum, Bi & Turrigiano 2000):
    mu_plus = 0, mu_minus = 1. Gives a stable unimodal weight distribution around the fixed point
    w*/w_max ~ A+/A- (uncorrelated inputs, equal pre-post and post-pre pair counts). The default
    A- = 2.1 A+ (the 1.05 depression bias of Song et al. 2000 times 2) puts w* near w_max/2;
    with A- = 1.05 A+ every weight would sit near 0.95 w_max and the neuron would fire at
    hundreds of Hz."""
    kwargs.setdefault("a_minus", 2.1 * kwargs.get("a_plus", 0.01))
    rule = WeightDependentSTDP(mu_plus=0.0, mu_minus=1.0, **kwargs)
    rule.name = "van_rossum"
    return rule


def gutig_stdp(mu: float = 0.4, **kwargs) -> WeightDependentSTDP:
    """Guetig et al. (2003) STDP with one exponent mu for both sides (0 additive, 1 multiplicative)."""
    rule = WeightDependentSTDP(mu_plus=mu, mu_minus=mu, **kwargs)
    rule.name = "gutig"
    return rule


class MadamSTDP(PlasticityRule):
    """Madam-STDP: the STDP drive as the (negative) gradient of a per-synapse Madam step.

    See the module docstring for the math. Defaults come from ``synapse_madam.rule``:
    lr = DEFAULT_LR, beta = DEFAULT_BETA, g_bound = DEFAULT_G_BOUND, p_scale = DEFAULT_P_SCALE
    (w_max = p_scale * RMS(initial weights) unless ``w_max`` is given). ``a_minus / a_plus``
    sets the depression/potentiation balance (1.05 as in Song et al. 2000); the scale of the
    drive cancels in the normalisation.

    Opt-in terms (defaults off: the published rule exactly), applied every ``noise_dt``
    (default 100 ms) as one exact OU step of ln|w| (module docstring):

    * ``restore``: log-space restoring rate theta in 1/s (per second of biological time, not per
      Madam step), towards mu = ln(set_point * RMS(initial w)) of the synapse group;
    * ``noise_std``: ln|w| fluctuation per sqrt(s) (with restore = 0 the random walk of earlier
      versions, bit for bit);
    * ``bound``: "hard" (published clip at w_max), "soft" (potentiation scaled by
      max(0, 1 - |w|/w_max), no clip) or "none".

    Weights may be negative (inhibitory); their sign never changes. The drive acts on the signed
    weight (gradient semantics): at an inhibitory synapse, pre-before-post pairs move w toward 0
    (weaker inhibition) and post-before-pre pairs make it more negative (stronger inhibition).
    """

    name = "madam"
    signed = True

    def __init__(
        self,
        lr: float = madam_rule.DEFAULT_LR,
        beta: float = madam_rule.DEFAULT_BETA,
        g_bound: float = madam_rule.DEFAULT_G_BOUND,
        p_scale: float = madam_rule.DEFAULT_P_SCALE,
        w_max=None,
        a_plus: float = 1.0,
        a_minus: float = 1.05,
        noise_std: float = 0.0,
        noise_dt=None,
        tau_plus=None,
        tau_minus=None,
        restore: float = 0.0,
        set_point: float = madam_rule.DEFAULT_SET_POINT,
        bound: str = madam_rule.DEFAULT_BOUND,
    ):
        super().__init__(tau_plus, tau_minus, w_max)
        noise_std = _positive("noise_std", noise_std, allow_zero=True)
        restore = _positive("restore", restore, allow_zero=True)
        if not isinstance(bound, str):
            raise TypeError(f"madam: bound must be a string, one of {madam_rule.BOUNDS}, got {bound!r}.")
        madam_rule.validate_hyperparameters(lr, beta, g_bound, p_scale, restore=restore, noise=noise_std,
                                            set_point=set_point, bound=bound)
        self.lr, self.beta, self.g_bound, self.p_scale = float(lr), float(beta), float(g_bound), float(p_scale)
        self.a_plus = _positive("a_plus", a_plus)
        self.a_minus = _positive("a_minus", a_minus)
        self.noise_std, self.restore, self.set_point, self.bound = noise_std, restore, float(set_point), bound
        b2 = _brian2()
        self.noise_dt = _time("noise_dt", 100 * b2.ms if noise_dt is None else noise_dt)

    @property
    def model(self) -> str:
        return TRACE_MODEL + "madam_v : 1  # second moment of the drive\nmadam_n : 1  # Madam steps taken\n"

    def _bounded(self, expr: str) -> str:
        return f"clip({expr}, -w_max, w_max)" if self.bound == "hard" else expr

    def _step(self, grad: str, update: str | None = None) -> str:
        """MADAM_STEP with gradient ``grad``; ``update`` replaces its last line (the weight update)."""
        return MADAM_STEP.format(grad=grad, soft=MADAM_SOFT if self.bound == "soft" else "",
                                 update="w = " + self._bounded(MADAM_EVENT) if update is None else update)

    def _potentiation(self) -> str:
        return self._step("-a_plus * apre")

    def _depression(self) -> str:
        return self._step("a_minus * apost")

    def ou_coefficients(self) -> tuple[float, float]:
        """(decay, sd) of one noise_dt step: rule.ou_coefficients(restore * dt, noise_std * sqrt(dt))."""
        dt = float(self.noise_dt)
        return madam_rule.ou_coefficients(self.restore * dt, self.noise_std * math.sqrt(dt))

    def clock_statement(self) -> str | None:
        """The statement run every noise_dt (None when restore = noise_std = 0)."""
        if not (self.restore or self.noise_std):
            return None
        if not self.restore:
            return "w = " + self._bounded(MADAM_WALK)
        noise = " + ou_sd * randn()" if self.noise_std else ""
        return "w = " + self._bounded(MADAM_OU.format(noise=noise))

    def namespace(self) -> dict:
        return {
            **super().namespace(),
            "lr": self.lr, "beta": self.beta, "g_bound": self.g_bound,
            "a_plus": self.a_plus, "a_minus": self.a_minus,
            "v_floor": float(np.finfo(np.float64).tiny),
        }

    def _extra_namespace(self) -> dict:
        if not (self.restore or self.noise_std):
            return {}
        decay, sd = self.ou_coefficients()
        return {"ou_decay": decay, "ou_sd": sd}

    def _initialize(self, syn, w) -> None:
        needs_w_max = "w_max" not in syn.namespace
        if needs_w_max or self.restore:
            arr = self._initial_weights(syn, w, "w_max" if needs_w_max else "the set point mu")
            if needs_w_max:
                syn.namespace["w_max"] = float(madam_rule.initial_w_max(arr, self.p_scale))
                if not syn.namespace["w_max"] > 0:
                    raise ValueError("madam: initial weights are all zero, so w_max = p_scale*RMS(w) = 0; "
                                     "give nonzero w.")
            if self.restore:
                mu = float(madam_rule.initial_log_set_point(arr, self.set_point))
                if not math.isfinite(mu):
                    raise ValueError("madam: initial weights are all zero, so the set point "
                                     "mu = ln(set_point*RMS(w)) is -inf; give nonzero w.")
                syn.namespace["madam_mu"] = mu
            if isinstance(w, str):  # the expression was drawn once above: keep those weights
                w = arr
        super()._initialize(syn, w)

    def _initial_weights(self, syn, w, what: str) -> np.ndarray:
        """The initial weights as a float64 array (a scalar stands for itself: RMS = |w|)."""
        if isinstance(w, str):
            b2 = _brian2()
            from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

            if isinstance(b2.get_device(), CPPStandaloneDevice):
                raise ValueError(
                    f"madam: with cpp_standalone the initial weights given as an expression are not "
                    f"known before the run, so {what} cannot be computed; give the initial w as an array "
                    "or a number" + (" (or w_max explicitly)." if what == "w_max" else ".")
                )
            if "w_max" in w and "w_max" not in syn.namespace:
                raise ValueError(
                    f"madam: the initial weights {w!r} refer to w_max, which is not set; give w_max "
                    "(to the rule or to connect()) or initial weights that do not use it."
                )
            self._store_weights(syn, w)
            return np.asarray(syn.w[:], dtype=np.float64)
        return np.atleast_1d(np.asarray(w, dtype=np.float64))

    def _attach(self, syn) -> None:
        statement = self.clock_statement()
        if statement is not None:
            syn.run_regularly(statement, dt=self.noise_dt, name=syn.name + "_noise")


class LogSTDP(PlasticityRule):
    """Log-STDP of Gilson & Fukai (2011, PLoS ONE 6:e25339), pair-based, on w >= 0, no upper bound:

        post spike: w <- w + eta * c_plus * f_plus(w) * apre     (apre: tau_plus, +1 per pre spike)
        pre spike:  w <- max(0, w - eta * c_minus * f_minus(w) * apost)   (apost: tau_minus)

        f_plus(w)  = exp(-w / (beta * w0))                         (soft saturation of LTP)
        f_minus(w) = w / w0 for w <= w0,  1 + ln(1 + alpha (w/w0 - 1)) / alpha above w0

    so LTD is multiplicative for small weights and grows only logarithmically above w0, which
    leaves a long (log-normal-like) tail. Form and values (w0 = 0.005, alpha = 5, beta = 50,
    eta = 2e-4, tau_plus = 17 ms with c_plus = 1, tau_minus = 34 ms with c_minus = 0.5) as in
    A. Gilra's Brian2 code for Gilson, Fukai & Burkitt (2012); w0 = 0.005 is also the scale of
    network (a)'s weights (units of the leak conductance). ``w_max`` is only a reporting scale.
    """

    name = "log_stdp"
    default_w = "rand() * 2 * log_w0"

    def __init__(self, w0=0.005, alpha=5.0, beta=50.0, eta=2e-4, c_plus=1.0, c_minus=0.5,
                 tau_plus=None, tau_minus=None, w_max=None):
        b2 = _brian2()
        super().__init__(17 * b2.ms if tau_plus is None else tau_plus,
                         34 * b2.ms if tau_minus is None else tau_minus, w_max)
        self.w0, self.alpha, self.beta = _positive("w0", w0), _positive("alpha", alpha), _positive("beta", beta)
        self.eta, self.c_plus, self.c_minus = _positive("eta", eta), _positive("c_plus", c_plus), _positive("c_minus", c_minus)

    def namespace(self) -> dict:
        # prefixed names: a user's variables called w0 or eta must not shadow (or warn against) these
        return {**super().namespace(), "log_w0": self.w0, "log_alpha": self.alpha, "log_beta": self.beta,
                "log_eta": self.eta, "log_c_plus": self.c_plus, "log_c_minus": self.c_minus}

    def _potentiation(self) -> str:
        return "w = w + log_eta * log_c_plus * exp(-w / (log_beta * log_w0)) * apre"

    def _depression(self) -> str:
        # the clip keeps log() finite below w0, where int(w > w0) = 0 selects the linear branch
        f_minus = ("(int(w <= log_w0) * w / log_w0 + int(w > log_w0) * "
                   "(1 + log(clip(1 + log_alpha * (w / log_w0 - 1), 1, inf)) / log_alpha))")
        return f"w = clip(w - log_eta * log_c_minus * {f_minus} * apost, 0, inf)"

    def _initialize(self, syn, w) -> None:
        if not isinstance(w, str) and np.any(np.asarray(w, dtype=float) < 0):
            raise ValueError("log_stdp: initial weights must be >= 0 (excitatory magnitudes).")
        syn.w = w


#: rule name -> factory (keyword parameters)
RULES = {
    "additive": AdditiveSTDP,
    "weight_dependent": WeightDependentSTDP,
    "van_rossum": van_rossum_stdp,
    "gutig": gutig_stdp,
    "madam": MadamSTDP,
    "log_stdp": LogSTDP,
}


def make_rule(name: str, **params) -> PlasticityRule:
    """Build a rule by name: 'additive', 'weight_dependent', 'van_rossum', 'gutig', 'madam' or 'log_stdp',
    or one registered by a sibling module: 'vogels_madam' (inhibitory.py), 'madam_reward' and
    'additive_reward' (reward.py); importing synapse_madam.spiking registers them.

    Time parameters (tau_plus, tau_minus, noise_dt, tau_c, update_dt, ...) may be Brian2 quantities or
    numbers in milliseconds (as written in the TOML specs: ``tau_plus_ms = 20``)."""
    if name not in RULES:
        raise ValueError(f"unknown plasticity rule {name!r}; allowed: {', '.join(RULES)}.")
    b2 = _brian2()
    converted = {}
    for key, value in params.items():
        if key.endswith("_ms"):
            converted[key[:-3]] = float(value) * b2.ms
        else:
            converted[key] = value
    try:
        return RULES[name](**converted)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise ValueError(f"rule {name!r}: {exc}") from None
        raise
