"""Tiny helpers for code that accepts numpy arrays and torch tensors alike."""

from __future__ import annotations

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def is_torch(x) -> bool:
    """True for a torch.Tensor (False for numpy arrays and Python scalars)."""
    return torch is not None and isinstance(x, torch.Tensor)
