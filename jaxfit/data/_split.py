"""`train_test_split`: one random hold-out split, stratified on request.

This runs once, in plain Python, before any training: the sizes of the two parts are
data-dependent, so it hands back gathered arrays. Cross-validation inside a compiled
search uses 0/1 masks instead (`jaxfit.model_selection`), which keep shapes fixed.
"""

from __future__ import annotations

import math
import numbers

import jax
import numpy as np

from .. import _compile
from .._validation import check_key, check_length, from_pandas


def _to_indexable(x, name):
    if isinstance(x, jax.Array):
        return x
    x = from_pandas(x)
    try:
        x = np.asarray(x)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"`{name}` must be array-like; got {type(x).__name__} ({err}).") from None
    if x.ndim == 0:
        raise ValueError(f"`{name}` must have one row per sample; got a scalar {x!r}.")
    return x


def _n_test(test_size, n: int) -> int:
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"`test_size` must be a float in (0, 1) or an int in [1, n - 1]; got "
                        f"{type(test_size).__name__} {test_size!r}.")
    if isinstance(test_size, numbers.Integral):
        if not 1 <= test_size <= n - 1:
            raise ValueError(f"`test_size`={test_size} must be an int in [1, {n - 1}] for {n} "
                             f"samples, or a float fraction in (0, 1).")
        return int(test_size)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"`test_size`={test_size} must be a float in (0, 1), the fraction of "
                         f"samples held out, or an int count in [1, {n - 1}].")
    # Rounded up, as scikit-learn does, so a small fraction still holds out a sample.
    n_test = math.ceil(test_size * n)
    if n_test > n - 1:
        raise ValueError(f"`test_size`={test_size} leaves no training sample out of {n}; use a "
                         f"smaller fraction.")
    return n_test


@_compile.jit(static_argnums=(1, 2))
def _draws(key, n: int, n_classes: int):
    """A permutation of the `n` samples and `n_classes` uniforms that break ties
    between classes, in one program (drawn eagerly, each would compile on its own)."""
    perm_key, tie_key = jax.random.split(key)
    return jax.random.permutation(perm_key, n), jax.random.uniform(tie_key, (n_classes,))


def _allocate(class_counts: np.ndarray, n_draws: int, tiebreak: np.ndarray) -> np.ndarray:
    """Integer draws per class closest to proportional, ties broken at random.

    scikit-learn's `_approximate_mode`: floor the exact shares, then give the leftover
    draws to the classes with the largest remainders.
    """
    exact = class_counts / class_counts.sum() * n_draws
    counts = np.floor(exact).astype(np.int64)
    left = n_draws - int(counts.sum())
    order = np.lexsort((tiebreak, -(exact - counts)))
    counts[order[:left]] += 1
    return counts


def _classes(y):
    """The distinct labels of `y`, and each sample's index among them."""
    if y.ndim != 1:
        raise ValueError(f"`stratify`=True needs 1-D class labels `y`; got shape {tuple(y.shape)}.")
    y = np.asarray(y)
    # np.unique makes every NaN one class, stratified like the others; scikit-learn refuses.
    missing = np.isnan(y) if y.dtype.kind in "fc" else np.zeros(0, bool)
    if missing.any():
        raise ValueError(f"`stratify`=True needs a class label for every sample, but `y` has "
                         f"{int(missing.sum())} NaN (the first at index "
                         f"{int(np.argmax(missing))}). Drop or label those samples first.")
    return np.unique(y, return_inverse=True)


def _stratified_test_mask(classes, y_idx, n_test: int, perm: np.ndarray, tiebreak) -> np.ndarray:
    counts = np.bincount(y_idx)
    if counts.min() < 2:
        small = classes[counts < 2].tolist()
        raise ValueError(f"`stratify`=True needs at least 2 samples of every class in `y`; classes "
                         f"{small} have 1. Merge or drop rare classes, or pass stratify=False.")
    n = len(y_idx)
    for part, size in (("test", n_test), ("train", n - n_test)):
        if size < len(classes):
            raise ValueError(f"`test_size` gives a {part} part of {size} samples, fewer than the "
                             f"{len(classes)} classes, so stratify=True cannot place every class "
                             f"in it. Change `test_size`.")
    n_test_per_class = _allocate(counts, n_test, tiebreak)
    # Walking the shuffled order, the first k samples met of each class go to the test set.
    rank = np.empty(n, np.int64)
    y_perm = y_idx[perm]
    for c in range(len(classes)):
        rank[perm[y_perm == c]] = np.arange(counts[c])
    return rank < n_test_per_class[y_idx]


def train_test_split(X, y, *, test_size: float | int = 0.25, key=None, stratify: bool = False):
    """Split `X` and `y` at random into a training part and a held-out test part.

    Args:
      X: features with one row per sample (NumPy, JAX, pandas or nested lists).
      y: targets with one entry per sample.
      test_size: fraction of samples held out, a float in (0, 1) (rounded up), or
        their number, an int in [1, n - 1].
      key: a JAX PRNG key such as `jax.random.key(0)` (required): the same key gives
        the same split.
      stratify: keep the class proportions of `y` in both parts (allocated as
        scikit-learn's `StratifiedShuffleSplit`); every class needs 2+ samples.

    Returns:
      `(X_train, X_test, y_train, y_test)`, each in shuffled order; JAX arrays for
      JAX inputs, NumPy arrays otherwise.

    Example:
      >>> data = jaxfit.data.load_example("iris")
      >>> X_train, X_test, y_train, y_test = train_test_split(
      ...     data.X, data.y, test_size=0.2, key=jax.random.key(0), stratify=True)
      >>> X_train.shape, X_test.shape
      ((120, 4), (30, 4))
      >>> np.bincount(y_test)  # 10 test samples of each of the 3 classes
      array([10, 10, 10])
    """
    key = check_key(key, "key", default=None)
    if key.shape != ():
        raise ValueError(f"`key` must be a single PRNG key; got a batch of shape {key.shape}. "
                         f"Pass one key, e.g. keys[0].")
    if not isinstance(stratify, (bool, np.bool_)):
        raise TypeError(f"`stratify` must be True or False; got {type(stratify).__name__}. "
                        f"It stratifies by `y`: pass stratify=True rather than the labels.")
    X = _to_indexable(X, "X")
    y = _to_indexable(y, "y")
    n = X.shape[0]
    check_length(n, y, "y")
    if n < 2:
        raise ValueError(f"`X` has {n} sample(s); splitting needs at least 2.")
    n_test = _n_test(test_size, n)
    classes, y_idx = _classes(y) if stratify else (np.zeros(0), None)
    perm, tiebreak = (np.asarray(a) for a in _draws(key, n, len(classes)))
    if stratify:
        is_test = _stratified_test_mask(classes, y_idx, n_test, perm, tiebreak)
    else:
        is_test = np.zeros(n, bool)
        is_test[perm[:n_test]] = True
    train_idx, test_idx = perm[~is_test[perm]], perm[is_test[perm]]
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]
