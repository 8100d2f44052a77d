"""Timing discipline shared by the benchmarks (issue 12): numbers that cannot mislead.

* The load average is printed before and after, and written at the top of every result file.
* A benchmark refuses to write into docs/ when the 1-minute load at its start exceeds
  0.75 x the CPU count (other processes would be timed too: at load ~5 on 2 cores an Adam step took
  1032 ms instead of 22 ms). ``--force`` writes anyway and the file says so at its top.
* Contenders are interleaved: one call of each per round, so that load changes hit all alike.
* Both the median and the minimum per contender are reported; ratios are median / median.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
QUIET_FRACTION = 0.75


def load() -> tuple[float, float, float]:
    return os.getloadavg()


def fmt_load(x=None) -> str:
    return " ".join(f"{v:.2f}" for v in (x or load()))


def quiet_limit() -> float:
    return QUIET_FRACTION * (os.cpu_count() or 1)


def guard(out: Path, force: bool) -> str:
    """Check the load before a benchmark that writes ``out``. Returns the line to put at the top
    of the result file ("" on a quiet machine). Refuses (SystemExit, one line) when the load is
    above 0.75 x cores, ``out`` is under docs/ and ``force`` is not set."""
    now = load()
    print(f"load average before: {fmt_load(now)} (quiet limit {quiet_limit():.2f} on {os.cpu_count()} cores)", flush=True)
    if now[0] <= quiet_limit():
        return ""
    in_docs = DOCS in Path(out).resolve().parents
    if in_docs and not force:
        raise SystemExit(
            f"load average {now[0]:.2f} is above {QUIET_FRACTION} x {os.cpu_count()} cores = {quiet_limit():.2f}: "
            f"timings now would measure the other processes too. Stop them and rerun, write elsewhere with --out, "
            f"or pass --force (the file will then say it was measured under load).")
    return (f"**Measured under load (load average {now[0]:.2f} > {quiet_limit():.2f} = 0.75 x {os.cpu_count()} "
            f"cores, written with --force): the ratios below may not hold on a quiet machine.**")


def interleave(contenders: dict, repeats: int, warmup: int = 0, sync=lambda: None) -> dict[str, list[float]]:
    """Seconds per call of each contender (a no-argument callable); every round calls each once,
    in turn. ``warmup`` untimed rounds first."""
    for _ in range(warmup):
        for fn in contenders.values():
            fn()
    sync()
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - t0)
    return times


def summary(times: dict[str, list[float]], baseline: str) -> dict[str, dict]:
    """Per contender: median, min (seconds), and the ratio of medians (and of minima) to ``baseline``."""
    base_med, base_min = statistics.median(times[baseline]), min(times[baseline])
    return {name: {"median": statistics.median(t), "min": min(t), "ratio": statistics.median(t) / base_med,
                   "ratio_min": min(t) / base_min, "n": len(t)} for name, t in times.items()}
