"""Memory of the persistent training state, measured from the tensors an optimizer holds."""

from __future__ import annotations

import torch
from torch.optim import Optimizer

__all__ = ["training_state_bytes"]


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def training_state_bytes(optimizer: Optimizer) -> dict:
    """Bytes (total and per parameter) of the state a run must keep: weights + optimizer state.

    Measured by summing ``numel * element_size`` over the tensors actually held. For a float
    optimizer the weights are the parameter tensors. For an optimizer whose weights live in its
    state (``weight_state_keys``, e.g. LNSMadam's integer codes + scale), those are the weights
    and the float parameters are a decoded cache for the forward pass, reported separately as
    ``decoded_copy_bytes`` (a kernel that decodes on the fly would not need it). A wrapper with an
    ``inner`` optimizer (UniformQuantized) counts the inner optimizer's state too.

    ``per_element_bytes_per_param`` counts only the tensors with one entry per weight (as many
    elements as their parameter: codes, moments, float weights); ``per_tensor_bytes`` is the rest
    (0-dim scales, steps, seeds, exponents; per-row vectors), a cost per tensor that amortises
    over its elements:
    persistent_bytes = per_element_bytes_per_param * n_params + per_tensor_bytes.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    n = sum(p.numel() for p in params)
    if n == 0:
        raise ValueError("training_state_bytes: the optimizer holds no parameters.")
    weight_keys = set(getattr(optimizer, "weight_state_keys", ()))
    weights = opt_state = per_tensor = 0
    states = [optimizer.state] + ([optimizer.inner.state] if hasattr(optimizer, "inner") else [])  # wrappers
    for state in states:
        for p in params:
            for key, value in state.get(p, {}).items():
                if torch.is_tensor(value):
                    if value.numel() != p.numel():
                        per_tensor += _nbytes(value)
                    if key in weight_keys:
                        weights += _nbytes(value)
                    else:
                        opt_state += _nbytes(value)
    decoded = sum(_nbytes(p) for p in params) if weight_keys else 0
    if not weight_keys:
        weights = sum(_nbytes(p) for p in params)
    return {
        "n_params": n,
        "weight_bytes": weights,
        "optimizer_state_bytes": opt_state,
        "persistent_bytes": weights + opt_state,
        "persistent_bytes_per_param": (weights + opt_state) / n,
        "decoded_copy_bytes": decoded,
        "per_element_bytes_per_param": (weights + opt_state - per_tensor) / n,
        "per_tensor_bytes": per_tensor,
    }
