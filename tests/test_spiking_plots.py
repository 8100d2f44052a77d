"""The spiking weight figure draws through the synapse-statistics figure code (no Brian2 needed)."""

import numpy as np
import pytest

from synapse_madam import plots
from synapse_madam.biology.figures import weight_distribution_figure
from synapse_madam.biology import reference_distribution


def test_weight_distribution_figure_rows_bounds_and_reference(tmp_path):
    rng = np.random.default_rng(0)
    additive = np.r_[np.zeros(50), rng.uniform(0, 0.01, 300), np.full(150, 0.01)]
    inhibitory = -rng.lognormal(np.log(0.5), 0.9, 400)  # mV, like Song 2005's EPSPs
    fig = weight_distribution_figure({"EE": additive, "IE": inhibitory}, unit={"EE": "g_leak", "IE": "mV"},
                                     bounds={"EE": 0.01}, title="t")
    axes = fig.axes
    assert len(axes) == 4  # one row per group and sign class: bounded linear | log-axis histogram
    lin_ee, log_ee, lin_ie, log_ie = axes
    assert "50 at exactly 0" in lin_ee.get_title(loc="left") and lin_ee.get_xscale() == "linear"
    assert sum(p.get_height() for p in lin_ee.patches) == additive.size, "zeros are counted on the linear axis"
    assert any(ln.get_xdata()[0] == 0.01 for ln in lin_ee.get_lines()), "the bound is drawn"
    assert log_ee.get_xscale() == "log" and "Song et al. 2005" in log_ee.get_title(loc="left")
    song = reference_distribution("song2005")
    (ref_line,) = [ln for ln in log_ie.get_lines() if "Song" in ln.get_label()]
    x, y = ref_line.get_data()
    assert x[np.argmax(y)] == pytest.approx(np.exp(song.mu), rel=0.05), "in mV the reference is drawn in place"
    assert any(ln.get_label().startswith("log-normal fit") for ln in log_ie.get_lines())
    assert plots.save_figure(fig, tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="no nonzero"):
        weight_distribution_figure({"EE": np.zeros(5)})
