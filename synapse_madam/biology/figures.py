"""Figures of synapse-weight statistics (from :mod:`synapse_madam.biology`), for any substrate.

Each function returns a :class:`~matplotlib.figure.Figure` (or draws into a given axis); the
caller saves it with :func:`synapse_madam.plots.save_figure`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..plots import STYLE, colour, new_figure, plt

__all__ = ["FIT_STYLE", "CLASS_COLOUR", "CLASS_NAME", "plot_log_histogram", "plot_qq_lognormal",
           "figure_weight_statistics", "figure_sigma_summary", "plot_bounded_histogram",
           "weight_distribution_figure", "atlas_figure"]

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
        fig, axes = new_figure(len(classes), 2, figsize=(8.0, 3.1 * len(classes)), squeeze=False,
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
        fig, ax = new_figure(figsize=(5.0, 1.1 + 0.32 * max(len(labels), 3)))
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
    from .. import biology

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
        fig, axes = new_figure(len(rows), 2, figsize=(8.5, 2.5 * len(rows)), squeeze=False,
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


def atlas_figure(atlas, *, bins: int = 60, title: str | None = None):
    """The atlas (:class:`synapse_madam.atlas.Atlas`): ln|w| densities of every run and weight group
    on one log axis against the reference log-normal (left), and sigma(t) / sigma_ref over each run
    (right), one legend below both. A line's colour is its learner's (as in every figure of the
    library) when every run has a different learner, otherwise its run's; its style is the group.

    Left: each group's ln|w| is centred at its median, so weights in different units (a.u., mV,
    nS) share the axis and only the shape is compared; the x axis is |w| / median(|w|) on a log
    scale, the y axis the density of ln|w| (about sqrt(n) bins, at most ``bins``); the reference is
    N(0, sigma_ref^2), the measured log-normal moved to median 1. A bound shows as a spike, a
    bimodal law as two peaks, a too-narrow law as a tall thin peak. Right: sigma_ln at each logged
    point over the fraction of the run, divided by sigma_ref (1 = cortex's spread; the band is
    +-10 %); a flat last third (shaded) is the stationary state the evidence protocol asks for.
    """
    ref = atlas.reference
    groups = [g for g in atlas.groups if g.ln_w.size > 1]
    runs = list(dict.fromkeys(g.run for g in atlas.groups))
    # colour = the learner's (Madam and Madam-STDP red, Adam blue, ...; plots.colour) when every run has a
    # different learner with a colour of its own; otherwise one colour per run. Line style = the group.
    base = {r: (next((g.learner for g in atlas.groups if g.run == r), None) or "").split(" + ")[0] for r in runs}
    known = [colour(base[r], None) if base[r] else None for r in runs]
    if None not in known and len(set(known)) == len(runs):
        colour_of = dict(zip(runs, known))
    else:
        cycle = list(plt.get_cmap("tab10" if len(runs) <= 10 else "tab20").colors)
        colour_of = {r: cycle[i % len(cycle)] for i, r in enumerate(runs)}
    styles = ["-", "--", ":", "-.", (0, (6, 1.5)), (0, (3, 1, 1, 1, 1, 1))]
    style_of, seen = {}, {}
    for g in atlas.groups:
        style_of[g.label] = styles[seen.setdefault(g.run, 0) % len(styles)]
        seen[g.run] += 1
    centred = {g.label: g.ln_w - np.median(g.ln_w) for g in groups}
    lo = min([-3.5 * ref.sigma] + [float(np.quantile(y, 0.002)) for y in centred.values()])
    hi = max([3.5 * ref.sigma] + [float(np.quantile(y, 0.998)) for y in centred.values()])
    with plt.rc_context(STYLE):
        fig, (ax, ax_t) = new_figure(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
        hists = {}
        for g in groups:
            y = centred[g.label]
            e = np.linspace(lo, hi, int(np.clip(np.sqrt(y.size), 8, bins)) + 1)
            hists[g.label] = (np.histogram(y, bins=e)[0] / (y.size * np.diff(e)), e)  # mass outside stays outside
        # the y axis fits the reference and every group with some spread; a group with sigma ~ 0 (all of
        # its mass in one bin) would flatten everything else, so it runs off the top and says so
        ref_peak = 1 / (ref.sigma * math.sqrt(2 * math.pi))
        top = 1.08 * max([1.1 * ref_peak] + [hists[g.label][0].max() for g in groups
                                             if (g.digest["sigma_ln"] or 0) >= 0.1])
        for g in groups:
            dens, e = hists[g.label]
            off = " (off scale)" if dens.max() > top else ""
            ax.stairs(dens, np.exp(e), color=colour_of[g.run], ls=style_of[g.label], lw=1.4,
                      label=f"{g.run} {g.group} (σ/σ_ref {g.sigma_ratio:.2f}, KS {g.digest['ks_D']:.3f}){off}")
        ax.set_ylim(0, top)
        z = np.linspace(lo, hi, 400)
        ax.plot(np.exp(z), stats.norm.pdf(z, 0.0, ref.sigma), color="k", lw=2.4, alpha=0.8,
                label=f"{ref.citation.short} ({ref.measure}), σ = {ref.sigma:.2f}")
        ax.set_xscale("log")
        ax.set_xlabel("|w| / median |w|  (each group centred at its median, so units drop out)")
        ax.set_ylabel("density of ln|w|")
        ax.set_title(title or f"ln|w| of {len(runs)} run(s) against {ref.citation.short}")
        ax.grid(alpha=0.3)

        ax_t.axhspan(0.9, 1.1, color="k", alpha=0.08, lw=0)
        ax_t.axhline(1.0, color="k", lw=1.2, alpha=0.7)
        ax_t.axvspan(2 / 3, 1, color="tab:green", alpha=0.07, lw=0)
        drawn = 0
        for g in atlas.groups:
            if len(g.sigma_t) < 2:
                continue
            t = np.array([p[0] for p in g.sigma_t], float)
            s = np.array([p[1] for p in g.sigma_t], float)
            frac = (t - t[0]) / (t[-1] - t[0]) if t[-1] > t[0] else np.linspace(0, 1, t.size)
            ax_t.plot(frac, s / ref.sigma, color=colour_of[g.run], ls=style_of[g.label], lw=1.3,
                      marker="." if t.size < 30 else None)
            drawn += 1
        ax_t.set_xlabel("fraction of the run (shaded: the last third, where σ must move < 5 %)")
        ax_t.set_ylabel(f"σ(ln|w|) / σ_ref   (σ_ref = {ref.sigma:.2f}; band ±10 %)")
        ax_t.set_title("σ(t) during each run" if drawn else "σ(t): no run logged its digest during the run")
        ax_t.set_xlim(0, 1)
        ax_t.set_ylim(bottom=0)
        ax_t.grid(alpha=0.3)
        fig.tight_layout()
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2 if len(labels) > 6 else 1,
                   fontsize=7, frameon=False)
    return fig
