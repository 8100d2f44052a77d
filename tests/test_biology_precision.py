"""Distinguishable levels and bits: Bartol's method and LNS formats."""

import math

import numpy as np
import pytest

from synapse_madam.biology import levels_from_range_cv, levels_from_sizes, lns_format_for, lns_precision


def test_bartol_numbers():
    p = levels_from_range_cv(60, 0.083)
    assert p.levels == pytest.approx(math.log(60) / 0.166)
    assert 24 < p.levels < 26 and p.bits == pytest.approx(math.log2(p.levels))
    exact = levels_from_range_cv(60, 0.083, log_sd=True)
    assert exact.levels > p.levels  # sqrt(ln(1 + cv^2)) < cv


def test_levels_from_log_uniform_sizes():
    sizes = np.exp(np.linspace(0, math.log(60), 1001))
    assert levels_from_sizes(sizes, 0.083).levels == pytest.approx(levels_from_range_cv(60, 0.083).levels)


def test_integer_madam_format_spans_sixtyfold():
    f = lns_precision(13, math.exp(0.001))  # 4096 magnitude levels + sign bit
    assert f.levels == 4096 and f.magnitude_bits == 12
    assert f.dynamic_range == pytest.approx(math.exp(4.095))
    assert lns_precision(8, 2 ** (1 / 8)).levels == 128
    assert lns_precision(8, 2.0, signed=False).levels == 256


def test_lns_format_for_holds_bartol_levels():
    f = lns_format_for(60, 0.083)
    need = levels_from_range_cv(60, 0.083)
    assert f.levels >= need.levels + 1 and f.dynamic_range >= 60
    assert f.equivalent_cv == pytest.approx(0.083)
    assert lns_precision(f.bits - 1, f.base).dynamic_range < 60  # one bit fewer is not enough


@pytest.mark.parametrize("call, err", [
    (lambda: levels_from_range_cv(0.5, 0.1), ValueError),
    (lambda: levels_from_range_cv(60, -0.1), ValueError),
    (lambda: levels_from_range_cv(60, "a"), TypeError),
    (lambda: lns_precision(1, 2.0), ValueError),
    (lambda: lns_precision(8, 1.0), ValueError),
    (lambda: lns_precision(8.5, 2.0), TypeError),
    (lambda: levels_from_sizes([1.0, 0.0], 0.1), ValueError),
])
def test_bad_input(call, err):
    with pytest.raises(err):
        call()
