"""Input checks shared by the synapse-statistics modules (one clear error per user mistake)."""

from __future__ import annotations

import numpy as np

__all__ = ["as_finite_1d", "as_positive_1d", "check_choice"]


def as_finite_1d(x, name: str = "weights", min_size: int = 1) -> np.ndarray:
    """``x`` (array-like or torch tensor, any shape) as a flat float64 array of finite numbers.

    Raises TypeError for non-numeric input and ValueError for too few values or NaN/inf.
    """
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__}.") from None
    if a.size < min_size:
        raise ValueError(f"{name}: need at least {min_size} value(s), got {a.size}.")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(
            f"{name}: {int(bad.sum())} of {a.size} values are NaN or infinite; remove them first "
            f"(e.g. x[np.isfinite(x)]) or fix what produced them.")
    return a


def as_positive_1d(x, name: str = "weights", min_size: int = 2) -> np.ndarray:
    """``x`` as a flat float64 array of strictly positive finite numbers (magnitudes).

    A log-normal lives on (0, inf): zeros and negative values are rejected with a message that
    says how to split signed weights (``split_by_sign``) or drop exact zeros.
    """
    a = as_finite_1d(x, name, min_size)
    n_neg, n_zero = int((a < 0).sum()), int((a == 0).sum())
    if n_neg:
        raise ValueError(
            f"{name}: {n_neg} of {a.size} values are negative; a log-normal needs magnitudes. Split "
            f"signed weights into E (w > 0) and I (|w|, w < 0) classes with "
            f"synapse_madam.biology.split_by_sign(w) and analyse each class.")
    if n_zero:
        raise ValueError(
            f"{name}: {n_zero} of {a.size} values are exactly 0, which has no logarithm; drop them "
            f"(x[x != 0], or zeros='drop' in compare/analyze) and report how many there were.")
    return a


def check_choice(name: str, value, allowed) -> None:
    """Raise ValueError naming the parameter, the value received and the allowed values."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}.")
