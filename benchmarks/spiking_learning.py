"""Issue 14, Brian2 part: collect the reward-task runs into docs/spiking_learning.md, and time the rules.

    # the runs (one CLI command each; seeds via --set seed=N):
    synapse-madam run models/spiking_distal_madam.toml    --out runs/spiking_learning/distal_madam_s1
    synapse-madam run models/spiking_distal_additive.toml --out runs/spiking_learning/distal_additive_s1
    synapse-madam run models/spiking_digits_madam.toml    --out runs/spiking_learning/digits_madam_s1
    synapse-madam run models/spiking_digits_additive.toml --out runs/spiking_learning/digits_additive_s1
    # wall time per biological second, the two rules on the same network, alternated in one process:
    python benchmarks/spiking_learning.py timing --seconds 20 --repeats 2
    # where the distal network's wall time goes, per code object (Brian2's profiler):
    python benchmarks/spiking_learning.py profile
    # tables + figures into docs/ (the Brian2 section of docs/spiking_learning.md, between markers):
    python benchmarks/spiking_learning.py collect
    # what the digits network can hold (logistic-regression weights put into it, no learning):
    python benchmarks/spiking_learning.py oracle --n-test 100 --w-mean 0.06

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
MAX_LOAD = 1.5  # a wall-time ratio measured at a higher load average is not published (0.75 x 2 cores)


TIMING_TASKS = ("distal", "digits")
PROFILE = ROOT / "docs" / "spiking_learning_profile.json"


def _timing_spec(task: str, rule: str, seconds: float, seed: int) -> dict:
    """The packaged spec of ``task`` with ``rule``, cut to about ``seconds`` of biological time:
    the distal network runs for ``seconds``; digits runs one block of n_train + n_test images
    (3 : 1) whose presentations add up to ``seconds``."""
    from synapse_madam import substrates
    from synapse_madam.spiking import digits, runner

    spec = substrates.load_spec(f"spiking_{task}_{rule}")
    if task == "digits":
        spec.pop("duration_s", None)
        n = max(4, round(seconds / digits.period_s({**digits.DEFAULTS, **spec.get("network_params", {})})))
        spec["network_params"] = {**spec.get("network_params", {}), "epochs": 1, "n_train": 3 * n // 4,
                                  "n_test": n - 3 * n // 4}
        spec.update(chunk_s=10 * seconds, seed=seed)
    else:
        spec.update(duration_s=seconds, chunk_s=seconds, seed=seed)
    return runner.validate(spec, "timing")


def _time_rule(task: str, rule: str, seconds: float, seed: int) -> float:
    """Wall seconds per biological second of one fresh run (``Network.run`` only, not the build)."""
    import brian2 as b2

    from synapse_madam.spiking import runner

    spec = _timing_spec(task, rule, seconds, seed)
    b2.start_scope()
    summary, _ = runner.simulate(spec, None, log=lambda *_: None)
    return summary["wall_s"] / summary["duration_s"]


def timing(seconds: float, repeats: int, force: bool = False, tasks=TIMING_TASKS) -> dict:
    """Wall seconds per biological second with madam_reward and additive_reward on the same network
    (cython), per task: the distal-reward network (800 E + 200 I Izhikevich neurons, 80 000 plastic
    synapses, 0.5 ms steps) and the digits network (25 600 plastic synapses, 1 ms steps). The rules
    are interleaved (one run of each per round) after one warm-up run each (code generation and
    compilation are not timed); only ``Network.run`` is timed, not the build. The discipline of
    benchmarks/timing.py: load average before and after, refuses to write into docs/ on a loaded
    machine unless ``force``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import timing as discipline

    banner = discipline.guard(TIMING, force)
    load_before = os.getloadavg()
    per_task = {}
    for task in tasks:
        for rule in ("madam", "additive"):
            _time_rule(task, rule, 1.0, 0)  # compile
        walls = {"madam": [], "additive": []}
        for r in range(repeats):
            for rule in ("madam", "additive"):
                walls[rule].append(_time_rule(task, rule, seconds, r + 1))
        stats = discipline.summary(walls, "additive")
        per_task[task] = {"wall_per_bio_s": walls, "stats": stats, "ratio_madam_over_additive": stats["madam"]["ratio"]}
        print(f"{task}: wall / biological s: madam {walls['madam']}, additive {walls['additive']}; ratio of medians "
              f"{stats['madam']['ratio']:.2f}")
    load_after = os.getloadavg()
    out = {"seconds": seconds, "repeats": repeats, "tasks": per_task, "load_before": load_before,
           "load_after": load_after, "cpu_count": os.cpu_count(), "banner": banner,
           "publishable": max(load_before[0], load_after[0]) <= MAX_LOAD,
           "command": f"python benchmarks/spiking_learning.py timing --seconds {seconds:g} --repeats {repeats}"}
    print(f"load average before {discipline.fmt_load(load_before)}, after {discipline.fmt_load(load_after)}"
          + ("" if out["publishable"] else f" (load > {MAX_LOAD}: not publishable)"))
    return out


def profile(seconds: float = 5.0) -> dict:
    """Where the wall time of the distal-reward network goes, per rule: Brian2's own profiler
    (``Network.run(profile=True)``, cython, after a 0.5 s warm-up that compiles), the six most
    expensive code objects in wall seconds per biological second, and the load average; written to
    docs/spiking_learning_profile.json, which ``collect`` quotes. A profile, not a timing result:
    run ``timing`` on a quiet machine for the ratio."""
    import brian2 as b2

    from synapse_madam.spiking import tasks
    from synapse_madam.spiking.backend import codegen_target

    out = {"seconds": seconds, "load_before": os.getloadavg(),
           "command": "python benchmarks/spiking_learning.py profile"}
    for rule in ("madam", "additive"):
        spec = _timing_spec("distal", rule, seconds, 1)
        b2.start_scope()
        with codegen_target(spec["target"]):
            net = tasks.build(spec)
            net.network.run(0.5 * b2.second)
            started = time.perf_counter()
            net.network.run(seconds * b2.second, profile=True)
            wall = time.perf_counter() - started
            top = sorted(net.network.profiling_info, key=lambda x: -float(x[1]))[:6]
            out[rule] = {"wall_per_bio_s": wall / seconds, "top": {n: float(v) / seconds for n, v in top}}
    out["load_after"] = os.getloadavg()
    print(json.dumps(out))
    return out


def reward_step(lr: float = 0.01, presentations: int = 4000, seed: int = 0) -> dict:
    """How far one reward moves ln|w| under madam_reward's per-tick Madam step when rewards are
    sparse, with rule.madam_update itself (numpy, no Brian2): one synapse, 25 ticks of 10 ms per
    presentation (the digits schedule), a reward to its population in a fraction q of the
    presentations, then d = exp(-k) at the k-th tick (tau_d = update_dt = 10 ms) and g = -(c d) with
    an eligibility c = +-U(0.5, 1.5) (random sign); Madam's published beta and g_bound. Returns the mean
    |ln w change| per reward, in units of lr, for q = 0.1, 0.2, 0.3 (second half of the run)."""
    from synapse_madam import rule as R

    out = {}
    for q in (0.1, 0.2, 0.3):
        rng = np.random.default_rng(seed)
        state = R.init_state(np.array([1.0]), p_scale=1e9)
        w, moves = np.array([1.0]), []
        for pres in range(presentations):
            rewarded, c = rng.random() < q, rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)
            w_start = w.copy()
            for k in range(25):
                g = np.array([-(c * np.exp(-k)) if rewarded else 0.0])
                w, state = R.madam_update(w, g, state, lr)
            if rewarded and pres >= presentations // 2:
                moves.append(abs(float(np.log(w[0] / w_start[0]))) / lr)
        out[f"{q:g}"] = float(np.mean(moves))
    print(json.dumps({"ln_w_step_per_reward_in_units_of_lr": out, "lr": lr}))
    return out


def readout(run: Path) -> dict:
    """What a digits run's learned weights hold, read out without spikes: for each class the mean
    weight of its population's neurons per input, W (10 x 128); answers argmax_k (W x)_k - m_k with
    m_k the mean of (W x)_k over the training images (the linear readout with each class's mean
    response removed, as a threshold would); the spread of the classes' mean weights (their total
    drive); the correlation of each class's W with the weights of a logistic regression fitted on
    the same code and training images. Same split as the run (validation or test part)."""
    import tomllib

    from sklearn.linear_model import LogisticRegression

    from synapse_madam.spiking.digits import DEFAULTS, N_CLASSES, encode, split_for

    spec = tomllib.loads((run / "spec.toml").read_text())
    p = {**DEFAULTS, **spec["network_params"]}
    x_tr, y_tr, x_ev, y_ev = split_for(p)
    with np.load(run / "weights.npz") as z:
        w = z["EE"].reshape(N_CLASSES, 2 * x_tr.shape[1], p["n_per_class"]).mean(axis=2)  # i-major per group
    xt, xe = encode(x_tr, 1.0), encode(x_ev, 1.0)
    m = (xt @ w.T).mean(axis=0)
    clf = LogisticRegression(max_iter=3000).fit(xt, y_tr)
    summary = json.loads((run / "summary.json").read_text())
    out = {"run": run.name, "evaluated_on": "validation" if p["validation_fraction"] else "test",
           "spiking_accuracy": summary["results"]["test_accuracy"],
           "centred_linear_readout_accuracy": float(np.mean(np.argmax(xe @ w.T - m, axis=1) == y_ev)),
           "logistic_regression_accuracy": float(clf.score(xe, y_ev)),
           "class_mean_weight": [float(v) for v in w.mean(axis=1)],
           "corr_with_logistic_regression": [float(np.corrcoef(clf.coef_[k], w[k])[0, 1]) for k in range(N_CLASSES)]}
    print(json.dumps(out))
    return out


def oracle(n_test: int, w_mean: float, params: dict) -> dict:
    """What the digits network can hold: the weights of a logistic regression fitted to the same
    on/off code (scikit-learn, training split), shifted to be >= 0 (adding one constant to every
    class leaves the argmax unchanged), scaled to mean ``w_mean`` and jittered by U(0.8, 1.2) per
    synapse, are put into the network, which then answers the first ``n_test`` test images with
    no plasticity (additive_reward with eta 1e-9). Cython target."""
    import brian2 as b2
    from sklearn.linear_model import LogisticRegression

    from synapse_madam.spiking import make_rule
    from synapse_madam.spiking.digits import block_accuracies, build_digits, load_split

    b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = 1 * b2.ms
    x_tr, y_tr, x_te, y_te = load_split()
    clf = LogisticRegression(max_iter=3000).fit(np.concatenate([x_tr, 1 - x_tr], 1), y_tr)
    w = clf.coef_ - clf.coef_.min()
    w = w / w.mean() * w_mean
    rule = make_rule("additive_reward", eta=1e-9, w_max=float(w.max()) * 1.2 + 1e-9, a_minus=0.01)
    net = build_digits(rule, seed=1, epochs=1, n_train=1, n_test=n_test, **params)
    for c, g in enumerate(net.plastic):
        g.w = w[c][np.asarray(g.i[:])] * np.random.default_rng(c).uniform(0.8, 1.2, len(g.i[:]))
    net.network.run(net.schedule["block_slots"] * net.params["period_s"] * b2.second)
    acc = block_accuracies(net)[0]
    out = {"logistic_regression_test_accuracy": float(clf.score(np.concatenate([x_te, 1 - x_te], 1), y_te)),
           "spiking_test_accuracy": acc["test_accuracy"], "no_answer": acc["test_no_answer"], "n_test": n_test,
           "w_mean": w_mean, "params": params}
    print(json.dumps(out))
    return out


def _runs() -> list[tuple[str, dict]]:
    out = []
    for d in sorted(RUNS.glob("*")):
        f = d / "summary.json"
        if f.is_file():
            out.append((d.name, json.loads(f.read_text())))
    return out


def _unfinished(task: str) -> list[tuple[str, list[dict], dict]]:
    """Run folders of ``task`` without summary.json but with finished chunks in metrics.jsonl."""
    import tomllib

    out = []
    for d in sorted(RUNS.glob(f"{task}_*")):
        if (d / "summary.json").is_file() or not (d / "metrics.jsonl").is_file():
            continue
        rows = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines() if x.strip()]
        if rows:
            out.append((d.name, rows, tomllib.loads((d / "spec.toml").read_text())))
    return out


def _run_diff(name: str) -> tuple[str, list[tuple[str, object]]]:
    """(packaged spec name, [(dotted key, the run's value)]) where runs/spiking_learning/NAME's
    spec.toml differs from its packaged spec today. A network_params key that the run's spec lacks
    (added to the task after the run) took its default (synapse_madam.spiking.digits.DEFAULTS for
    digits), so it counts as that value; the derived duration_s and chunk_s of digits are left out."""
    import tomllib

    from synapse_madam import substrates
    from synapse_madam.runs import spec_diff
    from synapse_madam.spiking import digits, runner

    run_spec = tomllib.loads((RUNS / name / "spec.toml").read_text())
    base_name = run_spec["name"]
    base = runner.validate(substrates.load_spec(base_name), base_name)
    is_digits = run_spec.get("network") == "digits"
    derived = {"duration_s", "chunk_s"} if is_digits else set()  # from the schedule
    out = []
    for k, old, new in spec_diff(base, run_spec):
        if k in derived:
            continue
        if new is None and is_digits and k.startswith("network_params.") and k.split(".", 1)[1] in digits.DEFAULTS:
            new = digits.DEFAULTS[k.split(".", 1)[1]]
            if old is not None and old == new:
                continue
        if new is not None:
            out.append((k, new))
    return base_name, out


def _command(name: str, s: dict) -> str:
    """The CLI command that made runs/spiking_learning/NAME: the packaged spec plus a --set for
    every key where the run's spec.toml differs from it (``_run_diff``)."""
    base_name, diff = _run_diff(name)
    sets = " ".join(f"--set {k}={json.dumps(v) if isinstance(v, str) else v}" for k, v in diff)
    return f"synapse-madam run models/{base_name}.toml {sets} --out runs/spiking_learning/{name}".replace("  ", " ")


def _digits_row(name: str, s: dict, blocks: list[dict]) -> str:
    """The start of one digits table row (up to the command) from a summary or a spec and its rows."""
    rule = s["rule"]
    step = rule.get("lr") if rule["name"] == "madam_reward" else rule.get("eta")
    params = s.get("network_params") or s.get("params") or {}
    sched = params.get("step_schedule", "constant")
    if sched == "step":
        sched = f"step × {params.get('step_decay', 0.5):g} per block"
    teacher = params.get("teacher_mv", 0.0)
    teacher = f"{teacher:g} mV, last {params.get('teacher_ms', 50.0):g} ms" if teacher else "none"
    return (f"| {name} | {rule['name']} | {rule.get('eligibility', 'hebbian')} | {step:g} | "
            f"{sched} | {teacher} | {params.get('reward_baseline', 'global')} | {len(blocks)} | "
            f"{', '.join(format(b['test_accuracy'], '.3f') for b in blocks)} | {blocks[-1]['train_accuracy']:.3f} |")


def _digits_rows(digits, unfinished, validation: bool) -> list[str]:
    """The rows of the test-split table (``validation`` False) or of the validation table: the
    finished runs, then the stopped ones (test-split rows say how to continue them)."""
    rows = [_digits_row(n, s, s["results"]["blocks"]) + f" `{_command(n, s)}` |"
            for n, s in digits if _on_validation(s) == validation]
    for n, blocks, spec in unfinished:
        if bool(spec["network_params"].get("validation_fraction")) == validation:
            rows.append(_digits_row(f"{n} (**stopped** after {len(blocks)} of {spec['network_params']['epochs']} "
                                    "blocks)", spec, blocks) + f" `{_command(n, {})}`"
                        + ("" if validation else " (continue: add --resume)") + " |")
    return rows


def _on_validation(s: dict) -> bool:
    """True for a digits run evaluated on the validation part of the training split."""
    return bool((s.get("params") or {}).get("validation_fraction"))


def _packaged(name: str) -> bool:
    """True if runs/spiking_learning/NAME ran its packaged spec unchanged (a seed aside)."""
    return {k for k, _ in _run_diff(name)[1]} <= {"seed"}


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
    unfinished = _unfinished("digits")
    has_digits = bool(digits or unfinished)
    # the packaged specs as they are (a seed aside), on the test split: the runs the targets judge
    final = [(n, s) for n, s in digits if not _on_validation(s) and _packaged(n)]
    timing = read_timing() if TIMING.is_file() else None
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
                  "| run | rule | biological time | final percentile | solved at | minutes at >= 0.99 | "
                  "minutes with the chosen w at w_max | others at w_max (end) | pairings | E rate (Hz) | command |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for n, s in distal:
            r = s["results"]
            pct, wc = np.asarray(r["percentile"]), np.asarray(r["w_chosen"])
            w_max = float(s["rule"].get("w_max", 4.0))
            solved = "not solved" if r["solved_s"] is None else f"{r['solved_s'] / 60:.0f} min"
            lines.append(f"| {n} | {s['rule']['name']} | {s['duration_s'] / 60:.0f} min | {r['final_percentile']:.4f} "
                         f"| {solved} | {np.sum(pct >= 0.99)} of {pct.size} | {np.sum(wc >= 0.999 * w_max)} of {wc.size} "
                         f"| {s['weights']['EE']['frac_at_upper']:.2%} | {r['pairings']} | {r['exc_rate_hz']:.2f} "
                         f"| `{_command(n, s)}` |")
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
    if has_digits:
        lines += _digits_text()
        lines += ["| run | rule | eligibility | step (lr or eta) | schedule | teacher | reward baseline | blocks | "
                  "test accuracy per block | last train accuracy | command |",
                  "|---|---|---|---:|---|---|---|---:|---|---:|---|"]
        lines += _digits_rows(digits, unfinished, validation=False)
        by_rule = {}
        for n, s in final:
            by_rule.setdefault(s["rule"]["name"], []).append(s)
        for rule, ss in sorted(by_rule.items()):
            acc = np.array([[b["test_accuracy"] for b in s["results"]["blocks"]] for s in ss])
            sig = [s["weights"]["EE"]["sigma_ln"] for s in ss]
            lines.append(f"\nPackaged spec, {rule}, {len(ss)} seed(s): mean test accuracy per block "
                         f"{', '.join(format(a, '.3f') for a in acc.mean(axis=0))} (sd over seeds at the end "
                         f"{acc[:, -1].std(ddof=1) if len(ss) > 1 else float('nan'):.3f}); σ of ln w at the end "
                         f"{np.mean(sig):.2f}.")
        lines += ["", "**Model selection on a validation split** (`network_params.validation_fraction = 0.25`: "
                  "1010 of the 1347 training images to learn from, 337 held out of them to validate; the test "
                  "images are not loaded). Small runs: the first 400 of the 1010 and the first 200 of the 337, "
                  "4 blocks (2 for the additive eta grid, for lack of time), seed 1; the rows `*_full_*` use all 1010 and "
                  "337 images and 3 blocks (the final budget), run after the final runs.", "",
                  "| run | rule | eligibility | step (lr or eta) | schedule | teacher | reward baseline | blocks | "
                  "validation accuracy per block | last train accuracy | command |",
                  "|---|---|---|---:|---|---|---|---:|---|---:|---|"]
        lines += _digits_rows(digits, unfinished, validation=True)
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
                  "average between about 1 and 7 (other jobs); not a timing result, see below.", ""]
    if timing:
        lines += timing_lines(timing)
    notes = list(NOTES)
    notes.insert(notes.index(NOTES_FINAL_AFTER) + 1, _final_note(digits, final))
    lines += notes
    lines += _targets(distal, final, runs, timing)
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


def _digits_text() -> list[str]:
    """The digits setup, with the step sizes and options read from the packaged specs."""
    from synapse_madam import substrates

    m, a = (substrates.load_spec(f"spiking_digits_{r}") for r in ("madam", "additive"))
    sched = m["network_params"].get("step_schedule", "constant")
    return ["### Digits (scikit-learn 8x8, held-out test split)", "",
            "128 on/off Poisson inputs (200 Hz max) -> 10 output populations x 20 LIF neurons with a slow "
            "homeostatic threshold + 20 inhibitory LIF neurons (Dale's law: E->I +, I->E -, fixed), 25 600 "
            "plastic input synapses, 200 ms presentations + 50 ms rest, a teaching neuromodulator per "
            "population (`reward_mode = \"population\"`, synapse_madam/spiking/digits.py); train 1347 / test "
            "450 images (stratified, split_seed 0); a block = every training image once, then every test "
            "image once without reward. Same budget for both rules: "
            f"{m['network_params']['epochs']} blocks, same network and seed.", "",
            f"**Packaged specs** (models/spiking_digits_madam.toml, models/spiking_digits_additive.toml): "
            f"eligibility = \"{m['rule'].get('eligibility', 'hebbian')}\" for both rules, step_schedule = "
            f"\"{sched}\" for both; Madam lr = {m['rule']['lr']:g} per 10 ms tick, additive eta = "
            f"{a['rule']['eta']:g} / s, each chosen on the validation split below (never on the test split); "
            f"a teacher of {m['network_params'].get('teacher_mv', 0.0):g} mV to the label's population in the last "
            f"{m['network_params'].get('teacher_ms', 50.0):g} ms of each training presentation, after the answer, "
            "for both (chosen on the same validation split; `teacher` column). "
            "The earlier settings (Hebbian eligibility, Madam at its published lr = 0.01, additive eta = 3 / s "
            "picked by hand, constant step) are the rows `*_hebbian_*`, the packaged specs before the teacher the "
            "rows `digits_madam_s1`-`s3` and `digits_additive_s1`-`s3`; their commands still reproduce them.", ""]


NOTES = ["### Reading these results", "",
         "- **Madam's per-synapse normalisation and sparse rewards.** Madam divides each synapse's drive c·d by "
         "the running RMS of its own drive, so a reward moves every eligible synapse by up to lr·g_bound per tick "
         "whatever the size of its eligibility; between rewards d = 0 and v decays, so the next reward's step is "
         "clipped at g_bound = 10. At the published lr = 0.01 (per 10 ms tick) one reward moves ln w of every "
         "eligible synapse by up to about 2 (row `distal_madam_lr0.01_s1`, if present); the distal spec uses lr = "
         "0.001, picked from {0.01, 0.001} on seed 1. Selectivity then rests on the sign consistency of c·d at "
         "reward times: the chosen synapse is pushed up at almost every reward, the others random-walk in ln w. "
         "That walk is why the Madam runs end with a wide ln w (σ ratio well above 1) and with some other "
         "synapses at w_max too; ties at w_max cap the percentile of the chosen synapse.",
         "- **Digits: why three-factor Madam stalled near 64 %, and what was changed.** Diagnosed on the validation "
         "split (second digits table; 400 training images, 4 blocks, seed 1; with 200 validation images one accuracy "
         "has a binomial sd of about 3 points, so only differences of 5 points or more are read as real).",
         "  1. *The step was too coarse.* madam_reward normalises each synapse's drive c·d by the RMS of its own "
         "drive over ~1000 ticks. In digits that drive is nonzero only in the 2-4 ticks after a reward reaches the "
         "synapse's population, in 10-30 % of the presentations, so at a reward ĝ is far above 1 and hits g_bound: "
         "one reward moves ln w by 12-17 × lr (`python benchmarks/spiking_learning.py reward-step`, numpy with "
         "rule.madam_update). At the published lr = 0.01 that is a 12-17 % change of every eligible weight per "
         "reward. The learning curve shows the cost: the answers given while learning (training accuracy 0.21-0.37) "
         "were worse than the answers of the frozen weights on validation images (0.31-0.55) in every block, i.e. "
         "each step undid part of the last. lr = 0.001 (about the published 1 % per learning event) lifted the "
         "training accuracy to 0.63 (validation 0.59 after 4 blocks).",
         "  2. *Hebbian eligibility moved the populations' total drive.* Every reward moves all active inputs of "
         "a population the same way, and the on/off code keeps the summed input rate fixed, so each reward also "
         "changes that population's total drive, a class bias that the winner-take-all follows and the homeostatic "
         "threshold chases. After 4 blocks at lr = 0.001 the populations' mean weights had spread from 0.06 to "
         "0.064-0.108, while the same weights read out linearly with each class's mean response removed gave "
         "0.845 on the validation images where the network answered 0.59 (`python benchmarks/spiking_learning.py "
         "readout runs/spiking_learning/digits_select_madam_lr0.001_hebbian`). The task was in the weights; the bias "
         "spoiled the answers. The centred eligibility (reward.py: pre trace minus its mean over the training "
         "images, the covariance form) removes that common mode: class means stayed within 0.044-0.059, validation "
         "0.63, 0.74, 0.745, 0.77, training up to 0.80. It is given to the additive baseline too (it is not part of "
         "either rule's step) and lifts it as well.",
         "  3. *Tried, not adopted:* a cosine decay of the step over the blocks (lr 0.001: validation 0.68 after 4 "
         "blocks against 0.77 with a constant step); lr = 0.0003 (slower: 0.46, 0.54 after 2 blocks against 0.63, "
         "0.74); lr = 0.003 with the cosine decay (0.34 after the first block; stopped). *Not the limit:* the "
         "magnitude bound (1.5-3.4 % of the weights at w_max in these runs).",
         "  4. *On the full budget (3 blocks of 1347 images) the constant step overshoots late.* The packaged "
         "Madam runs peaked after block 2 and fell in block 3 in seeds 1 and 3 (line under the digits table), "
         "while the σ of ln w kept growing (0.55, 0.87, 1.17 after blocks 1-3, every seed) and the fraction at "
         "w_max rose to 4-5 %: weights whose eligibility has no consistent sign keep random-walking in ln w. The "
         "validation runs (1600 presentations, 40 % of this budget) were too short to show that, and the step "
         "schedule was not re-chosen on the test split. Two validation runs at the full budget, made after the "
         "final runs, point the same way: constant step 0.703, 0.754, 0.718; cosine decay 0.703, 0.748, 0.748 "
         "(rows `digits_select_madam_full_*`; one seed and 337 images, so about 2.4 points of binomial sd). "
         "Whether `step_schedule = \"cosine\"` should become the default needs more seeds; the packaged spec "
         "keeps the constant step its numbers were measured with. The learned weights still hold more than the network "
         "answers: read out linearly with each class's mean response removed they give 0.87 on the test images "
         "for seed 1, where the network answered 0.673 (`python benchmarks/spiking_learning.py readout "
         "runs/spiking_learning/digits_madam_s1`).",
         "- **Without the teacher the additive baseline was ahead** (rows `digits_*_s1`-`s3`, the packaged specs before the teacher; their commands now carry `--set network_params.teacher_mv=0.0`). With the centred eligibility (a change of the "
         "eligibility, given to both rules) and its step chosen on the same validation split, additive R-STDP "
         "reached a mean test accuracy of 0.784 against Madam's 0.726 (3 seeds each; lines under the digits "
         "table), from 0.318 and 0.637 before. Most of the gain is therefore rule-independent. What Madam still "
         "gives is the constraint and the shape: 0 sign flips, against 523-863 additive weights clipped to 0, and "
         "ln w close to a normal (KS 0.04, σ ratio 1.25 to Song 2005) where the additive weights pile up at 0. "
         "Madam's late decline (item 4) was the next thing to address: from block 2 to 3 the additive runs improved "
         "in 2 of 3 seeds, the Madam runs fell in 2 of 3.",
         "- **What was tried next** (validation split, seed 1, in the order of the hypotheses; same limits of "
         "noise as above).",
         "  1. *The correct population was kept silent (tested: a teacher).* The eligibility is gated by "
         "postsynaptic spikes, so a correct population that the winner-take-all kept silent learned little from its "
         "teaching signal. `network_params.teacher_mv` gives the label's population a constant input during the "
         "last `teacher_ms` = 50 ms of each *training* presentation (digits.py; test and validation presentations "
         "never have one), *after* the answer: the answer that the reward judges is counted before the teacher "
         "comes on. A first version with the teacher on for the whole presentation was useless: at the initial "
         "weights the populations sit just under threshold, and 1 mV already made every training answer correct "
         "(60 of 60), so the reward said nothing. On validation (seed 1), 3 mV lifted both rules: Madam small runs "
         "0.725, 0.735, 0.715, 0.795 against 0.630, 0.740, 0.745, 0.770 without; Madam at the full budget 0.780, "
         "0.837, 0.813 against 0.703, 0.754, 0.718; additive small runs 0.700, 0.740 after 2 blocks against 0.550, "
         "0.640; additive at the full budget 0.745, 0.774, 0.789 (no full-budget additive run without the teacher "
         "was made to compare with) (rows `*_teach3*`). Only 3 mV was tried (no grid, for time). Both packaged specs now have it.",
         "  2. *The late decline, tested with a step decay (×0.5 per block, `step_schedule = \"step\"`).* With the "
         "teacher, Madam at the full validation budget gave 0.780, 0.804, 0.813 with the decay against 0.780, "
         "0.837, 0.813 with a constant step (row `digits_select_madam_full_teach3_step0.5`): the same end point, "
         "and a fall of 2.4 points from block 2 to 3 with the constant step is within one binomial sd (337 "
         "images). Not adopted. Without the teacher the full-budget validation runs had shown the same pattern "
         "for the cosine decay (item 4 above: 0.718 constant, 0.748 cosine).",
         "  3. *A per-class reward baseline (`reward_baseline = \"class\"`, one expected reward per label, as "
         "Fremaux et al. 2010 found R-STDP to need for several stimuli).* With the teacher, Madam at the full "
         "validation budget: 0.727 after block 1 against 0.780 with the one global baseline; stopped after that "
         "block, for time, to free a core for the final runs (row `digits_select_madam_full_teach3_classbase`). "
         "Not adopted; one block of one seed does not rule it out.",
         "  4. *Not tried (time):* a per-postsynaptic-neuron second moment for madam_reward (a reward's step would "
         "keep the relative size of a neuron's eligibilities instead of becoming sign-like per synapse; it needs a "
         "reduction over each neuron's synapses at every tick, a Brian2 summed variable, and an extension of the "
         "equivalence test), other teacher strengths, `reward_mode = \"global\"`, more blocks, more output neurons "
         "or longer presentations (the answer is a count of about 15-25 spikes per population, so it is noisy), "
         "smaller additive eta than 0.3.",
         "  5. *What still limits it.* The learned weights hold more than the network answers, with or without the "
         "teacher, but the teacher narrowed the gap. Madam at the full validation budget: the centred linear readout "
         "of the weights (`python benchmarks/spiking_learning.py readout RUN`) gives 0.852 where the network answered "
         "0.718 without the teacher (`digits_select_madam_full_lr0.001_centred`), 0.884 where it answered 0.813 with "
         "it (`digits_select_madam_full_teach3`); a logistic regression on the same code gives 0.958. So the teacher "
         "improved the weights by about 3 points and the network's use of them by about 6. On the test split, seed 1 "
         "with the teacher (`digits_madam_teacher_s1`): readout 0.882, network 0.798, logistic regression 0.976. The "
         "learned weights correlate 0.60-0.75 with the logistic regression's: the rule still learns something "
         "between class templates and discriminative weights.",
         "- **What the network can hold.** `python benchmarks/spiking_learning.py "
         "oracle --n-test 100 --w-mean 0.06` puts the weights of a logistic regression on the same on/off code "
         "(97.6 % test accuracy as a classifier) into the network with plasticity off: 93 % of the first 100 test "
         "images with the spec's defaults, 94 % without homeostasis (`--set target_hz=0.0 --set theta_step_mv=0.0`),"
         " 65 % with a ten times faster homeostasis (`--set theta_step_mv=0.2`). The runs named `*_theta0.2_*` "
         "used that faster homeostasis (and the earlier Hebbian eligibility and lr) and stopped learning near that "
         "ceiling; the spec has theta_step_mv = 0.02. The teaching signal per population (`reward_mode = "
         "\"population\"`) is supervised in that the label picks the population that is rewarded; `reward_mode = "
         "\"global\"` (one reward-prediction error for all) is implemented but not measured here.",
         "- **Where Madam's extra wall time goes.** In the profile under the timing table, every code object "
         "other than the rule's tick costs about the same under both rules, and the Python reward operation, "
         "which both rules share, is not among the most expensive; the ratio is set by Madam's arithmetic per "
         "synapse and tick, not by Python, so moving the reward into generated code would not change it. "
         "madam_reward stores each weight as its sign and ln|w| (w = sign exp(ln|w|) is computed where it is "
         "read: at a presynaptic spike, by a monitor or by `syn.w[:]`), so its tick adds to ln|w| with no exp "
         "per synapse; what is left is the normalisation's sqrt and division. Before that storage (commit "
         "6f3229a, which stored w and took an exp per synapse and tick), the same timing on the same quiet machine, "
         "a few minutes before the table above, gave a distal ratio of 1.90 (madam_reward 0.190, additive_reward "
         "0.100 s per biological second; `git checkout 6f3229a && python benchmarks/spiking_learning.py timing "
         "--seconds 20 --repeats 3`, which timed the distal network only). On the digits network the tick is a "
         "smaller share of the run (1 ms steps, 25 600 plastic synapses, many input spikes).",
         "- **Seeds and budget.** Distal reward: seeds 1-3 per rule (one hour of biological time of that network "
         "takes 6-15 min of wall time on one core of a quiet machine, up to 50 min on a loaded one). Additive "
         "R-STDP met the strict criterion in 3 of 3 seeds, Madam (lr 0.001) in 2 of 3 (seed 3 ended at the "
         "0.985 percentile). Two of those five successes reached >= 0.99 only at the last check (60 min), so "
         "the criterion stays weak: it is met or missed by one check. Digits: the seeds listed in the table (a run of 3 blocks took 5-27 min on one shared core). Every command takes "
         "`--set seed=N`. `digits_madam_teacher_s2` and `_s3` ran after madam_reward began to store ln|w| and the sign of w "
         "(the same step, tests/test_spiking_reward.py); every earlier Madam run stored w itself, so a rerun of "
         "those agrees to rounding and in distribution, not bit for bit.",
         "- **cpp_standalone.** The rewards depend on the spikes and are computed in Python between time steps, "
         "which the standalone device cannot do; task specs with target = \"cpp_standalone\" are refused with "
         "one line. The plain spiking runs (models/spiking_song_*, spiking_brunel_*) keep cpp_standalone.", ""]


NOTES_FINAL_AFTER = next(x for x in NOTES if x.startswith("  5. *What still limits it.*"))


def _final_note(digits, final) -> str:
    """The final runs (``final``: packaged specs, test split) against the packaged runs before the teacher."""
    import re

    def accs(names):
        return {rule: [(n, s["results"]["test_accuracy"]) for n, s in digits
                       if n in names and s["rule"]["name"] == rule] for rule in ("madam_reward", "additive_reward")}

    def fmt(rows):
        return (f"{np.mean([a for _, a in rows]):.3f} ({len(rows)} seed(s): "
                + ", ".join(f"{a:.3f}" for _, a in rows) + ")") if rows else "no finished run"

    now = accs({n for n, _ in final})
    before = accs({n for n, _ in digits if re.fullmatch(r"digits_(madam|additive)_s\d+", n)})
    if not now["madam_reward"] and not now["additive_reward"]:
        return "- **Final runs (test split), packaged specs with the teacher.** None has finished yet."
    m, a = now["madam_reward"], now["additive_reward"]
    lead = ""
    if m and a:
        diff = np.mean([x for _, x in m]) - np.mean([x for _, x in a])
        lead = (f" Madam − additive: {diff:+.3f}; one test accuracy on 450 images has a binomial sd of about "
                "2 points, and the seed-to-seed sd is of the same order, so only a gap of several points between "
                "the means would be a difference between the rules.")
        lead += (" The teacher lifted Madam more than the additive rule (compare the rows before it), but Madam's "
                 "late decline is still there: its mean per block (line under the test table) is highest after "
                 "block 1 or 2 and falls in block 3 in 2 of 3 seeds, where the additive runs still rise in 2 of 3. "
                 "The step decay that would address it gave the same end point on validation (item 2 above) and was "
                 "not adopted; a per-neuron second moment (item 4) was not tried. With the teacher, more additive "
                 "weights end clipped at 0 and more Madam weights at w_max than before (weight table).")
    return ("- **Final runs (test split), packaged specs with the teacher** (rows `digits_*_teacher_s*`; the "
            "setting was chosen on the validation split only). Mean test accuracy after the last block: "
            f"madam_reward {fmt(m)}, additive_reward {fmt(a)}; before the teacher (rows `digits_*_s1`-`s3`) "
            f"{fmt(before['madam_reward'])} and {fmt(before['additive_reward'])}." + lead)


def _targets(distal, final, runs, timing) -> list[str]:
    """The issue's Brian2 targets, each with the row of the tables above that decides it; the accuracy
    targets are judged on ``final`` (the runs of the packaged specs as they are, a seed aside)."""
    out = ["### Targets of issue 14 (Brian2), as measured above", ""]
    for n, s in distal:
        r = s["results"]
        ok = r["solved_s"] is not None and r["solved_s"] <= 3600
        out.append(f"- Distal reward solved within ~1 h ({n}, {s['rule']['name']}): "
                   + (f"**yes by the strict criterion** (>= 0.99 from {r['solved_s'] / 60:.0f} min to the end)"
                      if ok else "**no** (the percentile does not stay >= 0.99 to the end)")
                   + f"; final percentile {r['final_percentile']:.4f}; >= 0.99 at "
                   f"{int(np.sum(np.asarray(r['percentile']) >= 0.99))} of {len(r['percentile'])} checks.")
    by_rule = {}
    for n, s in final:
        by_rule.setdefault(s["rule"]["name"], []).append((n, s["results"]["test_accuracy"]))
    for rule, rows in sorted(by_rule.items()):
        accs = ", ".join(f"{a:.3f} ({n})" for n, a in rows)
        mean = float(np.mean([a for _, a in rows]))
        out.append(f"- Digits test accuracy >= 0.90 with {rule} (packaged spec, mean over seeds): "
                   f"**{'yes' if mean >= 0.9 else 'no'}** "
                   f"(mean {np.mean([a for _, a in rows]):.3f}; {accs}).")
    if len(by_rule) == 2 and "madam_reward" in by_rule and "additive_reward" in by_rule:
        m = np.mean([a for _, a in by_rule["madam_reward"]])
        a = np.mean([a for _, a in by_rule["additive_reward"]])
        out.append(f"- Madam ahead of additive R-STDP on digits under the same budget and network: "
                   f"**{'yes' if m > a else 'no'}** (mean test accuracy {m:.3f} vs {a:.3f}, "
                   f"{len(by_rule['madam_reward'])} vs {len(by_rule['additive_reward'])} seed(s)).")
    flips = [(n, s["weights"]["EE"]["sign_flips"]) for n, s in runs if s["rule"]["name"] == "madam_reward"]
    out.append("- Sign flips = 0 for every three-factor Madam run: **"
               + ("yes" if all(f == 0 for _, f in flips) else "no") + f"** ({len(flips)} runs).")
    ratios = [(n, s["weights"]["EE"].get("classes", {}).get("E", {}).get("sigma_ratio")) for n, s in runs]
    out.append("- σ ratio to Song et al. 2005 per run: " + ", ".join(
        f"{n} {r:.2f}" for n, r in ratios if r is not None) + " (1 = the spread of cortex).")
    if timing:
        for task, r in timing["tasks"].items():
            ratio = r["ratio_madam_over_additive"]
            out.append(f"- Wall time per biological second <= 1.25 x additive ({task} network): "
                       + (f"**{'yes' if ratio <= 1.25 else 'no'}** ({ratio:.2f})" if timing["publishable"] else
                          "**not measured** (no quiet machine; see above)"))
    return out + [""]


def read_timing(path: Path = TIMING) -> dict:
    """docs/spiking_learning_timing.json, as ``timing`` writes it (one entry per network under "tasks")."""
    return json.loads(path.read_text())


def timing_lines(t: dict) -> list[str]:
    """The timing section of the doc, from docs/spiking_learning_timing.json (and the profile)."""
    lb, la = t["load_before"][0], t["load_after"][0]
    lines = ["### Wall time per biological second: madam_reward / additive_reward (same network)", ""]
    if not t["publishable"]:
        return lines + [f"Not published: the load average was {lb:.2f} before and {la:.2f} after the measurement "
                        f"(limit {MAX_LOAD}); rerun `{t['command']}` on an idle machine.", ""]
    lines += [f"Cython, {t['repeats']} alternated runs of {t['seconds']:g} s of biological time per rule and "
              f"network, after a warm-up run each; load average {lb:.2f} before, {la:.2f} after. Command: "
              f"`{t['command']}` (writes docs/spiking_learning_timing.json).", "",
              "| network | madam_reward (s / bio s, median) | additive_reward | ratio | target <= 1.25 |",
              "|---|---:|---:|---:|---|"]
    for task, r in t["tasks"].items():
        st = r["stats"]
        lines.append(f"| {task} | {st['madam']['median']:.3f} | {st['additive']['median']:.3f} | "
                     f"**{r['ratio_madam_over_additive']:.2f}** | "
                     f"{'yes' if r['ratio_madam_over_additive'] <= 1.25 else 'no'} |")
    lines.append("")
    if PROFILE.is_file():
        pr = json.loads(PROFILE.read_text())
        tick = {rule: pr[rule]["top"].get("plastic_e_reward_step") for rule in ("madam", "additive")}
        if all(v is not None for v in tick.values()):
            lines += [f"Where the distal network's time goes (`{pr['command']}`, Brian2's profiler, "
                      f"{pr['seconds']:g} s, load average {pr['load_before'][0]:.2f} before, "
                      f"{pr['load_after'][0]:.2f} after; a profile, not a timing result): the rule's 10 ms tick "
                      f"(`plastic_e_reward_step`) took {tick['madam']:.3f} s per biological second under "
                      f"madam_reward and {tick['additive']:.3f} s under additive_reward, of "
                      f"{pr['madam']['wall_per_bio_s']:.3f} and {pr['additive']['wall_per_bio_s']:.3f} s in all. "
                      "Per synapse and tick, Madam's tick does one sqrt and one division (the normalisation "
                      "by the second moment) on log-magnitude storage, so no exp; the additive tick one "
                      "multiply-add. Most expensive code objects (s per biological second): "
                      + "; ".join(f"{rule}: " + ", ".join(f"{n} {v:.3f}" for n, v in pr[rule]["top"].items())
                                  for rule in ("madam", "additive")) + ".", ""]
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("timing")
    t.add_argument("--seconds", type=float, default=20.0)
    t.add_argument("--repeats", type=int, default=2)
    t.add_argument("--force", action="store_true", help="write docs/spiking_learning_timing.json on a loaded machine "
                   "(the doc then says the ratio is not published)")
    sub.add_parser("collect")
    r = sub.add_parser("readout", help="what a digits run's learned weights hold, read out linearly")
    r.add_argument("run", type=Path, help="a digits run folder, e.g. runs/spiking_learning/digits_madam_s1")
    sub.add_parser("profile", help="Brian2 profile of the distal network per rule (not a timing result)")
    sub.add_parser("reward-step", help="ln|w| moved by one sparse reward under madam_reward (numpy)")
    o = sub.add_parser("oracle", help="accuracy of the digits network holding logistic-regression weights")
    o.add_argument("--n-test", type=int, default=100)
    o.add_argument("--w-mean", type=float, default=0.06)
    o.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a network_params value")
    args = p.parse_args(argv)
    if args.cmd == "timing":
        TIMING.write_text(json.dumps(timing(args.seconds, args.repeats, args.force), indent=1))
        print(f"wrote {TIMING}")
    elif args.cmd == "readout":
        readout(args.run)
    elif args.cmd == "profile":
        PROFILE.write_text(json.dumps(profile(), indent=1))
        print(f"wrote {PROFILE}")
    elif args.cmd == "reward-step":
        reward_step()
    elif args.cmd == "oracle":
        import tomllib

        oracle(args.n_test, args.w_mean, {k: tomllib.loads(f"v = {v}")["v"] for k, v in (x.split("=", 1) for x in args.set)})
    else:
        collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
