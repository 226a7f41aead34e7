"""Reference problems shared by the tests."""

import numpy as np


def regression_problem(n=200, d=5, noise=0.1, seed=0):
    """A well-conditioned least-squares problem."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    coef = rng.normal(size=d)
    y = X @ coef + 0.5 + noise * rng.normal(size=n)
    return X.astype(np.float32), y.astype(np.float32)


def classification_problem(n=300, d=4, n_classes=2, seed=0):
    """Overlapping Gaussian classes (not separable), labels 0..n_classes-1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    centers = rng.normal(size=(n_classes, d))
    X = centers[y] + 1.5 * rng.normal(size=(n, d))
    return X.astype(np.float32), y.astype(np.int32)
