"""Time one optimizer step on a ResNet-18-sized parameter set (11.7 M parameters, 62 tensors in
ResNet-18's real shapes): every Madam path (and PairedMadam's, issue 13) against torch.optim.Adam(foreach=True) and
torch.optim.SGD(momentum=0.9), in one process, after warm-up; the optimizers take turns step by
step (benchmarks/timing.py: load before/after, median and min, refuses to write docs/ at load
above 0.75 x cores unless --force).

    python benchmarks/optimizer_step.py                    # CPU; writes docs/optimizer_step_cpu.md
    python benchmarks/optimizer_step.py --device cuda      # adds fused Adam; docs/optimizer_step_cuda.md

Also reported: the first-step latency (building the native kernel from an empty cache, in a
fresh process; the first and second default Madam step here). Ratios are median time / median
time of Adam(foreach=True) (lower is faster). The "naive per-tensor" row is
the rule written the direct way (a python-float bias correction and a NaN mask write per tensor,
as in the published code), to show what the optimised paths buy.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import timing  # noqa: E402

from synapse_madam import Madam  # noqa: E402
from synapse_madam.optim import LNSMadam, PairedMadam, UniformQuantized  # noqa: E402
from synapse_madam.optim import native  # noqa: E402
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


def first_step_latency(device: str) -> dict:
    """Seconds to build the native kernel from an empty cache (in a fresh process, so nothing is
    cached in memory), and of the first and a later default Madam step in this process."""
    out = {}
    if device == "cpu":
        code = ("import time; t = time.perf_counter(); from synapse_madam.optim import native; "
                "ok = native.available(); print(time.perf_counter() - t, ok)")
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, SYNAPSE_MADAM_CACHE=cache, PYTHONPATH=str(ROOT))
            done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            build_s, ok = done.stdout.split()
            out["native_build_from_empty_cache_s"] = float(build_s) if ok == "True" else None
    params = make_params(device)
    opt = Madam(params)
    t0 = time.perf_counter()
    opt.step()
    out["first_step_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    opt.step()
    out["second_step_s"] = time.perf_counter() - t0
    return out


LATENCY_LABELS = {"native_build_from_empty_cache_s": "building the native kernel from an empty cache (fresh process)",
                  "first_step_s": "first default Madam step (state created)", "second_step_s": "second step"}


def candidates(device: str) -> dict:
    c = {
        "Adam(foreach=True)": lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=True),
        "SGD(momentum=0.9)": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        "Madam default": lambda ps: Madam(ps),
        "Madam foreach": lambda ps: Madam(ps, foreach=True),
        "Madam for-loop": lambda ps: Madam(ps, foreach=False),
        "Madam naive per-tensor": lambda ps: NaiveMadam(ps),
        "LNSMadam 8 bits": lambda ps: LNSMadam(ps, bits=8),
        "Adam on an 8-bit uniform grid (stochastic rounding)": lambda ps: UniformQuantized(
            torch.optim.Adam(ps, lr=1e-3, foreach=True), bits=8, rounding="stochastic"),
        "PairedMadam default (foreach)": lambda ps: PairedMadam(ps),
        "PairedMadam fused (compiled)": lambda ps: PairedMadam(ps, fused=True),
    }
    if device.startswith("cuda"):
        c["Madam fused (compiled)"] = lambda ps: Madam(ps, fused=True)
        c["Adam(fused=True)"] = lambda ps: torch.optim.Adam(ps, lr=1e-3, fused=True)
    return c


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", default=None, help="markdown output (default docs/optimizer_step_<device>.md)")
    parser.add_argument("--force", action="store_true", help="write into docs/ even under load (the file says so)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available here.")
    out = Path(args.out or ROOT / "docs" / f"optimizer_step_{args.device.split(':')[0]}.md")
    banner = timing.guard(out, args.force)
    load_before = timing.fmt_load()

    start = time.perf_counter()
    n_params = sum(torch.Size(s).numel() for s in resnet18_shapes())
    latency = first_step_latency(args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    optimizers = {name: make(make_params(args.device)) for name, make in candidates(args.device).items()}
    times = timing.interleave({name: opt.step for name, opt in optimizers.items()}, args.repeats, args.warmup, sync)
    results = timing.summary(times, "Adam(foreach=True)")
    wall = time.perf_counter() - start
    load_after = timing.fmt_load()
    print(f"load average after: {load_after}")

    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or platform.machine()
    command = "python benchmarks/optimizer_step.py" + ("" if args.device == "cpu" else f" --device {args.device}")
    kernel = native.kernel_info() if args.device == "cpu" else {}
    lines = [
        f"# One optimizer step, ResNet-18-sized parameters ({n_params:,} in {len(resnet18_shapes())} tensors), {args.device}",
        "",
        *([banner, ""] if banner else []),
        f"Command: `{command}`  ",
        f"Machine: {device_name}; {os.cpu_count()} CPU cores; torch {torch.__version__}; "
        f"torch threads {torch.get_num_threads()}; load average (1, 5, 15 min) before {load_before}, after {load_after}; "
        f"{args.repeats} rounds (the optimizers take turns, one step each) after {args.warmup} warm-up rounds; "
        f"wall time {wall:.0f} s.",
        "",
        "| optimizer | median ms / step | min ms / step | median ratio vs Adam(foreach=True) | min ratio | median ratio vs Madam default |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    madam_med = results["Madam default"]["median"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['median'] * 1e3:.2f} | {r['min'] * 1e3:.2f} | {r['ratio']:.2f} | {r['ratio_min']:.2f} "
                     f"| {r['median'] / madam_med:.2f} |")
    lines += ["", "\"Madam default\" is `Madam(params)` with no flag: "
              + ("the native one-pass kernel (synapse_madam/optim/native.py"
                 + (f", built with `{' '.join(kernel['flags'])}`" if kernel else ", unavailable here: the for-loop path") + ")."
                 if args.device == "cpu" else "the foreach path."),
              "",
              "First-step latency: " + "; ".join(f"{LATENCY_LABELS[k]} {v:.3f} s" for k, v in latency.items() if v is not None) + "."]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    atomic_write_text(out, text)
    atomic_write_json(out.with_suffix(".json"), {
        "device": args.device, "device_name": device_name, "torch": torch.__version__, "n_params": n_params,
        "results": results, "latency": latency, "command": command, "wall_seconds": wall,
        "load_before": load_before, "load_after": load_after, "forced_under_load": bool(banner), "kernel": kernel,
    })
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
