"""Figures of rate-network runs: psychometric curves, learning curves, benchmark curves and
ln|w| histograms per E/I group. Each returns a Figure (or draws into a given axis)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..plots import STYLE, colours_for, new_figure, plt

__all__ = ["RATE_GROUPS", "plot_psychometric", "rate_psychometric", "rate_learning_curve",
           "rate_benchmark_curves", "rate_weight_hists"]

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


def rate_psychometric(psychometric: dict, *, xlabel: str = "evidence", title: str = ""):
    """Psychometric curve of one trained network (see :func:`plot_psychometric`)."""
    with plt.rc_context(STYLE):
        fig, ax = new_figure(figsize=(4, 3))
        plot_psychometric(ax, psychometric)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        if "x" not in psychometric:
            ax.legend()
    return fig


def rate_learning_curve(history: list[dict], *, title: str = ""):
    """Accuracy and evaluation loss against training step, and sigma(ln|w|) per weight group."""
    rows = [r for r in history if "accuracy" in r]
    steps = [r["step"] for r in rows]
    with plt.rc_context(STYLE):
        fig, (a1, a2, a3) = new_figure(1, 3, figsize=(11, 3))
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
    return fig


def rate_benchmark_curves(curves: dict, *, key: str = "accuracy", ylabel: str = "accuracy"):
    """One panel per task: ``key`` against step (or wall time) per learner, mean over seeds with
    the seeds as thin lines. ``curves``: {task: {learner: [(x, y), ...] per seed]}}."""
    tasks = list(curves)
    with plt.rc_context(STYLE):
        fig, axes = new_figure(1, len(tasks), figsize=(3.6 * len(tasks), 3), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            colours = colours_for(curves[task])
            for learner, seeds in curves[task].items():
                for i, (x, y) in enumerate(seeds):
                    ax.plot(x, y, color=colours[learner], lw=1, alpha=0.8, label=learner if i == 0 else None)
            ax.set_title(task)
            ax.set_xlabel("training step")
            ax.set_ylabel(ylabel)
            ax.legend()
        fig.tight_layout()
    return fig


def rate_weight_hists(weights_by_learner: dict, *, reference_sigma: float | None = None,
                      groups=("EE", "EI", "IE", "II")):
    """Histograms of ln|w| (nonzero synapses) per E/I group (columns) and learner (colours),
    with the count of exact zeros in the legend and a normal of the reference sigma (cortex)
    at the mean of the first learner for comparison."""
    with plt.rc_context(STYLE):
        fig, axes = new_figure(1, len(groups), figsize=(3.2 * len(groups), 2.8), squeeze=False)
        for ax, g in zip(axes[0], groups):
            first = None
            colours = colours_for(weights_by_learner)
            for learner, w in weights_by_learner.items():
                w = np.asarray(w[g], dtype=float)
                nz = np.log(np.abs(w[w != 0]))
                if first is None:
                    first = nz
                ax.hist(nz, bins=40, density=True, histtype="step", lw=1.2, color=colours[learner],
                        label=f"{learner} (σ={nz.std():.2f}, zeros={int(np.sum(w == 0))})")
            if reference_sigma and first is not None and first.size:
                x = np.linspace(first.min(), first.max(), 200)
                ax.plot(x, stats.norm.pdf(x, first.mean(), reference_sigma), "k--", lw=1, label=f"cortex σ={reference_sigma:.2f}")
            ax.set_title(g)
            ax.set_xlabel("ln|w|")
            ax.legend(fontsize=6)
        fig.tight_layout()
    return fig
