"""The bridge on deep nets (issue 11): does a log-space restoring drift (+ fluctuations) give Madam a
stationary ln|w| distribution that forgets its initialisation, without the hard bound's accuracy cost?

    nice -n 5 python benchmarks/bridge_deep.py --nets mlp --seeds 3 --inits default,constant_magnitude
    nice -n 5 python benchmarks/bridge_deep.py --nets cnn,deep_mlp --seeds 1 --inits default,constant_magnitude
    nice -n 5 python benchmarks/bridge_deep.py --map             # sigma map on the MLP
    python benchmarks/bridge_deep.py --docs-only                  # tables and figures from finished runs

Every point is an ordinary run folder runs/bridge_deep/NET/CONDITION/INIT/sSEED (reused when
finished). Writes docs/bridge_deep.json (per-run digests and sigma(t)), docs/bridge_deep_tables.md
and the figures docs/bridge_deep_sigma_t.png, docs/bridge_deep_map.png.

Parameters are fixed a priori, never fitted to a reference sigma:
* restoring rate theta = RELAX_PER_RUN / (total optimizer steps): 1/theta is one tenth of the run
  on every net, so a run is 10 relaxation times long and its last third starts after ~6.7 of them;
* fluctuation amplitude noise = lr = 0.01 per sqrt(step): the same scale as Madam's own step;
* set point = 1 x the tensor's initial RMS (the rule's default);
* Adam at its tuned lr from docs/lr_sweep.md (0.001 on all three nets), all others at lr 0.01.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synapse_madam.experiments import apply_overrides, load_spec  # noqa: E402
from synapse_madam.io import atomic_write_json, atomic_write_text, read_jsonl  # noqa: E402

RELAX_PER_RUN = 10.0  # theta * total steps: 1/theta = a tenth of the run, on every net
NOISE = 0.01  # = lr
ADAM_LR = 0.001  # docs/lr_sweep.md: Adam's best lr on fashion_mlp, fashion_deep_mlp and fashion_cnn

# net -> (spec, overrides (CPU budget), layers reported in the tables)
NETS = {
    "mlp": ("models/fashion_mlp.toml", ["train_subset=4096", "test_subset=2000", "epochs=40"], None),
    # the same MLP twice as long (theta = 10 / its own total steps, so half as strong)
    "mlp_long": ("models/fashion_mlp.toml", ["train_subset=4096", "test_subset=2000", "epochs=80"], None),
    # the sigma map: the same MLP, half as long (theta = 10 / its own total steps)
    "mlp_map": ("models/fashion_mlp.toml", ["train_subset=4096", "test_subset=2000", "epochs=20"], None),
    # the long-relaxation test (GPU): all 60 000 images, 50 epochs = 23 400 steps, so 1/theta = 2 340 steps.
    # Its length was fixed by the prediction written in docs/bridge_deep.md before it was run (sigma^2 =
    # D / (2 theta) with D ~ 7e-4 per step measured on the 4 096-image MLP); see the page for what that means.
    "mlp_full": ("models/fashion_mlp.toml", ["train_subset=60000", "epochs=50", "amp=off"], None),
    "cnn": ("models/fashion_cnn.toml", ["train_subset=1024", "test_subset=1000", "epochs=30"], None),
    "deep_mlp": ("models/fashion_deep_mlp.toml", ["train_subset=4096", "test_subset=2000", "epochs=20"],
                 ["net.1.weight", "net.17.weight", "net.33.weight"]),
}
# condition -> (optimizer, lr, options; "THETA" / "NOISE" are filled in per net)
CONDITIONS = {
    "adam": ("adam", ADAM_LR, {}),
    "madam": ("madam", 0.01, {}),
    "madam_restore": ("madam", 0.01, {"restore": "THETA"}),
    "madam_restore_noise": ("madam", 0.01, {"restore": "THETA", "noise": "NOISE"}),
    "madam_soft_restore": ("madam", 0.01, {"bound": "soft", "restore": "THETA"}),
    "madam_nobound": ("madam", 0.01, {"bound": "none"}),
    "log_adam_restore_noise": ("log_adam", 0.01, {"restore": "THETA", "noise": "NOISE"}),
    "log_adam_restore": ("log_adam", 0.01, {"restore": "THETA"}),
}
MAIN = "madam_restore_noise"
MAP_RESTORE = (0.1, 0.3, 1.0)  # x theta
MAP_NOISE = (0.0, 0.03, 0.1)
INITS = ("default", "constant_magnitude")


def base_spec(net: str) -> dict:
    path, overrides, _ = NETS[net]
    spec = apply_overrides(load_spec(ROOT / path), overrides + ["progress=false"])
    return spec


def total_steps(spec: dict) -> int:
    n = spec["train_subset"]
    return max(n // spec["batch_size"], 1) * spec["epochs"]


def theta_of(spec: dict) -> float:
    return RELAX_PER_RUN / total_steps(spec)


def condition_spec(net: str, cond: str, init: str, seed: int, *, restore_x: float = 1.0, noise=None) -> dict:
    spec = base_spec(net)
    optimizer, lr, options = CONDITIONS[cond]
    theta = theta_of(spec) * restore_x
    opts = {k: (theta if v == "THETA" else (NOISE if noise is None else noise) if v == "NOISE" else v)
            for k, v in options.items()}
    if optimizer in ("madam", "log_adam") and (opts.get("noise") or opts.get("restore")):
        opts["seed"] = seed
    spec.update(optimizer=optimizer, lr=lr, optimizer_options=opts, init=init, seed=seed,
                name=f"bridge_deep/{net}/{cond}/{init}/s{seed}")
    return spec


def run_point(spec: dict, run_dir: Path) -> dict:
    from synapse_madam.deep import runner

    if (run_dir / "summary.json").is_file():
        return json.loads((run_dir / "summary.json").read_text())
    resolved = runner.validate(spec, spec["name"])
    t0 = time.perf_counter()
    summary = runner.run(resolved, run_dir, resume=True)
    print(f"  {spec['name']}: acc {summary['final_test_acc']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return summary


def initial_digest(spec: dict) -> dict:
    """Layer digests of the initial weights (epoch 0 of sigma(t))."""
    from synapse_madam.deep import runner
    from synapse_madam.deep.trainer import weight_digests

    _, model, _ = runner.build(runner.validate(spec, spec["name"]))
    return weight_digests(model)


def collect(run_dir: Path, spec: dict) -> dict | None:
    """Per-run result: accuracy, per-layer final digest, sigma(t) and stationarity."""
    from synapse_madam.biology.digest import stationarity

    if not (run_dir / "summary.json").is_file():
        return None
    records = read_jsonl(run_dir / "metrics.jsonl")
    summary = json.loads((run_dir / "summary.json").read_text())
    init = initial_digest(spec)
    key = "weights" if "weights" in records[-1] else "layers"  # "layers": runs made before the digest landed in main
    layers = {}
    for name in records[-1][key]:
        series = [init[name]["sigma_ln"]] + [r[key][name]["sigma_ln"] for r in records]
        st = stationarity(series[1:])
        layers[name] = {**records[-1][key][name], "sigma_t": series, "sigma_init": init[name]["sigma_ln"],
                        "stationary": st["stationary"], "rel_change": st["rel_change"]}
    return {"net": spec["name"].split("/")[1], "condition": spec["name"].split("/")[2], "init": spec["init"],
            "seed": spec["seed"], "optimizer": spec["optimizer"], "lr": spec["lr"],
            "optimizer_options": spec["optimizer_options"], "steps": total_steps(spec),
            "epochs": spec["epochs"], "final_test_acc": summary["final_test_acc"],
            "diverged": summary["diverged"], "train_time_s": summary["train_time_s"],
            "device": summary.get("device", "cpu"), "layers": layers}


def grid(args) -> list[tuple[dict, Path]]:
    points = []
    out = Path(args.out)
    if args.map:
        for rx in MAP_RESTORE:
            for nz in MAP_NOISE:
                spec = condition_spec("mlp_map", MAIN, "default", 0, restore_x=rx, noise=nz)
                tag = f"map_r{rx:.3g}_n{nz:g}"
                spec["name"] = f"bridge_deep/mlp_map/{tag}/default/s0"
                points.append((spec, out / "mlp_map" / tag / "default" / "s0"))
        return points
    for seed in range(args.seeds):  # seed outermost: every condition gets seed 0 first
        for net in args.nets.split(","):
            for init in args.inits.split(","):
                for cond in args.conditions.split(","):
                    spec = condition_spec(net, cond, init, seed)
                    points.append((spec, out / net / cond / init / f"s{seed}"))
    return points


# ------------------------------------------------------------------------------------- reporting


def _ms(xs) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    if len(xs) == 1:
        return f"{xs[0]:.3f}"
    return f"{np.mean(xs):.3f} ± {np.std(xs, ddof=1):.3f}"


def tables(results: list[dict], sigma_ref: float) -> str:
    lines = []
    for net in (n for n in NETS if n != "mlp_map"):
        rows = [r for r in results if r["net"] == net and not r["condition"].startswith("map_")]
        if not rows:
            continue
        layers = NETS[net][2] or list(rows[0]["layers"])
        spec = base_spec(net)
        lines += [f"\n### {net}: {spec['description']}, {spec['train_subset']} training images, {spec['epochs']} "
                  f"epochs ({total_steps(spec)} steps), batch {spec['batch_size']}; theta = {theta_of(spec):.3g} "
                  f"(1/theta = {1 / theta_of(spec):.0f} steps), noise = {NOISE}; device: "
                  f"{', '.join(sorted({str(r.get('device', 'cpu')).split(':')[0] for r in rows}))}\n",
                  "| condition | init | seeds | test acc | layer | sigma(ln\\|w\\|) | sigma / song2005 | KS D | "
                  "at bounds | corr(ln\\|w0\\|, ln\\|wT\\|) | stationary (rel. change, last third) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for cond in CONDITIONS:
            for init in INITS:
                rs = [r for r in rows if r["condition"] == cond and r["init"] == init]
                if not rs:
                    continue
                acc = _ms([r["final_test_acc"] for r in rs])
                for i, layer in enumerate(layers):
                    ds = [r["layers"][layer] for r in rs]
                    n_stat = sum(bool(d["stationary"]) for d in ds)
                    lines.append(
                        f"| {cond if i == 0 else ''} | {init if i == 0 else ''} | {len(rs) if i == 0 else ''} | "
                        f"{acc if i == 0 else ''} | {layer} | {_ms([d['sigma_ln'] for d in ds])} | "
                        f"{_ms([d['sigma_ln'] / sigma_ref for d in ds])} | {_ms([d['ks_D'] for d in ds])} | "
                        f"{_ms([d['frac_at_bounds'] for d in ds])} | {_ms([d['corr_init'] for d in ds])} | "
                        f"{n_stat}/{len(ds)} ({_ms([d['rel_change'] for d in ds])}) |")
        if len({r["init"] for r in rows}) < 2:
            continue
        lines += ["", "Initialisation independence (final sigma, mean over seeds; |difference| / mean < 5 % passes):", "",
                  "| condition | layer | sigma (default init) | sigma (constant magnitude) | rel. difference | passes |",
                  "|---|---|---|---|---|---|"]
        for cond in CONDITIONS:
            a = [r for r in rows if r["condition"] == cond and r["init"] == "default"]
            b = [r for r in rows if r["condition"] == cond and r["init"] == "constant_magnitude"]
            if not (a and b):
                continue
            for layer in layers:
                sa = float(np.mean([r["layers"][layer]["sigma_ln"] for r in a]))
                sb = float(np.mean([r["layers"][layer]["sigma_ln"] for r in b]))
                rel = abs(sa - sb) / ((sa + sb) / 2)
                lines.append(f"| {cond} | {layer} | {sa:.3f} | {sb:.3f} | {rel:.3f} | {'yes' if rel < 0.05 else 'no'} |")
    maps = [r for r in results if r["condition"].startswith("map_")]
    if maps:
        spec = base_spec("mlp_map")
        lines += [f"\n### sigma map (MLP, {spec['epochs']} epochs = {total_steps(spec)} steps, default init, seed 0, "
                  f"learning on; layer net.1.weight; theta_0 = 10 / {total_steps(spec)} = {theta_of(spec):.3g})\n",
                  "| restore (theta) | noise | test acc | sigma | sigma / song2005 | KS D | at bounds | stationary |",
                  "|---|---|---|---|---|---|---|---|"]
        base = [r for r in results if r["net"] == "mlp_map" and r["condition"] == "madam"]
        for r in base:
            d = r["layers"]["net.1.weight"]
            lines.append(f"| 0 (plain Madam) | 0 | {r['final_test_acc']:.4f} | {d['sigma_ln']:.3f} | "
                         f"{d['sigma_ln'] / sigma_ref:.3f} | {d['ks_D']:.3f} | {d['frac_at_bounds']:.3f} | "
                         f"{d['stationary']} ({d['rel_change']:.3f}) |")
        for r in sorted(maps, key=lambda r: (r["optimizer_options"]["restore"], r["optimizer_options"].get("noise", 0))):
            d = r["layers"]["net.1.weight"]
            lines.append(f"| {r['optimizer_options']['restore']:.3g} | {r['optimizer_options'].get('noise', 0):g} | "
                         f"{r['final_test_acc']:.4f} | {d['sigma_ln']:.3f} | {d['sigma_ln'] / sigma_ref:.3f} | "
                         f"{d['ks_D']:.3f} | {d['frac_at_bounds']:.3f} | {d['stationary']} ({d['rel_change']:.3f}) |")
        lines += variance_law(maps)
    return "\n".join(lines) + "\n"


def variance_law(maps: list[dict], layer: str = "net.1.weight") -> list[str]:
    """The OU variance law with learning on: a noise-free run at restoring rate theta gives the
    gradient's own diffusion D = 2 theta sigma_0^2 per step; with fluctuations of amplitude noise
    the law predicts sigma = sqrt((D + noise^2) / (2 theta)). Measured against predicted."""
    out = ["", f"OU variance law with learning on ({layer}): D = 2 theta sigma(noise=0)^2 is Madam's own "
           "diffusion of ln|w| per step; predicted sigma = sqrt((D + noise^2) / (2 theta)).", "",
           "| theta | D (per step) | sqrt(D) / lr | noise | predicted sigma | measured sigma |", "|---|---|---|---|---|---|"]
    by = {}
    for r in maps:
        o = r["optimizer_options"]
        by[(o["restore"], o.get("noise", 0.0))] = r["layers"][layer]["sigma_ln"]
    for (theta, noise), sigma in sorted(by.items()):
        if noise == 0 or (theta, 0.0) not in by:
            continue
        d = 2 * theta * by[(theta, 0.0)] ** 2
        pred = math.sqrt((d + noise**2) / (2 * theta))
        out.append(f"| {theta:.3g} | {d:.2e} | {math.sqrt(d) / 0.01:.2f} | {noise:g} | {pred:.3f} | {sigma:.3f} |")
    return out


def figures(results: list[dict], docs: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main_rows = [r for r in results if not r["condition"].startswith("map_")]
    nets = [n for n in NETS if n != "mlp_map" and any(r["net"] == n for r in main_rows)]
    if nets:
        conds = [c for c in CONDITIONS if any(r["condition"] == c for r in main_rows)]
        fig, axes = plt.subplots(len(nets), len(conds), figsize=(3.0 * len(conds), 2.6 * len(nets)),
                                 sharey=True, squeeze=False)
        for i, net in enumerate(nets):
            layer = (NETS[net][2] or list(next(r for r in main_rows if r["net"] == net)["layers"]))[0]
            for j, cond in enumerate(conds):
                ax = axes[i][j]
                runs = [r for r in main_rows if r["net"] == net and r["condition"] == cond]
                if not runs:
                    ax.set_axis_off()
                    continue
                for r in runs:
                    s = r["layers"][layer]["sigma_t"]
                    x = np.linspace(0, r["steps"], len(s))
                    ax.plot(x, s, color="C0" if r["init"] == "default" else "C3", lw=1, alpha=0.8,
                            ls="-" if r["init"] == "default" else "--")
                ax.axvspan(2 / 3 * runs[0]["steps"], runs[0]["steps"], color="0.9", zorder=0)  # the last third
                ax.set_title(f"{net}: {cond}", fontsize=8)
                if i == len(nets) - 1:
                    ax.set_xlabel("step")
                if j == 0:
                    ax.set_ylabel(f"sigma(ln|w|), {layer}", fontsize=8)
        fig.legend(handles=[plt.Line2D([], [], color="C0", label="default (uniform) init"),
                            plt.Line2D([], [], color="C3", ls="--", label="constant-magnitude init")],
                   loc="upper center", ncol=2, fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        fig.savefig(docs / "bridge_deep_sigma_t.png", dpi=110)
        plt.close(fig)
    maps = [r for r in results if r["condition"].startswith("map_")]
    if maps:
        rs = sorted({r["optimizer_options"]["restore"] for r in maps})
        ns = sorted({r["optimizer_options"].get("noise", 0.0) for r in maps})
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
        for ax, key, label in zip(axes, ("sigma_ln", "ks_D", "acc"), ("sigma(ln|w|)", "KS D", "test acc")):
            m = np.full((len(rs), len(ns)), np.nan)
            for r in maps:
                v = r["final_test_acc"] if key == "acc" else r["layers"]["net.1.weight"][key]
                m[rs.index(r["optimizer_options"]["restore"]), ns.index(r["optimizer_options"].get("noise", 0.0))] = v
            im = ax.imshow(m, origin="lower", cmap="viridis", aspect="auto")
            for (a, b), v in np.ndenumerate(m):
                ax.text(b, a, f"{v:.3f}", ha="center", va="center", fontsize=8,
                        color="k" if v > np.nanmean(m) else "w")
            ax.set_xticks(range(len(ns)), [f"{n:g}" for n in ns])
            ax.set_yticks(range(len(rs)), [f"{r:.2g}" for r in rs])
            ax.set_xlabel("noise (per sqrt(step))")
            ax.set_ylabel("restore theta (per step)")
            ax.set_title(f"MLP layer 1: {label}", fontsize=9)
            fig.colorbar(im, ax=ax)
        fig.tight_layout()
        fig.savefig(docs / "bridge_deep_map.png", dpi=110)
        plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", default="mlp", help="comma-separated, from: " + ", ".join(NETS))
    ap.add_argument("--conditions", default=",".join(CONDITIONS), help="from: " + ", ".join(CONDITIONS))
    ap.add_argument("--inits", default=",".join(INITS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--map", action="store_true", help="run the sigma map (restore x noise) on the MLP instead")
    ap.add_argument("--out", default="runs/bridge_deep")
    ap.add_argument("--docs", default="docs")
    ap.add_argument("--docs-only", action="store_true")
    ap.add_argument("--device", default=None, help="override the specs' device (auto, cpu, cuda)")
    ap.add_argument("--workers", type=int, default=1,
                    help="run this many points at once in separate processes (e.g. several small nets on one GPU)")
    ap.add_argument("--smoke", action="store_true",
                    help="a few steps per point into --out, to check a command end to end (no docs written)")
    ap.add_argument("--runs-only", action="store_true", help="run the points and stop (write no docs)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    docs = Path(args.docs)
    print(f"load average before: {os.getloadavg()}", flush=True)
    t0 = time.perf_counter()
    if not args.docs_only:
        points = grid(args)
        for spec, _ in points:
            if args.device:
                spec["device"] = args.device
            if args.smoke:
                spec.update(epochs=1, train_subset=256, test_subset=256)
        if args.workers > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(args.workers) as pool:
                pool.starmap(run_point, points, chunksize=1)
        else:
            for spec, run_dir in points:
                run_point(spec, run_dir)
        if args.smoke or args.runs_only:
            print(f"{'smoke ' if args.smoke else ''}run finished: {len(points)} points under {args.out}", flush=True)
            return 0
    # gather everything finished under --out (all nets, conditions and the map)
    from synapse_madam.biology.references import reference_distribution

    results_path = docs / "bridge_deep.json"
    old = json.loads(results_path.read_text())["runs"] if results_path.is_file() else []
    seen = {}
    for r in old:
        seen[(r["net"], r["condition"], r["init"], r["seed"])] = r
    out = Path(args.out)
    for summary in sorted(out.glob("*/*/*/s*/summary.json")):
        run_dir = summary.parent
        net, cond, init, s = run_dir.relative_to(out).parts
        seed = int(s[1:])
        if cond.startswith("map_"):
            rx = float(cond.split("_r")[1].split("_n")[0])
            nz = float(cond.split("_n")[1])
            spec = condition_spec(net, MAIN, init, seed, restore_x=rx, noise=nz)
            spec["name"] = f"bridge_deep/{net}/{cond}/{init}/s{seed}"
        else:
            spec = condition_spec(net, cond, init, seed)
        r = collect(run_dir, spec)
        if r:
            seen[(net, cond, init, seed)] = r
    results = list(seen.values())
    sigma_ref = reference_distribution("song2005").sigma
    atomic_write_json(results_path, {"sigma_song2005": sigma_ref, "runs": results})
    header = (f"# Bridge on deep nets: tables\n\nWritten by `benchmarks/bridge_deep.py` (see docs/bridge_deep.md for the "
              f"commands). sigma(ln|w|) at the end of the run, mean ± sd over seeds; sigma / song2005 uses "
              f"sigma = {sigma_ref:.4f}; KS D: Kolmogorov-Smirnov distance of ln|w| to its own normal fit; at bounds: "
              f"fraction of |w| within 0.1 % of the optimizer's magnitude bound (- = the optimizer has none); "
              f"stationary: sigma changed < 5 % over the last third of the run (count of runs).\n"
              f"Device: {platform.machine()} CPU, 1 torch thread, shared machine, unless a net's header names cuda "
              f"(then one lent H100, several runs at once).\n")
    atomic_write_text(docs / "bridge_deep_tables.md", header + tables(results, sigma_ref))
    figures(results, docs)
    print(f"wall time {time.perf_counter() - t0:.0f} s; load average after: {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
