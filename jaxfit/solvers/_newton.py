"""Damped Newton (IRLS for generalized linear models) with a backtracking line search.

The Hessian is formed by `jax.hessian` over the flattened parameters
(`jax.flatten_util.ravel_pytree`), so any twice-differentiable model and loss work,
and the L2 part of the penalty enters it exactly. Each step costs O(n·p²) to form and
O(p³) to factor: the method for models with up to a few thousand parameters, where it
converges in a handful of steps (least squares, logistic, softmax regression).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from .._validation import check_int
from ._base import Objective, Solver
from ._linesearch import backtracking


def flat_objective(objective: Objective, params):
    """`(flat params, unravel, value of the flat params)` for second-order methods."""
    flat, unravel = ravel_pytree(params)
    return flat, unravel, lambda v: objective.value(unravel(v))


def solve_psd(hessian, rhs):
    """Solve `hessian @ x = rhs` (`rhs` a vector or matrix) for a symmetric PSD `hessian`.

    Cholesky with a ridge of a few rounding units of each diagonal entry, so a Hessian
    that is singular only in directions the right-hand side does not reach (softmax's
    shared logit shift, an unused feature) still factors. If the factorization fails
    all the same, the eigendecomposition gives the minimum-norm least-squares solution.
    """
    dtype = hessian.dtype
    eps = jnp.finfo(dtype).eps
    # Per entry, not a multiple of the largest: the intercept's entry (2 for squared
    # error) would otherwise add a ridge as large as the whole curvature of a feature
    # of scale 1e-3 in float32 (coefficients 2.5 times too small). The floor keeps an
    # all-zero row (an unused feature) factorable.
    diagonal = jnp.abs(jnp.diag(hessian))
    jitter = 10 * eps * jnp.maximum(diagonal, eps * jnp.max(diagonal))
    factor = jnp.linalg.cholesky(hessian + jnp.diag(jitter))
    x = jax.scipy.linalg.cho_solve((factor, True), rhs)

    def pseudo_inverse(_):
        eigenvalues, vectors = jnp.linalg.eigh(hessian)
        cutoff = jnp.finfo(dtype).eps * hessian.shape[0] * jnp.max(jnp.abs(eigenvalues))
        inverse = jnp.where(eigenvalues > cutoff, 1.0 / jnp.where(eigenvalues > cutoff, eigenvalues, 1.0), 0.0)
        inverse = inverse.reshape((-1,) + (1,) * (rhs.ndim - 1))
        return vectors @ (inverse * (vectors.T @ rhs))

    return jax.lax.cond(jnp.all(jnp.isfinite(x)), lambda _: x, pseudo_inverse, None)


def newton(*, max_linesearch_steps: int = 30) -> Solver:
    """Damped Newton's method: solve `H d = -g`, then backtrack along `d` (Armijo).

    For a generalized linear model this is iteratively reweighted least squares. Far
    from the minimum the line search keeps steps safe; near it the unit step is taken
    and convergence is quadratic. Penalties must be twice differentiable (L2: its
    Hessian `strength·I` on the weights is added exactly); for L1 or elastic net use
    `proximal_gradient`. Optimality is the largest absolute gradient entry at the
    incoming params.

    Args:
      max_linesearch_steps: most objective evaluations in one line search.

    Returns:
      A `Solver` (its state is empty).

    Example:
      >>> from jaxfit import models, penalties
      >>> data = jaxfit.data.load_example("breast_cancer")
      >>> X, y = jaxfit.data.standardize(data.X).apply(data.X), data.y
      >>> result = jaxfit.fit(models.logistic(), "binary_cross_entropy", X, y,
      ...                     optimizer=newton(), penalty=penalties.l2(1e-3),
      ...                     steps=50, tol=1e-6)
      >>> bool(result.converged)
      True
    """
    max_linesearch_steps = check_int(max_linesearch_steps, "max_linesearch_steps", minimum=1)

    def init(params):
        del params
        return optax.EmptyState()

    def step(objective: Objective, params, state):
        flat, unravel, f = flat_objective(objective, params)
        value, grad = jax.value_and_grad(f)(flat)
        direction = -solve_psd(jax.hessian(f)(flat), grad)
        slope = jnp.vdot(grad, direction)
        # Rounding can leave the direction slightly uphill on a flat or indefinite
        # Hessian; then the gradient direction is taken instead.
        direction = jnp.where((slope < 0) & jnp.all(jnp.isfinite(direction)), direction, -grad)
        slope = jnp.vdot(grad, direction)
        new_flat, _, _, _ = backtracking(lambda v: (f(v), None), flat, direction, value, slope,
                                         max_steps=max_linesearch_steps)
        return unravel(new_flat), state, value, jnp.max(jnp.abs(grad))

    return Solver(init, step)
