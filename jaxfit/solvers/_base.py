"""One interface for every solver: `Solver(init, step)`, driven by `jaxfit.fit`.

An optax `GradientTransformation` is wrapped into a `Solver` by `as_solver`, so any
optax optimizer, schedule or chain (clipping included) is accepted wherever a jaxfit
solver is. The proximal, L-BFGS, Newton and closed-form solvers implement the same pair.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ..penalties import Penalty


class Objective(NamedTuple):
    """What a solver minimises in one step: `smooth(params) + penalty.value(params)`.

    `smooth` is the weighted mean loss on the current (mini-)batch. Solvers that can use
    `penalty.prox` (proximal methods) keep the penalty apart; the others add its value.

    Attributes:
      smooth: `smooth(params) -> scalar`, differentiable.
      penalty: the `Penalty` added to it.
      lipschitz: optional upper bound on the Lipschitz constant of `grad(smooth)`, when
        the caller knows one (`regularization_path` does in its Gram form); proximal
        gradient then steps `1/lipschitz` without a line search. `None`: unknown.
    """

    smooth: Callable[[Any], jax.Array]
    penalty: Penalty
    lipschitz: Any = None

    def value(self, params):
        smooth = self.smooth(params)
        # Strengths are float64 under x64 even for float32 data: keep the data's precision.
        return smooth + self.penalty.value(params).astype(smooth.dtype)


class Solver(NamedTuple):
    """A minimiser as a pair of pure functions.

    Attributes:
      init: `init(params) -> state`.
      step: `step(objective, params, state) -> (params, state, value, optimality)`, where
        `value` is the objective at the incoming params and `optimality` a non-negative
        measure that is zero at a minimum (largest gradient entry, or gradient-mapping
        norm for proximal steps); `fit` stops when it falls to `tol`.
    """

    init: Callable
    step: Callable


def tree_max_abs(tree) -> jax.Array:
    """Largest absolute entry over all leaves."""
    return jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree_util.tree_leaves(tree)]))


def tree_all_finite(tree) -> jax.Array:
    """True when every entry of every leaf is finite."""
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def from_optax(optimizer: optax.GradientTransformation | optax.MultiSteps) -> Solver:
    """Wrap an optax transform: one gradient step on `smooth + penalty` per call.

    The extra arguments optax's L-BFGS and line searches need (`value`, `grad`,
    `value_fn`) are passed to every transform that takes them.
    `optax.MultiSteps` (gradient accumulation) is taken as its `gradient_transformation()`.
    The same transform gives the same `Solver` (a small cache), so `fit`, which
    compiles once per solver, does not recompile when called again with it.
    """
    try:
        return _cached_from_optax(optimizer)
    except TypeError:  # an unhashable transform: wrap it afresh
        return _from_optax(optimizer)


def _from_optax(optimizer: optax.GradientTransformation | optax.MultiSteps) -> Solver:
    if isinstance(optimizer, optax.MultiSteps):
        optimizer = optimizer.gradient_transformation()
    tx = optax.with_extra_args_support(optimizer)
    accepted = _extra_args(tx.update)

    def step(objective: Objective, params, state):
        value, grad = jax.value_and_grad(objective.value)(params)
        extra = dict(value=value, grad=grad, value_fn=objective.value)
        updates, state = tx.update(grad, state, params, **{name: extra[name] for name in accepted})
        return optax.apply_updates(params, updates), state, value, tree_max_abs(grad)

    return Solver(tx.init, step)


def _extra_args(update) -> tuple[str, ...]:
    """The extra arguments `update` takes: all of them with `**kwargs`, else those it
    names. Some transforms are declared to take extra arguments but take only their
    own (`optax.contrib.sam`'s `grad_fn`), and fail on the others."""
    names = ("value", "grad", "value_fn")
    try:
        parameters = inspect.signature(update).parameters.values()
    except (TypeError, ValueError):  # no signature to read: pass them all, as optax does
        return names
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return names
    return tuple(name for name in names if name in {p.name for p in parameters})


# Bounded: a transform built on traced hyperparameters (inside vmap) is never reused.
_cached_from_optax = functools.lru_cache(maxsize=32)(_from_optax)


def as_solver(optimizer: Any, name: str = "optimizer") -> Solver:
    """Accept a jaxfit `Solver` or any optax `GradientTransformation` (or `MultiSteps`)."""
    if isinstance(optimizer, Solver):
        return optimizer
    if isinstance(optimizer, (optax.GradientTransformation, optax.MultiSteps)):
        return from_optax(optimizer)
    raise TypeError(
        f"`{name}` must be an optax GradientTransformation (e.g. optax.adam(1e-3)) or a "
        f"jaxfit.solvers Solver; got {type(optimizer).__name__}.")
