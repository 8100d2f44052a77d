"""Random subsamples for the resampling methods on large weight sets.

A bootstrap, a parametric-bootstrap p-value or a dip test on 10^7 weights costs minutes and
changes nothing that a random subsample of 10^5 does not already show. Above
:data:`MAX_RESAMPLE` values, those methods run on one uniform random subsample without
replacement (point estimates and fits keep using every value); the report says so.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_RESAMPLE", "subsample", "subsample_note"]

MAX_RESAMPLE = 100_000


def subsample(x: np.ndarray, max_size: int | None, rng: np.random.Generator) -> np.ndarray:
    """``x`` itself when it has at most ``max_size`` values (or ``max_size`` is None), else
    ``max_size`` of its values drawn uniformly without replacement (in their original order)."""
    if max_size is None or x.size <= max_size:
        return x
    if int(max_size) != max_size or max_size < 4:
        raise ValueError(f"max_size={max_size!r}; must be an integer >= 4 (or None for no subsampling).")
    idx = np.sort(rng.choice(x.size, int(max_size), replace=False))
    return x[idx]


def subsample_note(n: int, max_size: int | None = MAX_RESAMPLE) -> str | None:
    """The sentence a report prints for a class of ``n`` values, or None when none is subsampled."""
    if max_size is None or n <= max_size:
        return None
    return f"bootstrap and dip test on a random subsample of {max_size} of {n} values"
