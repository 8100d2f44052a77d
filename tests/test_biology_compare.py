"""compare(): E/I split, unit-free shape comparison, and the exact KS distance between normals."""

import numpy as np
import pytest
from scipy import stats

from synapse_madam.biology import compare, ks_distance_normals, reference_distribution, split_by_sign

SONG = reference_distribution("song2005")


def test_split_by_sign():
    classes, nz = split_by_sign(np.array([[1.0, -2.0], [0.0, 3.0]]), zeros="drop")
    assert nz == 1 and classes["E"].tolist() == [1.0, 3.0] and classes["I"].tolist() == [2.0]
    with pytest.raises(ValueError, match="exactly 0"):
        split_by_sign([1.0, 0.0, -1.0])
    with pytest.raises(ValueError, match="zeros="):
        split_by_sign([1.0], zeros="keep")
    with pytest.raises(ValueError, match="no nonzero"):
        split_by_sign([0.0, 0.0], zeros="drop")


@pytest.mark.parametrize("m1, s1, m2, s2", [(0, 1, 0, 2), (0, 1, 1, 1), (-0.7, 0.9, 0.3, 0.4), (2, 0.5, -1, 3)])
def test_ks_distance_normals_matches_a_fine_grid(m1, s1, m2, s2):
    grid = np.linspace(-30, 30, 600_001)
    brute = np.abs(stats.norm.cdf(grid, m1, s1) - stats.norm.cdf(grid, m2, s2)).max()
    assert ks_distance_normals(m1, s1, m2, s2) == pytest.approx(brute, abs=1e-6)
    assert ks_distance_normals(m1, s1, m1, s1) == 0.0


def test_song_like_data_in_mV_match_the_reference():
    x = np.random.default_rng(0).lognormal(SONG.mu, SONG.sigma, 2000)
    c = compare(x, "song2005", unit="mV", n_boot=300)
    (e,) = c.classes
    assert e.sign_class == "E" and e.sigma_ratio_ci[0] <= 1 <= e.sigma_ratio_ci[1]
    assert e.ks_raw < 0.05 and e.ks_fit < 0.05 and e.ks_data_shape < 0.05
    assert e.median_ratio == pytest.approx(1.0, abs=0.1)


def test_scale_does_not_change_the_shape_comparison():
    x = np.random.default_rng(1).lognormal(SONG.mu, 0.5, 1000)
    a = compare(x, unit="mV", n_boot=100).classes[0]
    b = compare(1e-3 * x, unit="a.u.", n_boot=100).classes[0]
    assert b.sigma_ratio == pytest.approx(a.sigma_ratio) and b.ks_fit == pytest.approx(a.ks_fit)
    assert b.ks_data_shape == pytest.approx(a.ks_data_shape)
    assert b.ks_raw is None and b.median_ratio is None
    assert a.sigma_ratio == pytest.approx(0.5 / SONG.sigma, abs=0.05)


def test_E_and_I_are_fitted_separately():
    rng = np.random.default_rng(2)
    w = np.r_[rng.lognormal(-3, 0.5, 1500), -rng.lognormal(-1, 1.5, 1500)]
    rng.shuffle(w)
    c = compare(w.reshape(30, 100), n_boot=100)
    by = {r.sign_class: r for r in c.classes}
    assert by["E"].mu == pytest.approx(-3, abs=0.1) and by["E"].sigma == pytest.approx(0.5, abs=0.05)
    assert by["I"].mu == pytest.approx(-1, abs=0.15) and by["I"].sigma == pytest.approx(1.5, abs=0.1)
    rows = c.rows()
    assert [r["sign_class"] for r in rows] == ["E", "I"] and "sigma/ref" in str(c)


def test_bad_input():
    with pytest.raises(ValueError, match="unknown reference"):
        compare([1.0, 2.0, 3.0], "cortex")
    with pytest.raises(ValueError, match="exactly 0"):
        compare([1.0, 0.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        compare([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="at least"):
        compare([])


def test_ks_fit_is_the_data_against_its_own_log_normal_not_two_fits():
    """Issue 11: the old "KS shape" compared the fitted and the reference log-normal, a function of
    sigma alone, so a bimodal ln|w| with cortex's sigma read as a perfect match. ks_fit sees it."""
    rng = np.random.default_rng(3)
    half = np.sqrt(SONG.sigma**2 - 0.1**2)  # two narrow peaks at +-half: overall sd = sigma_ref
    y = np.r_[rng.normal(-half, 0.1, 2000), rng.normal(half, 0.1, 2000)]
    (c,) = compare(np.exp(y), n_boot=0).classes
    assert c.sigma_ratio == pytest.approx(1.0, abs=0.02)
    assert ks_distance_normals(0, c.sigma, 0, SONG.sigma) < 0.01  # what the old column showed
    assert c.ks_fit > 0.15  # the data are far from log-normal
    assert c.ks_fit == pytest.approx(stats.kstest(y, "norm", args=(y.mean(), y.std())).statistic)
    assert "KS fit" in str(compare(np.exp(y), n_boot=0)) and "KS shape" not in str(compare(np.exp(y), n_boot=0))
