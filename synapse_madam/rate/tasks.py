"""Cognitive tasks generated on the fly: trial structure, masked loss, accuracy, psychometric curves.

Every task follows the convention of Song, Yang & Wang (2016) and Yang et al. (2019, Nat
Neurosci 22:297): input channel 0 is a fixation cue, on until the decision epoch (its offset is
the go signal); output 0 is "fixate", outputs 1..n_choices are the choices. A task with
``go_cue`` (``parametric_wm`` by default) also has an explicit go cue: its last input channel
is 1 during the decision epoch and 0 before, a noise-free onset that drives the response
instead of leaving it to the removal of an input (with relu units and excitatory afferents an
offset only lowers the drive, and fixation won the decision epoch on some seeds). Each time step has a
target class (0 during fixation/stimulus/delay, 1 + correct choice during the decision epoch) and
a loss weight: 1 before the decision, ``decision_weight`` (5) in the decision epoch after a
grace period (the first 100 ms, where the network may still be switching), 0 on the padding of
shorter trials. The loss is the masked cross-entropy of the readout logits.

Epoch durations are drawn per trial (vectorised), so a batch mixes trial lengths. Sensory inputs
carry noise sqrt(2/alpha) sigma_in N(0, 1) per step (Song et al. 2016's input noise).

A trial is *correct* when the mean softmax over its decision epoch is largest for the correct
choice (fixating through the decision counts as wrong). The psychometric curve is the
fraction of choice 1 per value of the task's signed evidence.

Tasks:

* ``perceptual_dm`` — random-dots-like evidence integration (Britten et al. 1992; Roitman &
  Shadlen 2002): two noisy stimulus channels with means (1 +- c)/2; choose the larger.
* ``context_dm`` — context-dependent integration (Mante, Sussillo, Shenoy & Newsome 2013, Nature
  503:78): motion and colour evidence are both shown; a context cue says which one to report.
* ``parametric_wm`` — parametric working memory (Romo, Brody, Hernández & Lemus 1999, Nature
  399:470): a vibration frequency f1, a delay, a second frequency f2; report whether f1 > f2.
  Frequencies are coded by a positively and a negatively tuned channel (Song et al. 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["Trials", "Task", "PerceptualDM", "ContextDM", "ParametricWM", "TASKS", "make_task", "masked_loss",
           "trial_loss", "evaluate"]


@dataclass
class Trials:
    """A batch of trials. Time-major tensors: inputs (T, B, n_input), targets (T, B) class
    indices, mask (T, B) loss weights, decision (T, B) bool (decision epoch). ``choice`` (B,) is
    the correct choice (0-based), ``evidence`` (B,) the signed evidence of the psychometric
    curve, ``condition`` (B,) an integer id of the trial condition, ``extra`` task-specific
    per-trial arrays (numpy)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    decision: torch.Tensor
    choice: np.ndarray
    evidence: np.ndarray
    condition: np.ndarray
    extra: dict = field(default_factory=dict)

    def to(self, device) -> "Trials":
        return Trials(self.inputs.to(device), self.targets.to(device), self.mask.to(device),
                      self.decision.to(device), self.choice, self.evidence, self.condition, self.extra)

    def repeat(self, k: int) -> "Trials":
        """The same trials k times along the batch (antithetic node perturbation)."""
        rep = lambda t: t.repeat(1, k, *([1] * (t.dim() - 2)))  # noqa: E731
        return Trials(rep(self.inputs), rep(self.targets), rep(self.mask), rep(self.decision),
                      np.tile(self.choice, k), np.tile(self.evidence, k), np.tile(self.condition, k),
                      {key: np.tile(v, k) for key, v in self.extra.items()})


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"task parameter {name} must be a number >= 0, got {value!r}.")


class Task:
    """Base class: epochs, trial assembly, loss weights. Subclasses define ``n_input``,
    ``n_choices``, ``EPOCHS`` (name -> (min_ms, max_ms)) and ``_stimulus``."""

    name = "task"
    n_input = 1
    n_choices = 2
    EPOCHS: dict = {}
    evidence_label = "evidence"

    SIGMA_IN = 0.01
    GO_CUE = False  # default of ``go_cue``: an explicit go-cue input channel (the last one)

    def __init__(self, dt_ms: float = 20.0, tau_ms: float = 100.0, sigma_in: float | None = None,
                 decision_weight: float = 5.0, grace_ms: float = 100.0, go_cue: bool | None = None, **epochs):
        sigma_in = self.SIGMA_IN if sigma_in is None else sigma_in
        go_cue = self.GO_CUE if go_cue is None else go_cue
        if not isinstance(go_cue, bool):
            raise ValueError(f"task {self.name!r}: go_cue must be true or false, got {go_cue!r}.")
        self.go_cue = go_cue
        self.n_input = type(self).n_input + int(go_cue)  # the go cue is the last channel
        _positive("dt_ms", dt_ms)
        _positive("sigma_in", sigma_in)
        _positive("decision_weight", decision_weight)
        _positive("grace_ms", grace_ms)
        if dt_ms <= 0 or tau_ms <= 0:
            raise ValueError(f"task: dt_ms and tau_ms must be > 0, got {dt_ms}, {tau_ms}.")
        self.dt_ms, self.tau_ms, self.sigma_in = float(dt_ms), float(tau_ms), float(sigma_in)
        self.decision_weight, self.grace_ms = float(decision_weight), float(grace_ms)
        self.epochs = dict(self.EPOCHS)
        for key, value in epochs.items():
            name = key.removesuffix("_ms")
            if name not in self.epochs:
                allowed = (", ".join(f"{e}_ms" for e in self.epochs)
                           + ", dt_ms, tau_ms, sigma_in, decision_weight, grace_ms, go_cue")
                raise ValueError(f"task {self.name!r}: unknown parameter {key!r}; allowed: {allowed} "
                                 "(+ the task's own parameters).")
            lo, hi = (value, value) if isinstance(value, (int, float)) else tuple(value)
            _positive(key, lo)
            _positive(key, hi)
            if hi < lo:
                raise ValueError(f"task {self.name!r}: {key} = {value!r} must be [min, max] with min <= max.")
            self.epochs[name] = (float(lo), float(hi))

    @property
    def n_output(self) -> int:
        return 1 + self.n_choices

    @property
    def input_noise_std(self) -> float:
        """sqrt(2/alpha) sigma_in per step (Song et al. 2016)."""
        return math.sqrt(2 * self.tau_ms / self.dt_ms) * self.sigma_in

    def params(self) -> dict:
        return {"dt_ms": self.dt_ms, "tau_ms": self.tau_ms, "sigma_in": self.sigma_in,
                "decision_weight": self.decision_weight, "grace_ms": self.grace_ms, "go_cue": self.go_cue,
                **{f"{k}_ms": list(v) for k, v in self.epochs.items()}}

    def _durations(self, rng: np.random.Generator, batch: int) -> dict:
        """Steps per epoch and trial, drawn uniformly in [min, max] ms and rounded to dt."""
        return {k: np.maximum(np.round(rng.uniform(lo, hi, batch) / self.dt_ms).astype(int), 1 if k != "delay" else 0)
                for k, (lo, hi) in self.epochs.items()}

    def generate(self, batch: int, rng: np.random.Generator, conditions: dict | None = None) -> Trials:
        """``batch`` random trials drawn with ``rng`` (numpy Generator). ``conditions`` fixes
        task variables (e.g. ``{"coherence": array}``) for evaluation grids."""
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"generate: batch must be an integer >= 1, got {batch!r}.")
        dur = self._durations(rng, batch)
        names = list(self.epochs)
        starts, t = {}, np.zeros(batch, dtype=int)
        for k in names:
            starts[k] = t.copy()
            t = t + dur[k]
        total = int(t.max())
        time = np.arange(total)[:, None]
        in_epoch = {k: (time >= starts[k][None]) & (time < (starts[k] + dur[k])[None]) for k in names}
        inputs = np.zeros((total, batch, self.n_input), dtype=np.float32)
        pre_decision = (time < starts["decision"][None])
        inputs[..., 0] = pre_decision
        choice, evidence, condition, extra = self._stimulus(inputs, in_epoch, rng, batch, conditions or {})
        sensory = inputs[..., 1:self.n_input - int(self.go_cue)]
        trial_on = time < t[None]
        sensory += (rng.standard_normal(sensory.shape) * self.input_noise_std * trial_on[..., None]).astype(np.float32)
        decision = in_epoch["decision"]
        if self.go_cue:  # noise-free, like the fixation cue
            inputs[..., -1] = decision
        targets = np.where(decision, 1 + choice[None], 0)
        grace = int(round(self.grace_ms / self.dt_ms))
        in_grace = decision & (time < (starts["decision"] + grace)[None])
        mask = np.where(decision, self.decision_weight, 1.0) * trial_on
        mask[in_grace] = 0.0
        return Trials(torch.from_numpy(inputs), torch.from_numpy(targets.astype(np.int64)),
                      torch.from_numpy(mask.astype(np.float32)), torch.from_numpy(decision),
                      choice, evidence, condition, extra)

    def _stimulus(self, inputs, in_epoch, rng, batch, conditions):  # pragma: no cover - abstract
        raise NotImplementedError

    def evaluation_conditions(self) -> dict:
        """A grid of task variables for the psychometric curve (each value repeated)."""
        raise NotImplementedError


def _pick(conditions, key, values, rng, batch):
    if key in conditions:
        v = np.asarray(conditions[key], dtype=float)
        if v.shape != (batch,):
            raise ValueError(f"conditions[{key!r}] must have shape ({batch},), got {v.shape}.")
        return v
    return rng.choice(np.asarray(values, dtype=float), size=batch)


class PerceptualDM(Task):
    """Two-choice perceptual decision making: integrate noisy evidence, report its sign.

    Stimulus channels 1, 2 show (1 + c)/2 and (1 - c)/2 plus noise during the stimulus epoch,
    c in +-``coherences``; the correct choice is 0 for c > 0, 1 for c < 0. With
    ``stimulus_in_decision`` (default) the stimulus stays on through the delay and decision
    epochs; with false, the choice must be held in memory through them (harder: see docs)."""

    name = "perceptual_dm"
    n_input = 3
    EPOCHS = {"fixation": (100, 100), "stimulus": (200, 800), "delay": (0, 200), "decision": (300, 300)}
    evidence_label = "coherence"
    SIGMA_IN = 0.05
    COHERENCES = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32)

    def __init__(self, coherences=COHERENCES, stimulus_in_decision: bool = True, **kw):
        super().__init__(**kw)
        self.coherences = tuple(float(c) for c in coherences)
        if not self.coherences or any(c <= 0 for c in self.coherences):
            raise ValueError(f"task {self.name!r}: coherences must be > 0 (signs are drawn), got {coherences!r}.")
        if not isinstance(stimulus_in_decision, bool):
            raise ValueError(f"task {self.name!r}: stimulus_in_decision must be true or false, got {stimulus_in_decision!r}.")
        self.stimulus_in_decision = stimulus_in_decision

    def params(self):
        return {**super().params(), "coherences": list(self.coherences),
                "stimulus_in_decision": self.stimulus_in_decision}

    def _stimulus_on(self, in_epoch):
        """Stimulus epoch, extended through the delay and decision epochs when
        ``stimulus_in_decision`` (evidence stays visible until the response ends, as in
        fixed-duration tasks where the go cue is the fixation offset; Yang et al. 2019's default)."""
        on = in_epoch["stimulus"]
        return on | in_epoch["delay"] | in_epoch["decision"] if self.stimulus_in_decision else on

    def _stimulus(self, inputs, in_epoch, rng, batch, conditions):
        signed = np.concatenate([-np.asarray(self.coherences), np.asarray(self.coherences)])
        c = _pick(conditions, "coherence", signed, rng, batch)
        on = self._stimulus_on(in_epoch)
        inputs[..., 1] += on * (1 + c[None]) / 2
        inputs[..., 2] += on * (1 - c[None]) / 2
        choice = (c < 0).astype(int)
        condition = np.searchsorted(np.sort(signed), c)
        return choice, c, condition, {"coherence": c}

    def evaluation_conditions(self):
        signed = np.sort(np.concatenate([-np.asarray(self.coherences), np.asarray(self.coherences)]))
        return {"coherence": signed}


class ContextDM(PerceptualDM):
    """Context-dependent integration (Mante et al. 2013): motion (channels 1, 2) and colour
    (channels 3, 4) evidence are both present; the context cue (channel 5: motion, channel 6:
    colour), on for the whole trial, says which to report. Choice 0 when the relevant
    coherence is positive. The psychometric curve is P(choice 0) against the *motion* coherence,
    split by context (steep in the motion context, flat in the colour context)."""

    name = "context_dm"
    n_input = 7
    EPOCHS = {"fixation": (100, 100), "stimulus": (400, 800), "delay": (100, 300), "decision": (300, 300)}
    evidence_label = "motion coherence"
    SIGMA_IN = 0.05
    COHERENCES = (0.02, 0.04, 0.08, 0.16, 0.32)

    def __init__(self, coherences=COHERENCES, **kw):
        super().__init__(coherences, **kw)

    def _stimulus(self, inputs, in_epoch, rng, batch, conditions):
        signed = np.concatenate([-np.asarray(self.coherences), np.asarray(self.coherences)])
        cm = _pick(conditions, "motion", signed, rng, batch)
        cc = _pick(conditions, "colour", signed, rng, batch)
        ctx = _pick(conditions, "context", [0, 1], rng, batch).astype(int)
        on = self._stimulus_on(in_epoch)
        inputs[..., 1] += on * (1 + cm[None]) / 2
        inputs[..., 2] += on * (1 - cm[None]) / 2
        inputs[..., 3] += on * (1 + cc[None]) / 2
        inputs[..., 4] += on * (1 - cc[None]) / 2
        trial = np.zeros_like(on)
        for k in in_epoch:
            trial |= in_epoch[k]
        inputs[..., 5] += trial * (ctx[None] == 0)
        inputs[..., 6] += trial * (ctx[None] == 1)
        relevant = np.where(ctx == 0, cm, cc)
        choice = (relevant < 0).astype(int)
        n = len(signed)
        condition = ctx * n * n + np.searchsorted(np.sort(signed), cm) * n + np.searchsorted(np.sort(signed), cc)
        return choice, cm, condition, {"motion": cm, "colour": cc, "context": ctx}

    def evaluation_conditions(self):
        signed = np.sort(np.concatenate([-np.asarray(self.coherences), np.asarray(self.coherences)]))
        m, c, x = np.meshgrid(signed, signed, [0, 1], indexing="ij")
        return {"motion": m.ravel(), "colour": c.ravel(), "context": x.ravel()}


class ParametricWM(Task):
    """Parametric working memory (Romo et al. 1999): f1, a delay, f2; choice 0 if f1 > f2.

    Frequency f (Hz) is shown on a positively tuned channel 1, (f - f_min)/(f_max - f_min), and
    a negatively tuned channel 2, (f_max - f)/(f_max - f_min), during the f1 and f2 epochs.
    f1 is drawn from ``f1_hz`` and f2 = f1 +- one of ``delta_hz``. f1 must be held through the
    delay; with ``stimulus_in_decision`` (default) f2 stays on through the decision epoch.
    Channel 3 is the explicit go cue (on in the decision epoch; ``go_cue=False`` removes it)."""

    name = "parametric_wm"
    n_input = 3  # fixation, f+ and f- channels; + the go cue (channel 3) with go_cue (default)
    GO_CUE = True
    EPOCHS = {"fixation": (100, 100), "f1": (300, 300), "delay": (500, 1000), "f2": (300, 300),
              "decision": (300, 300)}
    evidence_label = "f1 - f2 (Hz)"
    F1 = (10.0, 14.0, 18.0, 22.0, 26.0, 30.0, 34.0)
    DELTA = (2.0, 4.0, 8.0)
    F_MIN, F_MAX = 4.0, 42.0

    def __init__(self, f1_hz=F1, delta_hz=DELTA, stimulus_in_decision: bool = True, **kw):
        super().__init__(**kw)
        self.f1_hz, self.delta_hz = tuple(float(f) for f in f1_hz), tuple(float(d) for d in delta_hz)
        if not self.f1_hz or not self.delta_hz or any(d <= 0 for d in self.delta_hz):
            raise ValueError(f"task {self.name!r}: f1_hz and delta_hz must be non-empty, delta_hz > 0.")
        if not isinstance(stimulus_in_decision, bool):
            raise ValueError(f"task {self.name!r}: stimulus_in_decision must be true or false, got {stimulus_in_decision!r}.")
        self.stimulus_in_decision = stimulus_in_decision

    def params(self):
        return {**super().params(), "f1_hz": list(self.f1_hz), "delta_hz": list(self.delta_hz),
                "stimulus_in_decision": self.stimulus_in_decision}

    def _code(self, f):
        span = self.F_MAX - self.F_MIN
        return (f - self.F_MIN) / span, (self.F_MAX - f) / span

    def _stimulus(self, inputs, in_epoch, rng, batch, conditions):
        f1 = _pick(conditions, "f1", self.f1_hz, rng, batch)
        if "delta" in conditions:
            delta = _pick(conditions, "delta", [], rng, batch)
        else:
            delta = rng.choice(np.asarray(self.delta_hz), batch) * rng.choice([-1.0, 1.0], batch)
        f2 = f1 - delta
        f2_on = in_epoch["f2"] | in_epoch["decision"] if self.stimulus_in_decision else in_epoch["f2"]
        for on, f in ((in_epoch["f1"], f1), (f2_on, f2)):
            pos, neg = self._code(f)
            inputs[..., 1] += on * pos[None]
            inputs[..., 2] += on * neg[None]
        choice = (f1 < f2).astype(int)
        deltas = np.sort(np.concatenate([-np.asarray(self.delta_hz), np.asarray(self.delta_hz)]))
        condition = np.searchsorted(np.asarray(self.f1_hz), f1) * len(deltas) + np.searchsorted(deltas, delta)
        return choice, delta, condition, {"f1": f1, "f2": f2}

    def evaluation_conditions(self):
        deltas = np.concatenate([-np.asarray(self.delta_hz), np.asarray(self.delta_hz)])
        f1, d = np.meshgrid(np.asarray(self.f1_hz), deltas, indexing="ij")
        return {"f1": f1.ravel(), "delta": d.ravel()}


TASKS = {"perceptual_dm": PerceptualDM, "context_dm": ContextDM, "parametric_wm": ParametricWM}


def make_task(name: str, **params) -> Task:
    """The task called ``name`` (see TASKS) with its parameters (epoch durations as
    ``NAME_ms = [min, max]`` or a number, dt_ms, tau_ms, sigma_in, ...)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; allowed values: {', '.join(TASKS)}.")
    try:
        return TASKS[name](**params)
    except TypeError as exc:
        raise ValueError(f"task {name!r}: {exc}") from None


def trial_loss(logits: torch.Tensor, trials: Trials) -> torch.Tensor:
    """Per-trial masked cross-entropy: sum_t m_t CE(z_t, y_t) / sum_t m_t, shape (B,)."""
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), trials.targets.reshape(-1),
                                           reduction="none").reshape(trials.targets.shape)
    m = trials.mask
    return (ce * m).sum(0) / m.sum(0).clamp_min(1e-12)


def masked_loss(logits: torch.Tensor, trials: Trials) -> torch.Tensor:
    """Batch loss: sum_{t,b} m CE / sum_{t,b} m (the masked cross-entropy)."""
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), trials.targets.reshape(-1),
                                           reduction="none").reshape(trials.targets.shape)
    return (ce * trials.mask).sum() / trials.mask.sum()


@torch.no_grad()
def decisions(logits: torch.Tensor, trials: Trials) -> np.ndarray:
    """Response per trial: argmax of the mean softmax over its decision epoch; -1 = fixation
    (no choice), else the 0-based choice."""
    p = torch.softmax(logits, -1) * trials.decision[..., None]
    mean = p.sum(0) / trials.decision.sum(0).clamp_min(1)[:, None]
    return (mean.argmax(-1) - 1).cpu().numpy()


def psychometric(evidence: np.ndarray, response: np.ndarray, group: np.ndarray | None = None) -> dict:
    """P(choice 0) per evidence value (and per ``group`` value when given):
    {"x": [...], "p_choice0": [...], "n": [...]} or {group: {...}}."""
    def one(e, r):
        xs = np.unique(e)
        return {"x": xs.tolist(), "p_choice0": [float(np.mean(r[e == x] == 0)) for x in xs],
                "n": [int(np.sum(e == x)) for x in xs]}
    if group is None:
        return one(evidence, response)
    return {str(g): one(evidence[group == g], response[group == g]) for g in np.unique(group)}


@torch.no_grad()
def evaluate(model, task: Task, *, n_trials: int = 500, seed: int = 12345, device="cpu") -> dict:
    """Accuracy, loss and psychometric curve on a fixed grid of conditions, each condition
    repeated ceil(n_trials / grid size) times, with a fixed seed so that evaluations are
    comparable across training. For ``context_dm`` the curve is split by context ("0" =
    motion, "1" = colour)."""
    grid = task.evaluation_conditions()
    repeats = max(1, math.ceil(n_trials / len(next(iter(grid.values())))))
    cond = {k: np.repeat(v, repeats) for k, v in grid.items()}
    batch = len(next(iter(cond.values())))
    rng = np.random.default_rng(seed)
    trials = task.generate(batch, rng, conditions=cond).to(device)
    gen = torch.Generator().manual_seed(seed)
    logits = model(trials.inputs, generator=gen)
    resp = decisions(logits, trials)
    correct = resp == trials.choice
    out = {"accuracy": float(np.mean(correct)), "loss": float(masked_loss(logits, trials)),
           "no_choice": float(np.mean(resp < 0)), "n_trials": int(batch)}
    group = trials.extra.get("context")
    out["psychometric"] = psychometric(trials.evidence, resp, group)
    if group is not None:  # Mante et al.: the irrelevant dimension must not move the choice
        out["accuracy_by_context"] = {str(g): float(np.mean(correct[group == g])) for g in np.unique(group)}
    return out
