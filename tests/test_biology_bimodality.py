"""Hartigan's dip (checked against a direct solution of its definition) and bimodality verdicts."""

import numpy as np
import pytest
from scipy.optimize import linprog

from synapse_madam.biology import assess_bimodality, dip_statistic, dip_test, fraction_near_bounds


def dip_by_linear_programming(x):
    """min over unimodal G of max_x |F_n(x) - G(x)|, solved directly as one LP per mode segment.

    G is given by its values at the distinct data points (linear in between): nondecreasing, in
    [0, 1], slopes nondecreasing up to the mode segment k and nonincreasing after it. The distance
    is taken at both corners of every ECDF step.
    """
    u, c = np.unique(x, return_counts=True)
    n, m = len(x), len(u)
    b = np.cumsum(c) / n
    a = b - c / n
    best = np.inf
    for k in range(m - 1):
        A, B = [], []
        for j in range(m):
            for F in (a[j], b[j]):
                for sg in (1, -1):
                    r = np.zeros(m + 1)
                    r[j], r[m] = sg, -1
                    A.append(r)
                    B.append(sg * F)
        for j in range(m - 1):
            r = np.zeros(m + 1)
            r[j], r[j + 1] = 1, -1
            A.append(r)
            B.append(0)
        for j in range(m - 2):
            w0, w1 = 1 / (u[j + 1] - u[j]), 1 / (u[j + 2] - u[j + 1])
            sg = 1 if j + 1 <= k else -1
            r = np.zeros(m + 1)
            r[j + 1] += sg * w0
            r[j] -= sg * w0
            r[j + 2] -= sg * w1
            r[j + 1] += sg * w1
            A.append(r)
            B.append(0)
        res = linprog(np.r_[np.zeros(m), 1], A_ub=np.array(A), b_ub=np.array(B),
                      bounds=[(0, 1)] * m + [(0, None)], method="highs")
        if res.status == 0:
            best = min(best, res.fun)
    return best


def _samples():
    rng = np.random.default_rng(0)
    out = []
    for t in range(16):
        n = int(rng.integers(5, 22))
        kind = t % 4
        if kind == 0:
            x = rng.random(n)
        elif kind == 1:
            x = np.r_[rng.normal(0, 1, n // 2), rng.normal(4, 1, n - n // 2)]
        elif kind == 2:
            x = np.round(rng.normal(size=n) * 2) / 2          # many ties
        else:
            x = np.r_[np.zeros(n // 3), np.ones(n // 3), rng.random(n - 2 * (n // 3))]  # atoms at bounds
        out.append(x)
    return out


@pytest.mark.parametrize("x", _samples())
def test_dip_equals_its_definition(x):
    assert dip_statistic(x) == pytest.approx(dip_by_linear_programming(x), abs=1e-7)


def test_dip_range_and_invariance():
    rng = np.random.default_rng(1)
    for n in (10, 100, 1000):
        x = rng.normal(size=n)
        d = dip_statistic(x)
        assert 1 / (2 * n) - 1e-12 <= d <= 0.25
        assert dip_statistic(3.0 * x - 7.0) == pytest.approx(d, abs=1e-12)
        assert dip_statistic(-x) == pytest.approx(d, abs=1e-12)
    assert dip_statistic([0.0, 0.0, 1.0, 1.0]) == pytest.approx(0.25)


def test_uniform_dip_scales_like_one_over_sqrt_n():
    rng = np.random.default_rng(2)
    med = {n: np.median([dip_statistic(rng.random(n)) * np.sqrt(n) for _ in range(60)]) for n in (200, 3200)}
    assert med[3200] == pytest.approx(med[200], rel=0.2)


def test_bimodal_sample_is_flagged_and_unimodal_are_not():
    rng = np.random.default_rng(3)
    bimodal = np.r_[rng.normal(0, 1, 300), rng.normal(5, 1, 300)]
    assert dip_test(bimodal, n_sim=200).p_value < 0.01
    for x in (rng.normal(size=600), rng.lognormal(0, 1, 600), rng.random(600)):
        assert dip_test(x, n_sim=200).p_value > 0.05


def test_additive_stdp_like_weights_are_bimodal_and_lognormal_are_not():
    rng = np.random.default_rng(4)
    gmax = 0.015
    stdp = np.clip(np.r_[rng.normal(0, 0.002, 450), rng.normal(gmax, 0.002, 450), rng.uniform(0, gmax, 100)], 0, gmax)
    r = assess_bimodality(stdp, upper=gmax, n_sim=200)
    assert r.bimodal and r.near_bounds.at_lower > 0.2 and r.near_bounds.at_upper > 0.2
    ln = assess_bimodality(rng.lognormal(-0.7, 0.9, 1000), n_sim=200)
    assert not ln.bimodal and ln.near_bounds.total < 0.1


def test_log_mixture_bimodal_only_on_log_scale():
    rng = np.random.default_rng(5)
    x = np.r_[rng.lognormal(-4, 0.3, 500), rng.lognormal(0, 0.3, 500)]
    r = assess_bimodality(x, n_sim=200)
    assert r.bimodal and r.dip_log.p_value < 0.01


def test_fraction_near_bounds_counts():
    f = fraction_near_bounds([0, 0, 0.5, 1.0], lower=0, upper=1.0, rtol=0.01)
    assert (f.at_lower, f.at_upper, f.total) == (0.5, 0.25, 0.75)


def test_no_known_bound_means_no_fraction_at_it():
    """The issue: a pure log-normal sample reported 73 % "at bounds" measured against max|w|."""
    x = np.random.default_rng(9).lognormal(0, 2.5, 20000)
    f = fraction_near_bounds(x)
    assert f.upper is None and f.at_upper is None and f.at_lower == 0.0 and f.total == 0.0
    assert fraction_near_bounds(np.r_[0.0, x[:3]]).at_lower == 0.25  # exact zeros sit at the floor


@pytest.mark.parametrize("call, msg", [
    (lambda: dip_statistic([1.0, 1.0, 1.0]), "identical"),
    (lambda: dip_statistic([]), "at least"),
    (lambda: dip_test([1.0, np.nan, 2.0, 3.0]), "NaN"),
    (lambda: dip_test([1.0, 2.0, 3.0, 4.0], n_sim=0), "n_sim"),
    (lambda: fraction_near_bounds([1.0, 2.0], lower=3.0, upper=1.0), "upper > lower"),
    (lambda: assess_bimodality([-1.0, 1.0, 2.0, 3.0]), "split_by_sign"),
])
def test_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()
