"""`stats` at scale: above 10^5 values the bootstrap and the dip test use a random subsample of
10^5, say so, and still give CIs for all n values (m-out-of-n rescaling); progress on a terminal."""

import io
import json
import math
import sys

import numpy as np
import pytest

from synapse_madam.biology import analyze, fit_lognormal
from synapse_madam.biology.bimodality import dip_test
from synapse_madam.cli import main
from synapse_madam.runs import stats_output_names

NOTE = "bootstrap and dip test on a random subsample of 100000 of 200000 values"


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    w = np.random.default_rng(1).lognormal(-1.0, 0.8, 200_000)
    np.save(folder / "w.npy", w)
    return folder / "w.npy", w


def test_cli_stats_on_2e5_values_subsamples_and_says_so(big, capsys):
    path, w = big
    assert main(["stats", str(path), "--no-figures", "--n-boot", "200", "--n-sim", "100"]) == 0
    out = capsys.readouterr()
    assert NOTE in out.out
    assert "\r" not in out.err, "no progress bar when stderr is not a terminal"
    names = stats_output_names(path, None)
    rep = json.loads(names["json"].read_text())
    cls = rep["groups"][0]["classes"][0]
    assert cls["n"] == 200_000
    assert cls["resampling"] == {"note": NOTE, "bootstrap_n": 100_000, "dip_n": 100_000, "dip_log_n": 100_000}
    assert NOTE in names["md"].read_text()
    # the point estimates use every value
    assert cls["lognormal"]["mu"] == pytest.approx(np.log(w).mean(), abs=1e-12)


def test_below_the_limit_nothing_is_subsampled():
    x = np.random.default_rng(2).lognormal(0, 1, 2000)
    c = analyze({"w": x}, n_boot=50, n_mc=20, n_sim=20).groups[0].classes[0]
    assert c.resample_note is None and c.fits.lognormal.boot_size == 2000 and c.bimodality.dip_linear.n_tested == 2000


def test_subsampled_bootstrap_ci_has_the_width_of_all_n_values(big):
    """m-out-of-n: the CI of sigma from a 10^5 subsample, rescaled by sqrt(m/n), matches the width
    the whole sample supports (normal theory, 2 z sigma / sqrt(2n)); without the rescaling it would
    be sqrt(2) = 1.41 times wider."""
    _, w = big
    f = fit_lognormal(w, n_boot=400, seed=0)
    assert f.boot_size == 100_000
    width = f.sigma_ci[1] - f.sigma_ci[0]
    expected = 2 * 1.96 * f.sigma / math.sqrt(2 * w.size)
    assert width == pytest.approx(expected, rel=0.15)
    assert f.sigma_ci[0] < f.sigma < f.sigma_ci[1] and f.mu_ci[0] < f.mu < f.mu_ci[1]
    full = fit_lognormal(w, n_boot=400, seed=0, max_resample=None)
    assert full.boot_size == w.size and (full.sigma_ci[1] - full.sigma_ci[0]) == pytest.approx(width, rel=0.2)


def test_dip_test_on_a_subsample_still_sees_bimodality():
    rng = np.random.default_rng(3)
    two = np.r_[rng.normal(0, 1, 150_000), rng.normal(5, 1, 150_000)]
    r = dip_test(two, n_sim=100)
    assert r.n == 300_000 and r.n_tested == 100_000 and r.p_value < 0.01
    one = dip_test(rng.normal(0, 1, 300_000), n_sim=100)
    assert one.n_tested == 100_000 and one.p_value > 0.05


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_analyze_shows_progress_on_a_terminal(monkeypatch):
    tty = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", tty)
    analyze({"a": np.random.default_rng(4).lognormal(0, 1, 500)}, n_boot=20, n_mc=10, n_sim=10, progress=True)
    assert "stats" in tty.getvalue() and "6/6" in tty.getvalue()
