"""Regression metrics: `metric(y_true, y_pred, *, sample_weight=None) -> scalar`.

Targets are `[n]` or `[n, m]`; with several outputs each is scored on its own and the
scores are averaged uniformly, as scikit-learn's default `multioutput="uniform_average"`.
Weights are per sample and a weight of zero leaves a sample out exactly, so `vmap` over
a batch of 0/1 fold masks scores every fold without slicing.

Called with concrete arrays, a metric checks them in Python and then runs one compiled
program, its jitted core (casts included: each eager op would compile a program of its
own at a process's first call). Under a caller's `jit`/`vmap` the core is traced inline.
"""

from __future__ import annotations

import jax.numpy as jnp

from .. import _compile
from .._validation import as_array, constant_columns, weights_or_ones
from ._common import as_weights, check_same_length, weighted_mean


def _targets_and_weights(y_true, y_pred, sample_weight):
    y_true = as_array(y_true, "y_true", ndim=(1, 2))
    y_pred = as_array(y_pred, "y_pred", ndim=(1, 2))
    if y_true.shape != y_pred.shape:
        check_same_length(y_true, y_pred, "y_pred")
        raise ValueError(
            f"`y_pred` must have the shape of `y_true`, {tuple(y_true.shape)}; got "
            f"{tuple(y_pred.shape)}. Predict every output, or select the same outputs "
            f"from both.")
    return y_true, y_pred, as_weights(sample_weight, y_true.shape[0])


def _in_common_dtype(y_true, y_pred, w):
    """Inside a core: targets and weights in the targets' common dtype."""
    dtype = jnp.result_type(y_true.dtype, y_pred.dtype)
    return y_true.astype(dtype), y_pred.astype(dtype), weights_or_ones(w, y_true.shape[0], dtype)


def _per_output_mse(y_true, y_pred, w):
    return weighted_mean((y_true - y_pred) ** 2, w)


def mse(y_true, y_pred, *, sample_weight=None):
    """Weighted mean squared error, as `sklearn.metrics.mean_squared_error`.

    Args:
      y_true: targets `[n]` or `[n, m]`.
      y_pred: predictions of the same shape.
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.

    Returns:
      A non-negative scalar, averaged over outputs; lower is better.

    Example:
      >>> mse(jnp.array([1.0, 2.0, 3.0]), jnp.array([1.0, 2.0, 5.0]))
      Array(1.3333334, dtype=float32)
    """
    return _mse(*_targets_and_weights(y_true, y_pred, sample_weight))


@_compile.jit
def _mse(y_true, y_pred, w):
    return _per_output_mse(*_in_common_dtype(y_true, y_pred, w)).mean()


def rmse(y_true, y_pred, *, sample_weight=None):
    """Weighted root mean squared error, as `sklearn.metrics.root_mean_squared_error`.

    With several outputs it is the mean of the per-output RMSEs (not the root of the
    mean MSE), as scikit-learn computes it.

    Args:
      y_true: targets `[n]` or `[n, m]`.
      y_pred: predictions of the same shape.
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.

    Returns:
      A non-negative scalar in the units of `y`; lower is better.

    Example:
      >>> rmse(jnp.array([1.0, 2.0, 3.0, 4.0]), jnp.array([1.0, 2.0, 3.0, 8.0]))
      Array(2., dtype=float32)
    """
    return _rmse(*_targets_and_weights(y_true, y_pred, sample_weight))


@_compile.jit
def _rmse(y_true, y_pred, w):
    return jnp.sqrt(_per_output_mse(*_in_common_dtype(y_true, y_pred, w))).mean()


def mae(y_true, y_pred, *, sample_weight=None):
    """Weighted mean absolute error, as `sklearn.metrics.mean_absolute_error`.

    Args:
      y_true: targets `[n]` or `[n, m]`.
      y_pred: predictions of the same shape.
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.

    Returns:
      A non-negative scalar, averaged over outputs; lower is better.

    Example:
      >>> mae(jnp.array([1.0, 2.0, 3.0]), jnp.array([1.0, 2.0, 6.0]))
      Array(1., dtype=float32)
    """
    return _mae(*_targets_and_weights(y_true, y_pred, sample_weight))


@_compile.jit
def _mae(y_true, y_pred, w):
    y_true, y_pred, w = _in_common_dtype(y_true, y_pred, w)
    return weighted_mean(jnp.abs(y_true - y_pred), w).mean()


def r2(y_true, y_pred, *, sample_weight=None):
    """Coefficient of determination R², as `sklearn.metrics.r2_score`.

    `1 - SS_res / SS_tot` per output, with weighted sums about the weighted mean of
    `y_true`. A constant target (every sample with weight has the same value) scores 1
    when predicted exactly and 0 otherwise, as scikit-learn's default
    `force_finite=True`. Fewer than two samples with weight score NaN, as in
    scikit-learn: R² compares the errors with the target's spread, which one sample
    does not have (a search reports such a fold's score as invalid).

    Args:
      y_true: targets `[n]` or `[n, m]`.
      y_pred: predictions of the same shape.
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.

    Returns:
      A scalar at most 1, averaged over outputs; higher is better.

    Example:
      >>> r2(jnp.array([0.0, 2.0, 4.0]), jnp.array([0.0, 2.0, 6.0]))
      Array(0.5, dtype=float32)
    """
    return _r2(*_targets_and_weights(y_true, y_pred, sample_weight))


@_compile.jit
def _r2(y_true, y_pred, w):
    y_true, y_pred, w = _in_common_dtype(y_true, y_pred, w)
    # R² does not change when both are divided by the largest |y_true| (of positive
    # weight), and that keeps the squares of huge (1e20) or tiny (1e-30) targets from
    # overflowing to inf/inf = NaN or underflowing to a false "constant target".
    scale = jnp.max(jnp.where((w > 0).reshape(w.shape + (1,) * (y_true.ndim - 1)),
                              jnp.abs(y_true), 0), axis=0)
    scale = jnp.where(scale > 0, scale, 1)
    y_true, y_pred = y_true / scale, y_pred / scale
    # Weighted means rather than sums: the ratio is the same, and it stays in range.
    ss_res = _per_output_mse(y_true, y_pred, w)
    ss_tot = weighted_mean((y_true - weighted_mean(y_true, w, keepdims=True)) ** 2, w)
    # Constant found exactly, or SS_tot could be a rounding residue (R² of -1e19).
    constant = constant_columns(y_true, w) | (ss_tot == 0)
    score = 1 - ss_res / jnp.where(constant, 1, ss_tot)
    score = jnp.where(constant, jnp.where(ss_res == 0, 1.0, 0.0), score).mean()
    return jnp.where(jnp.sum(w > 0) < 2, jnp.nan, score)
