"""Stateless, counter-based noise: the same numbers on numpy and torch, on any device.

Every draw is a pure function of (seed, counter, element index). An optimizer or a learning
rule that keys its noise on (seed, step) therefore needs no random-generator state: a resumed run
draws exactly what the uninterrupted run drew, and the numpy rule (:mod:`synapse_madam.rule`)
and the torch optimizers draw identical noise, so they can be tested against each other.

Integer mixing: the "lowbias32" hash (C. Wellons, 2018), applied twice. Normals come from two
independent uniform streams by the Box-Muller transform (Box & Muller, Ann. Math. Stat. 1958):
z = sqrt(-2 ln(1 - u1)) * cos(2 pi u2).
"""

from __future__ import annotations

import math

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

_MASK = 0xFFFFFFFF


def _mix(x, xp):
    for _ in range(2):
        x = x ^ (x >> 16)
        x = (x * 0x7FEB352D) & _MASK
        x = x ^ (x >> 15)
        x = (x * 0x846CA68B) & _MASK
        x = x ^ (x >> 16)
    return x


def _hash_bits(seed, counter, n, device=None, *, backend: str = "torch"):
    """The 32-bit hash of (seed, counter, element index) for n elements, as int64."""
    if backend == "numpy":
        x = np.arange(n, dtype=np.int64)
        x = (x + np.int64(int(seed)) * 0x9E3779B9 + np.int64(int(counter)) * 0x85EBCA6B) & _MASK
        return _mix(x, np)
    x = torch.arange(n, dtype=torch.int64, device=device)
    x = (x + (torch.as_tensor(seed, device=device).to(torch.int64) * 0x9E3779B9)
         + (torch.as_tensor(counter, device=device).to(torch.int64) * 0x85EBCA6B)) & _MASK
    return _mix(x, torch)


def hash_uniform(seed, counter, shape, device=None, *, backend: str = "torch"):
    """U[0, 1) noise of ``shape``: a 32-bit hash of (seed, counter, element index).

    ``backend`` is "torch" (float32 tensor on ``device``) or "numpy" (float64 array); both give
    the same numbers up to the final float32 rounding of the torch result.
    """
    bits = _hash_bits(seed, counter, math.prod(shape), device, backend=backend)
    if backend == "numpy":
        return (bits / 2.0**32).reshape(shape)
    return (bits.to(torch.float64) / 2.0**32).to(torch.float32).reshape(shape)


def segment_keys(seeds, sizes, device=None):
    """The hash keys (element index + seed * 0x9E3779B9, int64) of several tensors laid end to end:
    tensor i has ``sizes[i]`` elements and seed ``seeds[i]`` (ints or 0-dim tensors). With
    :func:`hash_uniform_keys` they give, in one pass, exactly the concatenation of
    ``hash_uniform(seeds[i], counter, (sizes[i],))`` (a flat, multi-tensor optimizer step)."""
    sizes_t = torch.as_tensor(list(sizes), dtype=torch.int64, device=device)
    seed_t = torch.stack([torch.as_tensor(s, dtype=torch.int64).reshape(()) for s in seeds]).to(device)
    starts = torch.cumsum(sizes_t, 0) - sizes_t
    n = int(sum(int(x) for x in sizes))
    index = torch.arange(n, dtype=torch.int64, device=device) - torch.repeat_interleave(starts, sizes_t, output_size=n)
    return index + torch.repeat_interleave(seed_t, sizes_t, output_size=n) * 0x9E3779B9


def hash_uniform_keys(keys, counter):
    """U[0, 1) float32 noise for precomputed :func:`segment_keys` and a counter (a number, a 0-dim
    tensor, or one counter per element)."""
    x = (keys + torch.as_tensor(counter, device=keys.device).to(torch.int64) * 0x85EBCA6B) & _MASK
    return (_mix(x, torch).to(torch.float64) / 2.0**32).to(torch.float32)


def stream_seed(seed: int, index: int) -> int:
    """Seed of the noise stream of tensor (or synapse group) ``index`` under a base ``seed``:
    seed * 1000003 + index. One convention for every optimizer and learner, so a run's streams are
    distinct per tensor and the numpy rule can redraw exactly what an optimizer drew."""
    return int(seed) * 1_000_003 + int(index)


def hash_normal(seed, counter, shape, like=None):
    """Standard normal noise of ``shape`` keyed on (seed, counter), in float64: a numpy array,
    or a tensor on ``like``'s device when ``like`` is a tensor (the same numbers either way).

    Uses the uniform streams of counters 2*counter and 2*counter + 1 (Box-Muller), so the normal
    stream of one counter never reuses another counter's uniforms.
    """
    n = math.prod(shape)
    if like is not None and torch is not None and isinstance(like, torch.Tensor):
        c = torch.as_tensor(counter, device=like.device).to(torch.int64)
        u1 = _hash_bits(seed, 2 * c, n, like.device).to(torch.float64) / 2.0**32
        u2 = _hash_bits(seed, 2 * c + 1, n, like.device).to(torch.float64) / 2.0**32
        z = torch.sqrt(-2.0 * torch.log1p(-u1)) * torch.cos(2.0 * math.pi * u2)
        return z.reshape(shape)
    c = int(counter)
    u1 = _hash_bits(seed, 2 * c, n, backend="numpy") / 2.0**32
    u2 = _hash_bits(seed, 2 * c + 1, n, backend="numpy") / 2.0**32
    return (np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * math.pi * u2)).reshape(shape)
