"""The bridge (issue 11) on rate networks: does Madam + log-space homeostasis (+ fluctuations) give a
stationary, initialisation-independent ln|w| distribution while the network learns its task?

Conditions (all Madam, lr = 0.01; the terms act on the synapses w_rec, w_in, w_out, with one set
point per synapse group, mu_g = ln RMS_g at the start):

* ``madam``          the published rule (hard bound at 3 x RMS, no terms): the control;
* ``restore``        log-space restoring rate theta, no bound;
* ``restore+noise``  theta and ln|w| fluctuations of amplitude ``noise`` per sqrt(step), no bound.

A priori parameters (never fitted to a reference sigma): theta = 6 / steps (the run spans six
relaxation times, so the initial state is forgotten to e^-12 in variance and the last third, where
stationarity is judged, spans two), noise = lr (a fluctuation of the same size as Madam's own step).

Parts (each run is cached as JSON under --out, so an interrupted benchmark resumes):

* ``main``  perceptual_dm, BPTT: restore+noise x 3 seeds x 2 inits (gamma, constant magnitude of the
  same RMS per group); the published control x 3 seeds (gamma) and 2 seeds (constant); restore
  alone x 1 seed x 2 inits (fewer: CPU);
* ``tasks`` context_dm (seed 1) and parametric_wm (go cue, readout bias; seeds 1 and 2), madam vs
  restore+noise, gamma init;
* ``np``    node perturbation (backprop-free) on perceptual_dm, madam vs restore+noise, seed 1;
* ``map``   sigma map: theta x noise (3 x 3) with learning on, perceptual_dm, BPTT, seed 1,
  ``--map-steps`` (1200) steps; theta * steps >= 3, so the variance of ln|w| (which relaxes at
  rate 2 theta) has forgotten its initial value to e^-6 in every cell.

Every run logs the digest of each synapse group every ``--eval-every`` steps (sigma(ln|w|), KS to
its own log-normal, fraction at the bound, sign flips) and the stationarity of sigma(t) over the
last third (< 5 % change). Writes docs/bridge_rate_results.md and the figures; the raw record of each
run (config, accuracy curve, sigma(t)/KS/fraction at bounds per group) is its cached JSON.

    nice -n 5 python benchmarks/bridge_rate.py --workers 4          # everything (~30 CPU-min)
    python benchmarks/bridge_rate.py --report-only                  # tables and figures from the cache
    python benchmarks/bridge_rate.py --part main --steps 60 --seeds 1 --out /tmp/br --docs /tmp/br  # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GROUPS = ("EE", "EI", "IE", "II")
LR = 0.01
INITS = ("gamma", "constant")


def conditions(steps: int) -> dict:
    theta = 6.0 / steps
    return {"madam": {},
            "restore": {"restore": theta, "bound": "none"},
            "restore+noise": {"restore": theta, "noise": LR, "bound": "none"}}


def plan(args) -> list[dict]:
    """The runs, most important first: the main condition (restore+noise) over all seeds and both
    inits, then the published control, then restore alone (fewer seeds), the other tasks and the map."""
    conds = conditions(args.steps)
    seeds = list(range(1, args.seeds + 1))
    few = seeds[: args.control_seeds]
    runs = []
    if "main" in args.part:
        runs += [dict(part="main", task="perceptual_dm", rule="bptt", cond="restore+noise", terms=conds["restore+noise"],
                      seed=s, init=i) for i in INITS for s in seeds]
        runs += [dict(part="main", task="perceptual_dm", rule="bptt", cond="madam", terms={}, seed=s, init=i)
                 for i in INITS for s in (seeds if i == "gamma" else few)]
        runs += [dict(part="main", task="perceptual_dm", rule="bptt", cond="restore", terms=conds["restore"], seed=s,
                      init=i) for i in INITS for s in seeds[:1]]
    if "tasks" in args.part:  # parametric_wm seed 2: the seed on which fixation used to win (docs/rate.md)
        runs += [dict(part="tasks", task=t, rule="bptt", cond=c, terms=conds[c], seed=s, init="gamma")
                 for t, c, s in (("context_dm", "madam", 1), ("context_dm", "restore+noise", 1),
                                 ("parametric_wm", "madam", 1), ("parametric_wm", "restore+noise", 1),
                                 ("parametric_wm", "madam", 2))]
    if "np" in args.part:
        runs += [dict(part="np", task="perceptual_dm", rule="node_perturbation", cond=c, terms=conds[c], seed=1,
                      init="gamma") for c in ("madam", "restore+noise")]
    for r in runs:
        r["steps"] = args.steps
    if "map" in args.part:
        for theta in args.map_restore:
            for noise in args.map_noise:
                runs.append(dict(part="map", task="perceptual_dm", rule="bptt", cond=f"map_r{theta:g}_n{noise:g}",
                                 terms={"restore": theta, "noise": noise, "bound": "none"}, seed=1, init="gamma",
                                 steps=args.map_steps))
    if "post" in args.part:  # one map cell over all seeds and both inits, chosen AFTER the map (see docs)
        th, n = args.post
        runs += [dict(part="post", task="perceptual_dm", rule="bptt", cond=f"map_r{th:g}_n{n:g}",
                      terms={"restore": th, "noise": n, "bound": "none"}, seed=s, init=i, steps=args.map_steps)
                 for i in INITS for s in seeds]
    for r in runs:
        r.update(eval_every=args.eval_every, n_rec=args.n_rec, batch_size=args.batch_size)
        name = r["cond"]
        if r["part"] == "map" and r["terms"] == conds["restore+noise"] and r["steps"] == args.steps:
            name = "restore+noise"  # the main condition's seed-1 gamma run is this map cell: train it once
        r["id"] = f"{r['task']}_{r['rule']}_{name}_{r['init']}_s{r['seed']}_n{r['steps']}".replace("+", "-")
    return runs


def run_one(cfg: dict, out: str) -> dict:
    """Train one network; returns (and caches) its record."""
    path = Path(out) / f"{cfg['id']}.json"
    if path.is_file():
        return json.loads(path.read_text())
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from synapse_madam.biology.digest import stationarity
    from synapse_madam.rate import EIRateRNN
    from synapse_madam.rate.tasks import make_task
    from synapse_madam.rate.train import make_learner, train

    task = make_task(cfg["task"])
    net = EIRateRNN(task.n_input, task.n_output, cfg["n_rec"], init=cfg["init"], seed=cfg["seed"])
    kw = dict(cfg["terms"])
    if kw:
        kw["noise_seed"] = cfg["seed"]
    learner = make_learner(net, cfg["rule"], **({"optimizer": "madam"} if cfg["rule"] == "bptt" else {}), lr=LR, **kw)
    t0 = time.perf_counter()
    res = train(net, task, learner, steps=cfg["steps"], batch_size=cfg["batch_size"], seed=cfg["seed"],
                eval_every=cfg["eval_every"], eval_trials=200, final_eval_trials=1000, progress=False)
    hist = res["history"]
    series = {g: {"step": [h["step"] for h in hist],
                  **{k: [h["weights"][g][k] for h in hist] for k in ("sigma_ln", "mean_ln", "ks_D", "frac_at_bounds")}}
              for g in (*GROUPS, "in", "out")}
    rec = {**cfg, "accuracy": res["accuracy"], "no_choice": res["final"]["no_choice"] if res["final"] else None,
           "diverged": res["diverged"], "sign_violations": res["sign_violations"], "n_silent": res["n_silent"],
           "accuracy_curve": [h["accuracy"] for h in hist], "series": series,
           "final_digest": hist[-1]["weights"],
           "stationarity": {g: stationarity(series[g]["sigma_ln"]) for g in series},
           "wall_s": time.perf_counter() - t0}
    path.write_text(json.dumps(rec))
    return rec


# ------------------------------------------------------------------------------------------ report
def _ms(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "none"
    return f"{np.mean(xs):.3f} ± {np.std(xs, ddof=1):.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"


def pooled(records, group):
    """sigma, KS, frac at bounds, stationarity of ``group`` at the end of each record."""
    d = [r["final_digest"][group] for r in records]
    st = [r["stationarity"][group] for r in records]
    return {"sigma": [x["sigma_ln"] for x in d], "ks": [x["ks_D"] for x in d],
            "bounds": [x["frac_at_bounds"] for x in d],  # None: no bound (the restoring drift replaces it)
            "rel": [s["rel_change"] for s in st], "stat": [bool(s["stationary"]) for s in st]}


def diffusion(records, group="EE"):
    """Per-step growth of the variance of ln|w| under the published rule: the least-squares slope
    of sigma^2(t) - sigma^2(0) against t, in units of lr^2 (a random walk of +-lr steps gives 1)."""
    out = []
    for r in records:
        t = np.asarray(r["series"][group]["step"], float)
        s2 = np.asarray([x or 0.0 for x in r["series"][group]["sigma_ln"]], float) ** 2
        out.append(float((t @ (s2 - s2[0])) / (t @ t)) / LR**2)
    return out


def report(records, args, song_sigma, cmd, load):
    by = lambda **kw: [r for r in records if all(r[k] == v for k, v in kw.items())]  # noqa: E731
    lines = ["# The bridge on rate networks: Madam + log-space homeostasis (+ fluctuations)", "",
             f"Regenerate: `{cmd}`", "",
             f"E/I rate networks (n_rec = {args.n_rec}, 80 % E, Dale's law), Madam lr = {LR}, {args.steps} steps of "
             f"batch {args.batch_size}, digest every {args.eval_every} steps. theta = 6 / steps = "
             f"{6 / args.steps:g} per step and noise = lr = {LR} were fixed a priori (see the script docstring); "
             f"sigma_Song2005 = {song_sigma:.4f}. Load average before/after: {load[0]} / {load[1]}.", ""]
    conds = list(conditions(args.steps))
    main = by(part="main")
    if main:
        lines += ["## perceptual_dm, BPTT: 3 conditions x seeds x 2 initialisations", "",
                  "mean ± sd over seeds; sigma = sigma(ln|w|) at the end; ratio = sigma / sigma_Song2005; KS = distance "
                  "to the group's own log-normal fit; at bound = fraction within 0.1 % of w_max; stationary = "
                  "sigma(t) changed < 5 % over the last third (runs stationary / runs).", "",
                  "| condition | init | accuracy | E->E sigma | ratio | KS | at bound | stationary | "
                  "E->I / I->E / I->I sigma |", "|---|---|---|---|---|---|---|---|---|"]
        for c in conds:
            for i in INITS:
                rs = by(part="main", cond=c, init=i)
                if not rs:
                    continue
                p = pooled(rs, "EE")
                others = " / ".join(_ms(pooled(rs, g)["sigma"]).split(" ±")[0] for g in ("EI", "IE", "II"))
                lines.append(f"| {c} | {i} | {_ms([r['accuracy'] for r in rs])} | {_ms(p['sigma'])} | "
                             f"{_ms([s / song_sigma for s in p['sigma']])} | {_ms(p['ks'])} | {_ms(p['bounds'])} | "
                             f"{sum(p['stat'])}/{len(rs)} (max change {max(p['rel']):.3f}) | {others} |")
        lines += ["", "All groups (mean over seeds): sigma | ratio | KS | at bound | stationary runs", "",
                  "| condition | init | " + " | ".join(("E->E", "E->I", "I->E", "I->I", "in", "out")) + " |",
                  "|---|---|" + "---|" * 6]
        for c in conds:
            for i in INITS:
                rs = by(part="main", cond=c, init=i)
                if not rs:
                    continue
                cells = []
                for g in (*GROUPS, "in", "out"):
                    p = pooled(rs, g)
                    sig = np.mean([x or 0.0 for x in p["sigma"]])
                    ks = [x for x in p["ks"] if x is not None]
                    bd = [x for x in p["bounds"] if x is not None]
                    cells.append(f"{sig:.3f} / {sig / song_sigma:.2f} / {np.mean(ks) if ks else float('nan'):.3f} / "
                                 f"{(f'{np.mean(bd):.3f}' if bd else 'none')} / {sum(p['stat'])}of{len(rs)}")
                lines.append(f"| {c} | {i} | " + " | ".join(cells) + " |")
        lines += ["", "Initialisation independence (E->E, final sigma: |gamma - constant| / mean, per condition):", ""]
        for c in conds:
            a = pooled(by(part="main", cond=c, init="gamma"), "EE")["sigma"]
            b = pooled(by(part="main", cond=c, init="constant"), "EE")["sigma"]
            if a and b:
                ma, mb = np.mean(a), np.mean(b)
                lines.append(f"- {c}: gamma {ma:.3f}, constant {mb:.3f}, difference {abs(ma - mb) / ((ma + mb) / 2):.1%}")
        pub = by(part="main", cond="madam", init="gamma")
        if pub:
            d = diffusion(pub)
            th = 6 / args.steps
            lines += ["", f"Gradient diffusion of the published rule (E->E, gamma init): the variance of ln|w| grows by "
                      f"{_ms(d)} x lr^2 per step (seeds {', '.join(str(r['seed']) for r in pub)}: "
                      f"{', '.join(f'{x:.2f}' for x in d)}). If the gradient steps were uncorrelated and independent of "
                      f"the restoring drift, the OU law would give sigma = sqrt((D + noise^2) / (2 theta)) = "
                      f"{np.sqrt(np.mean(d) * LR**2 / (2 * th)):.3f} with restore alone and "
                      f"{np.sqrt((np.mean(d) + 1) * LR**2 / (2 * th)):.3f} with noise = lr; noise alone gives "
                      f"noise / sqrt(2 theta) = {LR / np.sqrt(2 * th):.3f}."]
        con = by(part="main", cond="madam", init="constant")
        if con:
            lines += ["", "Published rule from the constant init, final sigma E->E / E->I / I->E / I->I / in / out: " +
                      "; ".join(f"seed {r['seed']}: " + " / ".join(f"{r['final_digest'][g]['sigma_ln'] or 0:.3f}"
                                                                    for g in (*GROUPS, "in", "out")) for r in con) +
                      " (identical synapses of a group get nearly identical gradients: Madam keeps the symmetry of a "
                      "constant start, and only noise breaks it)."]
    post = by(part="post")
    if post:
        th, n = post[0]["terms"]["restore"], post[0]["terms"]["noise"]
        lines += ["", f"## One map cell over 3 seeds x 2 inits: theta = {th:g}, noise = {n:g} (chosen after the map)", "",
                  "Chosen because it kept the task in the map (not for its sigma, which is whatever comes out). "
                  "Same columns as above; all six groups listed as E->E | E->I | I->E | I->I | in | out for stationarity.", "",
                  "| init | accuracy | E->E sigma | ratio | KS | E->I / I->E / I->I sigma | stationary E->E | "
                  "stationary per group (runs) |", "|---|---|---|---|---|---|---|---|"]
        for i in INITS:
            rs = [r for r in post if r["init"] == i]
            if not rs:
                continue
            p = pooled(rs, "EE")
            others = " / ".join(_ms(pooled(rs, g)["sigma"]).split(" ±")[0] for g in ("EI", "IE", "II"))
            per = " | ".join(f"{sum(pooled(rs, g)['stat'])}/{len(rs)}" for g in (*GROUPS, "in", "out"))
            lines.append(f"| {i} | {_ms([r['accuracy'] for r in rs])} | {_ms(p['sigma'])} | "
                         f"{_ms([x / song_sigma for x in p['sigma']])} | {_ms(p['ks'])} | {others} | "
                         f"{sum(p['stat'])}/{len(rs)} (max change {max(p['rel']):.3f}) | {per} |")
        a_ = pooled([r for r in post if r["init"] == "gamma"], "EE")["sigma"]
        b_ = pooled([r for r in post if r["init"] == "constant"], "EE")["sigma"]
        if a_ and b_:
            ma, mb = np.mean(a_), np.mean(b_)
            lines.append(f"\nInitialisation independence (E->E): gamma {ma:.3f}, constant {mb:.3f}, difference "
                         f"{abs(ma - mb) / ((ma + mb) / 2):.1%}. Without learning the OU law gives noise / sqrt(2 theta) "
                         f"= {n / np.sqrt(2 * th):.3f}.")
    tasks = by(part="tasks") + [r for r in main if r["seed"] == 1 and r["init"] == "gamma" and r["cond"] != "restore"]
    if by(part="tasks"):
        lines += ["", "## All three tasks (BPTT, gamma init)", "",
                  "| task | seed | condition | accuracy | no choice | E->E sigma | ratio | KS | at bound | stationary E->E |"
                  " all groups stationary |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in sorted(tasks, key=lambda r: (r["task"], r["seed"], r["cond"])):
            d = r["final_digest"]["EE"]
            st = r["stationarity"]
            allst = all(st[g]["stationary"] for g in GROUPS)
            lines.append(f"| {r['task']} | {r['seed']} | {r['cond']} | {r['accuracy']:.3f} | {r['no_choice']:.3f} | "
                         f"{d['sigma_ln']:.3f} | {d['sigma_ln'] / song_sigma:.3f} | {d['ks_D']:.3f} | "
                         f"{_ms([d['frac_at_bounds']])} | {st['EE']['rel_change']:.3f} | {allst} |")
    nps = by(part="np")
    if nps:
        lines += ["", "## Node perturbation (no backprop), perceptual_dm, gamma init, seed 1", "",
                  "| condition | accuracy | E->E sigma | ratio | KS | at bound | E->E change over last third |",
                  "|---|---|---|---|---|---|---|"]
        for r in nps:
            d = r["final_digest"]["EE"]
            lines.append(f"| {r['cond']} | {r['accuracy']:.3f} | {d['sigma_ln']:.3f} | {d['sigma_ln'] / song_sigma:.3f} | "
                         f"{d['ks_D']:.3f} | {_ms([d['frac_at_bounds']])} | "
                         f"{r['stationarity']['EE']['rel_change']:.3f} |")
    maps = by(part="map")
    if maps:
        lines += ["", f"## sigma map (perceptual_dm, BPTT, gamma init, seed 1, {args.map_steps} steps, learning on)", "",
                  "E->E sigma at the end (accuracy; KS); prediction without learning noise / sqrt(2 theta) in brackets.", "",
                  "| theta \\ noise | " + " | ".join(f"{n:g}" for n in args.map_noise) + " |",
                  "|---|" + "---|" * len(args.map_noise)]
        for th in args.map_restore:
            cells = []
            for n in args.map_noise:
                rs = [r for r in maps if r["terms"]["restore"] == th and r["terms"]["noise"] == n]
                if rs:
                    d = rs[0]["final_digest"]["EE"]
                    cells.append(f"{d['sigma_ln']:.3f} ({rs[0]['accuracy']:.2f}; {d['ks_D']:.3f}) "
                                 f"[{n / np.sqrt(2 * th):.3f}]")
                else:
                    cells.append("-")
            lines.append(f"| {th:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figures(records, args, song_sigma, docs: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = [r for r in records if r["part"] in ("main", "post")]
    if main:
        fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), sharey=True)
        colors = {"madam": "tab:red", "restore": "tab:blue", "restore+noise": "tab:green"}
        post = [r for r in records if r["part"] == "post"]
        if post:
            colors[post[0]["cond"]] = "tab:purple"
        labels = {c: c for c in colors}
        if post:
            labels[post[0]["cond"]] = (f"restore {post[0]['terms']['restore']:g} + noise {post[0]['terms']['noise']:g} "
                                       "(after the map)")
        for ax, g in zip(axes, GROUPS):
            for r in main:
                s = r["series"][g]
                ax.plot(s["step"], [x if x is not None else 0.0 for x in s["sigma_ln"]], color=colors[r["cond"]],
                        ls="-" if r["init"] == "gamma" else "--", lw=1, alpha=0.8)
            ax.axhline(song_sigma, color="k", lw=0.8, ls=":")
            ax.axvspan(args.steps * 2 / 3, args.steps, color="0.9", zorder=0)
            ax.set_title(f"{g}: sigma(ln|w|)")
            ax.set_xlabel("step")
        axes[0].set_ylabel("sigma(ln|w|)")
        from matplotlib.lines import Line2D
        handles = [Line2D([], [], color=c, label=labels[k]) for k, c in colors.items()]
        handles += [Line2D([], [], color="k", ls="-", label="gamma init"),
                    Line2D([], [], color="k", ls="--", label="constant init"),
                    Line2D([], [], color="k", ls=":", label="Song 2005")]
        fig.suptitle("perceptual_dm, BPTT: sigma(t) per synapse group (grey: last third, where stationarity is judged)")
        fig.tight_layout(rect=(0, 0, 0.82, 1))
        fig.legend(handles=handles, fontsize=8, loc="center right")
        fig.savefig(docs / "bridge_rate_sigma_t.png", dpi=110)
        plt.close(fig)
    maps = [r for r in records if r["part"] == "map"]
    if maps:
        fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.6))
        ref = [r["accuracy"] for r in records if r["part"] == "main" and r["cond"] == "madam" and r["init"] == "gamma"
               and r["seed"] == 1]
        acc_title = "accuracy" + (f" (published Madam, same seed: {ref[0]:.2f})" if ref else "")
        for ax, key, title in ((axes[0], "sigma_ln", "E->E sigma(ln|w|)"), (axes[1], "ks_D", "E->E KS"),
                               (axes[2], "accuracy", acc_title)):
            m = np.full((len(args.map_restore), len(args.map_noise)), np.nan)
            for r in maps:
                i, j = args.map_restore.index(r["terms"]["restore"]), args.map_noise.index(r["terms"]["noise"])
                m[i, j] = r["accuracy"] if key == "accuracy" else r["final_digest"]["EE"][key]
            im = ax.imshow(m, origin="lower", cmap="viridis")
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color="w", fontsize=9)
            ax.set_xticks(range(len(args.map_noise)), [f"{n:g}" for n in args.map_noise])
            ax.set_yticks(range(len(args.map_restore)), [f"{t:g}" for t in args.map_restore])
            ax.set_xlabel("noise (ln|w| per sqrt(step))")
            ax.set_ylabel("restore theta (per step)")
            ax.set_title(title)
            fig.colorbar(im, ax=ax)
        fig.suptitle(f"sigma map with learning on (perceptual_dm, {args.map_steps} steps); Song 2005: {song_sigma:.2f}")
        fig.tight_layout()
        fig.savefig(docs / "bridge_rate_sigma_map.png", dpi=110)
        plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", nargs="+", default=["main", "tasks", "np", "map", "post"],
                    choices=["main", "tasks", "np", "map", "post"])
    ap.add_argument("--post", type=float, nargs=2, default=[0.0025, 0.03], metavar=("THETA", "NOISE"),
                    help="the map cell repeated over all seeds and both inits (chosen after the map)")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--n-rec", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--control-seeds", type=int, default=2, help="seeds of the published control's constant init")
    ap.add_argument("--map-steps", type=int, default=1200)
    ap.add_argument("--map-restore", type=float, nargs="+", default=[0.0025, 0.005, 0.01])
    ap.add_argument("--map-noise", type=float, nargs="+", default=[0.01, 0.03, 0.1])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--report-only", action="store_true", help="no training: report the cached runs only")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bridge_rate"))
    ap.add_argument("--docs", default=str(ROOT / "docs"))
    args = ap.parse_args(argv)
    out, docs = Path(args.out), Path(args.docs)
    out.mkdir(parents=True, exist_ok=True)
    docs.mkdir(parents=True, exist_ok=True)
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    runs = plan(args)
    unique = list({r["id"]: r for r in reversed(runs)}.values())[::-1]  # one training per id
    if args.report_only:  # tables and figures from the cached runs only
        cached = {r["id"] for r in unique if (out / f"{r['id']}.json").is_file()}
        unique = [r for r in unique if r["id"] in cached]
        runs = [r for r in runs if r["id"] in cached]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as ex:
            done = dict(zip([r["id"] for r in unique], ex.map(run_one, unique, [str(out)] * len(unique))))
    else:
        done = {r["id"]: run_one(r, str(out)) for r in unique}
    records = [{**done[r["id"]], **{k: r[k] for k in ("part", "cond", "terms")}} for r in runs]
    load1 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    from synapse_madam.biology import reference_distribution

    song = float(reference_distribution("song2005").sigma)
    cmd = "python benchmarks/bridge_rate.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(records, args, song, cmd.strip(), (load0, load1))
    (docs / "bridge_rate_results.md").write_text(text)
    figures(records, args, song, docs)
    print(text)


if __name__ == "__main__":
    main()
