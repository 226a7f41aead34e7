"""Scaling: how the cost of W1's search grows with the number of configurations G and
with the number of samples n, for jaxfit and scikit-learn.

    python -m benchmarks.bench_scaling [--quick] [--plot-dir DIR]

The problem is W1's (`bench_search.py`): L2 logistic regression on
`make_classification(n, n_features=100, random_state=0)`, standardized, 5-fold
stratified CV, the same `train_fn` (preconditioned conjugate gradients) and scorer.

- G = 1, 4, 16, 64, 256 values of C (log-spaced over [1e-3, 1e2]; C = 1 for G = 1)
  at n = 20,000: jaxfit's whole search (G·5 fits in one program) against
  `GridSearchCV(LogisticRegression(), cv=5, n_jobs=2, refit=False)` at G = 1, 4, 16,
  64: scikit-learn fits one configuration after another, so past its fixed cost
  (joblib dispatch) its time per configuration is flat and a few G show it.
- n = 2,500 … 20,000 at W1's G = 20, for both.

jaxfit's figures are the median of alternating warm calls (the program compiled), with
each size's first call (compilation included) reported beside them.
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks import _common, bench_search
from jaxfit.model_selection import grid, search, stratified_kfold

N_FEATURES, N_SPLITS = 100, 5
ACCURACY_MARGIN = 0.2  # points, as W1


def sizes(quick: bool) -> dict:
    if quick:
        return {"n": 2_000, "configs": (1, 4, 16), "sklearn_configs": (1, 4), "samples": (1_000, 2_000),
                "samples_configs": 4}
    return {"n": 20_000, "configs": (1, 4, 16, 64, 256), "sklearn_configs": (1, 4, 16, 64),
            "samples": (2_500, 5_000, 10_000, 20_000), "samples_configs": 20}


def make_data(n: int):
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=n, n_features=N_FEATURES, random_state=0)
    return StandardScaler().fit_transform(X).astype(np.float32), y.astype(np.int32)


def c_values(g: int) -> np.ndarray:
    return np.array([1.0]) if g == 1 else np.logspace(-3, 2, g)


def _jaxfit(X, y, Cs):
    folds = stratified_kfold(y, N_SPLITS)
    space = grid(C=Cs)
    # A new function object per case: `search` keeps compiled programs per function
    # and shapes, and W1 (run earlier in the same process) compiled n=20,000, G=20.
    train_fn = functools.partial(bench_search.train_fn)
    return lambda: search(train_fn, bench_search.score_fn, X, y, space, folds)


def _sklearn(X, y, Cs):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lbfgs reaches max_iter at the largest Cs
            return GridSearchCV(LogisticRegression(), {"C": Cs}, cv=N_SPLITS, n_jobs=2,
                                refit=False).fit(X, y).cv_results_["mean_test_score"]
    return fit


def _sweep(cases: dict, repeats: int) -> dict:
    """`cases`: label -> (X, y, Cs, with_sklearn). Compiles each jaxfit case once
    (timed: its first call), then alternates warm calls of every case and library."""
    first, fns, warm_ups = {}, {}, {}
    for label, (X, y, Cs, with_sklearn) in cases.items():
        fn = _jaxfit(X, y, Cs)
        first[label], result = _common.timed(fn)
        first[label] = (first[label], result.timings["compile"])
        fns[("jaxfit", label)] = fn
        warm_ups[("jaxfit", label)] = lambda: None  # the first call above was its warm-up
        if with_sklearn:
            fns[("sklearn", label)] = _sklearn(X, y, Cs)
            # scikit-learn compiles nothing: a small search starts joblib's worker pool.
            warm_ups[("sklearn", label)] = _sklearn(X[:500], y[:500], Cs[:1])
    times, outputs = _common.alternate(fns, repeats, warm_ups=warm_ups)
    rows = []
    for label, (X, y, Cs, with_sklearn) in cases.items():
        result = outputs[("jaxfit", label)]
        seconds = _common.median(times[("jaxfit", label)])
        n_iter = int(result.n_steps.max())  # the vmapped loop runs until its slowest lane ends
        flop = bench_search.flops(X.shape[0], X.shape[1], N_SPLITS, result.scores.size, n_iter)
        row = {"label": label, "n": X.shape[0], "configs": len(Cs),
               "jaxfit_first_s": first[label][0], "jaxfit_compile_s": first[label][1],
               "jaxfit_s": seconds, "jaxfit_raw_s": times[("jaxfit", label)],
               "jaxfit_per_config_s": seconds / len(Cs), "gflops": flop / seconds / 1e9,
               "jaxfit_best_accuracy": float(np.nanmax(result.mean)), "iterations_max": n_iter}
        if with_sklearn:
            scores = outputs[("sklearn", label)]
            sk = _common.median(times[("sklearn", label)])
            row.update(sklearn_s=sk, sklearn_raw_s=times[("sklearn", label)], sklearn_per_config_s=sk / len(Cs),
                       sklearn_best_accuracy=float(np.max(scores)),
                       void=bool(100 * np.max(np.abs(np.asarray(result.mean) - scores)) > ACCURACY_MARGIN))
        rows.append(row)
    return rows


def run(quick: bool = False, *, repeats: int = 3) -> dict:
    """Both sweeps; returns `{"configs": [rows], "samples": [rows], ...}`, one row per
    size with jaxfit's first-call, compile and median warm seconds, seconds per
    configuration, GFLOP/s, and scikit-learn's median seconds where it ran."""
    s = sizes(quick)
    repeats = max(3, repeats)
    X, y = make_data(s["n"])
    by_configs = _sweep({f"G={g}": (X, y, c_values(g), g in s["sklearn_configs"]) for g in s["configs"]},
                        repeats)
    by_samples = _sweep({f"n={n}": (*make_data(n), c_values(s["samples_configs"]), True)
                         for n in s["samples"]}, repeats)
    return {"n": s["n"], "n_features": N_FEATURES, "n_splits": N_SPLITS, "repeats": repeats,
            "samples_configs": s["samples_configs"], "accuracy_margin_points": ACCURACY_MARGIN,
            "configs": by_configs, "samples": by_samples}


def plot(r: dict, out_dir: str | Path, suffix: str = "") -> list[Path]:
    """Write `scaling_configs{suffix}.png` and `scaling_samples{suffix}.png` to
    `out_dir`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    figures = (("configs", "configs", "configurations G", "seconds per configuration",
                f"W1 search, n={r['n']}: time per configuration"),
               ("samples", "n", "samples n", "seconds per search",
                f"W1 search, G={r['samples_configs']}: time against n"))
    for key, x_key, x_label, y_label, title in figures:
        rows = r[key]
        per = key == "configs"
        fig, ax = plt.subplots(figsize=(6, 4))
        x = [row[x_key] for row in rows]
        scale = [row["configs"] if per else 1 for row in rows]
        ax.plot(x, [row["jaxfit_s"] / c for row, c in zip(rows, scale)], "o-", label="jaxfit (compiled)")
        ax.plot(x, [row["jaxfit_first_s"] / c for row, c in zip(rows, scale)], "s--",
                label="jaxfit first call (compiling)")
        sk = [(row[x_key], row["sklearn_s"] / c) for row, c in zip(rows, scale) if "sklearn_s" in row]
        ax.plot(*zip(*sk), "^-", label="GridSearchCV, n_jobs=2")
        ax.set(xscale="log", yscale="log", xlabel=x_label, ylabel=y_label, title=title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"scaling_{key}{suffix}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def print_table(r: dict) -> None:
    for key, title in (("configs", f"time against configurations G (n={r['n']}, 5-fold)"),
                       ("samples", f"time against samples n (G={r['samples_configs']}, 5-fold)")):
        print(f"Scaling: {title}, median of {r['repeats']} alternating runs")
        print(f"{'case':<10}{'jaxfit 1st':>11}{'compile':>9}{'jaxfit':>9}{'per config':>12}{'GFLOP/s':>9}"
              f"{'sklearn':>9}{'per config':>12}")
        for row in r[key]:
            sk = (f"{row['sklearn_s']:>9.3f}{row['sklearn_per_config_s']:>12.4f}"
                  f"{'  void' if row['void'] else ''}") if "sklearn_s" in row else ""
            print(f"{row['label']:<10}{row['jaxfit_first_s']:>11.3f}{row['jaxfit_compile_s']:>9.3f}"
                  f"{row['jaxfit_s']:>9.3f}{row['jaxfit_per_config_s']:>12.4f}{row['gflops']:>9.1f}" + sk)
        print()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small n and G")
    parser.add_argument("--plot-dir", help="write the two PNG plots there")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    print_table(result)
    if args.plot_dir:
        for path in plot(result, args.plot_dir):
            print("wrote", path)


if __name__ == "__main__":
    main()
