"""Training loop for rate networks: learners, seeds, metrics, atomic checkpoints, exact resume.

A *learner* turns one batch of trials into one weight update. Two kinds exist:

* :class:`BPTT` — backpropagation through time of the masked cross-entropy, then any optimizer
  of :func:`synapse_madam.optim.make_optimizer` (Madam, Adam, SGD, ...). For additive optimizers
  the network is projected back onto Dale's law after every step (:meth:`EIRateRNN.project_`)
  and the synapses that crossed zero are counted; Madam needs no projection (its step cannot
  change a sign), and its sign violations are counted all the same.
* :class:`synapse_madam.rate.local.NodePerturbation` — a backprop-free three-factor rule.

:func:`train` runs any learner: trials are drawn from a numpy Generator seeded by ``seed``,
network noise from a torch Generator seeded by ``seed``; it evaluates every ``eval_every`` steps
on a fixed grid of conditions, appends one line per evaluation to ``metrics.jsonl``, writes an
atomic checkpoint (model, learner state, both random states, step) every ``checkpoint_every``
steps, and with ``resume=True`` continues from it bit for bit. A non-finite loss or weight stops
training and is recorded (``"diverged": true``) instead of raising. Every evaluation line also
holds the digest of each weight group (``"digest"``: sigma(ln|w|), KS, fraction at the bound,
sign flips; :func:`weight_digest`), so sigma(t) of a run can be read from metrics.jsonl.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from .. import io
from ..optim import ZeroParameterWarning, make_optimizer
from ..progress import progress_bar
from .tasks import Task, evaluate, masked_loss

__all__ = ["BPTT", "DEFAULT_LR", "train", "make_learner", "steps_to_fraction"]

# default learning rates per optimizer for these networks (Madam: the published 0.01)
DEFAULT_LR = {"madam": 0.01, "adam": 1e-3, "adamw": 1e-3, "sgd": 0.05, "sgd_momentum": 0.01}
CHECKPOINT = "checkpoint.pt"
SYNAPTIC = ("w_rec", "w_in", "w_out")  # the tensors that take the rule's opt-in terms (not biases)


class BPTT:
    """Backpropagation through time + a named optimizer (+ Dale's-law projection if additive).

    ``projection``: "auto" (none for Madam, "zero" for the others), "none", "zero" or "floor"
    (see :meth:`EIRateRNN.project_`). ``grad_clip``: clip the global gradient norm (None: off).
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
        key = optimizer.lower()
        self.optimizer_name = key
        self.lr = DEFAULT_LR.get(key, 1e-3) if lr is None else float(lr)
        multiplicative = "madam" in key
        if projection == "auto":
            projection = "none" if multiplicative else "zero"
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

    def bounds(self) -> dict:
        """Madam's magnitude bound w_max per named tensor once it is set (first step); else None."""
        out = {}
        for name, p in self.model.named_parameters():
            st = self.optimizer.state.get(p, {})
            out[name] = float(st["w_max"]) if "w_max" in st and self._bounded(p) else None
        return out

    def _bounded(self, p) -> bool:
        for group in self.optimizer.param_groups:
            if any(q is p for q in group["params"]):
                return group.get("bound", "hard") != "none" and math.isfinite(group.get("p_scale", math.inf))
        return False

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])

    def describe(self) -> dict:
        return {"rule": "bptt", "optimizer": self.optimizer_name, "lr": self.lr, "projection": self.projection,
                "grad_clip": self.grad_clip, **(self.terms if "madam" in self.optimizer_name else {})}


def make_learner(model, rule: str = "bptt", **kwargs):
    """Learner by name: "bptt" (kwargs: optimizer, lr, projection, grad_clip) or
    "node_perturbation" (kwargs: lr, sigma, sigma_out, baseline, ...)."""
    if rule == "bptt":
        return BPTT(model, **kwargs)
    if rule == "node_perturbation":
        from .local import NodePerturbation

        return NodePerturbation(model, **kwargs)
    raise ValueError(f"unknown learning rule {rule!r}; allowed values: bptt, node_perturbation.")


GROUP_TENSOR = {"EE": "w_rec", "EI": "w_rec", "IE": "w_rec", "II": "w_rec", "in": "w_in", "out": "w_out"}


def weight_digest(model, learner=None, initial: dict | None = None) -> dict:
    """:func:`synapse_madam.biology.digest.digest_weights` of every weight group: ln|w| moments,
    KS distance to its own log-normal, fraction at the learner's magnitude bound (when it has
    one), sign flips against ``initial`` (the groups at the start of the run) and the fraction
    of wrong-signed synapses (Dale's law)."""
    from ..biology.digest import digest_weights
    from .analysis import EXPECTED_SIGN

    bounds = learner.bounds() if learner is not None and hasattr(learner, "bounds") else {}
    out = {}
    for key, w in model.weight_groups().items():
        hi = bounds.get(GROUP_TENSOR[key])
        out[key] = digest_weights(w, initial=None if initial is None else initial[key],
                                  bounds=(0.0, hi) if hi else None, expected_sign=EXPECTED_SIGN[key])
    return out


def weight_moments(model) -> dict:
    """Per group: mean and std of ln|w| over nonzero synapses, and the count of exact zeros."""
    out = {}
    for key, w in model.weight_groups().items():
        a = np.abs(w[w != 0]).astype(float)
        out[key] = {"log_mean": float(np.log(a).mean()) if a.size else float("nan"),
                    "log_sd": float(np.log(a).std()) if a.size else float("nan"),
                    "n_zero": int((w == 0).sum())}
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
          checkpoint_every: int | None = None, resume: bool = False, progress: bool = True,
          device: str | torch.device = "cpu") -> dict:
    """Train ``model`` on ``task`` with ``learner`` for ``steps`` updates; returns a summary dict.

    The summary holds the final evaluation (accuracy, loss, psychometric curve) on
    ``final_eval_trials`` trials, the evaluation history, ``steps_to_90`` (first evaluated step
    reaching 90 % of the final accuracy), the synapses that crossed zero (``crossed_total``),
    the sign violations and silent synapses at the end, wall time, and ``diverged``.
    With ``run_dir``: metrics.jsonl (one line per evaluation) and checkpoint.pt are written.
    """
    for name, v in (("steps", steps), ("batch_size", batch_size), ("eval_every", eval_every)):
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "steps" else 1):
            raise ValueError(f"train: {name} must be a positive integer, got {v!r}.")
    run_dir = Path(run_dir) if run_dir is not None else None
    metrics = run_dir / "metrics.jsonl" if run_dir else None
    ckpt = run_dir / CHECKPOINT if run_dir else None
    checkpoint_every = checkpoint_every or eval_every
    model.to(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    step, wall, crossed_total, history, start_loss = 0, 0.0, 0, [], []
    initial = model.weight_groups()  # for sign flips in the digest (restored from the checkpoint on resume)

    if resume and ckpt is not None and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        learner.load_state_dict(state["learner"])
        rng.bit_generator.state = state["np_rng"]
        gen.set_state(state["torch_rng"])
        step, wall, crossed_total = state["step"], state["wall_s"], state["crossed_total"]
        initial = state.get("initial_groups", initial)
        history = [r for r in io.read_jsonl(metrics) if r.get("step", 0) <= step and "accuracy" in r]
        io.atomic_write_text(metrics, "".join(_json_line(r) for r in history))  # drop lines past the checkpoint
    elif metrics is not None and metrics.exists():
        metrics.unlink()

    def record(extra=None):
        ev = evaluate(model, task, n_trials=eval_trials, device=device)
        row = {"step": step, "accuracy": ev["accuracy"], "eval_loss": ev["loss"], "no_choice": ev["no_choice"],
               "train_loss": float(np.mean(start_loss)) if start_loss else None, "crossed_total": crossed_total,
               "sign_violations": model.sign_violations(), "n_silent": model.n_silent(), "wall_s": wall,
               "weights": weight_moments(model), "digest": weight_digest(model, learner, initial), **(extra or {})}
        history.append(row)
        if metrics is not None:
            io.append_jsonl(metrics, row)
        return row

    def save_checkpoint():
        if ckpt is not None:
            io.atomic_torch_save(ckpt, {"step": step, "model": model.state_dict(), "learner": learner.state_dict(),
                                        "np_rng": rng.bit_generator.state, "torch_rng": gen.get_state(),
                                        "wall_s": wall, "crossed_total": crossed_total,
                                        "initial_groups": initial})

    if step == 0:
        record()
    diverged = False
    bar = _progress(range(step, steps), progress, task.name, step, steps)
    for _ in bar:
        trials = task.generate(batch_size, rng).to(device)
        t0 = time.perf_counter()
        out = learner.step(trials, gen)
        wall += time.perf_counter() - t0
        step += 1
        crossed_total += out.get("crossed", 0)
        start_loss.append(out["loss"])
        if not math.isfinite(out["loss"]) or not _finite(model):
            diverged = True
            row = {"step": step, "diverged": True, "train_loss": out["loss"], "wall_s": wall}
            if metrics is not None:
                io.append_jsonl(metrics, row)
            break
        if step % eval_every == 0 or step == steps:
            row = record()
            start_loss = []
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(acc=f"{row['accuracy']:.3f}", loss=f"{row['eval_loss']:.3f}")
        if step % checkpoint_every == 0 or step == steps:
            save_checkpoint()

    final = evaluate(model, task, n_trials=final_eval_trials, device=device, seed=54321) if not diverged else None
    return {"task": task.name, "learner": learner.describe(), "steps": step, "batch_size": batch_size, "seed": seed,
            "diverged": diverged, "final": final, "accuracy": final["accuracy"] if final else None,
            "steps_to_90": steps_to_fraction(history) if not diverged else None,
            "crossed_total": crossed_total, "sign_violations": model.sign_violations(), "n_silent": model.n_silent(),
            "wall_s": wall, "history": history}


def _json_line(row: dict) -> str:
    import json

    return json.dumps(row, default=io._json_default) + "\n"


def _progress(it, enabled: bool, name: str, initial: int, total: int):
    return progress_bar(it, desc=name, initial=initial, total=total, enabled=enabled, leave=False)
