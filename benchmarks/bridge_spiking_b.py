"""The bridge (issue 11) on spiking network (b): E->E weights of a recurrent E/I network that stays alive.

Network (b) of ``models/spiking_brunel_bridge.toml`` (Brunel 2000 model A, 4000 E + 1000 I LIF
neurons, connection probability 0.02, dt 0.2 ms, 300 s of biological time, cpp_standalone, one thread) with
plastic E->E (Madam-STDP) and plastic I->E (``vogels_madam``: Madam-form Vogels et al. 2011
inhibitory STDP, target rate 5 Hz, Vogels et al.'s value). A 10 000-synapse subsample of E->E and of
I->E is digested every 10 s (sigma(t), KS, fraction at the bounds in each run's metrics.jsonl).

Conditions on E->E (parameters fixed before any run, never tuned to Song 2005's sigma; the same
values as network (a), benchmarks/bridge_spiking_a.py):
* published:  Madam-STDP as published (lr 0.01, beta 0.999, g_bound 10, hard clip at 3 x RMS(w_1)).
* drift:      + log-space restoring drift theta = 0.02/s towards mu = ln RMS(w_1) (restoring time
              50 s = 1/6 of the run).
* drift_noise (the spec's rule): + multiplicative fluctuations noise_std = 0.1 ln-units per sqrt(s).
Initial E->E weights: "constant" (all J) and "uniform" on [0, sqrt(3) J], the same RMS J.

    nice -n 5 python benchmarks/bridge_spiking_b.py grid --conditions drift_noise --seeds 1 2 3 --workers 2
    nice -n 5 python benchmarks/bridge_spiking_b.py grid --conditions published drift --seeds 1 --workers 2
    nice -n 5 python benchmarks/bridge_spiking_b.py map --workers 2   # sigma map: theta x noise_std
    python benchmarks/bridge_spiking_b.py report     # docs/bridge_spiking_b_tables.md, .json, figures

Sigma map (learning on: Madam-STDP on E->E, vogels_madam on I->E; constant init, seed 1): the
restoring rate theta in MAP_THETAS x the fluctuation amplitude in MAP_NOISES, a grid fixed a priori
(network (a)'s map grid, benchmarks/bridge_spiking_a.py, without its theta = 0.005/s, whose 100 s
relaxation time would need > 600 s runs here). The cells theta = 0.02 with noise 0 and 0.1 are the
grid's ``drift`` and ``drift_noise`` runs (constant, seed 1), reused; theta = 0.08/s cells run
MAP_DURATION_FAST s (1/(2 theta) ~ 6 s). The map shows where sigma would equal Song 2005's; it does
not pick a point.

Run folders go to --out (default runs/bridge_spiking_b/COND_INIT_sSEED, map cells under
map/thetaT_noiseN_INIT_sSEED); finished cells are reused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "models" / "spiking_brunel_bridge.toml"
THETA = 0.02  # 1/s, a priori (network (a)'s value): restoring time 50 s
NOISE = 0.1  # ln-units per sqrt(s), a priori (network (a)'s value, used before this issue)
CONDITIONS = {
    "published": {"name": "madam"},
    "drift": {"name": "madam", "restore": THETA},
    "drift_noise": {"name": "madam", "restore": THETA, "noise_std": NOISE},
}
INITS = ("constant", "uniform")
MAP_THETAS = (0.02, 0.08)  # 1/s
MAP_NOISES = (0.0, 0.1, 0.2)  # ln-units per sqrt(s)
MAP_DURATION_FAST = 200.0  # s, for theta = 0.08/s (relaxation time 1/(2 theta) ~ 6 s); else the spec's 300 s
TARGETS = {"ks_D": 0.03, "dip_p": 0.05, "frac_at_bounds": 0.01, "sigma_ratio": (0.9, 1.1)}
SONG2005_SIGMA = 0.9355
LNW_LEFT = -4.0  # left edge of the ln w histogram (the published runs' long left tail is pooled into its first bin)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _spec(rule: dict, init: str, seed: int, name: str, duration: float | None) -> dict:
    from synapse_madam.spiking.runner import validate

    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}.")
    spec = tomllib.loads(SPEC.read_text())
    spec["rule"] = dict(rule)
    spec["network_params"]["ee_init"] = init
    spec["seed"] = int(seed)
    spec["name"] = name
    if duration is not None:
        spec["duration_s"] = float(duration)
    return validate(spec, str(SPEC))


def cell_spec(cond: str, init: str, seed: int, duration: float | None = None) -> dict:
    if cond not in CONDITIONS:
        raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}, got {cond!r}.")
    return _spec(CONDITIONS[cond], init, seed, f"bridge_b_{cond}_{init}_s{seed}", duration)


def _real(name: str, value, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
            or (value <= 0 if positive else value < 0):
        raise ValueError(f"map cell: {name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}.")
    return float(value)


def map_cell_name(theta: float, noise: float, init: str = "constant", seed: int = 1) -> str:
    return f"theta{theta:g}_noise{noise:g}_{init}_s{seed}"


def map_cell_spec(theta: float, noise: float, *, init: str = "constant", seed: int = 1,
                  duration: float | None = None) -> dict:
    """Spec of one sigma-map cell: Madam-STDP on E->E with restore = theta (1/s, > 0: the map is of
    stationary states) and noise_std = noise (ln-units per sqrt(s), >= 0; 0 = drift alone),
    vogels_madam on I->E, the bridge spec otherwise. duration None: MAP_DURATION_FAST for theta
    >= 0.08/s, the spec's 300 s below."""
    theta = _real("theta (restore, 1/s)", theta, positive=True)
    noise = _real("noise (noise_std, ln-units per sqrt(s))", noise, positive=False)
    rule = {"name": "madam", "restore": theta}
    if noise:
        rule["noise_std"] = noise
    if duration is None and theta >= 0.08:
        duration = MAP_DURATION_FAST
    return _spec(rule, init, seed, f"bridge_b_map_{map_cell_name(theta, noise, init, seed)}", duration)


def map_cells(thetas=MAP_THETAS, noises=MAP_NOISES) -> list[tuple[float, float, str | None]]:
    """(theta, noise, grid run reused or None) of every map cell: theta = THETA with noise 0 / NOISE
    are the grid's drift / drift_noise runs (constant init, seed 1)."""
    reuse = {(THETA, 0.0): "drift_constant_s1", (THETA, NOISE): "drift_noise_constant_s1"}
    return [(float(t), float(n), reuse.get((float(t), float(n)))) for t in thetas for n in noises]


def _run(spec: dict, run_dir: str) -> str:
    """Run one cell in its own process (cpp_standalone, one thread; make -j1 since cells run side by side)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import brian2 as b2

    from synapse_madam import substrates
    from synapse_madam.runs import RunFolderError

    b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j1"]
    run_dir = Path(run_dir)
    t0 = time.perf_counter()
    try:
        summary = substrates.run(spec, run_dir, resume=True)
    except RunFolderError as exc:  # e.g. another grid process is running this cell
        return f"{run_dir.name}: skipped ({exc})"
    return (f"{run_dir.name}: wall {time.perf_counter() - t0:.0f} s (simulation {summary['wall_s']:.0f} s), "
            f"load {_load()}")


def _pool(jobs: list[tuple[dict, str]], workers: int) -> None:
    print(f"load before: {_load()}; {len(jobs)} cells, {workers} at a time: {[Path(d).name for _, d in jobs]}",
          flush=True)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), max_tasks_per_child=1) as ex:
        futures = [ex.submit(_run, spec, d) for spec, d in jobs]
        for f in futures:
            print(f.result(), flush=True)
    print(f"load after: {_load()}", flush=True)


def grid(args) -> int:
    if args.cells:
        cells = [(c, i, int(s)) for c, i, s in (x.split(":") for x in args.cells)]
    else:
        cells = [(c, i, s) for s in args.seeds for c in args.conditions for i in args.inits]
    _pool([(cell_spec(c, i, s, args.duration), str(Path(args.out) / f"{c}_{i}_s{s}")) for c, i, s in cells],
          args.workers)
    return 0


# Follow-up of the map cell theta 0.02/s, noise 0.2/sqrt(s), whose sigma came near Song's but whose
# shape failed (1.1 % clipped at w_max): the same cell with the clip replaced by a soft bound
# (potentiation scaled by max(0, 1 - |w|/w_max), no clip) or with no bound. The parameter values are
# the map grid's (fixed before any run); the cell was *selected* for this follow-up by its sigma, which
# the docs say.
BOUND_NOISE = 0.2
BOUND_VARIANTS = ("soft", "none")


def bound_cell_name(bound: str, init: str, seed: int) -> str:
    return f"theta{THETA:g}_noise{BOUND_NOISE:g}_{bound}_{init}_s{seed}"


def bound_cell_spec(bound: str, init: str = "constant", seed: int = 1) -> dict:
    """Spec of one follow-up cell: the map cell (THETA, BOUND_NOISE) with bound = "soft" or "none"."""
    if bound not in BOUND_VARIANTS:
        raise ValueError(f"bound must be one of {', '.join(BOUND_VARIANTS)}, got {bound!r}.")
    rule = {"name": "madam", "restore": THETA, "noise_std": BOUND_NOISE, "bound": bound}
    return _spec(rule, init, seed, f"bridge_b_{bound_cell_name(bound, init, seed)}", None)


def run_bound(args) -> int:
    """Run the follow-up cells not finished yet, then write docs/bridge_spiking_b_bound.md."""
    jobs = [(bound_cell_spec(b, i, s), str(Path(args.out) / "bound" / bound_cell_name(b, i, s)))
            for b, i, s in (x.split(":") for x in args.cells)]
    jobs = [(spec, d) for spec, d in jobs if not (Path(d) / "summary.json").is_file()]
    _pool(jobs, args.workers)
    return bound_report(args)


def bound_report(args) -> int:
    rows = [r for r in (_row(d) for d in sorted((Path(args.out) / "bound").glob("*_s*")) if d.is_dir()) if r]
    lines = ["# Network (b): the map cell theta 0.02/s, noise 0.2/√s with a soft bound or no bound", "",
             "Follow-up of the σ map (docs/bridge_spiking_b.md): at theta 0.02/s and noise 0.2 ln-units/√s, values of",
             "the map's a priori grid, σ came near Song et al. 2005's but the hard clip at 3·RMS(w₁) truncated the upper",
             "tail (1.1 % at w_max, KS 0.059, dip p 0.04). Here the same cell runs with the clip replaced by a soft bound",
             "(potentiation scaled by max(0, 1 − |w|/w_max), no clip; `bound = \"soft\"`) and with no bound. Nothing was",
             "tuned, but this cell was *selected* for the follow-up because its σ was near Song's: read the σ ratio as",
             "a property of this (θ, noise) point, not as a prediction of cortex's σ.", "",
             "Commands: `python benchmarks/bridge_spiking_b.py bound --workers 2 --cells soft:constant:1 soft:constant:2 "
             "soft:constant:3 soft:uniform:1 soft:uniform:2 soft:uniform:3` (runs what is missing, then "
             "writes this file; `bound --cells` with no cells only rewrites it). One cell alone: "
             "`synapse-madam run models/spiking_brunel_bridge.toml --set rule.noise_std=0.2 --set 'rule.bound=\"soft\"'`.",
             "", "## Per run (E→E, 10 000-synapse subsample at 300 s)", "",
             "| run | σ(ln w) | σ / Song | KS D | dip p (ln w) | at bound | σ(t) change, last third | stationary | "
             "E rate (Hz), last 10 s | E CV | E rate, every 10 s bin | sign flips |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {_fmt(r['sigma'])} | {_fmt(r['sigma_ratio'])} | {_fmt(r['ks_D'])} | {_fmt(r['dip_p'])} | "
                     f"{_pct(r['frac_at_bounds'])} | {_pct(r['stationary_rel_change'])} | {_yes(r['stationary'])} | "
                     f"{_fmt(r['exc_rate_hz'], 2)} | {_fmt(r['exc_cv'], 2)} | {_fmt(r['min_exc_rate_hz'], 1)}–"
                     f"{_fmt(r['max_exc_rate_hz'], 1)} | {r['sign_flips']} |")
    lines += ["", "## Across seeds (mean ± sd) and initialisations", "",
              "| bound | init | seeds | σ(ln w) | σ / Song | KS D | dip p | at bound | stationary |", "|---|---|---|---|---|---|---|---|---|"]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["condition"].rsplit("_", 1)[1], r["init"]), []).append(r)
    for (bound, init), rs in sorted(groups.items()):
        lines.append(f"| {bound} | {init} | {len(rs)} | {_mean_sd([r['sigma'] for r in rs])} | "
                     f"{_mean_sd([r['sigma_ratio'] for r in rs])} | {_mean_sd([r['ks_D'] for r in rs])} | "
                     f"{_mean_sd([r['dip_p'] for r in rs])} | {_mean_sd([r['frac_at_bounds'] for r in rs], 4)} | "
                     f"{sum(bool(r['stationary']) for r in rs)}/{len(rs)} |")
    for bound in BOUND_VARIANTS:
        a, b = groups.get((f"{bound}", "constant")), groups.get((f"{bound}", "uniform"))
        if a and b:
            ma, mb = np.mean([r["sigma"] for r in a]), np.mean([r["sigma"] for r in b])
            lines.append(f"\nTwo-init agreement ({bound} bound): mean σ {ma:.3f} (constant) vs {mb:.3f} (uniform), "
                         f"{100 * _gap(ma, mb):.1f} % apart (target: within 5 %).")
    lines += ["", "Targets of issue 11 for E→E: KS D ≤ 0.03, dip p > 0.05, < 1 % at any bound, σ / Song in 0.9–1.1, "
              "stationary (< 5 % over the last third), the same σ from both inits within 5 %, ≥ 3 seeds; the network "
              "asynchronous-irregular (E rate 1–10 Hz, CV 0.8–1.5).", "",
              "No bound (`bound = \"none\"`, cell `none:constant:1`): the one run started was stopped unfinished after "
              "38 min of CPU time, where each soft-bound run took about 4.6 min; the simulation slowed more than 7-fold, "
              "which suggests runaway excitation without any bound, but nothing of it was measured, so no claim is made."]
    if rows:
        from synapse_madam import plots

        fig, ax = plots.new_figure(figsize=(6, 3.4))
        for r in rows:
            bound = r["condition"].rsplit("_", 1)[1]
            ax.plot(r["t"], r["sigma_t"], color="C0" if r["init"] == "constant" else "C1",
                    ls="-" if bound == "soft" else ":", lw=1.2, label=f"{bound} bound, {r['init']} init")
        ax.axhline(SONG2005_SIGMA, color="k", lw=1, ls="--", label="Song et al. 2005")
        ax.axhspan(0.9 * SONG2005_SIGMA, 1.1 * SONG2005_SIGMA, color="0.85", zorder=0)
        handles, labels = ax.get_legend_handles_labels()
        keep = {lab: h for h, lab in zip(handles, labels)}
        ax.legend(keep.values(), keep.keys(), fontsize=7, frameon=False, loc="lower right")
        ax.set_xlabel("biological time (s)")
        ax.set_ylabel("σ(ln w), E→E subsample")
        ax.set_title("θ 0.02/s, noise 0.2/√s: σ(t) per run (grey: Song ± 10 %)", fontsize=9)
        plots.save_figure(fig, Path(args.docs) / "bridge_spiking_b_bound.png")
        lines += ["", "![σ(t) of every run](bridge_spiking_b_bound.png)"]
    out = Path(args.docs) / "bridge_spiking_b_bound.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


def run_map(args) -> int:
    jobs = []
    for theta, noise, reused in map_cells(args.thetas, args.noises):
        if reused:
            print(f"theta {theta:g}, noise {noise:g}: the grid's {reused} (run it with `grid`)", flush=True)
            continue
        jobs.append((map_cell_spec(theta, noise), str(Path(args.out) / "map" / map_cell_name(theta, noise))))
    _pool(jobs, args.workers)
    return 0


def _row(run_dir: Path) -> dict | None:
    """The numbers of one finished run folder (None while it has no summary.json)."""
    if not (run_dir / "summary.json").is_file():
        return None
    cond, init, seed = run_dir.name.rsplit("_", 2)
    s = json.loads((run_dir / "summary.json").read_text())
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    sub = s.get("subsample", {})
    ee = sub.get("EE", {})
    fin = ee.get("final", {})
    lw = s.get("last_window", {})
    stat = ee.get("stationarity", {})
    whole = s.get("weights", {}).get("EE", {})  # every E->E synapse at the end
    rates = [m["exc_rate_hz"] for m in metrics if m.get("exc_rate_hz") is not None]
    return {
        "run": run_dir.name, "condition": cond, "init": init, "seed": int(seed[1:]),
        "restore": s["rule"].get("restore", 0.0), "noise_std": s["rule"].get("noise_std", 0.0),
        "duration_s": s["duration_s"], "wall_s": s["wall_s"],
        "exc_rate_hz": lw.get("exc", {}).get("rate_hz"), "exc_cv": lw.get("exc", {}).get("cv_isi"),
        "inh_rate_hz": lw.get("inh", {}).get("rate_hz"), "inh_cv": lw.get("inh", {}).get("cv_isi"),
        "sigma": fin.get("sigma_ln"), "sigma_ratio": fin.get("sigma_ratio"), "ks_D": fin.get("ks_D"),
        "mean_ln": fin.get("mean_ln"), "skew_ln": fin.get("skew_ln"),
        "n_all": whole.get("n"), "sigma_all": whole.get("sigma_ln"), "ks_D_all": whole.get("ks_D"),
        "frac_at_bounds_all": whole.get("frac_at_bounds"),
        "dip_p": fin.get("dip_p_ln"), "frac_at_bounds": fin.get("frac_at_bounds"),
        "frac_at_upper": fin.get("frac_at_upper"), "sign_flips": fin.get("sign_flips"),
        "stationary_rel_change": stat.get("rel_change"), "stationary": stat.get("stationary"),
        "ie_mean_ln_final": sub.get("IE", {}).get("final", {}).get("mean_ln"),
        "ie_sign_flips": sub.get("IE", {}).get("final", {}).get("sign_flips"),
        "t": sub.get("t_s"), "sigma_t": ee.get("sigma_t"), "ie_mean_ln_t": sub.get("IE", {}).get("mean_ln_t"),
        "exc_rate_t": [m.get("exc_rate_hz") for m in metrics], "inh_rate_t": [m.get("inh_rate_hz") for m in metrics],
        "min_exc_rate_hz": min(rates, default=None), "max_exc_rate_hz": max(rates, default=None),
    }


def _collect(out: Path) -> list[dict]:
    """The grid's finished cells (COND_INIT_sSEED folders under out)."""
    rows = [_row(d) for d in sorted(out.glob("*_s*")) if d.is_dir() and d.name.rsplit("_", 2)[0] in CONDITIONS]
    return [r for r in rows if r is not None]


def _collect_map(out: Path, grid_rows: list[dict]) -> list[dict]:
    """Every map cell that has finished: its own run folder, or the grid run it reuses."""
    by_run = {r["run"]: r for r in grid_rows}
    rows = []
    for theta, noise, reused in map_cells():
        r = by_run.get(reused) if reused else _row(out / "map" / map_cell_name(theta, noise))
        if r is not None:
            rows.append({**r, "theta": theta, "noise": noise, "reused": reused})
    return rows


def _fmt(x, nd=3):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}g}" if abs(x) < 1e-2 and x != 0 else f"{x:.{nd}f}".rstrip("0").rstrip(".") if nd else f"{x:.0f}"
    return str(x)


def _mean_sd(values, nd=3) -> str:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return "-"
    if v.size == 1:
        return f"{v[0]:.{nd}f}"
    return f"{v.mean():.{nd}f} ± {v.std(ddof=1):.{nd}f}"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f} %"


def _yes(flag) -> str:
    return "-" if flag is None else ("yes" if flag else "NO")


def _gap(a: float, b: float) -> float:
    return abs(a - b) / (0.5 * (a + b))


def map_table(rows: list[dict]) -> list[str]:
    """sigma map rows: the OU prediction noise/sqrt(2 theta), the excess, and the learning (STDP)
    diffusion D = 2 theta sigma^2 - noise^2 implied by each cell (sigma^2 = (D + noise^2) / (2 theta));
    "OU + D(drift alone)" predicts each cell from the noise-0 cell at the same theta."""
    d0 = {r["theta"]: 2 * r["theta"] * r["sigma"] ** 2 for r in rows if r["noise"] == 0 and r["sigma"] is not None}
    lines = ["| theta (1/s) | noise (ln-units/√s) | duration (s) | run | σ(ln w) | σ / Song | OU alone: noise/√(2θ) | "
             "σ − OU | implied learning diffusion D = 2θσ² − noise² (1/s) | OU + D(drift alone): √((D₀+noise²)/(2θ)) | "
             "KS D | dip p | at bounds | σ(t) change, last third | stationary (< 5 %) | E rate (Hz) | E CV |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["theta"], r["noise"])):
        th, nz, sg = r["theta"], r["noise"], r["sigma"]
        ou = nz / np.sqrt(2 * th)
        pred = np.sqrt((d0[th] + nz ** 2) / (2 * th)) if th in d0 else None
        lines.append(f"| {th:g} | {nz:g} | {r['duration_s']:g} | {r['reused'] + ' (grid)' if r['reused'] else 'map/' + r['run']} | "
                     f"{sg:.3f} | {r['sigma_ratio']:.3f} | {ou:.3f} | {sg - ou:+.3f} | {2 * th * sg ** 2 - nz ** 2:.4f} | "
                     f"{'-' if pred is None else f'{pred:.3f}'} | {_fmt(r['ks_D'])} | {_fmt(r['dip_p'])} | "
                     f"{100 * r['frac_at_bounds']:.2f} % | {100 * r['stationary_rel_change']:.1f} % | {_yes(r['stationary'])} | "
                     f"{_fmt(r['exc_rate_hz'], 2)} | {_fmt(r['exc_cv'], 2)} |")
    return lines


def _fig_map(rows: list[dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.6))
    ax_s, ax_t, ax_ks, ax_b = axes.ravel()
    tt = np.geomspace(min(MAP_THETAS) * 0.8, max(MAP_THETAS) * 1.25, 60)
    for k, noise in enumerate(MAP_NOISES):
        rs = sorted((r for r in rows if r["noise"] == noise), key=lambda r: r["theta"])
        if not rs:
            continue
        th = [r["theta"] for r in rs]
        ax_s.plot(th, [r["sigma"] for r in rs], "o-", color=f"C{k}", label=f"noise {noise:g}: measured")
        if noise:
            ax_s.plot(tt, noise / np.sqrt(2 * tt), ":", color=f"C{k}", label=f"noise {noise:g}: OU alone, noise/√(2θ)")
        ax_ks.plot(th, [r["ks_D"] for r in rs], "o-", color=f"C{k}", label=f"noise {noise:g}")
        ax_b.plot(th, [100 * r["frac_at_bounds"] for r in rs], "o-", color=f"C{k}", label=f"noise {noise:g}")
        for r in rs:
            if r["frac_at_bounds"] >= TARGETS["frac_at_bounds"]:
                ax_s.annotate(f"{100 * r['frac_at_bounds']:.1f} % at w_max,\nKS D {r['ks_D']:.3f}", (r["theta"], r["sigma"]),
                              xytext=(8, -22), textcoords="offset points", fontsize=7, color=f"C{k}")
            ax_t.plot(r["t"], r["sigma_t"], color=f"C{k}", ls="-" if r["theta"] == min(MAP_THETAS) else "--", lw=1.2,
                      label=f"θ {r['theta']:g}, noise {noise:g}")
    for ax in (ax_s, ax_t):
        ax.axhline(SONG2005_SIGMA, color="k", lw=1, ls="--", label="Song 2005 σ")
        ax.axhspan(0.9 * SONG2005_SIGMA, 1.1 * SONG2005_SIGMA, color="0.9", zorder=-1)
    ax_ks.axhline(0.03, color="k", lw=1, ls="--", label="target KS ≤ 0.03")
    ax_b.axhline(1.0, color="k", lw=1, ls="--", label="target < 1 %")
    for ax, lab in ((ax_s, "σ(ln w), E→E, at the end"), (ax_ks, "KS D to the fitted log-normal"),
                    (ax_b, "% of E→E at w_max")):
        ax.set_xscale("log")
        ax.set_xticks(MAP_THETAS, [f"{t:g}" for t in MAP_THETAS])
        ax.minorticks_off()
        ax.set(xlabel="restoring rate θ (1/s)", ylabel=lab)
        ax.legend(fontsize=7)
    ax_t.set(xlabel="biological time (s)", ylabel="σ(ln w), E→E subsample", title="σ(t) of each map cell")
    ax_t.legend(fontsize=7, ncol=2)
    ax_s.set_title("σ against θ (dotted: fluctuations alone; grey: Song ±10 %)", fontsize=9)
    fig.suptitle("Network (b) σ map: Madam-STDP (hard bound at 3 × RMS(w₁)) + drift θ + fluctuations on E→E, "
                 "vogels_madam on I→E; constant init, seed 1",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(args.out)
    rows = _collect(out)
    if not rows:
        print(f"no finished runs under {out}", file=sys.stderr)
        return 1
    maps = _collect_map(out, rows)
    docs = Path(args.docs)
    (docs / "bridge_spiking_b.json").write_text(json.dumps({"grid": rows, "map": maps}, indent=1))
    lines = ["# Network (b): tables", "",
             "Generated by `python benchmarks/bridge_spiking_b.py report` from the run folders of "
             "`nice -n 5 python benchmarks/bridge_spiking_b.py grid ...` and `... map --workers 2` "
             "(commands in docs/bridge_spiking_b.md). E→E: the 10 000-synapse subsample at the end of the run; "
             "'at bounds' = within 0.1 % of w_max (or 0); σ(t) change = (max − min) / mean of σ(t) over the last "
             "third (`biology.digest.stationarity`, stationary when < 5 %); rates and CV over the last 10 s.", "",
             "## Every run", "",
             "| run | E rate (Hz) | E CV | I rate (Hz) | E rate range over run (Hz) | σ(ln w) E→E | σ / Song | "
             "KS D | dip p (ln w) | at bounds | σ(t) change, last third | stationary | mean ln w | sign flips (E→E, I→E) | "
             "all E→E: σ, KS D, at bounds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {_fmt(r['exc_rate_hz'], 2)} | {_fmt(r['exc_cv'], 2)} | {_fmt(r['inh_rate_hz'], 2)} | "
                     f"{_fmt(r['min_exc_rate_hz'], 2)}-{_fmt(r['max_exc_rate_hz'], 2)} | {_fmt(r['sigma'])} | "
                     f"{_fmt(r['sigma_ratio'])} | {_fmt(r['ks_D'])} | {_fmt(r['dip_p'])} | {_pct(r['frac_at_bounds'])} | "
                     f"{_fmt(r['stationary_rel_change'])} | {_yes(r['stationary'])} | {_fmt(r['mean_ln'])} | "
                     f"{r['sign_flips']}, {r['ie_sign_flips']} | {_fmt(r['sigma_all'])}, {_fmt(r['ks_D_all'])}, "
                     f"{_pct(r['frac_at_bounds_all'])} |")
    lines += ["", "## Per condition and init: mean ± sd over seeds", "",
              "| condition | init | seeds | E rate (Hz) | E CV | σ(ln w) | σ / Song | KS D | dip p | at bounds | "
              "σ(t) change, last third | stationary runs | σ, all E→E |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    groups = {}
    for r in rows:
        groups.setdefault((r["condition"], r["init"]), []).append(r)
    for (cond, init), rs in sorted(groups.items()):
        lines.append(f"| {cond} | {init} | {', '.join(str(r['seed']) for r in rs)} | {_mean_sd((r['exc_rate_hz'] for r in rs), 2)} | "
                     f"{_mean_sd((r['exc_cv'] for r in rs), 2)} | {_mean_sd(r['sigma'] for r in rs)} | "
                     f"{_mean_sd(r['sigma_ratio'] for r in rs)} | {_mean_sd(r['ks_D'] for r in rs)} | "
                     f"{_mean_sd(r['dip_p'] for r in rs)} | {_mean_sd((100 * r['frac_at_bounds'] for r in rs), 2)} % | "
                     f"{_mean_sd(r['stationary_rel_change'] for r in rs)} | "
                     f"{sum(bool(r['stationary']) for r in rs)} of {len(rs)} | {_mean_sd(r['sigma_all'] for r in rs)} |")
    lines += ["", "## Same σ from both inits? (|difference| / mean, target < 5 %)", "",
              "| condition | seed | σ constant | σ uniform | \\|difference\\| / mean |", "|---|---|---|---|---|"]
    by = {(r["condition"], r["init"], r["seed"]): r for r in rows}
    for (cond, init, seed), r in sorted(by.items()):
        other = by.get((cond, "uniform", seed))
        if init == "constant" and other and r["sigma"] and other["sigma"]:
            lines.append(f"| {cond} | {seed} | {r['sigma']:.3f} | {other['sigma']:.3f} | {_gap(r['sigma'], other['sigma']):.3f} |")
    for cond in CONDITIONS:
        c, u = groups.get((cond, "constant"), []), groups.get((cond, "uniform"), [])
        if len(c) > 1 or len(u) > 1:
            mc, mu = np.mean([r["sigma"] for r in c]), np.mean([r["sigma"] for r in u])
            lines.append(f"| {cond} | mean over seeds ({len(c)} constant, {len(u)} uniform) | {mc:.3f} | {mu:.3f} | "
                         f"{_gap(mc, mu):.3f} |")
    dn = [r for r in rows if r["condition"] == "drift_noise"]
    if dn:
        sig = [r["sigma_ratio"] for r in dn]
        lines += ["", f"## Targets (issue 11), drift_noise, all {len(dn)} runs ({len(groups.get(('drift_noise', 'constant'), []))} "
                  f"constant + {len(groups.get(('drift_noise', 'uniform'), []))} uniform)", "",
                  "| target | required | worst run | met in |", "|---|---|---|---|",
                  f"| KS D | ≤ 0.03 | {max(r['ks_D'] for r in dn):.3f} | {sum(r['ks_D'] <= 0.03 for r in dn)} of {len(dn)} |",
                  f"| dip p (ln w) | > 0.05 | {min(r['dip_p'] for r in dn):.3f} | {sum(r['dip_p'] > 0.05 for r in dn)} of {len(dn)} |",
                  f"| at a bound | < 1 % | {100 * max(r['frac_at_bounds'] for r in dn):.2f} % | "
                  f"{sum(r['frac_at_bounds'] < 0.01 for r in dn)} of {len(dn)} |",
                  f"| σ / Song | 0.9–1.1 | {min(sig):.3f}–{max(sig):.3f} | {sum(0.9 <= x <= 1.1 for x in sig)} of {len(dn)} |",
                  f"| σ(t) change, last third | < 5 % | {100 * max(r['stationary_rel_change'] for r in dn):.1f} % | "
                  f"{sum(bool(r['stationary']) for r in dn)} of {len(dn)} |",
                  f"| E rate 1–10 Hz in every 10 s bin | yes | {min(r['min_exc_rate_hz'] for r in dn):.2f}–"
                  f"{max(r['max_exc_rate_hz'] for r in dn):.2f} Hz | "
                  f"{sum(1 <= r['min_exc_rate_hz'] and r['max_exc_rate_hz'] <= 10 for r in dn)} of {len(dn)} |",
                  f"| E CV of ISI 0.8–1.5 (last 10 s) | yes | {min(r['exc_cv'] for r in dn):.2f}–{max(r['exc_cv'] for r in dn):.2f} | "
                  f"{sum(0.8 <= r['exc_cv'] <= 1.5 for r in dn)} of {len(dn)} |",
                  f"| sign flips (E→E, I→E) | 0 | {max(r['sign_flips'] for r in dn)}, {max(r['ie_sign_flips'] for r in dn)} | "
                  f"{sum(r['sign_flips'] == 0 and r['ie_sign_flips'] == 0 for r in dn)} of {len(dn)} |"]
    if maps:
        lines += ["", "## σ map (learning on; constant init, seed 1)", "",
                  f"θ × noise = {MAP_THETAS} × {MAP_NOISES}, fixed a priori (network (a)'s grid). 'σ − OU' is the excess "
                  "over the fluctuation term alone; D is the log-weight diffusion from learning (STDP + the network) "
                  "that σ² = (D + noise²)/(2θ) implies; the next column predicts σ from the drift-only cell's D at the same θ.",
                  ""] + map_table(maps)
        _fig_map(maps, docs / "bridge_spiking_b_map.png")
        lines += ["", "![sigma map](bridge_spiking_b_map.png)"]
    (docs / "bridge_spiking_b_tables.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    colors = {"published": "tab:red", "drift": "tab:orange", "drift_noise": "tab:blue"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    for r in rows:
        ls = "-" if r["init"] == "constant" else "--"
        kw = {"color": colors.get(r["condition"], "k"), "ls": ls, "lw": 1.1, "alpha": 0.85}
        first = r["seed"] == min(x["seed"] for x in rows if x["condition"] == r["condition"] and x["init"] == r["init"])
        n_seeds = len(groups[(r["condition"], r["init"])])
        axes[0].plot(r["t"], r["sigma_t"], **kw, label=f"{r['condition']}, {r['init']} ({n_seeds} seed{'s' * (n_seeds > 1)})"
                     if first else None)
        t_mid = np.asarray(r["t"][1:len(r["exc_rate_t"])], dtype=float)
        rates = np.asarray(r["exc_rate_t"][1:], dtype=float)
        axes[1].plot(t_mid[: rates.size], rates[: t_mid.size], **kw)
        axes[2].plot(r["t"], r["ie_mean_ln_t"], **kw)
    axes[0].axhspan(0.9 * SONG2005_SIGMA, 1.1 * SONG2005_SIGMA, color="0.85", label="Song 2005 ±10 %")
    t_end = max(r["t"][-1] for r in rows)
    axes[0].axvspan(t_end * 2 / 3, t_end, color="0.95", zorder=-2)
    axes[0].set(xlabel="biological time (s)", ylabel="σ(ln w), E→E subsample", title="σ(t) of E→E (light grey: last third)")
    axes[0].legend(fontsize=7)
    axes[1].axhspan(1, 10, color="0.9")
    axes[1].set(xlabel="biological time (s)", ylabel="E rate (Hz, 10 s bins)", title="E rate (target band 1-10 Hz)",
                yscale="log")
    axes[2].set(xlabel="biological time (s)", ylabel="mean ln|w| (mV), I→E subsample", title="inhibition (vogels_madam)")
    fig.suptitle("Network (b), 4000 E + 1000 I, plastic E→E and I→E; solid: constant init, dashed: uniform init")
    fig.tight_layout()
    fig.savefig(docs / "bridge_spiking_b_sigma.png", dpi=110)
    plt.close(fig)

    # final ln w of the E->E subsample, one run per condition and init
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for (cond, init), rs in sorted(groups.items()):
        r = min(rs, key=lambda x: x["seed"])
        ws = np.load(out / r["run"] / "weight_samples.npz")
        x = np.log(np.abs(ws["EE"][-1]))
        left = float(np.mean(x < LNW_LEFT))
        ax.hist(np.clip(x, LNW_LEFT, None), bins=np.linspace(LNW_LEFT, x.max() + 0.02, 90), histtype="step", density=True,
                color=colors.get(cond, "k"), ls="-" if init == "constant" else "--",
                label=f"{cond}, {init} (s{r['seed']}): σ {x.std():.2f}" + (f"; {100 * left:.1f} % below {LNW_LEFT:g}, in "
                                                                             "the first bin" if left else ""))
    ax.set(xlabel="ln w (w in mV), E→E subsample at the end; the right edge is w_max", ylabel="density",
           xlim=(LNW_LEFT - 0.1, None))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(docs / "bridge_spiking_b_lnw.png", dpi=110)
    plt.close(fig)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grid", help="run the conditions x inits x seeds")
    g.add_argument("--conditions", nargs="+", default=["drift_noise"], choices=list(CONDITIONS))
    g.add_argument("--inits", nargs="+", default=list(INITS), choices=list(INITS))
    g.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    g.add_argument("--workers", type=int, default=1, help="cells run side by side (at most 2 on this machine)")
    g.add_argument("--cells", nargs="+", default=None, metavar="COND:INIT:SEED",
                   help="explicit cells in this order (instead of conditions x inits x seeds)")
    g.add_argument("--duration", type=float, default=None, help="override duration_s (default: the spec's)")
    g.add_argument("--out", default=str(ROOT / "runs" / "bridge_spiking_b"))
    m = sub.add_parser("map", help="sigma map: theta x noise_std, learning on (constant init, seed 1)")
    m.add_argument("--thetas", nargs="+", type=float, default=list(MAP_THETAS))
    m.add_argument("--noises", nargs="+", type=float, default=list(MAP_NOISES))
    m.add_argument("--workers", type=int, default=1, help="cells run side by side (at most 2 on this machine)")
    m.add_argument("--out", default=str(ROOT / "runs" / "bridge_spiking_b"))
    b = sub.add_parser("bound", help="the map cell theta 0.02, noise 0.2 with a soft bound / no bound; then its report")
    b.add_argument("--cells", nargs="*", default=[], metavar="BOUND:INIT:SEED")
    b.add_argument("--workers", type=int, default=1, help="cells run side by side (at most 2 on this machine)")
    b.add_argument("--out", default=str(ROOT / "runs" / "bridge_spiking_b"))
    b.add_argument("--docs", default=str(ROOT / "docs"))
    r = sub.add_parser("report", help="tables and figures from the finished runs")
    r.add_argument("--out", default=str(ROOT / "runs" / "bridge_spiking_b"))
    r.add_argument("--docs", default=str(ROOT / "docs"))
    args = ap.parse_args(argv)
    return {"grid": grid, "map": run_map, "bound": run_bound, "report": report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
