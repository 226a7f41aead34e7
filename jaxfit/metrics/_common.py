"""Boundary checks and weighted reductions shared by the metrics.

Every metric is a weighted mean or a ratio of weighted sums, so a fold given as a 0/1
mask, a bootstrap sample and user weights are all scored the same way, and a sample of
weight zero drops out exactly (it adds `0 · value` to every sum).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import as_array, check_int, check_length, check_weights, is_traced


def as_labels(y: Any, name: str) -> jax.Array:
    """Integer class labels of shape `[n]`."""
    return as_array(y, name, ndim=1, dtype="int")


def as_weights(sample_weight: Any, n: int) -> jax.Array | None:
    """Checked `sample_weight` `[n]`, or None for unit weights.

    None travels into the metric's jitted core (see `_validation.weights_or_ones`).
    """
    if sample_weight is None:
        return None
    w = as_array(sample_weight, "sample_weight", ndim=1)
    # Checked here first so the message names `y_true`, not check_weights' default `X`.
    check_length(n, w, "sample_weight", ref="y_true")
    return check_weights(w, n)


def check_same_length(y_true: jax.Array, other: jax.Array, name: str) -> None:
    """`other` must have one entry per sample of `y_true`."""
    check_length(y_true.shape[0], other, name, ref="y_true")


def weighted_mean(values: jax.Array, w: jax.Array, *, keepdims: bool = False) -> jax.Array:
    """Mean of `values` (`[n]` or `[n, m]`) over samples, weighted by `w` `[n]`."""
    w = w.reshape(w.shape + (1,) * (values.ndim - 1))
    # `where`, not `w * values` alone: a weight-0 sample whose value overflowed to inf
    # would add 0 · inf = NaN; it must drop out exactly.
    return jnp.where(w > 0, w * values, 0).sum(axis=0, keepdims=keepdims) / w.sum()


def safe_divide(num: jax.Array, den: jax.Array) -> jax.Array:
    """`num / den`, and 0 where `den == 0`, as scikit-learn's `zero_division=0`."""
    nonzero = den > 0
    # The inner `where` keeps the gradient finite where the outer one discards the value.
    return jnp.where(nonzero, num / jnp.where(nonzero, den, 1), 0)


def concrete_labels(*ys: jax.Array) -> np.ndarray | None:
    """The sorted distinct labels of `ys`, or None when any of them is traced."""
    if any(is_traced(y) for y in ys):
        return None
    return np.unique(np.concatenate([np.asarray(y) for y in ys]))


def resolve_n_classes(n_classes: Any, names: tuple[str, ...], *ys: jax.Array) -> int:
    """The number of classes: given, or `max label + 1` when the labels are concrete.

    Labels must lie in `[0, n_classes)`; a label outside it would fall out of every
    class silently, so concrete labels are checked.
    """
    n_classes = check_int(n_classes, "n_classes", minimum=1, allow_none=True)
    if n_classes is None and any(is_traced(y) for y in ys):
        raise ValueError(
            "`n_classes` is required when the labels are traced (inside jax.jit or "
            "jax.vmap), because array shapes cannot depend on their values; got None. "
            "Pass n_classes=<number of classes> as a Python int.")
    for y, name in zip(ys, names):
        if is_traced(y):
            continue
        y_np = np.asarray(y)
        if y_np.min() < 0:
            raise ValueError(
                f"`{name}` must hold class labels 0..n_classes-1; got the label "
                f"{y_np.min()}. Encode labels as 0..n_classes-1 first.")
        if n_classes is not None and y_np.max() >= n_classes:
            raise ValueError(
                f"`{name}` holds the label {y_np.max()}, but `n_classes` is {n_classes}; "
                f"labels must be 0..n_classes-1. Pass a larger n_classes or re-encode the "
                f"labels.")
    if n_classes is None:
        n_classes = int(max(np.asarray(y).max() for y in ys)) + 1
    return n_classes
