"""Fit L2 logistic regression on the bundled breast-cancer data and score it on a held-out split."""

from __future__ import annotations

import jax
import optax

from .. import data, metrics, models, penalties
from .._fit import fit


def run(args) -> int:
    dataset = data.load_example("breast_cancer")
    X_train, X_test, y_train, y_test = data.train_test_split(
        dataset.X, dataset.y, test_size=0.25, key=jax.random.key(0), stratify=True)
    scaling = data.standardize(X_train)
    result = fit(models.logistic(), "binary_cross_entropy", scaling.apply(X_train), y_train,
                 optimizer=optax.lbfgs(), penalty=penalties.l2(1.0 / len(y_train)), steps=200, tol=1e-6)
    logits = models.logistic().apply(result.params, scaling.apply(X_test))
    if not args.quiet:
        print(f"breast_cancer: {len(y_train)} training and {len(y_test)} test samples, "
              f"{X_train.shape[1]} features")
        print(f"logistic regression, L2 (C=1), L-BFGS: {int(result.n_steps)} steps, "
              f"converged={bool(result.converged)}")
    print(f"test accuracy {float(metrics.accuracy(y_test, logits > 0)):.4f}  "
          f"ROC AUC {float(metrics.roc_auc(y_test, logits)):.4f}")
    return 0
