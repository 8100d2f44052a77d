"""Figures of spiking runs: spike rasters, weight traces and per-rule bars. Each returns a
Figure; the caller saves it. Weight histograms: :mod:`synapse_madam.biology.figures`."""

from __future__ import annotations

import numpy as np

from ..plots import STYLE, colour, new_figure, plt

__all__ = ["spike_raster", "weight_traces", "bar_chart"]


def spike_raster(i, t, n_show: int = 200, title: str = ""):
    """Raster of the first ``n_show`` neurons (t in seconds)."""
    i, t = np.asarray(i), np.asarray(t)
    keep = i < n_show
    with plt.rc_context(STYLE):
        fig, ax = new_figure(figsize=(8, 3))
        ax.plot(t[keep], i[keep], ",k")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("neuron")
        ax.set_title(title)
    return fig


def weight_traces(t, w, title: str = ""):
    """Weights over time: ``w`` has one row per recorded synapse, ``t`` in seconds."""
    with plt.rc_context(STYLE):
        fig, ax = new_figure(figsize=(6, 3))
        for row in np.atleast_2d(np.asarray(w)):
            ax.plot(t, row)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("w")
        ax.set_title(title)
    return fig


def bar_chart(labels, values, ylabel: str, title: str = "", rules=None):
    """A labelled bar chart (e.g. wall time per rule and target); ``rules`` (one per bar) picks
    each bar's colour from :func:`synapse_madam.plots.colour`."""
    with plt.rc_context(STYLE):
        fig, ax = new_figure(figsize=(max(4, 0.7 * len(labels)), 3))
        colours = [colour(r) for r in rules] if rules is not None else "0.4"
        ax.bar(range(len(values)), values, color=colours)
        ax.set_xticks(range(len(values)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    return fig
