"""`jaxfit` entry point: argument parsing and one clear line per user error."""

from __future__ import annotations

import argparse
import sys

from .._version import __version__
from . import _demo


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxfit", description="Train, cross-validate and tune models in JAX.")
    parser.add_argument("--version", action="version", version=f"jaxfit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="fit and score a model on bundled data",
                               description=_demo.__doc__)
    demo.add_argument("--quiet", action="store_true", help="print only the final scores")
    demo.set_defaults(run=_demo.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        if args.debug:
            raise
        print(f"jaxfit: error: {err}", file=sys.stderr)
        return 2
