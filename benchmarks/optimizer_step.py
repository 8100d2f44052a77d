"""Time one optimizer step on a ResNet-18-sized parameter set (11.7 M parameters, 62 tensors in
ResNet-18's real shapes): every Madam path against torch.optim.Adam(foreach=True) and
torch.optim.SGD(momentum=0.9), in one process, after warm-up; median of repeats, the optimizers taking turns step by step.

    python benchmarks/optimizer_step.py                    # CPU; writes docs/optimizer_step_cpu.md
    python benchmarks/optimizer_step.py --device cuda      # adds fused Adam; docs/optimizer_step_cuda.md

Ratios are time / time of Adam(foreach=True) (lower is faster). The "naive per-tensor" row is
the rule written the direct way (a python-float bias correction and a NaN mask write per tensor,
as in the published code), to show what the optimised paths buy.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from synapse_madam import Madam  # noqa: E402
from synapse_madam.io import atomic_write_json, atomic_write_text  # noqa: E402


def resnet18_shapes() -> list[tuple[int, ...]]:
    """Parameter shapes of torchvision's ResNet-18 (1000 classes): 11,689,512 parameters."""
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    in_ch = 64
    for out_ch, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for block in range(2):
            c_in = in_ch if block == 0 else out_ch
            shapes += [(out_ch, c_in, 3, 3), (out_ch,), (out_ch,), (out_ch, out_ch, 3, 3), (out_ch,), (out_ch,)]
            if block == 0 and (stride != 1 or c_in != out_ch):
                shapes += [(out_ch, c_in, 1, 1), (out_ch,), (out_ch,)]
        in_ch = out_ch
    return shapes + [(1000, 512), (1000,)]


class NaiveMadam(torch.optim.Optimizer):
    """The rule written directly, one tensor at a time (the baseline the paths are measured against)."""

    def __init__(self, params, lr=0.01, p_scale=3.0, g_bound=10.0, beta=0.999):
        super().__init__(params, dict(lr=lr, p_scale=p_scale, g_bound=g_bound, beta=beta))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["max"] = group["p_scale"] * (p * p).mean().sqrt().item()
                    state["step"] = 0
                    state["v"] = torch.zeros_like(p)
                state["step"] += 1
                bias_correction = 1 - group["beta"] ** state["step"]
                state["v"] = group["beta"] * state["v"] + (1 - group["beta"]) * p.grad**2
                g_normed = p.grad / (state["v"] / bias_correction).sqrt()
                g_normed[torch.isnan(g_normed)] = 0
                g_normed.clamp_(-group["g_bound"], group["g_bound"])
                p.data *= torch.exp(-group["lr"] * g_normed * torch.sign(p.data))
                p.data.clamp_(-state["max"], state["max"])


def make_params(device, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = [(torch.randn(s, generator=gen) * 0.05).to(device).requires_grad_() for s in resnet18_shapes()]
    for p in params:
        p.grad = (torch.randn(p.shape, generator=gen) * 1e-3).to(device)
    return params


def time_round_robin(makers: dict, device: str, warmup: int, repeats: int) -> dict[str, float]:
    """Median seconds per step of each optimizer. The optimizers take turns, one step each per
    round, so that load from other processes affects all of them alike."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    optimizers = {name: make(make_params(device)) for name, make in makers.items()}
    for opt in optimizers.values():
        for _ in range(warmup):
            opt.step()
    sync()
    times = {name: [] for name in optimizers}
    for _ in range(repeats):
        for name, opt in optimizers.items():
            t0 = time.perf_counter()
            opt.step()
            sync()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def candidates(device: str) -> dict:
    c = {
        "Adam(foreach=True)": lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=True),
        "SGD(momentum=0.9)": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        "Madam naive per-tensor": lambda ps: NaiveMadam(ps),
        "Madam for-loop": lambda ps: Madam(ps, foreach=False),
        "Madam foreach": lambda ps: Madam(ps, foreach=True),
        "Madam fused (compiled)": lambda ps: Madam(ps, fused=True),
    }
    if device.startswith("cuda"):
        c["Adam(fused=True)"] = lambda ps: torch.optim.Adam(ps, lr=1e-3, fused=True)
    return c


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", default=None, help="markdown output (default docs/optimizer_step_<device>.md)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available here.")

    start = time.perf_counter()
    n_params = sum(torch.Size(s).numel() for s in resnet18_shapes())
    results = time_round_robin(candidates(args.device), args.device, args.warmup, args.repeats)
    base = results["Adam(foreach=True)"]
    wall = time.perf_counter() - start

    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or platform.machine()
    command = "python benchmarks/optimizer_step.py" + ("" if args.device == "cpu" else f" --device {args.device}")
    lines = [
        f"# One optimizer step, ResNet-18-sized parameters ({n_params:,} in {len(resnet18_shapes())} tensors), {args.device}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {device_name}; {os.cpu_count()} CPU cores; torch {torch.__version__}; "
        f"median of {args.repeats} rounds (the optimizers take turns, one step each) after {args.warmup} "
        f"warm-up steps; wall time {wall:.0f} s; "
        f"load average at the end {os.getloadavg()[0]:.1f} (other jobs share the machine: compare ratios, not ms).",
        "",
        "| optimizer | ms / step | ratio vs Adam(foreach=True) |",
        "|---|---:|---:|",
    ]
    for name, t in results.items():
        lines.append(f"| {name} | {t * 1e3:.2f} | {t / base:.2f} |")
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    out = Path(args.out or Path(__file__).resolve().parents[1] / "docs" / f"optimizer_step_{args.device.split(':')[0]}.md")
    atomic_write_text(out, text)
    atomic_write_json(out.with_suffix(".json"), {
        "device": args.device, "device_name": device_name, "torch": torch.__version__, "n_params": n_params,
        "seconds_per_step": results, "ratio_vs_adam_foreach": {k: v / base for k, v in results.items()},
        "command": command, "wall_seconds": wall,
    })
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
