"""Matplotlib figures shared by the CLI, notebooks and reports (Agg backend, no display needed).

Sections: common helpers; synapse statistics; spiking networks; deep nets; low precision;
rate networks.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import stats  # noqa: E402

from .io import atomic_write_bytes  # noqa: E402

# ============================================================================ common helpers
STYLE = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 7.5,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False,
         "figure.dpi": 100, "savefig.dpi": 200}


def save_figure(fig, path, *, dpi: int | None = None, close: bool = True) -> Path:
    """Write ``fig`` as PNG (200 dpi unless ``dpi``; tight box) atomically; close it unless ``close=False``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", **({"dpi": dpi} if dpi else {}))
    if close:
        plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def png_bytes(fig, dpi: int = 120) -> bytes:
    """``fig`` rendered as PNG (e.g. for ``IPython.display.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def safe_filename(name: str) -> str:
    """A weight-group name as a file-name fragment ("fc1.weight" stays, "E->E" -> "E--E")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)).strip("-") or "weights"


# ============================================================================ synapse statistics
FIT_STYLE = {  # name -> (label, colour, linestyle)
    "lognormal": ("log-normal", "#c0392b", "-"),
    "lognormal_mixture": ("2-log-normal mix", "#8e44ad", "--"),
    "gamma": ("gamma", "#27ae60", "-."),
    "normal": ("normal", "#7f8c8d", ":"),
}
CLASS_COLOUR = {"E": "#2c7fb8", "I": "#d95f0e"}
CLASS_NAME = {"E": "excitatory (w > 0)", "I": "inhibitory (|w|, w < 0)"}


def plot_log_histogram(ax, x, fits=None, reference=None, *, sign_class: str = "E", unit: str = "a.u.",
                       bins: int | None = None, clip: float = 0.0):
    """Histogram of magnitudes on a log x-axis, as a density of ln x, with fitted densities.

    A density f(x) is drawn as x f(x), the density of ln x, so a log-normal is a Gaussian bump.
    ``fits``: a :class:`~synapse_madam.biology.FitComparison` (every candidate, with its ΔAIC) or
    a :class:`~synapse_madam.biology.LogNormalFit` (the log-normal only). ``reference``: a
    :class:`~synapse_madam.biology.LogNormalReference`, drawn in its own unit when ``unit``
    matches, otherwise moved to the data's median (shape comparison, sigma only). ``clip`` > 0
    draws only the magnitudes between the ``clip`` and ``1 - clip`` quantiles (a few extreme
    weights would otherwise squeeze the bulk); the density stays that of all the data, the fits
    use all of it, and the legend says how many were left out.
    """
    x = np.asarray(x, dtype=float)
    lx_all = np.log(x)
    if not 0 <= clip < 0.5:
        raise ValueError(f"plot_log_histogram: clip={clip!r}; must be in [0, 0.5), e.g. 0.001.")
    lo, hi = np.quantile(lx_all, [clip, 1 - clip]) if clip else (lx_all.min(), lx_all.max())
    lx = lx_all[(lx_all >= lo) & (lx_all <= hi)]
    bins = bins or int(np.clip(2 * len(x) ** (1 / 3), 15, 80))
    edges = np.exp(np.linspace(lx.min(), lx.max(), bins + 1))
    left_out = f"; {x.size - lx.size:,} outside" if lx.size < x.size else ""
    heights, _, _ = ax.hist(np.exp(lx), bins=edges, weights=np.full(lx.size, 1.0 / (x.size * np.diff(np.log(edges))[0])),
            color=CLASS_COLOUR.get(sign_class, "0.5"), alpha=0.35, edgecolor="white", linewidth=0.4,
            label=f"data (n = {x.size:,}{left_out})")
    pad = 0.15 * (lx.max() - lx.min())
    grid = np.exp(np.linspace(lx.min() - pad, lx.max() + pad, 400))
    if fits is not None and not hasattr(fits, "fits"):  # a LogNormalFit
        label, colour, ls = FIT_STYLE["lognormal"]
        ax.plot(grid, stats.norm.pdf(np.log(grid), fits.mu, fits.sigma), color=colour, ls=ls, lw=1.4,
                label=f"{label} fit (σ {fits.sigma:.2f})")
    elif fits is not None:
        for f in sorted(fits.fits, key=lambda f: list(FIT_STYLE).index(f.name)):
            label, colour, ls = FIT_STYLE[f.name]
            d = fits.delta_aic[f.name]
            ax.plot(grid, grid * f.pdf(grid), color=colour, ls=ls, lw=1.4 if f.name == "lognormal" else 1.1,
                    label=f"{label} (ΔAIC {d:.0f})")
    if reference is not None:
        same = unit == reference.unit
        mu = reference.mu if same else float(np.median(lx_all))
        rgrid = grid if not same else np.exp(np.linspace(min(lx.min(), mu - 3.5 * reference.sigma),
                                                         max(lx.max(), mu + 3.5 * reference.sigma), 400))
        where = "" if same else ", aligned"
        ax.plot(rgrid, stats.norm.pdf(np.log(rgrid), mu, reference.sigma), color="black", lw=1.0,
                ls=(0, (4, 2)), label=f"{reference.citation.short} (σ {reference.sigma:.2f}{where})")
    ax.set_xscale("log")
    ax.set_xlabel(f"|w| ({unit})")
    ax.set_ylabel("density of ln |w|")
    # y range from the data and the log-normal fit, not from a spiky mixture component at an atom
    peak = max(heights.max(), 1 / (math.sqrt(2 * math.pi) * np.log(x).std()))
    ax.set_ylim(0, 1.75 * peak)
    ax.legend(frameon=False, loc="upper left", ncol=2, columnspacing=1.0, handlelength=2.2)
    return ax


def plot_qq_lognormal(ax, x, *, sign_class: str = "E", max_points: int = 2000, level: float = 0.95):
    """Q–Q plot of standardised ln x against N(0, 1), with a pointwise ``level`` envelope.

    Points on the diagonal mean log-normal. The envelope of the i-th order statistic comes from
    U_(i) ~ Beta(i, n + 1 - i) mapped through the normal quantile function; with estimated mu and
    sigma it is approximate (slightly too wide in the centre).
    """
    y = np.sort(np.log(np.asarray(x, dtype=float)))
    n = y.size
    z = (y - y.mean()) / y.std()
    i = np.arange(1, n + 1)
    theo = stats.norm.ppf((i - 0.5) / n)
    keep = np.unique(np.linspace(0, n - 1, min(n, max_points)).astype(int))
    lo = stats.norm.ppf(stats.beta.ppf((1 - level) / 2, i[keep], n + 1 - i[keep]))
    hi = stats.norm.ppf(stats.beta.ppf((1 + level) / 2, i[keep], n + 1 - i[keep]))
    ax.fill_between(theo[keep], lo, hi, color="0.85", lw=0, label=f"{level:.0%} pointwise envelope")
    lim = [min(theo[0], z[0]) - 0.2, max(theo[-1], z[-1]) + 0.2]
    ax.plot(lim, lim, color="black", lw=0.8)
    ax.plot(theo[keep], z[keep], ".", ms=2.5, color=CLASS_COLOUR.get(sign_class, "0.3"), label="data")
    ax.set_xlabel("normal quantile")
    ax.set_ylabel("standardised ln |w|")
    ax.legend(frameon=False, loc="upper left")
    return ax


def figure_weight_statistics(group, reference=None, *, unit: str = "a.u.", title: str | None = None):
    """One row per sign class: log-axis histogram with fits and reference | Q–Q vs log-normal.

    ``group``: a :class:`~synapse_madam.biology.summary.GroupStats` (from ``analyze``).
    """
    classes = group.classes
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(classes), 2, figsize=(8.0, 3.1 * len(classes)), squeeze=False,
                                 gridspec_kw={"width_ratios": [2.0, 1]})
        for row, c in zip(axes, classes):
            x = group.magnitudes[c.sign_class]
            plot_log_histogram(row[0], x, c.fits, reference, sign_class=c.sign_class, unit=unit)
            ln = c.fits.lognormal
            row[0].set_title(f"{CLASS_NAME[c.sign_class]}: μ = {ln.mu:.2f}, σ = {ln.sigma:.2f} "
                             f"[{ln.sigma_ci[0]:.2f}, {ln.sigma_ci[1]:.2f}]", loc="left")
            plot_qq_lognormal(row[1], x, sign_class=c.sign_class)
            p = c.fits["lognormal"].ad_p
            row[1].set_title(f"Q–Q vs log-normal (AD p = {p:.3f})", loc="left")
        fig.suptitle(title or f"weight group {group.name}", x=0.01, ha="left", fontsize=10)
        fig.tight_layout()
    return fig


def figure_sigma_summary(report, *, title: str | None = None):
    """σ of ln|w| with its CI for every group and sign class, against the reference's σ."""
    labels, sig, lo, hi, cols = [], [], [], [], []
    for g in report.groups:
        for c in g.classes:
            ln = c.fits.lognormal
            labels.append(f"{g.name} [{c.sign_class}]")
            sig.append(ln.sigma)
            lo.append(ln.sigma - ln.sigma_ci[0])
            hi.append(ln.sigma_ci[1] - ln.sigma)
            cols.append(CLASS_COLOUR[c.sign_class])
    ref = report.reference
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(5.0, 1.1 + 0.32 * max(len(labels), 3)))
        ypos = np.arange(len(labels))[::-1]
        for y, s, l_, h_, col in zip(ypos, sig, lo, hi, cols):
            ax.errorbar(s, y, xerr=[[l_], [h_]], fmt="o", ms=4, color=col, capsize=2, lw=1)
        ax.axvline(ref.sigma, color="black", ls=(0, (4, 2)), lw=1)
        ax.text(ref.sigma, ypos.mean(), f"{ref.citation.short}: σ = {ref.sigma:.2f} ", rotation=90,
                ha="right", va="center", fontsize=7.5)
        ax.set_yticks(ypos, labels)
        ax.set_ylim(-0.7, ypos.max() + 0.7)
        if title:
            ax.set_title(title, loc="left")
        ax.set_xlabel(f"σ of ln |w| ({report.settings['ci_level']:.0%} bootstrap CI)")
        xmax = max(max(np.array(sig) + np.array(hi)), ref.sigma)
        ax.set_xlim(0, xmax * 1.15 if math.isfinite(xmax) else 1)
        fig.tight_layout()
    return fig


# ============================================================================ spiking networks


def _per_group(value, group: str, default=None):
    """``value`` if it is not a dict, else ``value.get(group, default)``."""
    return value.get(group, default) if isinstance(value, dict) else (default if value is None else value)


def plot_bounded_histogram(ax, w, *, upper: float | None = None, sign_class: str = "E", unit: str = "a.u.",
                           bins: int = 50):
    """Histogram of |w| on a linear axis from 0 to the rule's bound, exact zeros included.

    Shows what a log axis cannot: the pile-up of hard-bounded additive STDP at 0 and at g_max
    (Song, Miller & Abbott 2000); the bound is drawn as a dashed line.
    """
    a = np.abs(np.asarray(w, dtype=float).ravel())
    top = float(upper) if upper else float(a.max()) if a.size else 1.0
    ax.hist(a, bins=np.linspace(0, max(top, float(a.max()) if a.size else top), bins + 1),
            color=CLASS_COLOUR.get(sign_class, "0.5"), alpha=0.6, edgecolor="white", linewidth=0.3)
    if upper:
        ax.axvline(upper, color="black", lw=0.8, ls=(0, (4, 2)))
        ax.text(upper, ax.get_ylim()[1] * 0.97, "bound ", ha="right", va="top", fontsize=7)
    ax.set_xlabel(f"|w| ({unit})")
    ax.set_ylabel("synapses")
    return ax


def weight_distribution_figure(weights: dict, *, unit="a.u.", bounds=None, reference="song2005", title: str = ""):
    """Final weights of spiking runs: one row per weight group and sign class.

    Left: |w| on a linear axis up to the rule's bound (:func:`plot_bounded_histogram`). Right: the
    log-axis histogram with the fitted log-normal and the reference (default Song et al. 2005),
    drawn by :func:`plot_log_histogram`; the title gives σ of ln|w|, σ / σ_ref and the KS distance
    to the fitted log-normal (all from :mod:`synapse_madam.biology`). ``unit`` and ``bounds`` are
    one value or a dict by group (e.g. network (a) weights in g_leak, network (b) in mV).
    """
    from . import biology

    ref = biology.reference_distribution(reference)
    rows = []
    for group, w in weights.items():
        w = np.asarray(w, dtype=float).ravel()
        classes = biology.split_by_sign(w, zeros="drop")[0] if np.any(w != 0) else {}
        for cls, x in classes.items():  # exact zeros belong to the class of a one-signed group
            sel = (w > 0) if cls == "E" else (w < 0)
            rows.append((group, cls, w[sel | (w == 0)] if len(classes) == 1 else w[sel], x))
    if not rows:
        raise ValueError("weight_distribution_figure: no nonzero weights to plot.")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(rows), 2, figsize=(8.5, 2.5 * len(rows)), squeeze=False,
                                 gridspec_kw={"width_ratios": [1, 1.5]})
        for (group, cls, w, x), (ax_lin, ax_log) in zip(rows, axes):
            u = _per_group(unit, group, "a.u.")
            n_zero = int(np.sum(w == 0))
            plot_bounded_histogram(ax_lin, w, upper=_per_group(bounds, group), sign_class=cls, unit=u)
            ax_lin.set_title(f"{group} [{cls}]" + (f": {n_zero} at exactly 0" if n_zero else ""), loc="left")
            if x.size >= 4 and np.unique(x).size > 1:
                fit = biology.fit_lognormal(x, n_boot=0)
                plot_log_histogram(ax_log, x, fit, ref, sign_class=cls, unit=u, clip=0.001)
                ks = biology.lognormal_gof(x, n_mc=0).ks
                ax_log.set_title(f"σ(ln|w|) = {fit.sigma:.2f} ({fit.sigma / ref.sigma:.2f} × {ref.citation.short}); "
                                 f"KS D to fit {ks:.3f}", loc="left")
            else:
                ax_log.text(0.5, 0.5, "fewer than 4 distinct weights", ha="center", transform=ax_log.transAxes)
        fig.tight_layout()
        if title:
            fig.suptitle(title, x=0.01, y=1.0, ha="left", va="bottom", fontsize=10)
    return fig


def spike_raster(i, t, path, n_show: int = 200, title: str = ""):
    """Raster of the first ``n_show`` neurons (t in seconds)."""
    i, t = np.asarray(i), np.asarray(t)
    keep = i < n_show
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(t[keep], i[keep], ",k")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    ax.set_title(title)
    return save_figure(fig, path)


def weight_traces(t, w, path, title: str = ""):
    """Weights over time: ``w`` has one row per recorded synapse, ``t`` in seconds."""
    fig, ax = plt.subplots(figsize=(6, 3))
    for row in np.atleast_2d(np.asarray(w)):
        ax.plot(t, row)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("w")
    ax.set_title(title)
    return save_figure(fig, path)


def bar_chart(labels, values, path, ylabel: str, title: str = ""):
    """A labelled bar chart (e.g. wall time per rule and target)."""
    fig, ax = plt.subplots(figsize=(max(4, 0.7 * len(labels)), 3))
    ax.bar(range(len(values)), values, color="tab:blue")
    ax.set_xticks(range(len(values)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return save_figure(fig, path)


def _figure(nrows=1, ncols=1, figsize=(5, 3.6), **kw):
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kw)


# ============================================================================ deep nets

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


def log_weight_histograms(weights_by_label: dict[str, dict[str, np.ndarray]], bins: int = 80):
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


# ============================================================================ low precision


def accuracy_vs_bits(rows: list[dict]):
    """Test accuracy (mean ± sd over seeds) vs bits per weight, one panel per task: LNSMadam and
    the uniform fixed-point baseline as curves, FP32 Madam and FP32 Adam as horizontal lines.
    ``rows``: dicts with task, label, bits (None for FP32), seed, acc."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = _figure(1, len(tasks), figsize=(4.6 * len(tasks), 3.6), squeeze=False)
    styles = {"LNSMadam": ("C3", "o", "LNSMadam (log grid, integer add)"),
              "uniform + Adam": ("C0", "s", "uniform grid + Adam, round to nearest")}
    for ax, task in zip(axes[0], tasks):
        rs = [r for r in rows if r["task"] == task]
        for label, (colour, marker, text) in styles.items():
            bits = sorted({r["bits"] for r in rs if r["label"] == label})
            accs = [[100 * r["acc"] for r in rs if r["label"] == label and r["bits"] == b and r["acc"] is not None] for b in bits]
            mean = [np.mean(a) if a else np.nan for a in accs]
            sd = [np.std(a) if a else 0 for a in accs]
            ax.errorbar(bits, mean, yerr=sd, color=colour, marker=marker, ms=4, lw=1.2, capsize=2, label=text)
        for label, colour in (("FP32 Madam", "C3"), ("FP32 Adam", "C0")):
            accs = [100 * r["acc"] for r in rs if r["label"] == label and r["acc"] is not None]
            if accs:
                ax.axhline(np.mean(accs), color=colour, ls="--", lw=0.9, label=f"{label} ({np.mean(accs):.1f} %)")
        ax.axvspan(4.5, 5.0, color="0.9", lw=0, label="synapse: ~4.7 bits (Bartol 2015)")
        ax.set_xlabel("bits per weight")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(task)
        ax.set_xticks(sorted({r["bits"] for r in rs if r["bits"]}))
        ax.legend(frameon=False, fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


# ============================================================================ rate networks
RATE_GROUPS = ("EE", "EI", "IE", "II", "in", "out")


def plot_psychometric(ax, psychometric: dict, *, label: str | None = None, color=None):
    """P(choice 0) against the signed evidence. ``psychometric``: {"x", "p_choice0"} or, for the
    context task, {context: {"x", "p_choice0"}} (one line per context)."""
    if "x" in psychometric:
        ax.plot(psychometric["x"], psychometric["p_choice0"], "o-", ms=3, label=label, color=color)
    else:
        names = {"0": "motion context", "1": "colour context"}
        for (key, curve), ls in zip(psychometric.items(), ("-", "--", ":")):
            ax.plot(curve["x"], curve["p_choice0"], "o" + ls, ms=3, color=color,
                    label=f"{label + ', ' if label else ''}{names.get(key, key)}")
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("P(choice 1)")


def rate_psychometric(psychometric: dict, path, *, xlabel: str = "evidence", title: str = ""):
    """Psychometric curve of one trained network (see :func:`plot_psychometric`)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(4, 3))
        plot_psychometric(ax, psychometric)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        if "x" not in psychometric:
            ax.legend()
    return save_figure(fig, path)


def rate_learning_curve(history: list[dict], path, *, title: str = ""):
    """Accuracy and evaluation loss against training step, and sigma(ln|w|) per weight group."""
    rows = [r for r in history if "accuracy" in r]
    steps = [r["step"] for r in rows]
    with plt.rc_context(STYLE):
        fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(11, 3))
        a1.plot(steps, [r["accuracy"] for r in rows], "k.-")
        a1.set_ylabel("accuracy")
        a2.plot(steps, [r["eval_loss"] for r in rows], "k.-")
        a2.set_ylabel("eval loss")
        for g in RATE_GROUPS:
            if rows and g in rows[0].get("weights", {}):
                a3.plot(steps, [r["weights"][g]["sigma_ln"] for r in rows], label=g)
        a3.set_ylabel("σ(ln|w|)")
        a3.legend(ncol=2)
        for ax in (a1, a2, a3):
            ax.set_xlabel("step")
        fig.suptitle(title)
        fig.tight_layout()
    return save_figure(fig, path)


def rate_benchmark_curves(curves: dict, path, *, key: str = "accuracy", ylabel: str = "accuracy"):
    """One panel per task: ``key`` against step (or wall time) per learner, mean over seeds with
    the seeds as thin lines. ``curves``: {task: {learner: [(x, y), ...] per seed]}}."""
    tasks = list(curves)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(tasks), figsize=(3.6 * len(tasks), 3), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            for (learner, seeds), colour in zip(curves[task].items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
                for i, (x, y) in enumerate(seeds):
                    ax.plot(x, y, color=colour, lw=1, alpha=0.8, label=learner if i == 0 else None)
            ax.set_title(task)
            ax.set_xlabel("training step")
            ax.set_ylabel(ylabel)
            ax.legend()
        fig.tight_layout()
    return save_figure(fig, path)


def rate_weight_hists(weights_by_learner: dict, path, *, reference_sigma: float | None = None,
                      groups=("EE", "EI", "IE", "II")):
    """Histograms of ln|w| (nonzero synapses) per E/I group (columns) and learner (colours),
    with the count of exact zeros in the legend and a normal of the reference sigma (cortex)
    at the mean of the first learner for comparison."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(groups), figsize=(3.2 * len(groups), 2.8), squeeze=False)
        for ax, g in zip(axes[0], groups):
            first = None
            for learner, w in weights_by_learner.items():
                w = np.asarray(w[g], dtype=float)
                nz = np.log(np.abs(w[w != 0]))
                if first is None:
                    first = nz
                ax.hist(nz, bins=40, density=True, histtype="step", lw=1.2,
                        label=f"{learner} (σ={nz.std():.2f}, zeros={int(np.sum(w == 0))})")
            if reference_sigma and first is not None and first.size:
                x = np.linspace(first.min(), first.max(), 200)
                ax.plot(x, stats.norm.pdf(x, first.mean(), reference_sigma), "k--", lw=1, label=f"cortex σ={reference_sigma:.2f}")
            ax.set_title(g)
            ax.set_xlabel("ln|w|")
            ax.legend(fontsize=6)
        fig.tight_layout()
    return save_figure(fig, path)
