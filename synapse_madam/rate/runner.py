"""The "rate" substrate of ``synapse-madam run``: a models/rate_*.toml spec -> runs/NAME/.

Spec keys (all but ``substrate`` and ``task`` optional)::

    substrate = "rate"
    task = "perceptual_dm"        # perceptual_dm | context_dm | parametric_wm
    seed = 1
    steps = 2000                  # weight updates
    batch_size = 64
    eval_every = 100              # evaluation + metrics line
    eval_trials = 500             # trials per evaluation (fixed condition grid and seed)
    final_eval_trials = 2000
    device = "cpu"                # or "cuda"
    threads = 1                   # torch CPU threads; 0 = by the size of a step (synapse_madam.threads). One thread is fastest
                                  # for these small matrices and far faster on a shared CPU (measured
                                  # 78 vs 3 steps/s with 2 threads on a loaded 2-core machine)
    [network]                     # EIRateRNN arguments: n_rec, frac_exc, tau_ms, dt_ms, activation,
                                  # sigma_rec, init, gamma_shape, lognormal_sigma, spectral_radius,
                                  # p_connect, autapses, input_scale, readout_scale
    [task_params]                 # task arguments: sigma_in, decision_weight, grace_ms,
                                  # <epoch>_ms = [min, max], coherences / f1_hz / delta_hz
    [learning]
    rule = "bptt"                 # bptt | node_perturbation
    optimizer = "madam"           # bptt: any name of synapse_madam.optim.make_optimizer
    lr = 0.01                     # default: the optimizer's declared default_lr (registry)
    projection = "auto"           # bptt: auto (none for a sign-preserving optimizer such as Madam,
                                  # zero otherwise) | none | zero | floor
    grad_clip = 1.0               # bptt, optional
    p_scale = 3.0                 # Madam's magnitude bound, x RMS of each initial tensor (optimizers
                                  # that declare the option)
    restore = 0.0                 # the rule's opt-in terms (synapse_madam.rule; Madam BPTT and
    noise = 0.0                   # node_perturbation; off by default = the published rule): log-space
    set_point = 1.0               # restoring rate per step, ln|w| fluctuation per sqrt(step) (noise
    bound = "hard"                # seed = the spec's seed), set point x initial RMS, hard | soft | none.
                                  # They act on w_rec, w_in, w_out, one set point per synapse group;
                                  # biases take the published step.
                                  # node_perturbation: sigma, sigma_out, baseline, baseline_decay

Outputs (through :class:`synapse_madam.runs.RunFolder`): spec.toml, metrics.jsonl (one line per
evaluation: accuracy, loss, sign violations, synapses that crossed zero, silent synapses, the
weight digest per group), summary.json (final accuracy, divergence/failure, psychometric curve,
steps to 90 % of the final accuracy, weight digest and statistics per group, stationarity of sigma),
weights.npz (signed weights "EE", "EI", "IE", "II", "in", "out"), weights_init.npz, model.pt,
figures (learning curve, psychometric curve, weight histograms).
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from ..runs import WEIGHTS_INIT, RunFolder, headline_part, join_headline
from ..threads import use_threads
from .network import EIRateRNN
from .tasks import TASKS, make_task
from .train import EXPECTED_SIGN, GROUP_PARAM

TOP_KEYS = {"substrate", "name", "description", "task", "seed", "steps", "batch_size", "eval_every", "eval_trials",
            "final_eval_trials", "device", "threads", "progress", "network", "task_params", "learning"}
DEFAULTS = {"seed": 1, "steps": 2000, "batch_size": 64, "eval_every": 100, "eval_trials": 500,
            "final_eval_trials": 2000, "device": "cpu", "threads": 1, "progress": True}
TERMS = {"restore", "noise", "set_point", "bound"}  # the rule's opt-in terms (synapse_madam.rule), Madam only
LEARNING_KEYS = {"bptt": {"rule", "optimizer", "lr", "projection", "grad_clip", "p_scale"} | TERMS,
                 "node_perturbation": {"rule", "lr", "sigma", "sigma_out", "baseline", "baseline_decay",
                                       "p_scale"} | TERMS}


def _network_keys() -> set[str]:
    return set(inspect.signature(EIRateRNN).parameters) - {"n_input", "n_output", "seed"}


def validate(spec: dict, source: str) -> dict:
    """The resolved spec (defaults filled in); ValueError naming the key and allowed values."""
    spec = {**DEFAULTS, **spec}
    unknown = set(spec) - TOP_KEYS
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(TOP_KEYS))}.")
    if spec.get("task") not in TASKS:
        raise ValueError(f"{source}: key 'task' is {spec.get('task')!r}; allowed values: {', '.join(TASKS)}.")
    if not isinstance(spec["progress"], bool):
        raise ValueError(f"{source}: key 'progress' must be true or false, got {spec['progress']!r}.")
    for key in ("seed", "steps", "batch_size", "eval_every", "eval_trials", "final_eval_trials", "threads"):
        v, low = spec[key], 0 if key in ("seed", "steps", "threads") else 1
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{source}: key {key!r} must be an integer >= {low}, got {v!r}.")
    if spec["device"] not in ("cpu", "cuda") and not str(spec["device"]).startswith("cuda:"):
        raise ValueError(f"{source}: key 'device' is {spec['device']!r}; allowed values: cpu, cuda, cuda:N.")
    for section in ("network", "task_params", "learning"):
        if not isinstance(spec.get(section, {}), dict):
            raise ValueError(f"{source}: [{section}] must be a table.")
        spec[section] = dict(spec.get(section, {}))
    bad = set(spec["network"]) - _network_keys()
    if bad:
        raise ValueError(f"{source}: unknown [network] key(s) {', '.join(sorted(bad))}; "
                         f"allowed: {', '.join(sorted(_network_keys()))}.")
    learning = {"rule": "bptt", **spec["learning"]}
    if learning["rule"] not in LEARNING_KEYS:
        raise ValueError(f"{source}: learning.rule is {learning['rule']!r}; allowed values: {', '.join(LEARNING_KEYS)}.")
    if learning["rule"] == "bptt":
        learning.setdefault("optimizer", "madam")
        from ..optim import optimizer_info

        try:
            info = optimizer_info(learning["optimizer"])
        except ValueError as exc:
            raise ValueError(f"{source}: learning.optimizer: {exc}") from None
        learning.setdefault("lr", info.default_lr)  # the resolved spec names the lr it ran with
        if "p_scale" in learning and "p_scale" not in info.options:
            raise ValueError(f"{source}: learning.p_scale is not an option of optimizer {info.name!r} "
                             f"(its options: {', '.join(info.options)}).")
        terms = sorted(TERMS & set(learning))
        if terms and info.name != "madam":
            raise ValueError(f"{source}: learning.{terms[0]} is a term of Madam's rule; it does not apply to "
                             f"optimizer {learning['optimizer']!r}. Remove it or set learning.optimizer = 'madam'.")
    elif "optimizer" in learning:  # the local rule's step is Madam's: accept only that name
        if str(learning["optimizer"]).lower() != "madam":
            raise ValueError(f"{source}: learning.optimizer is {learning['optimizer']!r}, but rule "
                             "'node_perturbation' always takes Madam's step; remove the key or set it to 'madam'.")
        del learning["optimizer"]
    if learning["rule"] == "node_perturbation":
        from .. import rule as madam_rule

        learning.setdefault("lr", madam_rule.DEFAULT_LR)
    bad = set(learning) - LEARNING_KEYS[learning["rule"]]
    if bad:
        raise ValueError(f"{source}: unknown [learning] key(s) {', '.join(sorted(bad))} for rule "
                         f"{learning['rule']!r}; allowed: {', '.join(sorted(LEARNING_KEYS[learning['rule']]))}.")
    spec["learning"] = learning
    try:  # build once on a tiny budget: catches bad values with the objects' own messages
        build(spec)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source}: {exc}") from None
    return spec


def build(spec: dict):
    """(task, model, learner) of a validated spec."""
    from .train import make_learner

    tp = dict(spec["task_params"])
    net = dict(spec["network"])
    tp.setdefault("dt_ms", net.get("dt_ms", 20.0))
    tp.setdefault("tau_ms", net.get("tau_ms", 100.0))
    task = make_task(spec["task"], **tp)
    model = EIRateRNN(task.n_input, task.n_output, seed=spec["seed"], **net)
    learning = dict(spec["learning"])
    if TERMS & set(learning):
        learning["noise_seed"] = spec["seed"]  # the fluctuation streams follow the run's seed
    learner = make_learner(model, learning.pop("rule"), **learning)
    return task, model, learner


def free_keys(spec: dict) -> set[str]:
    """Spec keys that may change on --resume / sweep reuse without changing results."""
    return {"name", "description", "progress", "threads"}


def run_in(spec: dict, folder: RunFolder, *, callbacks=()) -> dict:
    """The protocol's run: train/simulate a resolved spec into an open, locked RunFolder; the summary."""
    from ..biology.digest import stationarity
    from ..biology.figures import weight_distribution_figure
    from .figures import rate_learning_curve, rate_psychometric
    from .analysis import weight_statistics
    from .train import train

    finished = folder.finished_summary()
    if finished is not None:
        return finished
    task, model, learner = build(spec)
    if spec["device"] == "cpu":  # threads 0: chosen by the size of a step (synapse_madam.threads)
        use_threads(spec["threads"], sum(p.numel() for p in model.parameters()) * spec["batch_size"])
    initial = folder.load_weights(WEIGHTS_INIT) if folder.resuming else None
    if initial is None:
        initial = model.weight_groups()
        folder.save_weights(initial, WEIGHTS_INIT)
    result = train(model, task, learner, steps=spec["steps"], batch_size=spec["batch_size"], seed=spec["seed"],
                   run_dir=folder, eval_every=spec["eval_every"], eval_trials=spec["eval_trials"],
                   final_eval_trials=spec["final_eval_trials"], device=spec["device"],
                   progress=bool(spec["progress"]), initial=initial)
    weights = model.weight_groups()
    folder.save_weights(weights)
    folder.save_torch({"state_dict": model.state_dict(), "config": model.config()})
    history = result.pop("history")
    w_max = learner.w_max() if hasattr(learner, "w_max") else {}
    bounds = {g: (0.0, w_max[p]) for g, p in GROUP_PARAM.items() if p in w_max}
    summary = {"name": spec.get("name"), **result, "network": model.config(), "task_params": task.params(),
               "sigma_stationarity": {g: stationarity([r["weights"][g]["sigma_ln"] for r in history if "weights" in r])
                                      for g in weights},
               "weights": weight_statistics(weights, model, initial=initial, bounds=bounds),
               "weight_unit": "a.u.", "weight_bounds": {g: b[1] for g, b in bounds.items()},
               "expected_signs": dict(EXPECTED_SIGN)}
    folder.write_summary(summary)
    title = f"{spec.get('name')}: {task.name}, {learner.describe()['rule']}/{learner.describe()['optimizer']}"
    folder.save_figure(rate_learning_curve(history, title=title), "learning_curve.png")
    if result["final"] is not None:
        folder.save_figure(rate_psychometric(result["final"]["psychometric"], xlabel=task.evidence_label, title=title),
                           "psychometric.png")
    if all(np.isfinite(w).all() for w in weights.values()):  # a diverged run may end with NaN weights
        folder.save_figure(weight_distribution_figure(weights, reference="song2005", title=title), "weights.png")
    folder.remove_checkpoint()
    return summary


def headline(summary: dict) -> str:
    """One line for the CLI: task accuracy, eval loss, steps, sign violations, wall time; why it failed."""
    s = summary
    return join_headline([
        f"task {s.get('task')}", headline_part("accuracy", s.get("accuracy")) or "accuracy n/a",
        headline_part("eval loss", (s.get("final") or {}).get("loss")), f"steps {s.get('steps')}",
        f"sign violations {s.get('sign_violations')}", headline_part("train time", s.get("wall_s"), ".1f", " s (wall)")], s)


def weight_groups(source) -> dict:
    """The groups "EE", "EI", "IE", "II", "in", "out" with their prescribed signs: from a built
    :class:`EIRateRNN` or from a run folder (with initial weights and Madam's bound if recorded)."""
    from ..substrates import WeightGroup, groups_from_folder

    if isinstance(source, EIRateRNN):
        return {k: WeightGroup(k, w, EXPECTED_SIGN.get(k)) for k, w in source.weight_groups().items()}
    return groups_from_folder(source)



def load_model(run_dir) -> torch.nn.Module:
    """Rebuild the trained network of a finished run (model.pt + spec.toml)."""
    folder = RunFolder(run_dir)
    stored = folder.stored_spec()
    if stored is None:
        raise FileNotFoundError(f"{str(run_dir)!r} has no spec.toml; give a finished rate run folder.")
    _, model, _ = build(validate(stored, str(folder.file("spec.toml"))))
    model.load_state_dict(folder.load_torch()["state_dict"])
    return model
