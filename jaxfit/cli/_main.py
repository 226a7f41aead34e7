"""`jaxfit` entry point: argument parsing, the compilation cache, one clear line per error."""

from __future__ import annotations

import argparse
import os
import sys

from .._version import __version__

_CACHE_HELP = ("JAX's persistent compilation cache keeps compiled programs between runs, "
               "so a repeated experiment skips most of its compile time. Default folder: "
               "$JAXFIT_CACHE_DIR, else $XDG_CACHE_HOME/jaxfit/xla (~/.cache/jaxfit/xla).")


def default_cache_dir() -> str:
    """The compilation cache folder: $JAXFIT_CACHE_DIR, else the user's cache folder."""
    if os.environ.get("JAXFIT_CACHE_DIR"):
        return os.environ["JAXFIT_CACHE_DIR"]
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = os.environ["LOCALAPPDATA"]
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxfit", "xla")


MIN_CACHED_COMPILE_S = 0.1  # programs compiled faster than this are not worth a file


def _enable_cache(args) -> None:
    if args.no_cache:
        return
    import jax

    path = args.cache_dir or default_cache_dir()
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:  # a read-only home should not stop the experiment
        print(f"jaxfit: note: compilation cache off ({err})", file=sys.stderr)
        return
    jax.config.update("jax_compilation_cache_dir", path)
    # JAX keeps only programs that took a second or more to compile; jaxfit's take
    # 0.1-1 s each on CPU, and a run compiles several.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_CACHED_COMPILE_S)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors reported like every other error: one line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help shows the usage)\n")


def _common() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--quiet", action="store_true",
                        help="no progress bars or tables; print only the final score and folder")
    common.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    common.add_argument("--overwrite", action="store_true",
                        help="replace an earlier run's results in the results folder (without "
                        "it, such a folder is refused before any work)")
    common.add_argument("--cache-dir", metavar="DIR",
                        help="compilation cache folder (overrides $JAXFIT_CACHE_DIR)")
    common.add_argument("--no-cache", action="store_true", help="do not use the compilation cache")
    return common


def _parser() -> argparse.ArgumentParser:
    from . import _commands

    parser = _Parser(
        prog="jaxfit", description="Train, cross-validate and tune models in JAX. Every "
        "configuration x fold of a search runs side by side in one compiled, vmapped program.",
        epilog=_CACHE_HELP)
    parser.add_argument("--version", action="version", version=f"jaxfit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common()
    demo = commands.add_parser(
        "demo", parents=[common], help="search, refit and score on bundled data (no arguments needed)",
        description="Cross-validate L2-regularized logistic regression over 11 penalty strengths "
        "x 5 stratified folds on the bundled breast-cancer data in one vmapped program, print "
        "the ranked table, refit the best on the training split and score it on a held-out "
        "quarter. Writes table.csv, table.json, best_params.npz, summary.json and PNG plots.",
        epilog=_CACHE_HELP)
    demo.add_argument("--out", metavar="DIR", default="jaxfit-demo",
                      help="results folder (default: ./jaxfit-demo)")
    demo.set_defaults(run=_commands.demo)
    run = commands.add_parser(
        "run", parents=[common], help="run an experiment described by a TOML file",
        description="Run the experiment in CONFIG (TOML; the schema is in examples/README.md): "
        "load and split the data, search the space with K-fold cross-validation, refit the "
        "best configuration, score it on the held-out rows and write the results folder.",
        epilog=_CACHE_HELP)
    run.add_argument("config", metavar="CONFIG", help="experiment file, e.g. examples/classification.toml")
    run.add_argument("--out", metavar="DIR", help="results folder (overrides `output` in CONFIG)")
    run.set_defaults(run=_commands.run)
    return parser


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    expected = (ValueError, TypeError, OSError, ImportError)
    return text if isinstance(err, expected) else f"{type(err).__name__}: {text}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code.

    Errors end the command with exit code 2 and one line on stderr (`--debug` shows
    the traceback instead); argparse usage errors also exit with 2.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        _enable_cache(args)
        return args.run(args)
    except KeyboardInterrupt:
        print("jaxfit: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        print(f"jaxfit: error: {_one_line(err)} (--debug shows the traceback)", file=sys.stderr)
        return 2
