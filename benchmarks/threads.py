"""Where a second CPU thread starts to pay: training-step time with 1 and with all threads, by
the size of the step (the threshold of synapse_madam/threads.py).

    python benchmarks/threads.py              # writes docs/threads.md (refused at load > 0.75 x cores)

For each net (the specs' nets, synthetic inputs of the real shapes), one training step
(forward, backward, Madam's step) at batch 128 is timed with 1 thread and with every core, the
two settings taking turns; reported: median and min ms, the ratio (all cores / 1 thread) and the
work measure of synapse_madam.threads, (trainable parameters) x (batch size).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import timing  # noqa: E402

from synapse_madam import Madam  # noqa: E402
from synapse_madam.deep.nets import build_net  # noqa: E402
from synapse_madam.io import atomic_write_text  # noqa: E402
from synapse_madam.threads import SERIAL_BELOW, choose_threads  # noqa: E402

CASES = {  # name: (net, input shape, classes, net options)
    "digits MLP (demo)": ("mlp", (1, 8, 8), 10, {"width": 128, "depth": 3}),
    "Fashion-MNIST MLP": ("mlp", (1, 28, 28), 10, {"width": 256, "depth": 2}),
    "16-layer MLP": ("mlp", (1, 28, 28), 10, {"width": 128, "depth": 16}),
    "CNN": ("cnn", (1, 28, 28), 10, {"channels": 32, "hidden": 128}),
}


def step_fn(net, shape, classes, options, batch):
    model = build_net(net, shape, classes, seed=0, **options)
    opt = Madam(model.parameters())
    x, y = torch.randn(batch, *shape), torch.randint(0, classes, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step, sum(p.numel() for p in model.parameters() if p.requires_grad) * batch


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--out", default=str(ROOT / "docs" / "threads.md"))
    ap.add_argument("--force", action="store_true", help="write into docs/ even under load (the file says so)")
    args = ap.parse_args(argv)
    banner = timing.guard(Path(args.out), args.force)
    load_before, cores, t0 = timing.fmt_load(), os.cpu_count(), time.perf_counter()
    rows = []
    for name, (net, shape, classes, options) in CASES.items():
        step, work = step_fn(net, shape, classes, options, args.batch_size)

        def with_threads(n):
            def run():
                torch.set_num_threads(n)
                step()
            return run
        times = timing.interleave({"1": with_threads(1), "all": with_threads(cores)}, args.repeats, warmup=5)
        s = timing.summary(times, "1")
        rows.append((name, work, s["1"], s["all"], choose_threads(0, work, cores)))
        print(f"{name}: work {work:.3g}, 1 thread {s['1']['median'] * 1e3:.2f} ms, {cores} threads "
              f"{s['all']['median'] * 1e3:.2f} ms ({s['all']['ratio']:.2f}x)", flush=True)
    load_after = timing.fmt_load()
    print(f"load average after: {load_after}")
    lines = ["# Training-step time with one thread and with every core", "", *([banner, ""] if banner else []),
             f"Command: `python benchmarks/threads.py`  ",
             f"{cores} CPU cores, torch {torch.__version__}, batch {args.batch_size}, {args.repeats} interleaved rounds; "
             f"load average (1, 5, 15 min) before {load_before}, after {load_after}; wall time {time.perf_counter() - t0:.0f} s.",
             "", f"| net | work = params x batch | 1 thread: median / min ms | {cores} threads: median / min ms | "
             f"ratio ({cores} / 1) | threads = 0 picks |", "|---|---:|---:|---:|---:|---:|"]
    for name, work, one, many, pick in rows:
        lines.append(f"| {name} | {work:.3g} | {one['median'] * 1e3:.2f} / {one['min'] * 1e3:.2f} | "
                     f"{many['median'] * 1e3:.2f} / {many['min'] * 1e3:.2f} | {many['ratio']:.2f} | {pick} |")
    lines += ["", f"`threads = 0` (synapse_madam/threads.py) uses one thread below a work of 2^24 = {SERIAL_BELOW:.3g} "
              "and every core above. On a busy machine one thread is the safe choice at any size (issue 12: "
              "215 s with 2 threads against 4 s with one for a small run at load ~5)."]
    atomic_write_text(Path(args.out), "\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
