"""Per-layer weight digests logged during deep-net training: sigma(t) of ln|w| and friends.

Every epoch record of a deep run carries ``layers``: for each weight tensor (``ndim > 1``) the
digest of :func:`synapse_madam.biology.digest.digest_weights` (moments of ln|w|, KS distance to
its own log-normal fit, fraction at the optimizer's known magnitude bounds, sign flips since the
start) plus ``corr_init``, the Pearson correlation of ln|w| with ln|w| at the start of the run:
how much of the initialisation the weights still remember (1 = an unchanged ranking of
magnitudes, 0 = forgotten).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["weight_tensors", "layer_digests", "corr_init", "LAYER_KEYS"]

LAYER_KEYS = ("n", "mean_ln", "sigma_ln", "skew_ln", "ks_D", "frac_at_bounds", "frac_at_upper", "sign_flips",
              "corr_init")


def weight_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The named weight tensors of ``model`` (parameters with ndim > 1: matrices and kernels)."""
    return {name: p for name, p in model.named_parameters() if p.ndim > 1}


def corr_init(w, w0) -> float | None:
    """Pearson correlation of ln|w| and ln|w0| over entries nonzero in both (None if undefined)."""
    a = np.abs(np.asarray(w, dtype=np.float64).ravel())
    b = np.abs(np.asarray(w0, dtype=np.float64).ravel())
    keep = (a > 0) & (b > 0) & np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        return None
    x, y = np.log(a[keep]), np.log(b[keep])
    if x.std() < 1e-9 or y.std() < 1e-9:
        return None  # e.g. a constant-magnitude initialisation: nothing to remember
    return float(np.corrcoef(x, y)[0, 1])


@torch.no_grad()
def layer_digests(model: torch.nn.Module, initial: dict | None = None, optimizer=None) -> dict:
    """{name: digest} for every weight tensor; bounds from ``optimizer.magnitude_bounds(p)`` if it has one."""
    from ..biology.digest import digest_weights

    bounds_of = getattr(optimizer, "magnitude_bounds", None)
    out = {}
    for name, p in weight_tensors(model).items():
        w = p.detach().float().cpu().numpy()
        w0 = initial[name].float().cpu().numpy() if initial and name in initial else None
        d = digest_weights(w, initial=w0, bounds=bounds_of(p) if bounds_of else None)
        d["corr_init"] = corr_init(w, w0) if w0 is not None else None
        out[name] = {k: d.get(k) for k in LAYER_KEYS}
    return out
