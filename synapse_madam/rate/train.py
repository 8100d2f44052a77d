"""Training loop for rate networks: learners, seeds, metrics, atomic checkpoints, exact resume.

A *learner* turns one batch of trials into one weight update. Two kinds exist:

* :class:`BPTT` — backpropagation through time of the masked cross-entropy, then any optimizer
  of :func:`synapse_madam.optim.make_optimizer` (Madam, Adam, SGD, ...). For optimizers that are
  not declared ``sign_preserving`` in the registry the network is projected back onto Dale's law
  after every step (:meth:`EIRateRNN.project_`) and the synapses that crossed zero are counted;
  sign-preserving ones (Madam) need no projection, and their sign violations are counted all the same.
* :class:`synapse_madam.rate.local.NodePerturbation` — a backprop-free three-factor rule.

:func:`train` runs any learner: trials are drawn from a numpy Generator seeded by ``seed``,
network noise from a torch Generator seeded by ``seed``; it evaluates every ``eval_every`` steps
on a fixed grid of conditions, appends one line per evaluation to ``metrics.jsonl``, writes an
atomic checkpoint (model, learner state, both random states, step) every ``checkpoint_every``
steps, and with ``resume=True`` continues from it bit for bit; all files go through a
:class:`synapse_madam.runs.RunFolder`. Each metrics line carries the weight digest of every group
(:func:`synapse_madam.biology.digest_weights`: ln|w| moments, sign flips against the initial
weights, wrong-signed fraction, fraction at Madam's bound). A non-finite loss or weight, or a loss
above 1e3 x the first step's, stops training and is recorded (``"diverged": true``) instead of
raising; a final accuracy at chance is recorded as ``"failed": true`` (:func:`synapse_madam.runs.outcome`).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch

from ..biology.digest import digest_weights
from ..optim import ZeroParameterWarning, make_optimizer, optimizer_info
from ..progress import progress_bar
from ..runs import RunFolder, divergence, outcome
from .tasks import Task, evaluate, masked_loss

__all__ = ["BPTT", "train", "make_learner", "steps_to_fraction", "weight_digests", "EXPECTED_SIGN", "GROUP_PARAM"]

# prescribed sign of each group (post-pre naming; I->E and I->I are inhibitory)
EXPECTED_SIGN = {"EE": 1, "EI": 1, "IE": -1, "II": -1, "in": 1, "out": 1}
# the parameter tensor each group is a part of (Madam's bound w_max is per tensor)
GROUP_PARAM = {"EE": "w_rec", "EI": "w_rec", "IE": "w_rec", "II": "w_rec", "in": "w_in", "out": "w_out"}
SYNAPTIC = ("w_rec", "w_in", "w_out")  # the tensors that take the rule's opt-in terms (not biases)


class BPTT:
    """Backpropagation through time + a named optimizer (+ Dale's-law projection if additive).

    ``projection``: "auto" (none for an optimizer the registry declares sign_preserving, such as
    Madam; "zero" for the others), "none", "zero" or "floor" (see :meth:`EIRateRNN.project_`).
    ``lr``: None takes the optimizer's declared default_lr. ``grad_clip``: clip the global
    gradient norm (None: off).
    ``restore``, ``noise``, ``set_point``, ``bound`` (Madam only): the rule's opt-in terms
    (:mod:`synapse_madam.rule`), applied through :class:`synapse_madam.Madam`'s options to the
    synaptic tensors ``w_rec``, ``w_in``, ``w_out``, with one set point per synapse group
    (:meth:`EIRateRNN.group_log_rms`; W_rec holds E and I synapses whose magnitudes differ 4x);
    biases and background drives take the published step in a second parameter group.
    ``noise_seed``: Madam's noise seed (tensor k of the synapses draws hash_normal(seed * 1000003 + k, t)).
    """

    kind = "bptt"

    def __init__(self, model, optimizer: str = "madam", lr: float | None = None, *, projection: str = "auto",
                 grad_clip: float | None = None, restore: float = 0.0, noise: float = 0.0, set_point: float = 1.0,
                 bound: str = "hard", noise_seed: int = 0, **optimizer_kwargs):
        info = optimizer_info(optimizer)
        self.optimizer_name = key = info.name
        self.lr = info.default_lr if lr is None else float(lr)
        if projection == "auto":
            projection = "none" if info.sign_preserving else "zero"
        if projection not in ("none", "zero", "floor"):
            raise ValueError(f"BPTT: projection={projection!r}; allowed values: auto, none, zero, floor.")
        if grad_clip is not None and not grad_clip > 0:
            raise ValueError(f"BPTT: grad_clip must be > 0 or None, got {grad_clip!r}.")
        self.model, self.projection, self.grad_clip = model, projection, grad_clip
        terms = {k: v for k, v in (("restore", restore), ("noise", noise), ("set_point", set_point), ("bound", bound))
                 if v != {"restore": 0.0, "noise": 0.0, "set_point": 1.0, "bound": "hard"}[k]}
        if terms and key != "madam":
            raise ValueError(f"BPTT: {', '.join(terms)} are terms of Madam's rule (synapse_madam.rule); optimizer "
                             f"{optimizer!r} has none. Use optimizer='madam' or remove them.")
        self.terms = {"restore": float(restore), "noise": float(noise), "set_point": float(set_point), "bound": bound}
        self._group_mu = {}
        if terms:  # the terms act on the synapses; biases and background drives take the published step
            named = dict(model.named_parameters())
            synaptic = [p for n, p in named.items() if n in SYNAPTIC]
            others = [p for n, p in named.items() if n not in SYNAPTIC]
            params = [{"params": synaptic, **terms}] + ([{"params": others}] if others else [])
            optimizer_kwargs["seed"] = noise_seed
            # one set point per synapse group (E->E, E->I, I->E, I->I, in, out), from the initial weights
            self._group_mu = {n: math.log(float(set_point)) + model.group_log_rms(n) for n in SYNAPTIC}
        else:
            params = list(model.parameters())
        self.optimizer = make_optimizer(key, params, self.lr, **optimizer_kwargs)

    def step(self, trials, generator: torch.Generator) -> dict:
        logits = self.model(trials.inputs, generator=generator)
        loss = masked_loss(logits, trials)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        with warnings.catch_warnings():  # the only exact zeros are absent synapses (conn masks)
            warnings.simplefilter("ignore", ZeroParameterWarning)
            self.optimizer.step()
        if self._group_mu:
            self._use_group_set_points()
        crossed = self.model.project_(self.projection) if self.projection != "none" else 0
        return {"loss": float(loss.detach()), "crossed": crossed}

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])

    @torch.no_grad()
    def _use_group_set_points(self) -> None:
        """Replace Madam's per-tensor set point mu_T = ln(set_point * RMS(W_1)) by the per-group one
        mu_g (a tensor of W's shape) right after the first step, where the optimizer creates it.
        That first step relaxed x = ln|w| towards mu_T: x_1 = mu_T + (x' - mu_T) e^-theta + n; moving
        x_1 by (mu_g - mu_T)(1 - e^-theta) gives exactly the step towards mu_g. Later steps (and
        resumed runs, whose saved state holds mu_g) find the tensor-shaped mu and skip this."""
        named = dict(self.model.named_parameters())
        restore = self.terms["restore"]
        for name, mu_g in self._group_mu.items():
            p = named[name]
            st = self.optimizer.state.get(p)
            if not st or "log_set_point" not in st or st["log_set_point"].shape == p.shape:
                continue
            mu_g = mu_g.to(device=p.device, dtype=st["log_set_point"].dtype)
            if restore:
                p.mul_(torch.exp((mu_g - st["log_set_point"]) * -math.expm1(-restore)).to(p.dtype))
                if self.terms["bound"] == "hard":
                    p.clamp_(-st["w_max"], st["w_max"])
            st["log_set_point"] = mu_g

    def w_max(self) -> dict:
        """The bound of |w| per parameter name, as the optimizer declares it (``magnitude_bounds(p)``:
        Madam, NeuronMadam, LNSMadam), not with bound="none", where the restoring drift replaces it.
        EG± pairs, whose w_max bounds each synapse w+, w- but not w = w+ - w-, declare none; an
        optimizer without ``magnitude_bounds`` (Adam, SGD, ...) keeps no bound."""
        declared = getattr(self.optimizer, "magnitude_bounds", None)
        if declared is None:
            return {}
        names = {id(q): n for n, q in self.model.named_parameters()}
        out = {}
        for group in self.optimizer.param_groups:
            if group.get("bound", "hard") == "none":
                continue
            for p in group["params"]:
                b = declared(p)
                if b is not None:
                    out[names[id(p)]] = float(b[1])
        return out

    def describe(self) -> dict:
        return {"rule": "bptt", "optimizer": self.optimizer_name, "lr": self.lr, "projection": self.projection,
                "grad_clip": self.grad_clip, **(self.terms if self.optimizer_name == "madam" else {})}


def make_learner(model, rule: str = "bptt", **kwargs):
    """Learner by name: "bptt" (kwargs: optimizer, lr, projection, grad_clip) or
    "node_perturbation" (kwargs: lr, sigma, sigma_out, baseline, ...)."""
    if rule == "bptt":
        return BPTT(model, **kwargs)
    if rule == "node_perturbation":
        from .local import NodePerturbation

        return NodePerturbation(model, **kwargs)
    raise ValueError(f"unknown learning rule {rule!r}; allowed values: bptt, node_perturbation.")


def weight_digests(model, learner=None, initial: dict | None = None) -> dict:
    """The weight digest of every group (:func:`synapse_madam.biology.digest_weights`) with its
    expected sign, its sign flips against ``initial`` ({group: array}) and, where the learner
    keeps Madam's bound for the group's tensor, the fraction of synapses at it."""
    w_max = learner.w_max() if learner is not None and hasattr(learner, "w_max") else {}
    out = {}
    for key, w in model.weight_groups().items():
        hi = w_max.get(GROUP_PARAM.get(key))
        out[key] = digest_weights(w, initial=None if initial is None else initial.get(key),
                                  bounds=None if hi is None else (0.0, hi), expected_sign=EXPECTED_SIGN.get(key))
    return out


def steps_to_fraction(history: list[dict], fraction: float = 0.9, key: str = "accuracy") -> int | None:
    """First evaluated step whose ``key`` reaches ``fraction`` x the final value (None if none)."""
    if not history:
        return None
    target = fraction * history[-1][key]
    for row in history:
        if row[key] >= target:
            return int(row["step"])
    return None


def _finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def train(model, task: Task, learner, *, steps: int, batch_size: int = 64, seed: int = 0, run_dir=None,
          eval_every: int = 100, eval_trials: int = 500, final_eval_trials: int = 2000,
          checkpoint_every: int | None = None, resume: bool = False, overwrite: bool = False,
          progress: bool = True, device: str | torch.device = "cpu", initial: dict | None = None) -> dict:
    """Train ``model`` on ``task`` with ``learner`` for ``steps`` updates; returns a summary dict.

    The summary holds the final evaluation (accuracy, loss, psychometric curve) on
    ``final_eval_trials`` trials, the evaluation history, ``steps_to_90`` (first evaluated step
    reaching 90 % of the final accuracy), the synapses that crossed zero (``crossed_total``),
    the sign violations and silent synapses at the end, wall time, and ``diverged``.
    With ``run_dir`` (a path, or an open :class:`~synapse_madam.runs.RunFolder`): metrics.jsonl
    (one line per evaluation) and checkpoint.pt are written; a path is opened as a locked
    RunFolder (a fresh start over results needs ``overwrite=True``). ``initial``: the weight
    groups at the start of the run (default: the model's now), for the sign-flip count.
    """
    for name, v in (("steps", steps), ("batch_size", batch_size), ("eval_every", eval_every)):
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "steps" else 1):
            raise ValueError(f"train: {name} must be a positive integer, got {v!r}.")
    args = dict(steps=steps, batch_size=batch_size, seed=seed, eval_every=eval_every, eval_trials=eval_trials,
                final_eval_trials=final_eval_trials, checkpoint_every=checkpoint_every or eval_every,
                progress=progress, device=device, initial=initial)
    if run_dir is None or isinstance(run_dir, RunFolder):
        return _train(model, task, learner, run_dir, bool(run_dir is not None and run_dir.resuming), **args)
    with RunFolder.open(run_dir, None, resume=resume, overwrite=overwrite) as folder:
        return _train(model, task, learner, folder, folder.resuming, **args)


def _train(model, task: Task, learner, folder: RunFolder | None, resume: bool, *, steps, batch_size, seed,
           eval_every, eval_trials, final_eval_trials, checkpoint_every, progress, device, initial) -> dict:
    model.to(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    step, wall, crossed_total, history, start_loss, initial_loss = 0, 0.0, 0, [], [], None
    if initial is None:
        initial = model.weight_groups()

    if resume and folder.has_checkpoint():
        state = folder.load_checkpoint()
        model.load_state_dict(state["model"])
        learner.load_state_dict(state["learner"])
        rng.bit_generator.state = state["np_rng"]
        gen.set_state(state["torch_rng"])
        step, wall, crossed_total = state["step"], state["wall_s"], state["crossed_total"]
        initial_loss = state.get("initial_loss")
        # drop lines past the checkpoint
        history = [r for r in folder.truncate_metrics("step", step) if "accuracy" in r]
    elif folder is not None:
        folder.clear_metrics()

    def record(extra=None):
        ev = evaluate(model, task, n_trials=eval_trials, device=device)
        row = {"step": step, "accuracy": ev["accuracy"], "eval_loss": ev["loss"], "no_choice": ev["no_choice"],
               "train_loss": float(np.mean(start_loss)) if start_loss else None, "crossed_total": crossed_total,
               "sign_violations": model.sign_violations(), "n_silent": model.n_silent(), "wall_s": wall,
               "weights": weight_digests(model, learner, initial), **(extra or {})}
        history.append(row)
        if folder is not None:
            folder.append_metrics(row)
        return row

    def save_checkpoint():
        if folder is not None:
            folder.save_checkpoint({"step": step, "model": model.state_dict(), "learner": learner.state_dict(),
                                    "np_rng": rng.bit_generator.state, "torch_rng": gen.get_state(),
                                    "wall_s": wall, "crossed_total": crossed_total, "initial_loss": initial_loss})

    if step == 0:
        record()
    diverged = None
    bar = _progress(range(step, steps), progress, task.name, step, steps)
    for _ in bar:
        trials = task.generate(batch_size, rng).to(device)
        t0 = time.perf_counter()
        out = learner.step(trials, gen)
        wall += time.perf_counter() - t0
        step += 1
        crossed_total += out.get("crossed", 0)
        start_loss.append(out["loss"])
        if initial_loss is None:
            initial_loss = out["loss"]
        diverged = divergence(out["loss"], initial_loss) or (None if _finite(model) else "non-finite weight")
        if diverged:
            row = {"step": step, "diverged": True, "divergence": diverged,
                   "train_loss": out["loss"] if math.isfinite(out["loss"]) else None, "wall_s": wall}
            if folder is not None:
                folder.append_metrics(row)
            break
        if step % eval_every == 0 or step == steps:
            row = record()
            start_loss = []
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(acc=f"{row['accuracy']:.3f}", loss=f"{row['eval_loss']:.3f}")
        if step % checkpoint_every == 0 or step == steps:
            save_checkpoint()

    final = evaluate(model, task, n_trials=final_eval_trials, device=device, seed=54321) if not diverged else None
    accuracy = final["accuracy"] if final else None
    return {"task": task.name, "learner": learner.describe(), "steps": step, "batch_size": batch_size, "seed": seed,
            **outcome(diverged, accuracy, 1.0 / task.n_choices, final_eval_trials),
            "initial_loss": initial_loss, "final": final, "accuracy": accuracy,
            "steps_to_90": steps_to_fraction(history) if not diverged else None,
            "crossed_total": crossed_total, "sign_violations": model.sign_violations(), "n_silent": model.n_silent(),
            "wall_s": wall, "history": history}


def _progress(it, enabled: bool, name: str, initial: int, total: int):
    return progress_bar(it, desc=name, initial=initial, total=total, enabled=enabled, leave=False)
