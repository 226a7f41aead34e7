"""Cross-validation splitters: every split is a pair of boolean masks `Folds(train, test)`.

Masks of shape `[k, n]` rather than index lists give every fold the shapes of the full
data, so `vmap` runs all folds at once without padding and one `X` is shared by every
fold and configuration. The splitters follow scikit-learn's assignments: `kfold`
without shuffling, `stratified_kfold` without shuffling, `group_kfold` and
`leave_one_out` give exactly the folds of `KFold`, `StratifiedKFold`, `GroupKFold`
and `LeaveOneOut`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Iterable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import as_array, check_int, check_key, from_pandas, is_traced


class Folds(NamedTuple):
    """Cross-validation folds as boolean masks.

    Attributes:
      train: `[k, n]`, True where sample j is in fold i's training set.
      test: `[k, n]`, True where sample j is in fold i's test set.
    """

    train: jax.Array  # bool [k, n]
    test: jax.Array   # bool [k, n]

    @property
    def n_splits(self) -> int:
        """Number of folds k."""
        return int(self.train.shape[0])

    @classmethod
    def from_indices(cls, splits: Iterable, n_samples: int) -> "Folds":
        """Masks from `(train_indices, test_indices)` pairs, e.g. a scikit-learn `cv.split`.

        Example:
          >>> from sklearn.model_selection import StratifiedKFold
          >>> X, y = np.zeros((6, 1)), np.array([0, 0, 0, 1, 1, 1])
          >>> folds = Folds.from_indices(StratifiedKFold(3).split(X, y), len(X))
          >>> folds.test
          Array([[ True, False, False,  True, False, False],
                 [False,  True, False, False,  True, False],
                 [False, False,  True, False, False,  True]], dtype=bool)
        """
        n_samples = check_int(n_samples, "n_samples", minimum=1)
        train, test = [], []
        for i, pair in enumerate(splits):
            if len(pair) != 2:
                raise ValueError(f"`splits` must yield (train_indices, test_indices) pairs; "
                                 f"split {i} has {len(pair)} entries.")
            masks = []
            for part, idx in zip(("train", "test"), pair):
                idx = np.asarray(idx)
                idx = idx.astype(np.intp) if idx.size == 0 else idx  # [] reads as float64
                if idx.size and (idx.dtype.kind not in "iu" or idx.min() < 0 or idx.max() >= n_samples):
                    raise ValueError(f"`splits` {part} indices of split {i} must be integers in "
                                     f"[0, {n_samples}); got dtype {idx.dtype} and range "
                                     f"[{idx.min()}, {idx.max()}].")
                mask = np.zeros(n_samples, bool)
                mask[idx] = True
                masks.append(mask)
            train.append(masks[0])
            test.append(masks[1])
        if not train:
            raise ValueError("`splits` is empty; it needs at least one (train, test) pair.")
        return _folds(np.stack(train), np.stack(test))


def _folds(train: np.ndarray, test: np.ndarray) -> Folds:
    return Folds(jnp.asarray(train, bool), jnp.asarray(test, bool))


def _from_test_folds(test_fold: np.ndarray, n_splits: int) -> Folds:
    """Masks from the fold index of every sample (each sample in exactly one test set)."""
    test = test_fold[None, :] == np.arange(n_splits)[:, None]
    return _folds(~test, test)


def _check_n_splits(n_splits, n_items: int, items: str, fix: str) -> int:
    n_splits = check_int(n_splits, "n_splits", minimum=2)
    if n_splits > n_items:
        raise ValueError(f"`n_splits` must be at most the number of {items} ({n_items}); got "
                         f"{n_splits}. {fix}")
    return n_splits


def _permutation(key, n: int, name: str = "key") -> np.ndarray:
    return np.asarray(jax.random.permutation(check_key(key, name, default=None), n))


def _check_shuffle_key(shuffle: bool, key) -> None:
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"`shuffle` must be True or False; got {shuffle!r}.")
    if shuffle and key is None:
        raise ValueError("`key` is required when `shuffle=True`: pass key=jax.random.key(seed) "
                         "so the folds are reproducible.")
    if not shuffle and key is not None:
        raise ValueError("`key` has no effect when `shuffle=False`; pass shuffle=True to "
                         "shuffle with this key, or drop `key`.")


def _labels(values, name: str) -> np.ndarray:
    """Concrete 1-D labels (class labels or group ids) as a NumPy array."""
    if is_traced(values):
        raise TypeError(f"`{name}` must be a concrete array; splitters run outside jit/vmap.")
    arr = np.asarray(from_pandas(values))
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D array with one entry per sample; got shape "
                         f"{arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"`{name}` is empty; it needs one entry per sample.")
    if arr.dtype == object:  # text from pandas: an object array of str
        kinds = {type(v) for v in arr}
        if kinds <= {str}:
            arr = arr.astype(str)
        elif all(issubclass(k, numbers.Number) and k is not bool for k in kinds):
            arr = np.array(arr.tolist())
        else:
            raise TypeError(f"`{name}` must hold numbers or strings, all of one kind; got an "
                            f"object array with values of types "
                            f"{sorted(k.__name__ for k in kinds)}. Convert it with "
                            f".astype(str) or to numbers first.")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"`{name}` contains NaN or infinite values; every sample needs a label.")
    if arr.dtype.kind not in "biufUS":
        raise TypeError(f"`{name}` must hold numbers or strings; got dtype {arr.dtype}.")
    return arr


def kfold(n_samples: int, n_splits: int = 5, *, shuffle: bool = False, key=None) -> Folds:
    """K consecutive folds; each sample is in exactly one test set.

    The first `n_samples % n_splits` folds have one extra sample, as scikit-learn's
    `KFold`, whose folds this reproduces exactly when `shuffle=False`.

    Args:
      n_samples: number of samples n.
      n_splits: number of folds k, at least 2 and at most n.
      shuffle: shuffle the samples before cutting them into folds.
      key: `jax.random.key`, required with `shuffle=True`.

    Returns:
      `Folds(train, test)`, boolean masks of shape `[n_splits, n_samples]`.

    Example:
      >>> folds = kfold(10, 5)
      >>> folds.test.sum(axis=1)
      Array([2, 2, 2, 2, 2], dtype=int32)
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_splits = _check_n_splits(n_splits, n_samples, "samples", "Lower n_splits.")
    _check_shuffle_key(shuffle, key)
    sizes = np.full(n_splits, n_samples // n_splits)
    sizes[: n_samples % n_splits] += 1
    test_fold = np.repeat(np.arange(n_splits), sizes)
    if shuffle:
        test_fold = test_fold[np.argsort(_permutation(key, n_samples))]
    return _from_test_folds(test_fold, n_splits)


def stratified_kfold(y, n_splits: int = 5, *, shuffle: bool = False, key=None,
                     rare_classes: str = "raise") -> Folds:
    """K folds that keep each class's share of samples in every fold.

    Classes are dealt round-robin over the folds in blocks, as scikit-learn's
    `StratifiedKFold` (whose folds this reproduces exactly when `shuffle=False`): every
    test fold holds each class's count divided by k, rounded down or up.

    Args:
      y: `[n]` class labels (numbers or strings).
      n_splits: number of folds k, at least 2.
      shuffle: shuffle samples within each class before assigning them.
      key: `jax.random.key`, required with `shuffle=True`.
      rare_classes: what to do when a class has fewer than k members, so that some
        test folds lack it: "raise" (the default) refuses it; "warn" warns and goes on,
        as scikit-learn's `StratifiedKFold` does (raising only when every class has
        fewer than k members).

    Returns:
      `Folds(train, test)`, boolean masks of shape `[n_splits, n]`.
    """
    y = _labels(y, "y")
    n_splits = _check_n_splits(n_splits, y.size, "samples", "Lower n_splits.")
    _check_shuffle_key(shuffle, key)
    if rare_classes not in ("raise", "warn"):
        raise ValueError(f"`rare_classes` must be \"raise\" or \"warn\"; got {rare_classes!r}.")
    _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
    # Classes numbered by first appearance, as scikit-learn does, so the folds match.
    encoded = np.argsort(np.argsort(first))[inverse]
    counts = np.bincount(encoded)
    if counts.max() < 2:  # no n_splits >= 2 can work: say why instead of "at most 1"
        raise ValueError(f"`y` has {y.size} distinct values, each its own class, so no class can "
                         f"be spread over {n_splits} folds; stratified_kfold needs class labels. "
                         f"For a continuous target use kfold(len(y), {n_splits}).")
    if counts.min() < n_splits:
        # Class code c first appears at sort(first)[c]; .item() shows 'eel', not np.str_('eel').
        rarest, largest = (y[np.sort(first)[c]].item() for c in (np.argmin(counts), np.argmax(counts)))
        if rare_classes == "raise":
            raise ValueError(f"`y` has a class ({rarest!r}) with only {counts.min()} member(s), fewer "
                             f"than `n_splits`={n_splits}; every class needs a member in every test "
                             f"fold. Lower n_splits to at most {counts.min()}, merge rare classes, or "
                             f"pass rare_classes=\"warn\" to let some test folds lack them.")
        if counts.max() < n_splits:
            raise ValueError(f"`n_splits`={n_splits} is greater than the number of members of every "
                             f"class in `y` (the largest, {largest!r}, has {counts.max()}), so some "
                             f"test folds would be empty. Lower n_splits to at most {counts.max()}.")
        warnings.warn(f"The least populated class in y has only {counts.min()} members, which is "
                      f"less than n_splits={n_splits}. (Class {rarest!r}: some test folds have none "
                      f"of it.)", UserWarning, stacklevel=2)
    ordered = np.sort(encoded)
    allocation = np.stack([np.bincount(ordered[i::n_splits], minlength=counts.size)
                           for i in range(n_splits)])
    keys = (jax.random.split(check_key(key, default=None), counts.size) if shuffle
            else [None] * counts.size)
    test_fold = np.empty(y.size, np.int64)
    for c, class_key in enumerate(keys):
        folds_of_class = np.repeat(np.arange(n_splits), allocation[:, c])
        if shuffle:
            folds_of_class = folds_of_class[_permutation(class_key, folds_of_class.size)]
        test_fold[encoded == c] = folds_of_class
    return _from_test_folds(test_fold, n_splits)


def group_kfold(groups, n_splits: int = 5) -> Folds:
    """K folds where all samples of a group land in the same test fold.

    Groups are assigned largest first to the fold with the fewest samples so far, as
    scikit-learn's `GroupKFold`, whose folds this reproduces exactly. A group never
    straddles a training and a test set.

    Args:
      groups: `[n]` group id of each sample (numbers or strings).
      n_splits: number of folds k, at least 2 and at most the number of groups.

    Returns:
      `Folds(train, test)`, boolean masks of shape `[n_splits, n]`.
    """
    groups = _labels(groups, "groups")
    _, group_idx = np.unique(groups, return_inverse=True)
    per_group = np.bincount(group_idx)
    n_splits = _check_n_splits(n_splits, per_group.size, "distinct groups",
                               "Lower n_splits or split the data into more groups.")
    order = np.argsort(per_group, kind="stable")[::-1]
    fold_sizes = np.zeros(n_splits)
    group_to_fold = np.zeros(per_group.size, np.int64)
    for g in order:
        lightest = np.argmin(fold_sizes)
        fold_sizes[lightest] += per_group[g]
        group_to_fold[g] = lightest
    return _from_test_folds(group_to_fold[group_idx], n_splits)


def leave_one_out(n_samples: int) -> Folds:
    """n folds, each testing on a single sample and training on the rest.

    Example:
      >>> leave_one_out(3).test.astype(int)
      Array([[1, 0, 0],
             [0, 1, 0],
             [0, 0, 1]], dtype=int32)
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    if n_samples < 2:
        raise ValueError(f"`n_samples` must be at least 2 for leave-one-out (one sample to "
                         f"test, at least one to train); got {n_samples}.")
    return _from_test_folds(np.arange(n_samples), n_samples)


def shuffle_split(n_samples: int, n_splits: int = 10, *, test_size, key) -> Folds:
    """Independent random train/test splits; a sample may be tested in several splits.

    Args:
      n_samples: number of samples n.
      n_splits: number of splits, at least 1.
      test_size: a fraction in (0, 1) (rounded up, as scikit-learn's `ShuffleSplit`)
        or a number of test samples in [1, n - 1].
      key: `jax.random.key` for the permutations.

    Returns:
      `Folds(train, test)`, boolean masks of shape `[n_splits, n_samples]`, with every
      sample in exactly one of train or test within a split.
    """
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    n_splits = check_int(n_splits, "n_splits", minimum=1)
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"`test_size` must be a fraction in (0, 1) or a number of samples; "
                        f"got {test_size!r}.")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 1 <= n_test <= n_samples - 1:
            raise ValueError(f"`test_size` as a count must be in [1, {n_samples - 1}] so both "
                             f"sets are non-empty; got {n_test}.")
    else:
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"`test_size` as a fraction must be in (0, 1); got {test_size}.")
        n_test = math.ceil(test_size * n_samples)
        if n_test >= n_samples:
            raise ValueError(f"`test_size`={test_size} leaves no training sample out of "
                             f"{n_samples}; lower it.")
    keys = jax.random.split(check_key(key, default=None), n_splits)
    ranks = np.stack([np.argsort(_permutation(k, n_samples)) for k in keys])
    test = ranks < n_test
    return _folds(~test, test)


def check_folds(folds, n_samples: int) -> Folds:
    """Validate `folds` against the data: `[k, n]` boolean masks, non-empty train and test."""
    if not isinstance(folds, Folds):
        raise TypeError(f"`folds` must be a Folds(train, test) from a splitter such as "
                        f"kfold(n) (or Folds.from_indices for index lists); got "
                        f"{type(folds).__name__}.")
    train = as_array(folds.train, "folds.train", ndim=2, dtype="any")
    test = as_array(folds.test, "folds.test", ndim=2, dtype="any")
    for name, mask in (("folds.train", train), ("folds.test", test)):
        if mask.dtype != jnp.bool_:
            raise TypeError(f"`{name}` must be a boolean mask; got dtype {mask.dtype}.")
        if mask.shape[1] != n_samples:
            raise ValueError(f"`{name}` has shape {tuple(mask.shape)} but `X` has {n_samples} "
                             f"rows; folds must be made for this data ([k, {n_samples}]).")
    if train.shape != test.shape:
        raise ValueError(f"`folds.train` and `folds.test` must have the same shape; got "
                         f"{tuple(train.shape)} and {tuple(test.shape)}.")
    empty = np.flatnonzero(~np.asarray(train).any(axis=1) | ~np.asarray(test).any(axis=1))
    if empty.size:
        raise ValueError(f"`folds` fold {int(empty[0])} has an empty training or test set; "
                         f"every fold needs samples in both.")
    return Folds(train, test)
