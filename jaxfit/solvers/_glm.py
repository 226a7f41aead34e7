"""`bound_cg`: a data-aware solver for linear models with a smooth loss and an L2 penalty.

The losses it accepts have bounded curvature: at most 1/4 for binary cross-entropy,
2 for squared error, 1 for Huber. So `B = c·X̃ᵀWX̃/m + λP` (X̃ is X with an intercept
column, W the sample weights, m their sum, P the penalised coordinates) bounds the
Hessian of the objective everywhere. `B` is factored once per fit, and the fit runs
nonlinear conjugate gradients (Polak-Ribière+) preconditioned by `B⁻¹`:

- each iteration is two matrix products with X (`X d` for the direction, `Xᵀr` for the
  gradient); under `vmap` over configurations that share the data, both become one wide
  matrix-matrix product over all of them, and the Gram `X̃ᵀWX̃` is computed once per
  distinct weight vector (once per fold in a search);
- the step length is one Newton step along the direction, from the exact curvature
  at the current point (exact for squared error), which needs no further product,
  since `X(β + t·d) = z + t·u`. If that step raises the objective, the step from the
  bound `B` is taken instead, which is guaranteed to lower it (majorization): every
  iteration decreases the objective, with no line search (a line search under `vmap`
  turns the wide products into per-configuration ones).

Measured on scikit-learn's logistic problems it reaches a largest gradient entry of
1e-5 in about ten iterations, where gradient methods need hundreds.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from .. import _compile, _loops, _progress
from .. import losses as _losses
from .._validation import weights_or_ones
from ..penalties import Penalty
from ..penalties._penalties import _l2_value, _zero_value
from ._base import tree_all_finite
from ._gram import weighted_gram

# Upper bounds on the second derivative of each supported per-sample loss in its output.
CURVATURE_BOUNDS = {_losses.binary_cross_entropy: 0.25, _losses.squared_error: 2.0,
                    _losses.huber: 1.0}


class BoundCG(NamedTuple):
    """The `bound_cg` solver: `jaxfit.fit` recognises it and runs the data-aware loop."""


def bound_cg() -> BoundCG:
    """Preconditioned conjugate gradients for linear models (see the module docstring).

    For `models.linear()` / `models.logistic()` (one output) with
    `"binary_cross_entropy"`, `"squared_error"` or `"huber"`, no penalty or
    `penalties.l2`, full batch. `fit`'s `steps` bounds the iterations and `tol` the
    largest gradient entry of the objective, as for the other full-batch solvers.

    Example:
      >>> from jaxfit import models, penalties, solvers
      >>> data = jaxfit.data.load_example("breast_cancer")
      >>> X, y = jaxfit.data.standardize(data.X).apply(data.X), data.y
      >>> result = jaxfit.fit(models.logistic(), "binary_cross_entropy", X, y,
      ...                     optimizer=solvers.bound_cg(), penalty=penalties.l2(1e-3),
      ...                     steps=100, tol=1e-5)
      >>> bool(result.converged)
      True
    """
    return BoundCG()


def l2_strength(penalty: Penalty | None):
    """The strength of `None`, `penalties.none()` (0) or `penalties.l2(s)`; else None."""
    func = None if penalty is None else getattr(penalty.value, "func", None)
    if penalty is None or func is _zero_value:
        return 0.0
    return penalty.value.keywords["strength"] if func is _l2_value else None


def check_supported(model, loss, penalty, batch_size, validation_weight) -> None:
    """Raise a clear error, before tracing, for what `bound_cg` cannot fit."""
    from ..models import linear

    problems = []
    if model.apply is not linear().apply:
        problems.append("the model must be models.linear() or models.logistic() with one output")
    if loss not in CURVATURE_BOUNDS:
        names = sorted(name for name, fn in _losses.LOSSES.items() if fn in CURVATURE_BOUNDS)
        problems.append(f"the loss must be one of {names}")
    if l2_strength(penalty) is None:
        problems.append("the penalty must be None or penalties.l2(strength) (for L1 or "
                        "elastic net use solvers.proximal_gradient())")
    if batch_size is not None:
        problems.append("it is a full-batch method: leave batch_size=None")
    if validation_weight is not None:
        problems.append("it has no early stopping: leave validation_weight=None")
    if problems:
        raise ValueError("`optimizer=solvers.bound_cg()` cannot fit this problem: "
                         + "; ".join(problems) + ". Use an optax optimizer or solvers.lbfgs().")


def _bce_parts(z, y):
    """Binary cross-entropy's per-sample loss, first and second derivative in the logit,
    from one exponential and one logarithm (autodiff of `softplus(z) - y·z` takes three
    exponentials; these passes over [configurations, samples] dominate an iteration)."""
    e = jnp.exp(-jnp.abs(z))
    p = 1 / (1 + e)  # σ(|z|)
    linear = jnp.where(z >= 0, (1 - y) * z, -y * z)  # max(z, 0) - y·z without cancellation
    return linear + jnp.log1p(e), jnp.where(z >= 0, p, e * p) - y, e * p * p


def per_sample(loss, z, y):
    """Each sample's loss, and its first and second derivative in the output `z`."""
    if loss is _losses.binary_cross_entropy:
        return _bce_parts(z, y)
    # The losses are separable, so the gradient of their sum is each sample's derivative.
    first = jax.grad(lambda z: jnp.sum(loss(z, y)))
    return (loss(z, y), *jax.jvp(first, (z,), (jnp.ones_like(z),)))


class _State(NamedTuple):
    step: jax.Array       # iterations taken; -1 before the starting point is evaluated
    beta: jax.Array       # [d + 1] weights, intercept last
    z: jax.Array          # [n] X̃ β
    value: jax.Array      # objective at β
    g: jax.Array          # [d + 1] gradient
    h: jax.Array          # [d + 1] preconditioned gradient B⁻¹ g
    direction: jax.Array  # [d + 1] previous search direction
    momentum: jax.Array   # weight of the previous direction in the next one
    cautious: jax.Array   # the last Newton step was refused: take the bound's step
    history: jax.Array    # [steps] objective before each iteration
    converged: jax.Array
    diverged: jax.Array


@_compile.jit(static_argnums=(0, 1, 2), static_argnames=("progress",), persist=True)
def fit_loop(loss, steps: int, tol: float, X, y, weight, params, strength, key, progress=False):
    """The compiled loop; `fit` validates the arguments. `tol < 0` runs all `steps`."""
    from .._fit import FitResult
    from ..models import linear

    n, d = X.shape
    dtype = X.dtype
    if params is None:
        params = linear().init(key, d)
    weight = weights_or_ones(weight, n, dtype)
    y = y.astype(dtype)
    lam = jnp.asarray(strength, dtype)
    m = jnp.sum(weight)
    # X̃ = [X, 1]: one product gives X w + b, and its transpose the intercept's gradient.
    # It is built once per program (X is shared by every configuration under vmap), and
    # products are written with the configuration axis first (`v @ X1.T`, `r @ X1`):
    # under vmap each is one wide matrix product, and X1 is never transposed in memory.
    X1 = jnp.concatenate([X, jnp.ones((n, 1), dtype)], axis=1)
    penalised = jnp.ones(d + 1, dtype).at[d].set(0.0)  # the intercept is not penalised
    active = weight > 0  # a weight-0 row drops out exactly, even where its loss is inf

    def at(beta, z):
        """Objective and gradient at β (with z = X̃β): one pass over the samples."""
        losses, residual, _ = per_sample(loss, z, y)
        penalty = 0.5 * lam * jnp.dot(penalised * beta, beta)
        value = jnp.sum(jnp.where(active, weight * losses, 0)) / m + penalty
        r = jnp.where(active, weight * residual, 0) / m
        return value, r @ X1 + lam * penalised * beta

    def finite_and_done(value, g):
        ok = jnp.isfinite(value) & jnp.all(jnp.isfinite(g))
        return ok, ok & (jnp.max(jnp.abs(g)) <= tol)

    # The bound B; its (d + 1)² Gram is shared by all configurations with the same
    # weights. A few rounding units of ridge keep it positive definite when a feature
    # is constant or unpenalised directions are flat.
    bound = CURVATURE_BOUNDS[loss]
    B = weighted_gram(X1, weight) * (bound / m) + jnp.diag(lam * penalised)
    jitter = 10 * jnp.finfo(dtype).eps * jnp.max(jnp.abs(jnp.diag(B))) + jnp.finfo(dtype).tiny
    chol = jnp.linalg.cholesky(B + jitter * jnp.eye(d + 1, dtype=dtype))
    precondition = lambda g: jax.scipy.linalg.cho_solve((chol, True), g)

    def step(s: _State) -> _State:
        # The first pass (step -1) only evaluates the starting point β, reached from z = 0
        # along u = X̃β with t = 1: so the objective and the preconditioner appear once in
        # the program, not also before the loop (each is several kernels for XLA to
        # compile). That pass has g = h = 0: its momentum is not finite and stays 0.
        first = s.step < 0
        direction = -s.h + s.momentum * s.direction
        direction = jnp.where(jnp.dot(direction, s.g) < 0, direction, -s.h)
        direction = jnp.where(first, s.beta, direction)
        u = direction @ X1.T
        # Step length: one Newton step from the curvature at z (no further product, since
        # X̃(β + t·d) = z + t·u); after a refused one, the bound's step, which must descend.
        curvature = jnp.where(s.cautious, bound, per_sample(loss, s.z, y)[2])
        wu2c = jnp.where(active, weight * u * u * curvature, 0)
        along = jnp.sum(wu2c) / m + jnp.dot((lam * penalised + jitter) * direction, direction)
        # A zero direction (the gradient vanished exactly: the start is optimal) stays put.
        t = jnp.where(first, 1.0, jnp.where(along > 0, -jnp.dot(s.g, direction) / along, 0.0))
        beta = jnp.where(first, s.beta, s.beta + t * direction)
        z = s.z + t * u
        value, g = at(beta, z)
        ok, done = finite_and_done(value, g)
        # The bound's step descends by construction, so only rounding could make it look
        # otherwise: it is always taken. A Newton step is refused if it rose beyond rounding.
        rounding = 16 * jnp.finfo(dtype).eps * jnp.abs(s.value)
        accept = ok & (s.cautious | (value <= s.value + rounding))
        h = precondition(g)
        momentum = jnp.maximum(0.0, jnp.dot(g, h - s.h) / jnp.dot(s.g, s.h))
        keep = lambda new, old: jnp.where(accept, new, old)  # a refused step changes nothing
        history = s.history.at[jnp.where(first, steps, s.step)].set(s.value, mode="drop")
        return _State(s.step + 1, keep(beta, s.beta), keep(z, s.z), keep(value, s.value),
                      keep(g, s.g), keep(h, s.h), keep(direction, s.direction),
                      jnp.where(accept & jnp.isfinite(momentum), momentum, s.momentum),
                      ~accept, history, accept & done,
                      ~ok & s.cautious)  # even the bound's step failed: non-finite data

    beta = jnp.append(params["w"].astype(dtype), params["b"].astype(dtype))
    zeros = jnp.zeros_like(beta)
    # Nothing is evaluated yet: the first pass accepts the starting point if it is finite
    # (`cautious`) and reports divergence if it is not.
    state = _State(jnp.int32(-1), beta, jnp.zeros(n, dtype), jnp.asarray(jnp.inf, dtype),
                   zeros, zeros, zeros, jnp.zeros((), dtype), jnp.bool_(True),
                   jnp.full((steps,), jnp.nan, dtype), jnp.bool_(False), jnp.bool_(False))
    running = lambda s: (s.step < steps) & ~s.converged & ~s.diverged
    if progress:  # a search showing step progress (see jaxfit._progress)
        step = _progress.report_steps(step, running, steps)
    s = _loops.while_loop(running, step, state)
    diverged = s.diverged | ~tree_all_finite(s.beta)
    return FitResult({"w": s.beta[:d], "b": s.beta[d]}, s.history, s.step,
                     s.converged & ~diverged, diverged, jnp.full((steps,), jnp.nan, dtype))
