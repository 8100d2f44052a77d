"""How many CPU threads a run uses: one rule for every substrate's ``threads`` spec key.

``threads = N > 0`` uses N threads. ``threads = 0`` (the default of the deep runner) chooses by
the size of the work per step: one thread when a step is small, every core otherwise; an explicit
``OMP_NUM_THREADS`` in the environment (e.g. set by torchrun for its workers) is then left alone.

Why: torch parallelises each operation with OpenMP, and every thread must reach the end of an
operation before the next starts. On a shared machine a thread that has lost its core stalls all
the others at that barrier, and small operations pay that price without gaining anything: a
3-epoch LNS run on 10 000 images took 215 s with torch's default (2 threads) on a loaded 2-core
machine and 4 s with one thread (issue 12). Large operations (wide layers, convolutions, big
batches) do gain from several threads on a quiet machine.

The measure of work is (trainable parameters) x (batch size), about a third of the
multiply-adds of one forward and backward pass of an MLP; below ``SERIAL_BELOW`` (2**24) a step
is small. The threshold is measured by ``benchmarks/threads.py``.
"""

from __future__ import annotations

import os

__all__ = ["SERIAL_BELOW", "choose_threads", "use_threads"]

SERIAL_BELOW = 2**24


def choose_threads(requested: int, work: int, cores: int | None = None) -> int:
    """Threads for a run: ``requested`` when > 0; when 0, 1 if ``work`` < SERIAL_BELOW else the
    number of cores. ValueError for a negative or non-integer request."""
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise ValueError(f"threads must be an integer >= 0 (0 = choose by the size of the work), got {requested!r}.")
    if requested:
        return requested
    cores = cores or os.cpu_count() or 1
    return 1 if work < SERIAL_BELOW else cores


def use_threads(requested: int, work: int) -> int:
    """Set torch's intra-op threads by :func:`choose_threads` and return the number used.

    With ``requested = 0`` an explicit ``OMP_NUM_THREADS`` in the environment wins and nothing is
    changed: a launcher that set it (torchrun sets 1 per worker, so that N ranks do not
    oversubscribe the cores) or a user who did knows the machine's load better than a size rule."""
    import torch

    if requested == 0 and os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    n = choose_threads(requested, work)
    torch.set_num_threads(n)
    return n
