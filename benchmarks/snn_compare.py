"""Spiking nets trained by surrogate gradients: Madam at lr 0.01 against a baseline over a small lr grid.

The baseline is Adam unless ``--baseline`` names another registered optimizer, e.g. ``log_adam``
(Adam on theta with w = sign(w0) exp(theta): sign-preserving like Madam, without its normalisation).

Every point (optimizer, lr, seed) is one ``synapse-madam run`` of a models/ spec (the CLI, in its
own process), so the numbers are what the CLI gives. ``--jobs`` processes run at once (on a GPU
they share it). Each run folder keeps its metrics.jsonl (test accuracy and the weight digest per
epoch) and summary.json; the report reads only those raw files.

    # scikit-learn digits on the CPU (3 seeds, 2 processes at once)
    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/snn_compare.py --spec models/snn_digits.toml \
        --seeds 3 --jobs 2 --device cpu --out runs/snn_compare_digits
    # Fashion-MNIST on one GPU, 12 processes sharing it, everything packed into one tarball
    PYTHONPATH=$PWD python3 benchmarks/snn_compare.py --spec models/snn_fashion.toml --seeds 3 \
        --jobs 12 --deadline 125 --out runs/snn_compare_fashion --tar $OUT/snn14.tar.gz
    # the sign-preserving control: LogAdam over an lr grid instead of Adam
    OMP_NUM_THREADS=1 python benchmarks/snn_compare.py --spec models/snn_digits.toml --seeds 3 --jobs 1 \
        --device cpu --baseline log_adam --baseline-lrs 0.001,0.003,0.01,0.03 --out runs/snn_compare_digits_logadam
    # regenerate the table and figure from the raw JSON only (no training)
    python benchmarks/snn_compare.py --report-only --out runs/snn_compare_fashion

Outputs in --out: ``raw/<point>/{summary.json,metrics.jsonl,spec.toml}``, ``snn_compare.json``
(every point's accuracy curve and final weight digests), ``snn_compare.md`` (table) and
``snn_compare.png`` (test accuracy per epoch; sigma of ln|w| per epoch).

``--deadline S`` (seconds after start) interrupts runs still going (SIGINT: the CLI keeps the
last finished epoch's checkpoint and metrics); the report then compares every point at the last
epoch that *all* points finished and says so. Weight statistics: sigma_ln / sigma of Song et al.
2005 (ln EPSP; synapse_madam.biology.reference_distribution), the KS distance of ln|w| from its
normal fit, the fraction of weights at Madam's bound, and sign flips against the initial weights
(from the one weight digest, synapse_madam.biology.digest_weights, that the trainer logs).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MADAM_LR = 0.01
ADAM_LRS = (3e-4, 1e-3, 3e-3)


#: how the report names a baseline optimizer (registry name -> label)
LABELS = {"adam": "Adam", "log_adam": "LogAdam", "sgd": "SGD", "adamw": "AdamW"}


def points(seeds: int, madam_lr: float, baseline_lrs, baseline: str = "adam") -> list[tuple[str, float, int]]:
    out = [("madam", madam_lr, s) for s in range(seeds)]
    out += [(baseline, lr, s) for lr in baseline_lrs for s in range(seeds)]
    return out


def point_name(opt: str, lr: float, seed: int) -> str:
    return f"{opt}_lr{lr:g}_seed{seed}"


def _command(spec: str, opt: str, lr: float, seed: int, folder: Path, args) -> list[str]:
    cmd = [sys.executable, "-m", "synapse_madam.cli", "run", spec, "--out", str(folder), "--overwrite",
           "--set", f'optimizer="{opt}"', "--set", f"lr={lr!r}", "--set", f"seed={seed}",
           "--set", "progress=false", "--set", f'device="{args.device}"', "--set", "threads=1"]
    for extra in args.set:
        cmd += ["--set", extra]
    return cmd


def run_all(args) -> dict:
    """Launch every point as a CLI process, at most ``args.jobs`` at once; stop stragglers at the deadline."""
    out = Path(args.out)
    runs_dir = out / "runs"
    for stale in ("runs", "raw", "logs"):  # a rerun into the same --out reports only its own points
        shutil.rmtree(out / stale, ignore_errors=True)
    runs_dir.mkdir(parents=True, exist_ok=True)
    todo = points(args.seeds, args.madam_lr, args.adam_lrs, args.baseline)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    running, status = {}, {}
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    while todo or running:
        while todo and len(running) < args.jobs:
            opt, lr, seed = todo.pop(0)
            name = point_name(opt, lr, seed)
            log = open(logs / f"{name}.log", "w")
            proc = subprocess.Popen(_command(args.spec, opt, lr, seed, runs_dir / name, args), cwd=ROOT, env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
            running[name] = (proc, log)
        time.sleep(0.5)
        for name, (proc, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                status[name] = "finished" if proc.returncode == 0 else f"exit code {proc.returncode}"
                del running[name]
        if args.deadline and time.perf_counter() - t0 > args.deadline and running:
            for name, (proc, _) in running.items():
                proc.send_signal(signal.SIGINT)
            t_int = time.perf_counter()
            while any(p.poll() is None for p, _ in running.values()) and time.perf_counter() - t_int < 10:
                time.sleep(0.2)
            for name, (proc, log) in running.items():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                log.close()
                status[name] = "stopped at the deadline"
            running.clear()
            for opt, lr, seed in todo:
                status[point_name(opt, lr, seed)] = "not started (deadline)"
            todo = []
    return {"wall_s": time.perf_counter() - t0, "status": status}


def collect(out: Path, run_info: dict | None) -> None:
    """Copy every run's raw JSON to out/raw/<point>/ (the only input of the report)."""
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for folder in sorted((out / "runs").iterdir()) if (out / "runs").is_dir() else []:
        dest = raw / folder.name
        dest.mkdir(exist_ok=True)
        for f in ("summary.json", "metrics.jsonl", "spec.toml", "data_files.json"):
            if (folder / f).is_file():
                shutil.copy2(folder / f, dest / f)
        log = out / "logs" / f"{folder.name}.log"
        if log.is_file():
            shutil.copy2(log, dest / "cli.log")
    if run_info is not None:
        (raw / "driver.json").write_text(json.dumps(run_info, indent=1))


# ----------------------------------------------------------------------------------------- report


def _read_point(folder: Path) -> dict | None:
    metrics = folder / "metrics.jsonl"
    if not metrics.is_file():
        return None
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    summary = json.loads((folder / "summary.json").read_text()) if (folder / "summary.json").is_file() else None
    opt, lr, seed = folder.name.rsplit("_", 2)  # point_name: the optimizer's name may hold "_"
    return {"name": folder.name, "optimizer": opt, "lr": float(lr[2:]), "seed": int(seed[4:]),
            "records": records, "summary": summary}


def _spec_epochs(folder: Path) -> int | None:
    import tomllib

    f = folder / "spec.toml"
    return tomllib.loads(f.read_text()).get("epochs") if f.is_file() else None


def _mean_sd(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def report(out: Path, command: str | None = None) -> dict:
    """snn_compare.{json,md,png} from out/raw/ alone."""
    from synapse_madam.biology.references import reference_distribution

    raw = out / "raw"
    pts = [p for f in sorted(raw.iterdir()) if f.is_dir() and (p := _read_point(f))]
    if not pts:
        raise FileNotFoundError(f"{raw}: no run folders with metrics.jsonl; run the comparison first.")
    driver = json.loads((raw / "driver.json").read_text()) if (raw / "driver.json").is_file() else {}
    command = command or driver.get("argv")  # the command that trained the points, kept in raw/
    song = reference_distribution("song2005")
    planned = max(_spec_epochs(raw / p["name"]) or 0 for p in pts) or None
    common = min(len(p["records"]) for p in pts)
    all_finished = all(p["summary"] is not None for p in pts)
    spec_text = next(((raw / p["name"] / "spec.toml").read_text() for p in pts
                      if (raw / p["name"] / "spec.toml").is_file()), "")
    rows = {}
    for p in pts:
        rec = p["records"][common - 1] if common else {}
        key = (p["optimizer"], p["lr"])
        row = rows.setdefault(key, {"optimizer": p["optimizer"], "lr": p["lr"], "acc": [], "seeds": [],
                                    "weights": {}, "epoch_time_s": []})
        row["acc"].append(rec.get("test_acc"))
        row["seeds"].append(p["seed"])
        row["epoch_time_s"] += [r.get("epoch_time_s") for r in p["records"][:common]]
        for g, d in (rec.get("weights") or {}).items():
            w = row["weights"].setdefault(g, {"sigma_ratio": [], "ks_D": [], "frac_at_bounds": [], "sign_flips": [],
                                              "n": d.get("n")})
            w["sigma_ratio"].append(d["sigma_ln"] / song.sigma if d.get("sigma_ln") is not None else None)
            w["ks_D"].append(d.get("ks_D"))
            w["frac_at_bounds"].append(d.get("frac_at_bounds"))
            w["sign_flips"].append(d.get("sign_flips"))
    table = sorted(rows.values(), key=lambda r: (r["optimizer"] != "madam", r["lr"]))
    for r in table:
        r["acc_mean"], r["acc_sd"] = _mean_sd(r["acc"])
        r["epoch_time_mean_s"] = _mean_sd(r["epoch_time_s"])[0]
    baselines = sorted({r["optimizer"] for r in table if r["optimizer"] != "madam"})
    if len(baselines) > 1:
        raise SystemExit(f"{raw}: points of several baselines ({', '.join(baselines)}); one --out per baseline.")
    baseline = baselines[0] if baselines else "adam"
    grid = [r for r in table if r["optimizer"] == baseline and r["acc_mean"] is not None]
    madam = [r for r in table if r["optimizer"] == "madam" and r["acc_mean"] is not None]
    best = max(grid, key=lambda r: r["acc_mean"]) if grid else None
    gap = (madam[0]["acc_mean"] - best["acc_mean"]) if (madam and best) else None
    result = {"epoch_compared": common, "epochs_planned": planned, "all_finished": all_finished,
              "driver": driver, "song2005_sigma": song.sigma, "rows": table,
              "baseline": baseline, "best_baseline_lr": best["lr"] if best else None,
              "madam_minus_best_baseline": gap,
              "points": [{"name": p["name"], "optimizer": p["optimizer"], "lr": p["lr"], "seed": p["seed"],
                          "test_acc": [r.get("test_acc") for r in p["records"]],
                          "sigma_ln": {g: [r["weights"][g].get("sigma_ln") for r in p["records"]]
                                       for g in (p["records"][0].get("weights") or {})} if p["records"] else {},
                          "finished": p["summary"] is not None,
                          "device": (p["summary"] or {}).get("device")} for p in pts]}
    (out / "snn_compare.json").write_text(json.dumps(result, indent=1))
    (out / "snn_compare.md").write_text(_markdown(result, spec_text, command))
    _figure(result, out / "snn_compare.png")
    return result


def _f(x, fmt=".4f"):
    return "n/a" if x is None else format(x, fmt)


def _ms(xs, fmt):
    m, sd = _mean_sd(xs)
    return "n/a" if m is None else f"{m:{fmt}} ± {sd:{fmt}}"


def _markdown(res: dict, spec_text: str, command: str | None) -> str:
    label = LABELS.get(res["baseline"], res["baseline"])
    lines = [f"# Spiking nets (surrogate gradients): Madam at lr 0.01 vs {label}", ""]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    lines += ["Regenerate this table and figure from the raw JSON in DIR/raw/: "
              "`python benchmarks/snn_compare.py --report-only --out DIR`.", ""]
    ep = res["epoch_compared"]
    if res["all_finished"]:
        lines.append(f"All runs finished {ep} epochs; accuracies are the final test accuracies (mean ± sd over seeds).")
    else:
        lines.append(f"NOT all runs finished (deadline): every point is compared at epoch {ep}, the last epoch all "
                     f"points completed, of {res['epochs_planned']} planned (the cosine schedule had not ended).")
    devices = sorted({p["device"] for p in res["points"] if p.get("device")})
    if devices:
        loads = [res["driver"].get(k) for k in ("loadavg_before", "loadavg_after")]
        load_text = "; load average (1 min) before/after: " + " / ".join(_f(x[0], ".1f") for x in loads) \
            if all(loads) else ""
        lines.append(f"Device(s): {', '.join(devices)}. Driver wall time: {_f(res['driver'].get('wall_s'), '.0f')} s"
                     f"{load_text}.")
    lines += ["", "| optimizer | lr | seeds | test accuracy | mean epoch time (s) |", "|---|---|---|---|---|"]
    for r in res["rows"]:
        best = f" (best {label})" if r["optimizer"] == res["baseline"] and r["lr"] == res["best_baseline_lr"] else ""
        lines.append(f"| {r['optimizer']} | {r['lr']:g}{best} | {len(r['acc'])} | {_ms(r['acc'], '.4f')} | "
                     f"{_f(r['epoch_time_mean_s'], '.2f')} |")
    lines += ["", f"Madam (lr 0.01) minus best {label}: {_f(res['madam_minus_best_baseline'], '+.4f')}.", "",
              f"Weight statistics at the compared epoch (mean ± sd over seeds; σ ratio = σ(ln|w|) / "
              f"{res['song2005_sigma']:.4f}, Song et al. 2005; KS = distance of ln|w| from its normal fit; "
              "at bounds = fraction within 0.1 % of Madam's |w| bound (n/a: no known bound); sign flips against "
              "the initial weights, per seed):", "",
              "| optimizer | lr | weights | n | σ ratio to Song 2005 | KS | at bounds | sign flips |",
              "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        for g, w in r["weights"].items():
            fb = "n/a" if all(x is None for x in w["frac_at_bounds"]) else _ms(w["frac_at_bounds"], ".4f")
            flips = ", ".join("n/a" if x is None else str(x) for x in w["sign_flips"])
            lines.append(f"| {r['optimizer']} | {r['lr']:g} | {g} | {w['n']} | {_ms(w['sigma_ratio'], '.2f')} | "
                         f"{_ms(w['ks_D'], '.3f')} | {fb} | {flips} |")
    if spec_text:
        lines += ["", "Spec (as resolved for the first point; optimizer, lr and seed vary):", "", "```toml",
                  spec_text.strip(), "```"]
    return "\n".join(lines) + "\n"


def _figure(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synapse_madam.plots import OPTIMIZER_COLOURS

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    grid_lrs = sorted({q["lr"] for q in res["points"] if q["optimizer"] != "madam"})
    shades = plt.get_cmap("Blues")([0.45 + 0.55 * i / max(len(grid_lrs) - 1, 1) for i in range(len(grid_lrs))])
    dashes = ["--", ":", "-.", (0, (5, 1)), (0, (1, 3)), (0, (3, 1, 1, 1))]
    for p in res["points"]:
        if p["optimizer"] == "madam":
            colour, ls = OPTIMIZER_COLOURS.get("madam"), "-"
        else:  # the baseline: darker blue = larger lr, and one dash pattern per lr
            i = grid_lrs.index(p["lr"])
            colour, ls = shades[i], dashes[i % len(dashes)]
        label = f"{p['optimizer']} lr {p['lr']:g}" if p["seed"] == 0 else None
        ep = range(1, len(p["test_acc"]) + 1)
        axes[0].plot(ep, p["test_acc"], color=colour, ls=ls, label=label, alpha=0.8)
        g = next(iter(p["sigma_ln"]), None)
        if g:
            axes[1].plot(ep, p["sigma_ln"][g], color=colour, ls=ls, label=label, alpha=0.8)
    axes[0].set(xlabel="epoch", ylabel="test accuracy", title="test accuracy (each seed a line)")
    axes[1].axhline(res["song2005_sigma"], color="grey", lw=0.8)
    axes[1].text(1, res["song2005_sigma"], " Song 2005 σ", va="bottom", fontsize=8, color="grey")
    g = next((next(iter(p["sigma_ln"]), "") for p in res["points"]), "")
    axes[1].set(xlabel="epoch", ylabel="σ of ln|w|", title=f"σ(ln|w|) of {g}")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", default="models/snn_digits.toml", help="a deep spec with net = \"snn\"")
    ap.add_argument("--out", default="runs/snn_compare", help="output folder")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2, help="CLI processes at once")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--madam-lr", type=float, default=MADAM_LR)
    ap.add_argument("--baseline", default="adam", help="the optimizer run over the lr grid (a registry name, "
                    "e.g. adam or log_adam)")
    ap.add_argument("--adam-lrs", "--baseline-lrs", dest="adam_lrs", default=",".join(f"{x:g}" for x in ADAM_LRS),
                    help="the baseline's lr grid, comma-separated")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra spec override (repeatable)")
    ap.add_argument("--deadline", type=float, default=0, help="seconds; interrupt runs still going (0: none)")
    ap.add_argument("--tar", default=None, help="also pack raw/ and the report into this .tar.gz")
    ap.add_argument("--report-only", action="store_true", help="only regenerate the report from --out/raw")
    args = ap.parse_args(argv)
    out = Path(args.out)
    command = "python benchmarks/snn_compare.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if not args.report_only:
        if args.seeds < 1 or args.jobs < 1:
            ap.error("--seeds and --jobs must be >= 1")
        if not (ROOT / args.spec).is_file() and not Path(args.spec).is_file():
            ap.error(f"--spec {args.spec}: no such file")
        args.adam_lrs = [float(x) for x in args.adam_lrs.split(",") if x.strip()]
        import torch

        print(f"torch {torch.__version__}, cuda: {torch.cuda.is_available()}"
              + (f" ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "")
              + f", load average before: {os.getloadavg()}", flush=True)
        load_before = os.getloadavg()
        info = run_all(args)
        info["loadavg_before"] = load_before
        info["loadavg_after"] = os.getloadavg()
        info["argv"] = command
        collect(out, info)
    res = report(out)
    print(f"compared at epoch {res['epoch_compared']} (all finished: {res['all_finished']})")
    for r in res["rows"]:
        flips = {g: w["sign_flips"] for g, w in r["weights"].items()}
        print(f"  {r['optimizer']:5s} lr {r['lr']:<7g} acc {_ms(r['acc'], '.4f')}  sign flips {flips}")
    print(f"Madam - best {LABELS.get(res['baseline'], res['baseline'])}: "
          f"{_f(res['madam_minus_best_baseline'], '+.4f')}")
    if not args.report_only:
        unfinished = ", ".join(f"{k}: {v}" for k, v in sorted(res["driver"].get("status", {}).items()) if v != "finished")
        print(f"driver wall {res['driver'].get('wall_s', 0):.0f} s; {unfinished or 'every run finished'}")
    if args.tar:
        Path(args.tar).parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(args.tar, "w:gz") as tar:
            for name in ("raw", "snn_compare.json", "snn_compare.md", "snn_compare.png"):
                if (out / name).exists():
                    tar.add(out / name, arcname=f"snn14/{name}")
        print(f"wrote {args.tar} ({Path(args.tar).stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
