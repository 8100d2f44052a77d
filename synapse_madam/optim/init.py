"""Initialisation helpers for multiplicative optimizers."""

from __future__ import annotations

import torch

__all__ = ["reinit_zero_tensors", "constant_magnitude_"]


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


@torch.no_grad()
def constant_magnitude_(module: torch.nn.Module) -> list[str]:
    """Give every parameter tensor of ``module`` one magnitude, its own RMS: w <- sign(w) * RMS(W).

    Signs and each tensor's RMS are kept, so this is a second initial distribution of the same
    scale as the default one, with sigma(ln|w|) = 0 instead of the 1 of a uniform init: runs from
    both show whether a rule's stationary distribution forgets its initialisation. Exact zeros
    stay 0 (call :func:`reinit_zero_tensors` first). Returns the names changed.
    """
    names = []
    for name, p in module.named_parameters():
        if p.numel() and torch.is_floating_point(p):
            rms = p.detach().double().pow(2).mean().sqrt()
            p.copy_((torch.sign(p.detach()).double() * rms).to(p.dtype))
            names.append(name)
    return names
