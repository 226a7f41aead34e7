"""The subcommands: `jaxfit demo` and `jaxfit run`, one experiment engine behind both."""

from __future__ import annotations

import os

from . import _config, _output, _run

# The demo is an experiment like any other: examples/demo.toml holds the same settings.
DEMO = {
    "seed": 0,
    "data": {"path": "example:breast_cancer", "test_size": 0.25, "standardize": True},
    "model": {"kind": "logistic"},
    "train": {"penalty": "l2", "optimizer": "lbfgs", "steps": 100, "tol": 1e-4},
    "cv": {"splitter": "stratified", "n_splits": 5, "metric": "accuracy"},
    "search": {"type": "grid", "space": {"strength": {"logspace": [1e-4, 10.0, 11]}}},
}


def _describe(outcome: _run.Outcome) -> str:
    ds, result = outcome.dataset, outcome.search
    kind = outcome.config["model"]["kind"]
    shape = f"{len(outcome.y_train) + outcome.n_test} samples x {ds.X.shape[1]} features"
    target = f"{len(ds.classes)} classes" if ds.classes else "numeric target"
    resumed = result.chunks.get("resumed", 0)
    return (f"{kind} on {shape} ({target}); {result.n_configs} configurations x "
            f"{result.scores.shape[1]} folds, compiled in {result.timings['compile']:.1f} s, "
            f"ran in {result.timings['run']:.1f} s"
            + (f", {resumed} chunk(s) resumed from the checkpoint" if resumed else ""))


def _execute(cfg: dict, folder: str, source: str, quiet: bool, overwrite: bool) -> int:
    # Both refused now, not after the search.
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"results folder {folder!r} is a file; choose another with --out")
    previous = _output.previous_results(folder)
    if previous and not overwrite:
        shown = ", ".join(previous[:3]) + (f" and {len(previous) - 3} more" if len(previous) > 3 else "")
        raise FileExistsError(f"results folder {folder!r} already holds an earlier run's results "
                              f"({shown}); choose another with --out, or pass --overwrite to "
                              f"replace them")
    outcome = _run.run(cfg, output=folder, progress=not quiet)
    best = outcome.search
    if not quiet:
        print(_describe(outcome))
        _output.print_table(outcome)
        settings = ", ".join(f"{k}={_output.format_value(v)}" for k, v in best.best_config.items())
        print(f"best: {settings or 'the one configuration'} (CV {outcome.metric} "
              f"{outcome.cv_mean:.4f} ± {best.std[best.best_index]:.4f})")
    refit = outcome.refit
    state = "diverged" if bool(refit.diverged) else "converged" if bool(refit.converged) else "max steps"
    print(f"refit on {len(outcome.y_train)} training samples ({int(refit.n_steps)} steps, {state}); "
          f"test {outcome.metric} {outcome.test_score:.4f} on {outcome.n_test} held-out samples")
    written, note = _output.write(outcome, folder, source=source, replacing=previous)
    if note:
        print(f"note: {note}")
    print(f"wrote {len(written)} files to {folder}")
    return 0


def demo(args) -> int:
    """Search L2-regularized logistic regression on the bundled breast-cancer data."""
    cfg = _config.parse(DEMO, os.getcwd())
    return _execute(cfg, os.path.abspath(args.out), "jaxfit demo", args.quiet, args.overwrite)


def run(args) -> int:
    """Run the experiment described by a TOML file."""
    cfg = _config.read(args.config)
    stem = os.path.splitext(os.path.basename(args.config))[0]
    folder = args.out or cfg[""]["output"] or f"{stem}-results"
    return _execute(cfg, os.path.abspath(folder), os.path.abspath(args.config), args.quiet,
                    args.overwrite)
