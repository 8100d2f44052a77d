"""Accuracy vs bits per weight: LNSMadam against FP32 Madam, FP32 Adam and uniform fixed point.

    python benchmarks/lns_bits.py                                   # MLP and CNN on Fashion-MNIST
    python benchmarks/lns_bits.py --tasks fashion_mlp --seeds 1 --set epochs=1 --set train_subset=2000

For every task (a models/*.toml spec) and seed it trains
  * FP32 Madam (lr 0.01) and FP32 Adam (lr 1e-3): the full-precision references;
  * LNSMadam at each bit width (lr 0.01, stochastic rounding, float32 second moment), and at
    8 bits also with a bfloat16 second moment (the <= 3 bytes/param configuration);
  * the naive baseline at each bit width: Adam's additive step on B-bit uniform fixed-point
    weights, rounded to nearest (lr 1e-3).
The persistent training state (weights + optimizer state, bytes/param) is measured from the
tensors each optimizer holds (synapse_madam.optim.training_state_bytes). Every point is an
ordinary run folder under --out (reused when finished). Writes docs/lns_bits.md and .png.
"""

from __future__ import annotations

import argparse
import json
import copy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synapse_madam import substrates  # noqa: E402
from synapse_madam.io import atomic_write_text  # noqa: E402

TASKS = {"fashion_mlp": "models/fashion_mlp.toml", "fashion_cnn": "models/fashion_cnn.toml"}
BITS = [4, 5, 6, 8, 10, 12, 16]


def points(bits_list):
    """(label, bits or None, optimizer, lr, optimizer_options) of every configuration."""
    yield "FP32 Madam", None, "madam", 0.01, {}
    yield "FP32 Adam", None, "adam", 1e-3, {}
    for bits in bits_list:
        yield "LNSMadam", bits, "lns_madam", 0.01, {"bits": bits}
        if bits == 8:
            yield "LNSMadam (bf16 v)", bits, "lns_madam", 0.01, {"bits": bits, "second_moment_dtype": "bfloat16"}
        yield "uniform + Adam", bits, "adam_uniform", 1e-3, {"bits": bits}


def run_point(base_spec, task, label, bits, optimizer, lr, options, seed, out: Path) -> dict:
    spec = copy.deepcopy(base_spec)
    spec.update(optimizer=optimizer, lr=lr, seed=seed, optimizer_options=dict(options))
    tag = label.replace(" ", "_").replace("(", "").replace(")", "").replace("+", "plus")
    spec["name"] = f"{task}_{tag}_{bits or 32}b_s{seed}"
    run_dir = out / task / spec["name"]
    summary_file = run_dir / "summary.json"
    if summary_file.is_file():
        return json.loads(summary_file.read_text())
    return substrates.run(spec, run_dir, source=TASKS[task])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--bits", default=",".join(map(str, BITS)))
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="spec override for every run")
    ap.add_argument("--out", default="runs/lns_bits")
    ap.add_argument("--docs", default="docs")
    args = ap.parse_args(argv)
    bits_list = [int(b) for b in args.bits.split(",")]
    start = time.perf_counter()
    out = Path(args.out)
    rows = []
    for task in args.tasks.split(","):
        if task not in TASKS:
            raise SystemExit(f"--tasks: unknown task {task!r}; allowed: {', '.join(TASKS)}")
        base = substrates.apply_overrides(substrates.load_spec(ROOT / TASKS[task]), args.set + ["progress=false"])
        for seed in range(args.seeds):
            for label, bits, optimizer, lr, options in points(bits_list):
                s = run_point(base, task, label, bits, optimizer, lr, options, seed, out)
                rows.append(dict(task=task, label=label, bits=bits, seed=seed, acc=s["final_test_acc"],
                                 bytes=s.get("state_bytes_per_param"), diverged=s["diverged"],
                                 epoch_s=s.get("epoch_time_s"), device=s.get("device")))
                print(f"{task:12s} {label:18s} bits={bits or 32:>2} seed={seed} acc={s['final_test_acc']:.4f}", flush=True)
        text = write_docs(rows, args, time.perf_counter() - start)  # after every task: partial results survive
    print(text)
    return 0


def write_docs(rows, args, wall) -> str:
    text = report(rows, args, wall)
    docs = Path(args.docs)
    atomic_write_text(docs / "lns_bits.md", text)
    figure(rows, docs / "lns_bits.png")
    return text


def _mean(values):
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else float("nan")


def report(rows, args, wall) -> str:
    command = "python benchmarks/lns_bits.py" + "".join(f" --{k} {v}" for k, v in
                                                       (("tasks", args.tasks), ("bits", args.bits), ("seeds", args.seeds)))
    command += "".join(f" --set {s}" for s in args.set)
    lines = ["# Accuracy vs bits per weight (LNSMadam, uniform fixed point, FP32)", "",
             f"Command: `{command}`  ", f"Wall time: {wall / 60:.1f} min; device: {rows[0]['device'] if rows else '?'}; "
             f"seeds: {args.seeds}; mean test accuracy over seeds (%).", ""]
    for task in dict.fromkeys(r["task"] for r in rows):
        rs = [r for r in rows if r["task"] == task]
        ref = {lab: 100 * _mean([r["acc"] for r in rs if r["label"] == lab]) for lab in ("FP32 Madam", "FP32 Adam")}
        lines += [f"## {task}", "", f"FP32 Madam {ref['FP32 Madam']:.2f} %, FP32 Adam {ref['FP32 Adam']:.2f} % "
                  f"(persistent state {_mean([r['bytes'] for r in rs if r['label'] == 'FP32 Madam']):.1f} and "
                  f"{_mean([r['bytes'] for r in rs if r['label'] == 'FP32 Adam']):.1f} bytes/param).", "",
                  "| bits | LNSMadam acc % | Δ vs FP32 Madam | bytes/param | uniform + Adam acc % | Δ vs FP32 Adam |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for bits in sorted({r["bits"] for r in rs if r["bits"]}):
            lns = [r for r in rs if r["bits"] == bits and r["label"] == "LNSMadam"]
            uni = [r for r in rs if r["bits"] == bits and r["label"] == "uniform + Adam"]
            a, u = 100 * _mean([r["acc"] for r in lns]), 100 * _mean([r["acc"] for r in uni])
            lines.append(f"| {bits} | {a:.2f} | {a - ref['FP32 Madam']:+.2f} | {_mean([r['bytes'] for r in lns]):.1f} "
                         f"| {u:.2f} | {u - ref['FP32 Adam']:+.2f} |")
        bf = [r for r in rs if r["label"] == "LNSMadam (bf16 v)"]
        if bf:
            a = 100 * _mean([r["acc"] for r in bf])
            lines += ["", f"8 bits with a bfloat16 second moment: {a:.2f} % ({a - ref['FP32 Madam']:+.2f} vs FP32 Madam), "
                      f"{_mean([r['bytes'] for r in bf]):.1f} bytes/param."]
        lines.append("")
    return "\n".join(lines)


def figure(rows, path: Path) -> None:
    from synapse_madam import plots
    from synapse_madam.deep.figures import accuracy_vs_bits

    plots.save_figure(accuracy_vs_bits(rows), path)


if __name__ == "__main__":
    sys.exit(main())
