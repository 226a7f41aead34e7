"""Regularization paths: one fit per penalty strength, each warm-started from the last."""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _compile, _loops, _programs
from .._validation import (as_array, check_int, check_key, check_length, check_scalar, is_traced,
                           optional_weights, weights_or_ones)
from ..losses import get_loss
from ..models import Model
from ..penalties import Penalty
from ._base import Objective, as_solver, tree_all_finite
from ._gram import (centred, elastic_net_parts, gram_form, is_least_squares, is_linear_form, largest_eigenvalue,
                    linear_gram, relative_duality_gap, weighted_gram)
from ._proximal import proximal_gradient

# Beyond this many weights the Gram matrix (p² entries) costs more than the data.
_GRAM_MAX_PARAMS = 4096


@_programs.serializable
class PathResult(NamedTuple):
    """What `regularization_path` returns; leading axis: the strengths.

    Attributes:
      params: the fitted params at each strength, leaves stacked `[S, ...]`.
      n_steps: `[S]` solver steps taken at each strength.
      converged: `[S]` the stopping criterion was met.
      diverged: `[S]` the objective or params became non-finite; that strength kept
        its last finite params, and the next starts from them.
    """

    params: Any
    n_steps: jax.Array
    converged: jax.Array
    diverged: jax.Array


def regularization_path(model: Model, loss: Callable | str, X, y, *, penalty: Callable[[Any], Penalty],
                        strengths, solver=None, steps: int = 1000, tol: float = 1e-4,
                        sample_weight=None, params=None, gram: bool | None = None) -> PathResult:
    """Fit along decreasing penalty strengths, warm-starting each from the previous.

    The shape of scikit-learn's `lasso_path` / `enet_path` and glmnet, for any model,
    loss and solver, compiled once: the strengths run in `lax.scan`, each fit in
    `lax.while_loop`. A fold is a 0/1 `sample_weight`, so the folds' training masks as
    a `[k, n]` `sample_weight` (or `vmap` over them) give the cross-validated path
    (`LassoCV`) as one program.

    In the Gram form (a jaxfit linear model with squared error, chosen automatically)
    the weighted Gram matrix is formed once and every step costs O(p²), not O(n·p);
    the intercept is solved exactly, the step size of `proximal_gradient` is 1/L from
    the Gram matrix, and an L1 or elastic-net path stops on scikit-learn's criterion:
    the duality gap relative to the centred `||y||²` falls to `tol`. Otherwise a fit
    stops when the solver's optimality measure falls to `tol`.

    Args:
      model: a `Model`, e.g. `models.linear()`.
      loss: a per-sample loss or its name in `jaxfit.losses`.
      X: `[n, d]` features.
      y: `[n]` targets.
      penalty: `strength -> Penalty`, e.g. `penalties.l1` or
        `lambda s: penalties.elastic_net(s, 0.5)`; called on traced strengths.
      strengths: `[S]` non-increasing penalty strengths (see `strength_grid`).
      solver: a jaxfit `Solver` or optax transform (default `proximal_gradient()`; in
        the Gram form, the same method with one product by the Gram matrix per step).
      steps: most solver steps per strength.
      tol: stopping tolerance (relative duality gap, or solver optimality; see above).
      sample_weight: `[n]` non-negative weights, e.g. a fold's training mask; or `[k, n]`,
        one row per path, such as `folds.train`: `k` paths on the same data, returned
        with a leading `[k]` axis. Given concrete, in the Gram form of a linear model each
        path's Gram matrix is that of the largest weights minus the rows its weights
        lack: a pass over the data and one over the rows left out, not a pass per path.
      params: starting params for the first strength (default `model.init`).
      gram: use the Gram form (`True` asserts the loss is quadratic in the params);
        `None` uses it for a jaxfit linear model with squared error and at most 4096
        weights.

    Returns:
      `PathResult(params, n_steps, converged, diverged)`, each with a leading `[S]` axis
      (`[k, S]` for `[k, n]` weights).

    Example:
      >>> from jaxfit import model_selection, models, penalties
      >>> data = jaxfit.data.load_example("diabetes")
      >>> X, y = jaxfit.data.standardize(data.X).apply(data.X), data.y
      >>> strengths = strength_grid(X, y, num=30)
      >>> folds = model_selection.kfold(len(y), 5)
      >>> paths = regularization_path(models.linear(), "squared_error", X, y,
      ...                             penalty=penalties.l1, strengths=strengths,
      ...                             sample_weight=folds.train)
      >>> paths.params["w"].shape  # folds x strengths x features
      (5, 30, 10)
    """
    if not isinstance(model, Model):
        raise TypeError(f"`model` must be a jaxfit.models.Model such as models.linear(); got {type(model).__name__}.")
    loss = get_loss(loss)
    if not callable(penalty) or isinstance(penalty, Penalty):
        raise TypeError("`penalty` must be a function strength -> Penalty, such as penalties.l1 or "
                        f"lambda s: penalties.elastic_net(s, 0.5); got {type(penalty).__name__}.")
    if solver is not None:
        solver = as_solver(solver, "solver")
    X = as_array(X, "X", ndim=2)
    kind = np.dtype(y.dtype).kind if hasattr(y, "dtype") else np.asarray(y).dtype.kind
    y = as_array(y, "y", ndim=(1, 2), dtype="float" if kind == "f" else "int")
    n = X.shape[0]
    check_length(n, y, "y")
    strengths = as_array(strengths, "strengths", ndim=1)
    if not is_traced(strengths):
        values = np.asarray(strengths)
        if (values < 0).any() or (np.diff(values) > 0).any():
            raise ValueError(f"`strengths` must be non-negative and non-increasing (warm starts go from the "
                             f"sparsest fit to the densest); got {values[:5].tolist()}... Sort them with "
                             f"jnp.sort(strengths)[::-1].")
    steps = check_int(steps, "steps", minimum=1)
    check_scalar(tol, "tol", minimum=0.0)
    if is_traced(tol):
        raise TypeError("`tol` must be a Python float (it selects the stopping rule); got a traced value.")
    # Defaults are made in the compiled program (see `_validation.weights_or_ones`);
    # here only the default start's shapes.
    batch = sample_weight is not None and np.ndim(sample_weight) == 2
    weight = _weight_batch(sample_weight, n).astype(X.dtype) if batch else optional_weights(sample_weight, X)
    key = check_key(None) if params is None else None
    shapes = jax.eval_shape(lambda k: model.init(k, X.shape[1]), key) if params is None else params
    if gram is None:
        n_weights = sum(math.prod(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(shapes))
        gram = is_least_squares(model, loss) and n_weights <= _GRAM_MAX_PARAMS
    elif not isinstance(gram, bool):
        raise TypeError(f"`gram` must be True, False or None (automatic); got {gram!r}.")
    try:
        penalties = _batched_penalties(penalty, strengths.astype(X.dtype))
    except Exception as err:
        raise TypeError(f"`penalty` must map a traced strength to a Penalty (e.g. penalties.l1); calling it "
                        f"failed: {err}") from None
    if not isinstance(penalties, Penalty):
        raise TypeError(f"`penalty` must return a jaxfit.penalties Penalty; got {type(penalties).__name__}.")
    tol = float(tol)
    if not batch:
        return _path(model, loss, solver, steps, tol, gram, X, y, weight, params, key, penalties)
    removal = None
    if gram and is_linear_form(model, loss, shapes) and not is_traced(weight):
        removal = _removed_rows(np.asarray(weight))
    if removal is None:
        return jax.vmap(lambda w: _path(model, loss, solver, steps, tol, gram, X, y, w, params, key,
                                        penalties))(weight)
    return _downdated_paths(model, solver, steps, tol, X, y, weight, *removal, params, key, penalties)


def _batched_penalties(penalty, strengths) -> Penalty:
    """`jax.vmap(penalty)(strengths)`. Run eagerly, that is two one-operation programs
    (the constant l1_ratio, broadcast over the strengths), 65 ms to compile in a fresh
    process; jaxfit's own penalties get one program (36 ms). A user's function stays
    eager: a `jit` keyed on it would compile again for every new lambda."""
    try:
        _programs.describe(penalty)
    except _programs.Unstable:
        return jax.vmap(penalty)(strengths)
    return _vmapped(penalty, strengths)


@_compile.jit(static_argnums=0)
def _vmapped(penalty, strengths):
    return jax.vmap(penalty)(strengths)


def _weight_batch(sample_weight, n: int):
    """A checked `[k, n]` batch of sample weights."""
    weights = as_array(sample_weight, "sample_weight", ndim=2)
    if weights.shape[1] != n:
        raise ValueError(f"`sample_weight` of shape [k, n] (one row of weights per path, such as "
                         f"folds.train) must have n = {n} columns, one per row of X; got shape "
                         f"{tuple(weights.shape)}.")
    if not is_traced(weights):
        values = np.asarray(weights)
        if (values < 0).any():
            raise ValueError(f"`sample_weight` must be non-negative; got a minimum of {values.min()}.")
        if not (values > 0).any(axis=1).all():
            empty = int(np.flatnonzero(~(values > 0).any(axis=1))[0])
            raise ValueError(f"`sample_weight[{empty}]` is zero everywhere; every path needs at least "
                             f"one sample with weight.")
    return weights


def _removed_rows(weights: np.ndarray):
    """`(rows, removed)`, both `[k, m]`: the rows where each weight vector falls short
    of the largest weights `weights.max(0)`, and by how much (padded with zeros); or
    None when removing them from one Gram matrix costs as much as a Gram per path, or
    when a path lacks most rows (its Gram would be a small difference of large ones)."""
    k, n = weights.shape
    short = weights.max(axis=0) - weights
    width = max(int((short > 0).sum(axis=1).max()), 1)
    if 2 * width > n or n + k * width >= k * n:
        return None
    rows, removed = np.zeros((k, width), np.int32), np.zeros((k, width), weights.dtype)
    for j in range(k):
        where = np.flatnonzero(short[j] > 0)
        rows[j, :where.size], removed[j, :where.size] = where, short[j, where]
    return rows, removed


@_compile.jit(static_argnums=(0, 1, 2, 3, 4, 5), persist=True)
def _path(model, loss, solver, steps, tol, gram, X, y, weight, params, key, penalties) -> PathResult:
    weight = weights_or_ones(weight, X.shape[0], X.dtype)
    params = model.init(key, X.shape[1]) if params is None else params
    if gram:
        return _gram_path(gram_form(model, loss, X, y, weight, params), solver, steps, tol, penalties)

    def smooth(p):
        return jnp.sum(weight * loss(model.apply(p, X), y)) / jnp.sum(weight)

    return _solve_path(Objective(smooth, None), None, params, lambda p: p, solver or proximal_gradient(),
                       steps, tol, penalties)


@_compile.jit(static_argnums=(0, 1, 2, 3), persist=True)
def _downdated_paths(model, solver, steps, tol, X, y, weights, rows, removed, params, key,
                     penalties) -> PathResult:
    """Paths for a batch of weights `[k, n]` of a linear least-squares problem, each
    fold's Gram matrix the Gram of `weights.max(0)` minus that of the `rows` it lacks."""
    params = model.init(key, X.shape[1]) if params is None else params
    features, _ = centred(X)
    full = weighted_gram(features, jnp.max(weights, axis=0))

    def one(weight, rows, removed):
        raw = full - weighted_gram(features[rows], removed)
        return _gram_path(linear_gram(X, y, weight, params, raw), solver, steps, tol, penalties)

    return jax.vmap(one)(weights, rows, removed)


def _gram_path(form, solver, steps: int, tol: float, penalties) -> PathResult:
    quadratic, start, recover = form
    lipschitz = largest_eigenvalue(quadratic.hessian)
    if solver is not None:
        return _solve_path(Objective(quadratic, None, lipschitz), quadratic, start, recover, solver,
                           steps, tol, penalties)

    def fista(warm, penalty):
        v, result = _quadratic_fista(quadratic, penalty, lipschitz, steps, tol, warm["w"])
        return {"w": v}, result._replace(params=recover({"w": v}))

    return jax.lax.scan(fista, start, penalties)[1]


def _solve_path(objective: Objective, quadratic, start, recover, solver, steps: int, tol: float,
                penalties) -> PathResult:
    """`solver` along the strengths; `objective.penalty` is replaced by each in turn.
    With a `quadratic`, an L1 / elastic-net fit stops on the relative duality gap."""
    dtype = jax.tree_util.tree_leaves(start)[0].dtype

    def solve(warm, penalty):
        parts = elastic_net_parts(penalty) if quadratic is not None else None

        def criterion(p, optimality):
            if parts is None:
                return optimality
            return jnp.where(parts[0] > 0, relative_duality_gap(quadratic, p["w"], *parts), optimality)

        def body(carry):
            k, p, state, _, _ = carry
            new_p, new_state, value, optimality = solver.step(objective._replace(penalty=penalty), p, state)
            ok = jnp.isfinite(value) & tree_all_finite(new_p)
            keep = functools.partial(jax.tree_util.tree_map, lambda a, b: jnp.where(ok, a, b))
            crit = jnp.where(ok, criterion(new_p, optimality), jnp.inf).astype(dtype)
            return k + 1, keep(new_p, p), keep(new_state, state), crit, ~ok

        def running(carry):
            k, _, _, crit, diverged = carry
            return (k < steps) & ~(crit <= tol) & ~diverged

        init = (jnp.int32(0), warm, solver.init(warm), jnp.array(jnp.inf, dtype), jnp.bool_(False))
        k, p, _, crit, diverged = _loops.while_loop(running, body, init)
        return p, PathResult(recover(p), k, crit <= tol, diverged)

    return jax.lax.scan(solve, start, penalties)[1]


def _quadratic_fista(quadratic, penalty: Penalty, lipschitz, steps: int, tol: float, v):
    """`proximal_gradient()`'s FISTA with adaptive restart and step 1/L, specialised to a
    `Quadratic`: one product with the Hessian per step, not two.

    The gradient is needed at the extrapolated point `y = x + β(x - x_prev)`, the value
    and the duality gap at the new `x`; since `H y = H x + β(H x - H x_prev)`, carrying
    `H x` makes `H x_new` the only product (a d×d mat-vec, most of a step's cost).
    Returns the last `v` and a `PathResult` row (its params are the caller's to fill).
    """
    hessian, linear, constant = quadratic
    dtype = v.dtype
    eta = (1 / lipschitz).astype(dtype)
    parts = elastic_net_parts(penalty)

    def body(carry):
        k, x, hx, y, hy, t, _, _ = carry
        new = penalty.prox({"w": y - eta * (hy + linear)}, eta)["w"]
        h_new = hessian @ new
        value = 0.5 * new @ h_new + linear @ new + constant + penalty.value({"w": new}).astype(dtype)
        ok = jnp.isfinite(value) & jnp.all(jnp.isfinite(new))
        optimality = jnp.max(jnp.abs(y - new)) / eta
        if parts is not None:
            gap = relative_duality_gap(quadratic, new, *parts, hv=h_new)
            optimality = jnp.where(parts[0] > 0, gap, optimality)
        # Restart when the gradient-mapping step points against the momentum.
        restart = jnp.dot(y - new, new - x) > 0
        t = jnp.where(restart, 1.0, t)
        t_next = (1 + jnp.sqrt(1 + 4 * t * t)) / 2
        beta = jnp.where(restart, 0.0, (t - 1) / t_next).astype(dtype)
        keep = lambda a, b: jnp.where(ok, a, b)
        return (k + 1, keep(new, x), keep(h_new, hx), keep(new + beta * (new - x), y),
                keep(h_new + beta * (h_new - hx), hy), keep(t_next, t).astype(dtype),
                jnp.where(ok, optimality, jnp.inf).astype(dtype), ~ok)

    def running(carry):
        k, *_, crit, diverged = carry
        return (k < steps) & ~(crit <= tol) & ~diverged

    hv = hessian @ v
    init = (jnp.int32(0), v, hv, v, hv, jnp.ones((), dtype), jnp.array(jnp.inf, dtype), jnp.bool_(False))
    k, v, *_, crit, diverged = _loops.while_loop(running, body, init)
    return v, PathResult(None, k, crit <= tol, diverged)


def strength_grid(X, y, *, num: int = 100, eps: float = 1e-3, l1_ratio: float = 1.0,
                  sample_weight=None) -> jax.Array:
    """Decreasing L1 / elastic-net strengths for least squares, as glmnet and scikit-learn.

    The largest is the smallest strength at which every weight is zero (with an
    intercept); the grid runs geometrically down to `eps` times it. In jaxfit's scaling
    (`squared_error + l1(s)`), so it is twice scikit-learn's `alphas` grid of
    `LassoCV(alphas=num)` / `ElasticNetCV`.

    Args:
      X: `[n, d]` features.
      y: `[n]` targets.
      num: number of strengths.
      eps: ratio of the smallest to the largest.
      l1_ratio: the elastic net's L1 share, in (0, 1].
      sample_weight: `[n]` non-negative weights.

    Returns:
      `[num]` strengths, largest first.
    """
    X = as_array(X, "X", ndim=2)
    y = as_array(y, "y", ndim=1)
    check_length(X.shape[0], y, "y")
    num = check_int(num, "num", minimum=1)
    check_scalar(eps, "eps", minimum=0.0, maximum=1.0, strict_min=True)
    check_scalar(l1_ratio, "l1_ratio", minimum=0.0, maximum=1.0, strict_min=True)
    weight = optional_weights(sample_weight, X)
    return _strength_grid(X, y.astype(X.dtype), weight, num, eps, l1_ratio)


@_compile.jit(static_argnums=(3,), persist=True)
def _strength_grid(X, y, weight, num, eps, l1_ratio):
    weight = weights_or_ones(weight, X.shape[0], X.dtype)
    total = jnp.sum(weight)
    centred = y - weight @ y / total
    largest = 2 * jnp.max(jnp.abs((X - weight @ X / total).T @ (weight * centred))) / total / l1_ratio
    return jnp.exp(jnp.linspace(jnp.log(largest), jnp.log(largest * eps), num)).astype(X.dtype)
