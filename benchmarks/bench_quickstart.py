"""The README's quickstart, cold: what a new notebook waits for, against scikit-learn.

    python benchmarks/bench_quickstart.py [--rounds N] [--code DIR]

Each library runs the same steps as the first thing in a fresh Python process, after
its imports and a garbage collection (the collection the imports owe is not either
library's work): a stratified train/test split of the bundled breast-cancer data,
standardization fitted on the training part, an L2 logistic regression, predictions
on the test part, accuracy and ROC AUC. jaxfit's steps are the README's (`fit` with
`optax.adam`), so every step includes compiling its program; scikit-learn's are
`train_test_split`, `StandardScaler`, `LogisticRegression` and `sklearn.metrics`.
The two processes alternate `--rounds` times and the medians are printed, per step
and in all, with the test accuracy and AUC of each side by side. `--code DIR` runs
jaxfit from another checkout (for a before/after comparison of a change).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import jaxfit from this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEPS = ("split", "standardize", "fit", "predict", "accuracy", "roc_auc")


def _jaxfit_steps(X, y, mark):
    import jax
    import optax

    from jaxfit import data, fit, metrics, models, penalties

    X_train, X_test, y_train, y_test = data.train_test_split(
        X, y, test_size=0.25, key=jax.random.key(0), stratify=True)
    mark("split")
    scaling = data.standardize(X_train)
    mark("standardize")
    result = fit(models.logistic(), "binary_cross_entropy", scaling.apply(X_train), y_train,
                 optimizer=optax.adam(0.05), penalty=penalties.l2(1e-3), steps=500, tol=1e-5)
    jax.block_until_ready(result)
    mark("fit")
    logits = jax.block_until_ready(models.logistic().apply(result.params, scaling.apply(X_test)))
    mark("predict")
    accuracy = float(metrics.accuracy(y_test, logits > 0))
    mark("accuracy")
    auc = float(metrics.roc_auc(y_test, logits))
    mark("roc_auc")
    return accuracy, auc


def _sklearn_steps(X, y, mark):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    mark("split")
    scaler = StandardScaler().fit(X_train)
    mark("standardize")
    model = LogisticRegression().fit(scaler.transform(X_train), y_train)
    mark("fit")
    scores = model.decision_function(scaler.transform(X_test))
    mark("predict")
    accuracy = accuracy_score(y_test, scores > 0)
    mark("accuracy")
    auc = roc_auc_score(y_test, scores)
    mark("roc_auc")
    return accuracy, auc


def _child(library: str) -> None:
    """In a fresh process: the steps of `library`, timed; prints one JSON line."""
    import jax
    import sklearn.linear_model  # noqa: F401  (both processes import the same libraries)

    from jaxfit import data

    ds = data.load_example("breast_cancer")
    X, y = ds.X, ds.y
    gc.collect()
    jax.devices()
    marks = [("start", time.perf_counter())]
    steps = _jaxfit_steps if library == "jaxfit" else _sklearn_steps
    accuracy, auc = steps(X, y, lambda name: marks.append((name, time.perf_counter())))
    seconds = {name: t - marks[i][1] for i, (name, t) in enumerate(marks[1:])}
    print(json.dumps({"seconds": seconds, "total": marks[-1][1] - marks[0][1],
                      "accuracy": accuracy, "auc": auc}))


def run(rounds: int = 3, code: str | None = None) -> dict:
    """Alternate fresh jaxfit and scikit-learn processes `rounds` times; medians."""
    child = [sys.executable, str(Path(__file__).resolve())] + (["--code", code] if code else [])
    runs = {"jaxfit": [], "sklearn": []}
    for _ in range(max(1, rounds)):
        for library in runs:
            done = subprocess.run(child + ["--child", library], capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"the {library} quickstart failed:\n{done.stderr[-3000:]}")
            runs[library].append(json.loads(done.stdout.strip().splitlines()[-1]))
    out = {}
    for library, results in runs.items():
        out[library] = {"seconds": {s: statistics.median(r["seconds"][s] for r in results) for s in STEPS},
                        "total": statistics.median(r["total"] for r in results),
                        "accuracy": results[0]["accuracy"], "auc": results[0]["auc"], "runs": results}
    out["ratio"] = out["jaxfit"]["total"] / out["sklearn"]["total"]
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh-process pairs (medians)")
    parser.add_argument("--code", help="import jaxfit from this checkout")
    parser.add_argument("--child", choices=("jaxfit", "sklearn"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.code:
            sys.path.insert(0, str(Path(args.code).resolve()))
        _child(args.child)
        return
    res = run(args.rounds, args.code)
    print(f"README quickstart, first calls in a fresh process (medians of {args.rounds}; seconds)")
    print("| step | jaxfit | scikit-learn |")
    print("|---|---|---|")
    for step in STEPS:
        print(f"| {step} | {res['jaxfit']['seconds'][step]:.3f} | {res['sklearn']['seconds'][step]:.3f} |")
    print(f"| **total** | **{res['jaxfit']['total']:.3f}** | **{res['sklearn']['total']:.3f}** |")
    print(f"| test accuracy / AUC | {res['jaxfit']['accuracy']:.4f} / {res['jaxfit']['auc']:.4f} "
          f"| {res['sklearn']['accuracy']:.4f} / {res['sklearn']['auc']:.4f} |")
    print(f"\njaxfit takes {res['ratio']:.2f}x scikit-learn's time.")


if __name__ == "__main__":
    main()
