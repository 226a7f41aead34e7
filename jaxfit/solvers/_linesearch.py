"""Backtracking line search with a bounded number of trials, for L-BFGS and Newton.

A line search written as a data-dependent state machine (optax's zoom) turns every
branch into a `select` under `vmap`, so each lane pays for every branch of every lane.
Plain Armijo backtracking has one branch: the loop runs while some lane still needs a
shorter step, which for quasi-Newton and Newton directions is almost always never.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def tree_vdot(a, b) -> jax.Array:
    """Sum of elementwise products over all leaves."""
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def tree_axpy(t, direction, params):
    """`params + t · direction`, leafwise, keeping each leaf's dtype."""
    return jax.tree_util.tree_map(lambda d, p: (p + t.astype(p.dtype) * d).astype(p.dtype), direction, params)


def backtracking(evaluate, params, direction, value, slope, *, max_steps: int, first_step=1.0,
                 shrink: float = 0.5, c1: float = 1e-4):
    """Largest step `t ∈ {first_step, first_step·shrink, …}` with sufficient decrease.

    Accepts `t` when `f(params + t·direction) <= value + c1·t·slope` (Armijo, up to a
    few rounding units of `value`); a non-finite trial value is a failure, so a step
    into overflow is shortened, not taken. A NaN `value` (nothing to compare with yet)
    accepts the first finite trial.

    Args:
      evaluate: `evaluate(params) -> (value, aux)`; `aux` (e.g. the gradient) is
        returned for the accepted point, so a caller can reuse it.
      params: the current point (a pytree).
      direction: a descent direction, same structure as `params`.
      value: the objective at `params`, or NaN.
      slope: `<gradient, direction>`, negative for a descent direction.
      max_steps: most trials (a static bound: under `vmap` no lane loops forever).
      first_step: the first trial step (a scalar, may be traced).
      shrink: factor by which a rejected step is shortened.
      c1: sufficient-decrease constant.

    Returns:
      `(new_params, new_value, aux, accepted)`; when no trial is accepted the point
      does not move and `new_value`, `aux` are those of the last trial.
    """
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    # Rounding slack: at a minimum no step decreases the value beyond rounding, and
    # without slack the search would use all its trials there; under vmap, every
    # lane would pay for each converged lane at every step.
    slack = 16 * jnp.finfo(dtype).eps * jnp.abs(value)

    def accepted(t, trial_value):
        decrease = trial_value <= value + c1 * t * slope + slack
        return jnp.isfinite(trial_value) & (decrease | jnp.isnan(value))

    def cond(carry):
        i, t, trial_value, _ = carry
        return ~accepted(t, trial_value) & (i < max_steps)

    def body(carry):
        i, t, _, _ = carry
        t = t * shrink
        return (i + 1, t) + tuple(evaluate(tree_axpy(t, direction, params)))

    # The first trial is taken outside the loop: it is nearly always accepted, and then
    # the loop costs one test instead of a round trip through its body.
    t = jnp.asarray(first_step).astype(dtype)
    first = tuple(evaluate(tree_axpy(t, direction, params)))
    _, t, trial_value, aux = jax.lax.while_loop(cond, body, (jnp.int32(1), t) + first)
    ok = accepted(t, trial_value)
    t = jnp.where(ok, t, jnp.zeros_like(t))
    return tree_axpy(t, direction, params), trial_value, aux, ok
