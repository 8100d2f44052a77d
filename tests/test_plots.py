"""Shared figure conventions: one colour per optimizer and rule in every figure, figures returned
(not saved), and Madam's single-lr point drawn where no other curve can hide it."""

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from synapse_madam import plots
from synapse_madam.deep import figures as deep_figures
from synapse_madam.optim import OPTIMIZERS
from synapse_madam.rate import figures as rate_figures
from synapse_madam.spiking import figures as spiking_figures


def test_every_optimizer_and_rule_has_its_own_colour():
    from synapse_madam.spiking.plasticity import RULES

    opt = [plots.colour(name, None) for name in OPTIMIZERS]
    assert None not in opt and len(set(opt)) == len(opt), "each optimizer its own colour"
    assert all(plots.colour(name, None) is not None for name in RULES)
    # labels as figures receive them resolve to the same colour
    for label in ("madam", "Madam", "madam lr=0.01", "Madam-STDP", "FP32 Madam"):
        assert plots.colour(label) == plots.OPTIMIZER_COLOURS["madam"], label
    assert plots.colour("LNSMadam 8 bits") == plots.OPTIMIZER_COLOURS["lns_madam"]
    assert plots.colour("uniform 5 bits + Adam") == plots.OPTIMIZER_COLOURS["adam_uniform"]
    assert plots.colour("Adam + projection") == plots.OPTIMIZER_COLOURS["adam"]
    assert plots.colour("additive STDP") == plots.RULE_COLOURS["additive"]
    # labels that name no optimizer fall back to the cycle, never to one shared colour
    fallback = plots.colours_for(["run a", "run b"])
    assert len(set(fallback.values())) == 2


def _records(acc):
    return [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.0 / e, "test_acc": acc} for e in (1, 2, 3)]


def _line_colour(ax, label):
    (line,) = [ln for ln in ax.get_lines() if ln.get_label().startswith(label)]
    return line.get_color()


def test_an_optimizer_has_the_same_colour_in_every_deep_figure():
    rows = [{"optimizer": "adam", "lr": lr, "final_test_acc": a} for lr, a in ((0.1, 0.5), (0.01, 0.9), (0.001, 0.7))]
    rows.append({"optimizer": "madam", "lr": 0.01, "final_test_acc": 0.88})
    sweep_ax = deep_figures.lr_sweep(rows).axes[0]
    curves_ax = deep_figures.training_curves({"adam lr=0.01": _records(0.9), "madam lr=0.01": _records(0.88)}).axes[0]
    w = {"fc.weight": np.random.default_rng(0).normal(size=(8, 8))}
    hist_ax = deep_figures.log_weight_histograms({"adam lr=0.01": w, "madam lr=0.01": w}).axes[0]
    hist_colour = {p.get_label(): p.get_edgecolor() for p in hist_ax.patches}
    from matplotlib.colors import to_rgba

    for opt in ("madam", "adam"):
        want = to_rgba(plots.OPTIMIZER_COLOURS[opt])
        assert to_rgba(_line_colour(sweep_ax, opt)) == want
        assert to_rgba(_line_colour(curves_ax, opt)) == want
        assert hist_colour[f"{opt} lr=0.01"] == want


def test_single_lr_madam_point_is_drawn_on_top_of_a_curve_through_it():
    # Madam's only point and Adam's best both normalise to 1.0 at lr 0.01: the same place
    rows = [{"optimizer": "madam", "lr": 0.01, "final_test_acc": 0.9}]
    rows += [{"optimizer": "adam", "lr": lr, "final_test_acc": a} for lr, a in ((0.1, 0.5), (0.01, 0.9), (0.001, 0.7))]
    ax = deep_figures.lr_sweep(rows).axes[0]
    (madam,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("madam")]
    (adam,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("adam")]
    assert madam.get_xydata().tolist() == [[0.01, 1.0]]
    assert madam.get_zorder() > adam.get_zorder(), "drawn after (above) Adam's curve"
    assert madam.get_marker() != adam.get_marker() and madam.get_markersize() > adam.get_markersize()
    assert ax.get_ylim()[1] > 1.0 + madam.get_markersize() / 200, "the point at 1.0 is not cut by the axis"


def test_figure_functions_return_figures_and_save_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    figs = [
        spiking_figures.spike_raster([0, 1, 2], [0.1, 0.2, 0.3]),
        spiking_figures.weight_traces([0, 1], [[1, 2], [2, 1]]),
        spiking_figures.bar_chart(["a", "b"], [1, 2], ylabel="s", rules=["additive", "madam"]),
        rate_figures.rate_psychometric({"x": [-1, 0, 1], "p_choice0": [0.1, 0.5, 0.9]}),
        rate_figures.rate_learning_curve([{"step": 1, "accuracy": 0.5, "eval_loss": 1.0, "weights": {}}]),
        rate_figures.rate_benchmark_curves({"t": {"Madam": [([0, 1], [0.5, 0.8])]}}),
        rate_figures.rate_weight_hists({"Madam": {g: np.r_[0.1, 0.2, -0.3] for g in ("EE", "EI", "IE", "II")}}),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert list(tmp_path.iterdir()) == []
    buf = plots.png_bytes(figs[0])
    assert buf[:4] == b"\x89PNG" and plots.save_figure(figs[1], tmp_path / "x.png").is_file()
    assert isinstance(io.BytesIO(buf), io.BytesIO)


def test_plots_module_holds_no_substrate_figures():
    substrate = ("lr_sweep", "training_curves", "spike_raster", "rate_psychometric", "weight_distribution_figure",
                 "figure_weight_statistics", "accuracy_vs_bits")
    assert not [name for name in substrate if hasattr(plots, name)]
    with pytest.raises(AttributeError):
        plots.rate_weight_hists  # noqa: B018
