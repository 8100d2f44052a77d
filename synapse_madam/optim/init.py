"""Initialisation helpers for multiplicative optimizers."""

from __future__ import annotations

import torch

__all__ = ["reinit_zero_tensors"]


@torch.no_grad()
def reinit_zero_tensors(module: torch.nn.Module, std: float = 0.01, generator: torch.Generator | None = None) -> list[str]:
    """Fill every all-zero parameter of ``module`` with N(0, std^2) noise; return their names.

    Madam's step w <- w*exp(-lr*sign(w)*g_hat) never moves an exact zero, so zero-initialised
    biases or norm shifts would never train. Bernstein et al. (NeurIPS 2020) re-initialised such
    tensors with small random values, e.g. N(0, 0.01^2); call this before creating the optimizer.
    Tensors with only some zero entries are left alone (their zeros may be deliberate, e.g. pruning).
    """
    if not std > 0:
        raise ValueError(f"reinit_zero_tensors: std must be > 0, got {std!r}.")
    names = []
    for name, p in module.named_parameters():
        if p.numel() and torch.is_floating_point(p) and not torch.any(p):
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float32, device="cpu" if generator is not None else p.device)
            p.copy_((std * noise).to(device=p.device, dtype=p.dtype))
            names.append(name)
    return names
