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


# Each entry adds one sub-command to the parser. Substrates register theirs here.
COMMANDS = [_add_info_command]


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
