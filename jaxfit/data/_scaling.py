"""Feature scaling fitted with sample weights, and one-hot encoding of labels.

`standardize` is pure `jax.numpy`, so it runs inside `jit` and `vmap`: fitted with a
fold's 0/1 training mask as `sample_weight`, it learns the scaling from that fold's
training rows only, and a `vmap` over masks scales every fold at once without leaking
test rows into the statistics.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _compile
from .._validation import (as_array, check_int, constant_columns, float_dtype, is_traced,
                           optional_weights, weights_or_ones)


class Scaling(NamedTuple):
    """Per-column affine scaling `(X - mean) / scale`, as returned by `standardize`.

    Attributes:
      mean: column means, shape `[d]`.
      scale: column standard deviations (1 for constant columns), shape `[d]`.
    """

    mean: jax.Array  # [d]
    scale: jax.Array  # [d]

    def _check(self, X, name):
        X = as_array(X, name, ndim=(1, 2))
        if X.shape[-1] != self.mean.shape[-1]:
            raise ValueError(f"`{name}` has {X.shape[-1]} columns but the scaling was fitted on "
                             f"{self.mean.shape[-1]}; pass data with the same columns.")
        return X

    def apply(self, X) -> jax.Array:
        """Scale `X` (`[n, d]` or one row `[d]`) to zero mean and unit variance.

        Example:
          >>> X_train = jnp.array([[1.0, 10.0], [3.0, 30.0]])
          >>> scaling = standardize(X_train)  # mean [2, 20], scale [1, 10]
          >>> scaling.apply(jnp.array([[2.0, 50.0]]))
          Array([[0., 3.]], dtype=float32)
        """
        return _apply(self._check(X, "X"), self.mean, self.scale)

    def inverse(self, X) -> jax.Array:
        """Undo `apply`: map scaled values back to the original units."""
        return _inverse(self._check(X, "X"), self.mean, self.scale)


# The arithmetic runs as one compiled program per function (inlined under an enclosing
# jit or vmap): eagerly, each operation would be compiled on its own at its first use
# in a process, 0.8 s for `standardize`. Rows are given an explicit axis, so the maths
# holds under jax_numpy_rank_promotion="raise".
@_compile.jit
def _apply(X, mean, scale):
    lead = (None,) * (X.ndim - 1)
    # A product with the reciprocal, as in `standardize`: the same bits whether or
    # not XLA would rewrite the division.
    return (X - mean[lead]) * (1 / scale[lead])


@_compile.jit
def _inverse(X, mean, scale):
    lead = (None,) * (X.ndim - 1)
    return X * scale[lead] + mean[lead]


def standardize(X, sample_weight=None) -> Scaling:
    """Fit a `Scaling` to zero mean and unit variance per column, as `StandardScaler`.

    The mean and the (population) standard deviation are weighted by
    `sample_weight`. Columns that are constant over the weighted samples get scale 1,
    so they are centred but not blown up. Works under `jit` and `vmap`; with traced
    weights that are zero everywhere the result is NaN rather than an error.

    Args:
      X: features, shape `[n, d]`.
      sample_weight: non-negative weights `[n]`, e.g. a fold's 0/1 training mask;
        None weighs every row equally.

    Returns:
      A `Scaling(mean, scale)`; call `.apply(X)` to transform.

    Example:
      >>> X = jnp.array([[1.0], [3.0], [100.0]])
      >>> train_mask = jnp.array([1.0, 1.0, 0.0])
      >>> scaling = standardize(X, sample_weight=train_mask)
      >>> scaling.apply(X)  # statistics from the training rows only
      Array([[-1.],
             [ 1.],
             [98.]], dtype=float32)
      >>> folds = jaxfit.model_selection.kfold(len(X), 3)
      >>> per_fold = jax.vmap(standardize, in_axes=(None, 0))(X, folds.train)
      >>> per_fold.mean.shape  # one scaling per fold
      (3, 1)
    """
    X = as_array(X, "X", ndim=2)
    w = optional_weights(sample_weight, X)
    return _standardize(X, w)


@_compile.jit
def _standardize(X, w):
    w = weights_or_ones(w, X.shape[0], X.dtype)
    # Each column is divided by a power of two near its largest |value| (of positive
    # weight), which is exact: the statistics keep their bits, but the squares of huge
    # (1e20) or tiny (1e-20) float32 columns no longer overflow to inf or underflow to
    # 0, either of which left the column unscaled (scale 1) as if it were constant.
    used = (w > 0)[:, None]
    _, exponent = jnp.frexp(jnp.max(jnp.where(used, jnp.abs(X), 0), axis=0))
    info = jnp.finfo(X.dtype)
    unit = jnp.ldexp(jnp.ones((), X.dtype), jnp.clip(exponent - 1, info.minexp + 1, info.maxexp - 1))
    X = X * (1 / unit)[None, :]
    # Products with an explicit reciprocal, not divisions: XLA rewrites `x / t` by a
    # broadcast scalar into `x * (1 / t)` in some programs and not in others (the
    # 1-device search but not its SPMD-partitioned 4-device twin), and the two differ
    # in the last bit. Written as products, every program computes the same bits.
    inv_total = 1 / w.sum()
    mean = (w @ X) * inv_total
    centred = X - mean[None, :]
    # One correction pass (the corrected two-pass algorithm of Chan, Golub & LeVeque):
    # a float32 matrix-vector product may sum its n rows one after another, leaving the
    # first mean off by up to n * eps (1.7e-4 of a constant 0.1 over 20k rows); the mean
    # of what that leaves is small, so its own rounding is negligible.
    offset = (w @ centred) * inv_total
    mean = mean + offset
    centred = centred - offset[None, :]
    var = (w @ (centred * centred)) * inv_total
    # A column whose weighted rows are all equal is constant, found exactly; otherwise
    # sklearn's `_is_constant_feature`: a variance within float64 rounding error of zero
    # (the bound grows with the number of rows summed and with |mean|). Float64's eps
    # whatever X's dtype, as sklearn's statistics are float64: float32's would call any
    # column constant whose std is below n * 1.2e-7 * |mean| (all of them past 8.4M rows).
    constant = constant_columns(X, w)
    eps = float(np.finfo(np.float64).eps)
    n_used = jnp.sum(w > 0).astype(X.dtype)
    bound = n_used * eps * var + (n_used * mean * eps) ** 2
    scale = jnp.where(constant | (var <= bound), 1 / unit, jnp.sqrt(var))
    return Scaling(mean * unit, scale * unit)


def one_hot(y, n_classes: int) -> jax.Array:
    """Encode class indices `[n]` as float rows `[n, n_classes]` with a single 1.

    Args:
      y: integer labels in `[0, n_classes)`.
      n_classes: number of classes (a Python int, static under `jit`).

    Example:
      >>> one_hot(jnp.array([0, 2]), 3)
      Array([[1., 0., 0.],
             [0., 0., 1.]], dtype=float32)
    """
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    y = as_array(y, "y", ndim=1, dtype="int")
    if not is_traced(y):
        y_np = np.asarray(y)
        if y_np.min() < 0 or y_np.max() >= n_classes:
            raise ValueError(f"`y` must hold labels in [0, {n_classes - 1}] for `n_classes`="
                             f"{n_classes}; got labels from {y_np.min()} to {y_np.max()}. Encode "
                             f"labels as 0..k-1 (load_csv does) or raise `n_classes`.")
    return jax.nn.one_hot(y, n_classes, dtype=float_dtype())
