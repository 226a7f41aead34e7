"""Least squares and ridge in closed form, and ridge's exact leave-one-out errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from .. import _compile
from .._validation import as_array, check_length, is_traced, optional_weights, weights_or_ones
from ._base import Objective, Solver
from ._newton import flat_objective, solve_psd


def closed_form() -> Solver:
    """Ordinary least squares and ridge by one exact Newton step (Cholesky solve).

    For a model linear in its parameters with squared error and an L2 penalty (or
    none) the objective is quadratic, so the single step `params - H⁻¹ g` lands on the
    minimum: `fit(..., optimizer=closed_form(), steps=1, tol=...)` reports converged.
    The Hessian `H` (the Gram matrix `2·X̃ᵀWX̃/Σw` plus the penalty's `strength·I` on
    the weights) comes from `jax.hessian`, so weights, intercepts and multi-output
    models need nothing special. A singular `H` (more features than samples, no
    penalty) gives *a* minimum, one of many with the same predictions: a Cholesky
    solve with a ridge of a few rounding units picks it, not the one of minimum norm
    (`LinearRegression` solves by SVD for that one). On a non-quadratic objective
    each step is a full Newton step; use `newton` there. The solve loses about `cond(H)·eps`, and
    features with large means make `H` ill-conditioned (`cond` grows as (mean / std)²):
    in float32, centre or standardize `X` first (`jaxfit.data.standardize`), as the
    `LinearRegression` and `Ridge` estimators do.

    Unlike the other solvers, the optimality reported is the largest gradient entry at
    the *new* params, which is what shows the solve converged after one step.

    Returns:
      A `Solver` (its state is empty).
    """

    def init(params):
        del params
        return optax.EmptyState()

    def step(objective: Objective, params, state):
        flat, unravel, f = flat_objective(objective, params)
        value, grad = jax.value_and_grad(f)(flat)
        new_flat = flat - solve_psd(jax.hessian(f)(flat), grad)
        return unravel(new_flat), state, value, jnp.max(jnp.abs(jax.grad(f)(new_flat)))

    return Solver(init, step)


def ridge_loo(X, y, alphas, *, sample_weight=None, fit_intercept: bool = True) -> jax.Array:
    """Exact leave-one-out residuals of ridge regression for every alpha, in one SVD.

    Ridge here is scikit-learn's: minimise `Σᵢ sᵢ (yᵢ - xᵢ·w - b)² + alpha·||w||²`
    (`Ridge(alpha)`, or `squared_error + penalties.l2(2·alpha/Σs)` in jaxfit's scaling),
    with sample weights `s` and an unpenalised intercept. Leaving sample i out of a
    linear smoother changes its prediction in closed form, `eᵢ = rᵢ / (1 - hᵢᵢ)`, where
    `r` are the residuals of the fit on all samples and `hᵢᵢ` the leverages; one SVD of
    the weighted, centred `X` gives both for all alphas, as `RidgeCV` (cv=None) does.
    A sample with zero weight is left out of every fit, so its "leave-one-out" residual
    is its plain held-out prediction error: under `vmap` over fold masks this scores
    the held-out samples of each fold.

    Args:
      X: `[n, d]` features.
      y: `[n]` or `[n, m]` targets.
      alphas: `[a]` non-negative penalty strengths (scikit-learn's scaling).
      sample_weight: `[n]` non-negative weights (default: all ones).
      fit_intercept: fit an unpenalised intercept (by centring with the weighted means).

    Returns:
      `[a, n]` (or `[a, n, m]`) residuals `yᵢ - ŷ₍₋ᵢ₎`; their weighted mean square is
      the leave-one-out mean squared error.

    Example:
      >>> data = jaxfit.data.load_example("diabetes")
      >>> X, y = jaxfit.data.standardize(data.X).apply(data.X), data.y
      >>> alphas = jnp.logspace(-3, 3, 13)
      >>> errors = ridge_loo(X, y, alphas)
      >>> errors.shape  # one leave-one-out residual per alpha and sample
      (13, 442)
      >>> best = alphas[jnp.argmin((errors ** 2).mean(axis=1))]
    """
    X = as_array(X, "X", ndim=2)
    y = as_array(y, "y", ndim=(1, 2))
    check_length(X.shape[0], y, "y")
    alphas = as_array(alphas, "alphas", ndim=1)
    if not is_traced(alphas) and bool(jnp.any(alphas < 0)):
        raise ValueError(f"`alphas` must be non-negative; got a minimum of {float(alphas.min())}.")
    if not isinstance(fit_intercept, bool):
        raise TypeError(f"`fit_intercept` must be True or False; got {fit_intercept!r}.")
    weight = optional_weights(sample_weight, X)
    return _ridge_loo(X, y.astype(X.dtype), alphas.astype(X.dtype), weight, fit_intercept)


@_compile.jit(static_argnums=(4,), persist=True)
def _ridge_loo(X, y, alphas, weight, fit_intercept):
    weight = weights_or_ones(weight, X.shape[0], X.dtype)
    total = jnp.sum(weight)
    targets = y[:, None] if y.ndim == 1 else y                     # [n, m]
    if fit_intercept:
        # An unpenalised intercept is the same as centring on the weighted means; its
        # leverage is sᵢ/Σs (the projection onto √s, orthogonal to the centred X).
        X = X - weight @ X / total
        targets = targets - weight @ targets / total
    root = jnp.sqrt(weight)
    u, s, vt = jnp.linalg.svd(root[:, None] * X, full_matrices=False)
    s2 = s * s
    # Rank cut-off on s itself, as NumPy's lstsq (s is sorted). On s², it dropped
    # directions with s below sqrt(eps) · s[0]: in float32, a feature of scale 1e-4
    # beside one of scale 1, well resolved by the SVD, was discarded.
    kept = s > jnp.finfo(X.dtype).eps * max(X.shape) * s[0]
    safe = jnp.where(kept, s2, 1.0)
    shrink = jnp.where(kept, safe / (safe + alphas[:, None]), 0.0)          # [a, k]
    coef = jnp.einsum("kd,ak,km->adm", vt, shrink / jnp.sqrt(safe),
                      u.T @ (root[:, None] * targets))                        # [a, d, m]
    # Residuals in the original scale, so zero-weight (held-out) samples get theirs.
    residual = targets[None] - jnp.einsum("nd,adm->anm", X, coef)            # [a, n, m]
    leverage = shrink @ (u * u).T                                            # [a, n]
    if fit_intercept:
        leverage = leverage + weight / total
    errors = residual / (1.0 - leverage)[:, :, None]
    return errors[:, :, 0] if y.ndim == 1 else errors
