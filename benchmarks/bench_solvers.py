"""Solvers benchmark: a cross-validated Lasso path against LassoCV, and L-BFGS under vmap.

Run `python benchmarks/bench_solvers.py [--quick] [--cache-dir DIR]`, or
`run(quick=False) -> dict` from Python. Timings are wall-clock seconds on this machine:
medians of repetitions that alternate between the libraries after a warm-up; first
calls in fresh processes (`benchmarks._common.compile_in_two_processes`).

1. Lasso on `make_regression(5000, 500, n_informative=50, noise=10)`, 80/20 train/test
   split: 5-fold CV over 30 strengths plus the refit on the whole training set, as
   one `regularization_path` call (the folds and the refit are six 0/1 weight masks,
   one compiled program; each mask's Gram matrix is the whole set's minus that of
   the rows it leaves out, and each path warm-starts along the strengths), then a
   small program that picks the strength, against
   `LassoCV(alphas=30, cv=5, n_jobs=2)` with the same folds and alpha grid, at
   scikit-learn's default `tol=1e-4` and at `1e-6` (both use the same relative
   duality-gap criterion). Both libraries get the data as float32, the precision
   jaxfit computes in (LassoCV keeps float32 input in float32; given float64 it took
   about 1.6× as long here). jaxfit is timed with compilation (its first call in this
   process, and in a fresh process with an empty persistent compilation cache: one
   pair of fresh processes per tol, as the two share programs), without (later
   calls), and in a second fresh process whose cache is warm. The comparison is void
   when the test R² differ by more than 1e-3 or the chosen alphas by more than one
   grid step.
2. L2 logistic regression over 100 penalty strengths: `lbfgs` vmapped over the
   strengths against Python loops of the same fits (pre-jitted, and plain
   `jaxfit.fit` calls), next to optax's own L-BFGS (zoom line search) for reference.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxfit
from benchmarks import _common
from jaxfit import models, penalties, solvers

LINEAR = models.linear()
LOGISTIC = models.logistic()


def lasso_data(quick: bool):
    """Train/test split (float32, for both libraries) and the 5 contiguous folds of
    LassoCV's default `cv=5`."""
    from sklearn.datasets import make_regression
    from sklearn.model_selection import KFold, train_test_split

    n, d, informative = (1000, 100, 10) if quick else (5000, 500, 50)
    X, y = make_regression(n_samples=n, n_features=d, n_informative=informative, noise=10, random_state=0)
    X, y = X.astype(np.float32), y.astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    held_out = np.stack([test for _, test in KFold(5).split(X_train)])            # [5, n_train / 5]
    masks = np.ones((6, len(y_train)))
    for k, rows in enumerate(held_out):
        masks[k, rows] = 0                                  # row 5 (all ones) is the refit
    return X_train, X_test, y_train, y_test, masks, held_out


@jax.jit
def choose(X, y, held_out, w, b):
    """The strength with the least held-out squared error over the five folds' paths
    (rows 0-4 of `w`, `b`), and the refit path's (row 5) params there."""
    # Score only the held-out rows: [5, S, n_test] predictions.
    predictions = jnp.einsum("knd,ksd->ksn", X[held_out], w[:5]) + b[:5, :, None]
    mse = jnp.mean((predictions - y[held_out][:, None, :]) ** 2, axis=(0, 2))
    best = jnp.argmin(mse)
    return best, w[5, best], b[5, best]


def jaxfit_lasso(X_train, y_train, masks, held_out, tol, dtype=np.float32):
    """The five CV paths and the refit path: one `regularization_path` call over the six
    weight masks, then the choice of strength."""
    # Cast in NumPy and copy with device_put: jnp.asarray compiles a program to copy
    # (a cast, or a copy, per shape and dtype on first use).
    X, y, held_out = jax.device_put((np.asarray(X_train, dtype), np.asarray(y_train, dtype), held_out))
    strengths = solvers.strength_grid(X, y, num=30)
    paths = solvers.regularization_path(LINEAR, "squared_error", X, y, penalty=penalties.l1,
                                        strengths=strengths, sample_weight=np.asarray(masks, dtype),
                                        tol=tol, steps=5000)
    out = choose(X, y, held_out, paths.params["w"], paths.params["b"]) + (paths.converged, paths.n_steps)
    jax.block_until_ready(out)
    return out, np.asarray(strengths)


def _r2(y, pred):
    y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64)
    return 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)


ALPHA_STEPS = 1  # chosen alphas further apart than this many grid steps: void (the solvers issue)
R2_MARGIN = 1e-3  # test R² further apart than this: void


def lasso_void(row: dict) -> bool:
    """Whether a Lasso row's two fits disagree beyond the stated margins."""
    return abs(row["jaxfit_r2"] - row["sklearn_r2"]) > R2_MARGIN or row["alpha_index_gap"] > ALPHA_STEPS


def tols(quick: bool) -> tuple[float, ...]:
    """scikit-learn's default tolerance, and a tight one (a quick run: the default only)."""
    return (1e-4,) if quick else (1e-4, 1e-6)


def jaxfit_calls(quick: bool) -> dict:
    """For `_common.compile_in_two_processes`: the cross-validated path at each tol."""
    X_train, _, y_train, _, masks, held_out = lasso_data(quick)
    return {f"tol={tol:g}": functools.partial(jaxfit_lasso, X_train, y_train, masks, held_out, tol)
            for tol in tols(quick)}


def lasso_flops(n: int, d: int, total_steps: int) -> float:
    """Approximate: the Gram matrix of all rows and those of the six masks' left-out
    rows (each mask's Gram is the first minus its own: `regularization_path`'s
    `sample_weight` docs), 2·n·d² for the rows of each, and one d×d mat-vec per path
    step."""
    left_out = 5 * (n // 5)  # each fold leaves out a fifth; the refit mask, none
    return 2.0 * (n + left_out) * d * d + total_steps * 2.0 * d * d


def bench_lasso(quick: bool, cache_root: str | None = None) -> list[dict]:
    from sklearn.linear_model import LassoCV

    X_train, X_test, y_train, y_test, masks, held_out = lasso_data(quick)
    rows = []
    for tol in tols(quick):
        first, _ = _common.timed(lambda: jaxfit_lasso(X_train, y_train, masks, held_out, tol))
        times, outputs = _common.alternate({
            "sklearn": lambda: LassoCV(alphas=30, cv=5, n_jobs=2, tol=tol).fit(X_train, y_train),
            "jaxfit": lambda: jaxfit_lasso(X_train, y_train, masks, held_out, tol)}, 3 if quick else 5)
        reference, (out, strengths) = outputs["sklearn"], outputs["jaxfit"]
        best, w, b, converged, n_steps = (np.asarray(a) for a in out)
        sk_index = int(np.argmin(np.abs(reference.alphas_ - reference.alpha_)))
        warm = _common.median(times["jaxfit"])
        name = f"tol={tol:g}"
        f = _common.compile_in_two_processes("bench_solvers", quick, cache_root, only=name)[name]
        rows.append({
            "tol": tol, "sklearn_s": _common.median(times["sklearn"]), "jaxfit_first_call_s": first,
            "jaxfit_warm_s": warm, "raw_s": times,
            "jaxfit_fresh_process_s": f["first_process_s"], "compile_first_s": f["compile_first_s"],
            "jaxfit_cached_compile_s": f["second_process_s"], "compile_second_s": f["compile_second_s"],
            "sklearn_alpha": float(reference.alpha_), "jaxfit_alpha": float(strengths[best] / 2),
            "alpha_index_gap": abs(int(best) - sk_index),
            "sklearn_r2": float(reference.score(X_test, y_test)),
            "jaxfit_r2": float(_r2(y_test, X_test.astype(np.float64) @ w + b)),
            "sklearn_nonzero": int((reference.coef_ != 0).sum()), "jaxfit_nonzero": int((w != 0).sum()),
            "all_converged": bool(converged.all()), "total_steps": int(n_steps.sum()),
            "gflops": lasso_flops(*X_train.shape, int(n_steps.sum())) / warm / 1e9,
        })
        rows[-1]["void"] = lasso_void(rows[-1])
    return rows


def logistic_data(name: str):
    from sklearn.datasets import load_breast_cancer, make_classification

    if name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
    else:
        X, y = make_classification(n_samples=5000, n_features=100, n_informative=20, random_state=0)
    return jnp.asarray((X - X.mean(0)) / X.std(0), jnp.float32), jnp.asarray(y)


def bench_lbfgs(quick: bool) -> list[dict]:
    n_configs = 20 if quick else 100
    strengths = np.logspace(-4, 0, n_configs).astype(np.float32)
    rows = []
    for data in ("breast_cancer",) if quick else ("breast_cancer", "classification_5000x100"):
        X, y = logistic_data(data)
        for name, solver in (("jaxfit.lbfgs", solvers.lbfgs()), ("optax.lbfgs (zoom)", optax.lbfgs())):
            def fit(s, solver=solver, X=X, y=y):
                return jaxfit.fit(LOGISTIC, "binary_cross_entropy", X, y, optimizer=solver,
                                  penalty=penalties.l2(s), steps=500, tol=1e-4)

            single, batched = jax.jit(fit), jax.jit(jax.vmap(fit))
            times, outputs = _common.alternate({
                "vmap": lambda: batched(strengths),
                "loop_jitted": lambda: [single(s) for s in strengths],
                "loop_fit": lambda: [fit(s) for s in strengths]}, 3)
            result = outputs["vmap"]
            med = {k: _common.median(v) for k, v in times.items()}
            rows.append({"data": f"{data} {tuple(X.shape)}", "solver": name, "configs": n_configs,
                         "vmap_s": med["vmap"], "loop_jitted_s": med["loop_jitted"], "loop_fit_s": med["loop_fit"],
                         "all_converged": bool(result.converged.all()),
                         "max_steps": int(result.n_steps.max()), "mean_steps": float(result.n_steps.mean())})
    return rows


def run(quick: bool = False, *, cache_root: str | None = None) -> dict:
    """Run both benchmarks; returns {"lasso_cv": [rows], "lbfgs_vmap": [rows], "device": str}.

    Args:
      quick: small sizes, for a smoke test.
      cache_root: where the fresh processes' compilation caches go (default: a
        temporary folder).
    """
    return {"device": str(jax.devices()[0]), "lasso_cv": bench_lasso(quick, cache_root),
            "lbfgs_vmap": bench_lbfgs(quick)}


def _print(results: dict) -> None:
    print(f"device: {results['device']}")
    print("\nLasso, 5-fold CV x 30 alphas + refit (seconds, medians; float32 for both)")
    print("| tol | LassoCV | jaxfit warm | jaxfit 1st call (compile) | jaxfit fresh process (compile) "
          "| jaxfit fresh process, cached compile | alpha sk / jf (grid gap) | test R² sk / jf "
          "| nonzero sk / jf | converged |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results["lasso_cv"]:
        print(f"| {r['tol']:g} | {r['sklearn_s']:.3f} | {r['jaxfit_warm_s']:.3f} | {r['jaxfit_first_call_s']:.2f} | "
              f"{r['jaxfit_fresh_process_s']:.2f} ({r['compile_first_s']:.2f}) | "
              f"{r['jaxfit_cached_compile_s']:.3f} | {r['sklearn_alpha']:.4g} / {r['jaxfit_alpha']:.4g} "
              f"({r['alpha_index_gap']}) | {r['sklearn_r2']:.5f} / {r['jaxfit_r2']:.5f} | "
              f"{r['sklearn_nonzero']} / {r['jaxfit_nonzero']} | {r['all_converged']} |")
    print("\nL2 logistic regression over penalty strengths, warm (seconds, medians)")
    print("| data | solver | configs | vmap | loop of jitted fit | loop of jaxfit.fit | steps max / mean |")
    print("|---|---|---|---|---|---|---|")
    for r in results["lbfgs_vmap"]:
        print(f"| {r['data']} | {r['solver']} | {r['configs']} | {r['vmap_s']:.3f} | {r['loop_jitted_s']:.3f} | "
              f"{r['loop_fit_s']:.3f} | {r['max_steps']} / {r['mean_steps']:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--cache-dir", help="where the fresh processes' compilation caches go")
    args = parser.parse_args()
    _print(run(quick=args.quick, cache_root=args.cache_dir))
