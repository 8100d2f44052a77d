"""Matplotlib figures shared by the CLI, notebooks and reports (Agg backend, no display needed).

Sections: common helpers; synapse statistics; spiking networks; rate networks.
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
from scipy import stats  # noqa: E402

from .io import atomic_write_bytes  # noqa: E402

# ============================================================================ common helpers
STYLE = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 7.5,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False,
         "figure.dpi": 100, "savefig.dpi": 200}


def save_figure(fig, path, *, close: bool = True) -> Path:
    """Write ``fig`` as PNG (200 dpi, tight box) atomically; close it unless ``close=False``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    if close:
        plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


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
                       bins: int | None = None):
    """Histogram of magnitudes on a log x-axis, as a density of ln x, with fitted densities.

    A density f(x) is drawn as x f(x), the density of ln x, so a log-normal is a Gaussian bump.
    ``fits``: a :class:`~synapse_madam.biology.FitComparison`. ``reference``: a
    :class:`~synapse_madam.biology.LogNormalReference`, drawn in its own unit when ``unit``
    matches, otherwise moved to the data's median (shape comparison, sigma only).
    """
    x = np.asarray(x, dtype=float)
    lx = np.log(x)
    bins = bins or int(np.clip(2 * len(x) ** (1 / 3), 15, 80))
    edges = np.exp(np.linspace(lx.min(), lx.max(), bins + 1))
    heights, _, _ = ax.hist(x, bins=edges, weights=np.full(x.size, 1.0 / (x.size * np.diff(np.log(edges))[0])),
            color=CLASS_COLOUR.get(sign_class, "0.5"), alpha=0.35, edgecolor="white", linewidth=0.4,
            label=f"data (n = {x.size:,})")
    pad = 0.15 * (lx.max() - lx.min())
    grid = np.exp(np.linspace(lx.min() - pad, lx.max() + pad, 400))
    if fits is not None:
        for f in sorted(fits.fits, key=lambda f: list(FIT_STYLE).index(f.name)):
            label, colour, ls = FIT_STYLE[f.name]
            d = fits.delta_aic[f.name]
            ax.plot(grid, grid * f.pdf(grid), color=colour, ls=ls, lw=1.4 if f.name == "lognormal" else 1.1,
                    label=f"{label} (ΔAIC {d:.0f})")
    if reference is not None:
        same = unit == reference.unit
        mu = reference.mu if same else float(np.median(lx))
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


def weight_histograms(weights: dict, path, reference_sigma: float | None = None, title: str = ""):
    """One row per weight group: histogram of |w| (linear) and of ln|w| with the fitted normal
    (a log-normal |w| is a normal ln|w|); ``reference_sigma`` (e.g. Song et al. 2005's 0.9355)
    is drawn as a normal of that width at the same mean for comparison."""
    rows = [(k, np.asarray(v, dtype=float).ravel()) for k, v in weights.items()]
    fig, axes = plt.subplots(len(rows), 2, figsize=(9, 2.4 * len(rows)), squeeze=False)
    for (label, w), (ax_lin, ax_log) in zip(rows, axes):
        a = np.abs(w)
        ax_lin.hist(a, bins=50, color="tab:blue")
        ax_lin.set_xlabel("|w|")
        ax_lin.set_ylabel(label)
        nz = np.log(a[a > 0])
        if nz.size:
            ax_log.hist(nz, bins=50, density=True, color="tab:gray")
            mu, sd = nz.mean(), nz.std()
            x = np.linspace(nz.min(), nz.max(), 200)
            if sd > 0:
                ax_log.plot(x, np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)), "r",
                            label=f"log-normal fit, σ={sd:.2f}")
            if reference_sigma:
                r = reference_sigma
                ax_log.plot(x, np.exp(-0.5 * ((x - mu) / r) ** 2) / (r * np.sqrt(2 * np.pi)), "k--",
                            label=f"cortex σ={r:.3g}")
            ax_log.legend(fontsize=7)
        ax_log.set_xlabel("ln|w|")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


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
                a3.plot(steps, [r["weights"][g]["log_sd"] for r in rows], label=g)
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
