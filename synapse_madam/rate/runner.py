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
    threads = 1                   # torch CPU threads; 0 keeps torch's default. One thread is fastest
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
    lr = 0.01                     # default per optimizer (madam 0.01, adam 1e-3, sgd 0.05)
    projection = "auto"           # bptt: auto (none for Madam, zero otherwise) | none | zero | floor
    grad_clip = 1.0               # bptt, optional
    p_scale = 3.0                 # Madam's magnitude bound, x RMS of each initial tensor (Madam only)
    restore = 0.0                 # the rule's opt-in terms (synapse_madam.rule; Madam BPTT and
    noise = 0.0                   # node_perturbation; off by default = the published rule): log-space
    set_point = 1.0               # restoring rate per step, ln|w| fluctuation per sqrt(step) (noise
    bound = "hard"                # seed = the spec's seed), set point x initial RMS, hard | soft | none.
                                  # They act on w_rec, w_in, w_out; biases take the published step.
                                  # node_perturbation: sigma, sigma_out, baseline, baseline_decay

Outputs: spec.toml, metrics.jsonl (one line per evaluation: accuracy, loss, sign violations,
synapses that crossed zero, silent synapses, ln|w| moments and the digest per group: sigma(t),
KS, fraction at the bound), summary.json (final accuracy, psychometric curve, steps to 90 % of
the final accuracy, weight statistics per group, the last digest and the stationarity of each
group's sigma(t) over the last third),
weights.npz (signed weights "EE", "EI", "IE", "II", "in", "out"), weights_init.npz, model.pt,
figures (learning curve, psychometric curve, weight histograms).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import torch

from .. import io
from .network import EIRateRNN
from .tasks import TASKS, make_task

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
        if "p_scale" in learning and "madam" not in str(learning["optimizer"]).lower():
            raise ValueError(f"{source}: learning.p_scale applies to Madam only, not to {learning['optimizer']!r}.")
        terms = sorted(TERMS & set(learning))
        if terms and str(learning["optimizer"]).lower() != "madam":
            raise ValueError(f"{source}: learning.{terms[0]} is a term of Madam's rule; it does not apply to "
                             f"optimizer {learning['optimizer']!r}. Remove it or set learning.optimizer = 'madam'.")
    elif "optimizer" in learning:  # the local rule's step is Madam's: accept only that name
        if str(learning["optimizer"]).lower() != "madam":
            raise ValueError(f"{source}: learning.optimizer is {learning['optimizer']!r}, but rule "
                             "'node_perturbation' always takes Madam's step; remove the key or set it to 'madam'.")
        del learning["optimizer"]
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


def run(spec: dict, run_dir, *, resume: bool = False) -> dict:
    """Train a validated spec into ``run_dir`` (see module doc); returns the summary."""
    from .. import plots
    from ..biology.figures import weight_distribution_figure
    from .figures import rate_learning_curve, rate_psychometric
    from .analysis import weight_statistics
    from .train import train

    run_dir = Path(run_dir)
    if resume and (run_dir / "summary.json").is_file():
        return json.loads((run_dir / "summary.json").read_text())
    run_dir.mkdir(parents=True, exist_ok=True)

    io.atomic_write_text(run_dir / "spec.toml", io.spec_to_toml(spec))
    if spec["threads"] and spec["device"] == "cpu":
        torch.set_num_threads(spec["threads"])
    task, model, learner = build(spec)
    if not (resume and (run_dir / "weights_init.npz").is_file()):
        io.atomic_save_npz(run_dir / "weights_init.npz", **model.weight_groups())
    result = train(model, task, learner, steps=spec["steps"], batch_size=spec["batch_size"], seed=spec["seed"],
                   run_dir=run_dir, eval_every=spec["eval_every"], eval_trials=spec["eval_trials"],
                   final_eval_trials=spec["final_eval_trials"], resume=resume, device=spec["device"],
                   progress=bool(spec["progress"]))
    weights = model.weight_groups()
    io.atomic_save_npz(run_dir / "weights.npz", **weights)
    io.atomic_torch_save(run_dir / "model.pt", {"state_dict": model.state_dict(), "config": model.config()})
    history = result.pop("history")
    summary = {"name": spec.get("name"), **result, "network": model.config(), "task_params": task.params(),
               "weights": weight_statistics(weights, model), **digest_summary(history)}
    io.atomic_write_json(run_dir / "summary.json", summary)
    title = f"{spec.get('name')}: {task.name}, {learner.describe()['rule']}/{learner.describe()['optimizer']}"
    plots.save_figure(rate_learning_curve(history, title=title), run_dir / "learning_curve.png")
    if result["final"] is not None:
        plots.save_figure(rate_psychometric(result["final"]["psychometric"], xlabel=task.evidence_label, title=title),
                          run_dir / "psychometric.png")
    plots.save_figure(weight_distribution_figure(weights, reference="song2005", title=title),
                      run_dir / "weights.png")
    ckpt = run_dir / "checkpoint.pt"
    if ckpt.exists():
        ckpt.unlink()
    return summary


def digest_summary(history: list[dict]) -> dict:
    """The last digest of every weight group and the stationarity of its sigma(t) over the last third
    of the run (:func:`synapse_madam.biology.digest.stationarity`), from the evaluation history."""
    from ..biology.digest import stationarity

    rows = [h for h in history if "digest" in h]
    if not rows:
        return {}
    groups = rows[-1]["digest"]
    return {"digest": groups,
            "stationarity": {g: stationarity([r["digest"][g]["sigma_ln"] for r in rows]) for g in groups}}


def load_model(run_dir) -> torch.nn.Module:
    """Rebuild the trained network of a finished run (model.pt + spec.toml)."""
    from ..experiments import load_spec

    run_dir = Path(run_dir)
    spec = validate(load_spec(run_dir / "spec.toml"), str(run_dir / "spec.toml"))
    _, model, _ = build(spec)
    model.load_state_dict(torch.load(run_dir / "model.pt", weights_only=False)["state_dict"])
    return model
