"""The `synapse-madam` command. One sub-command per job; user mistakes print one clear line."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _add_info_command(sub) -> None:
    p = sub.add_parser("info", help="print versions and the compute device")
    p.set_defaults(func=_info)


def _info(args) -> int:
    import numpy
    import torch

    print(f"synapse-madam {__version__}; torch {torch.__version__}; numpy {numpy.__version__}")
    print(f"device: {'cuda (' + torch.cuda.get_device_name() + ')' if torch.cuda.is_available() else 'cpu'}")
    return 0


def _add_stats_command(sub) -> None:
    p = sub.add_parser(
        "stats", help="synapse statistics of a weights file or run: log-normal fits, reference comparison, "
                      "bimodality, levels/bits; table + figures",
        description="Fit log-normal / normal / gamma / 2-log-normal-mixture distributions to every weight "
                    "group and sign class (E: w > 0, I: |w| of w < 0), compare with a measured reference, "
                    "test bimodality and count distinguishable levels. Prints a table and writes stats.json, "
                    "stats.md and PNG figures.")
    p.add_argument("path", metavar="FILE_OR_RUN", help="run folder (runs/NAME with weights.npz) or a .npz/.npy/.csv file")
    p.add_argument("--reference", default="song2005", help="log-normal reference dataset (default song2005)")
    p.add_argument("--out", default=None, help="output folder (default: the run folder, or next to the file)")
    p.add_argument("--unit", default=None,
                   help="unit of the weights; location comparisons need the reference's (mV). Default: the "
                        "run's weight_unit from its summary.json, else a.u.")
    p.add_argument("--zeros", choices=("drop", "error"), default="drop",
                   help="exact zeros: drop and count them (default) or stop with an error")
    p.add_argument("--group", action="append", default=None, help="analyse only this weight group (repeatable)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs (default 1000)")
    p.add_argument("--n-sim", type=int, default=500, help="null simulations for the dip test (default 500)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-figures", action="store_true", help="write only the table files")
    p.set_defaults(func=_stats)


def _stats(args) -> int:
    from pathlib import Path

    from .biology import analyze, load_weights, reference_distribution, run_weight_info
    from .io import atomic_write_json, atomic_write_text

    reference = reference_distribution(args.reference)  # unknown name -> error listing the allowed ones
    groups, folder = load_weights(args.path)
    run_unit, bounds = run_weight_info(folder) if Path(args.path).is_dir() else (None, {})
    unit = args.unit or run_unit or "a.u."
    if args.group:
        missing = [g for g in args.group if g not in groups]
        if missing:
            raise ValueError(f"no weight group(s) {missing} in {args.path}; it has {sorted(groups)}.")
        groups = {g: groups[g] for g in args.group}
    report = analyze(groups, reference, unit=unit, zeros=args.zeros, source=str(args.path),
                     n_boot=args.n_boot, n_sim=args.n_sim, bounds={g: b for g, b in bounds.items() if g in groups},
                     seed=args.seed)
    print(report.to_text())
    out = Path(args.out) if args.out else folder
    written = [atomic_write_json(out / "stats.json", report.to_dict()), atomic_write_text(out / "stats.md", report.to_markdown())]
    if not args.no_figures:
        from . import plots

        for g in report.groups:
            fig = plots.figure_weight_statistics(g, reference, unit=unit)
            written.append(plots.save_figure(fig, out / f"stats_{plots.safe_filename(g.name)}.png"))
        written.append(plots.save_figure(plots.figure_sigma_summary(report), out / "stats_sigma.png"))
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0


def _add_run_command(sub) -> None:
    p = sub.add_parser("run", help="run an experiment spec (models/*.toml) into runs/NAME/")
    p.add_argument("spec", help="path to a TOML spec, e.g. models/spiking_song_madam.toml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec value (section.key=value), repeatable")
    p.add_argument("--out", default=None, help="run folder (default: runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from pathlib import Path

    from . import experiments

    spec = experiments.apply_overrides(experiments.load_spec(args.spec), args.set)
    run_dir = Path(args.out) if args.out else Path("runs") / str(spec["name"])
    summary = experiments.run(spec, run_dir, source=args.spec, resume=args.resume)
    print(f"wrote {run_dir}/ (summary.json, weights.npz, figures); simulation wall time {summary.get('wall_s', float('nan')):.3g} s")
    return 0


# Each entry adds one sub-command to the parser. Substrates register theirs here.
COMMANDS = [_add_info_command, _add_run_command, _add_stats_command]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synapse-madam", description=__doc__)
    parser.add_argument("--version", action="version", version=f"synapse-madam {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, KeyError) as exc:
        print(f"synapse-madam {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
