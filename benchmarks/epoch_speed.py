"""Cost of one training epoch with Madam vs Adam on the same net and the same batches.

    nice -n 10 .venv/bin/python benchmarks/epoch_speed.py                      # CPU, Fashion-MNIST MLP
    PYTHONPATH=. python3 benchmarks/epoch_speed.py --device cuda --net cnn     # on a GPU (bf16 autocast)

Each optimizer trains a fresh copy of the net (same init) for one epoch over the same batches
(forward, backward, step); the optimizers alternate for ``--repeats`` rounds and the median and
minimum epoch times are reported, with the ratio Madam / Adam (of medians). Adam runs with
torch's defaults for the device; Madam with no flag (its default path: the native one-pass
kernel on the CPU, foreach on CUDA), and on its foreach and per-tensor paths. On CUDA also the
compiled path (``fused=True``). Writes docs/epoch_speed[_DEVICE][_NET].md with the command, the
load average before and after, and the wall time; refuses to write into docs/ at a load above
0.75 x cores unless --force (benchmarks/timing.py).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import timing  # noqa: E402

from synapse_madam.deep.data import load_dataset  # noqa: E402
from synapse_madam.deep.nets import build_net  # noqa: E402
from synapse_madam.deep.trainer import resolve_device  # noqa: E402
from synapse_madam.io import atomic_write_text  # noqa: E402
from synapse_madam.optim import make_optimizer  # noqa: E402

NETS = {"mlp": {"width": 256, "depth": 2}, "cnn": {"channels": 32, "hidden": 128},
        "deep_mlp": {"width": 128, "depth": 16}, "resnet": {"width": 16, "blocks": 2}}


def epoch_time(net_name, data, variant, device, batch_size, amp) -> float:
    name, kw = variant
    model = build_net("mlp" if net_name == "deep_mlp" else net_name, data.input_shape, data.num_classes,
                      seed=0, **NETS[net_name]).to(device)
    opt = make_optimizer(name, model.parameters(), 0.01 if name == "madam" else 0.001, **kw)
    x, y = data.x_train.to(device), data.y_train.to(device)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0)).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for i in range(len(x) // batch_size):
        idx = perm[i * batch_size:(i + 1) * batch_size]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = model(x[idx])
        loss = torch.nn.functional.cross_entropy(out.float(), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="mlp", choices=list(NETS))
    ap.add_argument("--dataset", default="fashion_mnist")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--train-subset", type=int, default=0, help="0 = the whole training split")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--docs", default=str(ROOT / "docs"))
    ap.add_argument("--force", action="store_true", help="write into docs/ even under load (the file says so)")
    args = ap.parse_args(argv)
    banner = timing.guard(Path(args.docs) / "epoch_speed.md", args.force)
    load_before = timing.fmt_load()
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    device = resolve_device(args.device)
    amp = device.type == "cuda"
    opts = {"data_dir": args.data_dir} if args.data_dir else {}
    data = load_dataset(args.dataset, train_subset=args.train_subset or None, **opts)
    variants = {"adam": ("adam", {}), "madam (default)": ("madam", {}), "madam (foreach)": ("madam", {"foreach": True}),
                "madam (per-tensor loop)": ("madam", {"foreach": False})}
    if device.type == "cuda":  # torch.compile-d multi-tensor step (Triton)
        variants["madam (fused, compiled)"] = ("madam", {"fused": True})
    for v in variants.values():  # warm-up: allocator, kernels, the native build and any compilation
        epoch_time(args.net, data, v, device, args.batch_size, amp)
    times = {k: [] for k in variants}
    for _ in range(args.repeats):
        for k, v in variants.items():
            times[k].append(epoch_time(args.net, data, v, device, args.batch_size, amp))
    med = {k: statistics.median(v) for k, v in times.items()}
    wall = time.perf_counter() - t_start
    load_after = timing.fmt_load()
    print(f"load average after: {load_after}")
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    lines = [f"# One epoch, Madam vs Adam ({device.type})", "", *([banner, ""] if banner else []),
             f"Net `{args.net}` {NETS[args.net]} on {args.dataset} ({len(data.x_train)} training examples), "
             f"batch {args.batch_size}, {args.repeats} alternating repeats, median; device {dev_name}, "
             f"{'bf16 autocast, ' if amp else ''}torch {torch.__version__}, {args.threads} CPU thread(s); "
             f"load average (1, 5, 15 min) before {load_before}, after {load_after}.", "",
             "| optimizer | median epoch (s) | min epoch (s) | all repeats (s) | median ratio to Adam |",
             "|---|---|---|---|---|"]
    for k in variants:
        lines.append(f"| {k} | {med[k]:.3f} | {min(times[k]):.3f} | {', '.join(f'{t:.3f}' for t in times[k])} | "
                     f"{med[k] / med['adam']:.3f} |")
    cmd = " ".join(["benchmarks/epoch_speed.py"] + (argv if argv is not None else sys.argv[1:]))
    lines += ["", f"Command: `{cmd}`; wall time {wall:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    suffix = ("" if device.type == "cpu" else f"_{device.type}") + ("" if args.net == "mlp" else f"_{args.net}")
    text = text.replace("\nCommand:", f"\n![epoch times](epoch_speed{suffix}.png)\n\nCommand:")
    atomic_write_text(Path(args.docs) / f"epoch_speed{suffix}.md", text)
    print(f"wrote {Path(args.docs) / f'epoch_speed{suffix}.md'}")
    from synapse_madam import plots
    from synapse_madam.deep.figures import epoch_time_bars

    plots.save_figure(epoch_time_bars(times, f"one epoch, {args.net} on {args.dataset}, {device.type} (dotted: 1.02)"),
               Path(args.docs) / f"epoch_speed{suffix}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
