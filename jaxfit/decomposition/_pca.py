"""Principal component analysis as a function returning a `PCA` NamedTuple.

The solvers and conventions are scikit-learn's `PCA`, so that components, variances
and ratios can be compared entry by entry:

- "full": thin SVD of the centered data;
- "covariance_eigh": eigendecomposition of the `d × d` covariance, the fastest for tall
  data (`n >> d`);
- "randomized": Halko, Martinsson and Tropp (2011), power iterations re-orthonormalized
  by QR, for a few components of wide data;
- "auto": scikit-learn's rule to choose among them;
- signs follow `svd_flip(u_based_decision=False)`: the largest-magnitude entry of each
  component is positive, so components equal scikit-learn's, not only up to sign.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _compile
from .._blocks import blocked_product
from .._validation import (as_array, check_choice, check_int, check_key, is_traced,
                           optional_weights)

_SOLVERS = ("auto", "full", "covariance_eigh", "randomized")


def _features(X, pca, name):
    X = as_array(X, name, ndim=2)
    d = pca.components.shape[-1 if name == "X" else -2]
    if X.shape[1] != d:
        want = "n_features" if name == "X" else "n_components"
        raise ValueError(f"`{name}` has {X.shape[1]} columns but the PCA has {want} = {d}; "
                         f"pass data with the columns the PCA was fitted on.")
    return X.astype(pca.mean.dtype)


class PCA(NamedTuple):
    """A fitted PCA; a pytree, so it can be returned from `jit` and `vmap`.

    Attributes:
      mean: per-feature mean of the training data `[d]`.
      components: principal axes `[k, d]`, orthonormal rows, by decreasing variance.
      explained_variance: variance along each component (ddof=1) `[k]`.
      explained_variance_ratio: `explained_variance` over the total variance `[k]`.
      singular_values: singular values of the centered data `[k]`.
      whiten: whether `transform` scales scores to unit variance `[]` (bool).
    """

    mean: jax.Array
    components: jax.Array
    explained_variance: jax.Array
    explained_variance_ratio: jax.Array
    singular_values: jax.Array
    whiten: jax.Array

    def _scale(self):
        # A component of zero variance keeps unit scale instead of dividing by zero.
        ev = self.explained_variance
        return jnp.where(self.whiten & (ev > 0), jnp.sqrt(jnp.where(ev > 0, ev, 1.0)), 1.0)

    def transform(self, X) -> jax.Array:
        """Scores `[n, k]`: centered data projected on the components (whitened if set)."""
        X = _features(X, self, "X")
        return ((X - self.mean) @ self.components.T) / self._scale()

    def inverse_transform(self, Z) -> jax.Array:
        """Data `[n, d]` rebuilt from scores; exact when k equals the rank of the data."""
        Z = _features(Z, self, "Z")
        return (Z * self._scale()) @ self.components + self.mean


def _svd_flip(Vt):
    """scikit-learn's sign rule: the largest-magnitude entry of each row is positive."""
    biggest = jnp.take_along_axis(Vt, jnp.argmax(jnp.abs(Vt), axis=1)[:, None], axis=1)
    return Vt * jnp.where(biggest < 0, -1.0, 1.0).astype(Vt.dtype)


def _randomized_svd(key, A, n_components, n_oversamples, n_iter):
    """Top singular triplets of `A` from a random sketch refined by power iterations.

    Each power iteration re-orthonormalizes with QR, so the small singular values are
    not lost to rounding however many iterations run.
    """
    size = min(n_components + n_oversamples, *A.shape)
    Q = A @ jax.random.normal(key, (A.shape[1], size), A.dtype)
    Q = jnp.linalg.qr(Q)[0]

    def power(_, Q):
        return jnp.linalg.qr(A @ jnp.linalg.qr(A.T @ Q)[0])[0]

    Q = jax.lax.fori_loop(0, n_iter, power, Q)
    _, S, Vt = jnp.linalg.svd(Q.T @ A, full_matrices=False)
    return S[:n_components], Vt[:n_components]


# Past `_BLOCKED_ROWS` rows the scatter matrix is summed over blocks of `_BLOCK` rows.
_BLOCKED_ROWS, _BLOCK = 1 << 17, 4096


def _scatter(Xc):
    """`Xc.T @ Xc`; past `_BLOCKED_ROWS` rows, summed over blocks (`_blocks`): as one
    product, the explained variance of 10^7 float32 rows of 2 features was 1.6% off.
    Blocks of at least 8·d rows keep the partial matrices under an eighth of `Xc`."""
    n, d = Xc.shape
    if n <= _BLOCKED_ROWS:
        return Xc.T @ Xc
    return blocked_product(Xc, Xc, max(_BLOCK, 8 * d))


@_compile.jit(static_argnames=("n_components", "solver", "n_oversamples", "n_iter"), persist=True)
def _pca(X, w, key, *, n_components, solver, n_oversamples, n_iter):
    # Frequency weights: a 0/1 mask gives the PCA of the masked rows, so a PCA can be
    # fitted on one fold's training rows inside a vmapped search (no leakage). Unit
    # weights (None) skip the weighting: on the CPU a program compiles about 10 ms per
    # fused kernel, more than this fit takes to run.
    if w is None:
        n = X.shape[0]
        mean = jnp.sum(X, axis=0) / n
        Xc = X - mean
    else:
        n = jnp.sum(w)
        # A reduction, which XLA adds as a tree, not the product w @ X, whose n rows the
        # CPU backend may add one after another: a float32 mean of 10^6 rows near 1000
        # came out 9 off, and the variances 160 times too large.
        mean = jnp.sum(w[:, None] * X, axis=0) / n
        Xc = (X - mean) * jnp.sqrt(w)[:, None]
    if solver == "covariance_eigh":
        # The d × d scatter matrix of the centered data (centering first, rather than
        # subtracting n·mean·meanᵀ from XᵀX as scikit-learn does, avoids cancellation
        # when the mean is large), then its eigenvectors, in ascending order. LAPACK
        # reads one triangle of the symmetric matrix, so no symmetrizing pass.
        eigvecs, eigvals = jax.lax.linalg.eigh(_scatter(Xc), symmetrize_input=False)
        top = jnp.maximum(eigvals[:-n_components - 1:-1], 0.0)  # rounding can dip below 0
        return (mean, _svd_flip(eigvecs[:, :-n_components - 1:-1].T), top / (n - 1),
                top / jnp.sum(jnp.maximum(eigvals, 0.0)), jnp.sqrt(top))
    if solver == "full":
        _, S, Vt = jnp.linalg.svd(Xc, full_matrices=False)
        total = jnp.sum(S**2)
    else:
        S, Vt = _randomized_svd(key, Xc, n_components, n_oversamples, n_iter)
        total = jnp.sum(Xc * Xc)  # the sketch does not see every direction
    S = S[:n_components]
    return mean, _svd_flip(Vt[:n_components]), S**2 / (n - 1), S**2 / total, S


def _auto_solver(n, d, n_components):
    """scikit-learn's choice for `svd_solver="auto"`."""
    if d <= 1_000 and n >= 10 * d:
        return "covariance_eigh"
    if max(n, d) <= 500 or n_components >= 0.8 * min(n, d):
        return "full"
    return "randomized"


def pca(X, n_components: int, *, whiten: bool = False, solver: str = "auto", key=None,
        n_oversamples: int = 10, n_iter: int = 4, sample_weight=None) -> PCA:
    """Principal component analysis of `X`, as scikit-learn's `PCA`.

    Args:
      X: data `[n, d]` with at least two samples.
      n_components: number of components k (static), `1 <= k <= min(n, d)`.
      whiten: make `transform` return unit-variance scores.
      solver: "auto" (scikit-learn's rule: "covariance_eigh" when `d <= 1000` and
        `n >= 10·d`, "full" for small data or `k >= 0.8·min(n, d)`, else
        "randomized"), "full", "covariance_eigh" or "randomized".
      key: PRNG key for the randomized solver's sketch; None uses `jax.random.key(0)`,
        so results are reproducible.
      n_oversamples: extra sketch columns for "randomized" (static).
      n_iter: power iterations for "randomized" (static).
      sample_weight: `[n]` non-negative frequency weights (default: all ones); a fold's
        0/1 training mask fits the PCA on those rows only.

    Returns:
      A `PCA(mean, components, explained_variance, explained_variance_ratio,
      singular_values, whiten)` with `transform` and `inverse_transform` methods.
      Ratios are relative to the total variance of `X`, for every solver.

    Example:
      >>> X = jax.random.normal(jax.random.key(0), (100, 5))
      >>> model = pca(X, 2)
      >>> model.transform(X).shape
      (100, 2)
    """
    X = as_array(X, "X", ndim=2)
    n, d = X.shape
    if n < 2:
        raise ValueError(f"`X` needs at least 2 samples for a variance; got shape {tuple(X.shape)}.")
    n_components = check_int(n_components, "n_components", minimum=1)
    if n_components > min(n, d):
        raise ValueError(
            f"`n_components` must be <= min(n_samples, n_features) = {min(n, d)}; got "
            f"{n_components}. Ask for fewer components.")
    if not isinstance(whiten, bool):
        raise TypeError(f"`whiten` must be True or False; got {whiten!r}.")
    check_choice(solver, "solver", _SOLVERS)
    if solver == "auto":
        solver = _auto_solver(n, d, n_components)
    # The default key is made only where it is used: creating one compiles a program.
    key = check_key(key, default=0) if solver == "randomized" or key is not None else None
    n_oversamples = check_int(n_oversamples, "n_oversamples", minimum=0)
    n_iter = check_int(n_iter, "n_iter", minimum=0)
    w = optional_weights(sample_weight, X)
    total = None if w is None or is_traced(w) else float(np.sum(np.asarray(w)))
    if total is not None and total <= 1:
        raise ValueError(f"`sample_weight` must sum to more than 1: they are frequency weights "
                         f"(a sample counted w times) and the variances divide by Σw - 1; got "
                         f"Σw = {total:.6g}. Scale normalised weights by the number of samples.")
    fitted = _pca(X, w, key, n_components=n_components, solver=solver,
                  n_oversamples=n_oversamples, n_iter=n_iter)
    # device_put: jnp.asarray of a Python bool compiles a small program on first use.
    return PCA(*fitted, whiten=jax.device_put(np.asarray(whiten)))
