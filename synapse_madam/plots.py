"""matplotlib figures shared by the CLI, notebooks, benchmarks and reports.

Functions build ``matplotlib.figure.Figure`` objects directly (rendered by the Agg canvas, no
pyplot state, no backend switch), so they are safe in scripts, threads and notebooks alike.
:func:`save` writes one as PNG (atomically); :func:`png_bytes` gives the PNG for display.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .io import atomic_write_bytes

__all__ = ["save", "png_bytes", "epoch_time_bars", "training_curves", "weight_histograms", "lr_sweep", "lr_sweep_panels"]


def png_bytes(fig, dpi: int = 120) -> bytes:
    """``fig`` rendered as PNG (e.g. for ``IPython.display.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def save(fig, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically."""
    return atomic_write_bytes(path, png_bytes(fig, dpi))


def _figure(nrows=1, ncols=1, figsize=(5, 3.6), **kw):
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kw)


# ------------------------------------------------------------------------------------ deep nets

OPTIMIZER_COLOURS = {"madam": "C3", "adam": "C0", "sgd": "C2", "sgd_momentum": "C1", "adamw": "C4", "lns_madam": "C5"}


def training_curves(runs: dict[str, list[dict]]):
    """Train loss, test loss and test accuracy per epoch, one line per run (label -> metrics records)."""
    fig, axes = _figure(1, 3, figsize=(13, 3.6))
    for label, records in runs.items():
        ep = [r["epoch"] for r in records]
        for ax, key in zip(axes, ("train_loss", "test_loss", "test_acc")):
            ax.plot(ep, [np.nan if r.get(key) is None else r[key] for r in records], marker=".", label=label)
    for ax, title in zip(axes, ("train loss", "test loss", "test accuracy")):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def weight_histograms(weights_by_label: dict[str, dict[str, np.ndarray]], bins: int = 80):
    """Histograms of log10|w| over all weight tensors with >1 dimension, one curve per label.

    Multiplicative updates move log|w| additively, so Madam's weights spread out on a log
    scale (towards log-normal, like measured synapse strengths) while additive optimizers
    keep the shape of the initial distribution (Bernstein et al., NeurIPS 2020).
    """
    fig, ax = _figure(figsize=(5.5, 3.6))
    for label, weights in weights_by_label.items():
        w = np.concatenate([np.abs(np.asarray(a)).ravel() for a in weights.values() if np.ndim(a) > 1] or [np.zeros(0)])
        w = w[w > 0]
        if w.size:
            ax.hist(np.log10(w), bins=bins, histtype="step", density=True, label=label,
                    color=OPTIMIZER_COLOURS.get(label.split(" ")[0]))
    ax.set_xlabel(r"$\log_{10}|w|$ (weight matrices)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _sweep_axes(ax, rows: list[dict], metric: str, title: str):
    """One panel: mean (over seeds) of ``metric`` normalised to each optimizer's best, vs lr.

    An optimizer whose every lr gives the same value (none trained) has no best lr to normalise
    by: it is drawn dashed, relative to the best value of any optimizer in the panel.
    """
    curves = {}
    for opt in dict.fromkeys(r["optimizer"] for r in rows):
        lrs = sorted({r["lr"] for r in rows if r["optimizer"] == opt})
        means = []
        for lr in lrs:
            vals = [r[metric] for r in rows if r["optimizer"] == opt and r["lr"] == lr]
            means.append(np.mean([0.0 if v is None else v for v in vals]))
        curves[opt] = (lrs, np.array(means))
    overall = max((m.max() for _, m in curves.values() if m.size), default=1.0) or 1.0
    for opt, (lrs, means) in curves.items():
        flat = len(means) > 1 and np.ptp(means) < 1e-12
        best = overall if flat else (means.max() if means.size and means.max() > 0 else 1.0)
        colour = OPTIMIZER_COLOURS.get(opt)
        ax.plot(lrs, means / best, marker="o", color=colour, ls="--" if flat else "-",
                label=f"{opt} (no lr trained; / best of all)" if flat else opt)
        div = [i for i, lr in enumerate(lrs) if any(r.get("diverged") for r in rows if r["optimizer"] == opt and r["lr"] == lr)]
        if div:  # a cross over every lr where some seed diverged
            ax.plot([lrs[i] for i in div], means[div] / best, "x", color=colour, markersize=10, mew=2)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)


def lr_sweep(rows: list[dict], metric: str = "final_test_acc", title: str = ""):
    """Performance normalised to each optimizer's best vs learning rate (log x), as in the
    paper's Figure 1 (Bernstein et al., NeurIPS 2020). ``rows``: dicts with optimizer, lr, metric
    (and ``diverged``: those lrs get a cross)."""
    fig, ax = _figure(figsize=(5, 3.6))
    _sweep_axes(ax, rows, metric, title)
    ax.set_ylabel("test accuracy / best of optimizer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def lr_sweep_panels(tasks: dict[str, list[dict]], metric: str = "final_test_acc"):
    """One :func:`lr_sweep` panel per task, side by side (the layout of the paper's Figure 1)."""
    n = len(tasks)
    fig, axes = _figure(1, n, figsize=(4.2 * n, 3.6), squeeze=False)
    for ax, (title, rows) in zip(axes[0], tasks.items()):
        _sweep_axes(ax, rows, metric, title)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("test accuracy / best of optimizer")
    fig.tight_layout()
    return fig


def epoch_time_bars(times: dict[str, list[float]], title: str = ""):
    """Median epoch time per optimizer variant (bars) with every repeat (dots), relative to the first."""
    fig, ax = _figure(figsize=(5.5, 3.2))
    names = list(times)
    ref = float(np.median(times[names[0]]))
    for i, name in enumerate(names):
        t = np.asarray(times[name]) / ref
        ax.bar(i, np.median(t), color=OPTIMIZER_COLOURS.get(name.split(" ")[0], "grey"), alpha=0.7)
        ax.plot(np.full(len(t), i), t, "k.", markersize=4)
    ax.axhline(1.05, color="k", ls=":", lw=1)
    ax.set_xticks(range(len(names)), names, rotation=15, fontsize=8)
    ax.set_ylabel(f"epoch time / {names[0]}")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
