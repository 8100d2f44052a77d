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
from synapse_madam.deep.sweep import best_by_optimizer, read_sweep_csv, sweep, sweep_rows_table  # noqa: E402
from synapse_madam.experiments import apply_overrides, load_spec  # noqa: E402
from synapse_madam.io import atomic_write_text  # noqa: E402

# task name -> (spec, overrides, the seeds this task gets at most, a one-line budget description)
TASKS = {
    "fashion_mlp": ("models/fashion_mlp.toml", ["epochs=5"], 3,
                    "MLP 784-256-256-10, all 60 000 training images, 5 epochs, batch 128"),
    "fashion_deep_mlp": ("models/fashion_deep_mlp.toml", ["epochs=5", "train_subset=20000"], 3,
                         "MLP with 16 hidden layers of 128, 20 000 training images, 5 epochs, batch 128"),
    "fashion_cnn": ("models/fashion_cnn.toml", ["epochs=3", "train_subset=10000"], 2,
                    "CNN 32/64 channels, 10 000 training images, 3 epochs, batch 128"),
    "fortunes_transformer": ("models/fortunes_transformer.toml",
                             ["epochs=5", "net_options.d_model=64"], 3,
                             "char Transformer, 2 layers, d_model 64, 87 808 training characters, 5 epochs, batch 32"),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(TASKS), help="comma-separated, from: " + ", ".join(TASKS))
    ap.add_argument("--optimizers", default="madam,sgd,adam")
    ap.add_argument("--lrs", default="1,0.1,0.01,0.001,0.0001")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per point (capped per task, see TASKS)")
    ap.add_argument("--out", default="runs/lr_sweep")
    ap.add_argument("--docs", default="docs")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a shared machine)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    optimizers = args.optimizers.split(",")
    lrs = [float(x) for x in args.lrs.split(",")]
    walls = {}
    for task in args.tasks.split(","):
        spec_path, overrides, max_seeds, _budget = TASKS[task]
        spec = apply_overrides(load_spec(ROOT / spec_path), overrides + [f'name="{task}"'])
        t0 = time.perf_counter()
        rows = sweep(spec, Path(args.out) / task, optimizers, lrs, min(args.seeds, max_seeds),
                     progress=not args.no_progress, source=spec_path)
        walls[task] = time.perf_counter() - t0 + _load_walls(Path(args.out)).get(task, 0.0)
        _save_walls(Path(args.out), walls)
        print(f"\n## {task}  ({walls[task]:.0f} s)\n" + sweep_rows_table(rows), flush=True)
    write_docs(Path(args.out), Path(args.docs), walls, " ".join(["benchmarks/lr_sweep.py"] + (argv or sys.argv[1:])))
    return 0


def _load_walls(out: Path) -> dict:
    import json

    f = out / "wall_s.json"
    return json.loads(f.read_text()) if f.is_file() else {}


def _save_walls(out: Path, walls: dict) -> None:
    """Total wall seconds spent per task, summed over every invocation (re-runs add seeds)."""
    import json

    atomic_write_text(out / "wall_s.json", json.dumps({**_load_walls(out), **walls}, indent=1))


def write_docs(out: Path, docs: Path, walls: dict, command: str) -> None:
    """Combine every task's sweep.csv under ``out`` into docs/lr_sweep.md and docs/lr_sweep.png."""
    walls = {**_load_walls(out), **walls}
    tasks = {t: read_sweep_csv(out / t / "sweep.csv") for t in TASKS if (out / t / "sweep.csv").is_file()}
    lines = [
        "# Learning-rate sweeps: Madam vs SGD vs Adam",
        "",
        "Produced by `benchmarks/lr_sweep.py` (one run per optimizer x lr x seed; constant lr; final test",
        "accuracy after the last epoch; for the Transformer, next-character accuracy on held-out text).",
        "",
        f"Machine: {platform.processor() or platform.machine()}, CPU only, 1 torch thread per run, shared with other jobs;",
        f"torch {torch.__version__}. Command: `nice -n 10 .venv/bin/python {command}`",
        "(points already finished were reused when the command was re-run with more seeds; the wall time is the sum).",
        "",
        "These are small CPU budgets (subsets, few epochs), chosen so that the whole sweep fits in about",
        "40 minutes on 2 shared cores: absolute accuracies are below what longer training reaches; the",
        "question is where each optimizer's best lr lies and how far untuned Madam (lr 0.01) is from each",
        "tuned baseline under the same budget.",
        "",
        "![lr sweep](lr_sweep.png)",
        "",
        "| task | budget | Madam best lr | SGD best lr | Adam best lr | Madam @ 0.01 | best Adam | best SGD | sweep wall time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t, rows in tasks.items():
        best = best_by_optimizer(rows)
        m001 = [r["final_test_acc"] or 0.0 for r in rows if r["optimizer"] == "madam" and r["lr"] == 0.01]
        wall = f"{walls[t]:.0f} s" if t in walls else "(earlier run)"
        lines.append(f"| {t} | {TASKS[t][3]} | {best.get('madam', ('-',))[0]:g} | {best.get('sgd', ('-',))[0]:g} | "
                     f"{best.get('adam', ('-',))[0]:g} | {sum(m001) / max(len(m001), 1):.4f} | "
                     f"{best.get('adam', (0, 0))[1]:.4f} | {best.get('sgd', (0, 0))[1]:.4f} | {wall} |")
    for t, rows in tasks.items():
        lines += ["", f"## {t}", "", TASKS[t][3] + ".", "", sweep_rows_table(rows)]
    docs.mkdir(parents=True, exist_ok=True)
    atomic_write_text(docs / "lr_sweep.md", "\n".join(lines) + "\n")
    plots.save(plots.lr_sweep_panels(tasks), docs / "lr_sweep.png")


if __name__ == "__main__":
    sys.exit(main())
