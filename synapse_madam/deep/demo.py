"""The deep-net part of ``synapse-madam demo``: untuned Madam against tuned Adam and SGD.

On scikit-learn's embedded 8x8 digits (no download), an MLP is trained with Madam at its
default lr = 0.01 and with Adam and SGD at several learning rates each. The demo prints a
table, and writes into ``out_dir``: ``deep_table.md``, ``deep_accuracy_vs_lr.png``,
``deep_curves.png``, ``deep_weights.png`` (log10|w| histograms: Madam's multiplicative steps
spread the weights on a log scale) and ``report.md``. A few minutes on a laptop CPU.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..io import atomic_write_text, read_jsonl

__all__ = ["DEMO_SPEC", "DEMO_LRS", "LNS_DEMO_LRS", "LNS_DEMO_POINTS", "run_deep_demo", "run_lns_demo"]

DEMO_SPEC = {
    "substrate": "deep", "name": "demo", "dataset": "digits", "net": "mlp",
    "net_options": {"width": 128, "depth": 3}, "epochs": 30, "batch_size": 32, "seed": 0,
}
# Madam only at its default; the baselines at the lrs one would try when tuning them.
DEMO_LRS = {"madam": [0.01], "adam": [0.1, 0.01, 0.001, 0.0001], "sgd": [1.0, 0.1, 0.01, 0.001]}


def run_deep_demo(out_dir: str | Path = "runs/demo", *, epochs: int | None = None, progress: bool = True,
                  lrs: dict | None = None, print_fn=print) -> dict:
    """Run the deep-net demo into ``out_dir``; return {"rows": [...], "best": {...}}."""
    from .. import plots
    from .figures import log_weight_histograms, lr_sweep, training_curves
    from .runner import run, validate
    from .sweep import best_by_optimizer, sweep_rows_table

    out_dir = Path(out_dir)
    lrs = lrs or DEMO_LRS
    base = dict(DEMO_SPEC, progress=progress)
    if epochs is not None:
        base["epochs"] = epochs
    t0 = time.perf_counter()
    rows, runs = [], {}
    for opt, opt_lrs in lrs.items():
        for lr in opt_lrs:
            spec = validate(dict(base, optimizer=opt, lr=float(lr), name=f"demo/{opt}_lr{lr:g}"), "demo")
            run_dir = out_dir / "deep" / f"{opt}_lr{lr:g}"
            summary = run(spec, run_dir, resume=True)  # a rerun reuses what the same spec made
            rows.append(summary)
            runs[(opt, float(lr))] = run_dir
            print_fn(f"  {opt:6s} lr={lr:<7g} test accuracy {summary['final_test_acc']:.4f}"
                     f"{'  (diverged)' if summary['diverged'] else ''}   {summary['train_time_s']:.1f} s")
    wall = time.perf_counter() - t0
    best = best_by_optimizer(rows)
    table = sweep_rows_table(rows)
    atomic_write_text(out_dir / "deep_table.md", table)
    plots.save_figure(lr_sweep(rows, title="digits MLP"), out_dir / "deep_accuracy_vs_lr.png")
    chosen = {opt: runs[(opt, best[opt][0])] for opt in best}
    plots.save_figure(training_curves({f"{o} lr={best[o][0]:g}": read_jsonl(d / "metrics.jsonl") for o, d in chosen.items()}),
               out_dir / "deep_curves.png")
    import numpy as np

    weights = {f"{o} lr={best[o][0]:g}": dict(np.load(d / "weights.npz")) for o, d in chosen.items()}
    plots.save_figure(log_weight_histograms(weights), out_dir / "deep_weights.png")
    report = _report(table, best, base, wall)
    atomic_write_text(out_dir / "report.md", report)
    atomic_write_text(out_dir / "deep_summary.json", json.dumps({"best": best, "wall_s": wall}, indent=2) + "\n")
    return {"rows": rows, "best": best, "wall_s": wall, "report": report}


# The low-precision part: the demo's MLP trained with B-bit weights. Every format gets the same
# lr grid and stochastic rounding, so the uniform baseline is tuned as much as LNSMadam is.
LNS_DEMO_POINTS = [  # (label, optimizer, optimizer options)
    ("LNSMadam 8 bits", "lns_madam", {"bits": 8, "rounding": "stochastic", "second_moment_dtype": "bfloat16"}),
    ("LNSMadam 5 bits", "lns_madam", {"bits": 5, "rounding": "stochastic", "second_moment_dtype": "bfloat16"}),
    ("uniform 5 bits + Adam", "adam_uniform", {"bits": 5, "rounding": "stochastic"}),
]
LNS_DEMO_LRS = [0.1, 0.01, 0.001]


def run_lns_demo(out_dir: str | Path = "runs/demo", *, epochs: int | None = None, progress: bool = True,
                 lrs=None, print_fn=print) -> dict:
    """Train the demo MLP with LNSMadam (weights as 8- and 5-bit log codes) and with the naive
    baseline (5-bit uniform fixed point + Adam), each at every lr of ``lrs`` (default
    :data:`LNS_DEMO_LRS`) with stochastic rounding; print accuracy and measured bytes/param.
    ``results``: (label, summary at that format's best lr) per format."""
    from .runner import run, validate

    out_dir = Path(out_dir)
    lrs = [float(lr) for lr in (lrs or LNS_DEMO_LRS)]
    base = dict(DEMO_SPEC, progress=progress)
    if epochs is not None:
        base["epochs"] = epochs
    t0 = time.perf_counter()
    lines = ["| weights | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " | best | persistent state (bytes/param) |",
             "|---|" + "---:|" * (len(lrs) + 2)]
    results = []
    for label, opt, options in LNS_DEMO_POINTS:
        tag = label.replace(" ", "_").replace("+", "plus")
        by_lr = {}
        for lr in lrs:
            spec = validate(dict(base, optimizer=opt, lr=lr, optimizer_options=dict(options),
                                 name=f"demo/{tag}_lr{lr:g}"), "demo")
            by_lr[lr] = run(spec, out_dir / "lns" / f"{tag}_lr{lr:g}", resume=True)
        acc = {lr: (s["final_test_acc"] if s["final_test_acc"] is not None and not s["diverged"] else 0.0)
               for lr, s in by_lr.items()}
        best_lr = max(lrs, key=lambda lr: acc[lr])
        best = by_lr[best_lr]
        results.append((label, best))
        print_fn(f"  {label:22s} best test accuracy {acc[best_lr]:.4f} at lr {best_lr:g}   "
                 f"{best['state_bytes_per_param']:.1f} bytes/param")
        cells = [f"**{acc[lr]:.4f}**" if lr == best_lr else f"{acc[lr]:.4f}" for lr in lrs]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {acc[best_lr]:.4f} | {best['state_bytes_per_param']:.1f} |")
    report = "\n".join([
        "# Low precision: weights in a logarithmic number system", "",
        f"The same MLP and data, {base['epochs']} epochs. LNSMadam stores each weight as a sign bit plus an "
        "integer exponent code and trains by integer adds; the baseline rounds Adam's additive step onto a "
        "uniform grid of the same width. Every format ran at the same lrs "
        f"({', '.join(f'{lr:g}' for lr in lrs)}) with stochastic rounding (unbiased, so steps smaller than a "
        "grid level still add up); bold: each format's best lr, which the last columns use (0 = diverged). "
        "FP32 Madam and FP32 Adam hold 8 and 12 bytes/param (see the table above). "
        f"Wall time {time.perf_counter() - t0:.0f} s.", "", *lines, ""])
    return {"results": results, "report": report}


def _report(table: str, best: dict, spec: dict, wall: float) -> str:
    m = best.get("madam", (0.01, float("nan")))[1]
    lines = [
        "# synapse-madam demo: deep nets",
        "",
        f"Task: scikit-learn 8x8 digits (1 438 train / 359 test images), MLP {spec['net_options']}, "
        f"{spec['epochs']} epochs, batch {spec['batch_size']}, seed {spec['seed']}, constant lr. Wall time {wall:.0f} s.",
        "",
        "Madam runs at its default lr = 0.01 only (untuned); Adam and SGD at several lrs (tuned).",
        "",
        table,
        f"Untuned Madam reaches {m:.4f} test accuracy; tuned Adam {best['adam'][1]:.4f} (lr {best['adam'][0]:g}), "
        f"tuned SGD {best['sgd'][1]:.4f} (lr {best['sgd'][0]:g})." if "adam" in best and "sgd" in best else "",
        "",
        "Figures: `deep_accuracy_vs_lr.png` (test accuracy / each optimizer's best, vs lr), "
        "`deep_curves.png` (loss and accuracy per epoch at each optimizer's best lr), "
        "`deep_weights.png` (histograms of log10|w| of the weight matrices; Madam moves log|w| additively, and the "
        "narrow spikes in its histogram are weights held at its magnitude bound w_max = 3 x each layer's initial RMS).",
        "",
        "Each run's folder under `deep/` holds spec.toml, metrics.jsonl, summary.json and weights.npz.",
    ]
    return "\n".join(lines) + "\n"
