"""The bridge (issue 11) on spiking network (a): where do the weights of one Song-et-al. neuron settle?

Network (a) (``synapse_madam.spiking.networks.poisson_to_lif``: 1000 Poisson inputs at 15 Hz onto
one conductance LIF neuron) with plastic excitatory synapses under each condition below. Each
condition is ONE cpp_standalone simulation of 2 x REPS independent units (a unit = a neuron with its
own 1000 inputs; the Poisson trains of all units are independent draws of one seeded run): REPS
units start uniform on [0, 0.01] (sigma(ln w) = 1) and REPS start constant at 0.01/sqrt(3) (the
same RMS, sigma(ln w) = 0). The weights of every unit are sampled every SAMPLE s (sigma(t)).

Conditions (parameters chosen before any run, never tuned to Song 2005's sigma):
* madam: published Madam-STDP (lr 0.01, beta 0.999, g_bound 10, hard clip at p_scale 3 x RMS(w_1)).
* madam_drift: + log-space restoring drift, theta = 0.02/s (restoring time 50 s = 1/12 of the 600 s
  run, so the run spans 12 relaxation times), set point mu = ln(RMS(w_1)) (set_point 1, rule.py's default).
* madam_drift_noise: + multiplicative fluctuations noise_std = 0.1 ln-units per sqrt(s) (the value
  docs/spiking_distributions.md already used for Madam-STDP's noise before this issue).
* madam_soft: the soft bound alone (potentiation scaled by max(0, 1 - w/w_max), no clip).
* madam_soft_drift_noise: soft bound + drift + fluctuations.
* log_stdp: log-STDP (Gilson & Fukai 2011) with the values of synapse_madam.spiking.LogSTDP.

Sub-commands (all write under --out, default benchmarks/results/bridge_spiking_a):
    nice -n 5 python benchmarks/bridge_spiking_a.py grid      # the conditions x inits x reps
    nice -n 5 python benchmarks/bridge_spiking_a.py map       # sigma map: theta x noise_std (madam, hard)
    nice -n 5 python benchmarks/bridge_spiking_a.py bipoo     # Bi & Poo 1998 pairing protocol
    nice -n 5 python benchmarks/bridge_spiking_a.py report    # docs/bridge_spiking_a.md + figures
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

W_HI = 0.01  # uniform initial weights on [0, W_HI] (Brian2's STDP example); constant: W_HI / sqrt(3)
THETA = 0.02  # 1/s, a priori: restoring time 50 s
NOISE = 0.1  # ln-units / sqrt(s), a priori: the value used before this issue
SONG2005_SIGMA = 0.9355

CONDITIONS = {
    "madam": ("madam", {}),
    "madam_drift": ("madam", {"restore": THETA}),
    "madam_drift_noise": ("madam", {"restore": THETA, "noise_std": NOISE}),
    "madam_soft": ("madam", {"bound": "soft"}),
    "madam_soft_drift_noise": ("madam", {"bound": "soft", "restore": THETA, "noise_std": NOISE}),
    "log_stdp": ("log_stdp", {}),
}
MAP_THETAS = (0.005, 0.02, 0.08)
MAP_NOISES = (0.0, 0.1, 0.2)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def unit_initial_weights(reps: int, n_inputs: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Initial weights of 2*reps units (unit 2r: uniform, 2r+1: constant of the same RMS)."""
    from synapse_madam.spiking.networks import initial_weights

    ws, laws = [], []
    for r in range(reps):
        for law in ("uniform", "constant"):
            ws.append(initial_weights(law, n_inputs, W_HI, seed * 1000 + r))
            laws.append(law)
    return np.concatenate(ws), laws


def simulate(rule_name: str, params: dict, *, duration: float, reps: int, seed: int, sample_dt: float,
             workdir: Path, n_inputs: int = 1000) -> dict:
    """One cpp_standalone run of 2*reps units; returns sampled weights (units, n_inputs, T) etc."""
    import brian2 as b2

    from synapse_madam.spiking import make_rule
    from synapse_madam.spiking.backend import codegen_target, last_run_seconds
    from synapse_madam.spiking.networks import poisson_to_lif

    w0, laws = unit_initial_weights(reps, n_inputs, seed)
    n_units = len(laws)
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j2"]  # Brian2's default "-j" is unbounded
    with codegen_target("cpp_standalone", directory=str(workdir)) as device:
        b2.defaultclock.dt = 0.1 * b2.ms
        b2.seed(seed)
        rule = make_rule(rule_name, **params)
        net = poisson_to_lif(rule, n_inputs=n_inputs, n_neurons=n_units, w=w0, record_weights=w0.size,
                             weight_dt=sample_dt * b2.second)
        t0 = time.perf_counter()
        net.network.run(duration * b2.second)
        wall = last_run_seconds(device, time.perf_counter() - t0)
        t = np.asarray(net.weight_trace.t[:], dtype=float)
        w = np.asarray(net.weight_trace.w[:], dtype=float)  # (synapses, T)
        final = np.asarray(net.synapses.w[:], dtype=float)
        spk_i, spk_t = np.asarray(net.spikes.i[:]), np.asarray(net.spikes.t[:], dtype=float)
        ns = net.synapses.namespace
        w_max = float(ns["w_max"]) if "w_max" in ns else None
        mu = float(ns["madam_mu"]) if "madam_mu" in ns else None
    w = np.concatenate([w, final[:, None]], axis=1)
    t = np.append(t, duration)
    rates = [float(np.sum((spk_i == u) & (spk_t >= duration * 2 / 3)) / (duration / 3)) for u in range(n_units)]
    return {"t": t, "w": w.reshape(n_units, n_inputs, -1), "w0": w0.reshape(n_units, n_inputs), "laws": laws,
            "w_max": w_max, "mu": mu, "rates_last_third": rates, "wall_s": wall}


def digest_unit(w_series: np.ndarray, w0: np.ndarray, bounds) -> dict:
    """sigma(t), KS(t) and fraction at bounds(t) of one unit, plus final-state tests."""
    from synapse_madam.biology.bimodality import dip_test
    from synapse_madam.biology.digest import digest_weights, stationarity

    series = [digest_weights(w_series[:, k], bounds=bounds) for k in range(w_series.shape[1])]
    final = digest_weights(w_series[:, -1], initial=w0, bounds=bounds, expected_sign=1)
    wf = w_series[:, -1]
    ln = np.log(wf[wf > 0])
    return {
        "sigma_t": [d["sigma_ln"] for d in series],
        "ks_t": [d["ks_D"] for d in series],
        "bounds_t": [d["frac_at_bounds"] for d in series],
        "final": final,
        "frac_zero": float(np.mean(wf == 0)),
        "dip_p_ln": dip_test(ln, n_sim=500).p_value if ln.size >= 4 else None,
        "stationarity": stationarity([d["sigma_ln"] for d in series]),
    }


def _bounds_for(rule_name: str, params: dict, w_max):
    if rule_name == "log_stdp":
        return (0.0, None)  # clipped at 0 (counted as frac_zero), no upper bound
    if params.get("bound") == "none":
        return (0.0, None)
    return (0.0, w_max)  # the soft bound's w_max is not a clip, but mass near it is reported the same way


def run_condition(name, rule_name, params, args, workdir=None) -> dict:
    """Simulate (or reuse the raw samples saved by an earlier call with the same settings) and digest."""
    raw = Path(args.raw) / f"{name}.npz"
    settings = json.dumps({"rule": rule_name, "params": params, "duration": args.duration, "reps": args.reps,
                           "seed": args.seed, "sample_dt": args.sample_dt}, sort_keys=True)
    res = None
    if raw.is_file():
        with np.load(raw, allow_pickle=False) as z:
            if str(z["settings"]) == settings:
                res = {k: z[k] for k in ("t", "w", "w0", "rates_last_third")}
                res.update(json.loads(str(z["meta"])))
                print(f"  reusing {raw}", flush=True)
    if res is None:
        res = simulate(rule_name, params, duration=args.duration, reps=args.reps, seed=args.seed,
                       sample_dt=args.sample_dt, workdir=workdir or Path(args.build) / name)
        raw.parent.mkdir(parents=True, exist_ok=True)
        meta = {k: res[k] for k in ("laws", "w_max", "mu", "wall_s")}
        np.savez_compressed(raw, t=res["t"], w=res["w"], w0=res["w0"], rates_last_third=np.asarray(res["rates_last_third"]),
                            settings=np.asarray(settings), meta=np.asarray(json.dumps(meta)))
    res["rates_last_third"] = [float(x) for x in res["rates_last_third"]]
    bounds = _bounds_for(rule_name, params, res["w_max"])
    units = [digest_unit(res["w"][u], res["w0"][u], bounds) for u in range(len(res["laws"]))]
    pooled = {}
    for law in ("uniform", "constant", "all"):
        idx = [u for u, lw in enumerate(res["laws"]) if law in (lw, "all")]
        w_pool = np.concatenate([res["w"][u] for u in idx], axis=0)
        w0_pool = np.concatenate([res["w0"][u] for u in idx])
        pooled[law] = digest_unit(w_pool, w0_pool, bounds)
    return {"name": name, "rule": rule_name, "params": params, "t": res["t"].tolist(), "laws": res["laws"],
            "w_max": res["w_max"], "mu": res["mu"], "rates_last_third": res["rates_last_third"],
            "wall_s": res["wall_s"], "units": units, "pooled": pooled,
            "final_w": res["w"][:, :, -1]}


def _save(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    final = result.pop("final_w")
    np.savez_compressed(out / f"{result['name']}_final_w.npz", w=final.astype(np.float32))
    (out / f"{result['name']}.json").write_text(json.dumps(result, indent=1))


def cmd_grid(args) -> None:
    names = args.only or list(CONDITIONS)
    for name in names:
        rule_name, params = CONDITIONS[name]
        print(f"[{time.strftime('%H:%M:%S')}] {name} load {_load()}", flush=True)
        result = run_condition(name, rule_name, params, args)
        _save(result, Path(args.out))
        sig = [u["final"]["sigma_ln"] for u in result["units"]]
        print(f"  wall {result['wall_s']:.1f} s  sigma {np.round(sig, 3)}  rates {np.round(result['rates_last_third'], 1)}"
              f"  load {_load()}", flush=True)


def cmd_map(args) -> None:
    """sigma and KS against (theta, noise_std), learning on: one unit pair per cell (uniform + constant)."""
    for theta in args.thetas or MAP_THETAS:
        for noise in MAP_NOISES:
            if theta == THETA and noise in (0.0, NOISE):
                continue  # the grid's madam_drift / madam_drift_noise (3 units per init) fill these cells
            name = f"map_theta{theta:g}_noise{noise:g}"
            params = {"restore": theta, "noise_std": noise}
            print(f"[{time.strftime('%H:%M:%S')}] {name} load {_load()}", flush=True)
            a = argparse.Namespace(**{**vars(args), "reps": 1, "raw": str(Path(args.raw) / "map")})
            result = run_condition(name, "madam", params, a, workdir=Path(args.build) / "map")
            _save(result, Path(args.out) / "map")
            print(f"  sigma {[round(u['final']['sigma_ln'], 3) for u in result['units']]}", flush=True)


# -- Bi & Poo (1998) pairing protocol --------------------------------------------------------------

BIPOO_VARIANTS = {
    "published (hard bound)": {},
    "soft bound": {"bound": "soft"},
    "drift (theta 0.02/s)": {"restore": THETA},
}


def bipoo(n_pairs: int = 60, delay_ms: float = 5.0, period_s: float = 1.0, n_syn: int = 40) -> dict:
    """Relative change of w after n_pairs pre->post (+delay) or post->pre (-delay) pairings at
    1/period, for synapses whose initial w spans (0.03 .. 1) x w_max, each with fresh Madam state.

    w_max = 3 x 0.01/sqrt(3) and mu = ln(0.01/sqrt(3)): those of network (a)'s synapses (the set
    point is passed through set_point so that mu matches). For the drift variant, synapses that
    see no pairs give the drift-only control over the same time."""
    import brian2 as b2

    from synapse_madam.spiking import make_rule

    rms_net = W_HI / np.sqrt(3)
    w_max = 3 * rms_net
    w_init = w_max * np.geomspace(0.03, 1.0, n_syn)
    set_point = rms_net / np.sqrt(np.mean(w_init**2))  # mu = ln(set_point * RMS(w_init)) = ln(rms_net)
    b2.prefs.codegen.target = "numpy"
    out = {"w_init": w_init.tolist(), "w_max": w_max, "n_pairs": n_pairs, "delay_ms": delay_ms, "period_s": period_s}
    for label, params in BIPOO_VARIANTS.items():
        out[label] = {}
        for proto, sign in (("LTP (pre->post +5 ms)", 1), ("LTD (post->pre -5 ms)", -1), ("no pairs", 0)):
            if sign == 0 and "restore" not in params:
                continue
            b2.start_scope()
            b2.defaultclock.dt = 0.5 * b2.ms
            t_pre = 0.1 + period_s * np.arange(n_pairs)
            t_post = t_pre + sign * delay_ms * 1e-3
            pre = b2.SpikeGeneratorGroup(1, np.zeros(n_pairs if sign else 0, int), (t_pre if sign else []) * b2.second)
            post = b2.SpikeGeneratorGroup(1, np.zeros(n_pairs if sign else 0, int), (t_post if sign else []) * b2.second)
            rule = make_rule("madam", w_max=w_max, set_point=set_point, **params)
            syn = rule.connect(pre, post, effect="", i=np.zeros(n_syn, int), j=np.zeros(n_syn, int), w=w_init)
            net = b2.Network(pre, post, syn)
            net.run((0.1 + period_s * n_pairs + 0.5) * b2.second)
            out[label][proto] = (np.asarray(syn.w[:]) / w_init - 1).tolist()
    return out


def cmd_bipoo(args) -> None:
    res = bipoo()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bipoo.json").write_text(json.dumps(res, indent=1))
    for label in BIPOO_VARIANTS:
        for proto, rel in res[label].items():
            print(label, proto, "weak:", round(rel[0], 3), "strong:", round(rel[-1], 3))


# -- report ----------------------------------------------------------------------------------------

def _ms(values, fmt="{:.3g}") -> str:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return "n/a"
    return (fmt + " ± " + fmt).format(v.mean(), v.std(ddof=1)) if v.size > 1 else fmt.format(v[0])


def _row(r: dict) -> dict:
    """Statistics of one condition: per init, mean ± sd over the reps (units)."""
    out = {}
    for law in ("uniform", "constant"):
        us = [u for u, lw in zip(r["units"], r["laws"]) if lw == law]
        out[law] = {
            "sigma": [u["final"]["sigma_ln"] for u in us],
            "ks": [u["final"]["ks_D"] for u in us],
            "dip": [u["dip_p_ln"] for u in us],
            "bounds": [(u["final"]["frac_at_bounds"] or 0.0) + u["frac_zero"] for u in us],
            "stat_unit": [u["stationarity"]["rel_change"] for u in us],
            "stat_pooled": r["pooled"][law]["stationarity"],
            "rate": [rt for rt, lw in zip(r["rates_last_third"], r["laws"]) if lw == law],
        }
    out["stat_all"] = r["pooled"]["all"]["stationarity"] if "all" in r["pooled"] else None
    su, sc = np.mean(out["uniform"]["sigma"]), np.mean(out["constant"]["sigma"])
    out["init_gap"] = abs(su - sc) / (0.5 * (su + sc))
    return out


def _targets(row: dict) -> str:
    allu = {k: row["uniform"][k] + row["constant"][k] for k in ("ks", "dip", "bounds")}
    checks = [
        ("KS", max(allu["ks"]) <= 0.03),
        ("dip", min(allu["dip"]) > 0.05),
        ("bounds", max(allu["bounds"]) < 0.01),
        ("stationary", row["stat_all"]["stationary"] if row["stat_all"] else
         all(row[law]["stat_pooled"]["stationary"] for law in ("uniform", "constant"))),
        ("init", row["init_gap"] < 0.05),
    ]
    return ", ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in checks)


def _fig_sigma_t(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    fig, axes = plt.subplots(2, (n + 1) // 2, figsize=(4.2 * ((n + 1) // 2), 6.4), sharey=True, squeeze=False)
    for ax, r in zip(axes.ravel(), results):
        t = np.asarray(r["t"])
        for u, law in zip(r["units"], r["laws"]):
            ax.plot(t, u["sigma_t"], color="C0" if law == "uniform" else "C3", lw=0.8, alpha=0.7,
                    ls="-" if law == "uniform" else "--")
        ax.axhline(SONG2005_SIGMA, color="k", lw=0.8, ls=":")
        ax.axvspan(t[-1] * 2 / 3, t[-1], color="0.9", zorder=-1)
        ax.set_title(r["name"], fontsize=9)
        ax.set_xlabel("t (s)")
    for ax in axes[:, 0]:
        ax.set_ylabel("sigma(ln w)")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0, 0].plot([], [], color="C0", label="uniform init")
    axes[0, 0].plot([], [], color="C3", ls="--", label="constant init (same RMS)")
    axes[0, 0].plot([], [], color="k", ls=":", label="Song 2005")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("network (a): sigma(ln w) of each unit's 1000 synapses (grey: last third)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fig_hist(results: list[dict], out: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    fig, axes = plt.subplots(2, (n + 1) // 2, figsize=(4.2 * ((n + 1) // 2), 6.0), squeeze=False)
    for ax, r in zip(axes.ravel(), results):
        w = np.load(out / f"{r['name']}_final_w.npz")["w"].astype(float)
        for law, color in (("uniform", "C0"), ("constant", "C3")):
            x = np.concatenate([w[u] for u, lw in enumerate(r["laws"]) if lw == law])
            ln = np.log(x[x > 0])
            ax.hist(ln, bins=60, density=True, histtype="step", color=color, label=law)
        grid = np.linspace(ln.min(), ln.max(), 200)
        ax.plot(grid, np.exp(-0.5 * ((grid - ln.mean()) / SONG2005_SIGMA) ** 2) / (SONG2005_SIGMA * np.sqrt(2 * np.pi)),
                "k:", lw=1, label="Song 2005 width")
        if r["w_max"] and r["rule"] == "madam":
            ax.axvline(np.log(r["w_max"]), color="0.5", lw=0.8)
        ax.set_title(r["name"], fontsize=9)
        ax.set_xlabel("ln w (w in units of g_leak)")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("final ln w, 3 units per init pooled (grey line: w_max)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fig_bipoo(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.asarray(res["w_init"]) / res["w_max"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharex=True)
    for (label, color, ls) in zip(BIPOO_VARIANTS, ("C0", "C1", "C2"), ("-", "--", "-")):
        for ax, proto in zip(axes, ("LTP (pre->post +5 ms)", "LTD (post->pre -5 ms)")):
            rel = np.asarray(res[label][proto])
            ax.plot(x, 100 * rel, color=color, ls=ls, label=label)
            if "no pairs" in res[label]:
                ctrl = np.asarray(res[label]["no pairs"])
                ax.plot(x, 100 * ctrl, color=color, ls=":", label=label + ": no pairs (drift alone)")
                ax.plot(x, 100 * ((1 + rel) / (1 + ctrl) - 1), color="C4", ls="-.",
                        label=label + ": pairing relative to no pairs")
    for ax, proto in zip(axes, ("LTP (pre->post +5 ms)", "LTD (post->pre -5 ms)")):
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xscale("log")
        ax.set_ylim(-100, 250)
        ax.set_xlabel("initial w / w_max")
        ax.set_title(f"{res['n_pairs']} pairs, {proto} (y clipped at 250 %)", fontsize=9)
        ax.set_ylabel("relative change of w (%)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fig_map(maps: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for k, noise in enumerate(MAP_NOISES):
        rows = sorted((m for m in maps if m["params"]["noise_std"] == noise), key=lambda m: m["params"]["restore"])
        th = [m["params"]["restore"] for m in rows]
        sig = [np.mean([u["final"]["sigma_ln"] for u in m["units"]]) for m in rows]
        ks = [np.mean([u["final"]["ks_D"] for u in m["units"]]) for m in rows]
        axes[0].plot(th, sig, "o-", color=f"C{k}", label=f"noise_std {noise:g}")
        if noise:
            tt = np.geomspace(min(MAP_THETAS), max(MAP_THETAS), 50)
            axes[0].plot(tt, noise / np.sqrt(2 * tt), ":", color=f"C{k}")
        axes[1].plot(th, ks, "o-", color=f"C{k}")
    axes[0].axhline(SONG2005_SIGMA, color="k", lw=0.8, ls="--", label="Song 2005")
    axes[1].axhline(0.03, color="k", lw=0.8, ls="--", label="KS target")
    for ax, lab in zip(axes, ("sigma(ln w)", "KS D to fitted log-normal")):
        ax.set_xscale("log")
        ax.set_xticks(MAP_THETAS, [f"{t:g}" for t in MAP_THETAS])
        ax.minorticks_off()
        ax.set_xlabel("restore theta (1/s)")
        ax.set_ylabel(lab)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    axes[0].set_title("dotted: noise alone, noise/sqrt(2 theta)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(out: Path, docs: Path) -> None:
    grid_cmd = "nice -n 5 python benchmarks/bridge_spiking_a.py grid"
    results = [json.loads((out / f"{n}.json").read_text()) for n in CONDITIONS if (out / f"{n}.json").is_file()]
    lines = ["# Bridge, spiking network (a): Madam-STDP with log-space drift, fluctuations and soft bound",
             "",
             "Generated by `python benchmarks/bridge_spiking_a.py report` from the raw results in "
             f"`{out}` (see the module docstring of `benchmarks/bridge_spiking_a.py` for the set-up).", ""]
    if results:
        _fig_sigma_t(results, docs / "bridge_spiking_a_sigma_t.png")
        _fig_hist(results, out, docs / "bridge_spiking_a_hist.png")
        T = results[0]["t"][-1]
        lines += [f"## Stationary state after {T:g} s (3 units per init, mean ± sd over units)", "",
                  f"Command: `{grid_cmd}` then `... report` (cpp_standalone; total simulation wall "
                  f"{sum(r['wall_s'] for r in results):.0f} s on 2 shared cores).",
                  "sigma = sd of ln w of a unit's 1000 synapses; KS D to the unit's fitted log-normal; dip p = "
                  "Hartigan's dip test on ln w (biology.bimodality, 500 null draws); at bounds = fraction within "
                  "0.1 % of w_max (hard/soft) or exactly 0 (log-STDP's clip); stat. = (max-min)/mean of sigma(t) "
                  "over the last third (target < 0.05) per unit (1000 synapses), for the 3 units of one init pooled and for all 6 units pooled (the stationary law does not depend on the init; the targets use this one); init gap = |sigma_uniform - "
                  "sigma_constant| / mean (target < 0.05); rate = output rate over the last third.", "",
                  "| condition | init | sigma | sigma / Song 2005 | KS D | dip p (min) | at bounds | stat. (per unit) | "
                  "stat. (3 units) | stat. (all 6 units) | init gap | rate (Hz) | targets met |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in results:
            row = _row(r)
            for law in ("uniform", "constant"):
                d = row[law]
                lines.append(
                    f"| {r['name'] if law == 'uniform' else ''} | {law} | {_ms(d['sigma'])} | "
                    f"{_ms(np.asarray(d['sigma']) / SONG2005_SIGMA, '{:.2f}')} | {_ms(d['ks'])} | "
                    f"{min(d['dip']):.3g} | {_ms(d['bounds'])} | {_ms(d['stat_unit'], '{:.3f}')} | "
                    f"{d['stat_pooled']['rel_change']:.3f} | "
                    f"{row['stat_all']['rel_change'] if row['stat_all'] and law == 'uniform' else '':{'.3f' if row['stat_all'] and law == 'uniform' else ''}} | "
                    f"{row['init_gap']:.3f} | {_ms(d['rate'], '{:.1f}')} | "
                    f"{_targets(row) if law == 'uniform' else ''} |")
        lines += ["", "![sigma(t)](bridge_spiking_a_sigma_t.png)", "", "![final ln w](bridge_spiking_a_hist.png)", ""]
        drift = next((r for r in results if r["name"] == "madam_drift"), None)
        if drift:
            s2 = np.mean([u["final"]["sigma_ln"] for u in drift["units"]]) ** 2
            lines += [f"Madam's own diffusion of ln w, from the drift-only condition: sigma^2 = D / (2 theta) "
                      f"gives D = 2 theta sigma^2 = {2 * THETA * s2:.3g} per s (theta = {THETA}).", ""]
    maps = [json.loads(p.read_text()) for p in (out / "map").glob("*.json")] if (out / "map").is_dir() else []
    if maps:  # the two grid conditions that are cells of the map
        maps += [r for r in results if r["name"] in ("madam_drift", "madam_drift_noise")]
        for m in maps:
            m["params"].setdefault("noise_std", 0.0)
        maps.sort(key=lambda m: (m["params"]["noise_std"], m["params"]["restore"]))
    if maps:
        _fig_map(maps, docs / "bridge_spiking_a_map.png")
        lines += ["## Sigma map (Madam-STDP, hard bound, learning on)", "",
                  "Commands: `nice -n 5 python benchmarks/bridge_spiking_a.py map --thetas 0.005 0.02` and `... map --thetas 0.08 --duration 200` (one uniform and one constant unit "
                  f"per cell, duration as listed; the cells marked (grid) are the grid's conditions with 3 units per "
                  "init, sigma averaged per init).", "",
                  "| theta (1/s) | noise_std (1/sqrt(s)) | duration (s) | sigma (uniform / constant) | noise alone noise/sqrt(2 theta) | "
                  "implied learning D = 2 theta sigma^2 - noise^2 | KS D | at bounds | stat. (uniform / constant) | rate (Hz) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for m in maps:
            th, nz = m["params"]["restore"], m["params"]["noise_std"]
            sig = [np.mean([u["final"]["sigma_ln"] for u, lw in zip(m["units"], m["laws"]) if lw == law])
                   for law in ("uniform", "constant")]
            st = [m["pooled"][law]["stationarity"]["rel_change"] for law in ("uniform", "constant")]
            lines.append(f"| {th:g}{' (grid)' if not m['name'].startswith('map') else ''} | {nz:g} | {m['t'][-1]:g} | {sig[0]:.3f} / {sig[1]:.3f} | {nz / np.sqrt(2 * th):.3f} | "
                         f"{2 * th * np.mean(sig) ** 2 - nz ** 2:.3g} | "
                         f"{_ms([u['final']['ks_D'] for u in m['units']])} | "
                         f"{_ms([u['final']['frac_at_bounds'] for u in m['units']])} | {st[0]:.3f} / {st[1]:.3f} | "
                         f"{_ms(m['rates_last_third'], '{:.1f}')} |")
        lines += ["", "![sigma map](bridge_spiking_a_map.png)", ""]
    if (out / "bipoo.json").is_file():
        res = json.loads((out / "bipoo.json").read_text())
        _fig_bipoo(res, docs / "bridge_spiking_a_bipoo.png")
        x = np.asarray(res["w_init"]) / res["w_max"]
        pick = np.linspace(0, x.size - 1, 6).round().astype(int)
        lines += ["## Weight dependence of relative LTP/LTD (Bi & Poo 1998 protocol)", "",
                  "Command: `nice -n 5 python benchmarks/bridge_spiking_a.py bipoo`. "
                  f"{res['n_pairs']} pairs at 1 Hz, +-{res['delay_ms']:g} ms, fresh Madam state per synapse, "
                  "w_max and set point of network (a).", "",
                  "| variant | protocol | change at w/w_max = " + " | ".join(f"{v:.2f}" for v in x[pick]) + " |",
                  "|---|---|" + "---|" * pick.size]
        for label in BIPOO_VARIANTS:
            for proto, rel in res[label].items():
                lines.append(f"| {label} | {proto} | " + " | ".join(f"{100 * v:+.0f} %" for v in np.asarray(rel)[pick]) + " |")
        lines += ["", "![Bi & Poo protocol](bridge_spiking_a_bipoo.png)", ""]
    (docs / "bridge_spiking_a_tables.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("grid", "map", "bipoo", "report"))
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sample-dt", type=float, default=10.0)
    ap.add_argument("--only", nargs="*", choices=list(CONDITIONS))
    ap.add_argument("--thetas", nargs="*", type=float, help="map: only these restore rates (default MAP_THETAS)")
    ap.add_argument("--out", default="benchmarks/results/bridge_spiking_a")
    ap.add_argument("--build", default="/tmp/bridge_spiking_a_build")
    ap.add_argument("--raw", default="runs/bridge_spiking_a_raw", help="raw weight samples (not in git)")
    ap.add_argument("--docs", default="docs")
    args = ap.parse_args(argv)
    if args.command == "report":
        report(Path(args.out), Path(args.docs))
    else:
        {"grid": cmd_grid, "map": cmd_map, "bipoo": cmd_bipoo}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
