"""The ``polytok`` command line. Each subsystem adds its subcommands in its own ``cli`` module.

A subsystem module exposes ``register(subparsers)`` which adds parsers whose ``func(args) -> int``
default runs the command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

SUBSYSTEM_CLIS = [
    "polytok.count.cli",  # count, models
    "polytok.service",  # serve
    "polytok.compress.cli",  # compress
    "polytok.sid.cli",  # sid fit / sid encode
    "polytok.glyph.cli",  # tape build / tape show
    "polytok.poly.cli",  # poly ...
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polytok", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBSYSTEM_CLIS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # subsystem not installed in this build
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as err:  # bad input, missing/existing/unreadable files
        print(f"polytok {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
