"""L-BFGS: optax's two-loop direction with a line search that vectorizes well."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .._validation import check_choice, check_int
from ._base import Objective, Solver, from_optax, tree_max_abs
from ._linesearch import backtracking, tree_vdot

LINESEARCHES = ("backtracking", "zoom")


class LbfgsState(NamedTuple):
    """State of `lbfgs`: optax's memory, and the value and gradient at the params."""

    direction: optax.ScaleByLBFGSState
    value: jax.Array        # [] objective at the params; NaN before the first step
    grad: Any               # gradient at the params (zeros before the first step)


def _where(pred, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(pred, a, b), new, old)


def lbfgs(memory_size: int = 10, *, linesearch: str = "backtracking",
          max_linesearch_steps: int = 30) -> Solver:
    """Limited-memory BFGS for smooth objectives, one compiled step per iteration.

    The direction is optax's (`optax.scale_by_lbfgs`: two-loop recursion over the last
    `memory_size` steps). The step length comes from:

    - "backtracking" (default): Armijo backtracking from the unit step, at most
      `max_linesearch_steps` trials. An L-BFGS direction is well scaled, so the unit
      step is nearly always accepted, and the value and gradient computed there are
      kept for the next step: one gradient evaluation per step. The first step only
      evaluates the starting point. Under `vmap` (hundreds of configurations in one
      program) the loop has a single branch, so no lane pays for branches it did not
      take. Meant for full-batch fits (the kept gradient is of the last objective).
    - "zoom": `optax.lbfgs` itself, with its strong-Wolfe zoom line search: the careful
      choice for one badly scaled fit, but slow under `vmap`.

    Penalties must be differentiable (L2; for L1 or elastic net use `proximal_gradient`).
    Optimality is the largest absolute gradient entry at the incoming params.

    Args:
      memory_size: number of past steps kept for the inverse-Hessian approximation.
      linesearch: "backtracking" or "zoom".
      max_linesearch_steps: most objective evaluations in one line search.

    Returns:
      A `Solver`.

    Example:
      >>> from jaxfit import models, penalties
      >>> data = jaxfit.data.load_example("breast_cancer")
      >>> X, y = jaxfit.data.standardize(data.X).apply(data.X), data.y
      >>> result = jaxfit.fit(models.logistic(), "binary_cross_entropy", X, y,
      ...                     optimizer=lbfgs(), penalty=penalties.l2(1e-3),
      ...                     steps=200, tol=1e-6)
      >>> bool(result.converged)
      True
    """
    memory_size = check_int(memory_size, "memory_size", minimum=1)
    check_choice(linesearch, "linesearch", LINESEARCHES)
    max_linesearch_steps = check_int(max_linesearch_steps, "max_linesearch_steps", minimum=1)
    if linesearch == "zoom":
        return from_optax(optax.lbfgs(memory_size=memory_size, linesearch=optax.scale_by_zoom_linesearch(
            max_linesearch_steps=max_linesearch_steps, initial_guess_strategy="one")))
    direction = optax.scale_by_lbfgs(memory_size)

    def init(params) -> LbfgsState:
        dtype = jax.tree_util.tree_leaves(params)[0].dtype
        return LbfgsState(direction.init(params), jnp.full((), jnp.nan, dtype),
                          jax.tree_util.tree_map(jnp.zeros_like, params))

    def step(objective: Objective, params, state: LbfgsState):
        ready = ~jnp.isnan(state.value)
        grad = state.grad
        scaled, memory = direction.update(grad, state.direction, params)
        descent = jax.tree_util.tree_map(jnp.negative, scaled)
        slope = tree_vdot(grad, descent)
        # A direction that is not downhill (possible on non-convex objectives, whose
        # curvature pairs the memory does not vet) falls back to a short gradient step.
        uphill = ~(slope < 0)
        norm = jnp.sqrt(tree_vdot(grad, grad))
        scale = jnp.minimum(1.0, 1.0 / jnp.maximum(norm, jnp.finfo(norm.dtype).tiny))
        descent = jax.tree_util.tree_map(
            lambda d, g: jnp.where(uphill, -scale.astype(g.dtype) * g, d), descent, grad)
        slope = jnp.where(uphill, -scale * norm * norm, slope)
        # Before the first evaluation, the "trial" is the starting point itself (t = 0).
        new_params, new_value, new_grad, ok = backtracking(
            jax.value_and_grad(objective.value), params, descent, state.value, slope,
            max_steps=max_linesearch_steps, first_step=jnp.where(ready, 1.0, 0.0))
        memory = _where(ready, memory, state.direction)
        value = jnp.where(ready, state.value, new_value)
        optimality = tree_max_abs(_where(ready, grad, new_grad))
        new_state = LbfgsState(memory, _where(ok, new_value, state.value).astype(state.value.dtype),
                               _where(ok, new_grad, grad))
        return new_params, new_state, value, optimality

    return Solver(init, step)
