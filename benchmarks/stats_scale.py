"""Time `synapse-madam stats` on N log-normal weights (wall and CPU time, load average around it).

    python benchmarks/stats_scale.py --n 1e7            # the issue's target: < 60 s on 2 cores
    python benchmarks/stats_scale.py --n 1e5 --dip      # + hand-written dip vs the `diptest` package

Runs the real command (`synapse_madam.cli.main(["stats", ...])`, figures included) on a .npy file.
With --dip it also compares the dip statistic with the `diptest` package (if installed) on the
same sample and on tied values, where the two differ (see docs/design.md).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=float, default=1e7)
    p.add_argument("--dip", action="store_true", help="compare the dip with the diptest package")
    args = p.parse_args()
    from synapse_madam.cli import main as cli

    n = int(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.npy"
        np.save(path, np.random.default_rng(0).lognormal(0, 1, n))
        print("load average before:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
        t0, c0 = time.perf_counter(), time.process_time()
        rc = cli(["stats", str(path), "--out", str(Path(tmp) / "out")])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print("load average after:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"stats on {n:,} values: exit {rc}, wall {wall:.1f} s, CPU (user+sys) {cpu:.1f} s")
    if args.dip:
        from synapse_madam.biology.bimodality import dip_statistic

        try:
            import diptest
        except ImportError:
            print("diptest is not installed (pip install diptest) - no comparison")
            return rc
        rng = np.random.default_rng(0)
        for name, x in (("log-normal", rng.lognormal(0, 1, min(n, 100_000))),
                        ("normal rounded to 0.1 (ties)", np.round(rng.normal(size=4000), 1))):
            t0 = time.perf_counter()
            a = dip_statistic(x)
            t1 = time.perf_counter()
            b = diptest.dipstat(x)
            t2 = time.perf_counter()
            print(f"{name}, n={x.size}: hand-written dip {a:.6f} in {t1 - t0:.3f} s, diptest {b:.6f} in {t2 - t1:.3f} s")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
