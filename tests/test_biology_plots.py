"""Synapse-statistics figures: what they draw, not how they look."""

import numpy as np
import pytest

from synapse_madam import plots
from synapse_madam.biology import figures
from synapse_madam.biology import analyze, reference_distribution

SONG = reference_distribution("song2005")


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(0)
    w = np.r_[rng.lognormal(2.0, 0.5, 400), -rng.lognormal(1.0, 0.7, 300)]
    return analyze({"layer": w}, SONG, n_boot=50, n_mc=20, n_sim=20)


def _reference_peak(ax):
    (line,) = [ln for ln in ax.get_lines() if "Song" in ln.get_label()]
    x, y = line.get_data()
    return x[np.argmax(y)]


@pytest.mark.parametrize("unit", ["a.u.", "mV"])
def test_histogram_draws_fits_and_reference_where_it_belongs(report, unit):
    group = report.groups[0]
    fig = figures.figure_weight_statistics(group, SONG, unit=unit)
    hist_ax, qq_ax = fig.axes[0], fig.axes[1]
    assert len(fig.axes) == 4 and hist_ax.get_xscale() == "log"
    labels = [ln.get_label() for ln in hist_ax.get_lines()]
    assert sum(lab.startswith(("log-normal", "normal", "gamma", "2-log-normal")) for lab in labels) == 4
    x = group.magnitudes["E"]
    # a.u.: the reference shape is moved to the data's median; mV: drawn where cortex is
    expected = np.exp(np.median(np.log(x))) if unit == "a.u." else np.exp(SONG.mu)
    assert _reference_peak(hist_ax) == pytest.approx(expected, rel=0.05)
    pts = [ln for ln in qq_ax.get_lines() if ln.get_label() == "data"][0].get_data()
    assert np.corrcoef(*pts)[0, 1] > 0.98  # log-normal data lie on the Q-Q diagonal


def test_sigma_summary_and_save(report, tmp_path):
    fig = figures.figure_sigma_summary(report, title="t")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["layer [E]", "layer [I]"]
    path = plots.save_figure(fig, tmp_path / "s.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert plots.safe_filename("E->E / x") == "E--E-x" and plots.safe_filename("fc1.weight") == "fc1.weight"
