"""Figures shared by the CLI, notebooks, benchmarks and reports (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)  # atomic
    _pyplot().close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# Spiking networks (synapse_madam.spiking)
# ---------------------------------------------------------------------------------------------


def weight_histograms(weights: dict, path, reference_sigma: float | None = None, title: str = ""):
    """One row per weight group: histogram of |w| (linear) and of ln|w| with the fitted normal
    (a log-normal |w| is a normal ln|w|); ``reference_sigma`` (e.g. Song et al. 2005's 0.9355)
    is drawn as a normal of that width at the same mean for comparison."""
    plt = _pyplot()
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
    return _save(fig, path)


def spike_raster(i, t, path, n_show: int = 200, title: str = ""):
    """Raster of the first ``n_show`` neurons (t in seconds)."""
    plt = _pyplot()
    i, t = np.asarray(i), np.asarray(t)
    keep = i < n_show
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(t[keep], i[keep], ",k")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    ax.set_title(title)
    return _save(fig, path)


def weight_traces(t, w, path, title: str = ""):
    """Weights over time: ``w`` has one row per recorded synapse, ``t`` in seconds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    for row in np.atleast_2d(np.asarray(w)):
        ax.plot(t, row)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("w")
    ax.set_title(title)
    return _save(fig, path)


def bar_chart(labels, values, path, ylabel: str, title: str = ""):
    """A labelled bar chart (e.g. wall time per rule and target)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4, 0.7 * len(labels)), 3))
    ax.bar(range(len(values)), values, color="tab:blue")
    ax.set_xticks(range(len(values)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return _save(fig, path)
