"""Learning-rate sweeps: one spec trained with several optimizers x learning rates x seeds.

The question (Bernstein et al., NeurIPS 2020, Figure 1): is Madam's best lr the same across
networks while SGD's and Adam's move by orders of magnitude, and how close does untuned Madam
(lr = 0.01) come to tuned Adam and SGD? Each point is a full run in ``out_dir/<opt>_lr<lr>_seed<s>/``;
a finished point is reused and an interrupted one resumed, so a sweep can be stopped and
restarted. Results: ``sweep.csv``, ``sweep.md`` (table) and ``sweep.png`` (figure).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ..io import atomic_write_text
from ..progress import progress_bar

__all__ = ["sweep", "sweep_rows_table", "best_by_optimizer", "write_sweep_results", "read_sweep_csv", "parse_list"]

CSV_FIELDS = ["optimizer", "lr", "seed", "final_test_acc", "best_test_acc", "final_test_loss",
              "diverged", "epochs_completed", "epoch_time_s", "train_time_s"]


def parse_list(text: str, kind=float, name: str = "value") -> list:
    """'1,0.1,0.01' -> [1.0, 0.1, 0.01]; a clear error naming the bad item."""
    out = []
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.append(kind(item))
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not a valid {kind.__name__}.") from None
    if not out:
        raise ValueError(f"{name}: empty list.")
    return out


def sweep(spec: dict, out_dir: str | Path, optimizers, lrs, seeds: int = 1, *, progress: bool = True,
          source: str = "spec", overwrite: bool = False) -> list[dict]:
    """Run ``spec`` for every (optimizer, lr, seed) and write the sweep results; return the rows.

    ``seeds`` runs use seeds spec.seed, spec.seed+1, ... . ``spec`` is validated per point, so an
    unknown optimizer or a bad lr is reported before anything trains. A point whose folder holds
    a finished run of the same resolved spec is reused, an unfinished one resumed; a folder made
    with another spec is refused naming the keys that differ (:func:`synapse_madam.runs.reusable_summary`),
    unless ``overwrite``, which reruns such points from scratch.
    """
    from ..runs import RunFolderError, reusable_summary
    from .runner import free_keys, run, validate

    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"--seeds must be an integer >= 1, got {seeds!r}.")
    out_dir = Path(out_dir)
    base = validate(spec, source)
    points = []
    for opt in optimizers:
        for lr in lrs:
            for s in range(seeds):
                point = dict(base, optimizer=opt, lr=float(lr), seed=base["seed"] + s, progress=progress)
                point = validate(point, f"{source} (sweep point optimizer={opt}, lr={lr:g})")
                point["name"] = f"{base['name']}/{point['optimizer']}_lr{lr:g}_seed{point['seed']}"
                points.append(point)
    rows = []
    bar = _outer_bar(len(points), base["name"], progress)
    for point in points:
        run_dir = out_dir / point["name"].split("/", 1)[1]
        try:
            summary, fresh = reusable_summary(run_dir, point, free_keys(point)), False
        except RunFolderError:
            if not overwrite:
                raise
            summary, fresh = None, True
        if summary is None:
            summary = run(point, run_dir, resume=not fresh, overwrite=fresh)
        rows.append({k: summary.get(k) for k in CSV_FIELDS})
        bar.set_postfix_str(f"{point['optimizer']} lr={point['lr']:g}: acc={summary.get('final_test_acc') or 0:.3f}")
        bar.update(1)
    bar.close()
    write_sweep_results(rows, out_dir, title=base["name"])
    return rows


def _outer_bar(total, name, enabled):
    return progress_bar(total=total, desc=f"sweep {name}", unit="run", enabled=enabled)


def best_by_optimizer(rows: list[dict], metric: str = "final_test_acc") -> dict[str, tuple[float, float]]:
    """optimizer -> (best lr, mean metric over seeds at that lr); a missing metric counts as 0.
    Exact ties go to the larger lr; the table says when all lrs of an optimizer tie (e.g. none trained)."""
    means = _means(rows, metric)
    best = {}
    for (opt, lr), (m, _s, _n) in sorted(means.items(), key=lambda kv: -kv[0][1]):
        if opt not in best or m > best[opt][1]:
            best[opt] = (lr, m)
    return best


def _all_equal(means, opt) -> bool:
    vals = [m for (o, _lr), (m, _s, _n) in means.items() if o == opt]
    return len(vals) > 1 and max(vals) - min(vals) < 1e-12


def _means(rows, metric):
    groups: dict = {}
    for r in rows:
        v = r.get(metric)
        groups.setdefault((r["optimizer"], float(r["lr"])), []).append(0.0 if v is None or v != v else float(v))
    return {k: (float(np.mean(v)), float(np.std(v)), len(v)) for k, v in groups.items()}


def sweep_rows_table(rows: list[dict], metric: str = "final_test_acc") -> str:
    """Markdown: one row per optimizer, one column per lr (mean ± std over seeds; † = diverged),
    then the best lr and the gap of Madam at its default lr 0.01 to each optimizer's best."""
    means = _means(rows, metric)
    diverged = {(r["optimizer"], float(r["lr"])) for r in rows if r.get("diverged")}
    opts = list(dict.fromkeys(r["optimizer"] for r in rows))
    lrs = sorted({float(r["lr"]) for r in rows}, reverse=True)
    best = best_by_optimizer(rows, metric)
    head = "| optimizer | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " | best lr | best |"
    lines = [head, "|" + "---|" * (len(lrs) + 3)]
    for opt in opts:
        cells = []
        for lr in lrs:
            if (opt, lr) not in means:
                cells.append("")
                continue
            m, s, n = means[(opt, lr)]
            cell = f"{m:.4f}" + (f" ± {s:.4f}" if n > 1 else "") + (" †" if (opt, lr) in diverged else "")
            cells.append(f"**{cell}**" if lr == best[opt][0] and not _all_equal(means, opt) else cell)
        best_lr = "none (all equal)" if _all_equal(means, opt) else f"{best[opt][0]:g}"
        lines.append(f"| {opt} | " + " | ".join(cells) + f" | {best_lr} | {best[opt][1]:.4f} |")
    n_seeds = max(n for (_m, _s, n) in means.values())
    lines.append("")
    lines.append(f"{metric} (mean{' ± std' if n_seeds > 1 else ''} over {n_seeds} seed{'s' if n_seeds > 1 else ''}); "
                 "bold: best lr of the optimizer; †: at least one seed diverged (counted as 0 when no metric).")
    if ("madam", 0.01) in means:
        m = means[("madam", 0.01)][0]
        gaps = ", ".join(f"{opt} {m - b:+.4f}" for opt, (_lr, b) in best.items() if opt != "madam")
        lines.append(f"Untuned Madam (lr 0.01) = {m:.4f}; minus each tuned optimizer's best: {gaps}.")
    return "\n".join(lines) + "\n"


def write_sweep_results(rows: list[dict], out_dir: str | Path, title: str = "") -> None:
    """sweep.csv, sweep.md and sweep.png in ``out_dir``."""
    from .. import plots
    from .figures import lr_sweep

    out_dir = Path(out_dir)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_FIELDS})
    atomic_write_text(out_dir / "sweep.csv", buf.getvalue())
    atomic_write_text(out_dir / "sweep.md", (f"## {title}\n\n" if title else "") + sweep_rows_table(rows))
    plots.save_figure(lr_sweep(rows, title=title), out_dir / "sweep.png")


def read_sweep_csv(path: str | Path) -> list[dict]:
    """Rows of a sweep.csv with numbers parsed back (empty cells -> None)."""
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            row = {}
            for k, v in r.items():
                if k == "optimizer":
                    row[k] = v
                elif k == "diverged":
                    row[k] = v == "True"
                else:
                    row[k] = None if v == "" else (int(v) if k in ("seed", "epochs_completed") else float(v))
                    if isinstance(row[k], float) and math.isnan(row[k]):
                        row[k] = None
            rows.append(row)
    return rows
