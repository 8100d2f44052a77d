"""Reward-learning tasks of the spiking substrate: ``network = "distal_reward"`` or ``"digits"``.

A task spec is a spiking spec (runner.py) whose ``network`` names a task and whose ``[rule]`` is a
three-factor rule (``madam_reward`` or ``additive_reward``); its ``[network_params]`` are the
task's (``distal.DEFAULTS``, ``digits.DEFAULTS``). The task delivers its rewards while the network
runs, from a Brian2 ``NetworkOperation`` (``reward.reward_operation``) that reads the network's
spikes, so tasks run on the runtime targets numpy and cython only: cpp_standalone would have to
compute the task's reward inside the generated C++ code, which is not written.

The run goes in chunks (``chunk_s`` for distal_reward; one block of training and test images for
digits): after each, a metrics line (the task's numbers, the rates, the weight digest of the
plastic group, the wall time so far) and a Brian2 checkpoint; ``--resume`` restores it and
continues exactly, because every piece of task state lives in Brian2 variables.

Outputs besides runner.py's (spec.toml, metrics.jsonl, summary.json, weights.npz,
weights_init.npz, weights.png): ``task.png`` (selectivity over time, or accuracy per block).
"""

from __future__ import annotations

import time

import numpy as np

from . import analysis, digits, distal

TASKS = {"distal_reward": distal, "digits": digits}
REWARD_RULES = ("madam_reward", "additive_reward")
CHECKPOINT = "checkpoint.b2"


def validate_task(spec: dict, raw: dict, source: str) -> dict:
    """Task-specific checks on a spec already resolved by runner.validate (``raw``: as given)."""
    task = spec["network"]
    if spec["rule"]["name"] not in REWARD_RULES:
        raise ValueError(f"{source}: network {task!r} is a reward task; rule.name must be one of "
                         f"{', '.join(REWARD_RULES)}, got {spec['rule']['name']!r}.")
    if spec["target"] == "cpp_standalone":
        raise ValueError(f"{source}: network {task!r} needs target = \"cython\" or \"numpy\": its rewards depend on "
                         "the spikes and are delivered from Python while the network runs, which cpp_standalone "
                         "cannot do.")
    if "inh_rule" in spec:
        raise ValueError(f"{source}: network {task!r} has no plastic inhibitory synapses; remove [inh_rule].")
    params = {**TASKS[task].DEFAULTS, **spec["network_params"]}
    if task == "digits":
        digits._check(params)
        derived = digits.duration_s(params)
        if "duration_s" in raw and abs(float(raw["duration_s"]) - derived) > 1e-6:
            raise ValueError(f"{source}: for network 'digits' the biological time follows from the schedule "
                             f"({derived:g} s for these network_params); remove duration_s or set "
                             "network_params.epochs.")
        spec["duration_s"] = derived
        block = digits.duration_s(params) / params["epochs"]
        spec["chunk_s"] = block
    spec["network_params"] = params
    return spec


def build(spec: dict):
    from .runner import seeded_rule

    rule = seeded_rule(spec)
    module = TASKS[spec["network"]]
    builder = distal.build_distal if module is distal else digits.build_digits
    return builder(rule, seed=spec["seed"], **spec["network_params"])


def _counters(net):
    if isinstance(net, distal.DistalNetwork):
        return net.spike_counts()
    return {"out_rate_hz": float(np.sum(net.outputs.n_spikes[:])), "inh_rate_hz": float(np.sum(net.inhibitory.n_spikes[:]))}


def _groups(net, initial):
    from .runner import weight_groups

    return weight_groups(net, initial)


def simulate(spec: dict, folder, log=print):
    """Run a validated task spec (folder: an open RunFolder or None); returns (summary, data)."""
    import brian2 as b2

    from ..runs import WEIGHTS_INIT
    from .backend import codegen_target

    module = TASKS[spec["network"]]
    duration, chunk = float(spec["duration_s"]), float(spec["chunk_s"])
    with codegen_target(spec["target"]):
        t_build = time.perf_counter()
        net = build(spec)
        build_s = time.perf_counter() - t_build
        initial = folder.load_weights(WEIGHTS_INIT) if folder is not None and folder.resuming else None
        if initial is None:
            initial = net.weights()
            if folder is not None:
                folder.save_weights(initial, WEIGHTS_INIT)
        wall = 0.0
        if folder is not None and folder.resuming and folder.has_checkpoint(CHECKPOINT):
            net.network.restore(filename=str(folder.checkpoint_path(CHECKPOINT)), restore_random_state=True)
            rows = folder.truncate_metrics("t_s", float(net.network.t) + 1e-9)
            wall = float(rows[-1].get("wall_s", 0.0)) if rows else 0.0
            log(f"resumed from {folder.checkpoint_path(CHECKPOINT)} at t = {float(net.network.t):.1f} s")
        elif folder is not None:
            folder.clear_metrics()
        rows = folder.metrics() if folder is not None else []
        while float(net.network.t) < duration - 1e-9:
            t0 = float(net.network.t)
            step = min(chunk, duration - t0)
            before = _counters(net)
            if hasattr(net, "before_chunk"):
                net.before_chunk(t0)
            t_start = time.perf_counter()
            net.network.run(step * b2.second)
            wall += time.perf_counter() - t_start
            row = module.chunk_row(net, t0, t0 + step, before)
            row["weights"] = {k: g.digest() for k, g in _groups(net, initial).items()}
            row["wall_s"] = wall
            rows.append(row)
            if folder is not None:
                folder.append_metrics(row)
                folder.write_checkpoint_with(lambda name: net.network.store(filename=name), CHECKPOINT)
            log(" ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, (int, float))))
        summary = summarize(spec, net, rows, wall, build_s, initial)
        data = {"weights": net.weights(), "initial": initial, "rows": rows}
    return summary, data


def task_results(spec: dict, net, rows: list[dict]) -> dict:
    """The task's own numbers for summary.json."""
    if isinstance(net, distal.DistalNetwork):
        t = [r["t_s"] for r in rows]
        pct = [r["percentile"] for r in rows]
        thr = float(spec["network_params"]["solved_percentile"])
        return {"task": "distal_reward", "t_s": t, "percentile": pct, "w_chosen": [r["w_chosen"] for r in rows],
                "final_percentile": pct[-1] if pct else None, "solved_s": distal.solved_time(t, pct, thr),
                "solved_percentile": thr, **distal.task_state(net),
                "exc_rate_hz": float(np.mean([r["exc_rate_hz"] for r in rows])) if rows else None}
    acc = digits.block_accuracies(net)
    evaluated_on = "validation" if spec["network_params"].get("validation_fraction") else "test"
    return {"task": "digits", "evaluated_on": evaluated_on, "blocks": acc, "test_accuracy": acc[-1]["test_accuracy"] if acc else None,
            "train_accuracy": acc[-1]["train_accuracy"] if acc else None,
            "out_rate_hz": float(np.mean([r["out_rate_hz"] for r in rows])) if rows else None}


def summarize(spec: dict, net, rows, wall_s: float, build_s: float, initial) -> dict:
    duration = float(spec["duration_s"])
    groups = _groups(net, initial)
    out = {"name": spec.get("name"), "network": spec["network"], "target": spec["target"], "rule": spec["rule"],
           "duration_s": duration, "wall_s": wall_s, "wall_per_bio_s": wall_s / duration, "build_s": build_s,
           "compile_s": 0.0, "params": net.params, "weight_unit": net.weight_unit,
           "weight_bounds": {k: g.bounds[1] for k, g in groups.items() if g.bounds is not None},
           "expected_signs": {k: g.expected_sign for k, g in groups.items()},
           "reference": analysis.reference_info(),
           "weights": {k: analysis.group_statistics(g.w, unit=g.unit, w_max=None if g.bounds is None else g.bounds[1],
                                                    initial=g.initial, expected_sign=g.expected_sign)
                       for k, g in groups.items()}}
    out["results"] = task_results(spec, net, rows)
    return out


def task_figure(summary: dict):
    """Selectivity of the chosen synapse over time (distal_reward) or accuracy per block (digits)."""
    import matplotlib.pyplot as plt

    r = summary["results"]
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    if r["task"] == "distal_reward":
        ax.plot(np.asarray(r["t_s"]) / 60, r["percentile"], label="percentile of the chosen synapse")
        ax.axhline(r["solved_percentile"], color="0.5", ls="--", lw=0.8)
        ax.set_xlabel("biological time (min)")
        ax.set_ylabel("fraction of synapses below it")
        ax.set_ylim(0, 1.01)
    else:
        e = [b["epoch"] for b in r["blocks"]]
        ax.plot(e, [b["test_accuracy"] for b in r["blocks"]], "o-", label="test (held out)")
        ax.plot(e, [b["train_accuracy"] for b in r["blocks"]], "s--", label="training (while learning)")
        ax.set_xlabel("block (one pass over the training images)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1)
        ax.legend(frameon=False)
    ax.set_title(f"{summary.get('name')}: {summary['rule']['name']}", fontsize=9)
    fig.tight_layout()
    return fig


def headline_parts(summary: dict) -> list[str]:
    from ..runs import headline_part

    r = summary.get("results") or {}
    if r.get("task") == "distal_reward":
        solved = r.get("solved_s")
        return [headline_part("chosen synapse percentile", r.get("final_percentile"), ".4f"),
                f"solved at {solved:g} s" if solved is not None else "not solved",
                f"{r.get('pairings')} pairings"]
    label = "validation accuracy" if r.get("evaluated_on") == "validation" else "test accuracy"
    return [headline_part(label, r.get("test_accuracy"), ".3f"),
            headline_part("train accuracy", r.get("train_accuracy"), ".3f")]
