"""What every figure shares: the style, one colour per optimizer and per rule, and saving.

The figures themselves live beside their substrate (``biology/figures.py``,
``deep/figures.py``, ``rate/figures.py``, ``spiking/figures.py``). Each figure function returns
a :class:`matplotlib.figure.Figure`; the caller decides where to save it (:func:`save_figure`)
or how to show it (:func:`png_bytes`). Figures are built with :func:`new_figure`, outside
pyplot's global figure manager, so nothing needs closing and no display is needed.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .io import atomic_write_bytes  # noqa: E402

__all__ = ["STYLE", "COLOURS", "OPTIMIZER_COLOURS", "RULE_COLOURS", "colour", "colours_for", "new_figure", "save_figure",
           "png_bytes", "safe_filename"]

STYLE = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 7.5,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False,
         "figure.dpi": 100, "savefig.dpi": 200}

# One colour per optimizer (deep and rate learners) and per plasticity rule (spiking), used by every
# figure. Madam and its relatives (LNSMadam, Madam-STDP) share reds; Adam and its fixed-point
# baseline share blues; the additive rules are the additive counterparts' colours.
OPTIMIZER_COLOURS = {
    "madam": "#d62728", "lns_madam": "#ff7f0e", "adam": "#1f77b4", "adam_uniform": "#17becf",
    "adamw": "#9467bd", "sgd": "#2ca02c", "sgd_momentum": "#bcbd22", "sgd_uniform": "#8c564b",
    "log_adam": "#393b79", "log_sgd": "#637939", "adam_float": "#6baed6", "madam_float": "#fd8d3c",
    "neuron_madam": "#7b4173", "madam_neuron_bound": "#e7969c", "madam_scaling": "#a55194", "madam_nero": "#ce6dbd",
    "madam_momentum": "#e6550d", "eg_pm": "#31a354", "paired_madam": "#74c476", "nero": "#3182bd",
}
RULE_COLOURS = {
    "madam": OPTIMIZER_COLOURS["madam"], "additive": "#7f7f7f", "weight_dependent": "#e377c2",
    "van_rossum": "#8c564b", "gutig": "#17becf", "node_perturbation": "#ff9896", "bptt": "#aec7e8",
    "log_stdp": "#843c39", "vogels_madam": "#ad494a",
}
COLOURS = {**RULE_COLOURS, **OPTIMIZER_COLOURS}
# labels that figures receive -> canonical name ("Madam-STDP", "madam lr=0.01", "FP32 Adam", ...)
_ALIASES = {"lnsmadam": "lns_madam", "madam_stdp": "madam", "additive_stdp": "additive", "fp32_madam": "madam",
            "fp32_adam": "adam", "uniform": "adam_uniform", "sgd+momentum": "sgd_momentum"}


def _canonical(label: str) -> str:
    s = str(label).strip().lower()
    s = re.sub(r"\s+lr\s*=.*$", "", s)  # "madam lr=0.01"
    s = re.sub(r"\s+\d+\s*bits?.*$", "", s)  # "LNSMadam 8 bits"
    s = re.sub(r"\s*\+\s*projection$", "", s)  # "Adam + projection"
    s = re.sub(r"[\s-]+", "_", s)
    if s in COLOURS:
        return s
    if s in _ALIASES:
        return _ALIASES[s]
    first = s.split("_")[0]
    return first if first in COLOURS else _ALIASES.get(first, s)


def colour(label: str, default: str = "0.4") -> str:
    """The colour of an optimizer or rule, given its name or a label that starts with it
    ("madam", "Madam-STDP", "madam lr=0.01", "LNSMadam 8 bits", "uniform 5 bits + Adam" is
    the uniform baseline). ``default`` for names that are neither."""
    s = str(label).lower()
    if "uniform" in s:
        return OPTIMIZER_COLOURS["sgd_uniform" if "sgd" in s else "adam_uniform"]
    return COLOURS.get(_canonical(label), default)


def colours_for(labels) -> dict:
    """label -> colour for one figure's lines: :func:`colour` when every label names a different
    optimizer or rule, else matplotlib's default cycle (so two lines never share a colour)."""
    labels = list(labels)
    known = [colour(x, None) for x in labels]
    if None not in known and len(set(known)) == len(known):
        return dict(zip(labels, known))
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return {x: cycle[i % len(cycle)] for i, x in enumerate(labels)}


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize=(5, 3.6), **subplot_kw):
    """A Figure (not held by pyplot, so never leaked) and its axes, drawn with :data:`STYLE`.
    Call inside ``with plt.rc_context(STYLE):`` when the whole figure should use the style."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **subplot_kw)


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
