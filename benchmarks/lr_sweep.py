"""Learning-rate sweeps on several tasks: Madam, SGD and Adam at lr 1 ... 1e-4 (the paper's Figure 1).

    nice -n 10 .venv/bin/python benchmarks/lr_sweep.py --seeds 1          # one seed per point
    nice -n 10 .venv/bin/python benchmarks/lr_sweep.py --seeds 3          # adds seeds 1 and 2

Each task is a models/*.toml spec with a CPU budget (training subset, epochs) set below; every
point is an ordinary run folder under runs/lr_sweep/TASK/, reused when finished, so raising
--seeds only trains the new seeds. Writes docs/lr_sweep.md (tables, budget, command, wall time)
and docs/lr_sweep.png (one panel per task: test accuracy / each optimizer's best, vs lr).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synapse_madam import plots  # noqa: E402
from synapse_madam.deep.figures import lr_sweep_panels  # noqa: E402
from synapse_madam.deep.sweep import best_by_optimizer, read_sweep_csv, sweep, sweep_rows_table  # noqa: E402
from synapse_madam.substrates import apply_overrides, load_spec  # noqa: E402
from synapse_madam.io import atomic_write_text  # noqa: E402

# task name -> (spec, overrides, the seeds this task gets at most, a one-line budget description)
TASKS = {
    "fashion_mlp": ("models/fashion_mlp.toml", ["epochs=5"], 3,
                    "MLP 784-256-256-10, all 60 000 training images, 5 epochs, batch 128"),
    "fashion_deep_mlp": ("models/fashion_deep_mlp.toml", ["epochs=5", "train_subset=20000"], 3,
                         "MLP with 16 hidden layers of 128, 20 000 training images, 5 epochs, batch 128"),
    "fashion_cnn": ("models/fashion_cnn.toml", ["epochs=3", "train_subset=10000"], 1,
                    "CNN 32/64 channels, 10 000 training images, 3 epochs, batch 128"),
    "fortunes_transformer": ("models/fortunes_transformer.toml",
                             ["epochs=5", "net_options.d_model=64"], 3,
                             "char Transformer, 2 layers, d_model 64, 87 808 training characters, 5 epochs, batch 32"),
    "fashion_resnet": ("models/fashion_resnet.toml", ["epochs=3", "schedule=\"constant\""], 1,
                       "ResNet-14 16/32/64 channels, BatchNorm affine (for a GPU)"),
}
DEFAULT_TASKS = ["fashion_mlp", "fashion_deep_mlp", "fashion_cnn", "fortunes_transformer"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(DEFAULT_TASKS), help="comma-separated, from: " + ", ".join(TASKS))
    ap.add_argument("--optimizers", default="madam,sgd,adam")
    ap.add_argument("--lrs", default="1,0.1,0.01,0.001,0.0001")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per point (capped per task, see TASKS)")
    ap.add_argument("--out", default="runs/lr_sweep")
    ap.add_argument("--docs", default="docs")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a shared machine)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra spec override for every task (after the task's own), e.g. train_subset=0")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--docs-only", action="store_true", help="only rewrite docs/ from the sweeps already in --out")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.docs_only:
        write_docs(Path(args.out), Path(args.docs), {})
        return 0
    optimizers = args.optimizers.split(",")
    lrs = [float(x) for x in args.lrs.split(",")]
    walls = {}
    for task in args.tasks.split(","):
        spec_path, overrides, max_seeds, _budget = TASKS[task]
        spec = apply_overrides(load_spec(ROOT / spec_path), overrides + args.set + [f'name="{task}"'])
        t0 = time.perf_counter()
        rows = sweep(spec, Path(args.out) / task, optimizers, lrs, min(args.seeds, max_seeds),
                     progress=not args.no_progress, source=spec_path)
        walls[task] = time.perf_counter() - t0 + _load_walls(Path(args.out)).get(task, 0.0)
        _save_walls(Path(args.out), walls)
        print(f"\n## {task}  ({walls[task]:.0f} s)\n" + sweep_rows_table(rows), flush=True)
    _save_command(Path(args.out), argv if argv is not None else sys.argv[1:])
    write_docs(Path(args.out), Path(args.docs), walls)
    return 0


def _load_commands(out: Path) -> list[str]:
    f = out / "commands.txt"
    return f.read_text().splitlines() if f.is_file() else []


def _save_command(out: Path, argv) -> None:
    """Remember every invocation's arguments (a sweep grown by re-runs lists them all)."""
    f = out / "commands.txt"
    old = f.read_text() if f.is_file() else ""
    atomic_write_text(f, old + " ".join(argv) + "\n")


def _device_line() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (bf16 autocast)"
    return f"{platform.processor() or platform.machine()} CPU only, 1 torch thread per run, shared with other jobs"


def _load_walls(out: Path) -> dict:
    import json

    f = out / "wall_s.json"
    return json.loads(f.read_text()) if f.is_file() else {}


def _save_walls(out: Path, walls: dict) -> None:
    """Total wall seconds spent per task, summed over every invocation (re-runs add seeds)."""
    import json

    atomic_write_text(out / "wall_s.json", json.dumps({**_load_walls(out), **walls}, indent=1))


def _notes(docs: Path) -> list[str]:
    """The hand-written reading of the results (docs/lr_sweep_notes.md), kept when the tables are rewritten."""
    f = docs / "lr_sweep_notes.md"
    return [f.read_text().rstrip(), ""] if f.is_file() else []


def _best_lr_text(rows, opt, best) -> str:
    vals = [r["final_test_acc"] or 0.0 for r in rows if r["optimizer"] == opt]
    if opt not in best:
        return "-"
    if len(vals) > 1 and max(vals) - min(vals) < 1e-12:
        return "none (all equal)"
    return f"{best[opt][0]:g}"


def _budget(task_dir: Path) -> str:
    """What one point of the task trained: net, data, epochs, batch (from a resolved spec.toml)."""
    import tomllib

    spec_file = next(iter(sorted(task_dir.glob("*/spec.toml"))), None)
    if spec_file is None:
        return "?"
    s = tomllib.loads(spec_file.read_text())
    opts = ", ".join(f"{k}={v}" for k, v in s["net_options"].items())
    n = f"{s['train_subset']} training examples" if s["train_subset"] else "whole training split"
    return f"{s['dataset']}, {s['net']} ({opts}), {n}, {s['epochs']} epochs, batch {s['batch_size']}, {s['schedule']} lr"


def write_docs(out: Path, docs: Path, walls: dict) -> None:
    """Combine every task's sweep.csv under ``out`` into docs/lr_sweep.md and docs/lr_sweep.png."""
    walls = {**_load_walls(out), **walls}
    tasks = {t: read_sweep_csv(out / t / "sweep.csv") for t in TASKS if (out / t / "sweep.csv").is_file()}
    if not tasks:
        raise FileNotFoundError(f"no sweep results under {out}/ (run the sweeps first).")
    lines = [
        "# Learning-rate sweeps: Madam vs SGD vs Adam",
        "",
        "Produced by `benchmarks/lr_sweep.py` (one run per optimizer x lr x seed; constant lr; final test",
        "accuracy after the last epoch; for the Transformer, next-character accuracy on held-out text).",
        "",
        f"Device: {_device_line()};",
        f"torch {torch.__version__}. Commands, in order (a later one reuses the points already finished):",
        "",
        *[f"    nice -n 10 .venv/bin/python benchmarks/lr_sweep.py {c}" for c in _load_commands(out)],
        "",
        f"Wall time of all sweeps together: {sum(walls.get(t, 0.0) for t in tasks):.0f} s "
        "(per task in the table, summed over the commands).",
        "",
        "Budgets (training examples, epochs) are small and listed per task: absolute accuracies are below",
        "what longer training reaches. The question is where each optimizer's best lr lies and how far",
        "untuned Madam (lr 0.01) is from each tuned baseline under the same budget.",
        "",
        *_notes(docs),
        "![lr sweep](lr_sweep.png)",
        "",
        "| task | budget | Madam best lr | SGD best lr | Adam best lr | Madam @ 0.01 | best Adam | best SGD | sweep wall time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t, rows in tasks.items():
        best = best_by_optimizer(rows)
        budget = _budget(out / t)
        m001 = [r["final_test_acc"] or 0.0 for r in rows if r["optimizer"] == "madam" and r["lr"] == 0.01]
        wall = f"{walls[t]:.0f} s" if t in walls else "(earlier run)"
        lrs = {o: _best_lr_text(rows, o, best) for o in ("madam", "sgd", "adam")}
        lines.append(f"| {t} | {budget} | {lrs['madam']} | {lrs['sgd']} | {lrs['adam']} | {sum(m001) / max(len(m001), 1):.4f} | "
                     f"{best.get('adam', (0, 0))[1]:.4f} | {best.get('sgd', (0, 0))[1]:.4f} | {wall} |")
    for t, rows in tasks.items():
        lines += ["", f"## {t}", "", _budget(out / t) + ".", "", sweep_rows_table(rows)]
    docs.mkdir(parents=True, exist_ok=True)
    atomic_write_text(docs / "lr_sweep.md", "\n".join(lines) + "\n")
    plots.save_figure(lr_sweep_panels(tasks), docs / "lr_sweep.png")


if __name__ == "__main__":
    sys.exit(main())
