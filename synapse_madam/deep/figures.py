"""Figures of deep-net runs: training curves, log|w| histograms, lr sweeps, epoch times and
accuracy against bits per weight. Each returns a Figure; the caller saves it."""

from __future__ import annotations

import numpy as np

from ..plots import colour, colours_for, new_figure

__all__ = ["training_curves", "log_weight_histograms", "lr_sweep", "lr_sweep_panels", "epoch_time_bars",
           "accuracy_vs_bits", "precision_gaps"]


def training_curves(runs: dict[str, list[dict]]):
    """Train loss, test loss and test accuracy per epoch, one line per run (label -> metrics records)."""
    fig, axes = new_figure(1, 3, figsize=(13, 3.6))
    colours = colours_for(runs)
    for label, records in runs.items():
        ep = [r["epoch"] for r in records]
        for ax, key in zip(axes, ("train_loss", "test_loss", "test_acc")):
            ax.plot(ep, [np.nan if r.get(key) is None else r[key] for r in records], marker=".", label=label,
                    color=colours[label])
    for ax, title in zip(axes, ("train loss", "test loss", "test accuracy")):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def log_weight_histograms(weights_by_label: dict[str, dict[str, np.ndarray]], bins: int = 80):
    """Histograms of log10|w| over all weight tensors with >1 dimension, one curve per label.

    Multiplicative updates move log|w| additively, so Madam's weights spread out on a log
    scale (towards log-normal, like measured synapse strengths) while additive optimizers
    keep the shape of the initial distribution (Bernstein et al., NeurIPS 2020).
    """
    fig, ax = new_figure(figsize=(5.5, 3.6))
    colours = colours_for(weights_by_label)
    for label, weights in weights_by_label.items():
        w = np.concatenate([np.abs(np.asarray(a)).ravel() for a in weights.values() if np.ndim(a) > 1] or [np.zeros(0)])
        w = w[w > 0]
        if w.size:
            ax.hist(np.log10(w), bins=bins, histtype="step", density=True, label=label,
                    color=colours[label])
    ax.set_xlabel(r"$\log_{10}|w|$ (weight matrices)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _sweep_axes(ax, rows: list[dict], metric: str, title: str):
    """One panel: mean (over seeds) of ``metric`` normalised to each optimizer's best, vs lr.

    An optimizer whose every lr gives the same value (none trained) has no best lr to normalise
    by: it is drawn dashed, relative to the best value of any optimizer in the panel. An
    optimizer run at a single lr (Madam at its default) is a large diamond drawn above every
    curve, so a curve through the same point cannot hide it.
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
        c = colour(opt)
        if len(lrs) == 1:  # one point: on top, larger, a marker no curve uses
            ax.plot(lrs, means / best, ls="none", marker="D", ms=9, mfc=c, mec="black", mew=1.0, color=c,
                    zorder=5, label=f"{opt} (one lr)")
        else:
            ax.plot(lrs, means / best, marker="o", ms=5, color=c, ls="--" if flat else "-", zorder=2,
                    label=f"{opt} (no lr trained; / best of all)" if flat else opt)
        div = [i for i, lr in enumerate(lrs) if any(r.get("diverged") for r in rows if r["optimizer"] == opt and r["lr"] == lr)]
        if div:  # a cross over every lr where some seed diverged
            ax.plot([lrs[i] for i in div], means[div] / best, "x", color=c, markersize=10, mew=2, zorder=6)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylim(0, 1.08)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)


def lr_sweep(rows: list[dict], metric: str = "final_test_acc", title: str = ""):
    """Performance normalised to each optimizer's best vs learning rate (log x), as in the
    paper's Figure 1 (Bernstein et al., NeurIPS 2020). ``rows``: dicts with optimizer, lr, metric
    (and ``diverged``: those lrs get a cross)."""
    fig, ax = new_figure(figsize=(5, 3.6))
    _sweep_axes(ax, rows, metric, title)
    ax.set_ylabel("test accuracy / best of optimizer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def lr_sweep_panels(tasks: dict[str, list[dict]], metric: str = "final_test_acc"):
    """One :func:`lr_sweep` panel per task, side by side (the layout of the paper's Figure 1)."""
    n = len(tasks)
    fig, axes = new_figure(1, n, figsize=(4.2 * n, 3.6), squeeze=False)
    for ax, (title, rows) in zip(axes[0], tasks.items()):
        _sweep_axes(ax, rows, metric, title)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("test accuracy / best of optimizer")
    fig.tight_layout()
    return fig


def epoch_time_bars(times: dict[str, list[float]], title: str = "", target: float = 1.02):
    """Median epoch time per optimizer variant (bars) with every repeat (dots), relative to the
    first; a dotted line at ``target`` (issue 12: Madam's epoch <= 1.02x Adam's)."""
    fig, ax = new_figure(figsize=(5.5, 3.2))
    names = list(times)
    ref = float(np.median(times[names[0]]))
    for i, name in enumerate(names):
        t = np.asarray(times[name]) / ref
        ax.bar(i, np.median(t), color=colour(name), alpha=0.7)
        ax.plot(np.full(len(t), i), t, "k.", markersize=4)
    ax.axhline(target, color="k", ls=":", lw=1)
    ax.set_xticks(range(len(names)), names, rotation=15, fontsize=8)
    ax.set_ylabel(f"epoch time / {names[0]}")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def accuracy_vs_bits(rows: list[dict]):
    """Test accuracy (mean ± sd over seeds) vs bits per weight, one panel per task: LNSMadam and
    the uniform fixed-point baseline as curves, FP32 Madam and FP32 Adam as horizontal lines.
    ``rows``: dicts with task, label, bits (None for FP32), seed, acc."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = new_figure(1, len(tasks), figsize=(4.6 * len(tasks), 3.6), squeeze=False)
    styles = {"LNSMadam": (colour("lns_madam"), "o", "LNSMadam (log grid, integer add)"),
              "uniform + Adam": (colour("adam_uniform"), "s", "uniform grid + Adam, round to nearest")}
    for ax, task in zip(axes[0], tasks):
        rs = [r for r in rows if r["task"] == task]
        for label, (c, marker, text) in styles.items():
            bits = sorted({r["bits"] for r in rs if r["label"] == label})
            accs = [[100 * r["acc"] for r in rs if r["label"] == label and r["bits"] == b and r["acc"] is not None] for b in bits]
            mean = [np.mean(a) if a else np.nan for a in accs]
            sd = [np.std(a) if a else 0 for a in accs]
            ax.errorbar(bits, mean, yerr=sd, color=c, marker=marker, ms=4, lw=1.2, capsize=2, label=text)
        for label, c in (("FP32 Madam", colour("madam")), ("FP32 Adam", colour("adam"))):
            accs = [100 * r["acc"] for r in rs if r["label"] == label and r["acc"] is not None]
            if accs:
                ax.axhline(np.mean(accs), color=c, ls="--", lw=0.9, label=f"{label} ({np.mean(accs):.1f} %)")
        ax.axvspan(4.5, 5.0, color="0.9", lw=0, label="synapse: ~4.7 bits (Bartol 2015)")
        ax.set_xlabel("bits per weight")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(task)
        ax.set_xticks(sorted({r["bits"] for r in rs if r["bits"]}))
        ax.legend(frameon=False, fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def precision_gaps(panels: dict, *, bartol_spacing: float, spacing_keys: list[str]):
    """Left: accuracy gap to FP32 (points, mean ± sd over seeds) of every weight format, one marker
    colour per task. Right: the gap of the 26-level LNS formats against their level spacing
    ln(base), Bartol et al. 2015's measured spacing marked.

    ``panels``: task -> {format label: (gap, sd, ln(base) or None)}; ``spacing_keys``: the labels
    of the 26-level formats (the right panel, joined by a line). Other formats with a ln(base)
    (LNS formats with another number of levels, e.g. the default 8/5/4-bit ones) are drawn on the
    right panel too, as open markers, so one axis shows whether the spacing or the number of
    levels sets the gap."""
    import matplotlib
    import matplotlib.ticker

    tasks = list(panels)
    labels = list(dict.fromkeys(k for rows in panels.values() for k in rows if k not in spacing_keys[1:]))
    fig, (ax, ax2) = new_figure(1, 2, figsize=(13, 0.32 * max(len(labels), 8) + 1.6),
                                gridspec_kw={"width_ratios": [1.5, 1]})
    cmap = matplotlib.colormaps["tab10"]
    offsets = np.linspace(-0.25, 0.25, max(len(tasks), 1)) if len(tasks) > 1 else [0.0]
    squares_labelled = False
    for ti, task in enumerate(tasks):
        rows = panels[task]
        ys = [i + offsets[ti] for i, k in enumerate(labels) if k in rows]
        xs = [rows[k][0] for k in labels if k in rows]
        es = [rows[k][1] for k in labels if k in rows]
        ax.errorbar(xs, ys, xerr=es, fmt="o", ms=4, color=cmap(ti), capsize=2, lw=1, label=task)
        sp = sorted((rows[k][2], rows[k][0], rows[k][1]) for k in spacing_keys if k in rows and rows[k][2] is not None)
        if sp:
            ax2.errorbar([a for a, _, _ in sp], [g for _, g, _ in sp], yerr=[e for _, _, e in sp], marker="o", ms=4,
                         color=cmap(ti), capsize=2, lw=1.2, label=task)
        other = [(k, *rows[k]) for k in rows if k not in spacing_keys and rows[k][2] is not None]
        for k, g, e, a in other:
            ax2.errorbar([a], [g], yerr=[e], marker="s", ms=5, mfc="none", color=cmap(ti), capsize=2, lw=0,
                         elinewidth=1, label=None if squares_labelled else "other LNS formats (open squares)")
            squares_labelled = True
            ax2.annotate(k.replace("LNSMadam ", ""), (a, g), textcoords="offset points", xytext=(4, 3), fontsize=6,
                         color=cmap(ti))
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    for x, style in ((0, "-"), (-0.5, ":"), (-1.5, "--"), (-2.0, "-.")):
        ax.axvline(x, color="0.5", lw=0.8, ls=style)
    ax.set_xlabel("test accuracy − FP32 Madam (points; lines at 0, −0.5, −1.5, −2: the targets)")
    ax.set_xscale("symlog", linthresh=5.0)
    ticks = [t for t in (-80, -40, -20, -10, -5, -2, -1, 0, 1, 2, 5, 10, 20) if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.grid(alpha=0.3, axis="x")
    # above the axes, not inside: a legend marker inside the panel reads as a data point
    ax.legend(frameon=False, fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0),
              ncol=min(len(tasks), 4), title="colour: task", title_fontsize=8)
    ax2.axvline(bartol_spacing, color="0.4", ls="--", lw=0.9, label="Bartol 2015: 2 x 0.083")
    ax2.axhline(0, color="0.6", lw=0.8)
    ax2.set_xscale("log")
    spacings = sorted({rows[k][2] for rows in panels.values() for k in spacing_keys if k in rows and rows[k][2]})
    if spacings:
        ax2.set_xticks(spacings)
        ax2.set_xticklabels([f"{x:.3g}" for x in spacings], fontsize=8)
        ax2.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax2.set_xlabel("level spacing ln(base) (line: 26 levels; squares: LNSMadam's default range)")
    ax2.set_ylabel("test accuracy − FP32 Madam (points)")
    ax2.set_title("LNS formats: gap against the level spacing", fontsize=9)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8, framealpha=0.9)  # framed: its markers must not read as points of the panel
    fig.tight_layout()
    return fig
