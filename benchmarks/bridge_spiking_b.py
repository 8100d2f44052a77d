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
    python benchmarks/bridge_spiking_b.py report     # docs/bridge_spiking_b_tables.md, .json, figures

Run folders go to --out (default runs/bridge_spiking_b/COND_INIT_sSEED); finished cells are reused.
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
TARGETS = {"ks_D": 0.03, "dip_p": 0.05, "frac_at_bounds": 0.01, "sigma_ratio": (0.9, 1.1)}
SONG2005_SIGMA = 0.9355


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cell_spec(cond: str, init: str, seed: int, duration: float | None = None) -> dict:
    from synapse_madam.spiking.runner import validate

    spec = tomllib.loads(SPEC.read_text())
    spec["rule"] = dict(CONDITIONS[cond])
    spec["network_params"]["ee_init"] = init
    spec["seed"] = int(seed)
    spec["name"] = f"bridge_b_{cond}_{init}_s{seed}"
    if duration is not None:
        spec["duration_s"] = float(duration)
    return validate(spec, str(SPEC))


def _cell(cond: str, init: str, seed: int, out: str, duration: float | None) -> str:
    """Run one cell in its own process (cpp_standalone, one thread; make -j1 since cells run side by side)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import brian2 as b2

    from synapse_madam import substrates
    from synapse_madam.runs import RunFolderError

    b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j1"]
    run_dir = Path(out) / f"{cond}_{init}_s{seed}"
    t0 = time.perf_counter()
    try:
        summary = substrates.run(cell_spec(cond, init, seed, duration), run_dir, resume=True)
    except RunFolderError as exc:  # e.g. another grid process is running this cell
        return f"{run_dir.name}: skipped ({exc})"
    return (f"{run_dir.name}: wall {time.perf_counter() - t0:.0f} s (simulation {summary['wall_s']:.0f} s), "
            f"load {_load()}")


def grid(args) -> int:
    if args.cells:
        cells = [(c, i, int(s)) for c, i, s in (x.split(":") for x in args.cells)]
    else:
        cells = [(c, i, s) for s in args.seeds for c in args.conditions for i in args.inits]
    print(f"load before: {_load()}; {len(cells)} cells, {args.workers} at a time: {cells}", flush=True)
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=get_context("spawn"), max_tasks_per_child=1) as ex:
        futures = [ex.submit(_cell, c, i, s, args.out, args.duration) for c, i, s in cells]
        for f in futures:
            print(f.result(), flush=True)
    print(f"load after: {_load()}", flush=True)
    return 0


def _collect(out: Path) -> list[dict]:
    rows = []
    for run_dir in sorted(out.glob("*_s*")):
        if not (run_dir / "summary.json").is_file():
            continue
        cond, init, seed = run_dir.name.rsplit("_", 2)
        s = json.loads((run_dir / "summary.json").read_text())
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
        sub = s.get("subsample", {})
        ee = sub.get("EE", {})
        fin = ee.get("final", {})
        lw = s.get("last_window", {})
        rows.append({
            "run": run_dir.name, "condition": cond, "init": init, "seed": int(seed[1:]),
            "duration_s": s["duration_s"], "wall_s": s["wall_s"],
            "exc_rate_hz": lw.get("exc", {}).get("rate_hz"), "exc_cv": lw.get("exc", {}).get("cv_isi"),
            "inh_rate_hz": lw.get("inh", {}).get("rate_hz"), "inh_cv": lw.get("inh", {}).get("cv_isi"),
            "sigma": fin.get("sigma_ln"), "sigma_ratio": fin.get("sigma_ratio"), "ks_D": fin.get("ks_D"),
            "dip_p": fin.get("dip_p_ln"), "frac_at_bounds": fin.get("frac_at_bounds"),
            "frac_at_upper": fin.get("frac_at_upper"), "sign_flips": fin.get("sign_flips"),
            "stationary_rel_change": ee.get("stationarity", {}).get("rel_change"),
            "ie_mean_ln_final": sub.get("IE", {}).get("final", {}).get("mean_ln"),
            "ie_sign_flips": sub.get("IE", {}).get("final", {}).get("sign_flips"),
            "t": sub.get("t_s"), "sigma_t": ee.get("sigma_t"), "ie_mean_ln_t": sub.get("IE", {}).get("mean_ln_t"),
            "exc_rate_t": [m.get("exc_rate_hz") for m in metrics], "inh_rate_t": [m.get("inh_rate_hz") for m in metrics],
            "min_exc_rate_hz": min((m["exc_rate_hz"] for m in metrics if m.get("exc_rate_hz") is not None), default=None),
            "max_exc_rate_hz": max((m["exc_rate_hz"] for m in metrics if m.get("exc_rate_hz") is not None), default=None),
        })
    return rows


def _fmt(x, nd=3):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}g}" if abs(x) < 1e-2 and x != 0 else f"{x:.{nd}f}".rstrip("0").rstrip(".") if nd else f"{x:.0f}"
    return str(x)


def _mean_sd(values) -> str:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return "-"
    if v.size == 1:
        return f"{v[0]:.3f}"
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"


def report(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(args.out)
    rows = _collect(out)
    if not rows:
        print(f"no finished runs under {out}", file=sys.stderr)
        return 1
    docs = ROOT / "docs"
    (docs / "bridge_spiking_b.json").write_text(json.dumps(rows, indent=1))
    lines = ["| run | E rate (Hz) | E CV | I rate (Hz) | E rate range over run (Hz) | sigma(ln w) E->E | sigma / Song | "
             "KS D | dip p (ln w) | at bounds | rel. change of sigma, last third | sign flips (E->E, I->E) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {_fmt(r['exc_rate_hz'], 2)} | {_fmt(r['exc_cv'], 2)} | {_fmt(r['inh_rate_hz'], 2)} | "
                     f"{_fmt(r['min_exc_rate_hz'], 2)}-{_fmt(r['max_exc_rate_hz'], 2)} | {_fmt(r['sigma'])} | "
                     f"{_fmt(r['sigma_ratio'])} | {_fmt(r['ks_D'])} | {_fmt(r['dip_p'])} | {_fmt(r['frac_at_bounds'], 4)} | "
                     f"{_fmt(r['stationary_rel_change'])} | {r['sign_flips']}, {r['ie_sign_flips']} |")
    lines += ["", "| condition | init | seeds | E rate (Hz) | E CV | sigma(ln w) | sigma / Song | KS D | dip p | at bounds |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    groups = {}
    for r in rows:
        groups.setdefault((r["condition"], r["init"]), []).append(r)
    for (cond, init), rs in sorted(groups.items()):
        lines.append(f"| {cond} | {init} | {len(rs)} | {_mean_sd(r['exc_rate_hz'] for r in rs)} | "
                     f"{_mean_sd(r['exc_cv'] for r in rs)} | {_mean_sd(r['sigma'] for r in rs)} | "
                     f"{_mean_sd(r['sigma_ratio'] for r in rs)} | {_mean_sd(r['ks_D'] for r in rs)} | "
                     f"{_mean_sd(r['dip_p'] for r in rs)} | {_mean_sd(r['frac_at_bounds'] for r in rs)} |")
    # constant vs uniform: stationary sigma of the same condition and seed
    lines += ["", "| condition | seed | sigma constant | sigma uniform | |difference| / mean |", "|---|---|---|---|---|"]
    by = {(r["condition"], r["init"], r["seed"]): r for r in rows}
    for (cond, init, seed), r in sorted(by.items()):
        other = by.get((cond, "uniform", seed))
        if init == "constant" and other and r["sigma"] and other["sigma"]:
            diff = abs(r["sigma"] - other["sigma"]) / (0.5 * (r["sigma"] + other["sigma"]))
            lines.append(f"| {cond} | {seed} | {r['sigma']:.3f} | {other['sigma']:.3f} | {diff:.3f} |")
    (docs / "bridge_spiking_b_tables.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    colors = {"published": "tab:red", "drift": "tab:orange", "drift_noise": "tab:blue"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for r in rows:
        ls = "-" if r["init"] == "constant" else "--"
        kw = {"color": colors.get(r["condition"], "k"), "ls": ls, "lw": 1.2, "alpha": 0.85}
        axes[0].plot(r["t"], r["sigma_t"], **kw, label=f"{r['condition']}, {r['init']}" if r["seed"] == min(
            x["seed"] for x in rows if x["condition"] == r["condition"] and x["init"] == r["init"]) else None)
        t_mid = np.asarray(r["t"][1:len(r["exc_rate_t"])], dtype=float)
        rates = np.asarray(r["exc_rate_t"][1:], dtype=float)
        axes[1].plot(t_mid[: rates.size], rates[: t_mid.size], **kw)
        axes[2].plot(r["t"], r["ie_mean_ln_t"], **kw)
    axes[0].axhspan(0.9 * SONG2005_SIGMA, 1.1 * SONG2005_SIGMA, color="0.85", label="Song 2005 ±10 %")
    axes[0].set(xlabel="biological time (s)", ylabel="sigma(ln w), E->E subsample", title="sigma(t) of E->E")
    axes[0].legend(fontsize=7)
    axes[1].axhspan(1, 10, color="0.9")
    axes[1].set(xlabel="biological time (s)", ylabel="E rate (Hz, 10 s bins)", title="E rate (target band 1-10 Hz)",
                yscale="log")
    axes[2].set(xlabel="biological time (s)", ylabel="mean ln|w| (mV), I->E subsample", title="inhibition (vogels_madam)")
    fig.suptitle("Network (b), 4000 E + 1000 I, plastic E->E and I->E; solid: constant init, dashed: uniform init")
    fig.tight_layout()
    fig.savefig(docs / "bridge_spiking_b_sigma.png", dpi=110)
    plt.close(fig)

    # final ln w of the E->E subsample, one run per condition and init
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for (cond, init), rs in sorted(groups.items()):
        r = min(rs, key=lambda x: x["seed"])
        ws = np.load(out / r["run"] / "weight_samples.npz")
        x = np.log(np.abs(ws["EE"][-1]))
        ax.hist(x, bins=80, histtype="step", density=True, color=colors.get(cond, "k"), ls="-" if init == "constant" else "--",
                label=f"{cond}, {init} (s{r['seed']}): sigma {x.std():.2f}")
    ax.set(xlabel="ln w (w in mV), E->E subsample at the end", ylabel="density")
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
    r = sub.add_parser("report", help="tables and figures from the finished runs")
    r.add_argument("--out", default=str(ROOT / "runs" / "bridge_spiking_b"))
    args = ap.parse_args(argv)
    return grid(args) if args.cmd == "grid" else report(args)


if __name__ == "__main__":
    sys.exit(main())
