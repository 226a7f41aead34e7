"""Proximal methods: FISTA with backtracking, and any optax transform made proximal.

Both keep the penalty apart from the smooth loss and apply `penalty.prox` after each
gradient step, so an L1 or elastic-net penalty gives exact zeros, which a gradient step
on `loss + penalty` never does. Optimality is the gradient-mapping norm
`max |x - prox(x - η·∇f(x), η)| / η`, zero exactly at a minimum of `f + penalty`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .._validation import check_int, check_scalar
from ._base import Objective, Solver, tree_max_abs
from ._linesearch import tree_vdot


class ProximalGradientState(NamedTuple):
    """State of `proximal_gradient` (FISTA)."""

    extrapolated: Any       # y_k: where the next gradient is taken (params on the first step)
    momentum: jax.Array     # [] t_k of FISTA; reset to 1 on restart
    step_size: jax.Array    # [] η, non-increasing under backtracking
    value: jax.Array        # [] objective at the params returned by the last step
    count: jax.Array        # [] int32, steps taken


def _leaf_dtype(tree):
    return jax.tree_util.tree_leaves(tree)[0].dtype


def _coarsest_eps(tree):
    """The rounding unit of the least precise leaf: with float32 weights and a float64
    intercept (x64) the objective is only as exact as float32."""
    return max(jnp.finfo(leaf.dtype).eps for leaf in jax.tree_util.tree_leaves(tree))


def _sub(a, b):
    return jax.tree_util.tree_map(jnp.subtract, a, b)


def _mapping_norm(start, end, eta):
    """The gradient-mapping norm `max |start - end| / η` of a proximal step, never below
    what rounding resolves: half an ulp of the largest entry, over η. When η·|gradient|
    falls under that (float32, ill-conditioned data), the step changes nothing and the
    difference reads 0 at a point that is no minimum, which was reported as converged."""
    resolution = tree_max_abs(jax.tree_util.tree_map(lambda x: jnp.finfo(x.dtype).eps / 2 * x, start))
    return jnp.maximum(tree_max_abs(_sub(start, end)), resolution) / eta


def _gradient_step(params, grad, eta):
    return jax.tree_util.tree_map(lambda p, g: (p - eta.astype(p.dtype) * g).astype(p.dtype), params, grad)


def proximal_gradient(step_size=None, *, acceleration: bool = True, max_backtracking: int = 60,
                      shrink: float = 0.5) -> Solver:
    """Proximal gradient descent; FISTA when accelerated (Beck & Teboulle, 2009).

    Each step takes a gradient step on the smooth loss from the extrapolated point and
    applies the penalty's prox. With acceleration, the momentum is reset whenever the
    step turns against it (adaptive restart, O'Donoghue & Candès, 2015), which keeps
    FISTA's rate on ill-conditioned problems and gives linear convergence on strongly
    convex ones.

    The step size is, in order: `step_size` when given (it should not exceed 1/L, L the
    Lipschitz constant of the smooth gradient); `1/objective.lipschitz` when the caller
    knows L (`regularization_path` does); else found by backtracking, starting from 1
    and halving until the quadratic upper bound holds, then kept for later steps.

    Args:
      step_size: fixed step size η (a float or traced scalar), or `None`.
      acceleration: FISTA momentum with adaptive restart; `False` gives ISTA.
      max_backtracking: most halvings of η in one step.
      shrink: factor applied to η when the bound fails.

    Returns:
      A `Solver`; `step` returns the objective at the incoming params and the
      gradient-mapping norm at the point where the gradient was taken.

    Example:
      >>> X = jax.random.normal(jax.random.key(0), (50, 3))
      >>> y = 3 * X[:, 0]  # only the first feature matters
      >>> result = jaxfit.fit(jaxfit.models.linear(), "squared_error", X, y,
      ...                     optimizer=proximal_gradient(), penalty=jaxfit.penalties.l1(0.1),
      ...                     steps=1000, tol=1e-6)
      >>> result.params["w"] == 0  # the lasso's zeros are exact
      Array([False,  True,  True], dtype=bool)
    """
    if step_size is not None:
        check_scalar(step_size, "step_size", minimum=0.0, strict_min=True)
    max_backtracking = check_int(max_backtracking, "max_backtracking", minimum=0)
    check_scalar(shrink, "shrink", minimum=0.0, maximum=1.0, strict_min=True)

    def init(params) -> ProximalGradientState:
        dtype = _leaf_dtype(params)
        return ProximalGradientState(params, jnp.ones((), dtype), jnp.ones((), dtype),
                                     jnp.full((), jnp.nan, dtype), jnp.int32(0))

    def step(objective: Objective, params, state: ProximalGradientState):
        dtype = _leaf_dtype(params)
        y = state.extrapolated
        f_y, grad = jax.value_and_grad(objective.smooth)(y)

        def candidate(eta):
            x = objective.penalty.prox(_gradient_step(y, grad, eta), eta)
            diff = _sub(x, y)
            bound = f_y + tree_vdot(grad, diff) + tree_vdot(diff, diff) / (2 * eta)
            return x, objective.smooth(x), bound

        def penalty_value(p):
            return objective.penalty.value(p).astype(f_y.dtype)

        value_y = f_y + penalty_value(y)
        if step_size is not None or objective.lipschitz is not None:
            fixed = step_size if step_size is not None else 1.0 / objective.lipschitz
            eta = jnp.asarray(fixed).astype(dtype)
            x, f_x, _ = candidate(eta)
        else:
            # Rounding slack: near the minimum f(x) and its bound agree to rounding, and
            # without it η would be halved at every step there. Relative to the whole
            # objective, whose decrease is what counts: relative to a smooth part far
            # below it (a near-exact fit under an L1 penalty), the slack was under f's
            # rounding, η fell at every step and the fit stalled short of `tol`.
            slack = 16 * _coarsest_eps(y) * jnp.abs(value_y)

            def too_long(carry):
                i, _, _, f_x, bound = carry
                return (i == 0) | (~(f_x <= bound + slack) & (i <= max_backtracking))

            def shorten(carry):
                i, eta, _, _, _ = carry
                eta = jnp.where(i == 0, eta, eta * shrink)
                return (i + 1, eta) + candidate(eta)

            inf = jnp.full((), jnp.inf, jnp.result_type(f_y))
            _, eta, x, f_x, _ = jax.lax.while_loop(
                too_long, shorten, (jnp.int32(0), state.step_size, y, inf, inf))

        value_x = f_x + penalty_value(x)
        # On the first step y is the incoming params; later the previous step's value is.
        value = jnp.where(state.count == 0, value_y, state.value.astype(f_y.dtype))
        optimality = _mapping_norm(y, x, eta)
        if acceleration:
            # Restart when the gradient-mapping step points against the momentum.
            restart = tree_vdot(_sub(y, x), _sub(x, params)) > 0
            t = jnp.where(restart, jnp.ones_like(state.momentum), state.momentum)
            t_next = (1 + jnp.sqrt(1 + 4 * t * t)) / 2
            beta = jnp.where(restart, 0.0, (t - 1) / t_next).astype(dtype)
            # In each leaf's dtype: params may mix precisions (float32 weights, a float64
            # intercept under x64), and a promoted leaf broke the loop's carry.
            y_next = jax.tree_util.tree_map(lambda a, b: a + beta.astype(a.dtype) * (a - b), x, params)
        else:
            t_next, y_next = state.momentum, x
        new_state = ProximalGradientState(y_next, t_next.astype(dtype), eta,
                                          value_x.astype(state.value.dtype), state.count + 1)
        return x, new_state, value, optimality

    return Solver(init, step)


class ProximalState(NamedTuple):
    """State of `proximal`: the wrapped transform's state and a step count."""

    inner: Any
    count: jax.Array        # [] int32, for a learning-rate schedule


def proximal(optimizer: optax.GradientTransformation, *,
             learning_rate: float | Callable[[jax.Array], jax.Array]) -> Solver:
    """Make an optax transform proximal: its update on the smooth gradient, then prox.

    Proximal SGD, proximal Adam and the like: the transform sees only the gradient of
    the smooth loss, its update is applied, and the penalty's prox is taken with step
    `learning_rate`. The learning rate cannot be read back out of an optax transform, so
    pass the one the transform was built with: `proximal(optax.adam(lr),
    learning_rate=lr)`. For adaptive transforms (Adam, RMSProp) this is the usual
    approximation that treats the per-coordinate scaling as the identity in the prox.

    Args:
      optimizer: any optax `GradientTransformation`, schedules and chains included.
      learning_rate: the transform's learning rate: a float, a traced scalar, or an
        optax schedule `count -> rate`.

    Returns:
      A `Solver`, usable by `fit` with mini-batches; its optimality is the
      gradient-mapping norm with step `learning_rate`.
    """
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"`optimizer` must be an optax GradientTransformation such as "
                        f"optax.sgd(0.1); got {type(optimizer).__name__}.")
    if not callable(learning_rate):
        check_scalar(learning_rate, "learning_rate", minimum=0.0, strict_min=True)

    def init(params) -> ProximalState:
        return ProximalState(optimizer.init(params), jnp.int32(0))

    def step(objective: Objective, params, state: ProximalState):
        dtype = _leaf_dtype(params)
        f, grad = jax.value_and_grad(objective.smooth)(params)
        updates, inner = optimizer.update(grad, state.inner, params)
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        lr = jnp.asarray(lr).astype(dtype)
        new_params = objective.penalty.prox(optax.apply_updates(params, updates), lr)
        mapped = objective.penalty.prox(_gradient_step(params, grad, lr), lr)
        optimality = _mapping_norm(params, mapped, lr)
        value = f + objective.penalty.value(params).astype(f.dtype)
        return new_params, ProximalState(inner, state.count + 1), value, optimality

    return Solver(init, step)
