"""W3: an MLP hyperparameter search, jaxfit against scikit-learn and a PyTorch loop.

    python -m benchmarks.bench_mlp [--quick] [--repeats N] [--cache-dir DIR]

Data: `make_classification(n_samples=20_000, n_features=50, n_informative=20,
random_state=0)`, standardized once (float32 for every library). The search: 3-fold
stratified CV (the same folds for all: `stratified_kfold` equals scikit-learn's
`StratifiedKFold(3)`, which `cv=3` uses for classifiers) × 4 learning rates × 2 L2
strengths = 24 fits of a 50-64-1 ReLU network, Adam, batches of 256, 20 epochs,
no early stopping, each fit scored by accuracy on its held-out fold.

- **jaxfit**: one `search` call over `make_fit_fns(models.mlp((64,)), ...)`: the 24 fits
  are one compiled program (folds × configurations under `vmap`).
- **scikit-learn**: `GridSearchCV(MLPClassifier(hidden_layer_sizes=(64,), solver="adam",
  batch_size=256, max_iter=20, early_stopping=False, tol=0, n_iter_no_change=20),
  cv=3, n_jobs=2, refit=False)`: 20 epochs every fit (the stopping rule never fires).
- **PyTorch**: a plain training loop, the 24 fits one after another, with
  `torch.set_num_threads(2)`, and with one thread for reference. On a shared 2-core
  machine two OpenMP threads wait on each other at every small operation; unless
  `OMP_WAIT_POLICY` is set already, PyTorch is imported with it set to PASSIVE
  (measured here: 0.8-2 ms a step instead of 30-60 ms under load), and only PyTorch:
  scikit-learn's joblib workers keep their default.

Same objective everywhere: scikit-learn's `alpha` adds `alpha/(2·batch)·‖W‖²` to each
batch's mean log-loss, which is `penalties.l2(alpha / 256)` in jaxfit and weight decay
`alpha / 256` on the weights (not the biases) in PyTorch; all start from Glorot-uniform
weights and zero biases. The comparison is void when jaxfit's best mean CV accuracy
differs from a peer's by more than 0.5 points.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import optax

from benchmarks import _common
from jaxfit import models, penalties
from jaxfit.model_selection import grid, make_fit_fns, search, stratified_kfold

HIDDEN, BATCH, N_SPLITS = 64, 256, 3
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3)
ALPHAS = (1e-4, 1e-1)
ACCURACY_MARGIN = 0.5  # points of best mean CV accuracy beyond which a comparison is void


def sizes(quick: bool) -> dict:
    return {"n_samples": 2_000, "epochs": 3} if quick else {"n_samples": 20_000, "epochs": 20}


def make_data(quick: bool):
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=sizes(quick)["n_samples"], n_features=50, n_informative=20,
                               random_state=0)
    return StandardScaler().fit_transform(X).astype(np.float32), y.astype(np.int32)


def n_steps(folds, epochs: int) -> int:
    """Optimizer steps of `epochs` epochs on the largest training fold (a partial last
    batch is a step, as in scikit-learn and PyTorch); smaller folds have as many
    batches per epoch here."""
    n_train = int(np.asarray(folds.train).sum(axis=1).max())
    return epochs * math.ceil(n_train / BATCH)


# Built once: `search` reuses its compiled program for the same functions.
_MODEL = models.mlp((HIDDEN,))


def jaxfit_setup(quick: bool):
    """Data, folds, space and the functions of jaxfit's search."""
    X, y = make_data(quick)
    folds = stratified_kfold(y, N_SPLITS)
    train_fn, score_fn, _ = make_fit_fns(
        _MODEL, "binary_cross_entropy",
        optimizer=lambda c: optax.adam(c["learning_rate"]),
        penalty=lambda c: penalties.l2(c["alpha"] / BATCH),
        steps=n_steps(folds, sizes(quick)["epochs"]), batch_size=BATCH)
    space = grid(learning_rate=list(LEARNING_RATES), alpha=list(ALPHAS))
    return X, y, folds, space, train_fn, score_fn


def jaxfit_calls(quick: bool) -> dict:
    """For `_common.compile_in_two_processes`: the search's first call."""
    X, y, folds, space, train_fn, score_fn = jaxfit_setup(quick)
    return {"search": lambda: search(train_fn, score_fn, X, y, space, folds).scores}


def sklearn_search(X, y, epochs: int, n_jobs: int = 2):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier

    estimator = MLPClassifier(hidden_layer_sizes=(HIDDEN,), solver="adam", batch_size=BATCH,
                              max_iter=epochs, early_stopping=False, tol=0.0,
                              n_iter_no_change=epochs, random_state=0)
    with warnings.catch_warnings():
        # max_iter is reached on purpose (fixed epochs); the workers may warn too.
        warnings.simplefilter("ignore", ConvergenceWarning)
        gs = GridSearchCV(estimator, {"learning_rate_init": list(LEARNING_RATES), "alpha": list(ALPHAS)},
                          cv=N_SPLITS, n_jobs=n_jobs, refit=False).fit(X, y)
    return gs.cv_results_


_torch_omp_wait_policy = None  # what PyTorch's OpenMP runtime read when it loaded


def _import_torch():
    """`import torch` with OMP_WAIT_POLICY=PASSIVE unless the variable is set already.

    PyTorch's OpenMP runtime reads it once, when it loads. The variable is then
    restored, so that processes started later from this one (scikit-learn's joblib
    workers) keep their default: scikit-learn's loss functions use OpenMP threads as
    well, and with PASSIVE inherited W1's GridSearchCV took 5.3 s instead of 1.3 s.
    """
    global _torch_omp_wait_policy
    if "torch" not in sys.modules:
        previous = os.environ.get("OMP_WAIT_POLICY")
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import torch  # noqa: F401
        finally:
            if previous is None:
                del os.environ["OMP_WAIT_POLICY"]
        _torch_omp_wait_policy = previous or "PASSIVE"
    return sys.modules["torch"]


def torch_search(X, y, folds, epochs: int, threads: int, configs=None) -> np.ndarray:
    """The fits one after another (default all 24); returns `[configs, folds]` test
    accuracies in jaxfit's configuration order (learning rate outer, alpha inner)."""
    torch = _import_torch()
    torch.set_num_threads(threads)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32))
    train, test = np.asarray(folds.train), np.asarray(folds.test)
    configs = configs or [(lr, alpha) for lr in LEARNING_RATES for alpha in ALPHAS]
    scores = np.empty((len(configs), N_SPLITS))
    for k in range(N_SPLITS):
        tr, te = torch.from_numpy(np.flatnonzero(train[k])), torch.from_numpy(np.flatnonzero(test[k]))
        X_train, y_train = Xt[tr], yt[tr]
        for c, (lr, alpha) in enumerate(configs):
            torch.manual_seed(k)
            net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], HIDDEN), torch.nn.ReLU(),
                                      torch.nn.Linear(HIDDEN, 1))
            for layer in (net[0], net[2]):
                torch.nn.init.xavier_uniform_(layer.weight)
                torch.nn.init.zeros_(layer.bias)
            optimizer = torch.optim.Adam([
                {"params": [net[0].weight, net[2].weight], "weight_decay": alpha / BATCH},
                {"params": [net[0].bias, net[2].bias], "weight_decay": 0.0}], lr=lr)
            loss_fn = torch.nn.BCEWithLogitsLoss()
            n = len(tr)
            for _ in range(epochs):
                order = torch.randperm(n)
                for start in range(0, n, BATCH):
                    batch = order[start:start + BATCH]
                    optimizer.zero_grad()
                    loss_fn(net(X_train[batch])[:, 0], y_train[batch]).backward()
                    optimizer.step()
            with torch.no_grad():
                predicted = net(Xt[te])[:, 0] > 0
                scores[c, k] = (predicted.float() == yt[te]).float().mean().item()
    return scores


def flops_per_fit(steps: int, n: int, d: int) -> float:
    """Forward (2·B·(d·h + h)) and backward (weight gradients and the hidden layer's
    gradient, 2·B·(d·h + 2h)) per step, plus scoring all n rows once."""
    per_step = 2.0 * BATCH * (d * HIDDEN + HIDDEN) + 2.0 * BATCH * (d * HIDDEN + 2 * HIDDEN)
    return steps * per_step + 2.0 * n * (d * HIDDEN + HIDDEN)


def run(quick: bool = False, *, repeats: int = 3, cache_root: str | None = None,
        torch_threads: tuple[int, ...] = (2, 1)) -> dict:
    """Time the three searches side by side.

    Args:
      quick: 2,000 samples and 3 epochs instead of 20,000 and 20.
      repeats: alternating repetitions after the warm-up (at least 3).
      cache_root: where the fresh processes' compilation caches go (default: a
        temporary folder).
      torch_threads: the PyTorch thread counts to time (each a peer of its own);
        `()` leaves PyTorch out, as does a machine without PyTorch.

    Returns:
      A dict with the sizes, per method its median seconds, raw seconds, mean CV
      accuracy per configuration and best accuracy, the ratios to jaxfit, the
      void flags, jaxfit's GFLOP/s and the fresh-process first calls.
    """
    X, y, folds, space, train_fn, score_fn = jaxfit_setup(quick)
    epochs = sizes(quick)["epochs"]
    steps = n_steps(folds, epochs)
    if importlib.util.find_spec("torch") is None:
        torch_threads = ()
    fns = {"jaxfit search": lambda: search(train_fn, score_fn, X, y, space, folds),
           "GridSearchCV(MLPClassifier), n_jobs=2": lambda: sklearn_search(X, y, epochs)}
    # Neither peer compiles: a small warm-up starts joblib's worker processes and
    # PyTorch's threads; a full search as warm-up would only cost time.
    warm_ups = {"GridSearchCV(MLPClassifier), n_jobs=2": lambda: sklearn_search(X[:600], y[:600], 1)}
    for threads in torch_threads:
        name = f"PyTorch loop, {threads} thread{'s' if threads > 1 else ''}"
        fns[name] = lambda threads=threads: torch_search(X, y, folds, epochs, threads)
        warm_ups[name] = lambda threads=threads: torch_search(X, y, folds, 1, threads, configs=[(1e-3, 1e-4)])
    times, outputs = _common.alternate(fns, max(3, repeats), warm_ups=warm_ups)

    # Mean CV accuracy per configuration, in jaxfit's order (learning rate outer).
    accuracy = {"jaxfit search": np.asarray(outputs["jaxfit search"].mean)}
    cv = outputs["GridSearchCV(MLPClassifier), n_jobs=2"]
    order = {(p["learning_rate_init"], p["alpha"]): i for i, p in enumerate(cv["params"])}
    accuracy["GridSearchCV(MLPClassifier), n_jobs=2"] = np.asarray(
        [cv["mean_test_score"][order[lr, a]] for lr in LEARNING_RATES for a in ALPHAS])
    for name in fns:
        if name.startswith("PyTorch"):
            accuracy[name] = outputs[name].mean(axis=1)
    ours = times["jaxfit search"]
    methods = {}
    for name, seconds in times.items():
        best = float(np.max(accuracy[name]))
        methods[name] = {"seconds": _common.median(seconds), "raw_s": seconds,
                         "accuracy": accuracy[name].tolist(), "best_accuracy": best}
    jaxfit_best = methods["jaxfit search"]["best_accuracy"]
    for m in methods.values():
        m["speedup"] = m["seconds"] / _common.median(ours)
        m["void"] = abs(100 * (m["best_accuracy"] - jaxfit_best)) > ACCURACY_MARGIN
    n_fits = len(LEARNING_RATES) * len(ALPHAS) * N_SPLITS
    gflop = n_fits * flops_per_fit(steps, X.shape[0], X.shape[1]) / 1e9
    return {
        **sizes(quick), "n_features": X.shape[1], "steps": steps, "n_fits": n_fits,
        "configs": [{"learning_rate": lr, "alpha": a} for lr in LEARNING_RATES for a in ALPHAS],
        "repeats": max(3, repeats), "accuracy_margin_points": ACCURACY_MARGIN, "methods": methods,
        "gflop": gflop, "gflops": gflop / methods["jaxfit search"]["seconds"],
        "status": sorted(set(outputs["jaxfit search"].status.ravel().tolist())),
        "omp_wait_policy": _torch_omp_wait_policy,
        "fresh_process": _common.compile_in_two_processes("bench_mlp", quick, cache_root)["search"],
    }


def print_table(r: dict) -> None:
    print(f"W3 MLP search: n={r['n_samples']}, d={r['n_features']}, {r['n_fits']} fits "
          f"({N_SPLITS} folds x {len(r['configs'])} configs) of {r['epochs']} epochs = {r['steps']} "
          f"steps, median of {r['repeats']} alternating runs")
    print(f"{'method':<40}{'seconds':>9}{'÷ jaxfit':>10}{'best CV acc %':>15}  verdict")
    for name, m in r["methods"].items():
        print(f"{name:<40}{m['seconds']:>9.3f}{m['speedup']:>10.2f}{100 * m['best_accuracy']:>15.2f}"
              f"  {'void' if m['void'] else 'ok'}")
    print(_common.first_call_line("jaxfit", r["fresh_process"], digits=2))
    print(f"jaxfit: {r['gflop']:.1f} GFLOP in {r['methods']['jaxfit search']['seconds']:.3f} s "
          f"= {r['gflops']:.1f} GFLOP/s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 samples, 3 epochs")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repetitions (>= 3)")
    parser.add_argument("--cache-dir", help="where the fresh processes' compilation caches go")
    args = parser.parse_args(argv)
    print_table(run(quick=args.quick, repeats=args.repeats, cache_root=args.cache_dir))


if __name__ == "__main__":
    main()
