"""The synaptic-precision study across tasks: one tasks x formats table from the per-budget runs.

    python3 benchmarks/lns_bits_summary.py                     # every docs/lns_bits_<device>_<budget>.json
    python3 benchmarks/lns_bits_summary.py docs/lns_bits_cpu_tf25.json docs/lns_bits_cpu_deep20k.json

``benchmarks/lns_bits.py`` writes one report per device and budget (its command and load at the
top, every run in its .json). This script reads those .json files only, never a hand-made table,
and writes docs/lns_bits_summary.md and .png: per task and budget (a column), whether the budget
is converged (FP32 Madam at 3x the budget no more than 1 point better) and separates precisions
(uniform + SR at 8 bits at least 1 point above 4 bits, Welch p < 0.05); the gap of every format
to FP32 Madam (mean ± sd over seeds); the issue's targets; and the gap of the 26-level LNS format
against its level spacing (Bartol et al. 2015's measured spacing, f = 1). A column whose budget
fails either check is shown, and marked: its gaps are those of a short run or of a task that
cannot tell 4 from 8 bits.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _bench():
    """benchmarks/lns_bits.py as a module (benchmarks/ is not a package)."""
    name = "lns_bits_bench"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "lns_bits.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def columns(paths: list[Path]) -> list[dict]:
    """One column per (file, task): {name, task, source, rows (lns_bits.summarise), sep, conv, targets}."""
    b = _bench()
    out = []
    for path in paths:
        try:
            d = json.loads(path.read_text())
            runs, meta = d["runs"], d["meta"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}: not a run file of benchmarks/lns_bits.py ({exc}); "
                             "pass the docs/lns_bits_<device>_<budget>.json files it writes")
        for task, rows in b.summarise(runs).items():
            if "madam" not in rows:
                continue
            out.append({"name": f"{task} · {meta['device']} {meta['budget']}", "task": task, "source": path.name,
                        "rows": rows, "sep": b.separation(rows), "conv": b.convergence(rows),
                        "targets": {_target_name(n): (v, ok) for n, v, ok in b.targets(rows)}})
    order = list(b.TASKS)
    return sorted(out, key=lambda c: (order.index(c["task"]), c["source"]))


def _check_cells(cols: list[dict]) -> tuple[list[str], list[str]]:
    """The 'converged' and 'separates' rows: yes/no with the difference (and p) in brackets."""
    conv, sep = [], []
    for c in cols:
        d = c["conv"]
        conv.append("–" if d is None else f"{'yes' if d <= 1.0 else '**no**'} ({d:+.1f})")
        s = c["sep"]
        sep.append("–" if s["separates"] is None else
                   f"{'yes' if s['separates'] else '**no**'} ({s['diff']:+.1f}, p {s['p']:.2g})")
    return conv, sep


def _target_name(name: str) -> str:
    """A target's name without its trailing bracket (the rival a column chose, or 'seed 0')."""
    return name.rsplit(" (", 1)[0] if name.endswith(")") else name


def report(cols: list[dict], command: str) -> str:
    b = _bench()
    fmt = b._fmt
    keys = [k for k in b.CONFIGS if any(k in c["rows"] for c in cols)]
    head = "| format | bits | " + " | ".join(c["name"] for c in cols) + " |"
    rule = "|---|---:|" + "---:|" * len(cols)
    conv, sep = _check_cells(cols)
    lines = ["# Synaptic precision across tasks: LNS formats and fair baselines against FP32 Madam", "",
             f"Command: `{command}`  ",
             "Built only from the per-budget run files of `benchmarks/lns_bits.py` (each with its own command, "
             "device and load at the top): " + ", ".join(f"[{p}]({Path(p).with_suffix('.md').name})"
                                                         for p in dict.fromkeys(c["source"] for c in cols)) + ".", "",
             "Each column is one task at one budget on one device. **converged**: FP32 Madam at "
             f"{b.LONG_FACTOR}x the budget is no more than 1 point better than at the budget (seed 0; the "
             "difference in brackets). **separates**: uniform + stochastic rounding + Adam at 8 bits is at least "
             f"{b.SEPARATION_POINTS:g} point above 4 bits with Welch p < {b.SEPARATION_P:g} (difference and p in "
             "brackets). Only a column with both *yes* measures what the issue asks; the others are shown "
             "because they are all there is for that task, and say so.", "",
             "Cells: test accuracy minus FP32 Madam (points, mean ± sd over seeds /number of seeds); the FP32 Madam row gives its accuracy. LNSMadam and Bartol rows at lr 0.01, nothing tuned; "
             "baselines at their best lr of the grid "
             f"{list(b.LR_GRID)} on seed 0 (in brackets).", "",
             head, rule,
             "| converged | | " + " | ".join(conv) + " |",
             "| separates | | " + " | ".join(sep) + " |"]
    for key in keys:
        cfg = b.CONFIGS[key]
        bits = "32" if cfg.bits is None else f"{cfg.bits:.3g}"
        cells = []
        for c in cols:
            r, ref = c["rows"].get(key), c["rows"]["madam"]
            if not r:
                cells.append("–")
            elif key == "madam":
                cells.append(f"{r['mean']:.2f} % ± {fmt(r['sd'])} /{r['n']}")
            else:
                lr = f" (lr {r['lr']:g})" if cfg.lr is None else ""
                cells.append(f"{r['mean'] - ref['mean']:+.2f} ± {fmt(r['sd'])} /{r['n']}{lr}")
        lines.append(f"| {cfg.label} | {bits} | " + " | ".join(cells) + " |")
    lines += ["", "## The issue's targets per column", "",
              "| target | " + " | ".join(c["name"] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    names = list(dict.fromkeys(n for c in cols for n in c["targets"]))
    for name in names:
        cells = []
        for c in cols:
            v, ok = c["targets"].get(name, (None, None))
            cells.append("–" if ok is None else f"{v:+.2f} {'yes' if ok else '**no**'}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    spacing = [("bartol", 1.0)] + [(f"spacing_{f:g}", f) for f in b.SPACING_FACTORS]
    spacing.sort(key=lambda kf: kf[1])
    lines += ["", "## Bartol's format: gap against the level spacing", "",
              "26 magnitude levels (4.7 bits) spaced by e^(2·0.083·f); f = 1 is Bartol et al. 2015's measured "
              "spacing. Gap to FP32 Madam in points (mean ± sd /n).", "",
              "| column | " + " | ".join(f"f = {f:g}" for _, f in spacing) + " |", "|---|" + "---:|" * len(spacing)]
    for c in cols:
        ref = c["rows"]["madam"]
        cells = [("–" if key not in c["rows"] else
                  f"{c['rows'][key]['mean'] - ref['mean']:+.2f} ± {fmt(c['rows'][key]['sd'])} /{c['rows'][key]['n']}")
                 for key, _ in spacing]
        if any(x != "–" for x in cells):
            lines.append(f"| {c['name']} | " + " | ".join(cells) + " |")
    lines += ["", "Figure: [lns_bits_summary.png](lns_bits_summary.png) (left: gap to FP32 Madam of every format, "
              "one colour per column; right: the spacing study).", ""]
    return "\n".join(lines)


def default_paths(docs: Path) -> list[Path]:
    return sorted(p for p in docs.glob("lns_bits_*_*.json") if p.stem != "lns_bits_summary")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="run files of benchmarks/lns_bits.py (default: docs/lns_bits_*_*.json)")
    ap.add_argument("--docs", default="docs", help="where lns_bits_summary.md and .png go (default docs)")
    args = ap.parse_args(argv)
    docs = Path(args.docs)
    paths = [Path(p) for p in args.files] or default_paths(docs)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        raise SystemExit(f"no such run file: {', '.join(missing) or docs / 'lns_bits_*_*.json'}; "
                         "run benchmarks/lns_bits.py first or pass its .json files")
    cols = columns(paths)
    if not cols:
        raise SystemExit("none of the run files has a task with FP32 Madam runs; nothing to compare against")
    command = "python3 benchmarks/lns_bits_summary.py" + (" " + " ".join(args.files) if args.files else "")
    from synapse_madam import plots
    from synapse_madam.deep.figures import precision_gaps
    from synapse_madam.io import atomic_write_text

    b = _bench()
    docs.mkdir(parents=True, exist_ok=True)
    md = docs / "lns_bits_summary.md"
    atomic_write_text(md, report(cols, command))
    panels = {c["name"]: b.gap_panels({c["task"]: c["rows"]})[c["task"]] for c in cols}  # every column has FP32 Madam
    plots.save_figure(precision_gaps(panels, bartol_spacing=b.BARTOL_LOG_SPACING, spacing_keys=b.spacing_labels()),
                      docs / "lns_bits_summary.png")
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
