"""Rate networks on three cognitive tasks: Madam vs Adam/SGD with Dale's-law projection vs a
backprop-free rule (node perturbation + Madam step). Accuracy, speed, Dale's law, weight statistics.

For every task (perceptual_dm, context_dm, parametric_wm), learner and seed this trains an
E/I rate network (100 neurons, 80 % E) and reports the final accuracy (2000 evaluation trials),
the training steps and wall time to reach 90 % of the final accuracy, the synapses that crossed
zero and were projected, the silent (exactly 0) synapses and Dale's-law violations at the end,
and per E/I group sigma(ln|w|), sigma / sigma_Song2005 and the KS distance of the shape to
Song et al. (2005). Ratios are against the named baseline, Madam (BPTT), in the same run.

    nice -n 10 python benchmarks/rate_tasks.py                 # docs/rate_tasks.md, .json, figures
    python benchmarks/rate_tasks.py --steps 50 --seeds 1 --out /tmp/rate_bench   # smoke test
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synapse_madam import io, plots  # noqa: E402
from synapse_madam.rate.figures import plot_psychometric, rate_benchmark_curves, rate_weight_hists  # noqa: E402
from synapse_madam.biology import reference_distribution  # noqa: E402
from synapse_madam.rate import EIRateRNN  # noqa: E402
from synapse_madam.rate.analysis import weight_statistics  # noqa: E402
from synapse_madam.rate.tasks import make_task  # noqa: E402
from synapse_madam.rate.train import make_learner, train  # noqa: E402

BASELINE = "madam"
LEARNERS = {  # name -> (rule, kwargs)
    "madam": ("bptt", {"optimizer": "madam", "lr": 0.01}),
    "adam+proj": ("bptt", {"optimizer": "adam", "lr": 1e-3, "projection": "zero"}),
    "sgd+proj": ("bptt", {"optimizer": "sgd", "lr": 0.05, "projection": "zero"}),
    "node_pert+madam": ("node_perturbation", {"lr": 0.01}),
}
TASKS = ("perceptual_dm", "context_dm", "parametric_wm")
GROUPS = ("EE", "EI", "IE", "II")
LEARNED = 0.6  # a run whose final accuracy stays below this has not learned the task (chance 0.5,
               # 0 = never leaves fixation); its steps/time to 90 % are reported as "-"


def run_one(task_name, learner_name, seed, steps, args):
    rule, kw = LEARNERS[learner_name]
    task = make_task(task_name)
    net = EIRateRNN(task.n_input, task.n_output, args.n_rec, seed=seed)
    w0 = net.weight_groups()
    learner = make_learner(net, rule, **kw)
    res = train(net, task, learner, steps=steps, batch_size=args.batch_size, seed=seed, eval_every=args.eval_every,
                eval_trials=args.eval_trials, final_eval_trials=args.final_eval_trials, progress=False)
    weights = net.weight_groups()
    stats = weight_statistics({g: weights[g] for g in GROUPS}, n_boot=100)
    stats0 = weight_statistics({g: w0[g] for g in GROUPS}, n_boot=100)
    hist = res.pop("history")
    acc = res["accuracy"] or 0.0
    t90 = next((h["wall_s"] for h in hist if h["accuracy"] >= 0.9 * acc), None) if res["accuracy"] else None
    return {"task": task_name, "learner": learner_name, "seed": seed, **{k: res[k] for k in (
        "accuracy", "steps_to_90", "crossed_total", "sign_violations", "n_silent", "wall_s", "diverged", "steps")},
        "wall_to_90": t90, "psychometric": res["final"]["psychometric"] if res["final"] else None,
        "curve": [(h["step"], h["accuracy"]) for h in hist], "sigma_curve": {g: [(h["step"], h["weights"][g]["sigma_ln"])
                                                                                  for h in hist] for g in GROUPS},
        "stats": stats, "stats_init": stats0, "weights": {g: weights[g].tolist() for g in GROUPS}}


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def table(results, song_sigma):
    lines = ["| task | learner | seeds | accuracy (mean; per seed) | steps to 90% | wall s to 90% | wall s total | "
             "time ratio vs madam | crossed zero (projected) | silent synapses | Dale violations | "
             + " | ".join(f"σ {g} (σ/σ_Song)" for g in GROUPS) + " | KS EE (data vs own log-normal fit) |",
             "|" + "---|" * (12 + len(GROUPS))]
    for task in TASKS:
        rows = [r for r in results if r["task"] == task]
        if not rows:
            continue
        base_wall = _mean([r["wall_s"] for r in rows if r["learner"] == BASELINE])
        for learner in LEARNERS:
            rs = [r for r in rows if r["learner"] == learner]
            if not rs:
                continue
            accs = [r["accuracy"] for r in rs]
            acc_txt = f"{_mean(accs):.3f} ({', '.join('div.' if a is None else f'{a:.3f}' for a in accs)})" \
                if _mean(accs) is not None else "diverged"
            wall = _mean([r["wall_s"] for r in rs])
            ratio = f"{wall / base_wall:.2f}x" if base_wall else "-"
            sig = []
            for g in GROUPS:
                s = _mean([r["stats"][g].get("sigma") for r in rs])
                sig.append(f"{s:.2f} ({s / song_sigma:.2f})" if s is not None else "-")
            ks = _mean([r["stats"]["EE"].get("ks_lognormal") for r in rs])
            learned = [r for r in rs if (r["accuracy"] or 0) >= LEARNED]
            n_learned = f" ({len(learned)}/{len(rs)} learned)" if len(learned) < len(rs) else ""
            fmt = lambda v, f="{:.0f}": "-" if v is None else f.format(v)  # noqa: E731
            lines.append(f"| {task} | {learner} | {len(rs)} | {acc_txt} | "
                         f"{fmt(_mean([r['steps_to_90'] for r in learned]))}{n_learned} | "
                         f"{fmt(_mean([r['wall_to_90'] for r in learned]), '{:.1f}')} | {wall:.1f} | {ratio} | "
                         f"{fmt(_mean([r['crossed_total'] for r in rs]))} | {fmt(_mean([r['n_silent'] for r in rs]))} | "
                         f"{fmt(_mean([r['sign_violations'] for r in rs]))} | " + " | ".join(sig)
                         + f" | {fmt(ks, '{:.3f}')} |")
    return "\n".join(lines)


def init_table(results, song_sigma):
    r = next(r for r in results)
    return ("Initial weights (gamma, shape 2; identical for every learner of a seed): "
            + ", ".join(f"σ {g} = {r['stats_init'][g]['sigma']:.2f} ({r['stats_init'][g]['sigma'] / song_sigma:.2f} σ_Song)"
                        for g in GROUPS))


def figures(results, out):
    curves = {t: {} for t in TASKS}
    for r in results:
        curves[r["task"]].setdefault(r["learner"], []).append(([c[0] for c in r["curve"]], [c[1] for c in r["curve"]]))
    curves = {t: c for t, c in curves.items() if c}
    plots.save_figure(rate_benchmark_curves(curves), out / "rate_accuracy.png")
    sig = {t: {} for t in TASKS}
    for r in results:
        sc = r["sigma_curve"]["EE"]
        sig[r["task"]].setdefault(r["learner"], []).append(([c[0] for c in sc], [c[1] for c in sc]))
    plots.save_figure(rate_benchmark_curves({t: c for t, c in sig.items() if c}, ylabel="σ(ln|w|) of E→E"),
                      out / "rate_sigma_EE.png")
    song = reference_distribution("song2005").sigma
    for task in TASKS:
        by = {r["learner"]: {g: np.asarray(r["weights"][g]) for g in GROUPS}
              for r in results if r["task"] == task and r["seed"] == min(x["seed"] for x in results)}
        if by:
            plots.save_figure(rate_weight_hists(by, reference_sigma=song), out / f"rate_weights_{task}.png")
    import matplotlib.pyplot as plt

    with plt.rc_context(plots.STYLE):
        fig, axes = plots.new_figure(1, len(curves), figsize=(3.6 * len(curves), 3), squeeze=False)
        for ax, task in zip(axes[0], curves):
            for r in results:
                if r["task"] == task and r["seed"] == min(x["seed"] for x in results) and r["psychometric"]:
                    p = r["psychometric"]
                    plot_psychometric(ax, p if "x" in p else {"0": p["0"]}, label=r["learner"],
                                      color=plots.colours_for(dict.fromkeys(x["learner"] for x in results))[r["learner"]])
            ax.set_title(task + (" (motion context)" if task == "context_dm" else ""))
            ax.set_xlabel(make_task(task).evidence_label)
            ax.legend(fontsize=6)
        fig.tight_layout()
        plots.save_figure(fig, out / "rate_psychometric.png")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1000, help="BPTT training steps per run (default 1000)")
    p.add_argument("--np-steps", type=int, default=None, help="node-perturbation steps (default 2x --steps)")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--n-rec", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--eval-trials", type=int, default=300)
    p.add_argument("--final-eval-trials", type=int, default=2000)
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--np-tasks", default="perceptual_dm", help="tasks for the node-perturbation rule")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: shared CPU)")
    p.add_argument("--out", default=str(ROOT / "docs"))
    p.add_argument("--rebuild", metavar="JSON", help="only rewrite the markdown table from a rate_tasks.json")
    args = p.parse_args(argv)
    if args.rebuild:
        print(rebuild(args.rebuild))
        return 0
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np_steps = args.np_steps or 2 * args.steps
    t_start = time.perf_counter()
    results = []
    for task in args.tasks.split(","):
        for learner in LEARNERS:
            if learner.startswith("node_pert") and task not in args.np_tasks.split(","):
                continue
            for seed in range(1, args.seeds + 1):
                steps = np_steps if learner.startswith("node_pert") else args.steps
                r = run_one(task, learner, seed, steps, args)
                results.append(r)
                acc = "diverged" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
                print(f"{task:14s} {learner:16s} seed {seed}: acc {acc}, steps to 90% {r['steps_to_90']}, "
                      f"wall {r['wall_s']:.1f} s, crossed {r['crossed_total']}, silent {r['n_silent']}, "
                      f"violations {r['sign_violations']}", flush=True)
    total = time.perf_counter() - t_start
    cmd = "nice -n 10 python benchmarks/rate_tasks.py " + " ".join(argv if argv is not None else sys.argv[1:])
    io.atomic_write_json(out / "rate_tasks.json", {"args": vars(args), "wall_s": total, "command": cmd.strip(),
                                                   "results": [{k: v for k, v in r.items() if k != "weights"} for r in results]})
    md = write_markdown(results, args, total, cmd, out)
    figures(results, out)
    print(md)
    return 0


def write_markdown(results, args, total, cmd, out) -> str:
    """docs/rate_tasks.md: the command, the wall time, the set-up and the table."""
    song = reference_distribution("song2005").sigma
    np_steps = args.np_steps or 2 * args.steps
    md = ["# Rate networks on cognitive tasks: Madam vs additive optimizers with projection vs node perturbation",
          "", f"Command: `{cmd.strip()}`  ", f"Total wall time: {total / 60:.1f} min on {platform.processor() or platform.machine()} "
          f"(CPU, torch threads {args.threads}, shared machine), torch {torch.__version__}.  ",
          f"Network: {args.n_rec} neurons (80 % E), relu, tau 100 ms, dt 20 ms, gamma(2) initial magnitudes, "
          f"spectral radius 1.5; batch {args.batch_size}; BPTT {args.steps} steps, node perturbation {np_steps} steps; "
          f"seeds 1..{args.seeds}. Accuracy on {args.final_eval_trials} evaluation trials (fixed condition grid).  ",
          "Baseline for the time ratio: Madam (BPTT), same task, same run. Wall times are training time only "
          "(evaluations excluded) and were measured on a CPU shared with other jobs: compare them loosely.  ",
          f"σ: std of ln|w| of the nonzero synapses after training; σ_Song = {song:.4f} (Song et al. 2005). "
          "KS EE: KS distance between ln|w| of E->E and the normal with its own mean and sd (the data against "
          "their fitted log-normal; 0 = exactly log-normal).  ",
          init_table(results, song), "", table(results, song), "",
          "Figures: `rate_accuracy.png` (accuracy vs step), `rate_sigma_EE.png` (σ of E→E vs step), "
          "`rate_psychometric.png`, `rate_weights_<task>.png` (ln|w| histograms per E/I group, seed 1).", ""]
    io.atomic_write_text(out / "rate_tasks.md", "\n".join(md))
    return "\n".join(md)


def rebuild(json_path) -> str:
    """Rewrite rate_tasks.md from a finished run's rate_tasks.json (no training)."""
    data = json.loads(Path(json_path).read_text())
    args = argparse.Namespace(**data["args"])
    cmd = data.get("command") or "nice -n 10 python benchmarks/rate_tasks.py (arguments: see rate_tasks.json)"
    return write_markdown(data["results"], args, data["wall_s"], cmd, Path(json_path).parent)


if __name__ == "__main__":
    sys.exit(main())
