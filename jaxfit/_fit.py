"""`fit`: the whole training loop, compiled once, as a pure function of its inputs."""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _compile, _loops, _programs, _progress
from . import losses as _losses
from . import penalties as _penalties
from ._shuffle import permute
from ._validation import (INT32_MAX, as_array, check_finite, check_int, check_key, check_length,
                          check_scalar, check_weights, dtype_kind, from_pandas, host_key, is_traced,
                          weights_or_ones)
from .losses import get_loss
from .models import Model
from .solvers import Objective, as_solver
from .solvers import _glm
from .solvers._base import tree_all_finite


@_programs.serializable
class FitResult(NamedTuple):
    """What `fit` returns; under `vmap` every field gains the batch axis.

    Attributes:
      params: the fitted parameters (the best on the validation weights when early
        stopping; the last finite ones when the fit diverged).
      history: `[steps]` objective at each step (the mini-batch objective in SGD);
        NaN after the last step taken.
      n_steps: optimizer steps taken.
      converged: the stopping tolerance was met.
      diverged: the objective or the parameters became non-finite; the fit stopped there.
      validation_history: `[steps]` validation loss, written at the last step of each
        epoch (every step in full-batch training); NaN elsewhere or without validation.
    """

    params: Any
    history: jax.Array
    n_steps: jax.Array
    converged: jax.Array
    diverged: jax.Array
    validation_history: jax.Array


class _State(NamedTuple):
    step: jax.Array          # int32, optimizer steps taken so far
    params: Any
    solver_state: Any
    key: jax.Array
    history: jax.Array       # [steps]
    val_history: jax.Array   # [steps]
    best_params: Any
    best_val: jax.Array      # best validation loss so far
    bad_epochs: jax.Array    # int32, epochs since the validation loss last improved
    epoch_loss: jax.Array    # last epoch's batch objectives, averaged over its samples (SGD tolerance)
    converged: jax.Array
    diverged: jax.Array
    stopped: jax.Array       # early stopping triggered


def _select(pred, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(pred, a, b), new, old)


def fit(model: Model, loss: Callable | str, X, y, *, optimizer, penalty=None, steps: int,
        batch_size: int | None = None, sample_weight=None, key=None, tol: float | None = None,
        validation_weight=None, patience: int | None = None, params=None) -> FitResult:
    """Fit `model` by minimising `weighted mean loss + penalty`, in one compiled loop.

    The loop runs in `lax.while_loop` inside `jit`, so `fit` composes with `vmap` (over
    learning rates, penalty strengths, seeds, fold masks) and compiles once for all
    their values. Samples are selected by weights: a cross-validation fold, a bootstrap
    sample or padding is just a 0/1 `sample_weight`.

    Args:
      model: a `Model(init, apply)`, e.g. `jaxfit.models.logistic()`.
      loss: a per-sample loss `loss(outputs, y) -> [n]` or its name in `jaxfit.losses`.
      X: `[n, d]` features.
      y: `[n]` targets or labels (or `[n, m]` for multi-output regression).
      optimizer: any optax `GradientTransformation` (schedules, `optax.chain` with
        `optax.clip_by_global_norm` for gradient clipping, ...) or a `jaxfit.solvers`
        solver. Its hyperparameters may be traced values. `solvers.bound_cg()` runs a
        loop of its own that sees the data (linear and logistic models with an L2
        penalty): the fastest choice for those, and in searches most of all.
      penalty: a `jaxfit.penalties` Penalty on the weights (default: none).
      steps: maximum number of optimizer steps.
      batch_size: `None` for full-batch steps; else mini-batch SGD where the samples with
        non-zero weight are reshuffled every epoch and each is visited once per epoch.
      sample_weight: `[n]` non-negative weights (default: all ones).
      key: `jax.random.key` for initialisation, shuffling and dropout (default key 0).
      tol: stop when the solver's optimality measure (full batch: largest gradient
        entry) falls to `tol`; with mini-batches, when a whole epoch's mean objective
        improves by less than `tol` (relative). `None` runs all `steps`.
      validation_weight: `[n]` weights of held-out samples; their loss is evaluated at
        each epoch's end and the best parameters are returned.
      patience: with `validation_weight`, stop after this many epochs without
        improvement of the validation loss (early stopping).
      params: initial parameters, e.g. a warm start (default: `model.init(k, d)` with
        `k = jax.random.split(key)[0]`; the other half shuffles and draws dropout).
        Python numbers and integer leaves are taken in X's dtype.

    Returns:
      `FitResult(params, history, n_steps, converged, diverged, validation_history)`.
      A diverging fit does not raise: it stops with `diverged=True`.

    Warns:
      RuntimeWarning: when called outside jit/vmap (so the result is concrete), if the
        fit diverged; or, with `tol` given, if it ran all `steps` without converging,
        or if an unpenalized classifier separates its training data perfectly (its
        weights then grow without bound). Under jit/vmap the flags are only returned;
        `cross_validate` and `search` report them as statuses.

    Example:
      >>> import optax
      >>> X = jnp.array([[0.0], [1.0], [2.0], [3.0]])
      >>> y = 2 * X[:, 0] + 1
      >>> result = fit(jaxfit.models.linear(), "squared_error", X, y,
      ...              optimizer=optax.sgd(0.1), steps=500, tol=1e-6)
      >>> bool(result.converged)
      True
      >>> round(float(result.params["w"][0]), 3), round(float(result.params["b"]), 3)
      (2.0, 1.0)
    """
    if not isinstance(model, Model):
        raise TypeError(f"`model` must be a jaxfit.models.Model such as models.linear(); "
                        f"got {type(model).__name__}.")
    loss = get_loss(loss)
    solver = optimizer if isinstance(optimizer, _glm.BoundCG) else as_solver(optimizer)
    if penalty is not None and not isinstance(penalty, _penalties.Penalty):
        raise TypeError(f"`penalty` must be a jaxfit.penalties Penalty such as penalties.l2(0.1); "
                        f"got {type(penalty).__name__}.")
    X = as_array(X, "X", ndim=2)
    y = _as_targets(y)
    n = X.shape[0]
    check_length(n, y, "y")
    steps = check_int(steps, "steps", minimum=1, maximum=INT32_MAX)
    batch_size = check_int(batch_size, "batch_size", minimum=1, allow_none=True)
    if batch_size is not None:
        batch_size = min(batch_size, n)  # as scikit-learn: a batch cannot exceed the data
    if sample_weight is not None:
        sample_weight = check_weights(sample_weight, n).astype(X.dtype)
    if validation_weight is not None:
        validation_weight = check_weights(validation_weight, n, "validation_weight")
    patience = check_int(patience, "patience", minimum=1, maximum=INT32_MAX, allow_none=True)
    if patience is not None and validation_weight is None:
        raise ValueError("`patience` needs `validation_weight`: early stopping watches the loss "
                         "on held-out samples. Pass validation_weight (a 0/1 mask of length n).")
    tol = check_scalar(tol, "tol", minimum=0.0, allow_none=True)
    if tol is not None and is_traced(tol):
        raise TypeError("`tol` must be a Python float (it selects the stopping rule); got a traced value.")
    key = None if key is None else check_key(key)
    if params is not None:
        params = jax.tree_util.tree_map_with_path(lambda path, leaf: _as_param(path, leaf, X.dtype), params)
    outputs, n_params = _check_model_fits(model, loss, None if params is None else _spec(params),
                                          _spec(X), _spec(y))
    check_labels(loss, y, outputs.shape[-1] if outputs.ndim == 2 else None)
    loop_tol = -1.0 if tol is None else float(tol)  # static; negative: run every step
    # Defaults (weights, key, initial params) are made inside the compiled loop: built
    # here, each would be a separate dispatch on every call.
    if isinstance(solver, _glm.BoundCG):
        _glm.check_supported(model, loss, penalty, batch_size, validation_weight)
        result = _glm.fit_loop(loss, steps, loop_tol, X, y, sample_weight, params,
                               _glm.l2_strength(penalty), key, progress=_progress.wanted())
    else:
        result = _fit_loop(model, loss, solver, steps, batch_size, loop_tol, patience, X, y,
                           sample_weight,
                           None if validation_weight is None else validation_weight.astype(X.dtype),
                           key, params, penalty, progress=_progress.wanted(),
                           long_running=steps * (batch_size or X.shape[0]) * n_params > _LONG_RUNNING)
    if not is_traced(result.n_steps):
        _warn_if_unreliable(result, model, loss, penalty, X, y, sample_weight, steps, tol)
    return result


def _as_targets(y):
    y = from_pandas(y)
    return as_array(y, "y", ndim=(1, 2), dtype="float" if dtype_kind(y) == "f" else "int")


def _as_param(path, leaf, dtype):
    """A leaf of the given `params` as a float array: Python numbers and integer arrays
    in X's dtype (gradients need floats); float arrays keep theirs."""
    name = f"params{jax.tree_util.keystr(path)}"
    if hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.floating):
        if not is_traced(leaf):  # a NaN start would otherwise be reported as a divergence
            check_finite(np.asarray(leaf), name)
        return leaf
    if is_traced(leaf):
        return leaf.astype(dtype)
    return as_array(leaf, name, dtype="any", allow_empty=True).astype(dtype)


def _spec(tree):
    """Shapes and dtypes only: a hashable stand-in for a pytree of arrays."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple(jax.ShapeDtypeStruct(leaf.shape, leaf.dtype) for leaf in leaves)


@functools.lru_cache(maxsize=256)
def _check_model_fits(model, loss, params_spec, X_spec, y_spec):
    """Trace shapes only (no compute) so a mismatch fails here with a clear message.

    Takes shape specs, not arrays, so repeated calls with the same shapes skip the trace.
    """
    X, y = (jax.tree_util.tree_unflatten(*spec) for spec in (X_spec, y_spec))
    params = jax.eval_shape(lambda k: model.init(k, X.shape[1]), host_key(0))
    if params_spec is not None:
        # `apply` alone does not catch every mismatch: an mlp's apply runs on the params
        # of a shallower mlp (a different model trained, silently), and a list of
        # numbers is a list of scalar leaves, not a vector.
        given = jax.tree_util.tree_unflatten(*params_spec)
        shapes = lambda tree: jax.tree_util.tree_map(lambda leaf: tuple(leaf.shape), tree)
        if (jax.tree_util.tree_structure(given) != jax.tree_util.tree_structure(params)
                or shapes(given) != shapes(params)):
            raise ValueError(f"`params` do not fit the model: they must have the structure and "
                             f"shapes of model.init(key, {X.shape[1]}), {shapes(params)}; got "
                             f"{shapes(given)}. Start from model.init or a fitted result's "
                             f"params; each leaf is one array (jnp.zeros(3), not [0, 0, 0]).")
        params = given
    try:
        outputs = jax.eval_shape(lambda p, x: model.apply(p, x), params, X)
    except Exception as err:
        raise ValueError(f"`params` do not fit the model and X of shape {tuple(X.shape)}: {err}") from None
    try:
        values = jax.eval_shape(loss, outputs, y)
    except Exception as err:
        raise ValueError(f"`y` of shape {tuple(y.shape)} does not fit the model outputs of shape "
                         f"{tuple(outputs.shape)} for this loss: {err}") from None
    if tuple(values.shape) != (X.shape[0],):
        raise ValueError(f"`loss` must return one value per sample, shape ({X.shape[0]},); got "
                         f"shape {tuple(values.shape)}. Check that y matches the model outputs "
                         f"{tuple(outputs.shape)} (integer labels for softmax, [n] for binary).")
    return outputs, sum(leaf.size for leaf in jax.tree_util.tree_leaves(params))


def check_labels(loss, y, n_classes: int | None) -> None:
    """The built-in classification losses need labels they can read.

    Out of range, they fail silently inside jit: binary cross-entropy with a label 2 is
    unbounded below, softmax cross-entropy gathers past the last class (NaN), and a
    fractional class index would be truncated. `n_classes`: the model's outputs (None:
    unknown, softmax labels are then checked to be non-negative integers only).
    """
    if is_traced(y) or y.size == 0:
        return
    y_np = np.asarray(y)
    low, high = y_np.min(), y_np.max()
    if loss is _losses.binary_cross_entropy and (low < 0 or high > 1):
        raise ValueError(f"`y` must hold labels 0 and 1 (or probabilities in [0, 1]) for "
                         f"binary_cross_entropy; got values from {low} to {high}. Encode the "
                         f"two classes as 0 and 1 (jaxfit.data.load_csv does), or use "
                         f"softmax_cross_entropy with a softmax model for more classes.")
    if loss is _losses.hinge and not np.isin(y_np, (0, 1)).all():
        raise ValueError(f"`y` must hold labels 0 and 1 for the hinge loss; got values from "
                         f"{low} to {high}. Encode the two classes as 0 and 1.")
    if loss is _losses.softmax_cross_entropy:
        top = np.inf if n_classes is None else n_classes - 1
        if low < 0 or high > top or not np.array_equal(y_np, np.round(y_np)):
            labels, outputs = (("0, 1, 2, ...", "") if n_classes is None else
                               (f"0..{n_classes - 1}", f" with {n_classes} model outputs"))
            raise ValueError(f"`y` must hold integer class labels {labels} for "
                             f"softmax_cross_entropy{outputs}; got values from {low} to {high}. "
                             f"Encode the classes as 0..n_classes-1, or build the model with as "
                             f"many outputs as classes.")


def epoch_batch_rows(position, n_active, batch_size):
    """Rows in batch `position` (0, 1, ...) of an epoch: `fit` visits the `n_active`
    rows of non-zero weight in ceil(n_active / batch_size) batches, the last holding
    the rest (0 past it)."""
    return jnp.clip(n_active - position * batch_size, 0, batch_size)


def _warn_if_unreliable(result: FitResult, model, loss, penalty, X, y, weight, steps, tol) -> None:
    """Warn about a concrete result that should not be used as is.

    Runs in plain Python after the compiled loop, which cannot warn from inside.
    """
    n_steps = int(result.n_steps)
    if bool(result.diverged):
        warnings.warn(f"fit diverged at step {n_steps}: the objective became non-finite, so the "
                      f"fit stopped with diverged=True and the last finite parameters. Lower the "
                      f"learning rate, clip the gradients (optax.clip_by_global_norm) or "
                      f"standardize X.", RuntimeWarning, stacklevel=3)
        return
    if tol is None:
        return
    largest = _separated_weight(result.params, model, loss, penalty, X, y, weight)
    if largest is not None:
        warnings.warn(f"fit: the classes are perfectly separable and there is no penalty, so the "
                      f"loss keeps falling while the weights grow without bound (largest |parameter| "
                      f"is {largest:.3g}); the parameters returned depend on `steps` and `tol`. "
                      f"Add a penalty such as penalties.l2(1e-3) for a finite solution.",
                      RuntimeWarning, stacklevel=3)
    elif not bool(result.converged) and n_steps >= steps:
        warnings.warn(f"fit did not converge in {steps} steps: the tolerance tol={tol:g} was not "
                      f"met (converged=False). Raise `steps` or `tol`, standardize X, or tune "
                      f"the optimizer.", RuntimeWarning, stacklevel=3)


def _is_zero(penalty, params) -> bool:
    """Whether `penalty` is zero at `params`; known from an L2 strength without
    evaluating it (eagerly, each operation would compile at its first use)."""
    strength = _glm.l2_strength(penalty)
    if strength is not None and not is_traced(strength):
        return float(strength) == 0.0
    return float(penalty.value(params)) == 0.0


def _separated_weight(params, model, loss, penalty, X, y, weight) -> float | None:
    """The largest |weight| when an unpenalized cross-entropy fit classifies every
    training sample correctly (its optimum is then at infinity); else None."""
    if loss not in (_losses.binary_cross_entropy, _losses.softmax_cross_entropy):
        return None
    if penalty is not None and not _is_zero(penalty, params):
        return None
    outputs = np.asarray(model.apply(params, X))
    labels = np.asarray(y)
    active = np.ones(len(labels), bool) if weight is None else np.asarray(weight) > 0
    if loss is _losses.binary_cross_entropy:
        if not np.isin(labels, (0, 1)).all():  # soft labels: a finite optimum exists
            return None
        correct = np.where(labels == 1, outputs > 0, outputs < 0)
    else:
        others = np.where(np.arange(outputs.shape[-1]) == labels[:, None], -np.inf, outputs)
        correct = np.take_along_axis(outputs, labels[:, None].astype(int), axis=1)[:, 0] > others.max(axis=1)
    if not correct[active].all():
        return None
    return max(float(np.abs(np.asarray(leaf)).max()) for leaf in jax.tree_util.tree_leaves(params)
               if np.size(leaf))


# Steps × rows per step × parameters (about the multiply-adds of the forward passes)
# past which an eager `fit` compiles for run time (see jaxfit._compile). Below it the
# run is short either way: the README's quickstart (2000 Adam steps on 426 x 30: 2.6e7)
# and W4 (2.3e7) finish their first call 0.1 and 0.06 s sooner compiled the classic way.
_LONG_RUNNING = 1e8


# `progress` (static: a search that shows step progress compiles a loop of its own)
# adds a `jax.debug.callback` to the loop; results are the same either way.
# `long_running` only chooses the compiler options of an eager call; traced into a
# search (batch work), the loop always counts as long running.
@_compile.jit(static_argnums=(0, 1, 2, 3, 4, 5, 6), static_argnames=("progress", "long_running"),
              runtime_first=lambda *args, long_running=True, **kw: long_running)
def _fit_loop(model, loss, solver, steps, batch_size, tol, patience,
              X, y, weight, val_weight, key, params, penalty, progress=False,
              long_running=True) -> FitResult:
    del long_running
    n = X.shape[0]
    init_key, key = jax.random.split(jax.random.key(0) if key is None else key)
    if params is None:  # in X's precision (models start in the default float, float64 under x64)
        params = jax.tree.map(lambda p: p.astype(X.dtype) if jnp.issubdtype(p.dtype, jnp.floating)
                              else p, model.init(init_key, X.shape[1]))
    weight = weights_or_ones(weight, n, X.dtype)
    penalty = _penalties.none() if penalty is None else penalty
    # The losses recorded in the carry have the objective's precision: X's, or the
    # given params' if higher.
    dtype = jnp.result_type(X.dtype, *(p.dtype for p in jax.tree_util.tree_leaves(params)
                                       if jnp.issubdtype(p.dtype, jnp.floating)))
    nan = jnp.full((steps,), jnp.nan, dtype)

    def mean_loss(p, Xb, yb, wb, k, train):
        values = loss(model.apply(p, Xb, key=k, train=train), yb)
        # A weight-0 sample (another fold's row, padding) drops out exactly, even when
        # its loss overflowed to inf, where 0 · inf would make the objective NaN.
        return jnp.sum(jnp.where(wb > 0, wb * values, 0)) / jnp.sum(wb)

    def train_step(s: _State, Xb, yb, wb) -> _State:
        # Derived, not split into the carry: when the model draws no dropout, XLA drops it.
        dropout_key = jax.random.fold_in(s.key, s.step)
        objective = Objective(lambda p: mean_loss(p, Xb, yb, wb, dropout_key, True), penalty)
        new_params, new_solver_state, value, optimality = solver.step(objective, s.params, s.solver_state)
        ok = jnp.isfinite(value) & tree_all_finite(new_params)
        return s._replace(
            step=s.step + 1,
            params=_select(ok, new_params, s.params),  # a diverged fit keeps its last finite params
            solver_state=_select(ok, new_solver_state, s.solver_state),
            history=s.history.at[s.step].set(value),
            diverged=~ok,
            converged=ok & (optimality <= tol) if batch_size is None and tol >= 0 else s.converged)

    def end_epoch(s: _State, epoch_loss, complete=True) -> _State:
        if batch_size is not None and tol >= 0:
            # Only whole epochs compare: a last epoch cut short by `steps` may be one
            # noisy batch, whose loss says nothing about convergence.
            improvement = s.epoch_loss - epoch_loss
            met = ~s.diverged & (improvement < tol * jnp.maximum(jnp.abs(s.epoch_loss), 1.0))
            s = s._replace(converged=jnp.where(complete, met, s.converged),
                           epoch_loss=jnp.where(complete, epoch_loss, s.epoch_loss))
        if val_weight is None:
            return s
        val = mean_loss(s.params, X, y, val_weight, None, False)
        improved = val < s.best_val
        bad_epochs = jnp.where(improved, 0, s.bad_epochs + 1)
        return s._replace(
            val_history=s.val_history.at[s.step - 1].set(val),
            best_params=_select(improved, s.params, s.best_params),
            best_val=jnp.where(improved, val, s.best_val),
            bad_epochs=bad_epochs,
            stopped=jnp.bool_(False) if patience is None else bad_epochs >= patience)

    def full_batch_epoch(s: _State) -> _State:
        s = train_step(s, X, y, weight)
        return end_epoch(s, s.history[s.step - 1])

    # The rows with non-zero weight, in order (computed once per fit; unused, and so
    # dropped by XLA, in full-batch fits).
    n_active = jnp.sum(weight > 0, dtype=jnp.int32)
    active_rows = jnp.nonzero(weight > 0, size=n, fill_value=0)[0]

    def minibatch_epoch(s: _State) -> _State:
        # Batch `pos // batch_size` is the images of ranks pos..pos+batch_size-1 under a
        # permutation of [0, n_active) that the key and the epoch's first step select:
        # O(batch) per step, no sort per epoch. (Under vmap the loop carries the key per
        # lane, so a per-epoch argsort of n was paid by every lane, even lanes that share
        # a key.) The key is not split: the first step numbers the epoch.
        first_step = s.step

        def body(carry):
            s, pos = carry
            ranks = pos + jnp.arange(batch_size, dtype=jnp.int32)
            # Ranks past n_active (the last batch's tail) map as 0 and get weight 0.
            idx = active_rows[permute(s.key, ranks, n_active, first_step)]
            wb = jnp.where(ranks < n_active, weight[idx], 0.0)
            return train_step(s, X[idx], y[idx], wb), pos + batch_size

        def more(carry):
            s, pos = carry
            return (pos < n_active) & (s.step < steps) & ~s.diverged

        s, pos = _loops.while_loop(more, body, (s, jnp.int32(0)))
        taken = jnp.arange(steps)
        in_epoch = (taken >= first_step) & (taken < s.step)
        # Each batch weighs by its number of samples, as in scikit-learn's MLP: a plain
        # mean of the batch objectives gave a last batch of 1 sample (n = 101, batch 100)
        # half the epoch, and its noise stopped fits as "converged" that still improved.
        rows = epoch_batch_rows(taken - first_step, n_active, batch_size)
        rows = jnp.where(in_epoch, rows, 0).astype(s.history.dtype)
        epoch_loss = jnp.sum(jnp.where(in_epoch, s.history * rows, 0.0)) / jnp.maximum(jnp.sum(rows), 1)
        return end_epoch(s, epoch_loss, complete=pos >= n_active)

    def running(s: _State):
        return (s.step < steps) & ~s.converged & ~s.diverged & ~s.stopped

    false = jnp.bool_(False)
    state = _State(step=jnp.int32(0), params=params, solver_state=solver.init(params), key=key,
                   history=nan, val_history=nan, best_params=params,
                   best_val=jnp.array(jnp.inf, dtype), bad_epochs=jnp.int32(0),
                   epoch_loss=jnp.array(jnp.inf, dtype), converged=false, diverged=false, stopped=false)
    epoch = full_batch_epoch if batch_size is None else minibatch_epoch
    if progress:
        epoch = _progress.report_steps(epoch, running, steps)
    state = _loops.while_loop(running, epoch, state)
    final = state.params if val_weight is None else state.best_params
    return FitResult(final, state.history, state.step, state.converged, state.diverged,
                     state.val_history)
