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
                    "test bimodality and count distinguishable levels. Prints a table and writes stats_<input>.json, "
                    "stats_<input>.md and PNG figures (named after the input: stats_weights.* for a run folder).")
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
    from .runs import stats_output_names

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
                     seed=args.seed, progress=True)
    print(report.to_text())
    names = stats_output_names(args.path, args.out)  # derived from the input: two inputs never collide
    written = [atomic_write_json(names["json"], report.to_dict()), atomic_write_text(names["md"], report.to_markdown())]
    if not args.no_figures:
        from . import plots
        from .biology import figures

        out, stem = names["folder"], names["stem"]
        for g in report.groups:
            fig = figures.figure_weight_statistics(g, reference, unit=unit)
            written.append(plots.save_figure(fig, out / f"{stem}_{plots.safe_filename(g.name)}.png"))
        written.append(plots.save_figure(figures.figure_sigma_summary(report), out / f"{stem}_sigma.png"))
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0


def _add_run_command(sub) -> None:
    p = sub.add_parser("run", help="run one experiment spec (models/NAME.toml) into runs/NAME/")
    p.add_argument("spec", help="path to a TOML spec, e.g. models/fashion_mlp.toml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec key (repeatable), e.g. --set lr=0.1 --set net_options.depth=8")
    _add_folder_options(p, "run folder (default runs/NAME)")
    _add_bits_option(p)
    p.set_defaults(func=_run)


def _add_folder_options(p, out_help: str) -> None:
    p.add_argument("--out", default=None, metavar="DIR", help=out_help)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue what is in the folder (refused if its spec.toml differs, naming the keys)")
    mode.add_argument("--overwrite", action="store_true",
                      help="delete the results already in the folder and start over")


def _add_bits_option(p) -> None:
    p.add_argument("--bits", type=int, default=None, metavar="N",
                   help="bits per weight for lns_madam / *_uniform optimizers (= --set optimizer_options.bits=N)")


def _load(args):
    from . import substrates

    overrides = list(args.set) + ([f"optimizer_options.bits={args.bits}"] if getattr(args, "bits", None) else [])
    spec = substrates.apply_overrides(substrates.load_spec(args.spec), overrides)
    return substrates, substrates.validate(spec, args.spec)


def _run(args) -> int:
    import os

    substrates, spec = _load(args)  # every check on the spec happens here, before anything is written
    out = args.out or f"runs/{spec['name']}"
    substrate = substrates.substrate_of(spec, args.spec)
    try:
        with substrates.open_folder(spec, out, resume=args.resume, overwrite=args.overwrite, source=args.spec) as folder:
            summary = substrate.run(spec, folder)
    except KeyboardInterrupt:
        print(f"\ninterrupted; the last finished epoch is checkpointed in {out}/. Continue with: "
              f"synapse-madam run {args.spec} {' '.join('--set ' + s for s in args.set)} --out {out} --resume",
              file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun only rank 0 reports
    print(substrate.headline(summary))
    print(f"results in {out}/")
    return 0


def _add_sweep_command(sub) -> None:
    p = sub.add_parser("sweep", help="lr sweep of a deep spec: optimizers x lrs x seeds -> table + figure")
    p.add_argument("spec", help="path to a deep TOML spec")
    p.add_argument("--optimizers", default="madam,sgd,adam", help="comma-separated (default madam,sgd,adam)")
    p.add_argument("--lrs", default="1,0.1,0.01,0.001,0.0001", help="comma-separated learning rates")
    p.add_argument("--seeds", type=int, default=1, help="seeds per point (spec seed, +1, ...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec key")
    p.add_argument("--out", default=None, metavar="DIR", help="sweep folder (default runs/sweep_NAME)")
    p.add_argument("--overwrite", action="store_true",
                   help="rerun points whose folder holds results made with another spec (default: refuse)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_bits_option(p)
    p.set_defaults(func=_sweep)


def _sweep(args) -> int:
    _, spec = _load(args)
    if spec.get("substrate") != "deep":
        raise ValueError(f"{args.spec}: sweeps run deep specs (substrate = \"deep\"), not {spec.get('substrate')!r}.")
    from .deep.sweep import parse_list, sweep, sweep_rows_table

    out = args.out or f"runs/sweep_{spec['name']}"
    optimizers = parse_list(args.optimizers, str, "--optimizers")
    lrs = parse_list(args.lrs, float, "--lrs")
    rows = sweep(spec, out, optimizers, lrs, args.seeds, progress=not args.no_progress, source=args.spec,
                 overwrite=args.overwrite)
    print(sweep_rows_table(rows))
    print(f"results in {out}/ (sweep.csv, sweep.md, sweep.png)")
    return 0


def _add_atlas_command(sub) -> None:
    p = sub.add_parser(
        "atlas", help="ln|w| of runs from any substrate against measured cortex: one figure + table",
        description="Draw the ln|w| densities of finished runs (deep, rate, spiking run folders) on one log axis "
                    "against a measured log-normal, with sigma(t) over each run, and tabulate per run and weight "
                    "group: sigma ratio to the reference, KS D and Anderson-Darling A^2 of ln|w| against its own "
                    "fitted normal, fraction at known bounds, sign flips against the initial weights and the "
                    "stationarity of sigma(t). Writes atlas.png, atlas.md and atlas.json into --out.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (runs/NAME with weights.npz)")
    p.add_argument("--reference", default="song2005", help="log-normal reference dataset (default song2005)")
    p.add_argument("--out", default="runs/atlas", metavar="DIR", help="output folder (default runs/atlas)")
    p.add_argument("--group", action="append", default=None, help="only this weight group (repeatable)")
    p.add_argument("--no-figure", action="store_true", help="write only atlas.md and atlas.json")
    p.set_defaults(func=_atlas)


def _atlas(args) -> int:
    from .atlas import build_atlas, write_atlas

    atlas = build_atlas(args.runs, args.reference, groups=args.group)
    print(atlas.to_markdown())
    written = write_atlas(atlas, args.out, figure=not args.no_figure)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


# The demo's parts, in order: (title, "module:function(out_dir, progress=...)"). Substrates append theirs.
DEMOS = [("deep nets: untuned Madam vs tuned Adam/SGD on digits", "synapse_madam.deep.demo:run_deep_demo"),
         ("low precision: LNSMadam at 8 and 5 bits vs a uniform grid", "synapse_madam.deep.demo:run_lns_demo"),
         ("rate networks: Dale's law by construction (Madam) vs projection (Adam)", "synapse_madam.rate.demo:run_rate_demo"),
         ("spiking synapses (Brian2): additive STDP vs Madam-STDP", "synapse_madam.spiking.demo:run_spiking_demo"),
         ("spiking reward (Brian2): three-factor Madam vs additive R-STDP, distal reward", "synapse_madam.spiking.demo:run_reward_demo"),
         ("atlas: every substrate's ln|w| against cortex", "synapse_madam.atlas:run_atlas_demo")]


def _add_demo_command(sub) -> None:
    p = sub.add_parser("demo", help="the project's demo (a few minutes on a laptop CPU) into runs/demo/")
    p.add_argument("--out", default="runs/demo", metavar="DIR", help="output folder (default runs/demo)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_demo)


def _demo(args) -> int:
    import importlib

    from pathlib import Path

    from .io import atomic_write_text

    import os
    import time

    from .io import atomic_write_json

    reports, walls = [], {}
    load_before, start = os.getloadavg(), time.perf_counter()
    for title, target in DEMOS:
        module, func = target.split(":")
        print(f"== {title}")
        t0 = time.perf_counter()
        result = getattr(importlib.import_module(module), func)(args.out, progress=not args.no_progress)
        walls[title] = time.perf_counter() - t0
        print(f"-- {walls[title]:.0f} s (wall)")
        reports.append(result.get("report", ""))
        atomic_write_text(Path(args.out) / "report.md", "\n".join(reports))  # grows part by part
    total = time.perf_counter() - start
    atomic_write_json(Path(args.out) / "demo_timing.json", {
        "wall_s": total, "parts_wall_s": walls, "load_before": load_before, "load_after": os.getloadavg(),
        "cpu_count": os.cpu_count()})
    print(f"report and figures in {args.out}/ (report.md); {total:.0f} s (wall), parts in demo_timing.json")
    return 0


# Each entry adds one sub-command to the parser. Substrates register theirs here.
COMMANDS = [_add_info_command, _add_run_command, _add_sweep_command, _add_stats_command, _add_atlas_command,
            _add_demo_command]


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
    except OSError as exc:  # an unwritable --out, a read-only run folder, a full disk: one line
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"synapse-madam {args.command}: error: cannot write{where}: {exc.strerror or exc}.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
