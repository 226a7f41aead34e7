"""Nelder–Mead: derivative-free minimisation for non-smooth and black-box objectives.

A simplex of `p + 1` points is reflected, expanded, contracted or shrunk by the values
alone (Nelder & Mead, 1965; the variant of scipy's `minimize(method="Nelder-Mead")`,
with Gao & Han's (2012) dimension-adapted coefficients on request). Each iteration
evaluates two trial points, plus all vertices when the simplex shrinks. It suits a
handful of parameters: a non-differentiable loss, or tuning a few hyperparameters
against a cross-validated score.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .._validation import check_int, check_scalar, float_dtype
from ._base import Objective, Solver


class NelderMeadResult(NamedTuple):
    """What `nelder_mead` returns.

    Attributes:
      x: the best point found, with the structure of `x0`.
      value: `f(x)`.
      n_iter: iterations taken.
      converged: the simplex shrank below `tol` in both values and points.
    """

    x: Any
    value: jax.Array
    n_iter: jax.Array
    converged: jax.Array


class NelderMeadState(NamedTuple):
    """State of `nelder_mead_solver`."""

    simplex: jax.Array      # [p + 1, p] vertices, best first after each step
    values: jax.Array       # [p + 1] objective at the vertices (+inf before the first step)


def _coefficients(p: int, adaptive: bool):
    """(reflection, expansion, contraction, shrink)."""
    if adaptive:
        return 1.0, 1.0 + 2.0 / p, 0.75 - 1.0 / (2.0 * p), 1.0 - 1.0 / p
    return 1.0, 2.0, 0.5, 0.5


def _initial_simplex(x0, initial_step):
    """scipy's: each coordinate moved by 5% (0.00025 where it is zero), or `initial_step`."""
    if initial_step is None:
        moves = jnp.where(x0 != 0, 0.05 * x0, 0.00025)
    else:
        moves = jnp.full_like(x0, initial_step)
    return jnp.concatenate([x0[None], x0[None] + jnp.diag(moves)]).astype(x0.dtype)


def _spread(simplex, values):
    """Largest distance of a vertex from the best, in values and in coordinates."""
    return jnp.maximum(jnp.max(jnp.abs(values[1:] - values[0])), jnp.max(jnp.abs(simplex[1:] - simplex[0])))


def _iterate(f, simplex, values, coefficients):
    """One Nelder–Mead iteration from a simplex sorted by value; returns it sorted."""
    rho, chi, psi, sigma = coefficients
    best, worst = simplex[0], simplex[-1]
    centroid = jnp.mean(simplex[:-1], axis=0)
    reflected = centroid + rho * (centroid - worst)
    f_r = f(reflected)
    expand = f_r < values[0]
    outside = (f_r >= values[-2]) & (f_r < values[-1])
    # The second trial point depends on f_r only: expansion, or one of the contractions.
    coef = jnp.where(expand, rho * chi, jnp.where(outside, psi * rho, -psi))
    second = centroid + coef * (centroid - worst)
    f_s = f(second)
    take_second = jnp.where(expand, f_s < f_r, jnp.where(outside, f_s <= f_r, f_s < values[-1]))
    accept_reflected = (f_r < values[-2]) & ~(expand & take_second)
    accept_second = take_second & ~accept_reflected
    new_vertex = jnp.where(accept_second, second, reflected)
    new_value = jnp.where(accept_second, f_s, f_r)
    shrink = ~(accept_reflected | accept_second) & (f_r >= values[-2])
    simplex = jnp.where(shrink, simplex, simplex.at[-1].set(new_vertex))
    values = jnp.where(shrink, values, values.at[-1].set(new_value))

    def shrunk(args):
        moved = best + sigma * (args[0] - best)
        return moved, jax.vmap(f)(moved)

    simplex, values = jax.lax.cond(shrink, shrunk, lambda args: args, (simplex, values))
    order = jnp.argsort(values)
    return simplex[order], values[order]


def _checked(max_iter, tol, initial_step, p):
    if max_iter is not None:
        check_int(max_iter, "max_iter", minimum=1)
    check_scalar(tol, "tol", minimum=0.0)
    if initial_step is not None:
        check_scalar(initial_step, "initial_step", minimum=0.0, strict_min=True)
    if p == 0:
        raise ValueError("`x0` has no entries; Nelder–Mead needs at least one parameter.")


def nelder_mead(f: Callable[[Any], jax.Array], x0, *, max_iter: int | None = None, tol: float = 1e-6,
                initial_step: float | None = None, adaptive: bool = False,
                restarts: int = 5) -> NelderMeadResult:
    """Minimise `f` without derivatives, inside one `lax.while_loop` (jit- and vmappable).

    A simplex can collapse away from the minimum, most often on non-smooth functions.
    When it has shrunk below `tol` but the best value improved by more than `tol`
    since it was built, a fresh simplex is built around the best point (at most
    `restarts` times); the search ends when a fresh simplex finds nothing better.

    Args:
      f: `f(x) -> scalar`, pure and traceable; it need not be differentiable.
      x0: the starting point, an array or a pytree of arrays.
      max_iter: most iterations (default `200 · number of parameters`, as scipy); a
        restart counts as one.
      tol: stop when every vertex is within `tol` of the best one, both in value and
        in each coordinate (scipy's `xatol = fatol = tol`).
      initial_step: size of the initial simplex along each axis (default: 5% of each
        coordinate, 0.00025 for zeros, as scipy). Set it to the scale on which the
        minimum is expected: a simplex far smaller than that takes many expansions.
      adaptive: dimension-adapted coefficients (Gao & Han), better beyond ~5 parameters.
      restarts: most rebuilds of a collapsed simplex (0: plain Nelder–Mead, as scipy).

    Returns:
      `NelderMeadResult(x, value, n_iter, converged)`.

    Example:
      >>> rosen = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
      >>> nelder_mead(rosen, jnp.array([-1.2, 1.0]), tol=1e-8).x
      Array([1., 1.], dtype=float32)
    """
    if not callable(f):
        raise TypeError(f"`f` must be a callable f(x) -> scalar; got {type(f).__name__}.")
    # Integer leaves (x0 = [1, 1]) are a point in the working float: the simplex moves
    # by fractions.
    x0 = jax.tree_util.tree_map(
        lambda leaf: leaf if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact) else
        jnp.asarray(leaf, float_dtype()), x0)
    flat0, unravel = ravel_pytree(x0)
    _checked(max_iter, tol, initial_step, flat0.size)
    restarts = check_int(restarts, "restarts", minimum=0)
    p = flat0.size
    max_iter = 200 * p if max_iter is None else max_iter
    coefficients = _coefficients(p, adaptive)

    def flat_f(v):
        return f(unravel(v))

    def fresh(best):
        simplex = _initial_simplex(best, initial_step)
        values = jax.vmap(flat_f)(simplex)
        order = jnp.argsort(values)
        return simplex[order], values[order]

    def restartable(carry):
        _, left, simplex, values, anchor = carry
        return (_spread(simplex, values) <= tol) & (left > 0) & (values[0] < anchor - tol)

    def running(carry):
        i, _, simplex, values, _ = carry
        return (i < max_iter) & (~(_spread(simplex, values) <= tol) | restartable(carry))

    def body(carry):
        i, left, simplex, values, anchor = carry

        def restart(_):
            simplex2, values2 = fresh(simplex[0])
            return left - 1, simplex2, values2, values2[0]

        def iterate(_):
            return (left,) + _iterate(flat_f, simplex, values, coefficients) + (anchor,)

        return (i + 1,) + jax.lax.cond(restartable(carry), restart, iterate, None)

    simplex, values = fresh(flat0)
    carry = (jnp.int32(0), jnp.int32(restarts), simplex, values, values[0])
    i, _, simplex, values, _ = jax.lax.while_loop(running, body, carry)
    return NelderMeadResult(unravel(simplex[0]), values[0], i, _spread(simplex, values) <= tol)


def nelder_mead_solver(*, initial_step: float | None = None, adaptive: bool = False) -> Solver:
    """Nelder–Mead as a `Solver`, so `fit` can minimise non-differentiable losses.

    Each `step` is one Nelder–Mead iteration on `smooth + penalty` over all parameters
    (flattened). The initial simplex is built around the params `init` receives and
    evaluated on the first step. Optimality is the simplex spread (as `nelder_mead`'s
    `tol`). Under `vmap` every lane evaluates the whole simplex at every step (the
    branch that does so becomes a `select`), so keep it to few parameters.

    Args:
      initial_step: as in `nelder_mead`.
      adaptive: as in `nelder_mead`.

    Returns:
      A `Solver`.

    Example:
      >>> X = jnp.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
      >>> y = jnp.array([1.0, 3.0, 5.0, 7.0, 30.0])  # y = 2x + 1, but for one outlier
      >>> result = jaxfit.fit(jaxfit.models.linear(), "absolute_error", X, y,
      ...                     optimizer=nelder_mead_solver(), steps=2000, tol=1e-6)
      >>> round(float(result.params["w"][0]), 3), round(float(result.params["b"]), 3)
      (2.0, 1.0)
    """
    if initial_step is not None:
        check_scalar(initial_step, "initial_step", minimum=0.0, strict_min=True)

    def init(params) -> NelderMeadState:
        flat, _ = ravel_pytree(params)
        simplex = _initial_simplex(flat, initial_step)
        return NelderMeadState(simplex, jnp.full(simplex.shape[0], jnp.inf, flat.dtype))

    def step(objective: Objective, params, state: NelderMeadState):
        flat, unravel = ravel_pytree(params)

        def f(v):
            return objective.value(unravel(v)).astype(flat.dtype)

        # Values are +inf until the first step evaluates the simplex. Vertex 0 is the
        # incoming params: the initial point first, then the best vertex, kept first.
        fresh = ~jnp.isfinite(state.values[0])
        values = jax.lax.cond(fresh, lambda s: jax.vmap(f)(s.simplex), lambda s: s.values, state)
        value = values[0]
        order = jnp.argsort(values)
        simplex, values = _iterate(f, state.simplex[order], values[order], _coefficients(flat.size, adaptive))
        return unravel(simplex[0]), NelderMeadState(simplex, values), value, _spread(simplex, values)

    return Solver(init, step)
