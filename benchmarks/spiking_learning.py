"""Issue 14, Brian2 part: collect the reward-task runs into docs/spiking_learning.md, and time the rules.

    # the runs (one CLI command each; seeds via --set seed=N):
    synapse-madam run models/spiking_distal_madam.toml    --out runs/spiking_learning/distal_madam_s1
    synapse-madam run models/spiking_distal_additive.toml --out runs/spiking_learning/distal_additive_s1
    synapse-madam run models/spiking_digits_madam.toml    --out runs/spiking_learning/digits_madam_s1
    synapse-madam run models/spiking_digits_additive.toml --out runs/spiking_learning/digits_additive_s1
    # wall time per biological second, the two rules on the same network, alternated in one process:
    python benchmarks/spiking_learning.py timing --seconds 20 --repeats 2
    # tables + figures into docs/ (the Brian2 section of docs/spiking_learning.md, between markers):
    python benchmarks/spiking_learning.py collect

The weight statistics are those of the run's summary.json (synapse_madam.spiking.analysis.
group_statistics: sigma of ln w, its ratio to Song et al. 2005, the KS distance of ln w to its own
normal fit, the fractions at the bounds and the sign flips against the initial weights).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "spiking_learning"
DOC = ROOT / "docs" / "spiking_learning.md"
TIMING = ROOT / "docs" / "spiking_learning_timing.json"
BEGIN, END = "<!-- brian2-reward:begin -->", "<!-- brian2-reward:end -->"
MAX_LOAD = 1.5  # a wall-time ratio measured at a higher load average is not published


def _time_rule(rule: str, seconds: float, seed: int) -> float:
    import brian2 as b2

    from synapse_madam import substrates
    from synapse_madam.spiking import runner

    spec = substrates.load_spec(f"spiking_distal_{rule}")
    spec.update(duration_s=seconds, chunk_s=seconds, seed=seed)
    spec = runner.validate(spec, "timing")
    b2.start_scope()
    summary, _ = runner.simulate(spec, None, log=lambda *_: None)
    return summary["wall_s"]


def timing(seconds: float, repeats: int) -> dict:
    """Wall seconds per biological second of the distal-reward network (800 E + 200 I, 80 000
    plastic synapses, cython) with madam_reward and additive_reward, alternated A B A B ... after
    one warm-up run each (code generation and compilation are not timed)."""
    load_before = os.getloadavg()
    for rule in ("madam", "additive"):
        _time_rule(rule, 1.0, 0)  # compile
    walls = {"madam": [], "additive": []}
    for r in range(repeats):
        for rule in ("madam", "additive"):
            walls[rule].append(_time_rule(rule, seconds, r + 1) / seconds)
    load_after = os.getloadavg()
    ratio = float(np.median(walls["madam"]) / np.median(walls["additive"]))
    out = {"seconds": seconds, "repeats": repeats, "wall_per_bio_s": walls, "ratio_madam_over_additive": ratio,
           "load_before": load_before, "load_after": load_after, "cpu_count": os.cpu_count(),
           "publishable": max(load_before[0], load_after[0]) <= MAX_LOAD,
           "command": f"python benchmarks/spiking_learning.py timing --seconds {seconds:g} --repeats {repeats}"}
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"wall / biological s: madam {walls['madam']}, additive {walls['additive']}; ratio {ratio:.2f}"
          + ("" if out["publishable"] else f" (load > {MAX_LOAD}: not publishable)"))
    return out


def _runs() -> list[tuple[str, dict]]:
    out = []
    for d in sorted(RUNS.glob("*")):
        f = d / "summary.json"
        if f.is_file():
            out.append((d.name, json.loads(f.read_text())))
    return out


def _command(name: str, s: dict) -> str:
    task, rule = name.split("_")[0], s["rule"]["name"].replace("_reward", "")
    seed = s.get("params", {}).get("seed") or name.rsplit("_s", 1)[-1]
    extra = f" --set seed={seed}" if str(seed) != "1" else ""
    return f"synapse-madam run models/spiking_{task}_{rule}.toml{extra} --out runs/spiking_learning/{name}"


def _weights_row(s: dict) -> str:
    w = s["weights"]["EE"]
    e = w.get("classes", {}).get("E", {})

    def f(v, fmt=".2f"):
        return "n/a" if v is None else format(v, fmt)

    return (f"{f(e.get('sigma'))} | {f(e.get('sigma_ratio'))} | {f(e.get('ks'), '.3f')} | "
            f"{f(w.get('frac_at_lower'), '.1%')} / {f(w.get('frac_at_upper'), '.1%')} | {w.get('sign_flips')} | "
            f"{f(w.get('n_zero'), 'd')}")


def collect() -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = _runs()
    distal = [(n, s) for n, s in runs if s["network"] == "distal_reward"]
    digits = [(n, s) for n, s in runs if s["network"] == "digits"]
    lines = [BEGIN, "", "## Brian2: three-factor Madam vs additive R-STDP on two reward tasks", "",
             "Rules: `madam_reward` (three-factor Madam) and `additive_reward` (Izhikevich 2007; Florian 2007), "
             "synapse_madam/spiking/reward.py; rewards are delivered while the network runs by "
             "`reward.reward_operation` (a Brian2 NetworkOperation on the rule's 10 ms ticks, before the weight "
             "step), so the tasks run on the runtime targets (cython here); cpp_standalone would need the task's "
             "reward written into the generated C++ and is refused with one line. Every number below is "
             "regenerated by the command in its row; tables by `python benchmarks/spiking_learning.py collect`.", ""]
    if distal:
        lines += ["### Distal reward (Izhikevich 2007)", "",
                  "800 E + 200 I Izhikevich neurons, 100 targets each, 80 000 plastic E synapses (w_init 1, "
                  "w_max 4), noise current 13 (rand - 1/2) per ms; the chosen synapse (E neuron 0 to its first "
                  "E target) is rewarded (d += 0.5) 1-3 s after each pre-post pairing within 20 ms. Selectivity: "
                  "the fraction of the other plastic synapses below the chosen one; *solved* = from then on "
                  "always >= 0.99 (checked every minute). Task and network: synapse_madam/spiking/distal.py.", "",
                  "| run | rule | biological time | final percentile | solved at | pairings | E rate (Hz) | command |",
                  "|---|---|---:|---:|---:|---:|---:|---|"]
        for n, s in distal:
            r = s["results"]
            solved = "not solved" if r["solved_s"] is None else f"{r['solved_s'] / 60:.0f} min"
            lines.append(f"| {n} | {s['rule']['name']} | {s['duration_s'] / 60:.0f} min | {r['final_percentile']:.4f} "
                         f"| {solved} | {r['pairings']} | {r['exc_rate_hz']:.2f} | `{_command(n, s)}` |")
        fig, ax = plt.subplots(figsize=(6, 3.4))
        for n, s in distal:
            r = s["results"]
            ax.plot(np.asarray(r["t_s"]) / 60, r["percentile"], label=f"{n} ({s['rule']['name']})",
                    ls="-" if "madam" in s["rule"]["name"] else "--")
        ax.axhline(0.99, color="0.5", lw=0.8, ls=":")
        ax.set_xlabel("biological time (min)")
        ax.set_ylabel("percentile of the chosen synapse")
        ax.set_ylim(0.4, 1.005)
        ax.legend(frameon=False, fontsize=7)
        fig.tight_layout()
        fig.savefig(ROOT / "docs" / "spiking_learning_distal.png", dpi=120)
        plt.close(fig)
        lines += ["", "![selectivity over time](spiking_learning_distal.png)", ""]
    if digits:
        lines += ["### Digits (scikit-learn 8x8, held-out test split)", "",
                  "128 on/off Poisson inputs (200 Hz max) -> 10 output populations x 10 LIF neurons + 20 inhibitory "
                  "LIF neurons (Dale's law: E->I +, I->E -, fixed), plastic input synapses (12 800), 200 ms "
                  "presentations + 50 ms rest, a teaching neuromodulator per population (`reward_mode = "
                  "\"population\"`, synapse_madam/spiking/digits.py); train 1347 / test 450 images (stratified, "
                  "split_seed 0); the test images are shown after each block without reward.", "",
                  "| run | rule | blocks | test accuracy per block | last train accuracy | command |",
                  "|---|---|---:|---|---:|---|"]
        for n, s in digits:
            b = s["results"]["blocks"]
            lines.append(f"| {n} | {s['rule']['name']} | {len(b)} | "
                         f"{', '.join(format(x['test_accuracy'], '.3f') for x in b)} | {b[-1]['train_accuracy']:.3f} | "
                         f"`{_command(n, s)}` |")
        lines.append("")
    if runs:
        lines += ["### Weight statistics after each run (synapse_madam.biology via the run's summary.json)", "",
                  "σ = sd of ln w of the plastic synapses; σ ratio = σ / σ(Song et al. 2005) = σ / 0.9355; KS = "
                  "distance of ln w to its own normal fit; at bounds = fraction at the lower bound / at w_max; "
                  "sign flips against the initial weights (an additive weight clipped to 0 counts as one: it left "
                  "the excitatory sign); zeros = weights exactly 0.", "",
                  "| run | rule | σ | σ ratio | KS | at lower / upper bound | sign flips | zeros | wall s / bio s* |",
                  "|---|---|---:|---:|---:|---|---:|---:|---:|"]
        for n, s in runs:
            lines.append(f"| {n} | {s['rule']['name']} | {_weights_row(s)} | {s['wall_per_bio_s']:.2f} |")
        lines += ["", "*wall time per biological second of that run, on a shared 2-core machine under a load "
                  "average of about 4-7 (other jobs); not a timing result, see below.", ""]
    if TIMING.is_file():
        t = json.loads(TIMING.read_text())
        lb, la = t["load_before"][0], t["load_after"][0]
        lines += ["### Wall time per biological second: madam_reward / additive_reward (same network)", ""]
        if t["publishable"]:
            lines += [f"Ratio **{t['ratio_madam_over_additive']:.2f}** (target <= 1.25), distal-reward network, cython, "
                      f"{t['repeats']} alternated runs of {t['seconds']:g} s each; load average {lb:.2f} before, "
                      f"{la:.2f} after. Command: `{t['command']}` (writes docs/spiking_learning_timing.json).", ""]
        else:
            lines += [f"Not published: the load average was {lb:.2f} before and {la:.2f} after the measurement "
                      f"(limit {MAX_LOAD}); rerun `{t['command']}` on an idle machine. What the profile shows "
                      "instead: the tick of madam_reward costs one exp, one sqrt and one division per synapse and "
                      "tick, the additive tick one multiply-add; on the distal network (80 000 plastic synapses, "
                      "10 ms ticks) that tick dominates the Madam run.", ""]
    lines += [END]
    section = "\n".join(lines) + "\n"
    text = DOC.read_text() if DOC.is_file() else "# Spiking networks that learn (issue 14)\n\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)
    print(f"wrote {DOC}")
    return DOC


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("timing")
    t.add_argument("--seconds", type=float, default=20.0)
    t.add_argument("--repeats", type=int, default=2)
    sub.add_parser("collect")
    args = p.parse_args(argv)
    if args.cmd == "timing":
        TIMING.write_text(json.dumps(timing(args.seconds, args.repeats), indent=1))
        print(f"wrote {TIMING}")
    else:
        collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
