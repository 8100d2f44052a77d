"""GPU check: one lr-sweep point on Fashion-MNIST on CUDA with bf16 autocast; accuracy and time per epoch.

    bash benchmarks/gpu_check_deep.sh [DATA_DIR]          # DATA_DIR holds the 4 Fashion-MNIST IDX files
    PYTHONPATH=. python3 benchmarks/gpu_check_deep.py --data-dir data/fashion-mnist [--net cnn] [--epochs 3]

Needs only torch, numpy, scikit-learn, matplotlib and tqdm (no Brian2: the deep backend never
imports it). Checks that the package imports without Brian2, that CUDA and bf16 autocast are
used, and prints the run's summary; then interrupts a short Madam run on the GPU, resumes it
and reports whether the metrics equal the uninterrupted run's. Folders go under --out
(default runs/gpu_check_deep).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("SYNAPSE_MADAM_DATA", "data/fashion-mnist"))
    ap.add_argument("--net", default="cnn", choices=["mlp", "cnn", "resnet", "deep_mlp"])
    ap.add_argument("--optimizer", default="madam")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", default="runs/gpu_check_deep")
    ap.add_argument("--allow-cpu", action="store_true", help="run even without CUDA (for trying the script)")
    ap.add_argument("--skip-resume-check", action="store_true", help="skip the interrupt-and-resume check")
    args = ap.parse_args(argv)

    import torch

    import synapse_madam
    from synapse_madam.deep import runner
    from synapse_madam.substrates import apply_overrides, load_spec

    print(f"synapse-madam {synapse_madam.__version__}, torch {torch.__version__}, "
          f"brian2 imported: {'brian2' in sys.modules}")
    if not torch.cuda.is_available():
        print("CUDA is not available on this machine.")
        if not args.allow_cpu:
            return 1
    else:
        print(f"device: {torch.cuda.get_device_name()}, bf16 supported: {torch.cuda.is_bf16_supported()}")
    spec_file = {"deep_mlp": "fashion_deep_mlp"}.get(args.net, f"fashion_{args.net}")
    spec = apply_overrides(load_spec(ROOT / "models" / f"{spec_file}.toml"), [
        f'optimizer="{args.optimizer}"', f"lr={args.lr}", f"epochs={args.epochs}", "progress=false",
        f'data_options.data_dir="{args.data_dir}"', 'name="gpu_check"'])
    spec = runner.validate(spec, f"models/{spec_file}.toml")
    t0 = time.perf_counter()
    summary = runner.run(spec, Path(args.out))
    wall = time.perf_counter() - t0
    keys = ("optimizer", "lr", "net", "device", "bf16_autocast", "epochs_completed", "final_test_acc",
            "final_test_loss", "epoch_time_s", "train_examples", "diverged")
    print(json.dumps({k: summary[k] for k in keys}, indent=1))
    print(f"RESULT {spec_file} {args.optimizer} lr={args.lr:g}: test accuracy {summary['final_test_acc']:.4f}, "
          f"{summary['epoch_time_s']:.2f} s per epoch (incl. evaluation), wall {wall:.1f} s")
    ok = summary["epochs_completed"] == args.epochs
    if not args.skip_resume_check:
        ok = resume_check(args.data_dir, Path(args.out)) and ok
    return 0 if ok else 1


class _Stop(Exception):
    pass


def resume_check(data_dir: str, out: Path) -> bool:
    """Interrupt a Madam MLP run after epoch 1, resume it, compare with an uninterrupted run."""
    from synapse_madam.deep.data import load_dataset
    from synapse_madam.deep.nets import build_net
    from synapse_madam.deep.trainer import TrainConfig, train
    from synapse_madam.io import read_jsonl

    data = load_dataset("fashion_mnist", train_subset=10000, data_dir=data_dir)
    cfg = TrainConfig(optimizer="madam", lr=0.01, epochs=3, batch_size=128, schedule="cosine", progress=False)

    def stop(record):
        if record["epoch"] == 1:
            raise _Stop

    net = lambda: build_net("mlp", data.input_shape, data.num_classes, seed=0, width=256, depth=2)  # noqa: E731
    train(net(), data, cfg, out / "resume_full")
    try:
        train(net(), data, cfg, out / "resume_part", callbacks=[stop])
    except _Stop:
        pass
    train(net(), data, cfg, out / "resume_part", resume=True)
    strip = lambda f: [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in read_jsonl(f)]  # noqa: E731
    a, b = strip(out / "resume_full" / "metrics.jsonl"), strip(out / "resume_part" / "metrics.jsonl")
    same = a == b
    print(f"RESUME CHECK (interrupt after epoch 1 of 3, resume): metrics identical = {same}")
    if not same:
        for ra, rb in zip(a, b):
            print("  full:", ra, "\n  resumed:", rb)
    return same


if __name__ == "__main__":
    sys.exit(main())
