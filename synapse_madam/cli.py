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
COMMANDS = [_add_info_command, _add_run_command]


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
